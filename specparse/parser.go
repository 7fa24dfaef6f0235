package specparse

import (
	"fmt"
	"strconv"
	"strings"
)

// maxDepth bounds expression nesting so hostile input cannot exhaust the
// stack.
const maxDepth = 256

// parser is the recursive-descent parser shared by the trace and argdist
// grammars. Syntax errors are collected in errs; an error inside an
// expression unwinds to the nearest try (see bailout), which resynchronises
// at a known boundary (closing parenthesis, top-level comma) and goes on.
type parser struct {
	src     string
	sc      scanner
	tok     token // current token
	lastEnd Pos   // end of the previous token
	errs    ErrorList
	depth   int
}

// bailout is the panic value that unwinds the parser after an error.
type bailout struct{}

func newParser(src string) *parser {
	p := &parser{src: src}
	p.sc = scanner{src: src, errs: &p.errs}
	return p
}

// next advances to the next token.
func (p *parser) next() {
	p.lastEnd = p.tok.end
	p.tok = p.sc.next()
}

// seek restarts scanning at byte offset off.
func (p *parser) seek(off int) {
	p.sc.off = off
	p.tok = token{pos: Pos(off), end: Pos(off)}
	p.next()
}

// look returns a silent scanner positioned after the current token, for
// look-ahead.
func (p *parser) look() scanner {
	return scanner{src: p.src, off: int(p.tok.end)}
}

func (p *parser) errorf(pos, end Pos, format string, args ...any) {
	p.errs.Add(pos, end, fmt.Sprintf(format, args...))
}

// fail records an error and unwinds to the nearest try.
func (p *parser) fail(pos, end Pos, format string, args ...any) {
	p.errorf(pos, end, format, args...)
	panic(bailout{})
}

// unexpected fails at the current token. An illegal token was already
// reported by the scanner, so only the unwinding happens then.
func (p *parser) unexpected(want string) {
	if p.tok.kind == tIllegal {
		panic(bailout{})
	}
	p.fail(p.tok.pos, p.tok.end, "expected %s, found %s", want, p.tok.describe())
}

// expect consumes the punctuation s or fails.
func (p *parser) expect(s string) token {
	t := p.tok
	if !t.is(s) {
		p.unexpected("'" + s + "'")
	}
	p.next()
	return t
}

// try runs f and reports whether it finished without a bailout. Other
// panics (bugs) are not recovered.
func (p *parser) try(f func()) (ok bool) {
	depth := p.depth
	defer func() {
		if r := recover(); r != nil {
			if _, isBail := r.(bailout); !isBail {
				panic(r)
			}
			p.depth = depth
			ok = false
		}
	}()
	f()
	return true
}

// matchParen returns the offset of the ')' that balances the '(' token at
// the current position, or -1. Brackets are counted too, so a stray ')'
// inside "[...]" does not end the group early.
func (p *parser) matchParen() int {
	s := p.look()
	depth := 0
	for {
		t := s.next()
		switch {
		case t.kind == tEOF:
			return -1
		case t.is("(") || t.is("["):
			depth++
		case t.is(")") || t.is("]"):
			if depth == 0 {
				if t.is(")") {
					return int(t.pos)
				}
				return -1
			}
			depth--
		}
	}
}

// nextComma returns the offset of the first ',' at nesting level 0 from the
// current token on, or -1 (end of input). stop lists punctuation that also
// ends the search at level 0 (for argdist, ':' and '#').
func (p *parser) nextComma(stop ...string) int {
	s := scanner{src: p.src, off: int(p.tok.pos)}
	depth := 0
	for {
		t := s.next()
		switch {
		case t.kind == tEOF:
			return -1
		case t.is("(") || t.is("["):
			depth++
		case t.is(")") || t.is("]"):
			if depth > 0 {
				depth--
			}
		case depth == 0 && t.is(","):
			return int(t.pos)
		case depth == 0 && t.kind == tPunct:
			for _, x := range stop {
				if t.lit == x {
					return int(t.pos)
				}
			}
		}
	}
}

// --- Types -------------------------------------------------------------

// typeWords are the C keywords that make up builtin type names; qualifiers
// are handled separately.
var typeWords = map[string]bool{
	"void": true, "char": true, "short": true, "int": true, "long": true,
	"float": true, "double": true, "signed": true, "unsigned": true,
	"_Bool": true, "bool": true,
}

// typedefWords are common kernel typedefs treated as type names in casts.
var typedefWords = map[string]bool{
	"u8": true, "u16": true, "u32": true, "u64": true,
	"s8": true, "s16": true, "s32": true, "s64": true,
	"__u8": true, "__u16": true, "__u32": true, "__u64": true,
	"__s8": true, "__s16": true, "__s32": true, "__s64": true,
	"__be16": true, "__be32": true, "__be64": true,
	"__le16": true, "__le32": true, "__le64": true,
}

// keywords cannot be used as identifiers in expressions or parameter names.
var keywords = map[string]bool{
	"struct": true, "union": true, "enum": true, "const": true,
	"volatile": true, "__user": true, "sizeof": true,
}

func isKeyword(s string) bool { return keywords[s] || typeWords[s] }

func isQualifier(s string) bool { return s == "const" || s == "volatile" || s == "__user" }

// startsType reports whether an identifier certainly begins a type name.
func startsType(s string) bool {
	return typeWords[s] || typedefWords[s] || isQualifier(s) ||
		s == "struct" || s == "union" || s == "enum" || strings.HasSuffix(s, "_t")
}

// castAhead reports whether the current '(' starts a cast. The rule: the
// parenthesis holds a type name, which is recognised when its first word is
// a C type keyword (int, unsigned, char, ...), a qualifier (const,
// volatile, __user), struct/union/enum, a well-known kernel typedef (u8..u64,
// s8..s64, __u32, ...) or a name ending in "_t"; or when it is any
// identifier followed by one or more '*' and then ')' (as in "(foo *)").
// Anything else, e.g. "(foo)x", is a parenthesised expression.
func (p *parser) castAhead() bool {
	s := p.look()
	t := s.next()
	if t.kind != tIdent {
		return false
	}
	if startsType(t.lit) {
		return true
	}
	if isKeyword(t.lit) || t.lit[0] == '$' {
		return false
	}
	stars := 0
	for {
		t = s.next()
		switch {
		case t.is("*"):
			stars++
		case t.is(")"):
			return stars > 0
		default:
			return false
		}
	}
}

// parseType parses a type name: qualifiers, a base type (builtin words,
// struct/union/enum tag, or a typedef name), more qualifiers and '*'s.
func (p *parser) parseType() *TypeName {
	t := &TypeName{Pos: p.tok.pos}
	qualifiers := func() {
		for p.tok.kind == tIdent && isQualifier(p.tok.lit) {
			switch p.tok.lit {
			case "const":
				t.Const = true
			case "__user":
				t.User = true
			}
			p.next()
		}
	}
	qualifiers()
	switch {
	case p.tok.kind != tIdent || isQualifier(p.tok.lit) || p.tok.lit == "sizeof" || p.tok.lit[0] == '$':
		p.unexpected("type name")
	case p.tok.lit == "struct" || p.tok.lit == "union" || p.tok.lit == "enum":
		kw := p.tok.lit
		p.next()
		if p.tok.kind != tIdent || isKeyword(p.tok.lit) {
			p.unexpected(kw + " tag name")
		}
		t.Name = kw + " " + p.tok.lit
		p.next()
	case typeWords[p.tok.lit]:
		var words []string
		for p.tok.kind == tIdent && (typeWords[p.tok.lit] || isQualifier(p.tok.lit)) {
			if typeWords[p.tok.lit] {
				words = append(words, p.tok.lit)
				p.next()
			} else {
				qualifiers()
			}
		}
		t.Name = strings.Join(words, " ")
		if !validTypeWords(words) {
			p.fail(t.Pos, p.lastEnd, "invalid type '%s'", t.Name)
		}
	default:
		t.Name = p.tok.lit
		p.next()
	}
	qualifiers()
	for p.tok.is("*") {
		t.Ptr++
		p.next()
		qualifiers()
	}
	t.End = p.lastEnd
	return t
}

// validTypeWords reports whether the builtin type words form a C type:
// at most one base type (int, char, ...), one of short or up to two long,
// one of signed or unsigned.
func validTypeWords(words []string) bool {
	n := map[string]int{}
	base := 0
	for _, w := range words {
		n[w]++
		switch w {
		case "void", "char", "int", "float", "double", "_Bool", "bool":
			base++
		}
	}
	return base <= 1 && n["int"] <= 1 && n["short"] <= 1 && n["long"] <= 2 &&
		!(n["short"] > 0 && n["long"] > 0) &&
		n["signed"]+n["unsigned"] <= 1
}

// parseParams parses a signature "(param, ...)" at the current '(' and
// returns a non-nil slice. "(void)" is the same as "()".
func (p *parser) parseParams() []*Param {
	p.expect("(")
	params := []*Param{}
	if p.tok.is(")") {
		p.next()
		return params
	}
	if p.tok.kind == tIdent && p.tok.lit == "void" {
		s := p.look()
		if t := s.next(); t.is(")") {
			p.next()
			p.next()
			return params
		}
	}
	for {
		param := &Param{Pos: p.tok.pos}
		param.Type = p.parseType()
		if p.tok.kind == tIdent {
			if isKeyword(p.tok.lit) {
				p.fail(p.tok.pos, p.tok.end, "'%s' cannot be a parameter name", p.tok.lit)
			}
			param.Name = p.tok.lit
			p.next()
		}
		if p.tok.is("[") || p.tok.is("(") {
			p.fail(p.tok.pos, p.tok.end, "array and function-pointer parameters are not supported; declare the parameter as a pointer")
		}
		param.End = p.lastEnd
		if param.Type.Name == "void" && param.Type.Ptr == 0 {
			p.errorf(param.Pos, param.End, "a parameter cannot have type void")
		}
		params = append(params, param)
		if p.tok.is(")") {
			p.next()
			return params
		}
		if !p.tok.is(",") {
			p.unexpected("',' or ')' in signature")
		}
		p.next()
	}
}

// --- Expressions -------------------------------------------------------

// parseExpr parses a full expression (a conditional expression; there is no
// comma operator or assignment).
func (p *parser) parseExpr() Expr {
	p.depth++
	if p.depth > maxDepth {
		p.fail(p.tok.pos, p.tok.end, "expression nested too deeply")
	}
	defer func() { p.depth-- }()
	start := p.tok.pos
	cond := p.parseBinary(1)
	if !p.tok.is("?") {
		return cond
	}
	p.next()
	x := p.parseExpr()
	p.expect(":")
	y := p.parseExpr()
	return &Cond{Span: Span{start, p.lastEnd}, Cond: cond, X: x, Y: y}
}

var binaryOps = map[string]Operator{
	"*": OpMul, "/": OpDiv, "%": OpRem, "+": OpAdd, "-": OpSub,
	"<<": OpShl, ">>": OpShr, "<": OpLt, "<=": OpLe, ">": OpGt, ">=": OpGe,
	"==": OpEq, "!=": OpNe, "&": OpAnd, "^": OpXor, "|": OpOr,
	"&&": OpLogAnd, "||": OpLogOr,
}

// parseBinary parses binary operators of precedence >= minPrec (precedence
// climbing; all binary operators are left-associative).
//
// Spans of nodes that have a parenthesised operand include the
// parentheses, so src[n.Pos():n.End()] is always a well-formed expression.
func (p *parser) parseBinary(minPrec int) Expr {
	start := p.tok.pos
	x := p.parseUnary()
	for {
		if p.tok.is("=") {
			p.fail(p.tok.pos, p.tok.end, "assignment is not allowed; use '==' to compare")
		}
		op, ok := binaryOps[p.tok.lit]
		if p.tok.kind != tPunct || !ok || op.Precedence() < minPrec {
			return x
		}
		p.next()
		y := p.parseBinary(op.Precedence() + 1)
		x = &Binary{Span: Span{start, p.lastEnd}, Op: op, X: x, Y: y}
	}
}

var unaryOps = map[string]Operator{
	"-": OpNeg, "+": OpPlus, "!": OpNot, "~": OpCompl, "*": OpDeref, "&": OpAddrOf,
}

// parseUnary parses prefix operators and casts.
func (p *parser) parseUnary() Expr {
	p.depth++
	if p.depth > maxDepth {
		p.fail(p.tok.pos, p.tok.end, "expression nested too deeply")
	}
	defer func() { p.depth-- }()
	start := p.tok.pos
	if op, ok := unaryOps[p.tok.lit]; ok && p.tok.kind == tPunct {
		p.next()
		x := p.parseUnary()
		return &Unary{Span: Span{start, p.lastEnd}, Op: op, X: x}
	}
	if p.tok.is("(") && p.castAhead() {
		p.next()
		typ := p.parseType()
		p.expect(")")
		x := p.parseUnary()
		return &Cast{Span: Span{start, p.lastEnd}, Type: typ, X: x}
	}
	return p.parsePostfix()
}

// parsePostfix parses a primary expression followed by ->name, .name,
// [index] and @user.
func (p *parser) parsePostfix() Expr {
	start := p.tok.pos
	x := p.parsePrimary()
	for {
		switch {
		case p.tok.is("->") || p.tok.is("."):
			arrow := p.tok.is("->")
			p.next()
			if p.tok.kind != tIdent || isKeyword(p.tok.lit) {
				p.unexpected("field name")
			}
			x = &Member{Span: Span{start, p.tok.end}, X: x, Name: p.tok.lit, NamePos: p.tok.pos, Arrow: arrow}
			p.next()
		case p.tok.is("["):
			p.next()
			i := p.parseExpr()
			end := p.expect("]").end
			x = &Index{Span: Span{start, end}, X: x, I: i}
		case p.tok.is("@"):
			at := p.tok
			p.next()
			if p.tok.kind != tIdent || p.tok.lit != "user" {
				if p.tok.kind == tIdent {
					p.fail(at.pos, p.tok.end, "unknown annotation '@%s'; only '@user' is supported", p.tok.lit)
				}
				p.unexpected("'user' after '@'")
			}
			end := p.tok.end
			if !p.setUser(x, start, end) {
				p.fail(at.pos, end, "'@user' must follow a name, member, index or call")
			}
			p.next()
		default:
			return x
		}
	}
}

// setUser marks x as a user pointer and extends its span to [start, end)
// (start differs from x.Pos() for "(x)@user"). It reports false when x
// cannot carry the flag or already has it.
func (p *parser) setUser(x Expr, start, end Pos) bool {
	var flag *bool
	var span *Span
	switch n := x.(type) {
	case *Ident:
		flag, span = &n.User, &n.Span
	case *Member:
		flag, span = &n.User, &n.Span
	case *Index:
		flag, span = &n.User, &n.Span
	case *Call:
		flag, span = &n.User, &n.Span
	default:
		return false
	}
	if *flag {
		return false
	}
	*flag, span.Start, span.Stop = true, start, end
	return true
}

// parsePrimary parses names, calls, literals and parenthesised expressions.
func (p *parser) parsePrimary() Expr {
	t := p.tok
	switch t.kind {
	case tIdent:
		if isKeyword(t.lit) {
			if startsType(t.lit) {
				p.fail(t.pos, t.end, "unexpected type name '%s' in expression (casts are written '(type)expr')", t.lit)
			}
			p.fail(t.pos, t.end, "'%s' is not supported in expressions", t.lit)
		}
		p.next()
		if !p.tok.is("(") {
			return &Ident{Span: Span{t.pos, t.end}, Name: t.lit}
		}
		p.next()
		args := []Expr{}
		if !p.tok.is(")") {
			for {
				args = append(args, p.parseExpr())
				if !p.tok.is(",") {
					break
				}
				p.next()
			}
		}
		if !p.tok.is(")") {
			p.unexpected("',' or ')' in call")
		}
		end := p.tok.end
		p.next()
		return &Call{Span: Span{t.pos, end}, Fun: t.lit, FunPos: t.pos, Args: args}
	case tInt:
		p.next()
		return p.intLit(t)
	case tChar:
		p.next()
		return p.charLit(t)
	case tString:
		p.next()
		return p.stringLit(t)
	}
	if t.is("(") {
		p.next()
		if p.tok.kind == tIdent && !isKeyword(p.tok.lit) {
			// Give a hint for "(foo)x", a cast to a typedef name that the
			// cast rule does not recognise.
			s := p.look()
			if close := s.next(); close.is(")") {
				if after := s.next(); after.kind == tIdent || after.kind == tInt {
					p.fail(t.pos, close.end, "'(%s)' is not a known type, so this is not a cast; write '(%s *)' or 'struct %s', or use a name ending in _t",
						p.tok.lit, p.tok.lit, p.tok.lit)
				}
			}
		}
		x := p.parseExpr()
		p.expect(")")
		return x
	}
	p.unexpected("expression")
	return nil
}

// intLit decodes an integer literal: decimal, 0x hex or 0 octal, with an
// optional u/l/ul/lu/ll/ull/llu suffix in any case. Errors are recorded
// without unwinding (the literal's value is then 0).
func (p *parser) intLit(t token) *IntLit {
	lit := &IntLit{Span: Span{t.pos, t.end}, Lit: t.lit}
	s := t.lit
	digits := strings.TrimRight(s, "uUlL")
	suffix := strings.ToLower(s[len(digits):])
	switch suffix {
	case "", "l", "ll":
	case "u", "ul", "lu", "ull", "llu":
		lit.Unsigned = true
	default:
		p.errorf(t.pos, t.end, "invalid suffix '%s' on integer literal", s[len(digits):])
		return lit
	}
	lit.Long = strings.Contains(suffix, "l")
	base, body := 10, digits
	switch {
	case strings.HasPrefix(digits, "0x") || strings.HasPrefix(digits, "0X"):
		base, body = 16, digits[2:]
	case len(digits) > 1 && digits[0] == '0':
		base, body = 8, digits[1:]
	}
	if body == "" {
		p.errorf(t.pos, t.end, "invalid integer literal '%s'", s)
		return lit
	}
	for i := 0; i < len(body); i++ {
		c := body[i]
		if c == '.' {
			p.errorf(t.pos, t.end, "floating-point literal '%s' is not supported", s)
			return lit
		}
		if v := hexVal(c); v < 0 || v >= base {
			kind := map[int]string{8: "octal", 10: "decimal", 16: "hexadecimal"}[base]
			p.errorf(t.pos, t.end, "invalid character '%c' in %s literal '%s'", c, kind, s)
			return lit
		}
	}
	v, err := strconv.ParseUint(body, base, 64)
	if err != nil {
		p.errorf(t.pos, t.end, "integer literal '%s' overflows 64 bits", s)
		return lit
	}
	lit.Value = v
	return lit
}

// unquoteTok decodes a string or char token, recording an escape error.
func (p *parser) unquoteTok(t token) (string, bool) {
	val, _, off, n, msg := unquote(t.lit)
	if msg != "" {
		p.errorf(t.pos+Pos(off), t.pos+Pos(off+n), "%s", msg)
		return "", false
	}
	return val, true
}

func (p *parser) charLit(t token) *CharLit {
	lit := &CharLit{Span: Span{t.pos, t.end}, Lit: t.lit}
	val, ok := p.unquoteTok(t)
	switch {
	case !ok:
	case len(val) != 1:
		p.errorf(t.pos, t.end, "character literal %s must hold exactly one byte", t.lit)
	default:
		lit.Value = val[0]
	}
	return lit
}

func (p *parser) stringLit(t token) *StringLit {
	lit := &StringLit{Span: Span{t.pos, t.end}, Lit: t.lit}
	lit.Value, _ = p.unquoteTok(t)
	return lit
}
