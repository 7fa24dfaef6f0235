package compile

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"os"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"

	"github.com/btool/btool/bpf/feature"
	"github.com/btool/btool/internal/kallsyms"
	"github.com/btool/btool/internal/testutil"
	"github.com/btool/btool/specparse"
)

// sinkExprs parses expressions (through a trace spec's arguments).
func sinkExprs(t testing.TB, exprs ...string) []specparse.Expr {
	t.Helper()
	if len(exprs) == 0 {
		return nil
	}
	spec := `f "` + strings.Repeat("%d", len(exprs)) + `", ` + strings.Join(exprs, ", ")
	p, err := specparse.ParseTrace(spec)
	if err != nil {
		t.Fatalf("parse %q: %v", spec, err)
	}
	return p.Args
}

// sinkValues checks expressions for a sink.
func sinkValues(t testing.TB, pc *ProbeContext, o ValueOptions, exprs ...string) []*Value {
	t.Helper()
	es := sinkExprs(t, exprs...)
	vs, err := CheckValues(es, pc, o)
	if err != nil {
		t.Fatalf("check %q: %v", exprs, err)
	}
	return vs
}

// sinkMaps creates (once) the maps builds reference.
type sinkMaps map[string]*ebpf.Map

func (m sinkMaps) load(t *testing.T, b *Build, typ ebpf.ProgramType, at ebpf.AttachType, attachTo string) (*ebpf.Program, error) {
	t.Helper()
	spec, err := Compile(b)
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	for _, ms := range b.Maps() {
		if _, ok := m[ms.Name]; ok {
			continue
		}
		mp, err := ebpf.NewMap(ms)
		if err != nil {
			t.Fatalf("create map %s: %v", ms.Name, err)
		}
		t.Cleanup(func() { mp.Close() })
		m[ms.Name] = mp
	}
	insns := append(asm.Instructions(nil), spec.Instructions...)
	for name, mp := range m {
		if err := insns.AssociateMap(name, mp); err != nil && !errors.Is(err, asm.ErrUnreferencedSymbol) {
			t.Fatal(err)
		}
	}
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{Name: "sink_test", Type: typ, AttachType: at, AttachTo: attachTo, License: "GPL", Instructions: insns})
	if err == nil {
		t.Cleanup(func() { prog.Close() })
	}
	return prog, err
}

// rawProg loads b as a raw tracepoint program for BPF_PROG_RUN.
func (m sinkMaps) rawProg(t *testing.T, b *Build) *ebpf.Program {
	t.Helper()
	b.Mode = ModeRawTracepoint
	prog, err := m.load(t, b, ebpf.RawTracepoint, ebpf.AttachNone, "")
	if err != nil {
		spec, _ := Compile(b)
		t.Fatalf("verifier: %+v\n%v", err, spec.Instructions)
	}
	return prog
}

func runProg(t *testing.T, prog *ebpf.Program, args ...uint64) {
	t.Helper()
	ctx := make([]uint64, 8)
	copy(ctx, args)
	if _, err := prog.Run(&ebpf.RunOptions{Context: ctx}); err != nil {
		t.Fatalf("run: %v", err)
	}
}

// aggEntry is one key of an AggSink's map with its per-CPU values merged
// as the runtime would: counts and sums added, min/max over CPUs with a
// count.
type aggEntry struct {
	key        []byte
	val, count uint64
}

func readAgg(t *testing.T, m *ebpf.Map, s *AggSink) map[string]aggEntry {
	t.Helper()
	l := s.Layout()
	out := map[string]aggEntry{}
	var key []byte
	var per [][]byte
	it := m.Iterate()
	for it.Next(&key, &per) {
		v := l.Merge(per)
		out[decodeKey(l, key)] = aggEntry{key: append([]byte(nil), key...), val: v.Value, count: v.Count}
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// decodeKey renders a key as "part|part|...": integers in decimal (signed
// per the field), strings quoted with "+" when truncated, and "slot=N".
func decodeKey(l AggLayout, key []byte) string {
	var parts []string
	for _, f := range l.Key {
		switch f.Kind {
		case FieldStr:
			str, status := f.String(key)
			v := fmt.Sprintf("%q", str)
			switch status {
			case StrTruncated:
				v += "+"
			case StrFault:
				v += "(fault)"
			case StrNull:
				v += "(null)"
			}
			parts = append(parts, v)
		case FieldInt:
			parts = append(parts, fmt.Sprint(f.Int(key)))
		default:
			parts = append(parts, fmt.Sprint(f.Uint(key)))
		}
	}
	if l.SlotOffset >= 0 {
		parts = append(parts, fmt.Sprintf("slot=%d", l.Slot(key)))
	}
	return strings.Join(parts, "|")
}

func readDrops(t *testing.T, m *ebpf.Map, n int) []uint64 {
	t.Helper()
	out := make([]uint64, n)
	for i := range n {
		var per []uint64
		if err := m.Lookup(uint32(i), &per); err != nil {
			t.Fatal(err)
		}
		for _, v := range per {
			out[i] += v
		}
	}
	return out
}

func sortedKeys(m map[string]aggEntry) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// wantCounts compares the map's keys and counts with want.
func wantCounts(t *testing.T, got map[string]aggEntry, want map[string]uint64) {
	t.Helper()
	g := map[string]uint64{}
	for k, e := range got {
		g[k] = e.count
	}
	if fmt.Sprint(g) != fmt.Sprint(want) {
		t.Fatalf("counts:\n got %v\nwant %v", g, want)
	}
}

// TestKernelSinkCountKeys counts events keyed by an int, a string, the
// tgid, the comm and the target index, from known arguments.
func TestKernelSinkCountKeys(t *testing.T) {
	testutil.RequireRoot(t)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	hello, hell := []byte("hello\x00"), []byte("hell\x00")
	long := []byte(strings.Repeat("x", 100) + "\x00")
	defer runtime.KeepAlive(long)
	pc := execArgs(true)
	vs := sinkValues(t, pc, ValueOptions{}, "a", "msg", "(char *)msg")
	if vs[1].Kind != FieldAddr || vs[2].Kind != FieldAddr {
		t.Fatalf("char * without a declared type should be a pointer value, have %v %v", vs[1].Kind, vs[2].Kind)
	}
	// A declared char * type makes the pointer a string.
	tn := []*specparse.TypeName{nil, {Name: "char", Ptr: 1}}
	vs = sinkValues(t, pc, ValueOptions{Types: tn}, "a", "msg")
	s := &AggSink{Agg: AggCount, StringSize: 16, Key: []KeyPart{
		{Kind: KeyValue, Value: vs[0]}, {Kind: KeyValue, Value: vs[1]}, {Kind: KeyTgid}, {Kind: KeyComm}, {Kind: KeyTarget},
	}}
	m := sinkMaps{}
	prog := m.rawProg(t, &Build{Name: "count", Filters: NoFilters, Index: IndexSource{Value: 9}, Sink: s})
	for _, run := range []struct {
		a   int64
		msg []byte
		n   int
		raw uint64 // the pointer, when msg is nil
	}{{1, hello, 3, 0}, {-2, hello, 2, 0}, {1, hell, 1, 0}, {1, long, 2, 0}, {1, nil, 2, 0}, {1, nil, 1, 0x10}} {
		p := run.raw
		if run.msg != nil {
			p = ptr(run.msg)
		}
		for range run.n {
			runProg(t, prog, uint64(run.a), 0, 0, 0, 0, p)
		}
	}
	comm, _ := os.ReadFile("/proc/thread-self/comm")
	c := fmt.Sprintf("%q", strings.TrimSpace(string(comm)))
	pid := os.Getpid()
	wantCounts(t, readAgg(t, m[s.name()], s), map[string]uint64{
		fmt.Sprintf(`1|"hello"|%d|%s|9`, pid, c):            3,
		fmt.Sprintf(`-2|"hello"|%d|%s|9`, pid, c):           2,
		fmt.Sprintf(`1|"hell"|%d|%s|9`, pid, c):             1,
		fmt.Sprintf(`1|"xxxxxxxxxxxxxxx"+|%d|%s|9`, pid, c): 2,
		fmt.Sprintf(`1|""(null)|%d|%s|9`, pid, c):           2,
		fmt.Sprintf(`1|""(fault)|%d|%s|9`, pid, c):          1,
	})
	if d := readDrops(t, m[s.DropsMap()], AggDrops); d[AggDropFull] != 0 {
		t.Fatalf("drops %v", d)
	}
}

// TestKernelSinkSumMinMax aggregates signed and unsigned values per key.
func TestKernelSinkSumMinMax(t *testing.T) {
	testutil.RequireRoot(t)
	pc := execArgs(true)
	vs := sinkValues(t, pc, ValueOptions{}, "n", "a", "b")
	n, a, b := vs[0], vs[1], vs[2]
	type run struct{ n, a, b uint64 }
	runs := []run{
		{1, s64(5), 7}, {1, s64(-3), math.MaxUint64}, {1, s64(10), 1},
		{2, s64(math.MinInt32), 1 << 63}, {2, s64(math.MaxInt32), 0},
	}
	for _, tc := range []struct {
		agg  AggKind
		v    *Value
		want map[string][2]uint64 // key → value, count
	}{
		{AggSum, a, map[string][2]uint64{"1": {12, 3}, "2": {s64(-1), 2}}},
		{AggMin, a, map[string][2]uint64{"1": {s64(-3), 3}, "2": {s64(math.MinInt32), 2}}},
		{AggMax, a, map[string][2]uint64{"1": {10, 3}, "2": {math.MaxInt32, 2}}},
		{AggMin, b, map[string][2]uint64{"1": {1, 3}, "2": {0, 2}}},
		{AggMax, b, map[string][2]uint64{"1": {math.MaxUint64, 3}, "2": {1 << 63, 2}}},
		{AggSum, b, map[string][2]uint64{"1": {7, 3}, "2": {1 << 63, 2}}},
	} {
		t.Run(fmt.Sprintf("%s/%s", tc.agg, tc.v.Expr), func(t *testing.T) {
			s := &AggSink{Agg: tc.agg, Value: tc.v, Key: []KeyPart{{Kind: KeyValue, Value: n}}}
			m := sinkMaps{}
			prog := m.rawProg(t, &Build{Filters: NoFilters, Sink: s})
			for _, r := range runs {
				// Run on every CPU in turn: min/max must merge
				// CPUs where the key reads as zero.
				runProgOnCPU(t, prog, int(r.a)&7, r.a, r.b, 0, 0, 0, 0, r.n)
			}
			got := map[string][2]uint64{}
			for k, e := range readAgg(t, m[s.name()], s) {
				got[k] = [2]uint64{e.val, e.count}
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

// runProgOnCPU runs prog with the args in the order a, b, c, file, s, msg,
// n on CPU cpu modulo the CPUs this thread may use.
func runProgOnCPU(t *testing.T, prog *ebpf.Program, cpu int, args ...uint64) {
	t.Helper()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var old unix.CPUSet
	if err := unix.SchedGetaffinity(0, &old); err != nil {
		t.Fatal(err)
	}
	var cpus []int
	for i := range 1024 {
		if old.IsSet(i) {
			cpus = append(cpus, i)
		}
	}
	var set unix.CPUSet
	set.Set(cpus[(cpu%len(cpus)+len(cpus))%len(cpus)])
	if err := unix.SchedSetaffinity(0, &set); err != nil {
		t.Fatal(err)
	}
	defer unix.SchedSetaffinity(0, &old)
	runProg(t, prog, args...)
}

// TestKernelSinkLog2 checks log2 slots against bits.Len64 and the
// negative slot of a signed value.
func TestKernelSinkLog2(t *testing.T) {
	testutil.RequireRoot(t)
	pc := execArgs(true)
	vs := sinkValues(t, pc, ValueOptions{}, "b", "a")
	inputs := []uint64{0, 1, 2, 3, 4, 7, 8, 1023, 1024, 1 << 31, 1<<32 - 1, 1 << 32, 1<<40 + 5, 1 << 63, math.MaxUint64}
	t.Run("unsigned", func(t *testing.T) {
		s := &AggSink{Agg: AggLog2, Value: vs[0]}
		m := sinkMaps{}
		prog := m.rawProg(t, &Build{Filters: NoFilters, Sink: s})
		want := map[string]uint64{}
		for _, v := range inputs {
			runProg(t, prog, 0, v)
			want[fmt.Sprintf("slot=%d", bits.Len64(v))]++
		}
		wantCounts(t, readAgg(t, m[s.name()], s), want)
	})
	t.Run("signed", func(t *testing.T) {
		s := &AggSink{Agg: AggLog2, Value: vs[1], Key: []KeyPart{{Kind: KeyValue, Value: vs[0]}}}
		m := sinkMaps{}
		prog := m.rawProg(t, &Build{Filters: NoFilters, Sink: s})
		want := map[string]uint64{}
		for _, v := range []int32{0, 1, 5, -1, math.MinInt32, math.MaxInt32} {
			runProg(t, prog, s64(int64(v)), 3)
			slot := Log2Negative
			if v >= 0 {
				slot = bits.Len64(uint64(v))
			}
			want[fmt.Sprintf("3|slot=%d", slot)]++
		}
		wantCounts(t, readAgg(t, m[s.name()], s), want)
	})
}

// TestKernelSinkLinear checks linear slots, the underflow and overflow
// slots, signed bounds and a step too large for an immediate.
func TestKernelSinkLinear(t *testing.T) {
	testutil.RequireRoot(t)
	pc := execArgs(true)
	vs := sinkValues(t, pc, ValueOptions{}, "b", "a")
	for _, tc := range []struct {
		name string
		v    *Value
		lin  Linear
		in   []uint64
		want map[string]uint64
	}{
		{"unsigned", vs[0], Linear{Min: 10, Max: 50, Step: 10}, []uint64{5, 9, 10, 19, 20, 49, 50, 1000, math.MaxUint64},
			map[string]uint64{"slot=0": 2, "slot=1": 2, "slot=2": 1, "slot=4": 1, "slot=5": 3}},
		{"uneven", vs[0], Linear{Min: 0, Max: 25, Step: 10}, []uint64{0, 24, 25, 29, 30},
			map[string]uint64{"slot=1": 1, "slot=3": 1, "slot=4": 3}},
		{"signed", vs[1], Linear{Min: -20, Max: 20, Step: 10}, []uint64{s64(-21), s64(-20), s64(-1), 0, 19, 20, s64(math.MinInt32), math.MaxInt32},
			map[string]uint64{"slot=0": 2, "slot=1": 1, "slot=2": 1, "slot=3": 1, "slot=4": 1, "slot=5": 2}},
		{"big step", vs[0], Linear{Min: 0, Max: 1 << 40, Step: 1 << 33}, []uint64{0, 1<<33 - 1, 1 << 33, 1<<40 - 1, 1 << 40},
			map[string]uint64{"slot=1": 2, "slot=2": 1, "slot=128": 1, "slot=129": 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &AggSink{Agg: AggLinear, Value: tc.v, Linear: tc.lin}
			m := sinkMaps{}
			prog := m.rawProg(t, &Build{Filters: NoFilters, Sink: s})
			for _, v := range tc.in {
				runProg(t, prog, v, v)
			}
			wantCounts(t, readAgg(t, m[s.name()], s), tc.want)
			if l := s.Layout(); l.Slots != int(tc.lin.buckets())+2 {
				t.Fatalf("Slots %d", l.Slots)
			}
		})
	}
}

// TestKernelSinkMapFull fills a small map: every event is either counted
// under its key or in AggDropFull.
func TestKernelSinkMapFull(t *testing.T) {
	testutil.RequireRoot(t)
	vs := sinkValues(t, execArgs(true), ValueOptions{}, "a")
	s := &AggSink{Agg: AggCount, MaxEntries: 4, Key: []KeyPart{{Kind: KeyValue, Value: vs[0]}}}
	m := sinkMaps{}
	prog := m.rawProg(t, &Build{Filters: NoFilters, Sink: s})
	for i := range 10 {
		runProg(t, prog, uint64(i))
	}
	runProg(t, prog, 0) // an existing key still counts
	got := readAgg(t, m[s.name()], s)
	var counted uint64
	for _, e := range got {
		counted += e.count
	}
	d := readDrops(t, m[s.DropsMap()], AggDrops)
	if len(got) != 4 || got["0"].count != 2 || d[AggDropFull] != 6 || counted+d[AggDropFull] != 11 {
		t.Fatalf("%d keys %v, drops %v", len(got), got, d)
	}
}

// TestKernelSinkStash runs an entry program and a return program on this
// thread with a sleep between them: the return program sees the entry's
// arguments through $entry and the latency through $latency, bounded by
// the wall clock.
func TestKernelSinkStash(t *testing.T) {
	testutil.RequireRoot(t)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	entryPC := execArgs(true)
	st := &Stash{Timestamp: true, Fields: sinkValues(t, entryPC, ValueOptions{}, "a", "b")}
	retPC := execArgs(true)
	vs := sinkValues(t, retPC, ValueOptions{Stash: st}, "$entry(a)", "$latency", "$entry(b)", "c")
	if vs[0].Kind != FieldInt || vs[1].Kind != FieldUint {
		t.Fatalf("kinds %v %v", vs[0].Kind, vs[1].Kind)
	}
	m := sinkMaps{}
	entry := m.rawProg(t, &Build{Name: "entry", Filters: NoFilters, Sink: &EntrySink{Stash: st}})
	sum := &AggSink{Map: "lat", Agg: AggSum, Value: vs[1], Key: []KeyPart{{Kind: KeyValue, Value: vs[0]}, {Kind: KeyValue, Value: vs[2]}, {Kind: KeyValue, Value: vs[3]}}}
	ret := m.rawProg(t, &Build{Name: "return", Filters: NoFilters, Stash: st, Sink: sum})
	hist := &AggSink{Map: "hist", Agg: AggLog2, Value: vs[1]}
	ret2 := m.rawProg(t, &Build{Name: "return2", Filters: NoFilters, Stash: st, Sink: hist})

	const sleep = 3 * time.Millisecond
	start := time.Now()
	runProg(t, entry, s64(-7), 1<<40)
	time.Sleep(sleep)
	runProg(t, ret, 1, 2, 42) // different args at return: $entry must be the entry's
	elapsed := time.Since(start)
	runProg(t, ret, 1, 2, 42) // no entry any more: counted, not aggregated
	got := readAgg(t, m[sum.name()], sum)
	e, ok := got[fmt.Sprintf("-7|%d|42", uint64(1)<<40)]
	if len(got) != 1 || !ok || e.count != 1 || time.Duration(e.val) < sleep || time.Duration(e.val) > elapsed {
		t.Fatalf("got %v, want one key -7|2^40|42 with a latency in [%v, %v]", got, sleep, elapsed)
	}
	if d := readDrops(t, m[st.DropsMap()], StashDrops); d[StashDropMissing] != 1 || d[StashDropFull] != 0 {
		t.Fatalf("stash drops %v", d)
	}

	// A second pair through the histogram program.
	start = time.Now()
	runProg(t, entry, 1, 1)
	time.Sleep(sleep)
	runProg(t, ret2)
	elapsed = time.Since(start)
	h := readAgg(t, m[hist.name()], hist)
	if len(h) != 1 {
		t.Fatalf("histogram %v", h)
	}
	for k, e := range h {
		var slot int
		fmt.Sscanf(k, "slot=%d", &slot)
		if e.count != 1 || slot < bits.Len64(uint64(sleep)) || slot > bits.Len64(uint64(elapsed)) {
			t.Fatalf("latency slot %d (count %d), want between %d and %d", slot, e.count, bits.Len64(uint64(sleep)), bits.Len64(uint64(elapsed)))
		}
	}
}

// TestKernelSinkStacks counts events keyed by kernel and user stack ids
// and the tgid, and reads the stacks back.
func TestKernelSinkStacks(t *testing.T) {
	testutil.RequireRoot(t)
	s := &AggSink{Agg: AggCount, Key: []KeyPart{{Kind: KeyKernelStack}, {Kind: KeyUserStack}, {Kind: KeyTgid}}}
	m := sinkMaps{}
	prog := m.rawProg(t, &Build{Filters: NoFilters, Sink: s})
	const runs = 5
	for range runs {
		runProg(t, prog)
	}
	got := readAgg(t, m[s.name()], s)
	var total uint64
	l := s.Layout()
	for _, e := range got {
		total += e.count
		le := binary.LittleEndian
		if tg := le.Uint32(e.key[l.Key[2].Offset:]); int(tg) != os.Getpid() {
			t.Errorf("tgid %d", tg)
		}
		for _, f := range l.Key[:2] {
			id := int32(le.Uint32(e.key[f.Offset:]))
			if id < 0 {
				t.Errorf("%s id %d", f.Part, id)
				continue
			}
			var frames [127]uint64
			if err := m[MapStacks].Lookup(uint32(id), &frames); err != nil || frames[0] == 0 {
				t.Errorf("%s %d: %v %x", f.Part, id, err, frames[:2])
			}
		}
	}
	d := readDrops(t, m[s.DropsMap()], AggDrops)
	if total != runs || d[AggDropKernelStack] != 0 || d[AggDropUserStack] != 0 {
		t.Fatalf("%d events in %v, drops %v", total, got, d)
	}
}

// TestKernelSinkTracepoint attaches a count keyed by $tgid and a log2
// histogram of the first argument to syscalls:sys_enter_getppid... which
// has none, so it keys by the syscall number field and the tgid, and
// makes exactly N getppid calls.
func TestKernelSinkTracepoint(t *testing.T) {
	testutil.RequireRoot(t)
	f, err := feature.NewFeatures()
	if err != nil {
		t.Fatal(err)
	}
	testutil.RequireFeature(t, string(feature.FeatTracepoint), f.Have(feature.FeatTracepoint))
	pc := &ProbeContext{Mode: ModeTracepoint, UserMemory: true, Fields: []Arg{
		{Name: "__syscall_nr", Type: tyInt, Kind: ArgCtx, Off: 8, Size: 4, Signed: true},
	}}
	vs := sinkValues(t, pc, ValueOptions{}, "args->__syscall_nr")
	s := &AggSink{Agg: AggCount, Key: []KeyPart{{Kind: KeyValue, Value: vs[0]}, {Kind: KeyTgid}}}
	m := sinkMaps{}
	prog, err := m.load(t, &Build{Mode: ModeTracepoint, Filters: Filters{PID: uint32(os.Getpid()), UID: -1, CPU: -1}, Sink: s}, ebpf.TracePoint, ebpf.AttachNone, "")
	if err != nil {
		t.Fatalf("%+v", err)
	}
	lk, err := link.Tracepoint("syscalls", "sys_enter_getppid", prog, nil)
	if err != nil {
		t.Skipf("attach: %v", err)
	}
	const calls = 321
	for range calls {
		unix.Getppid()
	}
	lk.Close()
	wantCounts(t, readAgg(t, m[s.name()], s), map[string]uint64{fmt.Sprintf("%d|%d", unix.SYS_GETPPID, os.Getpid()): calls})
}

// s64 is v's two's complement, as a raw argument.
func s64(v int64) uint64 { return uint64(v) }

// tryValue checks expr in pc, declared as tn when not nil; nil when it
// does not check there.
func tryValue(pc *ProbeContext, expr string, tn *specparse.TypeName) *Value {
	p, err := specparse.ParseTrace(`f "%d", ` + expr)
	if err != nil {
		return nil
	}
	o := ValueOptions{}
	if tn != nil {
		o.Types = []*specparse.TypeName{tn}
	}
	vs, err := CheckValues(p.Args, pc, o)
	if err != nil {
		return nil
	}
	return vs[0]
}

// sinkShapes are the sinks the verifier test loads, built from the
// expressions that check in pc.
func sinkShapes(t *testing.T, pc *ProbeContext) map[string]Sink {
	// ints are the values aggregated (summed, bucketed); addrs are only
	// keyed: a typed fentry pointer (arg1 of vfs_read is a struct file *)
	// is a BTF pointer to the verifier, and kernels before 6.x refuse
	// arithmetic on it ("math between ptr_ pointer and register").
	var ints, addrs, strs []*Value
	for _, e := range []string{"arg1", "arg2", "file->f_count", "file->f_path.dentry->d_name.len", "args->count", "args->delta", "s->c", "s->vals[n]", "$cpu", "$tgid * 3 - 1"} {
		switch v := tryValue(pc, e, nil); {
		case v == nil || v.Kind == FieldStr:
		case v.Kind == FieldAddr:
			addrs = append(addrs, v)
		default:
			ints = append(ints, v)
		}
	}
	charPtr := &specparse.TypeName{Name: "char", Ptr: 1}
	for _, e := range []string{"name", "msg", "file->f_path.dentry->d_name.name", "args->filename", "args->comm", "s->tag", "$comm"} {
		if v := tryValue(pc, e, nil); v != nil && v.Kind == FieldStr {
			strs = append(strs, v)
		} else if v := tryValue(pc, e, charPtr); v != nil && v.Kind == FieldStr {
			strs = append(strs, v)
		}
	}
	if len(ints) < 2 || len(strs) < 1 {
		t.Fatalf("too few expressions check: %d ints, %d strings", len(ints), len(strs))
	}
	key := []KeyPart{{Kind: KeyTarget}, {Kind: KeyTgid}, {Kind: KeyPid}, {Kind: KeyComm}}
	for _, v := range append(append(append([]*Value(nil), ints...), addrs...), strs...) {
		key = append(key, KeyPart{Kind: KeyValue, Value: v})
	}
	shapes := map[string]Sink{
		"count":   &AggSink{Agg: AggCount, Key: key},
		"sum":     &AggSink{Agg: AggSum, Value: ints[0], Key: key[:5]},
		"min":     &AggSink{Agg: AggMin, Value: ints[1], Key: key[4:6]},
		"max":     &AggSink{Agg: AggMax, Value: ints[0]},
		"log2":    &AggSink{Agg: AggLog2, Value: ints[1], Key: []KeyPart{{Kind: KeyValue, Value: strs[0]}}},
		"linear":  &AggSink{Agg: AggLinear, Value: ints[0], Linear: Linear{Min: 0, Max: 1 << 20, Step: 1000}, Key: key[1:2]},
		"stacks":  &AggSink{Agg: AggCount, Key: []KeyPart{{Kind: KeyKernelStack}, {Kind: KeyUserStack}, {Kind: KeyTgid}, {Kind: KeyComm}}},
		"newkeys": &AggSink{Agg: AggCount, Key: []KeyPart{{Kind: KeyTgid}, {Kind: KeyKernelStack}}, NewKeys: "agg_new"},
		"entry":   &EntrySink{Stash: &Stash{Timestamp: true, Fields: ints}},
	}
	return shapes
}

// TestKernelVerifierSinks loads every sink shape into the verifier for
// each program type the attach modes use, with and without filters, and
// a return program that loads a stash and aggregates $latency and $entry.
func TestKernelVerifierSinks(t *testing.T) {
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
			shapes := sinkShapes(t, pc)
			st := shapes["entry"].(*EntrySink).Stash
			var lat []*Value
			for i := range st.Fields {
				lat = append(lat, st.Entry(i))
			}
			shapes["return"] = &AggSink{Agg: AggLog2, Value: st.Latency(), Key: []KeyPart{{Kind: KeyValue, Value: lat[0]}, {Kind: KeyValue, Value: lat[1]}}}
			perTarget := &Stash{Map: "st_target", Timestamp: true, PerTarget: true}
			shapes["entry-per-target"] = &EntrySink{Stash: perTarget}
			shapes["return-per-target"] = &AggSink{Agg: AggMax, Value: perTarget.Latency(), Key: []KeyPart{{Kind: KeyTarget}}}
			for name, sink := range shapes {
				for fname, fl := range filters {
					for _, cookie := range []bool{false, true} {
						if cookie && (!k.cookie || f.Have(feature.FeatCookie) != nil) {
							continue
						}
						t.Run(fmt.Sprintf("%s/%s/cookie=%v", name, fname, cookie), func(t *testing.T) {
							b := &Build{Name: name, Filters: fl, Sink: sink, Index: IndexSource{Value: 3}}
							if cookie {
								b.Index = IndexSource{From: IndexCookie}
							}
							switch name {
							case "return":
								b.Stash = st
							case "return-per-target":
								b.Stash = perTarget
							}
							m := sinkMaps{}
							if _, err := m.load(t, b, k.typ, k.at, k.attachTo); err != nil {
								spec, _ := Compile(b)
								t.Fatalf("verifier rejected %s: %+v\n%v", name, err, spec.Instructions)
							}
						})
					}
				}
			}
		})
	}
}

// TestKernelSinkStashExpressions uses $latency and $entry(x) inside
// expressions and the predicate: arithmetic, a member through a stashed
// pointer and a stashed char * read as a string at return.
func TestKernelSinkStashExpressions(t *testing.T) {
	testutil.RequireRoot(t)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	obj := newUserObjects()
	defer obj.keepAlive()
	pc := execArgs(true)
	st := &Stash{Map: "st2", Timestamp: true, Fields: sinkValues(t, pc, ValueOptions{}, "a", "file", "msg")}
	o := ValueOptions{Stash: st, Types: []*specparse.TypeName{nil, nil, {Name: "char", Ptr: 1}, nil}}
	vs := sinkValues(t, pc, o, "$latency / 1000", "$entry(a) * 2", "$entry(msg)", "$entry(file)->f_count")
	filter, err := CheckFilter(sinkExprs(t, "$latency > 1000 && $entry(a) < 0")[0], pc, ValueOptions{Stash: st})
	if err != nil {
		t.Fatal(err)
	}
	m := sinkMaps{}
	entry := m.rawProg(t, &Build{Name: "entry", Filters: NoFilters, Sink: &EntrySink{Stash: st}})
	s := &AggSink{Agg: AggMax, Value: vs[0], Key: []KeyPart{{Kind: KeyValue, Value: vs[1]}, {Kind: KeyValue, Value: vs[2]}, {Kind: KeyValue, Value: vs[3]}}}
	ret := m.rawProg(t, &Build{Name: "return", Filters: NoFilters, Checked: filter, Stash: st, Sink: s})
	const sleep = 2 * time.Millisecond
	var elapsed time.Duration
	for _, a := range []int64{-5, 5} { // 5 fails the predicate
		start := time.Now()
		runProg(t, entry, s64(a), 0, 0, ptr(obj.file), 0, ptr(obj.msg))
		time.Sleep(sleep)
		runProg(t, ret) // zero arguments at return: everything comes from the stash
		if a < 0 {
			elapsed = time.Since(start)
		}
	}
	got := readAgg(t, m[s.name()], s)
	e, ok := got[`-10|"hello"|-3`]
	if len(got) != 1 || !ok || e.count != 1 || e.val < uint64(sleep/time.Microsecond) || e.val > uint64(elapsed/time.Microsecond) {
		t.Fatalf("got %v, want one key -10|\"hello\"|-3 with a latency in [%v, %v] in µs", got, sleep, elapsed)
	}
	if d := readDrops(t, m[st.DropsMap()], StashDrops); d[StashDropMissing] != 0 || d[StashDropFull] != 0 {
		t.Fatalf("stash drops %v", d)
	}
}

// TestKernelSinkLatencyNanosleep is funclatency on syscall tracepoints:
// the entry of nanosleep stashes its timespec pointer and the time, the
// exit keys the shortest latency by that pointer, the return value and
// the thread. The test makes exactly N 1ms nanosleeps on one thread.
func TestKernelSinkLatencyNanosleep(t *testing.T) {
	testutil.RequireRoot(t)
	f, err := feature.NewFeatures()
	if err != nil {
		t.Fatal(err)
	}
	testutil.RequireFeature(t, string(feature.FeatTracepoint), f.Have(feature.FeatTracepoint))
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	enterPC := &ProbeContext{Mode: ModeTracepoint, UserMemory: true, Fields: []Arg{
		{Name: "__syscall_nr", Type: tyInt, Kind: ArgCtx, Off: 8, Size: 4, Signed: true},
		{Name: "rqtp", Type: tyULong, Kind: ArgCtx, Off: 16, Size: 8},
	}}
	exitPC := &ProbeContext{Mode: ModeTracepoint, UserMemory: true, Fields: []Arg{
		{Name: "__syscall_nr", Type: tyInt, Kind: ArgCtx, Off: 8, Size: 4, Signed: true},
		{Name: "ret", Type: tyLong, Kind: ArgCtx, Off: 16, Size: 8, Signed: true},
	}}
	st := &Stash{Timestamp: true, Fields: sinkValues(t, enterPC, ValueOptions{}, "args->rqtp")}
	vs := sinkValues(t, exitPC, ValueOptions{Stash: st}, "$latency", "$entry(args->rqtp)", "args->ret")
	s := &AggSink{Agg: AggMin, Value: vs[0], Key: []KeyPart{{Kind: KeyValue, Value: vs[1]}, {Kind: KeyValue, Value: vs[2]}, {Kind: KeyPid}}}
	// This thread only: the Go runtime's sysmon thread sleeps with
	// nanosleep too.
	filters := Filters{PID: uint32(os.Getpid()), TID: uint32(unix.Gettid()), UID: -1, CPU: -1}
	m := sinkMaps{}
	for _, p := range []struct {
		event string
		b     *Build
	}{
		{"sys_enter_nanosleep", &Build{Mode: ModeTracepoint, Filters: filters, Sink: &EntrySink{Stash: st}}},
		{"sys_exit_nanosleep", &Build{Mode: ModeTracepoint, Filters: filters, Stash: st, Sink: s}},
	} {
		prog, err := m.load(t, p.b, ebpf.TracePoint, ebpf.AttachNone, "")
		if err != nil {
			t.Fatalf("%s: %+v", p.event, err)
		}
		lk, err := link.Tracepoint("syscalls", p.event, prog, nil)
		if err != nil {
			t.Skipf("attach %s: %v", p.event, err)
		}
		defer lk.Close()
	}
	const calls = 20
	const sleep = time.Millisecond
	ts := unix.NsecToTimespec(int64(sleep))
	start := time.Now()
	for range calls {
		if _, _, errno := unix.Syscall(unix.SYS_NANOSLEEP, uintptr(unsafe.Pointer(&ts)), 0, 0); errno != 0 {
			t.Fatal(errno)
		}
	}
	elapsed := time.Since(start)
	got := readAgg(t, m[s.name()], s)
	key := fmt.Sprintf("%d|0|%d", uint64(uintptr(unsafe.Pointer(&ts))), unix.Gettid())
	e, ok := got[key]
	if len(got) != 1 || !ok || e.count != calls || time.Duration(e.val) < sleep || time.Duration(e.val) > elapsed/calls {
		t.Fatalf("got %v, want key %s: %d calls, shortest in [%v, %v]", got, key, calls, sleep, elapsed/calls)
	}
	if d := readDrops(t, m[st.DropsMap()], StashDrops); d[StashDropMissing] != 0 || d[StashDropFull] != 0 {
		t.Fatalf("stash drops %v", d)
	}
}

// TestKernelSinkStacksAttach is stackcount on task:task_rename: exactly N
// prctl(PR_SET_NAME) calls from this thread, counted by kernel and user
// stack; the kernel stacks pass through the syscall entry and the user
// stacks through this test function. (Not a syscall tracepoint: before
// 6.x those hand BPF the user-mode registers of the syscall entry, so
// kernel stacks come out empty, -EFAULT.)
func TestKernelSinkStacksAttach(t *testing.T) {
	testutil.RequireRoot(t)
	f, err := feature.NewFeatures()
	if err != nil {
		t.Fatal(err)
	}
	testutil.RequireFeature(t, string(feature.FeatTracepoint), f.Have(feature.FeatTracepoint))
	syms, err := kallsyms.Load()
	if err != nil || !syms.HasAddrs() {
		t.Skipf("no kallsyms addresses: %v", err)
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	s := &AggSink{Agg: AggCount, Key: []KeyPart{{Kind: KeyKernelStack}, {Kind: KeyUserStack}, {Kind: KeyPid}, {Kind: KeyComm}}}
	m := sinkMaps{}
	b := &Build{Mode: ModeTracepoint, Filters: Filters{PID: uint32(os.Getpid()), TID: uint32(unix.Gettid()), UID: -1, CPU: -1}, Sink: s}
	prog, err := m.load(t, b, ebpf.TracePoint, ebpf.AttachNone, "")
	if err != nil {
		t.Fatalf("%+v", err)
	}
	comm, _ := os.ReadFile("/proc/thread-self/comm")
	defer unix.Prctl(unix.PR_SET_NAME, uintptr(unsafe.Pointer(&append(bytes.TrimSpace(comm), 0)[0])), 0, 0, 0)
	lk, err := link.Tracepoint("task", "task_rename", prog, nil)
	if err != nil {
		t.Skipf("attach: %v", err)
	}
	const calls = 50
	for range calls {
		renameFramed()
	}
	lk.Close()
	l := s.Layout()
	le := binary.LittleEndian
	var total uint64
	for k, e := range readAgg(t, m[s.name()], s) {
		total += e.count
		if tid := le.Uint32(e.key[l.Key[2].Offset:]); int(tid) != unix.Gettid() {
			t.Errorf("%s: tid %d", k, tid)
		}
		var kframes, uframes [127]uint64
		if err := m[MapStacks].Lookup(le.Uint32(e.key[l.Key[0].Offset:]), &kframes); err != nil {
			t.Fatalf("%s: kernel stack: %v", k, err)
		}
		if err := m[MapStacks].Lookup(le.Uint32(e.key[l.Key[1].Offset:]), &uframes); err != nil {
			t.Fatalf("%s: user stack: %v", k, err)
		}
		var kern, user []string
		for _, pc := range kframes {
			if pc == 0 {
				break
			}
			if sym, _, ok := syms.Lookup(pc); ok {
				kern = append(kern, sym.Name)
			}
		}
		for _, pc := range uframes {
			if pc == 0 {
				break
			}
			if fn := runtime.FuncForPC(uintptr(pc)); fn != nil {
				user = append(user, fn.Name())
			}
		}
		if !strings.Contains(strings.Join(kern, " "), "do_syscall_64") {
			t.Errorf("%s: kernel stack %v does not pass through do_syscall_64", k, kern)
		}
		if !strings.Contains(strings.Join(user, " "), "TestKernelSinkStacksAttach") {
			t.Errorf("%s: user stack %v does not pass through the test", k, user)
		}
	}
	d := readDrops(t, m[s.DropsMap()], AggDrops)
	if total != calls || d[AggDropKernelStack] != 0 || d[AggDropUserStack] != 0 {
		t.Fatalf("%d events, want %d; drops %v", total, calls, d)
	}
}

// renameFramed renames the thread from a function with a frame: the syscall
// stub has none, so frame-pointer unwinding skips its caller (this
// function) and finds the test function above it.
//
//go:noinline
func renameFramed() {
	name := []byte("btool-stacks\x00")
	unix.Prctl(unix.PR_SET_NAME, uintptr(unsafe.Pointer(&name[0])), 0, 0, 0)
}

// TestKernelSinkConcurrentInsert runs the program on every CPU at once
// with the same new keys, so CPUs race to insert them (the BPF_NOEXIST
// update fails with -EEXIST for the loser, which must retry the lookup):
// every event must be counted exactly once.
func TestKernelSinkConcurrentInsert(t *testing.T) {
	testutil.RequireRoot(t)
	vs := sinkValues(t, execArgs(true), ValueOptions{}, "b")
	for _, agg := range []AggKind{AggCount, AggSum} {
		t.Run(agg.String(), func(t *testing.T) {
			s := &AggSink{Agg: agg, Value: vs[0], Key: []KeyPart{{Kind: KeyValue, Value: vs[0]}}}
			m := sinkMaps{}
			prog := m.rawProg(t, &Build{Filters: NoFilters, Sink: s})
			const keys, rounds = 500, 4
			workers := min(runtime.NumCPU(), 8)
			errs := make(chan error, workers)
			for w := range workers {
				go func() {
					runtime.LockOSThread()
					defer runtime.UnlockOSThread()
					var set unix.CPUSet
					set.Set(w)
					unix.SchedSetaffinity(0, &set)
					ctx := make([]uint64, 8)
					for r := range rounds {
						for k := range keys {
							ctx[1] = uint64(r*keys + k)
							if _, err := prog.Run(&ebpf.RunOptions{Context: ctx}); err != nil {
								errs <- err
								return
							}
						}
					}
					errs <- nil
				}()
			}
			for range workers {
				if err := <-errs; err != nil {
					t.Fatal(err)
				}
			}
			got := readAgg(t, m[s.name()], s)
			bad := 0
			for k, e := range got {
				var key uint64
				fmt.Sscan(k, &key)
				if e.count != uint64(workers) || (agg == AggSum && e.val != key*uint64(workers)) {
					bad++
				}
			}
			d := readDrops(t, m[s.DropsMap()], AggDrops)
			if len(got) != keys*rounds || bad != 0 || d[AggDropFull] != 0 {
				t.Fatalf("%d keys (want %d), %d with a wrong count, drops %v", len(got), keys*rounds, bad, d)
			}
		})
	}
}

// TestKernelSinkStashPerTarget nests two traced functions (target 1
// calls target 2) on one thread: with PerTarget each return finds its own
// entry and the outer latency covers the inner one; without it the inner
// entry overwrites the outer one, whose return then finds nothing.
func TestKernelSinkStashPerTarget(t *testing.T) {
	testutil.RequireRoot(t)
	for _, per := range []bool{true, false} {
		t.Run(fmt.Sprintf("per-target=%v", per), func(t *testing.T) {
			runtime.LockOSThread() // the stash key is the thread
			defer runtime.UnlockOSThread()
			st := &Stash{Timestamp: true, PerTarget: per}
			s := &AggSink{Agg: AggMax, Value: st.Latency(), Key: []KeyPart{{Kind: KeyTarget}}}
			m := sinkMaps{}
			var entry, ret [3]*ebpf.Program
			for tgt := uint32(1); tgt <= 2; tgt++ {
				ix := IndexSource{Value: tgt}
				entry[tgt] = m.rawProg(t, &Build{Filters: NoFilters, Index: ix, Sink: &EntrySink{Stash: st}})
				ret[tgt] = m.rawProg(t, &Build{Filters: NoFilters, Index: ix, Stash: st, Sink: s})
			}
			const sleep = 2 * time.Millisecond
			start := time.Now()
			runProg(t, entry[1])
			time.Sleep(sleep)
			runProg(t, entry[2])
			time.Sleep(sleep)
			runProg(t, ret[2])
			time.Sleep(sleep)
			runProg(t, ret[1])
			elapsed := time.Since(start)
			got := readAgg(t, m[s.name()], s)
			drops := readDrops(t, m[st.DropsMap()], StashDrops)
			if per {
				outer, inner := time.Duration(got["1"].val), time.Duration(got["2"].val)
				if len(got) != 2 || inner < sleep || outer < 3*sleep || outer > elapsed || inner > outer-2*sleep || drops[StashDropMissing] != 0 {
					t.Fatalf("got %v (outer %v, inner %v), drops %v; want outer in [%v, %v], inner >= %v", got, outer, inner, drops, 3*sleep, elapsed, sleep)
				}
				return
			}
			if len(got) != 1 || got["2"].count != 1 || drops[StashDropMissing] != 1 {
				t.Fatalf("got %v, drops %v; want only target 2 and one missing entry", got, drops)
			}
		})
	}
}
