package compile

import (
	"fmt"
	"math"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
)

// AggKind is what an AggSink keeps per key.
type AggKind uint8

// The aggregations.
const (
	AggCount  AggKind = iota + 1 // events per key
	AggSum                       // sum and count of Value per key
	AggMin                       // smallest Value per key, and the count
	AggMax                       // largest Value per key, and the count
	AggLog2                      // events per (key, log2 slot of Value)
	AggLinear                    // events per (key, linear slot of Value)
)

func (k AggKind) String() string {
	switch k {
	case AggCount:
		return "count"
	case AggSum:
		return "sum"
	case AggMin:
		return "min"
	case AggMax:
		return "max"
	case AggLog2:
		return "log2"
	case AggLinear:
		return "linear"
	}
	return fmt.Sprintf("AggKind(%d)", uint8(k))
}

// KeyKind is what one part of an AggSink's key holds.
type KeyKind uint8

// The key parts. Sizes are in the key; integers are little endian.
const (
	KeyValue       KeyKind = iota + 1 // KeyPart.Value: u64/s64 (8 bytes) or a string (StringSize+1 bytes: the characters, then a status byte as in trace records)
	KeyTarget                         // u64 index of the attach target (Build.Index): which function of a wildcard
	KeyTgid                           // u32 process id (tgid)
	KeyPid                            // u32 thread id
	KeyComm                           // char[16] bpf_get_current_comm
	KeyKernelStack                    // s32 kernel stack id in the stacks map, or -errno
	KeyUserStack                      // s32 user stack id, likewise
)

func (k KeyKind) String() string {
	switch k {
	case KeyValue:
		return "value"
	case KeyTarget:
		return "target"
	case KeyTgid:
		return "tgid"
	case KeyPid:
		return "pid"
	case KeyComm:
		return "comm"
	case KeyKernelStack:
		return "kstack"
	case KeyUserStack:
		return "ustack"
	}
	return fmt.Sprintf("KeyKind(%d)", uint8(k))
}

// KeyPart is one part of an AggSink's key.
type KeyPart struct {
	Kind  KeyKind
	Value *Value // KeyValue
}

// Linear are a linear histogram's bounds: slot 0 counts values below
// Min, slot i (1..N) values in [Min+(i-1)*Step, Min+i*Step), slot N+1
// values at or above Max, where N = ceil((Max-Min)/Step). The bounds
// compare signed when the value is signed.
type Linear struct {
	Min, Max int64
	Step     uint64
}

// buckets returns N.
func (l Linear) buckets() uint64 {
	w := uint64(l.Max) - uint64(l.Min)
	return (w + l.Step - 1) / l.Step
}

// Log2Slots is the number of slots of a log2 histogram: slot 0 counts
// the value 0, slot s (1..64) values v with bits.Len64(v) == s, that is
// [2^(s-1), 2^s), and slot Log2Negative negative values of a signed type
// (an unsigned value is never negative: 2^63 and up go to slot 64). This
// is bcc's bpf_log2l() except at 0, which bcc counts in slot 1 with the
// 1s; bcc's labels (slot s: 2^(s-1) -> 2^s - 1) fit every other slot.
const (
	Log2Slots    = 66
	Log2Negative = 65
)

// MaxLinearBuckets bounds Linear's N.
const MaxLinearBuckets = 1 << 16

// DefaultAggEntries is an AggSink's map size when MaxEntries is 0.
const DefaultAggEntries = 10240

// The counters of an AggSink's drops map.
const (
	AggDropFull        = 0 // a new key could not be inserted (map full): the event is not counted
	AggDropKernelStack = 1 // bpf_get_stackid failed for the kernel stack (counted with the -errno id)
	AggDropUserStack   = 2 // likewise for the user stack
	AggDrops           = 3 // entries of the drops map
)

// AggSink aggregates events per key in a per-CPU hash: it counts them,
// sums, or keeps the minimum or maximum of Value, or counts them per log2
// or linear histogram slot of Value. The key is the concatenation of the
// Key parts (expressions, the target index, tgid, tid, comm, stack ids),
// plus the histogram slot. It is the sink of argdist (freq and hist),
// funclatency (a log2 histogram of a Stash's Latency) and stackcount
// (a count keyed by stack ids).
//
// Maps:
//
//	Map          BPF_MAP_TYPE_PERCPU_HASH (4.6) of MaxEntries entries,
//	             key and value laid out as AggSink.Layout says.
//	Map+"_drops" per-CPU array of AggDrops u64 counters (AggDrop*).
//	"stacks"     StackMapSpec, with a KeyKernelStack or KeyUserStack part.
//
// Per-CPU values need no atomics: an existing key is a lookup and an
// in-place update. A new key is inserted with BPF_NOEXIST; when another
// CPU inserted it first the lookup is retried, and when the map is full
// the event is counted in AggDropFull, never silently lost. The runtime
// sums the CPUs' values (min and max: over CPUs whose count is not 0,
// since a key new on one CPU reads as zero on the others). The map is
// preallocated: MaxEntries × (key + ValueSize × CPUs) bytes of kernel
// memory. A runtime that clears the map between intervals by deleting
// keys should know that kernels before 5.10 ("bpf: zero-fill re-used
// per-cpu map element") may hand a re-used element's other CPUs their
// stale values; reading the whole map and subtracting avoids that.
//
// Per event: one hash lookup (two for a new key, plus the insert), the
// helpers the key parts need (pid_tgid once for tgid and pid, comm, one
// bpf_get_stackid per stack) and the expressions' reads; no atomics, no
// loops.
//
// Kernel: BPF_MAP_TYPE_PERCPU_HASH and bpf_get_stackid 4.6, plus the
// mode's needs (the prologue's JMP32 filters, 5.1).
type AggSink struct {
	Map        string // map name; "" means "agg". Give each sink of a session its own.
	Key        []KeyPart
	Agg        AggKind
	Value      *Value // the aggregated value: integers only; nil for AggCount
	Linear     Linear // AggLinear's slots
	MaxEntries uint32 // 0 means DefaultAggEntries
	StringSize int    // bytes of string key parts; 0 means DefaultStringSize
	// NewKeys, when set, names a BPF_MAP_TYPE_PERF_EVENT_ARRAY (4.4) that
	// receives a copy of each key the program inserts (bpf_perf_event_output
	// of the key's bytes, on the new key's path only): the runtime learns
	// of a new process at its first event, while it still runs, and can
	// read its memory map before it exits. A lost copy costs nothing but
	// that early notice.
	NewKeys string
}

func (s *AggSink) name() string {
	if s.Map == "" {
		return "agg"
	}
	return s.Map
}

// DropsMap is the name of the sink's drops counters map.
func (s *AggSink) DropsMap() string { return s.name() + "_drops" }

func (s *AggSink) stringSize() int {
	if s.StringSize == 0 {
		return DefaultStringSize
	}
	return s.StringSize
}

// KeyField places one key part in an AggSink's key.
type KeyField struct {
	Part   KeyKind
	Kind   FieldKind // how to decode it: FieldInt, FieldUint, FieldAddr, FieldStr (KeyValue: StringSize bytes then the status byte; KeyComm: 16 bytes)
	Offset int
	Size   int
	Expr   string // KeyValue: the expression's source text
}

// AggLayout is the byte layout of an AggSink's map, for the runtime to
// decode. All integers are little endian; padding is zero.
//
// Values, per CPU:
//
//	AggCount, AggLog2, AggLinear  u64 count at 0
//	AggSum                        u64 sum (two's complement if ValueSigned) at 0, u64 count at 8
//	AggMin, AggMax                u64 value (s64 if ValueSigned) at 0, u64 count at 8;
//	                              count 0 means this CPU has no value for the key
type AggLayout struct {
	Agg         AggKind
	Key         []KeyField
	KeySize     int
	SlotOffset  int // AggLog2, AggLinear: the u64 slot index in the key; -1 otherwise
	Slots       int // AggLog2: Log2Slots; AggLinear: N+2; 0 otherwise
	ValueSize   int
	ValueSigned bool
}

// Layout returns the layout of the sink's map.
func (s *AggSink) Layout() AggLayout {
	l := AggLayout{Agg: s.Agg, SlotOffset: -1}
	off := 0
	put := func(f KeyField, align int) {
		off = (off + align - 1) &^ (align - 1)
		f.Offset = off
		off += f.Size
		l.Key = append(l.Key, f)
	}
	for _, p := range s.Key {
		switch p.Kind {
		case KeyValue:
			if p.Value == nil {
				continue
			}
			if p.Value.Kind == FieldStr {
				put(KeyField{Part: p.Kind, Kind: FieldStr, Size: s.stringSize() + 1, Expr: p.Value.Expr}, 1)
			} else {
				put(KeyField{Part: p.Kind, Kind: p.Value.Kind, Size: 8, Expr: p.Value.Expr}, 8)
			}
		case KeyTarget:
			put(KeyField{Part: p.Kind, Kind: FieldUint, Size: 8}, 8)
		case KeyTgid, KeyPid:
			put(KeyField{Part: p.Kind, Kind: FieldUint, Size: 4}, 4)
		case KeyComm:
			put(KeyField{Part: p.Kind, Kind: FieldStr, Size: 16}, 1)
		case KeyKernelStack, KeyUserStack:
			put(KeyField{Part: p.Kind, Kind: FieldInt, Size: 4}, 4)
		}
	}
	switch s.Agg {
	case AggLog2, AggLinear:
		off = (off + 7) &^ 7
		l.SlotOffset = off
		off += 8
		l.Slots = Log2Slots
		if s.Agg == AggLinear {
			l.Slots = int(s.Linear.buckets()) + 2
		}
	}
	l.KeySize = max((off+7)&^7, 8)
	l.ValueSize = 8
	switch s.Agg {
	case AggSum, AggMin, AggMax:
		l.ValueSize = 16
	}
	l.ValueSigned = s.Value != nil && s.Value.Signed()
	return l
}

// holes reports whether some key bytes are not always written: padding,
// and strings (comm included: older kernels copy it without padding).
func (l AggLayout) holes() bool {
	n := 0
	for _, f := range l.Key {
		if f.Kind == FieldStr {
			return true
		}
		n += f.Size
	}
	if l.SlotOffset >= 0 {
		n += 8
	}
	return n != l.KeySize
}

// stashed returns v's irStash when v is a stashed value as is.
func (v *Value) stashed() (*irStash, bool) {
	if v == nil {
		return nil, false
	}
	st, ok := v.node.(*irStash)
	return st, ok
}

func (s *AggSink) hasStacks() bool {
	for _, p := range s.Key {
		if p.Kind == KeyKernelStack || p.Kind == KeyUserStack {
			return true
		}
	}
	return false
}

// Maps declares the aggregation map, its drops counters and, with stack
// parts, the stacks map.
func (s *AggSink) Maps() []*ebpf.MapSpec {
	l := s.Layout()
	n := s.MaxEntries
	if n == 0 {
		n = DefaultAggEntries
	}
	maps := []*ebpf.MapSpec{
		{Name: s.name(), Type: ebpf.PerCPUHash, KeySize: uint32(l.KeySize), ValueSize: uint32(l.ValueSize), MaxEntries: n},
		{Name: s.DropsMap(), Type: ebpf.PerCPUArray, KeySize: 4, ValueSize: 8, MaxEntries: AggDrops},
	}
	if s.hasStacks() {
		maps = append(maps, StackMapSpec())
	}
	if s.NewKeys != "" {
		maps = append(maps, &ebpf.MapSpec{Name: s.NewKeys, Type: ebpf.PerfEventArray})
	}
	return maps
}

func (s *AggSink) check() error {
	switch s.Agg {
	case AggCount:
	case AggSum, AggMin, AggMax, AggLog2, AggLinear:
		if s.Value == nil || s.Value.node == nil {
			return fmt.Errorf("%s aggregation needs an integer value", s.Agg)
		}
	default:
		return fmt.Errorf("unknown aggregation %d", s.Agg)
	}
	if s.Agg == AggLinear {
		lin := s.Linear
		if lin.Step == 0 || lin.Max <= lin.Min {
			return fmt.Errorf("linear histogram needs min < max and a step > 0, have min %d, max %d, step %d", lin.Min, lin.Max, lin.Step)
		}
		if s.Value != nil && !s.Value.Signed() && lin.Min < 0 {
			return fmt.Errorf("linear histogram of an unsigned value needs min >= 0, have %d", lin.Min)
		}
		if lin.buckets() > MaxLinearBuckets {
			return fmt.Errorf("linear histogram of %d buckets, more than %d", lin.buckets(), MaxLinearBuckets)
		}
	}
	for _, p := range s.Key {
		if p.Kind == KeyValue && p.Value == nil {
			return fmt.Errorf("key part without a value")
		}
		if p.Kind < KeyValue || p.Kind > KeyUserStack {
			return fmt.Errorf("unknown key part %d", p.Kind)
		}
	}
	return nil
}

// Register use in AggSink.gen: R7 points at the key on the stack (so
// storeString can write string parts as it writes record fields).
func (s *AggSink) gen(g *codegen, b *Build) error {
	if err := s.check(); err != nil {
		return err
	}
	g.ss = s.stringSize()
	l := s.Layout()
	key := g.alloc(l.KeySize)
	init := g.alloc(16) // a new key's value
	x := g.alloc(8)     // Value, kept across helper calls
	defer g.free(l.KeySize + 16 + 8)

	if st, ok := s.Value.stashed(); ok && s.Agg != AggCount {
		x = st.off // a stashed value ($latency) already has its slot
	} else if s.Value != nil && s.Agg != AggCount {
		g.mark(SpecPart{Label: "value: " + s.Value.Expr})
		r, _ := g.allocReg()
		g.value(s.Value.node, r)
		g.emit(asm.StoreMem(asm.RFP, x, r, asm.DWord))
		g.freeReg(r)
	}

	s.genKey(g, b, l, key)
	switch s.Agg {
	case AggLog2:
		g.mark(SpecPart{Label: "log2 slot"})
		g.emit(asm.LoadMem(asm.R2, asm.RFP, x, asm.DWord))
		g.log2Slot(s.Value.Signed())
		g.emit(asm.StoreMem(asm.R7, int16(l.SlotOffset), asm.R3, asm.DWord))
	case AggLinear:
		g.mark(SpecPart{Label: "linear slot"})
		g.emit(asm.LoadMem(asm.R2, asm.RFP, x, asm.DWord))
		g.linearSlot(s.Linear, s.Value.Signed())
		g.emit(asm.StoreMem(asm.R7, int16(l.SlotOffset), asm.R3, asm.DWord))
	}

	s.genUpdate(g, l, x, init)
	return nil
}

// genUpdate adds the event (x on the stack) to the key R7 points at:
// an in-place update of an existing key, else an insert of init (a stack
// slot of 16 bytes), retried as an update when another CPU inserted the
// key first; a full map counts AggDropFull.
func (s *AggSink) genUpdate(g *codegen, l AggLayout, x, init int16) {
	g.mark(SpecPart{Label: "update " + s.name()})
	done, miss, full := g.newLabel(), g.newLabel(), g.newLabel()
	lookup := func(miss string) {
		g.emit(
			asm.LoadMapPtr(asm.R1, 0).WithReference(s.name()),
			asm.Mov.Reg(asm.R2, asm.R7),
			asm.FnMapLookupElem.Call(),
			asm.JEq.Imm(asm.R0, 0, miss),
		)
		s.modify(g, x, l.ValueSigned)
		g.emit(asm.Ja.Label(done))
	}
	lookup(miss)
	g.bind(miss)
	// A new key: insert its first value, unless another CPU just did.
	switch s.Agg {
	case AggSum, AggMin, AggMax:
		g.emit(
			asm.LoadMem(asm.R1, asm.RFP, x, asm.DWord),
			asm.StoreMem(asm.RFP, init, asm.R1, asm.DWord),
			storeImm64(asm.RFP, init+8, 1),
		)
	default:
		g.emit(storeImm64(asm.RFP, init, 1))
	}
	g.emit(
		asm.LoadMapPtr(asm.R1, 0).WithReference(s.name()),
		asm.Mov.Reg(asm.R2, asm.R7),
		asm.Mov.Reg(asm.R3, asm.RFP),
		asm.Add.Imm(asm.R3, int32(init)),
		asm.Mov.Imm(asm.R4, bpfNoexist),
		asm.FnMapUpdateElem.Call(),
	)
	inserted := done
	if s.NewKeys != "" {
		inserted = g.newLabel()
	}
	g.emit(
		asm.JEq.Imm(asm.R0, 0, inserted),
		asm.JNE.Imm32(asm.R0, errEEXIST, full), // 32 bits: see errEEXIST
	)
	lookup(full)
	g.bind(full)
	g.mark(SpecPart{Label: "count a dropped event (map full)"})
	g.emit(asm.StoreImm(asm.RFP, stackKey, AggDropFull, asm.Word))
	g.incPerCPU(s.DropsMap(), stackKey, done)
	if s.NewKeys != "" {
		g.emit(asm.Ja.Label(done))
		g.bind(inserted)
		g.mark(SpecPart{Label: "tell the runtime of the new key"})
		g.emit(
			asm.Mov.Reg(asm.R1, asm.R6),
			asm.LoadMapPtr(asm.R2, 0).WithReference(s.NewKeys),
			asm.Mov.Imm32(asm.R3, -1), // BPF_F_CURRENT_CPU: 0xffffffff, zero-extended
			asm.Mov.Reg(asm.R4, asm.R7),
			asm.Mov.Imm(asm.R5, int32(l.KeySize)),
			asm.FnPerfEventOutput.Call(),
		)
	}
	g.bind(done)
}

// genKey builds the key at stack offset key, laid out as l, and leaves R7
// pointing at it. Failed stack ids are counted in the drops map and kept
// (as -errno) in the key.
func (s *AggSink) genKey(g *codegen, b *Build, l AggLayout, key int16) {
	g.mark(SpecPart{Label: "key"})
	g.emit(asm.Mov.Reg(asm.R7, asm.RFP), asm.Add.Imm(asm.R7, int32(key)))
	if l.holes() {
		// Padding and the bytes after a string's NUL are part of
		// the key: zero them, or equal keys would differ.
		for off := 0; off < l.KeySize; off += 8 {
			g.emit(storeImm64(asm.R7, int16(off), 0))
		}
	}
	for i, f := range l.Key {
		p := s.Key[i] // check rejected parts Layout would skip
		off := int16(f.Offset)
		switch p.Kind {
		case KeyValue:
			g.mark(SpecPart{Label: "key: " + p.Value.Expr})
			r, _ := g.allocReg()
			if p.Value.Kind == FieldStr {
				g.storeString(p.Value.str, f.Offset, r)
			} else {
				g.value(p.Value.node, r)
				g.emit(asm.StoreMem(asm.R7, off, r, asm.DWord))
			}
			g.freeReg(r)
		case KeyTarget:
			g.index(b.Index)
			g.emit(asm.StoreMem(asm.R7, off, asm.R0, asm.DWord))
		case KeyTgid:
			g.pidTgidSave()
			g.emit(asm.RSh.Imm(asm.R0, 32), asm.StoreMem(asm.R7, off, asm.R0, asm.Word))
		case KeyPid:
			g.pidTgidSave()
			g.emit(asm.StoreMem(asm.R7, off, asm.R0, asm.Word))
		case KeyComm:
			g.emit(
				asm.Mov.Reg(asm.R1, asm.R7),
				asm.Add.Imm(asm.R1, int32(off)),
				asm.Mov.Imm(asm.R2, 16),
				asm.FnGetCurrentComm.Call(),
			)
		case KeyKernelStack, KeyUserStack:
			flags, drop := int32(0), int64(AggDropKernelStack)
			if p.Kind == KeyUserStack {
				flags, drop = bpfFUserStack, AggDropUserStack
			}
			ok := g.newLabel()
			g.emit(
				asm.Mov.Reg(asm.R1, asm.R6),
				asm.LoadMapPtr(asm.R2, 0).WithReference(MapStacks),
				asm.Mov.Imm(asm.R3, flags),
				asm.FnGetStackid.Call(),
				asm.StoreMem(asm.R7, off, asm.R0, asm.Word),
				asm.JSGE.Imm(asm.R0, 0, ok),
				asm.StoreImm(asm.RFP, stackKey, drop, asm.Word),
			)
			g.incPerCPU(s.DropsMap(), stackKey, ok)
			g.bind(ok)
		}
	}
}

// modify updates the value R0 points to with the event (x on the stack).
func (s *AggSink) modify(g *codegen, x int16, signed bool) {
	switch s.Agg {
	case AggSum:
		g.emit(
			asm.LoadMem(asm.R1, asm.R0, 0, asm.DWord),
			asm.LoadMem(asm.R2, asm.RFP, x, asm.DWord),
			asm.Add.Reg(asm.R1, asm.R2),
			asm.StoreMem(asm.R0, 0, asm.R1, asm.DWord),
			asm.LoadMem(asm.R1, asm.R0, 8, asm.DWord),
			asm.Add.Imm(asm.R1, 1),
			asm.StoreMem(asm.R0, 8, asm.R1, asm.DWord),
		)
	case AggMin, AggMax:
		// Replace the value when this CPU has none yet (count 0) or x
		// beats it.
		set, skip := g.newLabel(), g.newLabel()
		var keep asm.JumpOp // x does not beat the current value
		switch {
		case s.Agg == AggMin && signed:
			keep = asm.JSGE
		case s.Agg == AggMin:
			keep = asm.JGE
		case signed:
			keep = asm.JSLE
		default:
			keep = asm.JLE
		}
		g.emit(
			asm.LoadMem(asm.R1, asm.R0, 8, asm.DWord),
			asm.LoadMem(asm.R2, asm.RFP, x, asm.DWord),
			asm.JEq.Imm(asm.R1, 0, set),
			asm.LoadMem(asm.R3, asm.R0, 0, asm.DWord),
			keep.Reg(asm.R2, asm.R3, skip),
		)
		g.bind(set)
		g.emit(asm.StoreMem(asm.R0, 0, asm.R2, asm.DWord))
		g.bind(skip)
		g.emit(
			asm.Add.Imm(asm.R1, 1),
			asm.StoreMem(asm.R0, 8, asm.R1, asm.DWord),
		)
	default:
		g.emit(
			asm.LoadMem(asm.R1, asm.R0, 0, asm.DWord),
			asm.Add.Imm(asm.R1, 1),
			asm.StoreMem(asm.R0, 0, asm.R1, asm.DWord),
		)
	}
}

// log2Slot leaves the log2 slot of the value in R2 in R3 (see Log2Slots):
// bits.Len64 by binary search, no loop. It clobbers R1 and R2.
func (g *codegen) log2Slot(signed bool) {
	done := ""
	g.emit(asm.Mov.Imm(asm.R3, 0))
	if signed {
		done = g.newLabel()
		pos := g.newLabel()
		g.emit(
			asm.JSGE.Imm(asm.R2, 0, pos),
			asm.Mov.Imm(asm.R3, Log2Negative),
			asm.Ja.Label(done),
		)
		g.bind(pos)
	}
	for _, sh := range []int32{32, 16, 8, 4, 2, 1} {
		next := g.newLabel()
		g.emit(
			asm.Mov.Reg(asm.R1, asm.R2),
			asm.RSh.Imm(asm.R1, sh),
			asm.JEq.Imm(asm.R1, 0, next),
			asm.Mov.Reg(asm.R2, asm.R1),
			asm.Add.Imm(asm.R3, sh),
		)
		g.bind(next)
	}
	g.emit(asm.Add.Reg(asm.R3, asm.R2)) // R2 is 0 or 1 now
	if done != "" {
		g.bind(done)
	}
}

// linearSlot leaves the linear slot of the value in R2 in R3 (see
// Linear). It clobbers R1 and R2.
func (g *codegen) linearSlot(lin Linear, signed bool) {
	done := g.newLabel()
	lt := asm.JLT
	if signed {
		lt = asm.JSLT
	}
	n := lin.buckets()
	g.emit(asm.Mov.Imm(asm.R3, 0))
	g.loadConst(asm.R1, uint64(lin.Min))
	g.emit(
		lt.Reg(asm.R2, asm.R1, done),
		asm.Sub.Reg(asm.R2, asm.R1), // x - min: non-negative from here
	)
	g.loadConst(asm.R3, n+1)
	// Compare x - min with max - min, unsigned, so signed bounds need no
	// second signed compare.
	g.loadConst(asm.R1, uint64(lin.Max)-uint64(lin.Min))
	g.emit(asm.JGE.Reg(asm.R2, asm.R1, done))
	if lin.Step <= math.MaxInt32 {
		g.emit(asm.Div.Imm(asm.R2, int32(lin.Step)))
	} else {
		g.loadConst(asm.R1, lin.Step)
		g.emit(asm.Div.Reg(asm.R2, asm.R1))
	}
	g.emit(
		asm.Mov.Reg(asm.R3, asm.R2),
		asm.Add.Imm(asm.R3, 1),
	)
	g.bind(done)
}

// storeImm64 is *(u64 *)(dst + off) = imm, sign-extended from 32 bits
// (BPF_ST | BPF_MEM | BPF_DW, which asm.StoreImm does not emit).
func storeImm64(dst asm.Register, off int16, imm int32) asm.Instruction {
	return asm.Instruction{OpCode: asm.StoreImmOp(asm.DWord), Dst: dst, Offset: off, Constant: int64(imm)}
}
