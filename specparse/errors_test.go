package specparse

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "update golden files in testdata")

// errStrings renders every *Error in err as "pos-end: msg" for comparison.
func errStrings(err error) []string {
	var list ErrorList
	if !errors.As(err, &list) {
		return []string{"not an ErrorList: " + fmt.Sprint(err)}
	}
	out := make([]string, len(list))
	for i, e := range list {
		out[i] = fmt.Sprintf("%d-%d: %s", e.Pos, e.End, e.Msg)
	}
	return out
}

func TestErrorList(t *testing.T) {
	var l ErrorList
	if l.Err() != nil {
		t.Fatal("empty list: Err() != nil")
	}
	l.Add(7, 9, "second")
	l.Add(2, 1, "first") // End < Pos is clamped
	l.Sort()
	if l[0].Msg != "first" || l[0].End != 2 {
		t.Errorf("after Sort: %v", l)
	}
	err := l.Err()
	if got, want := err.Error(), "col 3: first; col 8: second"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if !errors.Is(err, ErrSyntax) {
		t.Error("errors.Is(err, ErrSyntax) = false")
	}
	var e *Error
	if !errors.As(err, &e) || e.Msg != "first" {
		t.Errorf("errors.As *Error = %v", e)
	}
	wrapped := fmt.Errorf("probe: %w", err)
	var l2 ErrorList
	if !errors.As(wrapped, &l2) || len(l2) != 2 {
		t.Errorf("errors.As ErrorList through wrapping = %v", l2)
	}
}

func TestCaretGolden(t *testing.T) {
	type tc struct {
		name string
		spec string
		err  error
	}
	var cases []tc
	for _, s := range []string{
		`x:c:malloc+0xzz (arg1 > ) "%s`,
		`do_sys_open (arg1 > 0`,
		`do_sys_open "%s`,
		`do_sys_open %s`,
		`t:sched:sched_switch(int x)`,
		`f (int)retval < 0`,
		"f\t(arg1 ==) \"tab\"",
		`f "é%d", é`,
		"f \"a\nb\"",
		`f "%d", (foo)x`,
	} {
		_, err := ParseTrace(s)
		cases = append(cases, tc{"trace " + s, s, err})
	}
	for _, s := range []string{"x:c:malloc", "a:b:c:d", "t::", "p::a(b"} {
		_, err := ParsePattern(s, true)
		cases = append(cases, tc{"pattern " + s, s, err})
	}
	_, errList := ParseTraceList([]string{"ok", "bad+0xzz", "t:a:b(int x)"})
	cases = append(cases,
		tc{"list", "", errList},
		tc{"plain error", "spec", errors.New("no positions here")},
		tc{"nil", "spec", nil},
		tc{"wrapped", "abcdef", fmt.Errorf("ctx: %w", &Error{Pos: 2, End: 4, Msg: "wrapped"})},
		tc{"out of range", "abc", &Error{Pos: 10, End: 20, Msg: "past the end"}},
	)
	var b strings.Builder
	for _, c := range cases {
		fmt.Fprintf(&b, "=== %s\n%s", c.name, Caret(c.spec, c.err))
	}
	golden := filepath.Join("testdata", "caret.golden")
	if *update {
		if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got := b.String(); got != string(want) {
		t.Errorf("Caret output differs from %s (run go test -update and review the diff):\n%s", golden, got)
	}
}

func TestCaretExact(t *testing.T) {
	got := Caret("do_sys_open+0xzz", &Error{Pos: 12, End: 16, Msg: "invalid offset '0xzz': must be decimal or hexadecimal"})
	want := "error: invalid offset '0xzz': must be decimal or hexadecimal\n" +
		"  do_sys_open+0xzz\n" +
		"              ^~~~\n"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}
