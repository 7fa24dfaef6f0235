package compile

import (
	"fmt"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
)

// Stash carries values from a function's entry to its return: the entry
// program (EntrySink) stores them in a hash keyed by pid_tgid, and the
// return program (a Build with Stash set) looks them up right after its
// prologue filters, before the predicate, copies them to the stack and
// deletes the entry. The return program's expressions read them through
// Latency and Entry (or CheckValues' $latency and $entry(x)). It is what
// funclatency's latency and argdist's $latency and $entry(param) are made
// of.
//
// Maps (both programs reference both; the specs are identical, so the
// runtime creates each once per session):
//
//	Map          BPF_MAP_TYPE_LRU_HASH (4.10), MaxEntries entries;
//	             key u64 pid_tgid (tgid<<32 | tid), then with PerTarget
//	             the u64 target index;
//	             value StashLayout.ValueSize bytes: [u64 bpf_ktime_get_ns()
//	             at entry, if Timestamp] then one u64 per field,
//	             sign- or zero-extended from its type.
//	Map+"_drops" per-CPU array of StashDrops u64 counters:
//	             [StashDropFull] entry updates that failed,
//	             [StashDropMissing] returns without a stashed entry.
//
// The stash is an LRU hash so entries of calls that never return (a task
// exiting inside the function, or a return probe detached first) are
// evicted when the map fills instead of blocking new ones. A return
// without an entry (the entry fired before the probes were attached, the
// entry was evicted, or the entry program was filtered out) skips the
// event and is counted, never silently lost. Recursive calls overwrite
// the outer call's entry, as in bcc. Goroutines that move between threads
// while in the function (uprobes on Go code) miss their entries: the key
// is the thread.
//
// Give the entry and return programs the same Filters: an entry whose
// return is filtered out (or whose return program's predicate is the
// constant false) stays until the LRU evicts it.
//
// Kernel: BPF_MAP_TYPE_LRU_HASH 4.10, plus the mode's needs.
type Stash struct {
	Map        string   // map name; "" means "stash"
	MaxEntries uint32   // 0 means DefaultStashEntries
	Timestamp  bool     // stash bpf_ktime_get_ns() at entry, for Latency
	Fields     []*Value // integers and pointers checked in the entry probe's context
	// PerTarget adds the target index (Build.Index, the same in the
	// entry and return programs) to the key, so traced functions that
	// call each other (a wildcard funclatency) keep their own entries.
	PerTarget bool
}

// DefaultStashEntries is the stash size when Stash.MaxEntries is 0: calls
// in flight at once, across all threads.
const DefaultStashEntries = 10240

// The counters of a stash's drops map.
const (
	StashDropFull    = 0 // the entry program could not store its values
	StashDropMissing = 1 // a return found nothing stashed: the event was skipped
	StashDrops       = 2 // entries of the drops map
)

func (s *Stash) name() string {
	if s.Map == "" {
		return "stash"
	}
	return s.Map
}

// DropsMap is the name of the stash's drops counters map.
func (s *Stash) DropsMap() string { return s.name() + "_drops" }

// StashLayout is the byte layout of a stash map's values.
type StashLayout struct {
	ValueSize   int
	TimestampAt int   // offset of the u64 entry timestamp; -1 without one
	FieldsAt    []int // offset of each u64 field
}

// Layout returns the layout of the stash's values.
func (s *Stash) Layout() StashLayout {
	l := StashLayout{TimestampAt: -1}
	off := 0
	if s.Timestamp {
		l.TimestampAt, off = 0, 8
	}
	for range s.Fields {
		l.FieldsAt = append(l.FieldsAt, off)
		off += 8
	}
	l.ValueSize = off
	return l
}

// Maps declares the stash and its drops counters.
func (s *Stash) Maps() []*ebpf.MapSpec {
	n := s.MaxEntries
	if n == 0 {
		n = DefaultStashEntries
	}
	return []*ebpf.MapSpec{
		{Name: s.name(), Type: ebpf.LRUHash, KeySize: uint32(s.keySize()), ValueSize: uint32(max(s.Layout().ValueSize, 8)), MaxEntries: n},
		{Name: s.DropsMap(), Type: ebpf.PerCPUArray, KeySize: 4, ValueSize: 8, MaxEntries: StashDrops},
	}
}

func (s *Stash) keySize() int {
	if s.PerTarget {
		return 16
	}
	return 8
}

// key builds the stash key on the stack (pid_tgid, and the target index
// with PerTarget) and returns its offset. The caller frees keySize bytes.
func (g *codegen) stashKey(s *Stash, b *Build) int16 {
	key := g.alloc(s.keySize())
	g.pidTgidSave()
	g.emit(asm.StoreMem(asm.RFP, key, asm.R0, asm.DWord))
	if s.PerTarget {
		g.index(b.Index)
		g.emit(asm.StoreMem(asm.RFP, key+8, asm.R0, asm.DWord))
	}
	return key
}

func (s *Stash) check() error {
	if len(s.Fields) == 0 && !s.Timestamp {
		return fmt.Errorf("stash %s: nothing to stash", s.name())
	}
	for _, f := range s.Fields {
		if f.Kind == FieldStr || f.node == nil {
			return fmt.Errorf("stash %s: %s: only integers and pointers can be stashed", s.name(), f.Expr)
		}
	}
	return nil
}

// slots is the number of 8-byte stack slots the return program copies
// the stash into: one per field, then the latency.
func (s *Stash) slots() int {
	n := len(s.Fields)
	if s.Timestamp {
		n++
	}
	return n
}

// slot returns the stack offset of slot i in the return program. The
// stash load is the program's first stack allocation (loadStash checks
// that), so the offsets are known when the expressions are checked.
func (s *Stash) slot(i int) int16 {
	return int16(-(stackFixed + 8*s.slots()) + 8*i)
}

// Latency is the return program's value now - (the entry's timestamp):
// nanoseconds of bpf_ktime_get_ns, u64. It is nil without Timestamp.
func (s *Stash) Latency() *Value {
	if !s.Timestamp {
		return nil
	}
	return &Value{Kind: FieldUint, Expr: "$latency", node: &irStash{off: s.slot(len(s.Fields)), t: tULong}, typ: btfULong}
}

// Entry is the return program's value of Fields[i] as stashed at entry.
func (s *Stash) Entry(i int) *Value {
	f := s.Fields[i]
	return &Value{Kind: f.Kind, Expr: "$entry(" + f.Expr + ")", node: &irStash{off: s.slot(i), t: f.node.irType()}, typ: f.typ, space: f.space}
}

// irStash reads a stashed value the return program copied to the stack
// at off (see Stash.slot). It is already normalized to t.
type irStash struct {
	off int16
	t   intType
}

func (n *irStash) irType() intType { return n.t }

// stashValue emits the load of an irStash (see codegen.value).
func (g *codegen) stashValue(n *irStash, dst asm.Register) {
	g.emit(asm.LoadMem(dst, asm.RFP, n.off, asm.DWord))
}

// BPF_ANY, BPF_NOEXIST for bpf_map_update_elem; -EEXIST.
const (
	bpfAny     = 0
	bpfNoexist = 1
	errEEXIST  = -17
)

// loadStash is the return program's stash lookup, emitted by Compile
// right after the prologue: it takes the time, looks up pid_tgid, copies
// the fields to their slots, computes the latency and deletes the entry.
// A miss counts StashDropMissing and exits.
func (g *codegen) loadStash(s *Stash, b *Build) error {
	if err := s.check(); err != nil {
		return err
	}
	if g.sp != 0 {
		return fmt.Errorf("internal error: stash load is not the first stack allocation")
	}
	n := s.slots()
	g.alloc(8 * n) // never freed: the slots live for the whole program
	l := s.Layout()
	g.mark(SpecPart{Label: "load the values stashed at entry"})
	lat := s.slot(len(s.Fields))
	if s.Timestamp {
		// The time first: the lookup is not part of the latency.
		g.emit(
			asm.FnKtimeGetNs.Call(),
			asm.StoreMem(asm.RFP, lat, asm.R0, asm.DWord),
		)
	}
	key := g.stashKey(s, b)
	defer g.free(s.keySize())
	g.emit(
		asm.LoadMapPtr(asm.R1, 0).WithReference(s.name()),
		asm.Mov.Reg(asm.R2, asm.RFP),
		asm.Add.Imm(asm.R2, int32(key)),
		asm.FnMapLookupElem.Call(),
		asm.JEq.Imm(asm.R0, 0, "stash_missing"),
	)
	for i := range s.Fields {
		g.emit(
			asm.LoadMem(asm.R1, asm.R0, int16(l.FieldsAt[i]), asm.DWord),
			asm.StoreMem(asm.RFP, s.slot(i), asm.R1, asm.DWord),
		)
	}
	if s.Timestamp {
		g.emit(
			asm.LoadMem(asm.R1, asm.R0, int16(l.TimestampAt), asm.DWord),
			asm.LoadMem(asm.R2, asm.RFP, lat, asm.DWord),
			asm.Sub.Reg(asm.R2, asm.R1),
			asm.StoreMem(asm.RFP, lat, asm.R2, asm.DWord),
		)
	}
	g.emit(
		asm.LoadMapPtr(asm.R1, 0).WithReference(s.name()),
		asm.Mov.Reg(asm.R2, asm.RFP),
		asm.Add.Imm(asm.R2, int32(key)),
		asm.FnMapDeleteElem.Call(),
	)
	g.tails = append(g.tails, func() {
		g.bind("stash_missing")
		g.mark(SpecPart{Label: "count a return without an entry"})
		g.emit(asm.StoreImm(asm.RFP, stackKey, StashDropMissing, asm.Word))
		g.incPerCPU(s.DropsMap(), stackKey, "exit")
		g.emit(asm.Ja.Label("exit"))
	})
	return nil
}

// EntrySink stashes Stash's fields and timestamp at a function's entry
// (see Stash): pid_tgid → [ktime, fields...] in the stash's LRU hash with
// BPF_ANY, counting a failed update in StashDropFull. The timestamp is
// taken last, so evaluating the fields and the key is not part of the
// latency. Its maps are the Stash's. Kernel: LRU hash 4.10, plus the
// mode's needs.
type EntrySink struct {
	Stash *Stash
}

// Maps declares the stash maps.
func (s *EntrySink) Maps() []*ebpf.MapSpec { return s.Stash.Maps() }

func (s *EntrySink) gen(g *codegen, b *Build) error {
	st := s.Stash
	if st == nil {
		return fmt.Errorf("entry sink: no stash")
	}
	if err := st.check(); err != nil {
		return err
	}
	l := st.Layout()
	val := g.alloc(l.ValueSize)
	defer g.free(l.ValueSize)
	for i, f := range st.Fields {
		g.mark(SpecPart{Label: "stash " + f.Expr})
		r, _ := g.allocReg()
		g.value(f.node, r)
		g.emit(asm.StoreMem(asm.RFP, val+int16(l.FieldsAt[i]), r, asm.DWord))
		g.freeReg(r)
	}
	g.mark(SpecPart{Label: "stash"})
	key := g.stashKey(st, b)
	defer g.free(st.keySize())
	if st.Timestamp {
		g.emit(
			asm.FnKtimeGetNs.Call(),
			asm.StoreMem(asm.RFP, val+int16(l.TimestampAt), asm.R0, asm.DWord),
		)
	}
	g.emit(
		asm.LoadMapPtr(asm.R1, 0).WithReference(st.name()),
		asm.Mov.Reg(asm.R2, asm.RFP),
		asm.Add.Imm(asm.R2, int32(key)),
		asm.Mov.Reg(asm.R3, asm.RFP),
		asm.Add.Imm(asm.R3, int32(val)),
		asm.Mov.Imm(asm.R4, bpfAny),
		asm.FnMapUpdateElem.Call(),
		asm.JEq.Imm(asm.R0, 0, "exit"),
		asm.StoreImm(asm.RFP, stackKey, StashDropFull, asm.Word),
	)
	g.incPerCPU(st.DropsMap(), stackKey, "exit")
	return nil
}

// pidTgidSave is pidTgid that also saves the value in the prologue's slot
// the first time, so later uses in the program load it instead of
// calling the helper again. Call it only from straight-line code that
// every later use passes through (sinks, the stash load).
func (g *codegen) pidTgidSave() {
	if g.savedPidTgid {
		g.pidTgid()
		return
	}
	g.emit(
		asm.FnGetCurrentPidTgid.Call(),
		asm.StoreMem(asm.RFP, stackPidTgid, asm.R0, asm.DWord),
	)
	g.savedPidTgid = true
}
