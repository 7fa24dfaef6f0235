package specparse

import (
	"fmt"
	"strings"
)

// dump renders an expression as an S-expression without positions, for
// compact structural comparison in tests.
func dump(e Expr) string {
	var b strings.Builder
	dumpTo(&b, e)
	return b.String()
}

func user(u bool) string {
	if u {
		return "@user"
	}
	return ""
}

func dumpTo(b *strings.Builder, e Expr) {
	switch n := e.(type) {
	case nil:
		b.WriteString("nil")
	case *Ident:
		b.WriteString(n.Name + user(n.User))
	case *IntLit:
		fmt.Fprintf(b, "%d", n.Value)
		if n.Unsigned {
			b.WriteString("u")
		}
		if n.Long {
			b.WriteString("l")
		}
	case *CharLit:
		fmt.Fprintf(b, "(char %d)", n.Value)
	case *StringLit:
		fmt.Fprintf(b, "%q", n.Value)
	case *Unary:
		fmt.Fprintf(b, "(%s ", n.Op)
		dumpTo(b, n.X)
		b.WriteString(")")
	case *Binary:
		fmt.Fprintf(b, "(%s ", n.Op)
		dumpTo(b, n.X)
		b.WriteString(" ")
		dumpTo(b, n.Y)
		b.WriteString(")")
	case *Cond:
		b.WriteString("(? ")
		dumpTo(b, n.Cond)
		b.WriteString(" ")
		dumpTo(b, n.X)
		b.WriteString(" ")
		dumpTo(b, n.Y)
		b.WriteString(")")
	case *Cast:
		fmt.Fprintf(b, "(cast [%s] ", dumpType(n.Type))
		dumpTo(b, n.X)
		b.WriteString(")")
	case *Member:
		op := "."
		if n.Arrow {
			op = "->"
		}
		fmt.Fprintf(b, "(%s%s ", op, user(n.User))
		dumpTo(b, n.X)
		b.WriteString(" " + n.Name + ")")
	case *Index:
		fmt.Fprintf(b, "([]%s ", user(n.User))
		dumpTo(b, n.X)
		b.WriteString(" ")
		dumpTo(b, n.I)
		b.WriteString(")")
	case *Call:
		fmt.Fprintf(b, "(call%s %s", user(n.User), n.Fun)
		for _, a := range n.Args {
			b.WriteString(" ")
			dumpTo(b, a)
		}
		b.WriteString(")")
	default:
		fmt.Fprintf(b, "%T", e)
	}
}

// dumpType renders a type with all its flags: "const char __user *".
func dumpType(t *TypeName) string { return t.String() }

// dumpProbe renders a probe without positions.
func dumpProbe(pr *Probe) string {
	var parts []string
	parts = append(parts, fmt.Sprintf("kind=%s lib=%q", pr.Kind, pr.Library))
	if pr.Provider != "" {
		parts = append(parts, fmt.Sprintf("provider=%q", pr.Provider))
	}
	parts = append(parts, fmt.Sprintf("func=%q", pr.Func))
	if pr.Offset != 0 {
		parts = append(parts, fmt.Sprintf("off=%#x", pr.Offset))
	}
	if pr.Params != nil {
		var ps []string
		for _, p := range pr.Params {
			ps = append(ps, fmt.Sprintf("[%s]%s", p.Type, p.Name))
		}
		parts = append(parts, "params=("+strings.Join(ps, ", ")+")")
	}
	if pr.Filter != nil {
		parts = append(parts, "filter="+dump(pr.Filter))
	}
	if pr.Format != nil {
		parts = append(parts, "fmt="+dump(pr.Format))
	}
	for _, a := range pr.Args {
		parts = append(parts, "arg="+dump(a))
	}
	return strings.Join(parts, " ")
}

// dumpArgdist renders an argdist probe without positions.
func dumpArgdist(pr *ArgdistProbe) string {
	var parts []string
	parts = append(parts, fmt.Sprintf("kind=%s lib=%q", pr.Kind, pr.Library))
	if pr.Provider != "" {
		parts = append(parts, fmt.Sprintf("provider=%q", pr.Provider))
	}
	parts = append(parts, fmt.Sprintf("func=%q", pr.Func))
	var ps []string
	for _, p := range pr.Params {
		ps = append(ps, fmt.Sprintf("[%s]%s", p.Type, p.Name))
	}
	parts = append(parts, "params=("+strings.Join(ps, ", ")+")")
	if pr.Period != 0 {
		parts = append(parts, fmt.Sprintf("period=%d", pr.Period))
	}
	if pr.Types != nil {
		var ts []string
		for _, t := range pr.Types {
			if t == nil {
				ts = append(ts, "[_]")
			} else {
				ts = append(ts, "["+t.String()+"]")
			}
		}
		parts = append(parts, "types="+strings.Join(ts, ","))
	}
	for _, e := range pr.Exprs {
		parts = append(parts, "expr="+dump(e))
	}
	if pr.Filter != nil {
		parts = append(parts, "filter="+dump(pr.Filter))
	}
	if pr.Label != "" {
		parts = append(parts, fmt.Sprintf("label=%q", pr.Label))
	}
	return strings.Join(parts, " ")
}
