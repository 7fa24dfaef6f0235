package specparse

import (
	"fmt"
	"strings"
)

// ProbeKind is the kind of a trace or argdist probe.
type ProbeKind int

const (
	Entry           ProbeKind = iota // p: function entry (kprobe/uprobe), also the default
	Return                           // r: function return (kretprobe/uretprobe)
	TracepointProbe                  // t: kernel tracepoint
	USDTProbe                        // u: USDT probe
	// SoftwareEventProbe is s: a perf software event (argdist only:
	// s:software:page-faults(period)).
	SoftwareEventProbe
)

func (k ProbeKind) String() string {
	switch k {
	case Entry:
		return "p"
	case Return:
		return "r"
	case TracepointProbe:
		return "t"
	case USDTProbe:
		return "u"
	case SoftwareEventProbe:
		return "s"
	}
	return fmt.Sprintf("ProbeKind(%d)", int(k))
}

// Probe is a parsed trace probe:
//
//	[{p,r}]:[library]:function[+offset][(signature)] [(predicate)] ["format"[, arguments]]
//	t:category:event [(predicate)] ["format"[, arguments]]
//	u:library:[provider:]probe [(predicate)] ["format"[, arguments]]
type Probe struct {
	Pos, End   Pos
	Kind       ProbeKind
	Library    string   // library or binary (p, r, u); category (t); "" for kernel functions
	LibraryPos Pos      // position of Library (or where it would be)
	Provider   string   // USDT provider; "" if not given
	Func       string   // function (may contain glob wildcards), tracepoint event or USDT probe
	FuncPos    Pos      // position of Func
	Offset     uint64   // +offset after the function; 0 if none
	Params     []*Param // nil means no signature was given; an empty slice means "()"
	Filter     Expr     // nil means no predicate
	Format     *StringLit
	Args       []Expr // arguments after the format string
}

// Param is one parameter of a signature: "const char __user *filename".
type Param struct {
	Pos, End Pos
	Type     *TypeName
	Name     string // "" if the parameter is unnamed
}

// TypeName is a C type as written in signatures, casts and argdist types.
// Builtin type words are kept as written ("long unsigned int" is not
// normalised); volatile is accepted and dropped.
type TypeName struct {
	Pos, End Pos
	Name     string // base type: "int", "unsigned long", "struct file", "size_t"
	Ptr      int    // number of '*'
	Const    bool   // a const qualifier appeared anywhere
	User     bool   // the __user annotation appeared
}

// String returns the type in canonical C form, e.g. "const char __user *".
func (t *TypeName) String() string {
	var b strings.Builder
	if t.Const {
		b.WriteString("const ")
	}
	b.WriteString(t.Name)
	if t.User {
		b.WriteString(" __user")
	}
	if t.Ptr > 0 {
		b.WriteByte(' ')
		b.WriteString(strings.Repeat("*", t.Ptr))
	}
	return b.String()
}

// String returns the parameter as in a C prototype: "struct file *file".
func (p *Param) String() string {
	s := p.Type.String()
	switch {
	case p.Name == "":
		return s
	case p.Type.Ptr > 0:
		return s + p.Name
	}
	return s + " " + p.Name
}

// Span is the half-open byte range [Start, Stop) an expression covers. It
// provides the Pos and End methods of Expr.
type Span struct{ Start, Stop Pos }

// Pos returns the position of the first byte of the node.
func (s Span) Pos() Pos { return s.Start }

// End returns the position just after the node.
func (s Span) End() Pos { return s.Stop }

// Expr is an expression node. It is implemented by the node types of this
// package only: *Ident, *IntLit, *CharLit, *StringLit, *Unary, *Binary,
// *Cond, *Cast, *Member, *Index and *Call.
type Expr interface {
	Pos() Pos
	End() Pos
	exprNode()
}

type (
	// Ident is a name: arg1, retval, $pid, args, ctx, a parameter name.
	Ident struct {
		Span
		Name string
		User bool // followed by @user: the value is a user-space pointer
	}

	// IntLit is an integer literal: 42, 0x2a, 052, 42ul.
	IntLit struct {
		Span
		Lit      string // source text
		Value    uint64
		Unsigned bool // u suffix
		Long     bool // l or ll suffix
	}

	// CharLit is a character literal: 'a', '\n', '\x41'.
	CharLit struct {
		Span
		Lit   string // source text including quotes
		Value byte
	}

	// StringLit is a string literal: "read %d bytes\n".
	StringLit struct {
		Span
		Lit   string // source text including quotes
		Value string // decoded value
	}

	// Unary is Op X for Op in - + ! ~ * &.
	Unary struct {
		Span
		Op Operator
		X  Expr
	}

	// Binary is X Op Y.
	Binary struct {
		Span
		Op   Operator
		X, Y Expr
	}

	// Cond is Cond ? X : Y.
	Cond struct {
		Span
		Cond, X, Y Expr
	}

	// Cast is (Type)X.
	Cast struct {
		Span
		Type *TypeName
		X    Expr
	}

	// Member is X->Name (Arrow) or X.Name.
	Member struct {
		Span
		X       Expr
		Name    string
		NamePos Pos
		Arrow   bool
		User    bool // followed by @user
	}

	// Index is X[I].
	Index struct {
		Span
		X, I Expr
		User bool // followed by @user
	}

	// Call is Fun(Args): STRCMP("x", arg1), $entry(count).
	Call struct {
		Span
		Fun    string
		FunPos Pos
		Args   []Expr
		User   bool // followed by @user
	}
)

func (*Ident) exprNode()     {}
func (*IntLit) exprNode()    {}
func (*CharLit) exprNode()   {}
func (*StringLit) exprNode() {}
func (*Unary) exprNode()     {}
func (*Binary) exprNode()    {}
func (*Cond) exprNode()      {}
func (*Cast) exprNode()      {}
func (*Member) exprNode()    {}
func (*Index) exprNode()     {}
func (*Call) exprNode()      {}

var (
	_ Expr = (*Ident)(nil)
	_ Expr = (*IntLit)(nil)
	_ Expr = (*CharLit)(nil)
	_ Expr = (*StringLit)(nil)
	_ Expr = (*Unary)(nil)
	_ Expr = (*Binary)(nil)
	_ Expr = (*Cond)(nil)
	_ Expr = (*Cast)(nil)
	_ Expr = (*Member)(nil)
	_ Expr = (*Index)(nil)
	_ Expr = (*Call)(nil)
)

// Operator is a unary or binary operator.
type Operator int

const (
	OpInvalid Operator = iota

	// Unary operators.
	OpNeg    // -x
	OpPlus   // +x
	OpNot    // !x
	OpCompl  // ~x
	OpDeref  // *x
	OpAddrOf // &x

	// Binary operators.
	OpMul    // *
	OpDiv    // /
	OpRem    // %
	OpAdd    // +
	OpSub    // -
	OpShl    // <<
	OpShr    // >>
	OpLt     // <
	OpLe     // <=
	OpGt     // >
	OpGe     // >=
	OpEq     // ==
	OpNe     // !=
	OpAnd    // &
	OpXor    // ^
	OpOr     // |
	OpLogAnd // &&
	OpLogOr  // ||
)

var opText = [...]string{
	OpInvalid: "?op?",
	OpNeg:     "-", OpPlus: "+", OpNot: "!", OpCompl: "~", OpDeref: "*", OpAddrOf: "&",
	OpMul: "*", OpDiv: "/", OpRem: "%", OpAdd: "+", OpSub: "-", OpShl: "<<", OpShr: ">>",
	OpLt: "<", OpLe: "<=", OpGt: ">", OpGe: ">=", OpEq: "==", OpNe: "!=",
	OpAnd: "&", OpXor: "^", OpOr: "|", OpLogAnd: "&&", OpLogOr: "||",
}

// String returns the C spelling of the operator.
func (op Operator) String() string {
	if op >= 0 && int(op) < len(opText) {
		return opText[op]
	}
	return fmt.Sprintf("Operator(%d)", int(op))
}

// IsUnary reports whether op is a unary operator.
func (op Operator) IsUnary() bool { return OpNeg <= op && op <= OpAddrOf }

// Precedence returns the binding strength of a binary operator (higher binds
// tighter, C rules: || is 1, * is 10), or 0 for other operators.
func (op Operator) Precedence() int {
	switch op {
	case OpLogOr:
		return 1
	case OpLogAnd:
		return 2
	case OpOr:
		return 3
	case OpXor:
		return 4
	case OpAnd:
		return 5
	case OpEq, OpNe:
		return 6
	case OpLt, OpLe, OpGt, OpGe:
		return 7
	case OpShl, OpShr:
		return 8
	case OpAdd, OpSub:
		return 9
	case OpMul, OpDiv, OpRem:
		return 10
	}
	return 0
}

// Inspect traverses e in depth-first order: it calls f(e); if f returns
// true, Inspect recurses into the children of e. Nil expressions are
// skipped.
func Inspect(e Expr, f func(Expr) bool) {
	if e == nil || !f(e) {
		return
	}
	switch n := e.(type) {
	case *Unary:
		Inspect(n.X, f)
	case *Binary:
		Inspect(n.X, f)
		Inspect(n.Y, f)
	case *Cond:
		Inspect(n.Cond, f)
		Inspect(n.X, f)
		Inspect(n.Y, f)
	case *Cast:
		Inspect(n.X, f)
	case *Member:
		Inspect(n.X, f)
	case *Index:
		Inspect(n.X, f)
		Inspect(n.I, f)
	case *Call:
		for _, a := range n.Args {
			Inspect(a, f)
		}
	}
}
