package specparse

import (
	"slices"
	"testing"
)

var argdistTests = []struct {
	have string
	want string
	str  string
}{
	{"p::__kmalloc(size_t size):size_t:size", `kind=p lib="" func="__kmalloc" params=([size_t]size) types=[size_t] expr=size`, "p::__kmalloc(size_t size):size_t:size"},
	{"p:c:malloc(size_t size):size_t:size:size==16", `kind=p lib="c" func="malloc" params=([size_t]size) types=[size_t] expr=size filter=(== size 16)`, "p:c:malloc(size_t size):size_t:size:size == 16"},
	{"r::__vfs_read():u32:$PID:$latency > 100000", `kind=r lib="" func="__vfs_read" params=() types=[u32] expr=$PID filter=(> $latency 100000)`, "r::__vfs_read():u32:$PID:$latency > 100000"},
	{"r::__kmalloc(size_t size):u64:$latency/$entry(size)#time per byte",
		`kind=r lib="" func="__kmalloc" params=([size_t]size) types=[u64] expr=(/ $latency (call $entry size)) label="time per byte"`,
		"r::__kmalloc(size_t size):u64:$latency / $entry(size)#time per byte"},
	{"p:c:write(int fd, const void *buf, size_t count):int,size_t:fd,count",
		`kind=p lib="c" func="write" params=([int]fd, [const void *]buf, [size_t]count) types=[int],[size_t] expr=fd expr=count`,
		"p:c:write(int fd, const void *buf, size_t count):int,size_t:fd,count"},
	{"t:block:block_rq_complete():u32:args->nr_sector", `kind=t lib="block" func="block_rq_complete" params=() types=[u32] expr=(-> args nr_sector)`, "t:block:block_rq_complete():u32:args->nr_sector"},
	{"u:pthread:pthread_start():u64:arg2", `kind=u lib="pthread" func="pthread_start" params=() types=[u64] expr=arg2`, "u:pthread:pthread_start():u64:arg2"},
	{"u:/bin/node:node:gc__start():u32:arg1", `kind=u lib="/bin/node" provider="node" func="gc__start" params=() types=[u32] expr=arg1`, "u:/bin/node:node:gc__start():u32:arg1"},
	{"p:c:fork()", `kind=p lib="c" func="fork" params=()`, "p:c:fork()"},
	{"r:c:read()", `kind=r lib="c" func="read" params=()`, "r:c:read()"},
	{"p::f()#label only", `kind=p lib="" func="f" params=() label="label only"`, "p::f()#label only"},
	{"p:c:puts(char *str):char*:str", `kind=p lib="c" func="puts" params=([char *]str) types=[char *] expr=str`, "p:c:puts(char *str):char *:str"},
	{"p::f(int a):unsigned long long,char *:a,b", `kind=p lib="" func="f" params=([int]a) types=[unsigned long long],[char *] expr=a expr=b`, "p::f(int a):unsigned long long,char *:a,b"},
	// btool is more tolerant than bcc: ?: and calls with commas work.
	{"p::f(int a):int:a > 0 ? 1 : 0:a != 3", `kind=p lib="" func="f" params=([int]a) types=[int] expr=(? (> a 0) 1 0) filter=(!= a 3)`, "p::f(int a):int:a > 0 ? 1 : 0:a != 3"},
	{`p::f(char *s):int:STRCMP("a:b,c#", s):STRCMP("x", s)#l#2`, `kind=p lib="" func="f" params=([char *]s) types=[int] expr=(call STRCMP "a:b,c#" s) filter=(call STRCMP "x" s) label="l#2"`, `p::f(char *s):int:STRCMP("a:b,c#", s):STRCMP("x", s)#l#2`},
	// Types may be left out: an empty types part infers every one, "_" one.
	{"p::vfs_read()::count", `kind=p lib="" func="vfs_read" params=() types=[_] expr=count`, "p::vfs_read()::count"},
	{"t:syscalls:sys_enter_openat()::args->filename,$PID:$COMM == \"cat\"", `kind=t lib="syscalls" func="sys_enter_openat" params=() types=[_],[_] expr=(-> args filename) expr=$PID filter=(== $COMM "cat")`, `t:syscalls:sys_enter_openat()::args->filename,$PID:$COMM == "cat"`},
	{"p::f(int a):_,char*:a,b", `kind=p lib="" func="f" params=([int]a) types=[_],[char *] expr=a expr=b`, "p::f(int a):_,char *:a,b"},
	{"p::f(int a):_,_:a,b", `kind=p lib="" func="f" params=([int]a) types=[_],[_] expr=a expr=b`, "p::f(int a)::a,b"},
	{"p::f(int a):int:a#", `kind=p lib="" func="f" params=([int]a) types=[int] expr=a`, "p::f(int a):int:a"},
	// Software events: the parentheses hold an optional sample period.
	{"s:software:page-faults()", `kind=s lib="software" func="page-faults" params=()`, "s:software:page-faults()"},
	{"s::faults(100):u32:$pid", `kind=s lib="" func="faults" params=() period=100 types=[u32] expr=$pid`, "s::faults(100):u32:$pid"},
	{"s:software:cs( 7 ):char*:$comm:$pid != 1#switches", `kind=s lib="software" func="cs" params=() period=7 types=[char *] expr=$comm filter=(!= $pid 1) label="switches"`,
		"s:software:cs(7):char *:$comm:$pid != 1#switches"},
	{"s::cpu-clock(10000)", `kind=s lib="" func="cpu-clock" params=() period=10000`, "s::cpu-clock(10000)"},
	{"s::task-clock(9223372036854775807)", `kind=s lib="" func="task-clock" params=() period=9223372036854775807`, "s::task-clock(9223372036854775807)"},
	{"s::dummy()", `kind=s lib="" func="dummy" params=()`, "s::dummy()"},
}

func TestParseArgdist(t *testing.T) {
	for _, tt := range argdistTests {
		t.Run(tt.have, func(t *testing.T) {
			pr, err := ParseArgdist(tt.have)
			if err != nil {
				t.Fatalf("ParseArgdist(%q): %v\n%s", tt.have, err, Caret(tt.have, err))
			}
			if got := dumpArgdist(pr); got != tt.want {
				t.Errorf("dump\n got  %s\n want %s", got, tt.want)
			}
			if got := pr.String(); got != tt.str {
				t.Errorf("String() = %q, want %q", got, tt.str)
			}
			again, err := ParseArgdist(pr.String())
			if err != nil {
				t.Fatalf("re-parse of %q: %v", pr.String(), err)
			}
			if dumpArgdist(again) != dumpArgdist(pr) {
				t.Errorf("round trip changed the probe:\n %s\n %s", dumpArgdist(pr), dumpArgdist(again))
			}
			if pr.Pos != 0 || pr.End != Pos(len(tt.have)) {
				t.Errorf("span %d-%d, want 0-%d", pr.Pos, pr.End, len(tt.have))
			}
			for _, e := range append(pr.Exprs, pr.Filter) {
				if e != nil {
					checkSpans(t, tt.have, e)
				}
			}
		})
	}
}

func TestArgdistPositions(t *testing.T) {
	src := "p:c:malloc(size_t n):u64:n#big"
	pr, err := ParseArgdist(src)
	if err != nil {
		t.Fatal(err)
	}
	if pr.LibraryPos != 2 || pr.FuncPos != 4 || pr.LabelPos != 26 || pr.Types[0].Pos != 21 || pr.Types[0].End != 24 || pr.Exprs[0].Pos() != 25 {
		t.Errorf("positions: lib %d func %d label %d type %d-%d expr %d",
			pr.LibraryPos, pr.FuncPos, pr.LabelPos, pr.Types[0].Pos, pr.Types[0].End, pr.Exprs[0].Pos())
	}
}

func TestParseArgdistErrors(t *testing.T) {
	tests := []struct {
		have string
		want []string
	}{
		{"", []string{"0-0: empty specifier"}},
		{"p::f", []string{"4-4: expected '(' and a signature after the function name, as in p::vfs_read(size_t count) or t:sched:sched_switch()"}},
		{"f()", []string{"0-1: expected probe type, library and function, as in p::vfs_read(size_t count) or p:c:malloc(size_t size)"}},
		{"c:f()", []string{"0-3: expected probe type, library and function, as in p::vfs_read(size_t count) or p:c:malloc(size_t size)"}},
		{"x:c:f()", []string{"0-1: probe type must be 'p', 'r', 't', 'u', or 's', but got 'x'"}},
		{":c:f()", []string{"0-0: probe type must be 'p', 'r', 't', 'u', or 's', but got ''"}},
		{"p:a:b:f()", []string{"5-7: too many ':'-separated parts before the signature"}},
		{"p::f+1()", []string{`4-5: invalid character "+" in function name`}},
		{"p::()", []string{"3-3: missing function name"}},
		{"t:sched:sched_switch(int x)", []string{"20-27: tracepoint and USDT probes take no signature; use args->field (tracepoints) or arg1..argN (USDT)"}},
		{"p::f(int x", []string{"4-10: unmatched '(' in signature: missing ')'"}},
		{"p::f(int x):u64", []string{"15-15: expected ':' and expressions after the types, found end of input"}},
		{"p::f(int x):u64:", []string{"16-16: expected expression, found end of input"}},
		{"p::f(int x):,u64:x", []string{"12-13: expected type name, found ','"}},
		{"p::f(int x)::", []string{"13-13: expected expression, found end of input"}},
		{"p::f(int x):_:x,y", []string{"11-17: 1 types but 2 expressions: each expression needs a type"}},
		{"p::f(int x):u64,u32:x", []string{"11-21: 2 types but 1 expressions: each expression needs a type"}},
		{"p::f(int x):u64:x,y", []string{"11-19: 1 types but 2 expressions: each expression needs a type"}},
		{"p::f(int x):u64:x:x>1:extra", []string{"21-22: expected '#label' or end of specifier after the filter, found ':'"}},
		{"p::f(int x) junk", []string{"12-16: unexpected 'junk': expected ':types:exprs[:filter]', '#label' or end of specifier"}},
		{"p::f(int x):u64:x y", []string{"18-19: expected ',', ':', '#' or end of input, found 'y'"}},
		{"p::f(int x):u64:a = 1", []string{"18-19: assignment is not allowed; use '==' to compare"}},
		{`p::f(int x):u64:"abc`, []string{"16-20: unterminated string literal"}},
		{"s:software:pagefaults()", []string{"11-21: unknown software event 'pagefaults': valid names are " + swNames}},
		{"s::()", []string{"3-3: missing software event name: one of " + swNames}},
		{"s:hardware:cycles()", []string{
			"2-10: software event category must be 'software' or empty, as in s:software:page-faults() or s::cs(), but got 'hardware'",
			"11-17: unknown software event 'cycles': valid names are " + swNames}},
		{"s:software:page-faults(0)", []string{"23-24: sample period must be at least 1, not 0"}},
		{"s:software:page-faults(-5)", []string{"23-25: sample period must be a positive decimal number of events (nanoseconds for cpu-clock and task-clock), not '-5'"}},
		{"s:software:page-faults(ten)", []string{"23-26: sample period must be a positive decimal number of events (nanoseconds for cpu-clock and task-clock), not 'ten'"}},
		{"s:software:page-faults(0x10)", []string{"23-27: sample period must be a positive decimal number of events (nanoseconds for cpu-clock and task-clock), not '0x10'"}},
		{"s:software:page-faults(1.5)", []string{"23-26: sample period must be a positive decimal number of events (nanoseconds for cpu-clock and task-clock), not '1.5'"}},
		{"s::faults(9223372036854775808)", []string{"10-29: sample period 9223372036854775808 is too large: at most 9223372036854775807"}},
		{"s::faults(99999999999999999999999)", []string{"10-33: sample period 99999999999999999999999 is too large: at most 9223372036854775807"}},
		{"s::cpu(9999)", []string{"7-11: cpu-clock's period is in nanoseconds and the kernel's minimum is 10000, not 9999"}},
		{"s::faults(1", []string{"9-11: unmatched '(' in signature: missing ')'"}},
		{"s::faults", []string{"9-9: expected '(' and a signature after the function name, as in p::vfs_read(size_t count) or t:sched:sched_switch()"}},
		{"s:software:x:faults()", []string{"12-19: too many ':'-separated parts before the signature"}},
	}
	for _, tt := range tests {
		t.Run(tt.have, func(t *testing.T) {
			pr, err := ParseArgdist(tt.have)
			if err == nil {
				t.Fatalf("ParseArgdist(%q) = %s, want error", tt.have, pr)
			}
			if pr != nil {
				t.Error("probe not nil on error")
			}
			if g := errStrings(err); !slices.Equal(g, tt.want) {
				t.Errorf("errors\n got  %q\n want %q", g, tt.want)
			}
		})
	}
}

// swNames is the list of valid software events errors give.
const swNames = "alignment-faults, context-switches (cs), cpu-clock (cpu), cpu-migrations, dummy, emulation-faults, major-faults, minor-faults, page-faults (faults), task-clock"

func TestSoftwareEvents(t *testing.T) {
	tests := []struct {
		spec   string
		name   string
		clock  bool
		period uint64
	}{
		{"s::page-faults()", "page-faults", false, 1},
		{"s::faults(100)", "page-faults", false, 100},
		{"s:software:cs()", "context-switches", false, 1},
		{"s::context-switches(3)", "context-switches", false, 3},
		{"s::cpu()", "cpu-clock", true, 1000000},
		{"s::cpu-clock(20000)", "cpu-clock", true, 20000},
		{"s::task-clock()", "task-clock", true, 1000000},
		{"s::cpu-migrations()", "cpu-migrations", false, 1},
		{"s::minor-faults()", "minor-faults", false, 1},
		{"s::major-faults()", "major-faults", false, 1},
		{"s::alignment-faults()", "alignment-faults", false, 1},
		{"s::emulation-faults()", "emulation-faults", false, 1},
		{"s::dummy()", "dummy", false, 1},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			pr, err := ParseArgdist(tt.spec)
			if err != nil {
				t.Fatalf("%v\n%s", err, Caret(tt.spec, err))
			}
			ev, ok := LookupSoftwareEvent(pr.Func)
			if !ok || ev.Name != tt.name || ev.Clock != tt.clock {
				t.Errorf("LookupSoftwareEvent(%q) = %+v, %v, want %s clock=%v", pr.Func, ev, ok, tt.name, tt.clock)
			}
			if got := pr.EventPeriod(); got != tt.period {
				t.Errorf("EventPeriod() = %d, want %d", got, tt.period)
			}
		})
	}
	if pr, _ := ParseArgdist("p::f()"); pr.EventPeriod() != 0 {
		t.Errorf("EventPeriod of a function probe = %d, want 0", pr.EventPeriod())
	}
	seen := map[string]bool{}
	for _, ev := range SoftwareEvents {
		for _, n := range []string{ev.Name, ev.Alias} {
			if n != "" && seen[n] {
				t.Errorf("name %q listed twice", n)
			}
			seen[n] = true
		}
		if ev.DefaultPeriod == 0 || ev.Clock && ev.DefaultPeriod < MinClockPeriod {
			t.Errorf("%s: bad default period %d", ev.Name, ev.DefaultPeriod)
		}
	}
}

// TestSoftwareEventCaret shows that a bad event or period is one caret
// block under the offending text.
func TestSoftwareEventCaret(t *testing.T) {
	for spec, want := range map[string]string{
		"s:software:pagefault()": "error: unknown software event 'pagefault': valid names are " + swNames + "\n  s:software:pagefault()\n             ^~~~~~~~~\n",
		"s::faults(0)":           "error: sample period must be at least 1, not 0\n  s::faults(0)\n            ^\n",
		"s::cs(-1)":              "error: sample period must be a positive decimal number of events (nanoseconds for cpu-clock and task-clock), not '-1'\n  s::cs(-1)\n        ^~\n",
		"s::cs(x)":               "error: sample period must be a positive decimal number of events (nanoseconds for cpu-clock and task-clock), not 'x'\n  s::cs(x)\n        ^\n",
	} {
		_, err := ParseArgdist(spec)
		if got := Caret(spec, err); got != want {
			t.Errorf("Caret(%q):\n got %q\nwant %q", spec, got, want)
		}
	}
}
