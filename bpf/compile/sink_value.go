package compile

import (
	"fmt"

	ebtf "github.com/cilium/ebpf/btf"

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

	node  irNode     // integers and pointers
	str   *strSource // FieldStr
	typ   ebtf.Type  // integers and pointers: the C type, for $entry(x)->member
	space AddrSpace  // where a pointer points
}

// Signed reports whether the value compares and aggregates as signed.
func (v *Value) Signed() bool { return v.Kind == FieldInt }

// ValueOptions tune CheckValues.
type ValueOptions struct {
	// Types, when not nil, holds one declared type per expression
	// (argdist's "u64", "char*"); a nil entry means the expression's own
	// type. A char pointer or array type makes a string.
	Types []*specparse.TypeName
	// Stash, in a return probe whose Build.Stash loads it, lets
	// expressions use $latency (needs Stash.Timestamp) and $entry(x),
	// where x is the source text of one of Stash.Fields: $latency / 1000,
	// $entry(file)->f_pos. Without it both names are errors.
	Stash *Stash
	// Argdist gives expressions bcc argdist's names and typing: $PID is
	// the process id (the tgid; trace's $pid is the thread id), $COMM the
	// current comm, and a char pointer whose type is not declared (a nil
	// Types entry) is a string, as if declared char *.
	Argdist bool
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
	c := &checker{pc: pc, types: map[specparse.Expr]TypeInfo{}, stash: o.Stash, argdist: o.Argdist}
	var out []*Value
	for i, e := range exprs {
		var tn *specparse.TypeName
		if o.Types != nil {
			tn = o.Types[i]
		}
		if v := c.value(e, tn); v != nil {
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
func (c *checker) value(e specparse.Expr, tn *specparse.TypeName) *Value {
	text := specparse.ExprString(e)
	op := c.expr(e)
	if !op.ok() {
		return nil
	}
	// Char arrays, $comm and __data_loc strings are strings; a char *
	// is a pointer unless declared char * (argdist's "char*" type).
	_, array := underlying(op.typ).(*ebtf.Array)
	wantStr := op.kind == opString || (op.kind == opLvalue && array && stringy(op))
	if c.argdist && tn == nil && isPointer(op.typ) && isCharType(pointee(op.typ)) {
		wantStr = true
	}
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
			return &Value{Kind: intKind(it, isPointer(t)), Expr: text, node: node, typ: t, space: op.space}
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
	return &Value{Kind: intKind(it, isPointer(op.typ)), Expr: text, node: op.node, typ: op.typ, space: op.space}
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

// stashOperand is $latency or $entry(x) when the checker has a stash
// (CheckValues, CheckFilter with ValueOptions.Stash).
func (c *checker) stashOperand(e specparse.Expr) operand {
	st := c.stash
	switch n := e.(type) {
	case *specparse.Ident:
		if !st.Timestamp {
			c.errAt(n, "$latency needs an entry timestamp (Stash.Timestamp)")
			return invalid
		}
		v := st.Latency()
		return operand{kind: opValue, typ: btfULong, space: c.defaultSpace(), node: v.node}
	case *specparse.Call:
		if len(n.Args) != 1 {
			c.errAt(n, "$entry takes 1 argument, an expression stashed at entry")
			return invalid
		}
		want := specparse.ExprString(n.Args[0])
		var names []candidate
		for i, f := range st.Fields {
			if f.Expr == want {
				v := st.Entry(i)
				typ, space := f.typ, f.space
				if typ == nil {
					typ, space = intTypeOf(v.node.irType()), c.defaultSpace()
				}
				return operand{kind: opValue, typ: typ, space: space, node: v.node}
			}
			names = append(names, candidate{f.Expr, f.Expr})
		}
		c.errAt(n.Args[0], "$entry(%s): not stashed at entry%s", want, suggest(want, names))
	}
	return invalid
}

// CheckFilter types a return probe's predicate that may read a stash
// ($latency > 1000000, $entry(count) != retval) and returns it as a
// CheckedTrace for Build.Checked: only the filter is set. Errors are as
// CheckValues'.
func CheckFilter(e specparse.Expr, pc *ProbeContext, o ValueOptions) (*CheckedTrace, error) {
	if pc == nil || e == nil {
		return nil, fmt.Errorf("check filter: nil filter or context")
	}
	c := &checker{pc: pc, types: map[specparse.Expr]TypeInfo{}, stash: o.Stash, argdist: o.Argdist}
	node := c.condition(e)
	if len(c.errs) > 0 {
		c.errs.Sort()
		return nil, c.errs
	}
	return &CheckedTrace{Probe: &specparse.Probe{Filter: e}, Context: pc, Types: c.types, StringSize: DefaultStringSize, filter: node}, nil
}
