package compile

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/cilium/ebpf"

	"github.com/btool/btool/bpf/feature"
	"github.com/btool/btool/internal/testutil"
)

// stashLive counts the keys in a stash map.
func stashLive(t *testing.T, m *ebpf.Map) int {
	t.Helper()
	var key, val []byte
	n := 0
	it := m.Iterate()
	for it.Next(&key, &val) {
		n++
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	return n
}

// stashShapes are the start and end programs of each new stash shape for
// the verifier test, from expressions that check in pc.
func stashShapes(t *testing.T, pc *ProbeContext, uprobe bool) map[string]*Build {
	shapes := sinkShapes(t, pc)
	ints := shapes["entry"].(*EntrySink).Stash.Fields
	depth := &Stash{Map: "st_depth", Timestamp: true, Fields: ints[:2], Depth: 8}
	depthTarget := &Stash{Map: "st_dtarget", Timestamp: true, Depth: 31, PerTarget: true} // 8 + 31*8 bytes: the largest value
	expr := &Stash{Map: "st_expr", Timestamp: true, Fields: ints[:1], Key: StashKeyExpr, KeyValues: 2, PerTarget: true}
	lat := func(st *Stash) Sink {
		key := []KeyPart{{Kind: KeyTarget}}
		for i := range st.Fields {
			key = append(key, KeyPart{Kind: KeyValue, Value: st.Entry(i)})
		}
		return &AggSink{Map: st.name() + "_agg", Agg: AggLog2, Value: st.Latency(), Key: key}
	}
	out := map[string]*Build{
		"depth-entry":        {Sink: &EntrySink{Stash: depth}},
		"depth-return":       {Stash: depth, Sink: lat(depth)},
		"depth-target-entry": {Sink: &EntrySink{Stash: depthTarget}},
		"depth-target-ret":   {Stash: depthTarget, Sink: lat(depthTarget)},
		"expr-start":         {Sink: &EntrySink{Stash: expr, Key: ints[:2]}},
		"expr-end":           {Stash: expr, StashKey: []*Value{ints[1], ints[0]}, Sink: lat(expr)},
	}
	if uprobe {
		goKey := &Stash{Map: "st_go", Timestamp: true, Fields: ints[:1], Key: StashKeyGoFrame}
		out["go-entry"] = &Build{Mode: ModeUprobe, Sink: &EntrySink{Stash: goKey}}
		out["go-ret"] = &Build{Mode: ModeUprobe, Stash: goKey, Sink: lat(goKey)}
	}
	return out
}

// TestKernelVerifierStash loads the depth, expression-key and Go-frame
// start and end programs into the verifier for each program type the
// attach modes use (the Go frame key in uprobe programs only), with and
// without filters and cookies.
func TestKernelVerifierStash(t *testing.T) {
	testutil.RequireRoot(t)
	f, err := feature.NewFeatures()
	if err != nil {
		t.Fatal(err)
	}
	filters := map[string]Filters{
		"none": NoFilters,
		"all":  {PID: 0x80000001, TID: 42, UID: 0, SkipTGID: 7, CPU: 1},
	}
	for _, k := range verifierKinds() {
		t.Run(k.name, func(t *testing.T) {
			testutil.RequireFeature(t, string(k.need), f.Have(k.need))
			pc := k.pc(t)
			shapes := stashShapes(t, pc, pc.Mode == ModeUprobe)
			for name, shape := range shapes {
				for fname, fl := range filters {
					for _, cookie := range []bool{false, true} {
						if cookie && (!k.cookie || f.Have(feature.FeatCookie) != nil) {
							continue
						}
						t.Run(fmt.Sprintf("%s/%s/cookie=%v", name, fname, cookie), func(t *testing.T) {
							b := *shape
							b.Name, b.Filters, b.Index = name, fl, IndexSource{Value: 3}
							if cookie {
								b.Index = IndexSource{From: IndexCookie}
							}
							m := sinkMaps{}
							if _, err := m.load(t, &b, k.typ, k.at, k.attachTo); err != nil {
								spec, _ := Compile(&b)
								t.Fatalf("verifier rejected %s: %+v\n%v", name, err, spec.Instructions)
							}
						})
					}
				}
			}
		})
	}
}

// TestKernelStashDepth runs a depth-4 stash's start and end programs on
// this thread as a recursion six calls deep would: the four outer calls
// are timed (each latency bounded by wall-clock readings taken around
// its start and end runs) and see their own $entry value, the two
// deeper ones are skipped and counted, a stray end finds depth 0, and the
// thread's entry is created once and deleted when the outermost call
// returns.
func TestKernelStashDepth(t *testing.T) {
	testutil.RequireRoot(t)
	runtime.LockOSThread() // the key is the thread
	defer runtime.UnlockOSThread()
	pc := execArgs(true)
	st := &Stash{Timestamp: true, Fields: sinkValues(t, pc, ValueOptions{}, "a"), Depth: 4}
	vs := sinkValues(t, pc, ValueOptions{Stash: st}, "$entry(a)", "$latency")
	s := &AggSink{Agg: AggMax, Value: vs[1], Key: []KeyPart{{Kind: KeyValue, Value: vs[0]}}}
	m := sinkMaps{}
	entry := m.rawProg(t, &Build{Filters: NoFilters, Sink: &EntrySink{Stash: st}})
	ret := m.rawProg(t, &Build{Filters: NoFilters, Stash: st, Sink: s})

	const levels, sleep = 6, time.Millisecond
	var before, after [levels + 1][2]time.Time // [level][start, end]
	for d := 1; d <= levels; d++ {
		before[d][0] = time.Now()
		runProg(t, entry, uint64(d))
		after[d][0] = time.Now()
		time.Sleep(sleep)
	}
	if n := stashLive(t, m[st.name()]); n != 1 {
		t.Fatalf("%d stash entries inside the recursion, want the thread's one", n)
	}
	for d := levels; d >= 1; d-- {
		time.Sleep(sleep)
		before[d][1] = time.Now()
		runProg(t, ret, 99) // the end's own a is 99: $entry(a) must be the start's
		after[d][1] = time.Now()
	}
	runProg(t, ret) // no call in progress: depth 0, the entry is gone
	got := readAgg(t, m[s.name()], s)
	if len(got) != 4 {
		t.Fatalf("timed levels %v, want 1..4", sortedKeys(got))
	}
	for d := 1; d <= 4; d++ {
		e := got[fmt.Sprint(d)]
		lo, hi := before[d][1].Sub(after[d][0]), after[d][1].Sub(before[d][0])
		if e.count != 1 || time.Duration(e.val) < lo || time.Duration(e.val) > hi {
			t.Errorf("level %d: latency %v (count %d), want one in [%v, %v]", d, time.Duration(e.val), e.count, lo, hi)
		}
	}
	c := readDrops(t, m[st.DropsMap()], StashDrops)
	want := make([]uint64, StashDrops)
	want[StashDropDeep], want[StashDropMissing], want[StashStored], want[StashMatched] = 2, 1, 1, 1
	if fmt.Sprint(c) != fmt.Sprint(want) {
		t.Errorf("counters %v, want %v (full, missing, deep, replaced, stored, matched)", c, want)
	}
	live := stashLive(t, m[st.name()])
	if live != 0 || st.Evicted(c, live) != 0 {
		t.Errorf("%d entries left, %d evicted; want none", live, st.Evicted(c, live))
	}
}

// TestKernelStashExprThreads is a two-probe latency keyed by an
// expression across threads: starts on one thread, ends on another with
// the key in a different argument; a start of a pending key replaces it
// (counted), an end of an unknown key is missing, and an end's own
// values never leak into the key.
func TestKernelStashExprThreads(t *testing.T) {
	testutil.RequireRoot(t)
	pc := execArgs(true)
	vs := sinkValues(t, pc, ValueOptions{}, "b", "c", "a")
	st := &Stash{Timestamp: true, Fields: vs[2:3], Key: StashKeyExpr, KeyValues: 1}
	lat := sinkValues(t, pc, ValueOptions{Stash: st}, "$latency", "$entry(a)")
	s := &AggSink{Agg: AggMax, Value: lat[0], Key: []KeyPart{{Kind: KeyValue, Value: vs[1]}, {Kind: KeyValue, Value: lat[1]}}}
	m := sinkMaps{}
	start := m.rawProg(t, &Build{Filters: NoFilters, Sink: &EntrySink{Stash: st, Key: vs[:1]}}) // key: b
	end := m.rawProg(t, &Build{Filters: NoFilters, Stash: st, StashKey: vs[1:2], Sink: s})      // key: c
	on := func(f func()) {                                                                      // run f on a thread of its own
		done := make(chan struct{})
		go func() {
			runtime.LockOSThread() // and exit the thread with the goroutine
			f()
			close(done)
		}()
		<-done
	}
	const sleep = 2 * time.Millisecond
	t0 := time.Now()
	on(func() { runProg(t, start, 7, 1000) }) // a=7, key 1000
	on(func() { runProg(t, start, 8, 2000) }) // a=8, key 2000
	on(func() { runProg(t, start, 9, 2000) }) // a=9 replaces key 2000's pending start
	t1 := time.Now()
	time.Sleep(sleep)
	t2 := time.Now()
	on(func() { runProg(t, end, 0, 5, 1000) })    // ends key 1000
	on(func() { runProg(t, end, 0, 1000, 2000) }) // ends key 2000; b=1000 is not the key
	on(func() { runProg(t, end, 0, 0, 3000) })    // no such start
	t3 := time.Now()
	got := readAgg(t, m[s.name()], s)
	for _, k := range []string{"1000|7", "2000|9"} {
		if e, ok := got[k]; !ok || e.count != 1 || time.Duration(e.val) < t2.Sub(t1) || time.Duration(e.val) > t3.Sub(t0) {
			t.Errorf("key %s: %+v, want one latency in [%v, %v]", k, e, t2.Sub(t1), t3.Sub(t0))
		}
	}
	if len(got) != 2 {
		t.Errorf("keys %v, want 1000|7 and 2000|9", sortedKeys(got))
	}
	c := readDrops(t, m[st.DropsMap()], StashDrops)
	want := make([]uint64, StashDrops)
	want[StashDropMissing], want[StashReplaced], want[StashStored], want[StashMatched] = 1, 1, 2, 2
	if fmt.Sprint(c) != fmt.Sprint(want) {
		t.Errorf("counters %v, want %v", c, want)
	}
	if live := stashLive(t, m[st.name()]); live != 0 || st.Evicted(c, live) != 0 {
		t.Errorf("%d entries left, %d evicted", live, st.Evicted(c, live))
	}
}
