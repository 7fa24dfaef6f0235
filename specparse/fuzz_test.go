package specparse

import (
	"errors"
	"strings"
	"testing"
)

// checkErr checks the error contract shared by all parsers: an ErrorList
// whose positions lie inside the input, and a renderable Caret.
func checkErr(t *testing.T, src string, err error) {
	t.Helper()
	var list ErrorList
	if !errors.As(err, &list) || len(list) == 0 {
		t.Fatalf("error %v (%T) is not a non-empty ErrorList", err, err)
	}
	for _, e := range list {
		if e.Pos < 0 || e.Pos > e.End || e.End > Pos(len(src)) {
			t.Errorf("error %q has span %d-%d outside 0-%d", e.Msg, e.Pos, e.End, len(src))
		}
		if e.Msg == "" {
			t.Error("empty error message")
		}
	}
	if Caret(src, err) == "" {
		t.Error("empty Caret rendering")
	}
}

func FuzzParseTrace(f *testing.F) {
	for _, tt := range traceTests {
		f.Add(tt.have)
	}
	for _, s := range []string{
		`x:c:malloc+0xzz (arg1 > ) "%s`, `f "%d", (foo)x`, `f (int)retval < 0`, "t:a:b(int x)",
		`f "%d", a ? b : c ? (int)d->e[1]@user : -~!*&x`, `f "\x41\101\n", 'a', '\''`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		pr, err := ParseTrace(s)
		if err != nil {
			if pr != nil {
				t.Fatal("non-nil probe with error")
			}
			checkErr(t, s, err)
			return
		}
		str := pr.String()
		again, err := ParseTrace(str)
		if err != nil {
			t.Fatalf("String() %q of %q does not parse: %v", str, s, err)
		}
		if again.String() != str {
			t.Fatalf("round trip: %q -> %q -> %q", s, str, again.String())
		}
		checkProbeSpans(t, s, pr)
		if pr.Format != nil {
			pr.Format.Verbs()
		}
	})
}

func FuzzParsePattern(f *testing.F) {
	for _, s := range []string{
		"vfs_read", "vfs_*", "c:malloc", "/usr/bin/bash:readline", ":f", "p::f", "p:c:malloc",
		"t:sched:sched_switch", "t:syscalls:sys_enter_*", "u:/bin/x:probe", "x:c:malloc", "a:b:c:d",
		"t::", "u::p", "a[b", "[!a-c]?*", `a\*`, "vfs_(read|write)$",
	} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, s string, regex bool) {
		for _, parse := range []func(string, bool) (*Pattern, error){ParsePattern, ParseLatencyPattern} {
			p, err := parse(s, regex)
			if err != nil {
				if p != nil {
					t.Fatal("non-nil pattern with error")
				}
				checkErr(t, s, err)
				continue
			}
			m, err := p.Matcher()
			if err != nil {
				t.Fatalf("Matcher() of accepted pattern %q: %v", s, err)
			}
			m.Match(p.Func)
			m.MatchEvent(p.Target, p.Func)
			if p.IsLiteral() && p.Kind != Tracepoint && !m.Match(p.Func) {
				t.Errorf("literal pattern %q does not match its own name", s)
			}
			str := p.String()
			again, err := ParsePattern(str, regex)
			if err != nil {
				t.Fatalf("String() %q of %q does not parse: %v", str, s, err)
			}
			if again.String() != str || again.Kind != p.Kind || again.Target != p.Target || again.Func != p.Func {
				t.Fatalf("round trip: %q -> %q -> %+v", s, str, again)
			}
		}
	})
}

func FuzzParseArgdist(f *testing.F) {
	for _, tt := range argdistTests {
		f.Add(tt.have)
	}
	f.Add("p::f(int x):u64,u32:x")
	for _, s := range []string{"s::faults(0)", "s::cs(-1)", "s:software:cpu(x)", "s:hw:cycles()", "s::cpu(9999)", "s::faults(99999999999999999999)", "s::task-clock( 10000 )"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		pr, err := ParseArgdist(s)
		if err != nil {
			if pr != nil {
				t.Fatal("non-nil probe with error")
			}
			checkErr(t, s, err)
			return
		}
		str := pr.String()
		again, err := ParseArgdist(str)
		if err != nil {
			t.Fatalf("String() %q of %q does not parse: %v", str, s, err)
		}
		if again.String() != str {
			t.Fatalf("round trip: %q -> %q -> %q", s, str, again.String())
		}
		if pr.Kind == SoftwareEventProbe {
			ev, ok := LookupSoftwareEvent(pr.Func)
			period := pr.EventPeriod()
			if !ok || period == 0 || period > MaxPeriod || ev.Clock && period < MinClockPeriod || again.Period != pr.Period {
				t.Fatalf("software event %q accepted with event %v/%v and period %d (again %d)", s, ev, ok, period, again.Period)
			}
		}
		for _, e := range append(pr.Exprs, pr.Filter) {
			if e != nil {
				checkSpans(t, s, e)
			}
		}
	})
}

func FuzzParseFormat(f *testing.F) {
	for _, s := range []string{"", "read %d bytes", "%-10s|%5d|%08x", "100%%", "%q", "%lld%hu%K%U%p"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		vs, err := ParseFormat(s)
		if err != nil {
			if vs != nil {
				t.Fatal("non-nil verbs with error")
			}
			checkErr(t, s, err)
			return
		}
		var b strings.Builder
		end := Pos(0)
		for _, v := range vs {
			if v.Pos != end || v.End <= v.Pos || s[v.Pos:v.End] != v.Text {
				t.Fatalf("verb %+v does not continue at %d", v, end)
			}
			end = v.End
			b.WriteString(v.Text)
		}
		if b.String() != s {
			t.Fatalf("verbs join to %q, want %q", b.String(), s)
		}
	})
}
