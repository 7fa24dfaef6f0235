package compile

import (
	"fmt"
	"runtime"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
)

// Stash carries values from a start probe (a function's entry) to an end
// probe (its return, or any later probe): the start program (EntrySink)
// stores them in an LRU hash, and the end program (a Build with Stash
// set) looks them up right after its prologue filters, before the
// predicate, copies them to the stack and deletes the entry. The end
// program's expressions read them through Latency and Entry (or
// CheckValues' $latency and $entry(x)). It is what funclatency's latency
// and argdist's $latency and $entry(param) are made of.
//
// Key says what matches an end to its start:
//
//	StashKeyThread  the thread (pid_tgid), the default. With Depth 0 one
//	                slot per thread, one BPF_ANY update per start, as in
//	                bcc: a nested call overwrites its caller's entry
//	                (bcc#2548), whose return is then counted missing.
//	                With Depth N > 0 the thread's entry is a stack of N
//	                calls, so recursion and nesting are timed right (see
//	                Depth).
//	StashKeyGoFrame a Go call frame: (tgid, the goroutine's g, the
//	                frame's distance from the top of its stack), for
//	                uprobes on Go functions (the register ABI of Go
//	                1.17+, amd64) whose ends are uprobes on the
//	                function's RET instructions, where sp points at the
//	                same return address as at entry. Goroutines moving
//	                between threads and recursion need no depth stack,
//	                and a stack the runtime moves (growth, shrinking)
//	                under a pending call keeps the distance. A call
//	                that grows its stack at entry re-enters the function
//	                and overwrites its own entry (StashReplaced); calls
//	                that never reach a probed RET (panics) are left to
//	                the LRU.
//	StashKeyExpr    KeyValues integer expressions, EntrySink.Key in
//	                the start probe and Build.StashKey in the end
//	                probe: latency between two probes matched by, e.g.,
//	                a request pointer (biolatency). tgid-independent.
//
// With PerTarget the target index (Build.Index, the same in both
// programs) is appended to any key.
//
// Maps (both programs reference both; the specs are identical, so the
// runtime creates each once per session):
//
//	Map          BPF_MAP_TYPE_LRU_HASH (4.10), MaxEntries entries; the
//	             key and value are described by StashLayout (Layout).
//	             A level is [u64 bpf_ktime_get_ns() at the start, if
//	             Timestamp] then one u64 per field, sign- or
//	             zero-extended from its type. Without Depth the value
//	             is one level; with Depth it is a u64 depth, then
//	             Depth levels.
//	Map+"_drops" per-CPU array of StashDrops u64 counters, the Stash*
//	             constants: drops (StashDropFull, StashDropMissing,
//	             StashDropDeep), StashReplaced, and StashStored and
//	             StashMatched, from which Evicted derives the entries
//	             the LRU evicted.
//
// The stash is an LRU hash so entries of calls that never end (a task
// exiting inside the function, a Go panic, a request never completed, or
// an end probe detached first) are evicted when the map fills instead of
// blocking new ones; Evicted counts them. An end without an entry (the
// start fired before the probes were attached, its entry was evicted, or
// the start program was filtered out) skips the event and is counted in
// StashDropMissing, never silently lost.
//
// Give the start and end programs the same Filters: an entry whose end is
// filtered out (or whose end program's predicate is the constant false)
// stays until the LRU evicts it. Attach the end program before the start
// program, and detach the start program first: then every entry pushed
// belongs to a call whose end is probed (with Depth, a return without an
// entry, of a call already running at attach time, then always finds
// depth 0: every call nested inside it has returned by then).
//
// Concurrency: with StashKeyThread and StashKeyGoFrame an entry is only
// ever touched by its own thread (or goroutine), so plain loads and
// stores of the depth suffice (no atomics): a thread runs on one CPU at
// a time, kprobe, uprobe and perf tracepoint programs don't nest on a CPU
// (bpf_prog_active), and a sleepable program preempted mid-update is
// resumed before its own thread runs again. One exception: a kernel
// function called in interrupt context is timed under the interrupted
// thread's key, and with fentry/fexit (whose recursion check is per
// program) an interrupt's return program can run between a start
// program's read and write of that thread's depth, mis-pairing one call.
// With StashKeyExpr two starts of one key on different CPUs race: one
// inserts (StashStored), the other overwrites it (StashReplaced).
//
// Kernel: BPF_MAP_TYPE_LRU_HASH 4.10 and bounded map value access (4.14)
// with Depth, bpf_probe_read_user (5.5) with StashKeyGoFrame, plus the
// mode's needs.
type Stash struct {
	Map        string   // map name; "" means "stash"
	MaxEntries uint32   // 0 means DefaultStashEntries
	Timestamp  bool     // stash bpf_ktime_get_ns() at entry, for Latency
	Fields     []*Value // integers and pointers checked in the entry probe's context
	// PerTarget adds the target index (Build.Index, the same in the
	// entry and return programs) to the key, so traced functions that
	// call each other (a wildcard funclatency) keep their own entries.
	PerTarget bool
	// Depth, with StashKeyThread, is the number of nested calls of one
	// thread the stash times (0: one slot, overwritten by nested
	// calls). The start pushes its level at index depth (when depth <
	// Depth; a deeper call stores nothing) and increments depth; the
	// end decrements it, copies the popped level (or, for a level >=
	// Depth, skips the event, counted once in StashDropDeep) and
	// deletes the thread's entry when depth reaches 0, so the map holds
	// only threads inside a traced function. Depth need not be a power
	// of two (the index is bounds-checked). 8 + Depth × (level bytes)
	// must be at most MaxStashValue: the start zeroes a new entry on
	// its stack.
	Depth int
	// Key is what matches an end to its start (see Stash).
	Key StashKey
	// KeyValues, with StashKeyExpr, is the number of integer key
	// expressions, the length of both EntrySink.Key and Build.StashKey.
	KeyValues int
}

// StashKey is what a stash entry is keyed by (see Stash).
type StashKey uint8

// The stash keys.
const (
	StashKeyThread  StashKey = iota // pid_tgid: the thread
	StashKeyGoFrame                 // (tgid, g, stack.hi - sp): a Go call frame, uprobes on amd64
	StashKeyExpr                    // KeyValues u64 expressions, computed in each probe
)

func (k StashKey) String() string {
	switch k {
	case StashKeyThread:
		return "thread"
	case StashKeyGoFrame:
		return "go-frame"
	case StashKeyExpr:
		return "expr"
	}
	return fmt.Sprintf("StashKey(%d)", k)
}

// DefaultStashEntries is the stash size when Stash.MaxEntries is 0: calls
// in flight at once, across all threads.
const DefaultStashEntries = 10240

// MaxStashValue is the largest stash value (depth and levels) a Depth
// stash may have: the start program zeroes a new entry on its stack.
const MaxStashValue = 256

// The counters of a stash's drops map, indexes of per-CPU u64s. The
// first two keep their meaning and index from before the others existed.
const (
	StashDropFull    = 0 // a start could not store its values (the update failed)
	StashDropMissing = 1 // an end found nothing stashed (or depth 0): the event was skipped
	StashDropDeep    = 2 // Depth: an end of a call nested deeper than Depth: skipped, its start stored nothing
	StashReplaced    = 3 // a start whose key was still in the map overwrote it: the older start is lost
	StashStored      = 4 // a start inserted a new entry (Depth: a thread's entry created; thread key without Depth: every start stored)
	StashMatched     = 5 // an end found its entry and deleted it (Depth: a thread's entry deleted at depth 0)
	StashDrops       = 6 // entries of the drops map
)

// Evicted returns how many entries the LRU evicted (or that vanished
// otherwise) from counters, the stash's drops map summed over CPUs
// (StashDrops entries), and live, the number of keys in the stash map now
// (the runtime counts them by iterating it): every entry a start inserted
// (StashStored) was deleted by its end (StashMatched), is still in the map
// (live), or was evicted, so evicted = stored - matched - live. A replaced
// entry (StashReplaced) is not a new one and does not count. With
// StashKeyThread and no Depth a start can't tell a new entry from an
// overwrite (one BPF_ANY update, as bcc): StashStored counts every start,
// and the result also counts the entries nested calls overwrote (whose
// returns StashDropMissing counts), i.e. every entry that left the map
// without its end. With Depth, stored and matched count thread entries
// created and deleted.
//
// Read after the probes are detached it is exact. Read while they run,
// the counters and the keys are read at different moments: an insert or
// delete between the two readings makes the result off by the number of
// such events in either direction (it is clamped at 0), so compute
// interval deltas from one reading to the next, not from a single one.
// It is also off by one each time the LRU evicts a thread's entry between
// a start's failed BPF_NOEXIST insert and its BPF_ANY overwrite (the
// overwrite is counted as a replacement but inserts a new entry).
func (s *Stash) Evicted(counters []uint64, live int) uint64 {
	if len(counters) < StashDrops {
		return 0
	}
	out := counters[StashMatched] + uint64(live)
	if counters[StashStored] <= out {
		return 0
	}
	return counters[StashStored] - out
}

func (s *Stash) name() string {
	if s.Map == "" {
		return "stash"
	}
	return s.Map
}

// DropsMap is the name of the stash's drops counters map.
func (s *Stash) DropsMap() string { return s.name() + "_drops" }

// StashLayout is the byte layout of a stash map's keys and values.
type StashLayout struct {
	ValueSize   int   // bytes of a map value
	TimestampAt int   // offset of the u64 entry timestamp in a level; -1 without one
	FieldsAt    []int // offset of each u64 field in a level
	// DepthAt is the offset of the u64 depth with Depth, -1 without.
	// Level i starts at LevelsAt + i*LevelSize; without Depth the value
	// is the only level (LevelsAt 0, LevelSize ValueSize).
	DepthAt   int
	LevelsAt  int
	LevelSize int
	// KeySize is the bytes of a key: StashKeyThread u64 pid_tgid;
	// StashKeyGoFrame u64 tgid, u64 g, u64 stack.hi - sp;
	// StashKeyExpr KeyValues u64s; then, with PerTarget, the u64
	// target index.
	KeySize int
}

// Layout returns the layout of the stash's keys and values.
func (s *Stash) Layout() StashLayout {
	l := StashLayout{TimestampAt: -1, DepthAt: -1}
	off := 0
	if s.Timestamp {
		l.TimestampAt, off = 0, 8
	}
	for range s.Fields {
		l.FieldsAt = append(l.FieldsAt, off)
		off += 8
	}
	l.LevelSize, l.ValueSize = off, off
	if s.Depth > 0 {
		l.DepthAt, l.LevelsAt = 0, 8
		l.ValueSize = 8 + s.Depth*off
	}
	l.KeySize = s.keySize()
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
	n := 8
	switch s.Key {
	case StashKeyGoFrame:
		n = 24
	case StashKeyExpr:
		n = 8 * max(s.KeyValues, 1)
	}
	if s.PerTarget {
		n += 8
	}
	return n
}

// Go's ABIInternal on amd64 keeps the current goroutine's g in R14, and
// runtime.g starts with its stack bounds, struct stack { lo, hi uintptr }:
// stack.hi is at offset 8 (unchanged since Go 1.4).
const goStackHiOff = 8

// stashGoArch is the architecture the Go frame key is generated for: the
// pt_regs offsets (ptRegs) are x86-64's.
var stashGoArch = runtime.GOARCH

// stashKey builds the stash key on the stack and returns its offset; the
// caller frees keySize bytes. keys are the StashKeyExpr values of this
// program (EntrySink.Key or Build.StashKey).
func (g *codegen) stashKey(s *Stash, b *Build, keys []*Value) int16 {
	key := g.alloc(s.keySize())
	off := key
	switch s.Key {
	case StashKeyGoFrame:
		// The frame's distance from the top of its goroutine's stack,
		// stack.hi - sp, is the same at the entry uprobe and at a RET
		// (sp points at the return address at both) and survives the
		// runtime moving the stack (copystack keeps distances from hi),
		// which a raw sp would not. A failed read of stack.hi reads 0,
		// the same at both ends.
		g.pidTgidSave()
		g.emit(
			asm.RSh.Imm(asm.R0, 32),
			asm.StoreMem(asm.RFP, off, asm.R0, asm.DWord),
			asm.LoadMem(asm.R3, asm.R6, ptRegs["r14"], asm.DWord),
			asm.StoreMem(asm.RFP, off+8, asm.R3, asm.DWord),
			asm.Add.Imm(asm.R3, goStackHiOff),
		)
		g.probeRead(asm.R1, 8, SpaceUser)
		g.emit(
			asm.LoadMem(asm.R2, asm.R6, ptRegs["sp"], asm.DWord),
			asm.Sub.Reg(asm.R1, asm.R2),
			asm.StoreMem(asm.RFP, off+16, asm.R1, asm.DWord),
		)
		off += 24
	case StashKeyExpr:
		for _, v := range keys {
			r, _ := g.allocReg()
			g.value(v.node, r)
			g.emit(asm.StoreMem(asm.RFP, off, r, asm.DWord))
			g.freeReg(r)
			off += 8
		}
	default:
		g.pidTgidSave()
		g.emit(asm.StoreMem(asm.RFP, off, asm.R0, asm.DWord))
		off += 8
	}
	if s.PerTarget {
		g.index(b.Index)
		g.emit(asm.StoreMem(asm.RFP, off, asm.R0, asm.DWord))
	}
	return key
}

// check validates the stash for a program of b whose StashKeyExpr key
// values are keys (what names them in errors).
func (s *Stash) check(b *Build, keys []*Value, what string) error {
	if len(s.Fields) == 0 && !s.Timestamp {
		return fmt.Errorf("stash %s: nothing to stash", s.name())
	}
	for _, f := range s.Fields {
		if f.Kind == FieldStr || f.node == nil {
			return fmt.Errorf("stash %s: %s: only integers and pointers can be stashed", s.name(), f.Expr)
		}
	}
	if s.Depth < 0 {
		return fmt.Errorf("stash %s: negative depth %d", s.name(), s.Depth)
	}
	if s.Depth > 0 {
		if s.Key != StashKeyThread {
			return fmt.Errorf("stash %s: a depth stack needs the thread key, not %s", s.name(), s.Key)
		}
		if l := s.Layout(); l.ValueSize > MaxStashValue {
			return fmt.Errorf("stash %s: depth %d of %d-byte levels makes a %d-byte value, more than %d: use a smaller depth or fewer fields", s.name(), s.Depth, l.LevelSize, l.ValueSize, MaxStashValue)
		}
	}
	switch s.Key {
	case StashKeyThread:
	case StashKeyGoFrame:
		if stashGoArch != "amd64" {
			return fmt.Errorf("stash %s: the Go frame key reads the g register (R14) and sp from x86-64 pt_regs: not supported on %s", s.name(), stashGoArch)
		}
		if b.Mode != ModeUprobe && b.Mode != ModeUprobeMulti {
			return fmt.Errorf("stash %s: the Go frame key needs a uprobe program, not %s", s.name(), b.Mode)
		}
	case StashKeyExpr:
		if s.KeyValues < 1 {
			return fmt.Errorf("stash %s: an expression key needs KeyValues >= 1", s.name())
		}
		if len(keys) != s.KeyValues {
			return fmt.Errorf("stash %s: %d %s values for a key of %d", s.name(), len(keys), what, s.KeyValues)
		}
		for _, k := range keys {
			if k.Kind == FieldStr || k.node == nil {
				return fmt.Errorf("stash %s: key %s: only integers and pointers can key a stash", s.name(), k.Expr)
			}
			if readsStash(k.node) {
				return fmt.Errorf("stash %s: key %s reads the stash it looks up", s.name(), k.Expr)
			}
		}
		return nil
	default:
		return fmt.Errorf("stash %s: unknown key %s", s.name(), s.Key)
	}
	if len(keys) != 0 {
		return fmt.Errorf("stash %s: %s values given for a %s key", s.name(), what, s.Key)
	}
	return nil
}

// readsStash reports whether n reads a stashed value ($latency,
// $entry(x)).
func readsStash(n irNode) bool {
	switch n := n.(type) {
	case *irStash:
		return true
	case *irLoad:
		return readsStash(n.addr)
	case *irConv:
		return readsStash(n.x)
	case *irUnary:
		return readsStash(n.x)
	case *irBinary:
		return readsStash(n.x) || readsStash(n.y)
	case *irCompare:
		return readsStash(n.x) || readsStash(n.y)
	case *irLogical:
		return readsStash(n.x) || readsStash(n.y)
	case *irNot:
		return readsStash(n.x)
	case *irCond:
		return readsStash(n.c) || readsStash(n.x) || readsStash(n.y)
	case *irStrEq:
		return n.src != nil && n.src.addr != nil && readsStash(n.src.addr)
	}
	return false
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

// BPF_ANY, BPF_NOEXIST for bpf_map_update_elem; -EEXIST. Compare an
// update's result with errEEXIST in 32 bits (JMP32, 5.1): before 6.4
// ("bpf: return long from bpf_map_ops funcs") the verifier turns the
// helper into a direct call of the map's update op, which returns an int,
// so R0 holds -EEXIST zero-extended (0xffffffef), not sign-extended.
const (
	bpfAny     = 0
	bpfNoexist = 1
	errEEXIST  = -17
)

// stashCount emits the increment of the stash counter c, then continues
// at done (also when the counters can't be read).
func (g *codegen) stashCount(s *Stash, c int64, done string) {
	g.emit(asm.StoreImm(asm.RFP, stackKey, c, asm.Word))
	g.incPerCPU(s.DropsMap(), stackKey, done)
	g.emit(asm.Ja.Label(done))
}

// stashMapCall emits a call of fn on the stash map with the key at key
// (R2) and, for updates, the value at val (R3) and flags (R4).
func (g *codegen) stashMapCall(s *Stash, fn asm.BuiltinFunc, key, val int16, flags int32) {
	g.emit(
		asm.LoadMapPtr(asm.R1, 0).WithReference(s.name()),
		asm.Mov.Reg(asm.R2, asm.RFP),
		asm.Add.Imm(asm.R2, int32(key)),
	)
	if fn == asm.FnMapUpdateElem {
		g.emit(
			asm.Mov.Reg(asm.R3, asm.RFP),
			asm.Add.Imm(asm.R3, int32(val)),
			asm.Mov.Imm(asm.R4, flags),
		)
	}
	g.emit(fn.Call())
}

// loadStash is the end program's stash lookup, emitted by Compile right
// after the prologue of any program (a return probe, a RET-site uprobe, a
// tracepoint): it takes the time, builds the key (from b.StashKey with
// StashKeyExpr), looks it up, copies the fields to their slots, computes
// the latency and deletes the entry (with Depth: pops a level, and
// deletes the thread's entry at depth 0), counting StashMatched. A miss
// (or depth 0) counts StashDropMissing and exits; a level deeper than
// Depth counts StashDropDeep and exits.
func (g *codegen) loadStash(s *Stash, b *Build) error {
	if err := s.check(b, b.StashKey, "Build.StashKey"); err != nil {
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
	key := g.stashKey(s, b, b.StashKey)
	defer g.free(s.keySize())
	g.stashMapCall(s, asm.FnMapLookupElem, key, 0, 0)
	g.emit(asm.JEq.Imm(asm.R0, 0, "stash_missing"))
	level := asm.R0 // the popped level, less LevelsAt
	if s.Depth > 0 {
		// Pop: R7 keeps the entry across the copies; its depth is
		// read again after them to decide on the delete.
		g.emit(
			asm.Mov.Reg(asm.R7, asm.R0),
			asm.LoadMem(asm.R1, asm.R7, int16(l.DepthAt), asm.DWord),
			asm.JEq.Imm(asm.R1, 0, "stash_missing"),
			asm.Sub.Imm(asm.R1, 1),
			asm.StoreMem(asm.R7, int16(l.DepthAt), asm.R1, asm.DWord),
			asm.JGE.Imm(asm.R1, int32(s.Depth), "stash_deep"),
			asm.Mul.Imm(asm.R1, int32(l.LevelSize)),
			asm.Mov.Reg(asm.R2, asm.R7),
			asm.Add.Reg(asm.R2, asm.R1),
		)
		level = asm.R2
	}
	at := func(off int) int16 { return int16(l.LevelsAt + off) }
	for i := range s.Fields {
		g.emit(
			asm.LoadMem(asm.R3, level, at(l.FieldsAt[i]), asm.DWord),
			asm.StoreMem(asm.RFP, s.slot(i), asm.R3, asm.DWord),
		)
	}
	if s.Timestamp {
		g.emit(
			asm.LoadMem(asm.R3, level, at(l.TimestampAt), asm.DWord),
			asm.LoadMem(asm.R4, asm.RFP, lat, asm.DWord),
			asm.Sub.Reg(asm.R4, asm.R3),
			asm.StoreMem(asm.RFP, lat, asm.R4, asm.DWord),
		)
	}
	done := g.newLabel()
	if s.Depth > 0 {
		g.emit(
			asm.LoadMem(asm.R1, asm.R7, int16(l.DepthAt), asm.DWord),
			asm.JNE.Imm(asm.R1, 0, done),
		)
	}
	g.stashMapCall(s, asm.FnMapDeleteElem, key, 0, 0)
	g.emit(asm.StoreImm(asm.RFP, stackKey, StashMatched, asm.Word))
	g.incPerCPU(s.DropsMap(), stackKey, done)
	g.bind(done)
	g.tails = append(g.tails, func() {
		g.bind("stash_missing")
		g.mark(SpecPart{Label: "count a return without an entry"})
		g.stashCount(s, StashDropMissing, "exit")
		if s.Depth > 0 {
			g.bind("stash_deep")
			g.mark(SpecPart{Label: "count a return of a call nested deeper than the stash"})
			g.stashCount(s, StashDropDeep, "exit")
		}
	})
	return nil
}

// EntrySink stashes Stash's fields and timestamp at a start probe (see
// Stash), keyed by the Stash's key (Key: its StashKeyExpr values, checked
// in this probe's context). With the thread key and no Depth it stores
// the entry with BPF_ANY (one update, as bcc), counting StashStored; with
// the other keys it inserts with BPF_NOEXIST, counting StashStored, and
// overwrites a pending entry with BPF_ANY, counting StashReplaced; with
// Depth it looks up the thread's
// entry (inserting a zeroed one if missing, counting StashStored),
// stores its level at index depth when depth < Depth and increments
// depth. A failed update counts StashDropFull. The timestamp is taken
// last, so evaluating the fields and the key is not part of the latency.
// Its maps are the Stash's. Kernel: as Stash's.
type EntrySink struct {
	Stash *Stash
	Key   []*Value // StashKeyExpr: Stash.KeyValues integers, checked in this probe's context
}

// Maps declares the stash maps.
func (s *EntrySink) Maps() []*ebpf.MapSpec { return s.Stash.Maps() }

func (s *EntrySink) gen(g *codegen, b *Build) error {
	st := s.Stash
	if st == nil {
		return fmt.Errorf("entry sink: no stash")
	}
	if err := st.check(b, s.Key, "EntrySink.Key"); err != nil {
		return err
	}
	l := st.Layout()
	val := g.alloc(l.LevelSize)
	defer g.free(l.LevelSize)
	for i, f := range st.Fields {
		g.mark(SpecPart{Label: "stash " + f.Expr})
		r, _ := g.allocReg()
		g.value(f.node, r)
		g.emit(asm.StoreMem(asm.RFP, val+int16(l.FieldsAt[i]), r, asm.DWord))
		g.freeReg(r)
	}
	g.mark(SpecPart{Label: "stash"})
	key := g.stashKey(st, b, s.Key)
	defer g.free(st.keySize())
	if st.Depth > 0 {
		full := g.newLabel()
		s.push(g, st, l, val, key, full)
		g.bind(full)
		g.mark(SpecPart{Label: "count an entry that could not be stashed"})
		g.stashCount(st, StashDropFull, "exit")
		return nil
	}
	if st.Timestamp {
		g.emit(
			asm.FnKtimeGetNs.Call(),
			asm.StoreMem(asm.RFP, val+int16(l.TimestampAt), asm.R0, asm.DWord),
		)
	}
	// Each path leaves its counter's index in stackKey and joins at
	// count: one counter increment in the code.
	count := g.newLabel()
	if st.Key == StashKeyThread {
		// One update, as bcc: a nested call of the thread overwrites
		// its caller's entry without knowing it (StashStored counts
		// it again; see Evicted).
		g.stashMapCall(st, asm.FnMapUpdateElem, key, val, bpfAny)
		g.emit(
			asm.StoreImm(asm.RFP, stackKey, StashStored, asm.Word),
			asm.JEq.Imm(asm.R0, 0, count),
			asm.StoreImm(asm.RFP, stackKey, StashDropFull, asm.Word),
		)
	} else {
		g.stashMapCall(st, asm.FnMapUpdateElem, key, val, bpfNoexist)
		g.emit(
			asm.StoreImm(asm.RFP, stackKey, StashStored, asm.Word),
			asm.JEq.Imm(asm.R0, 0, count),
			asm.StoreImm(asm.RFP, stackKey, StashDropFull, asm.Word),
			asm.JNE.Imm32(asm.R0, errEEXIST, count),
		)
		g.mark(SpecPart{Label: "overwrite a pending entry"})
		g.stashMapCall(st, asm.FnMapUpdateElem, key, val, bpfAny)
		g.emit(
			asm.StoreImm(asm.RFP, stackKey, StashReplaced, asm.Word),
			asm.JEq.Imm(asm.R0, 0, count),
			asm.StoreImm(asm.RFP, stackKey, StashDropFull, asm.Word),
			asm.Ja.Label(count),
		)
	}
	g.bind(count)
	g.incPerCPU(st.DropsMap(), stackKey, "exit")
	return nil
}

// push is the Depth start: find or create the thread's entry, store this
// call's level at index depth if depth < Depth, increment depth. The
// level's values (but the timestamp) are at val on the stack.
func (s *EntrySink) push(g *codegen, st *Stash, l StashLayout, val, key int16, full string) {
	have, retry := g.newLabel(), g.newLabel()
	g.stashMapCall(st, asm.FnMapLookupElem, key, 0, 0)
	g.emit(asm.JNE.Imm(asm.R0, 0, have))
	g.mark(SpecPart{Label: "create the thread's stash entry"})
	zero := g.alloc(l.ValueSize)
	defer g.free(l.ValueSize)
	for off := 0; off < l.ValueSize; off += 8 {
		g.emit(storeImm64(asm.RFP, zero+int16(off), 0))
	}
	stored := g.newLabel()
	g.stashMapCall(st, asm.FnMapUpdateElem, key, zero, bpfNoexist)
	g.emit(
		asm.JEq.Imm(asm.R0, 0, stored),
		asm.JNE.Imm32(asm.R0, errEEXIST, full),
		asm.Ja.Label(retry),
	)
	g.bind(stored)
	g.emit(asm.StoreImm(asm.RFP, stackKey, StashStored, asm.Word))
	g.incPerCPU(st.DropsMap(), stackKey, retry)
	g.bind(retry)
	g.stashMapCall(st, asm.FnMapLookupElem, key, 0, 0)
	g.emit(asm.JEq.Imm(asm.R0, 0, full))
	g.bind(have)
	g.mark(SpecPart{Label: "push this call's level"})
	// depth < Depth bounds the level's offset for the verifier: the
	// store below stays inside the value.
	g.emit(
		asm.Mov.Reg(asm.R7, asm.R0),
		asm.LoadMem(asm.R1, asm.R7, int16(l.DepthAt), asm.DWord),
		asm.Mov.Reg(asm.R2, asm.R1),
		asm.Add.Imm(asm.R2, 1),
		asm.StoreMem(asm.R7, int16(l.DepthAt), asm.R2, asm.DWord),
		asm.JGE.Imm(asm.R1, int32(st.Depth), "exit"),
		asm.Mul.Imm(asm.R1, int32(l.LevelSize)),
		asm.Add.Reg(asm.R7, asm.R1),
	)
	for _, off := range l.FieldsAt {
		g.emit(
			asm.LoadMem(asm.R1, asm.RFP, val+int16(off), asm.DWord),
			asm.StoreMem(asm.R7, int16(l.LevelsAt+off), asm.R1, asm.DWord),
		)
	}
	if st.Timestamp {
		g.emit(
			asm.FnKtimeGetNs.Call(),
			asm.StoreMem(asm.R7, int16(l.LevelsAt+l.TimestampAt), asm.R0, asm.DWord),
		)
	}
	g.emit(asm.Ja.Label("exit"))
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
