package specparse

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// traceTests are valid probes: have → dumpProbe → canonical String().
var traceTests = []struct {
	have string
	want string
	str  string
}{
	{"do_sys_open", `kind=p lib="" func="do_sys_open"`, "p::do_sys_open"},
	{"p::do_sys_open", `kind=p lib="" func="do_sys_open"`, "p::do_sys_open"},
	{"::do_sys_open", `kind=p lib="" func="do_sys_open"`, "p::do_sys_open"},
	{"r::do_sys_open", `kind=r lib="" func="do_sys_open"`, "r::do_sys_open"},
	{"c:malloc", `kind=p lib="c" func="malloc"`, "p:c:malloc"},
	{"p:c:malloc", `kind=p lib="c" func="malloc"`, "p:c:malloc"},
	{"r:/usr/lib/libstdc++.so.6:_Znwm", `kind=r lib="/usr/lib/libstdc++.so.6" func="_Znwm"`, "r:/usr/lib/libstdc++.so.6:_Znwm"},
	{"p:a:b:func", `kind=p lib="a:b" func="func"`, "p:a:b:func"},
	{"vfs_*", `kind=p lib="" func="vfs_*"`, "p::vfs_*"},
	{"malloc@@GLIBC_2.2.5", `kind=p lib="" func="malloc@@GLIBC_2.2.5"`, "p::malloc@@GLIBC_2.2.5"},
	{"foo.isra.0", `kind=p lib="" func="foo.isra.0"`, "p::foo.isra.0"},
	{"main.héllo", `kind=p lib="" func="main.héllo"`, "p::main.héllo"},
	{"p:/tmp/a.out:main+0xd", `kind=p lib="/tmp/a.out" func="main" off=0xd`, "p:/tmp/a.out:main+0xd"},
	{"do_sys_open+16", `kind=p lib="" func="do_sys_open" off=0x10`, "p::do_sys_open+0x10"},
	{"do_sys_open+0", `kind=p lib="" func="do_sys_open"`, "p::do_sys_open"},
	{"t:sched:sched_switch", `kind=t lib="sched" func="sched_switch"`, "t:sched:sched_switch"},
	{"u:pthread:pthread_create", `kind=u lib="pthread" func="pthread_create"`, "u:pthread:pthread_create"},
	{"u:/usr/bin/python3:python:function__entry", `kind=u lib="/usr/bin/python3" provider="python" func="function__entry"`, "u:/usr/bin/python3:python:function__entry"},
	// Signatures.
	{"do_sys_open()", `kind=p lib="" func="do_sys_open" params=()`, "p::do_sys_open()"},
	{"do_sys_open(void)", `kind=p lib="" func="do_sys_open" params=()`, "p::do_sys_open()"},
	{"p::do_sys_open(int dfd, const char __user *filename, int flags)",
		`kind=p lib="" func="do_sys_open" params=([int]dfd, [const char __user *]filename, [int]flags)`,
		"p::do_sys_open(int dfd, const char __user *filename, int flags)"},
	{"SyS_nanosleep(struct timespec *ts)", `kind=p lib="" func="SyS_nanosleep" params=([struct timespec *]ts)`, "p::SyS_nanosleep(struct timespec *ts)"},
	{"f(unsigned long long x,char**argv,size_t)", `kind=p lib="" func="f" params=([unsigned long long]x, [char **]argv, [size_t])`, "p::f(unsigned long long x, char **argv, size_t)"},
	{"f( struct file * const f )", `kind=p lib="" func="f" params=([const struct file *]f)`, "p::f(const struct file *f)"},
	{"f(u64 a, pid_t p)", `kind=p lib="" func="f" params=([u64]a, [pid_t]p)`, "p::f(u64 a, pid_t p)"},
	// Predicates.
	{"do_sys_open (arg1 > 0)", `kind=p lib="" func="do_sys_open" filter=(> arg1 0)`, "p::do_sys_open (arg1 > 0)"},
	{"r::vfs_read ((int)retval < 0)", `kind=r lib="" func="vfs_read" filter=(< (cast [int] retval) 0)`, "r::vfs_read ((int)retval < 0)"},
	{"f(int x)(x == 1)", `kind=p lib="" func="f" params=([int]x) filter=(== x 1)`, "p::f(int x) (x == 1)"},
	{"f ( (a) && (b || (c)) )", `kind=p lib="" func="f" filter=(&& a (|| b c))`, "p::f (a && (b || c))"},
	{`f (STRCMP("bash", $comm))`, `kind=p lib="" func="f" filter=(call STRCMP "bash" $comm)`, `p::f (STRCMP("bash", $comm))`},
	{"t:sched:sched_switch (args->prev_pid != 0)", `kind=t lib="sched" func="sched_switch" filter=(!= (-> args prev_pid) 0)`, "t:sched:sched_switch (args->prev_pid != 0)"},
	// Formats and arguments.
	{`do_sys_open "%s", arg2@user`, `kind=p lib="" func="do_sys_open" fmt="%s" arg=arg2@user`, `p::do_sys_open "%s", arg2@user`},
	{`do_sys_open"%s",arg2`, `kind=p lib="" func="do_sys_open" fmt="%s" arg=arg2`, `p::do_sys_open "%s", arg2`},
	{`f "no args"`, `kind=p lib="" func="f" fmt="no args"`, `p::f "no args"`},
	{`f ""`, `kind=p lib="" func="f" fmt=""`, `p::f ""`},
	{`f "a \"quoted\" %d\n", 1`, `kind=p lib="" func="f" fmt="a \"quoted\" %d\n" arg=1`, `p::f "a \"quoted\" %d\n", 1`},
	{`f "%d %d", STRCMP("a,b", arg1), f(x, y)`, `kind=p lib="" func="f" fmt="%d %d" arg=(call STRCMP "a,b" arg1) arg=(call f x y)`, `p::f "%d %d", STRCMP("a,b", arg1), f(x, y)`},
	{`r::vfs_read (retval > 0) "ret %d: %s", retval, $task->comm`,
		`kind=r lib="" func="vfs_read" filter=(> retval 0) fmt="ret %d: %s" arg=retval arg=(-> $task comm)`,
		`r::vfs_read (retval > 0) "ret %d: %s", retval, $task->comm`},
	{`  f   (a)   "x"  ,  b  `, `kind=p lib="" func="f" filter=a fmt="x" arg=b`, `p::f (a) "x", b`},
	{`t:block:block_rq_complete "sectors=%d", args->nr_sector`, `kind=t lib="block" func="block_rq_complete" fmt="sectors=%d" arg=(-> args nr_sector)`, `t:block:block_rq_complete "sectors=%d", args->nr_sector`},
	{`u:pthread:pthread_create "%U", arg3`, `kind=u lib="pthread" func="pthread_create" fmt="%U" arg=arg3`, `u:pthread:pthread_create "%U", arg3`},
	{`f "%d", a ? b : c`, `kind=p lib="" func="f" fmt="%d" arg=(? a b c)`, `p::f "%d", a ? b : c`},
	{`f (foo_t)`, `kind=p lib="" func="f" filter=foo_t`, `p::f (foo_t)`},
	{`f (foo_t) "x"`, `kind=p lib="" func="f" filter=foo_t fmt="x"`, `p::f (foo_t) "x"`},
}

func TestParseTrace(t *testing.T) {
	for _, tt := range traceTests {
		t.Run(tt.have, func(t *testing.T) {
			pr, err := ParseTrace(tt.have)
			if err != nil {
				t.Fatalf("ParseTrace(%q): %v\n%s", tt.have, err, Caret(tt.have, err))
			}
			if got := dumpProbe(pr); got != tt.want {
				t.Errorf("dump\n got  %s\n want %s", got, tt.want)
			}
			if got := pr.String(); got != tt.str {
				t.Errorf("String() = %q, want %q", got, tt.str)
			}
			again, err := ParseTrace(pr.String())
			if err != nil {
				t.Fatalf("re-parse of %q: %v", pr.String(), err)
			}
			if dumpProbe(again) != dumpProbe(pr) {
				t.Errorf("round trip changed the probe:\n %s\n %s", dumpProbe(pr), dumpProbe(again))
			}
			checkProbeSpans(t, tt.have, pr)
		})
	}
}

// checkProbeSpans checks the positions of the probe parts and of every
// expression node.
func checkProbeSpans(t *testing.T, src string, pr *Probe) {
	t.Helper()
	if pr.Pos < 0 || pr.End > Pos(len(src)) || pr.Pos > pr.End {
		t.Errorf("probe span %d-%d", pr.Pos, pr.End)
	}
	if trimmed := strings.Trim(src, " \t\n\r\v\f"); trimmed != src[pr.Pos:pr.End] {
		t.Errorf("probe span %q, want the trimmed input", src[pr.Pos:pr.End])
	}
	if got := src[pr.FuncPos:]; !strings.HasPrefix(got, pr.Func) {
		t.Errorf("FuncPos %d points at %q, not %q", pr.FuncPos, got, pr.Func)
	}
	if pr.Library != "" && !strings.HasPrefix(src[pr.LibraryPos:], pr.Library) {
		t.Errorf("LibraryPos %d points at %q, not %q", pr.LibraryPos, src[pr.LibraryPos:], pr.Library)
	}
	for _, prm := range pr.Params {
		text := src[prm.Pos:prm.End]
		if prm.Name != "" && !strings.HasSuffix(text, prm.Name) {
			t.Errorf("param span %q does not end with %q", text, prm.Name)
		}
		typ := src[prm.Type.Pos:prm.Type.End]
		if !strings.HasPrefix(text, typ) {
			t.Errorf("type span %q is not a prefix of param %q", typ, text)
		}
	}
	exprs := append([]Expr{pr.Filter}, pr.Args...)
	if pr.Format != nil {
		exprs = append(exprs, pr.Format)
	}
	for _, e := range exprs {
		if e != nil {
			checkSpans(t, src, e)
		}
	}
}

func TestParseTracePositions(t *testing.T) {
	src := `r:c:malloc+0x10(size_t n) (n > 0) "%d", n`
	pr, err := ParseTrace(src)
	if err != nil {
		t.Fatal(err)
	}
	want := &Probe{
		Pos: 0, End: Pos(len(src)), Kind: Return,
		Library: "c", LibraryPos: 2, Func: "malloc", FuncPos: 4, Offset: 0x10,
		Params: []*Param{{Pos: 16, End: 24, Type: &TypeName{Pos: 16, End: 22, Name: "size_t"}, Name: "n"}},
		Filter: &Binary{Span: Span{27, 32}, Op: OpGt, X: &Ident{Span: Span{27, 28}, Name: "n"}, Y: &IntLit{Span: Span{31, 32}, Lit: "0"}},
		Format: &StringLit{Span: Span{34, 38}, Lit: `"%d"`, Value: "%d"},
		Args:   []Expr{&Ident{Span: Span{40, 41}, Name: "n"}},
	}
	if !reflect.DeepEqual(pr, want) {
		t.Errorf("got  %#v\nwant %#v", pr, want)
		t.Errorf("filter %#v", pr.Filter)
	}
}

func TestParseTraceErrors(t *testing.T) {
	tests := []struct {
		have string
		want []string
	}{
		{"", []string{"0-0: empty probe"}},
		{"   ", []string{"3-3: empty probe"}},
		{`"%d", arg1`, []string{"0-0: missing probe: expected [p:|r:][library:]function, t:category:event or u:library:probe"}},
		// Head.
		{"x:c:malloc", []string{"0-1: probe type must be '', 'p', 'r', 't', or 'u', but got 'x'"}},
		{"p::", []string{"3-3: missing function name"}},
		{"c:", []string{"2-2: missing function name"}},
		{"r:vfs_read", []string{"0-10: ambiguous probe 'r:vfs_read': write 'r::vfs_read' for a kernel function or 'r:LIBRARY:vfs_read' for a library function"}},
		{"do_sys_open+0xzz", []string{"12-16: invalid offset '0xzz': must be decimal or hexadecimal"}},
		{"do_sys_open+", []string{"12-12: invalid offset '': must be decimal or hexadecimal"}},
		{"do_sys_open+12a", []string{"12-15: invalid offset '12a': must be decimal or hexadecimal"}},
		{"do_sys_open+99999999999999999999", []string{"12-32: invalid offset '99999999999999999999': must be decimal or hexadecimal"}},
		{"t:sched:sched_switch+4", []string{"20-22: an offset is only allowed on p and r probes"}},
		{"t:sched", []string{"0-7: incomplete probe 't:sched': tracepoints are t:category:event"}},
		{"u:probe", []string{"0-7: incomplete probe 'u:probe': USDT probes are u:library:probe"}},
		{"t:sched:", []string{"8-8: missing tracepoint event"}},
		{"t::ev", []string{"2-2: missing tracepoint category"}},
		{"t:a:b:c", []string{"0-7: tracepoint probe must be t:category:event"}},
		{"t:sch/ed:x", []string{"5-6: invalid character \"/\" in tracepoint category"}},
		{"u::probe", []string{"2-2: missing library or binary for USDT probe"}},
		{"u:lib::probe", []string{"6-6: missing USDT provider"}},
		{"u:lib:a:b:c", []string{"0-11: USDT probe must be u:library:probe or u:library:provider:probe"}},
		{"f)oo", []string{`1-2: invalid character ")" in function name`}},
		{"vfs_read\u00a0", []string{`8-10: invalid character "\u00a0" in function name`}},
		{"f\xff", []string{`1-2: invalid character "\xff" in function name`}},
		{"x:c:m+0xzz", []string{
			"0-1: probe type must be '', 'p', 'r', 't', or 'u', but got 'x'",
			"6-10: invalid offset '0xzz': must be decimal or hexadecimal",
		}},
		// Signatures.
		{"t:sched:sched_switch(int x)", []string{"20-27: tracepoint and USDT probes take no signature; use args->field (tracepoints) or arg1..argN (USDT)"}},
		{"u:lib:probe()", []string{"11-13: tracepoint and USDT probes take no signature; use args->field (tracepoints) or arg1..argN (USDT)"}},
		{"t:a:b(", []string{"5-6: tracepoint and USDT probes take no signature; use args->field (tracepoints) or arg1..argN (USDT)"}},
		{"f(int x", []string{"1-7: unmatched '(' in signature: missing ')'"}},
		{"f(arg1 > 0)", []string{"7-8: expected ',' or ')' in signature, found '>' (a predicate must be separated from the function by a space)"}},
		{"f(int (*fn)(int))", []string{"6-7: array and function-pointer parameters are not supported; declare the parameter as a pointer (a predicate must be separated from the function by a space)"}},
		{"f(char buf[16])", []string{"10-11: array and function-pointer parameters are not supported; declare the parameter as a pointer (a predicate must be separated from the function by a space)"}},
		{"f(void x)", []string{"2-8: a parameter cannot have type void"}},
		{"f(int int)", []string{"2-9: invalid type 'int int' (a predicate must be separated from the function by a space)"}},
		{"f(unsigned signed x)", []string{"2-17: invalid type 'unsigned signed' (a predicate must be separated from the function by a space)"}},
		{"f(int struct)", []string{"6-12: 'struct' cannot be a parameter name (a predicate must be separated from the function by a space)"}},
		{"f(, int x)", []string{"2-3: expected type name, found ',' (a predicate must be separated from the function by a space)"}},
		// Predicates.
		{"do_sys_open (arg1 > 0", []string{"12-21: unmatched '(' in predicate: missing ')'"}},
		{"do_sys_open ()", []string{"12-14: empty predicate"}},
		{"f (a b) \"x\"", []string{"5-6: expected ')' to close the predicate, found 'b'"}},
		{"f (a > ) \"%d\", b +", []string{
			"7-8: expected expression, found ')'",
			"18-18: expected expression, found end of input",
		}},
		{"f (int)retval < 0", []string{"2-7: '(int)' is a cast, not a predicate; wrap the whole predicate in parentheses, as in ((int)retval < 0)"}},
		{"f (a) (b)", []string{"6-7: expected a format string in double quotes after the predicate, found '('"}},
		// Actions.
		{`do_sys_open "%s`, []string{"12-15: unterminated string literal"}},
		{`do_sys_open %s`, []string{"12-13: expected a format string in double quotes, found '%'"}},
		{`do_sys_open arg1`, []string{"12-16: expected a format string in double quotes, found 'arg1'"}},
		{`f "%d" arg1`, []string{"7-11: expected ',' or end of probe after the format string, found 'arg1'"}},
		{`f "%d", arg1,`, []string{"13-13: expected expression, found end of input"}},
		{`f "%d", arg1 arg2`, []string{"13-17: expected ',' or end of input, found 'arg2'"}},
		{`f "%d", a), b`, []string{"9-10: expected ',' or end of input, found ')'"}},
		{`f "%d", (a, b`, []string{"10-11: expected ')', found ','"}},
		{`f "\q"`, []string{`3-5: unknown escape sequence '\q'`}},
		// Errors in several arguments are all reported.
		{`f "%d %d %d", 09, ok, a = 1, (foo)x`, []string{
			"14-16: invalid character '9' in octal literal '09'",
			"24-25: assignment is not allowed; use '==' to compare",
			"29-34: '(foo)' is not a known type, so this is not a cast; write '(foo *)' or 'struct foo', or use a name ending in _t",
		}},
		{"x:c:malloc+0xzz (arg1 > ) \"%s", []string{
			"0-1: probe type must be '', 'p', 'r', 't', or 'u', but got 'x'",
			"11-15: invalid offset '0xzz': must be decimal or hexadecimal",
			"24-25: expected expression, found ')'",
			"26-29: unterminated string literal",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.have, func(t *testing.T) {
			pr, err := ParseTrace(tt.have)
			if err == nil {
				t.Fatalf("ParseTrace(%q) = %s, want error", tt.have, pr)
			}
			if pr != nil {
				t.Error("probe not nil on error")
			}
			if !errors.Is(err, ErrSyntax) {
				t.Error("error does not wrap ErrSyntax")
			}
			if g := errStrings(err); !slices.Equal(g, tt.want) {
				t.Errorf("errors\n got  %q\n want %q", g, tt.want)
			}
		})
	}
}

func TestParseTraceList(t *testing.T) {
	probes, err := ParseTraceList([]string{"do_sys_open", `r::vfs_read "%d", retval`})
	if err != nil || len(probes) != 2 || probes[1].Kind != Return {
		t.Fatalf("ParseTraceList = %v, %v", probes, err)
	}
	probes, err = ParseTraceList([]string{"ok", "x:y:z", "a+zz"})
	if probes != nil || err == nil {
		t.Fatalf("ParseTraceList = %v, %v; want nil and an error", probes, err)
	}
	var se *SpecError
	if !errors.As(err, &se) || se.Index != 1 || se.Spec != "x:y:z" {
		t.Errorf("first SpecError = %+v", se)
	}
	if !errors.Is(err, ErrSyntax) {
		t.Error("list error does not wrap ErrSyntax")
	}
	want := "probe 2 'x:y:z': col 1: probe type must be '', 'p', 'r', 't', or 'u', but got 'x'; " +
		"probe 3 'a+zz': col 3: invalid offset 'zz': must be decimal or hexadecimal"
	if err.Error() != want {
		t.Errorf("Error() =\n %q\nwant\n %q", err.Error(), want)
	}
	if probes, err := ParseTraceList(nil); err != nil || len(probes) != 0 {
		t.Errorf("ParseTraceList(nil) = %v, %v", probes, err)
	}
}

func TestProbeKindString(t *testing.T) {
	for k, want := range map[ProbeKind]string{Entry: "p", Return: "r", TracepointProbe: "t", USDTProbe: "u", 7: "ProbeKind(7)"} {
		if k.String() != want {
			t.Errorf("String() = %q, want %q", k.String(), want)
		}
	}
}
