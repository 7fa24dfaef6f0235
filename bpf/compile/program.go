package compile

import (
	"fmt"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"

	"github.com/btool/btool/specparse"
)

// Every program btool generates has the same shape:
//
//	prologue   ctx into R6; the syscall-number selector (raw_syscalls);
//	           the -p/-L/self, --uid, CPU and cgroup filters
//	predicate  the probe's filter expression, if any
//	sink       what an event that passed does: emit a record, bump a
//	           counter, update a histogram, ...
//	exit       return 0
//
// An event that fails any check jumps to exit before touching a map. Build
// describes one program; Compile generates it. Tools differ only in their
// sink (and the printer that reads what the sink wrote).

// Filters are the prologue's checks. The zero value (with UID and CPU set
// to -1) filters nothing; see NoFilters.
type Filters struct {
	PID      uint32 // only this tgid (-p); 0 for all
	TID      uint32 // only this thread (-L); 0 for all
	UID      int64  // only this uid (--uid); -1 for all
	SkipTGID uint32 // drop events of this tgid (btool itself); 0 for none
	CPU      int    // only this CPU; -1 for all
	// CgroupFD, when not zero, is an open file descriptor of a cgroup v2
	// directory: only tasks in that cgroup or below it pass
	// (bpf_current_task_under_cgroup, 4.9). The fd is stored into the
	// MapCgroup array when the runtime creates it, so it must stay open
	// until the program's maps exist.
	CgroupFD int
	// Syscall, when not zero, is 1 + the syscall number a raw_syscalls
	// program (raw tracepoint sys_enter or sys_exit) accepts; others
	// exit at once. SyscallExit says the program is on sys_exit.
	Syscall     int
	SyscallExit bool
}

// NoFilters is the Filters value that lets every event through.
var NoFilters = Filters{UID: -1, CPU: -1}

// IndexFrom says where a program takes the index of the target an event
// came from: which function of a wildcard, which counter slot.
type IndexFrom uint8

// The index sources.
const (
	IndexConst   IndexFrom = iota // IndexSource.Value, an immediate: one program per target, or a single target
	IndexCookie                   // bpf_get_attach_cookie (kprobe_multi 5.18, uprobe_multi 6.6, perf links 5.15)
	IndexSyscall                  // raw_syscalls: IndexSource.Value + the syscall number (< MaxSyscalls)
)

// IndexSource is where the target index comes from.
type IndexSource struct {
	From  IndexFrom
	Value uint32 // IndexConst: the index; IndexSyscall: the base added to the syscall number
	Exit  bool   // IndexSyscall: the program is on sys_exit (the number is regs->orig_ax)
}

// Build describes one program to generate.
type Build struct {
	Name     string // program name; cut to 15 bytes
	Mode     Mode
	Return   bool   // a return probe: kretprobe, fexit, uretprobe
	AttachTo string // fentry/fexit: the kernel function the program is bound to at load
	Filters  Filters
	// Checked is the probe's typed filter and expressions; nil for
	// programs without any (funccount's counters).
	Checked *CheckedTrace
	Index   IndexSource
	// Stash, in an end probe (a return probe, a RET-site uprobe, or any
	// probe with StashKeyExpr), is what the start probe's EntrySink
	// stashed: it is looked up and deleted right after the prologue,
	// before the predicate (see Stash). nil for none.
	Stash *Stash
	// StashKey, with a Stash keyed by StashKeyExpr, is the key's
	// Stash.KeyValues integer values, checked in this probe's context
	// (without the stash: they are computed before it is read).
	StashKey []*Value
	Sink     Sink
	// Sleepable loads the program with BPF_F_SLEEPABLE (uprobe modes
	// only; feature sleepable_uprobe, 6.0). Its user-memory %s reads then
	// fall back, when bpf_probe_read_user* fails, to bpf_copy_from_user,
	// which can fault the page in: a string on a page the process has not
	// touched yet is printed instead of marked as a fault. The program
	// may use only the maps SleepableMaps accepts. It runs with migration
	// disabled but may be preempted, so its per-CPU counters (MapLost)
	// are incremented atomically.
	Sleepable bool
}

// Sink is what a program does with an event that passed the prologue and
// the predicate. The sinks are RecordSink (trace) and CountSink
// (funccount).
type Sink interface {
	// Maps returns the maps the sink's code references by name. The
	// runtime creates them once per session (see bpf.Session.Declare).
	Maps() []*ebpf.MapSpec
	// gen emits the sink's code. ctx is in R6; it may jump to "exit".
	gen(g *codegen, b *Build) error
}

// Map names shared by the sinks and the prologue.
const (
	MapCgroup = "cgroup" // BPF_MAP_TYPE_CGROUP_ARRAY of one cgroup, for Filters.CgroupFD
)

// Maps returns every map b's program references: the sink's plus the
// prologue's.
func (b *Build) Maps() []*ebpf.MapSpec {
	var maps []*ebpf.MapSpec
	if b.Filters.CgroupFD != 0 {
		maps = append(maps, &ebpf.MapSpec{Name: MapCgroup, Type: ebpf.CGroupArray, KeySize: 4, ValueSize: 4, MaxEntries: 1,
			Contents: []ebpf.MapKV{{Key: uint32(0), Value: uint32(b.Filters.CgroupFD)}}})
	}
	if b.Stash != nil {
		maps = append(maps, b.Stash.Maps()...)
	}
	if b.Sink != nil {
		maps = append(maps, b.Sink.Maps()...)
	}
	return maps
}

// Compile generates b's program: the prologue, the predicate, then the
// sink. The ProgramSpec has the program type and attach type b.Mode needs
// and references its maps by name (see Build.Maps); nothing touches the
// kernel. It fails when the expressions need more than the 512-byte BPF
// stack (wrapping ErrTooComplex) or the sink can't serve the build.
//
// Kernel requirements beyond the mode's: JMP32 (5.1) for the filters,
// bpf_get_attach_cookie (5.15) with IndexCookie, bpf_get_current_cgroup_id
// style helpers only with Filters.CgroupFD.
func Compile(b *Build) (*ebpf.ProgramSpec, error) {
	if b.Sink == nil {
		return nil, fmt.Errorf("compile %s: no sink", b.Name)
	}
	ss := DefaultStringSize
	if b.Checked != nil {
		ss = b.Checked.StringSize
	}
	if b.Sleepable {
		if b.Mode != ModeUprobe && b.Mode != ModeUprobeMulti {
			return nil, fmt.Errorf("compile %s: only uprobe programs can be sleepable, not %s", b.Name, b.Mode)
		}
		if !SleepableMaps(b.Maps()) {
			return nil, fmt.Errorf("compile %s: a sleepable program can't use its maps (a perf buffer, stack or cgroup map)", b.Name)
		}
	}
	g := newCodegen(ss)
	g.sleepable = b.Sleepable
	filterInsns := 0
	// The first instruction needs a source too: with any source set,
	// cilium/ebpf emits BTF line info, which must start at instruction 0.
	g.mark(SpecPart{Label: "prologue: pid, uid, cpu, cgroup and syscall filters"})
	g.emit(asm.Mov.Reg(asm.R6, asm.R1))
	g.prologue(b.Filters)
	if b.Stash != nil {
		if err := g.loadStash(b.Stash, b); err != nil {
			return nil, err
		}
	}
	if b.Checked != nil && b.Checked.filter != nil {
		if v, ok := isConst(b.Checked.filter); ok {
			if v == 0 {
				// Never true: a program that does nothing.
				insns := asm.Instructions{asm.Mov.Imm(asm.R0, 0), asm.Return()}
				return programSpec(b, insns), nil
			}
		} else {
			g.mark(partOf("filter", b.Checked.Probe.Filter))
			r, _ := g.allocReg()
			start := len(g.insns)
			g.branch(b.Checked.filter, "exit", false, r)
			g.freeReg(r)
			filterInsns = len(g.insns) - start
		}
	}
	if err := b.Sink.gen(g, b); err != nil {
		return nil, err
	}
	g.bind("exit")
	g.emit(asm.Mov.Imm(asm.R0, 0), asm.Return())
	for _, tail := range g.tails {
		tail()
	}
	insns, err := g.finish()
	if err != nil {
		return nil, err
	}
	if err := checkSize(insns, b, filterInsns); err != nil {
		return nil, err
	}
	return programSpec(b, insns), nil
}

// Program size limits: a jump's offset is a signed 16-bit instruction
// count, and the kernel loads at most BPF_COMPLEXITY_LIMIT_INSNS
// instructions.
const (
	maxJump  = 1<<15 - 1
	maxInsns = 1_000_000
)

// checkSize refuses, before the verifier does with "jump out of range", a
// program whose jumps can't reach their targets or that is too long. When
// the filter holds most of the code the error blames it, positioned in the
// spec, with its size and the limit; it wraps ErrTooComplex otherwise.
func checkSize(insns asm.Instructions, b *Build, filterInsns int) error {
	offsets := make(map[string]int, 16)
	n := 0
	for _, ins := range insns {
		if sym := ins.Symbol(); sym != "" {
			offsets[sym] = n
		}
		n += int(ins.Size() / asm.InstructionSize)
	}
	longest, at := 0, 0
	for _, ins := range insns {
		if ref := ins.Reference(); ref != "" && ins.OpCode.Class().IsJump() && !ins.IsFunctionCall() {
			if to, ok := offsets[ref]; ok {
				if d := to - (at + 1); d > longest || -d > longest {
					longest = max(d, -d)
				}
			}
		}
		at += int(ins.Size() / asm.InstructionSize)
	}
	if longest <= maxJump && n <= maxInsns {
		return nil
	}
	limit := fmt.Sprintf("a jump spans at most %d", maxJump)
	if n > maxInsns {
		limit = fmt.Sprintf("a program has at most %d", maxInsns)
	}
	if b.Checked != nil && b.Checked.Probe != nil && b.Checked.Probe.Filter != nil && filterInsns*2 > n {
		f := b.Checked.Probe.Filter
		return &specparse.Error{Pos: f.Pos(), End: f.End(),
			Msg: fmt.Sprintf("the filter is too large: %d BPF instructions, and %s (use fewer terms)", filterInsns, limit)}
	}
	return fmt.Errorf("the program is too large: %d BPF instructions, and %s: %w", n, limit, ErrTooComplex)
}

// programSpec wraps instructions in a ProgramSpec of the type and attach
// type b.Mode needs.
func programSpec(b *Build, insns asm.Instructions) *ebpf.ProgramSpec {
	name := b.Name
	if len(name) > 15 { // BPF_OBJ_NAME_LEN - 1
		name = name[:15]
	}
	spec := &ebpf.ProgramSpec{Name: name, License: "GPL", Instructions: insns, AttachTo: b.AttachTo}
	if b.Sleepable {
		spec.Flags |= FlagSleepable
	}
	switch b.Mode {
	case ModeKprobeMulti:
		spec.Type, spec.AttachType = ebpf.Kprobe, ebpf.AttachTraceKprobeMulti
	case ModeUprobeMulti:
		spec.Type, spec.AttachType = ebpf.Kprobe, ebpf.AttachTraceUprobeMulti
	case ModeFentry:
		spec.Type, spec.AttachType = ebpf.Tracing, ebpf.AttachTraceFEntry
		if b.Return {
			spec.AttachType = ebpf.AttachTraceFExit
		}
	case ModeTracepoint:
		spec.Type = ebpf.TracePoint
	case ModeRawTracepoint, ModeRawSyscalls:
		spec.Type = ebpf.RawTracepoint
	case ModePerfEvent:
		spec.Type = ebpf.PerfEvent
	default:
		spec.Type = ebpf.Kprobe
	}
	return spec
}

// FlagSleepable is BPF_F_SLEEPABLE, the program flag of sleepable programs.
const FlagSleepable = 1 << 4

// SleepableMaps reports whether a sleepable program may use every one of
// maps. The verifier accepts only array, hash, ring buffer, local storage
// and a few other map types in sleepable programs
// (check_map_prog_compatibility): not perf event arrays (trace's fallback
// without a ring buffer), stack trace maps (-K, -U) or cgroup arrays (-c).
func SleepableMaps(maps []*ebpf.MapSpec) bool {
	for _, m := range maps {
		switch m.Type {
		case ebpf.Hash, ebpf.LRUHash, ebpf.Array, ebpf.PerCPUHash, ebpf.PerCPUArray, ebpf.LRUCPUHash, ebpf.RingBuf:
		default:
			return false
		}
	}
	return true
}

// prologue emits the filters. It saves pid_tgid and uid_gid in their stack
// slots when it reads them, so sinks that need them don't call the helpers
// again (see g.pidTgid, g.uidGid).
func (g *codegen) prologue(f Filters) {
	// raw_syscalls: one program on sys_enter/sys_exit sees every syscall.
	if f.Syscall != 0 {
		g.syscallNr(f.SyscallExit)
		g.emit(asm.JNE.Imm(asm.R0, int32(f.Syscall-1), "exit"))
	}
	if f.PID != 0 || f.TID != 0 || f.SkipTGID != 0 {
		g.savedPidTgid = true
		g.emit(
			asm.FnGetCurrentPidTgid.Call(),
			asm.StoreMem(asm.RFP, stackPidTgid, asm.R0, asm.DWord),
		)
		if f.TID != 0 {
			g.emit(asm.JNE.Imm32(asm.R0, int32(f.TID), "exit"))
		}
		if f.PID != 0 || f.SkipTGID != 0 {
			g.emit(asm.RSh.Imm(asm.R0, 32))
			if f.PID != 0 {
				g.emit(asm.JNE.Imm32(asm.R0, int32(f.PID), "exit"))
			}
			if f.SkipTGID != 0 {
				g.emit(asm.JEq.Imm32(asm.R0, int32(f.SkipTGID), "exit"))
			}
		}
	}
	if f.UID >= 0 {
		g.savedUidGid = true
		g.emit(
			asm.FnGetCurrentUidGid.Call(),
			asm.StoreMem(asm.RFP, stackUidGid, asm.R0, asm.DWord),
			asm.JNE.Imm32(asm.R0, int32(uint32(f.UID)), "exit"),
		)
	}
	if f.CPU >= 0 {
		g.emit(
			asm.FnGetSmpProcessorId.Call(),
			asm.JNE.Imm32(asm.R0, int32(f.CPU), "exit"),
		)
	}
	if f.CgroupFD != 0 {
		// bpf_current_task_under_cgroup(map, 0): 1 when current is in
		// the cgroup or a descendant, 0 when not, <0 on error.
		g.emit(
			asm.LoadMapPtr(asm.R1, 0).WithReference(MapCgroup),
			asm.Mov.Imm(asm.R2, 0),
			asm.FnCurrentTaskUnderCgroup.Call(),
			asm.JNE.Imm(asm.R0, 1, "exit"),
		)
	}
}

// syscallNr leaves the syscall number of a raw_syscalls program in R0:
// args[1] on sys_enter, regs->orig_ax (read from args[0]) on sys_exit.
func (g *codegen) syscallNr(exit bool) {
	if !exit {
		g.emit(asm.LoadMem(asm.R0, asm.R6, 8, asm.DWord)) // args[1] = id
		return
	}
	g.emit(
		asm.LoadMem(asm.R3, asm.R6, 0, asm.DWord),
		asm.Add.Imm(asm.R3, ptRegsOrigAX),
		asm.Mov.Reg(asm.R1, asm.RFP),
		asm.Add.Imm(asm.R1, stackScratch),
		asm.Mov.Imm(asm.R2, 8),
		asm.FnProbeReadKernel.Call(),
		asm.JNE.Imm(asm.R0, 0, "exit"),
		asm.LoadMem(asm.R0, asm.RFP, stackScratch, asm.DWord),
	)
}

// index leaves the target index in R0 (see IndexSource).
func (g *codegen) index(ix IndexSource) {
	switch ix.From {
	case IndexCookie:
		g.emit(
			asm.Mov.Reg(asm.R1, asm.R6),
			asm.FnGetAttachCookie.Call(),
		)
	case IndexSyscall:
		g.syscallNr(ix.Exit)
		g.emit(asm.JGE.Imm(asm.R0, MaxSyscalls, "exit"))
		if ix.Value != 0 {
			g.emit(asm.Add.Imm(asm.R0, int32(ix.Value)))
		}
	default:
		g.emit(asm.Mov.Imm(asm.R0, int32(ix.Value)))
	}
}

// pidTgid leaves bpf_get_current_pid_tgid() in R0, from the prologue's
// stack slot when it saved one.
func (g *codegen) pidTgid() {
	if g.savedPidTgid {
		g.emit(asm.LoadMem(asm.R0, asm.RFP, stackPidTgid, asm.DWord))
	} else {
		g.emit(asm.FnGetCurrentPidTgid.Call())
	}
}

// uidGid leaves bpf_get_current_uid_gid() in R0, likewise.
func (g *codegen) uidGid() {
	if g.savedUidGid {
		g.emit(asm.LoadMem(asm.R0, asm.RFP, stackUidGid, asm.DWord))
	} else {
		g.emit(asm.FnGetCurrentUidGid.Call())
	}
}

// incPerCPU increments the u64 at key (a u32 on the stack at keyOff) of
// the per-CPU array named m: no atomics, since each CPU has its own copy.
// The verifier inlines array lookups, so this costs no helper call.
func (g *codegen) incPerCPU(m string, keyOff int16, done string) {
	g.emit(
		asm.LoadMapPtr(asm.R1, 0).WithReference(m),
		asm.Mov.Reg(asm.R2, asm.RFP),
		asm.Add.Imm(asm.R2, int32(keyOff)),
		asm.FnMapLookupElem.Call(),
		asm.JEq.Imm(asm.R0, 0, done),
	)
	if g.sleepable {
		// A sleepable program can be preempted by another task on the
		// same CPU between the load and the store: add atomically.
		g.emit(
			asm.Mov.Imm(asm.R1, 1),
			asm.StoreXAdd(asm.R0, asm.R1, asm.DWord),
		)
		return
	}
	g.emit(
		asm.LoadMem(asm.R1, asm.R0, 0, asm.DWord),
		asm.Add.Imm(asm.R1, 1),
		asm.StoreMem(asm.R0, 0, asm.R1, asm.DWord),
	)
}
