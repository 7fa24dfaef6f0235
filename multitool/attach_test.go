package multitool

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/btool/btool/bpf"
	"github.com/btool/btool/bpf/compile"
)

// TestReportSkipped: skipped targets are reported on stderr without -v,
// with the count, the total and the first reasons.
func TestReportSkipped(t *testing.T) {
	var errb bytes.Buffer
	env := Env{Err: &errb}
	a := &bpf.Attached{ByMode: []bpf.ModeTargets{{Mode: compile.ModeKprobe, Targets: make([]compile.Target, 5)}}}
	for i := 0; i < 4; i++ {
		a.Skipped = append(a.Skipped, bpf.SkippedTarget{Target: compile.Target{Name: fmt.Sprintf("f%d", i)}, Err: errors.New("EINVAL")})
	}
	reportSkipped(env, []*bpf.Attached{a})
	got := errb.String()
	for _, want := range []string{"4 of 9 targets", "f0: EINVAL", "f2: EINVAL", "and 1 more"} {
		if !strings.Contains(got, want) {
			t.Errorf("report %q lacks %q", got, want)
		}
	}
	if strings.Count(got, "\n") != 1 {
		t.Errorf("want one line without -v, got:\n%s", got)
	}
	errb.Reset()
	reportSkipped(env, []*bpf.Attached{{ByMode: a.ByMode}})
	if errb.Len() != 0 {
		t.Errorf("nothing skipped, but reported %q", errb.String())
	}
}

func TestAggregator(t *testing.T) {
	a := &aggregator{counts: map[string]int{}}
	for _, s := range []string{"b\n", "a\n", "a\n", "c\n", "a\n", "c\n"} {
		a.add(s)
	}
	var b bytes.Buffer
	a.print(&b)
	want := "a-->COUNT 3\n\nc-->COUNT 2\n\nb-->COUNT 1\n\n"
	if b.String() != want {
		t.Errorf("got %q, want %q", b.String(), want)
	}
}
