package specparse

import (
	"slices"
	"strings"
	"testing"
)

// parseExprString parses s as a single expression (test helper).
func parseExprString(s string) (Expr, error) {
	p := newParser(s)
	p.seek(0)
	var e Expr
	p.try(func() {
		e = p.parseExpr()
		if p.tok.kind != tEOF {
			p.unexpected("end of input")
		}
	})
	if err := p.finish(); err != nil {
		return nil, err
	}
	return e, nil
}

func TestParseExpr(t *testing.T) {
	tests := []struct {
		have string
		want string // dump()
		str  string // ExprString; "" means same as have
	}{
		// Literals.
		{"42", "42", ""},
		{"0x2a", "42", ""},
		{"0X2A", "42", ""},
		{"052", "42", ""},
		{"0", "0", ""},
		{"42u", "42u", ""},
		{"42UL", "42ul", ""},
		{"42llu", "42ul", ""},
		{"42ll", "42l", ""},
		{"0xffffffffffffffff", "18446744073709551615", ""},
		{"'a'", "(char 97)", ""},
		{`'\n'`, "(char 10)", ""},
		{`'\x41'`, "(char 65)", ""},
		{`'\0'`, "(char 0)", ""},
		{`'\''`, "(char 39)", ""},
		{`"a\tb\"c\\"`, `"a\tb\"c\\"`, ""},
		{`"\101\x42"`, `"AB"`, ""},
		// Identifiers and special variables.
		{"arg1", "arg1", ""},
		{"$retval", "$retval", ""},
		{"$task->mm", "(-> $task mm)", ""},
		{"args->filename", "(-> args filename)", ""},
		{"ctx->dx", "(-> ctx dx)", ""},
		{"arg2@user", "arg2@user", ""},
		{"arg2 @ user", "arg2@user", "arg2@user"},
		{"(arg2)@user", "arg2@user", "arg2@user"},
		{"a->b@user", "(->@user a b)", ""},
		{"a[1]@user", "([]@user a 1)", ""},
		{"f(x)@user", "(call@user f x)", ""},
		{"arg2@user->x", "(-> arg2@user x)", ""},
		// Unary.
		{"-x", "(- x)", ""},
		{"+x", "(+ x)", ""},
		{"!x", "(! x)", ""},
		{"~x", "(~ x)", ""},
		{"*p", "(* p)", ""},
		{"&x", "(& x)", ""},
		{"--x", "(- (- x))", "-(-x)"},
		{"- -x", "(- (- x))", "-(-x)"},
		{"!!x", "(! (! x))", "!(!x)"},
		{"*&x", "(* (& x))", "*(&x)"},
		{"-a->b", "(- (-> a b))", ""},
		{"*a[1]", "(* ([] a 1))", ""},
		{"(*a)[1]", "([] (* a) 1)", ""},
		// Binary precedence and associativity.
		{"a + b * c", "(+ a (* b c))", ""},
		{"(a + b) * c", "(* (+ a b) c)", ""},
		{"a - b - c", "(- (- a b) c)", ""},
		{"a - (b - c)", "(- a (- b c))", ""},
		{"a << 1 + 2", "(<< a (+ 1 2))", ""},
		{"a < b == c > d", "(== (< a b) (> c d))", ""},
		{"a & b ^ c | d", "(| (^ (& a b) c) d)", ""},
		{"a && b || c && d", "(|| (&& a b) (&& c d))", ""},
		{"a == 1 && b != 2", "(&& (== a 1) (!= b 2))", ""},
		{"a % b / c", "(/ (% a b) c)", ""},
		{"a>=b", "(>= a b)", "a >= b"},
		{"a<=b", "(<= a b)", "a <= b"},
		{"a>>b", "(>> a b)", "a >> b"},
		{"a - -b", "(- a (- b))", ""},
		{"a & &b", "(& a (& b))", ""},
		{"a&&&b", "(&& a (& b))", "a && &b"},
		{"((a))", "a", "a"},
		// Conditional.
		{"a ? b : c", "(? a b c)", ""},
		{"a ? b : c ? d : e", "(? a b (? c d e))", ""},
		{"(a ? b : c) ? d : e", "(? (? a b c) d e)", ""},
		{"a || b ? c + 1 : d", "(? (|| a b) (+ c 1) d)", ""},
		{"a ? b ? c : d : e", "(? a (? b c d) e)", ""},
		// Casts.
		{"(int)retval", "(cast [int] retval)", ""},
		{"(int)retval < 0", "(< (cast [int] retval) 0)", ""},
		{"(unsigned long)x", "(cast [unsigned long] x)", ""},
		{"(unsigned)x", "(cast [unsigned] x)", ""},
		{"(long long)x", "(cast [long long] x)", ""},
		{"(u64)x", "(cast [u64] x)", ""},
		{"(__u32)x", "(cast [__u32] x)", ""},
		{"(size_t)x", "(cast [size_t] x)", ""},
		{"(struct file *)arg1", "(cast [struct file *] arg1)", ""},
		{"(struct file*)arg1", "(cast [struct file *] arg1)", "(struct file *)arg1"},
		{"((struct file *)arg1)->f_inode", "(-> (cast [struct file *] arg1) f_inode)", ""},
		{"(char *)arg2", "(cast [char *] arg2)", ""},
		{"(const char *)arg2", "(cast [const char *] arg2)", ""},
		{"(char const *)arg2", "(cast [const char *] arg2)", "(const char *)arg2"},
		{"(char __user *)arg2", "(cast [char __user *] arg2)", ""},
		{"(foo *)x", "(cast [foo *] x)", ""},
		{"(foo **)x", "(cast [foo **] x)", ""},
		{"(enum e)x", "(cast [enum e] x)", ""},
		{"(int)-x", "(cast [int] (- x))", ""},
		{"(int)(long)x", "(cast [int] (cast [long] x))", ""},
		{"(int)(a + b)", "(cast [int] (+ a b))", ""},
		{"-(int)x", "(- (cast [int] x))", ""},
		{"(a * b)", "(* a b)", "a * b"},
		{"(a) * b", "(* a b)", "a * b"},
		{"(a) - b", "(- a b)", "a - b"},
		// Postfix and calls.
		{"a.b.c", "(. (. a b) c)", ""},
		{"0 .a", "(. 0 a)", "(0).a"},
		{"0->a", "(-> 0 a)", ""},
		{"a->b->c", "(-> (-> a b) c)", ""},
		{"a[i + 1]", "([] a (+ i 1))", ""},
		{"(a + b)->c", "(-> (+ a b) c)", ""},
		{`STRCMP("x,y", arg1)`, `(call STRCMP "x,y" arg1)`, ""},
		{"f()", "(call f)", ""},
		{"f(a, g(b, c), d ? e : f)", "(call f a (call g b c) (? d e f))", ""},
		{"$entry(count)", "(call $entry count)", ""},
		{"  a  +\tb ", "(+ a b)", "a + b"},
	}
	for _, tt := range tests {
		t.Run(tt.have, func(t *testing.T) {
			e, err := parseExprString(tt.have)
			if err != nil {
				t.Fatalf("parse %q: %v", tt.have, err)
			}
			if got := dump(e); got != tt.want {
				t.Errorf("dump = %s, want %s", got, tt.want)
			}
			str := tt.str
			if str == "" {
				str = tt.have
			}
			if got := ExprString(e); got != str {
				t.Errorf("ExprString = %q, want %q", got, str)
			}
			again, err := parseExprString(ExprString(e))
			if err != nil || dump(again) != dump(e) {
				t.Errorf("round trip of %q: %s, %v", ExprString(e), dump(again), err)
			}
			checkSpans(t, tt.have, e)
		})
	}
}

// checkSpans checks that every node's span is a well-formed expression of
// its own that parses to the same tree.
func checkSpans(t testing.TB, src string, e Expr) {
	t.Helper()
	Inspect(e, func(n Expr) bool {
		if n.Pos() < 0 || n.End() > Pos(len(src)) || n.Pos() >= n.End() {
			t.Errorf("%s: bad span %d-%d", dump(n), n.Pos(), n.End())
			return false
		}
		sub := src[n.Pos():n.End()]
		got, err := parseExprString(sub)
		if err != nil {
			t.Errorf("span %d-%d %q of %s does not parse: %v", n.Pos(), n.End(), sub, dump(n), err)
			return false
		}
		if dump(got) != dump(n) {
			t.Errorf("span %q parses to %s, node is %s", sub, dump(got), dump(n))
		}
		return true
	})
}

func TestExprPositions(t *testing.T) {
	src := "a->b[(int)c] + f(x, 'y')"
	e, err := parseExprString(src)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	Inspect(e, func(n Expr) bool {
		got = append(got, src[n.Pos():n.End()])
		return true
	})
	want := []string{src, "a->b[(int)c]", "a->b", "a", "(int)c", "c", "f(x, 'y')", "x", "'y'"}
	if !slices.Equal(got, want) {
		t.Errorf("spans\n got  %q\n want %q", got, want)
	}
	m := e.(*Binary).X.(*Index).X.(*Member)
	if m.NamePos != 3 {
		t.Errorf("NamePos = %d, want 3", m.NamePos)
	}
	c := e.(*Binary).Y.(*Call)
	if c.FunPos != 15 {
		t.Errorf("FunPos = %d, want 15", c.FunPos)
	}
}

func TestParseExprErrors(t *testing.T) {
	tests := []struct {
		have string
		want []string
	}{
		{"", []string{"0-0: expected expression, found end of input"}},
		{"a +", []string{"3-3: expected expression, found end of input"}},
		{"a b", []string{"2-3: expected end of input, found 'b'"}},
		{"a = 1", []string{"2-3: assignment is not allowed; use '==' to compare"}},
		{"(a", []string{"2-2: expected ')', found end of input"}},
		{"a[1", []string{"3-3: expected ']', found end of input"}},
		{"f(a,", []string{"4-4: expected expression, found end of input"}},
		{"f(a b)", []string{"4-5: expected ',' or ')' in call, found 'b'"}},
		{"a ? b", []string{"5-5: expected ':', found end of input"}},
		{"a->", []string{"3-3: expected field name, found end of input"}},
		{"a->int", []string{"3-6: expected field name, found 'int'"}},
		{"a@kernel", []string{"1-8: unknown annotation '@kernel'; only '@user' is supported"}},
		{"a@user@user", []string{"6-11: '@user' must follow a name, member, index or call"}},
		{"1@user", []string{"1-6: '@user' must follow a name, member, index or call"}},
		{"(a + b)@user", []string{"7-12: '@user' must follow a name, member, index or call"}},
		{"int", []string{"0-3: unexpected type name 'int' in expression (casts are written '(type)expr')"}},
		{"sizeof(x)", []string{"0-6: 'sizeof' is not supported in expressions"}},
		{"(foo)x", []string{"0-5: '(foo)' is not a known type, so this is not a cast; write '(foo *)' or 'struct foo', or use a name ending in _t"}},
		{"(struct)x", []string{"7-8: expected struct tag name, found ')'"}},
		{"(int x", []string{"5-6: expected ')', found 'x'"}},
		{"($pid *)x", []string{"7-8: expected expression, found ')'"}},
		{"09", []string{"0-2: invalid character '9' in octal literal '09'"}},
		{"0x", []string{"0-2: invalid integer literal '0x'"}},
		{"0xg", []string{"0-3: invalid character 'g' in hexadecimal literal '0xg'"}},
		{"1.5", []string{"0-3: floating-point literal '1.5' is not supported"}},
		{"1e3", []string{"0-3: invalid character 'e' in decimal literal '1e3'"}},
		{"12lul", []string{"0-5: invalid suffix 'lul' on integer literal"}},
		{"18446744073709551616", []string{"0-20: integer literal '18446744073709551616' overflows 64 bits"}},
		{"'ab'", []string{"0-4: character literal 'ab' must hold exactly one byte"}},
		{"''", []string{"0-2: character literal '' must hold exactly one byte"}},
		{`"\q"`, []string{`1-3: unknown escape sequence '\q'`}},
		{`"\x"`, []string{`1-3: \x escape needs hexadecimal digits`}},
		{`"\777"`, []string{`1-5: octal escape '\777' is out of range`}},
		{`"abc`, []string{"0-4: unterminated string literal"}},
		{`'a`, []string{"0-2: unterminated character literal"}},
		{"a # b", []string{"2-3: expected end of input, found '#'"}},
		{"a ` b", []string{"2-3: invalid character \"`\""}},
		// Several literal errors are collected in one pass.
		{"09 + 1.5", []string{
			"0-2: invalid character '9' in octal literal '09'",
			"5-8: floating-point literal '1.5' is not supported",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.have, func(t *testing.T) {
			e, err := parseExprString(tt.have)
			if err == nil {
				t.Fatalf("parse %q = %s, want error", tt.have, dump(e))
			}
			if g := errStrings(err); !slices.Equal(g, tt.want) {
				t.Errorf("errors\n got  %q\n want %q", g, tt.want)
			}
		})
	}
}

func TestDeepNesting(t *testing.T) {
	for _, s := range []string{
		strings.Repeat("(", 10000) + "a" + strings.Repeat(")", 10000),
		strings.Repeat("-", 10000) + "a",
		strings.Repeat("a ? ", 5000) + "b" + strings.Repeat(" : c", 5000),
		strings.Repeat("(int)", 10000) + "a",
	} {
		_, err := parseExprString(s)
		if err == nil {
			t.Errorf("deeply nested expression (%d bytes) accepted", len(s))
			continue
		}
		if g := errStrings(err); len(g) != 1 || !strings.Contains(g[0], "nested too deeply") {
			t.Errorf("errors = %q", g)
		}
	}
}

func TestOperator(t *testing.T) {
	if OpShl.String() != "<<" || OpNeg.String() != "-" || OpSub.String() != "-" || Operator(99).String() != "Operator(99)" {
		t.Error("Operator.String")
	}
	if !OpDeref.IsUnary() || OpMul.IsUnary() {
		t.Error("IsUnary")
	}
	if OpMul.Precedence() <= OpAdd.Precedence() || OpLogOr.Precedence() != 1 || OpNot.Precedence() != 0 {
		t.Error("Precedence")
	}
}
