package specparse

import (
	"reflect"
	"slices"
	"testing"
)

func TestParsePattern(t *testing.T) {
	tests := []struct {
		have  string
		regex bool
		want  Pattern // Raw and Regex are filled in from have/regex
		str   string
	}{
		{have: "vfs_read", want: Pattern{Kind: KernelFunc, Func: "vfs_read"}, str: "p::vfs_read"},
		{have: "vfs_*", want: Pattern{Kind: KernelFunc, Func: "vfs_*"}, str: "p::vfs_*"},
		{have: "c:malloc", want: Pattern{Kind: UserFunc, Target: "c", Func: "malloc", FuncPos: 2}, str: "p:c:malloc"},
		{have: "/usr/bin/bash:readline", want: Pattern{Kind: UserFunc, Target: "/usr/bin/bash", Func: "readline", FuncPos: 14}, str: "p:/usr/bin/bash:readline"},
		{have: ":vfs_read", want: Pattern{Kind: KernelFunc, Func: "vfs_read", FuncPos: 1}, str: "p::vfs_read"},
		{have: "p::vfs_read", want: Pattern{Kind: KernelFunc, TargetPos: 2, Func: "vfs_read", FuncPos: 3}, str: "p::vfs_read"},
		{have: "::vfs_read", want: Pattern{Kind: KernelFunc, TargetPos: 1, Func: "vfs_read", FuncPos: 2}, str: "p::vfs_read"},
		{have: ":c:malloc", want: Pattern{Kind: UserFunc, Target: "c", TargetPos: 1, Func: "malloc", FuncPos: 3}, str: "p:c:malloc"},
		{have: "p:c:malloc", want: Pattern{Kind: UserFunc, Target: "c", TargetPos: 2, Func: "malloc", FuncPos: 4}, str: "p:c:malloc"},
		{have: "t:sched:sched_switch", want: Pattern{Kind: Tracepoint, Target: "sched", TargetPos: 2, Func: "sched_switch", FuncPos: 8}, str: "t:sched:sched_switch"},
		{have: "t:syscalls:sys_enter_*", want: Pattern{Kind: Tracepoint, Target: "syscalls", TargetPos: 2, Func: "sys_enter_*", FuncPos: 11}, str: "t:syscalls:sys_enter_*"},
		{have: "u:/bin/x:probe", want: Pattern{Kind: USDT, Target: "/bin/x", TargetPos: 2, Func: "probe", FuncPos: 9}, str: "u:/bin/x:probe"},
		{have: "vfs_.*", regex: true, want: Pattern{Kind: KernelFunc, Func: "vfs_.*"}, str: "p::vfs_.*"},
		{have: "t:sched:sched_.*", regex: true, want: Pattern{Kind: Tracepoint, Target: "sched", TargetPos: 2, Func: "sched_.*", FuncPos: 8}, str: "t:sched:sched_.*"},
	}
	for _, tt := range tests {
		t.Run(tt.have, func(t *testing.T) {
			got, err := ParsePattern(tt.have, tt.regex)
			if err != nil {
				t.Fatalf("ParsePattern(%q) error: %v", tt.have, err)
			}
			want := tt.want
			want.Raw, want.Regex = tt.have, tt.regex
			if !reflect.DeepEqual(*got, want) {
				t.Errorf("ParsePattern(%q)\n got  %+v\n want %+v", tt.have, *got, want)
			}
			if s := got.String(); s != tt.str {
				t.Errorf("String() = %q, want %q", s, tt.str)
			}
			again, err := ParsePattern(got.String(), tt.regex)
			if err != nil || again.String() != got.String() || again.Kind != got.Kind {
				t.Errorf("round trip of %q: %v, %v", got.String(), again, err)
			}
		})
	}
}

func TestParsePatternErrors(t *testing.T) {
	tests := []struct {
		have  string
		regex bool
		want  []string
	}{
		{"", false, []string{"0-0: empty pattern"}},
		{"vfs_read ", false, []string{`8-9: invalid character " " in pattern`}},
		{"c:a\tb", true, []string{`3-4: invalid character "\t" in pattern`}},
		{"x:c:malloc", false, []string{"0-1: type must be 'p', 't', or 'u', but got 'x'"}},
		{"r::vfs_read", false, []string{"0-1: type must be 'p', 't', or 'u', but got 'r'"}},
		{"a:b:c:d", false, []string{`5-7: too many ':'-separated components in pattern "a:b:c:d"`}},
		{"t::", false, []string{"2-2: tracepoint pattern needs a category and an event: t:category:event"}},
		{"t:sched:", false, []string{"8-8: tracepoint pattern needs a category and an event: t:category:event"}},
		{"t::ev", false, []string{"2-2: tracepoint pattern needs a category and an event: t:category:event"}},
		{"c:", false, []string{"2-2: empty function name in pattern"}},
		{"p::", false, []string{"3-3: empty function name in pattern"}},
		{"u::probe", false, []string{"2-2: USDT pattern needs a library or binary: u:lib:probe"}},
		{"u:lib:", false, []string{"6-6: empty probe name in USDT pattern"}},
		{"vfs_(", true, []string{`0-5: invalid regular expression "vfs_(": missing closing )`}},
		{"c:a[z-a]", false, []string{"2-8: invalid glob \"a[z-a]\": invalid character class range `z-a`"}},
		{"t:a[z-a]:b", false, []string{"2-8: invalid glob \"a[z-a]\": invalid character class range `z-a`"}},
		{"t:a:(", true, []string{`2-5: invalid regular expression "a:(": missing closing )`}},
	}
	for _, tt := range tests {
		t.Run(tt.have, func(t *testing.T) {
			got, err := ParsePattern(tt.have, tt.regex)
			if err == nil {
				t.Fatalf("ParsePattern(%q) = %+v, want error", tt.have, got)
			}
			if got != nil {
				t.Errorf("result not nil on error")
			}
			if g := errStrings(err); !slices.Equal(g, tt.want) {
				t.Errorf("errors\n got  %q\n want %q", g, tt.want)
			}
		})
	}
}

func TestParseLatencyPattern(t *testing.T) {
	tests := []struct {
		have string
		want Pattern
		err  []string
	}{
		{have: "do_nanosleep", want: Pattern{Kind: KernelFunc, Func: "do_nanosleep"}},
		{have: "c:read", want: Pattern{Kind: UserFunc, Target: "c", Func: "read", FuncPos: 2}},
		{have: ":vfs_*", want: Pattern{Kind: KernelFunc, Func: "vfs_*", FuncPos: 1}},
		{have: "p::vfs_read", err: []string{"0-11: unrecognized pattern format 'p::vfs_read': want func or lib:func"}},
		{have: "a:b:c", err: []string{"0-5: unrecognized pattern format 'a:b:c': want func or lib:func"}},
		{have: "", err: []string{"0-0: empty pattern"}},
		{have: "c:", err: []string{"2-2: empty function name in pattern"}},
	}
	for _, tt := range tests {
		t.Run(tt.have, func(t *testing.T) {
			got, err := ParseLatencyPattern(tt.have, false)
			if tt.err != nil {
				if g := errStrings(err); !slices.Equal(g, tt.err) {
					t.Errorf("errors\n got  %q\n want %q", g, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := tt.want
			want.Raw = tt.have
			if !reflect.DeepEqual(*got, want) {
				t.Errorf("got  %+v\nwant %+v", *got, want)
			}
		})
	}
}

func TestMatcher(t *testing.T) {
	tests := []struct {
		pattern string
		regex   bool
		match   []string
		nomatch []string
		literal bool
	}{
		{"vfs_read", false, []string{"vfs_read"}, []string{"vfs_readv", "xvfs_read", "vfs_rea"}, true},
		{"vfs_*", false, []string{"vfs_read", "vfs_"}, []string{"vfs", "x_vfs_read"}, false},
		{"*_read", false, []string{"vfs_read", "_read"}, []string{"vfs_reader"}, false},
		// Regex metacharacters are literal in globs (bcc treats them as regex).
		{"vfs_r.ad", false, []string{"vfs_r.ad"}, []string{"vfs_read"}, true},
		{"tcp_v4_*", false, []string{"tcp_v4_connect"}, []string{"tcp_v6_connect"}, false},
		{"a+b", false, []string{"a+b"}, []string{"aab"}, true},
		{"vfs_?ead", false, []string{"vfs_read"}, []string{"vfs_rread"}, false},
		{"vfs_[rw]*", false, []string{"vfs_read", "vfs_write"}, []string{"vfs_open"}, false},
		{"vfs_[!r]*", false, []string{"vfs_write"}, []string{"vfs_read"}, false},
		{"a[b", false, []string{"a[b"}, []string{"ab"}, false},
		{`a\*`, false, []string{"a*"}, []string{"ab"}, false},
		// Regexes are anchored at the start only, like re.match.
		{"vfs_r", true, []string{"vfs_read", "vfs_r"}, []string{"xvfs_read"}, false},
		{"vfs_(read|write)$", true, []string{"vfs_read", "vfs_write"}, []string{"vfs_readv"}, false},
		{"a|b", true, []string{"abc", "bcd"}, []string{"cab"}, false},
		// Tracepoints: globs match category and event separately; a regex
		// matches "category:event".
		{"t:sched:sched_*", false, []string{"sched:sched_switch"}, []string{"sched:foo", "xsched:sched_switch"}, false},
		{"t:*:sys_enter_read", false, []string{"syscalls:sys_enter_read"}, []string{"syscalls:sys_enter_readv"}, false},
		{"t:sched:sched_s", true, []string{"sched:sched_switch"}, []string{"sched:sched_wakeup"}, false},
		{"t:sched:switch", true, nil, []string{"sched:sched_switch"}, false},
		{"u:lib:probe*", false, []string{"probe1"}, []string{"xprobe"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.pattern, func(t *testing.T) {
			p, err := ParsePattern(tt.pattern, tt.regex)
			if err != nil {
				t.Fatal(err)
			}
			if p.IsLiteral() != tt.literal {
				t.Errorf("IsLiteral() = %v, want %v", p.IsLiteral(), tt.literal)
			}
			m, err := p.Matcher()
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range tt.match {
				if !m.Match(s) {
					t.Errorf("Match(%q) = false", s)
				}
			}
			for _, s := range tt.nomatch {
				if m.Match(s) {
					t.Errorf("Match(%q) = true", s)
				}
			}
		})
	}
}

func TestMatchEvent(t *testing.T) {
	p, err := ParsePattern("t:sched:sched_*", false)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := p.Matcher()
	if !m.MatchEvent("sched", "sched_switch") || m.MatchEvent("block", "sched_switch") {
		t.Error("glob MatchEvent wrong")
	}
	p, _ = ParsePattern("t:(sched|block):", true)
	if p != nil {
		t.Fatal("empty event accepted with regex")
	}
	p, err = ParsePattern("t:sched|block:.*", true)
	if err != nil {
		t.Fatal(err)
	}
	m, _ = p.Matcher()
	if !m.MatchEvent("block", "block_rq_issue") {
		t.Error("regex MatchEvent: (sched|block:.*) should match block:block_rq_issue")
	}
}

func TestGlob(t *testing.T) {
	tests := []struct{ glob, re string }{
		{"vfs_*", `^(?s:vfs_.*)$`},
		{"a.b", `^(?s:a\.b)$`},
		{"a?", `^(?s:a.)$`},
		{"[a-c]x", `^(?s:[a-c]x)$`},
		{"[!.]", `^(?s:[^\.])$`},
		{"[]]", `^(?s:[\]])$`},
		{"[a-]", `^(?s:[a\-])$`},
		{"x[", `^(?s:x\[)$`},
		{`\?`, `^(?s:\?)$`},
		{`\`, `^(?s:\\)$`},
		{"[d]", `^(?s:[d])$`},
	}
	for _, tt := range tests {
		re, err := Glob(tt.glob)
		if err != nil {
			t.Errorf("Glob(%q): %v", tt.glob, err)
			continue
		}
		if re.String() != tt.re {
			t.Errorf("Glob(%q) = %s, want %s", tt.glob, re, tt.re)
		}
	}
	if _, err := Glob("[z-a]"); err == nil {
		t.Error("Glob([z-a]) succeeded")
	}
}

func TestPatternKindString(t *testing.T) {
	for k, want := range map[PatternKind]string{KernelFunc: "kernel function", UserFunc: "user function", Tracepoint: "tracepoint", USDT: "USDT probe", 9: "PatternKind(9)"} {
		if k.String() != want {
			t.Errorf("%d.String() = %q, want %q", int(k), k.String(), want)
		}
	}
}
