package compile

import (
	"fmt"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
)

// TestStashLayouts pins the key and value layouts of each stash shape,
// and the map specs both programs declare from them.
func TestStashLayouts(t *testing.T) {
	vs := sinkValues(t, execArgs(true), ValueOptions{}, "a", "b")
	for _, tc := range []struct {
		name string
		st   *Stash
		want string // ValueSize TimestampAt FieldsAt DepthAt LevelsAt LevelSize KeySize
	}{
		{"thread", &Stash{Timestamp: true}, "8 0 [] -1 0 8 8"},
		{"thread fields", &Stash{Timestamp: true, Fields: vs}, "24 0 [8 16] -1 0 24 8"},
		{"thread per target", &Stash{Fields: vs[:1], PerTarget: true}, "8 -1 [0] -1 0 8 16"},
		{"depth", &Stash{Timestamp: true, Depth: 16}, "136 0 [] 0 8 8 8"},
		{"depth fields", &Stash{Timestamp: true, Fields: vs, Depth: 3, PerTarget: true}, "80 0 [8 16] 0 8 24 16"},
		{"go frame", &Stash{Timestamp: true, Key: StashKeyGoFrame}, "8 0 [] -1 0 8 24"},
		{"go frame per target", &Stash{Timestamp: true, Key: StashKeyGoFrame, PerTarget: true}, "8 0 [] -1 0 8 32"},
		{"expr", &Stash{Timestamp: true, Fields: vs[:1], Key: StashKeyExpr, KeyValues: 2}, "16 0 [8] -1 0 16 16"},
		{"expr per target", &Stash{Timestamp: true, Key: StashKeyExpr, KeyValues: 1, PerTarget: true}, "8 0 [] -1 0 8 16"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := tc.st.Layout()
			fields := l.FieldsAt
			if fields == nil {
				fields = []int{}
			}
			got := fmt.Sprint(l.ValueSize, l.TimestampAt, fields, l.DepthAt, l.LevelsAt, l.LevelSize, l.KeySize)
			if got != tc.want {
				t.Fatalf("layout %s, want %s", got, tc.want)
			}
			maps := tc.st.Maps()
			if m := maps[0]; m.Type != ebpf.LRUHash || int(m.KeySize) != l.KeySize || int(m.ValueSize) != l.ValueSize || m.MaxEntries != DefaultStashEntries {
				t.Fatalf("stash map %+v", m)
			}
			if m := maps[1]; m.Type != ebpf.PerCPUArray || m.MaxEntries != StashDrops || StashDrops != 6 {
				t.Fatalf("counters map %+v", m)
			}
		})
	}
	// The counters the runtime already reads keep their indexes.
	if StashDropFull != 0 || StashDropMissing != 1 {
		t.Fatal("StashDropFull and StashDropMissing moved")
	}
}

// TestStashEvicted checks the eviction arithmetic: stored - matched -
// live, never negative.
func TestStashEvicted(t *testing.T) {
	st := &Stash{Timestamp: true}
	c := func(stored, matched, replaced uint64) []uint64 {
		v := make([]uint64, StashDrops)
		v[StashStored], v[StashMatched], v[StashReplaced] = stored, matched, replaced
		v[StashDropMissing] = 99 // not part of the arithmetic
		return v
	}
	for _, tc := range []struct {
		counters []uint64
		live     int
		want     uint64
	}{
		{c(0, 0, 0), 0, 0},
		{c(100, 100, 0), 0, 0},
		{c(100, 60, 7), 10, 30},
		{c(100, 60, 0), 40, 0},
		{c(100, 60, 0), 41, 0}, // a racing read: clamped
		{c(5, 9, 0), 0, 0},
		{[]uint64{1, 2}, 0, 0}, // too short: not a stash's counters
	} {
		if got := st.Evicted(tc.counters, tc.live); got != tc.want {
			t.Errorf("Evicted(%v, %d) = %d, want %d", tc.counters, tc.live, got, tc.want)
		}
	}
}

// TestStashErrors checks what the stash shapes refuse, at compile time.
func TestStashErrors(t *testing.T) {
	pc := execArgs(true)
	vs := sinkValues(t, pc, ValueOptions{}, "a", "b", "$comm")
	ints, str := vs[:2], vs[2]
	exprSt := &Stash{Timestamp: true, Key: StashKeyExpr, KeyValues: 2}
	latKey := sinkValues(t, pc, ValueOptions{Stash: &Stash{Timestamp: true}}, "$latency + 1")
	uprobe := func(b *Build) *Build { b.Mode = ModeUprobe; return b }
	ret := func(st *Stash, keys ...*Value) *Build {
		return &Build{Mode: ModeRawTracepoint, Stash: st, StashKey: keys, Sink: &AggSink{Agg: AggCount}}
	}
	entry := func(st *Stash, keys ...*Value) *Build {
		return &Build{Mode: ModeRawTracepoint, Sink: &EntrySink{Stash: st, Key: keys}}
	}
	for _, tc := range []struct {
		name string
		b    *Build
		arch string
		want string
	}{
		{"negative depth", entry(&Stash{Timestamp: true, Depth: -1}), "", "negative depth -1"},
		{"depth with go key", uprobe(entry(&Stash{Timestamp: true, Depth: 4, Key: StashKeyGoFrame})), "", "a depth stack needs the thread key, not go-frame"},
		{"depth with expr key", ret(&Stash{Timestamp: true, Depth: 4, Key: StashKeyExpr, KeyValues: 1}, ints[0]), "", "a depth stack needs the thread key, not expr"},
		{"depth too large", entry(&Stash{Timestamp: true, Fields: ints, Depth: 11}), "", "depth 11 of 24-byte levels makes a 272-byte value, more than 256"},
		{"go key on a tracepoint", entry(&Stash{Timestamp: true, Key: StashKeyGoFrame}), "", "the Go frame key needs a uprobe program, not raw_tracepoint"},
		{"go key on arm64", uprobe(ret(&Stash{Timestamp: true, Key: StashKeyGoFrame})), "arm64", "reads the g register (R14) and sp from x86-64 pt_regs: not supported on arm64"},
		{"expr without KeyValues", entry(&Stash{Timestamp: true, Key: StashKeyExpr}, ints[0]), "", "an expression key needs KeyValues >= 1"},
		{"start key too short", entry(exprSt, ints[0]), "", "1 EntrySink.Key values for a key of 2"},
		{"end key missing", ret(exprSt), "", "0 Build.StashKey values for a key of 2"},
		{"string key", ret(exprSt, ints[0], str), "", "key $comm: only integers and pointers can key a stash"},
		{"key reads the stash", ret(&Stash{Timestamp: true, Key: StashKeyExpr, KeyValues: 1}, latKey[0]), "", "key $latency + 1 reads the stash it looks up"},
		{"keys for the thread key", ret(&Stash{Timestamp: true}, ints[0]), "", "Build.StashKey values given for a thread key"},
		{"keys for the go key", uprobe(entry(&Stash{Timestamp: true, Key: StashKeyGoFrame}, ints[0])), "", "EntrySink.Key values given for a go-frame key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.arch != "" {
				defer func(a string) { stashGoArch = a }(stashGoArch)
				stashGoArch = tc.arch
			}
			tc.b.Filters = NoFilters
			_, err := Compile(tc.b)
			if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("error %v, want one line containing %q", err, tc.want)
			}
		})
	}
}

// TestStashCode checks properties of the new shapes' code, in order: the
// depth push bounds its index before the pointer arithmetic and zeroes a
// new entry; the pop counts depth 0 as missing, bounds the popped level
// and deletes only at depth 0; the Go key reads r14 and sp from pt_regs
// and stack.hi through g; the expression key inserts with BPF_NOEXIST and
// overwrites with BPF_ANY.
func TestStashCode(t *testing.T) {
	pc := execArgs(true)
	vs := sinkValues(t, pc, ValueOptions{}, "a", "b")
	depth := &Stash{Timestamp: true, Fields: vs[:1], Depth: 4}
	goKey := &Stash{Timestamp: true, Key: StashKeyGoFrame}
	expr := &Stash{Timestamp: true, Key: StashKeyExpr, KeyValues: 2}
	for _, tc := range []struct {
		name    string
		b       *Build
		want    []string
		notWant []string
	}{
		{"depth push", &Build{Sink: &EntrySink{Stash: depth}}, []string{
			"FnGetCurrentPidTgid", "FnMapLookupElem", "JNEImm dst: r0 off: -1 imm: 0",
			"StMemDW dst: rfp src: r0 off: -128 imm: 0", "StMemDW dst: rfp src: r0 off: -64 imm: 0", // the zeroed value, 8 + 4*16 bytes
			"MovImm dst: r4 imm: 1", "FnMapUpdateElem", "imm: -17", "StMemW dst: rfp src: r0 off: -16 imm: 4", "<stash_drops>",
			"FnMapLookupElem", "MovReg dst: r7 src: r0", "LdXMemDW dst: r1 src: r7 off: 0", "AddImm dst: r2 imm: 1", "StXMemDW dst: r7 src: r2 off: 0",
			"JGEImm dst: r1 off: -1 imm: 4 <exit>", "MulImm dst: r1 imm: 16", "AddReg dst: r7 src: r1",
			"StXMemDW dst: r7 src: r1 off: 16", "FnKtimeGetNs", "StXMemDW dst: r7 src: r0 off: 8",
		}, []string{"FnMapDeleteElem", "MovImm dst: r4 imm: 0"}},
		{"depth pop", &Build{Stash: depth, Sink: &AggSink{Agg: AggLog2, Value: depth.Latency()}}, []string{
			"FnKtimeGetNs", "FnGetCurrentPidTgid", "FnMapLookupElem", "<stash_missing>", "MovReg dst: r7 src: r0",
			"LdXMemDW dst: r1 src: r7 off: 0", "JEqImm dst: r1 off: -1 imm: 0 <stash_missing>", "SubImm dst: r1 imm: 1", "StXMemDW dst: r7 src: r1 off: 0",
			"JGEImm dst: r1 off: -1 imm: 4 <stash_deep>", "MulImm dst: r1 imm: 16", "AddReg dst: r2 src: r1",
			"LdXMemDW dst: r3 src: r2 off: 16", "LdXMemDW dst: r3 src: r2 off: 8", "SubReg",
			"LdXMemDW dst: r1 src: r7 off: 0", "JNEImm dst: r1", "FnMapDeleteElem", "imm: 5", "<stash_drops>",
			"<agg>", "stash_missing:", "imm: 1", "<stash_drops>", "stash_deep:", "imm: 2", "<stash_drops>",
		}, nil},
		{"go frame entry", &Build{Mode: ModeUprobe, Sink: &EntrySink{Stash: goKey}}, []string{
			"FnGetCurrentPidTgid", "RShImm dst: r0 imm: 32", "LdXMemDW dst: r3 src: r6 off: 8", "AddImm dst: r3 imm: 8",
			"FnProbeReadUser", "LdXMemDW dst: r2 src: r6 off: 152", "SubReg dst: r1 src: r2",
			"FnKtimeGetNs", "MovImm dst: r4 imm: 1", "FnMapUpdateElem", "imm: -17", "MovImm dst: r4 imm: 0", "FnMapUpdateElem",
			"imm: 3", "imm: 0", "<stash_drops>",
		}, []string{"FnMapDeleteElem"}},
		{"go frame return", &Build{Mode: ModeUprobe, Stash: goKey, Sink: &AggSink{Agg: AggLog2, Value: goKey.Latency()}}, []string{
			"FnKtimeGetNs", "LdXMemDW dst: r3 src: r6 off: 8", "FnProbeReadUser", "LdXMemDW dst: r2 src: r6 off: 152",
			"FnMapLookupElem", "FnMapDeleteElem", "<agg>",
		}, nil},
		{"expr start", &Build{Sink: &EntrySink{Stash: expr, Key: vs}}, []string{
			"LdXMemDW dst: r8 src: r6 off: 0", "StXMemDW dst: rfp src: r8", "LdXMemDW dst: r8 src: r6 off: 8", "StXMemDW dst: rfp src: r8",
			"FnKtimeGetNs", "MovImm dst: r4 imm: 1", "FnMapUpdateElem", "MovImm dst: r4 imm: 0", "FnMapUpdateElem",
		}, []string{"FnGetCurrentPidTgid"}},
		{"expr end", &Build{Stash: expr, StashKey: []*Value{vs[1], vs[0]}, Sink: &AggSink{Agg: AggLog2, Value: expr.Latency()}}, []string{
			"FnKtimeGetNs", "LdXMemDW dst: r8 src: r6 off: 8", "LdXMemDW dst: r8 src: r6 off: 0", "FnMapLookupElem", "FnMapDeleteElem",
		}, []string{"FnGetCurrentPidTgid"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.b.Mode == 0 {
				tc.b.Mode = ModeRawTracepoint
			}
			tc.b.Filters = NoFilters
			spec, err := Compile(tc.b)
			if err != nil {
				t.Fatal(err)
			}
			text := fmt.Sprint(spec.Instructions)
			rest := text
			for _, w := range tc.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("missing %q (in order) in\n%s", w, text)
				}
				rest = rest[i+len(w):]
			}
			for _, w := range tc.notWant {
				if strings.Contains(text, w) {
					t.Errorf("unexpected %q in\n%s", w, text)
				}
			}
			// Forward jumps only, but to the exit (from the
			// out-of-line blocks after it): no loops.
			offs := map[string]int{}
			for i, ins := range spec.Instructions {
				if sym := ins.Symbol(); sym != "" {
					offs[sym] = i
				}
			}
			for i, ins := range spec.Instructions {
				ref := ins.Reference()
				if ref == "" || !ins.OpCode.Class().IsJump() || ins.IsBuiltinCall() {
					continue
				}
				at, ok := offs[ref]
				isExit := ok && at+1 < len(spec.Instructions) && spec.Instructions[at+1].OpCode.JumpOp() == asm.Exit
				if ok && at <= i && !isExit {
					t.Errorf("backward jump at %d to %s", i, ref)
				}
			}
		})
	}
}
