package compile

import (
	"fmt"
	"math/bits"
	"testing"

	"github.com/btool/btool/internal/testutil"
)

// TestKernelSinkMulti runs a log2 histogram, a sum, a minimum and a
// maximum of one value, keyed alike, in one program, and checks each map
// against the inputs.
func TestKernelSinkMulti(t *testing.T) {
	testutil.RequireRoot(t)
	pc := execArgs(true)
	vs := sinkValues(t, pc, ValueOptions{}, "n", "b")
	key := []KeyPart{{Kind: KeyValue, Value: vs[0]}}
	hist := &AggSink{Map: "hist", Agg: AggLog2, Value: vs[1], Key: key}
	sum := &AggSink{Map: "sum", Agg: AggSum, Value: vs[1], Key: key}
	lo := &AggSink{Map: "lo", Agg: AggMin, Value: vs[1], Key: key}
	hi := &AggSink{Map: "hi", Agg: AggMax, Value: vs[1], Key: key}
	m := sinkMaps{}
	prog := m.rawProg(t, &Build{Filters: NoFilters, Sink: Sinks{hist, sum, lo, hi}})
	inputs := map[uint64][]uint64{1: {5, 9, 1000}, 2: {0, 70000}}
	wantHist := map[string]uint64{}
	for n, bs := range inputs {
		for _, b := range bs {
			runProg(t, prog, 0, b, 0, 0, 0, 0, n)
			wantHist[fmt.Sprintf("%d|slot=%d", n, bits.Len64(b))]++
		}
	}
	wantCounts(t, readAgg(t, m["hist"], hist), wantHist)
	for _, tc := range []struct {
		s    *AggSink
		want string
	}{
		{sum, "map[1:[1014 3] 2:[70000 2]]"},
		{lo, "map[1:[5 3] 2:[0 2]]"},
		{hi, "map[1:[1000 3] 2:[70000 2]]"},
	} {
		got := map[string][2]uint64{}
		for k, e := range readAgg(t, m[tc.s.Map], tc.s) {
			got[k] = [2]uint64{e.val, e.count}
		}
		if fmt.Sprint(got) != tc.want {
			t.Errorf("%s: got %v, want %s", tc.s.Map, got, tc.want)
		}
	}
}

func TestSinksChecks(t *testing.T) {
	pc := execArgs(true)
	vs := sinkValues(t, pc, ValueOptions{}, "b")
	a := &AggSink{Agg: AggSum, Value: vs[0]}
	b := &AggSink{Agg: AggMax, Value: vs[0]}
	b2 := &AggSink{Map: "max", Agg: AggMax, Value: vs[0]}
	if _, err := Compile(&Build{Mode: ModeRawTracepoint, Filters: NoFilters, Sink: Sinks{a, b}}); err == nil {
		t.Error("two sinks on one map compiled")
	}
	if _, err := Compile(&Build{Mode: ModeRawTracepoint, Filters: NoFilters, Sink: Sinks{}}); err == nil {
		t.Error("no sinks compiled")
	}
	if _, err := Compile(&Build{Mode: ModeRawTracepoint, Filters: NoFilters, Sink: Sinks{a, b2}}); err != nil {
		t.Errorf("two sinks: %v", err)
	}
	if n := len(Sinks{a, b2, a}.Maps()); n != 4 {
		t.Errorf("Maps: %d maps, want 4 (two sinks' map and drops, each once)", n)
	}
}
