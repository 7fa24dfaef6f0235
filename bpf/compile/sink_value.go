package compile

import (
	"fmt"

	"github.com/btool/btool/specparse"
)

// Value is a checked expression a sink stores: a map key field, the value
// an AggSink aggregates, or a field an EntrySink stashes. It is an integer
// or pointer (sign- or zero-extended to 64 bits from its C type) or a
// string. CheckValues makes them; Stash.Latency and Stash.Entry make the
// ones that read what an EntrySink stashed.
type Value struct {
	Kind FieldKind // FieldInt, FieldUint, FieldAddr (a pointer) or FieldStr
	Expr string    // the source text, for column names

	node irNode     // integers and pointers
	str  *strSource // FieldStr
}

// Signed reports whether the value compares and aggregates as signed.
func (v *Value) Signed() bool { return v.Kind == FieldInt }

// ValueOptions tune CheckValues.
type ValueOptions struct {
	// Types, when not nil, holds one declared type per expression
	// (argdist's "u64", "char*"); a nil entry means the expression's own
	// type. A char pointer or array type makes a string.
	Types []*specparse.TypeName
	// Stash, in a return probe whose Build.Stash loads it, lets an
	// expression be $latency (needs Stash.Timestamp) or $entry(x), where
	// x is the source text of one of Stash.Fields. Only a whole
	// expression can be one of these: $latency/1000 needs the checker to
	// know them (check.go rejects the names outside argdist).
	Stash *Stash
}

// CheckValues types exprs against pc for use by a sink. Strings (char
// pointers, char arrays, $comm, __data_loc fields) become FieldStr values,
// other scalars integers converted to their (or the declared) type. Like
// CheckTrace, every error is a *specparse.Error at the offending node,
// collected into a specparse.ErrorList. It needs no kernel.
func CheckValues(exprs []specparse.Expr, pc *ProbeContext, o ValueOptions) ([]*Value, error) {
	if pc == nil {
		return nil, fmt.Errorf("check values: nil context")
	}
	if o.Types != nil && len(o.Types) != len(exprs) {
		return nil, fmt.Errorf("check values: %d types for %d expressions", len(o.Types), len(exprs))
	}
	c := &checker{pc: pc, types: map[specparse.Expr]TypeInfo{}}
	var out []*Value
	for i, e := range exprs {
		var tn *specparse.TypeName
		if o.Types != nil {
			tn = o.Types[i]
		}
		if v := c.value(e, tn, o.Stash); v != nil {
			out = append(out, v)
		}
	}
	if len(c.errs) > 0 {
		c.errs.Sort()
		return nil, c.errs
	}
	return out, nil
}

// value checks one sink expression, converted to tn when not nil.
func (c *checker) value(e specparse.Expr, tn *specparse.TypeName, st *Stash) *Value {
	text := specparse.ExprString(e)
	var op operand
	if v, ok := c.stashValue(e, st); ok {
		if v == nil {
			return nil
		}
		if tn == nil {
			return v
		}
		op = operand{kind: opValue, typ: intTypeOf(v.node.irType()), node: v.node}
	} else {
		op = c.expr(e)
	}
	if !op.ok() {
		return nil
	}
	wantStr := stringy(op) && op.kind != opValue // char arrays, $comm, __data_loc; char * only if declared
	if tn != nil {
		t, err := c.resolveType(tn)
		if err != nil {
			c.errorf(tn.Pos, tn.End, "%v", err)
			return nil
		}
		wantStr = isPointer(t) && isCharType(pointee(t))
		if !wantStr {
			it, ok := scalarInfo(t)
			if !ok {
				c.errorf(tn.Pos, tn.End, "cannot store a %s: only integer, enum, pointer and char * types", cType(t))
				return nil
			}
			if op.kind == opString || (op.kind == opLvalue && isComposite(op.typ)) {
				c.errAt(e, "%s is %s, not a value of type %s", text, describe(op), cType(t))
				return nil
			}
			op = c.rvalue(e, op)
			if !op.ok() {
				return nil
			}
			if _, ok := scalarInfo(op.typ); !ok {
				c.errAt(e, "cannot convert %s to %s", describe(op), cType(t))
				return nil
			}
			node := conv(op.node, it)
			if isBool(t) {
				node = conv(truth(op.node), it)
			}
			return &Value{Kind: intKind(it, isPointer(t)), Expr: text, node: node}
		}
	}
	if wantStr {
		src, ok := c.asString(e, op)
		if !ok {
			c.errAt(e, "%s is %s, not a string", text, describe(op))
			return nil
		}
		return &Value{Kind: FieldStr, Expr: text, str: src}
	}
	if op.kind == opString || (op.kind == opLvalue && isComposite(op.typ)) {
		c.errAt(e, "%s is %s, not an integer, pointer or string", text, describe(op))
		return nil
	}
	op = c.rvalue(e, op)
	if !op.ok() {
		return nil
	}
	it, ok := scalarInfo(op.typ)
	if !ok {
		c.errAt(e, "%s is %s, not an integer, pointer or string", text, describe(op))
		return nil
	}
	return &Value{Kind: intKind(it, isPointer(op.typ)), Expr: text, node: op.node}
}

func intKind(it intType, ptr bool) FieldKind {
	switch {
	case ptr:
		return FieldAddr
	case it.signed:
		return FieldInt
	}
	return FieldUint
}

// stashValue resolves $latency and $entry(x) against st. ok is false when
// e is neither; v is nil after an error.
func (c *checker) stashValue(e specparse.Expr, st *Stash) (v *Value, ok bool) {
	switch n := e.(type) {
	case *specparse.Ident:
		if n.Name != "$latency" {
			return nil, false
		}
		if st == nil || !st.Timestamp {
			c.errAt(n, "$latency needs an entry timestamp (a return probe whose entry probe stashes one)")
			return nil, true
		}
		return st.Latency(), true
	case *specparse.Call:
		if n.Fun != "$entry" {
			return nil, false
		}
		if st == nil {
			c.errAt(n, "$entry() is only valid in a return probe whose entry probe stashes values")
			return nil, true
		}
		if len(n.Args) != 1 {
			c.errAt(n, "$entry takes 1 argument, a parameter of the function")
			return nil, true
		}
		want := specparse.ExprString(n.Args[0])
		var names []candidate
		for i, f := range st.Fields {
			if f.Expr == want {
				return st.Entry(i), true
			}
			names = append(names, candidate{f.Expr, f.Expr})
		}
		c.errAt(n.Args[0], "$entry(%s): not stashed at entry%s", want, suggest(want, names))
		return nil, true
	}
	return nil, false
}
