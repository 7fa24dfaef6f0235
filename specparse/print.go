package specparse

import (
	"strconv"
	"strings"
)

// ExprString returns e in canonical C form: single spaces around binary
// operators, and parentheses only where precedence needs them. Parsing the
// result gives an equal expression.
func ExprString(e Expr) string {
	var b strings.Builder
	writeExpr(&b, e)
	return b.String()
}

// Precedence levels used for printing; binary operators use 1..10.
const (
	precCond    = 0
	precUnary   = 11 // prefix operators and casts
	precPostfix = 12 // postfix operators and primaries
)

func exprPrec(e Expr) int {
	switch n := e.(type) {
	case *Cond:
		return precCond
	case *Binary:
		return n.Op.Precedence()
	case *Unary, *Cast:
		return precUnary
	}
	return precPostfix
}

// writeSub writes e, parenthesised if it binds less tightly than min.
func writeSub(b *strings.Builder, e Expr, min int) {
	if exprPrec(e) < min {
		b.WriteByte('(')
		writeExpr(b, e)
		b.WriteByte(')')
		return
	}
	writeExpr(b, e)
}

func writeUser(b *strings.Builder, user bool) {
	if user {
		b.WriteString("@user")
	}
}

func writeExpr(b *strings.Builder, e Expr) {
	switch n := e.(type) {
	case nil:
		b.WriteString("<nil>")
	case *Ident:
		b.WriteString(n.Name)
		writeUser(b, n.User)
	case *IntLit:
		if n.Lit != "" {
			b.WriteString(n.Lit)
			return
		}
		b.WriteString(strconv.FormatUint(n.Value, 10))
		if n.Unsigned {
			b.WriteByte('u')
		}
		if n.Long {
			b.WriteString("ll")
		}
	case *CharLit:
		if n.Lit != "" {
			b.WriteString(n.Lit)
			return
		}
		b.WriteString(quoteChar(n.Value))
	case *StringLit:
		if n.Lit != "" {
			b.WriteString(n.Lit)
			return
		}
		b.WriteString(quoteC(n.Value))
	case *Unary:
		b.WriteString(n.Op.String())
		// A unary operand that is itself unary is parenthesised, so that
		// "- -x" or "& &x" cannot print as "--x" or "&&x".
		if _, ok := n.X.(*Unary); ok {
			b.WriteByte('(')
			writeExpr(b, n.X)
			b.WriteByte(')')
			return
		}
		writeSub(b, n.X, precUnary)
	case *Binary:
		p := n.Op.Precedence()
		writeSub(b, n.X, p)
		b.WriteByte(' ')
		b.WriteString(n.Op.String())
		b.WriteByte(' ')
		writeSub(b, n.Y, p+1)
	case *Cond:
		writeSub(b, n.Cond, 1)
		b.WriteString(" ? ")
		writeExpr(b, n.X)
		b.WriteString(" : ")
		writeExpr(b, n.Y)
	case *Cast:
		b.WriteByte('(')
		b.WriteString(n.Type.String())
		b.WriteByte(')')
		writeSub(b, n.X, precUnary)
	case *Member:
		if _, ok := n.X.(*IntLit); ok && !n.Arrow {
			// "0.x" would scan as one (malformed) number.
			b.WriteByte('(')
			writeExpr(b, n.X)
			b.WriteByte(')')
		} else {
			writeSub(b, n.X, precPostfix)
		}
		if n.Arrow {
			b.WriteString("->")
		} else {
			b.WriteByte('.')
		}
		b.WriteString(n.Name)
		writeUser(b, n.User)
	case *Index:
		writeSub(b, n.X, precPostfix)
		b.WriteByte('[')
		writeExpr(b, n.I)
		b.WriteByte(']')
		writeUser(b, n.User)
	case *Call:
		b.WriteString(n.Fun)
		b.WriteByte('(')
		for i, a := range n.Args {
			if i > 0 {
				b.WriteString(", ")
			}
			writeExpr(b, a)
		}
		b.WriteByte(')')
		writeUser(b, n.User)
	}
}
