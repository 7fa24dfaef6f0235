package compile

import (
	"fmt"
	"io"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
)

// MaxSyscalls bounds syscall numbers counted by the raw_syscalls mode. Each
// syscall group reserves this many slots in the counts map.
const MaxSyscalls = 1024

// ptRegsOrigAX is offsetof(struct pt_regs, orig_ax) on x86_64: the syscall
// number in the registers the sys_exit raw tracepoint receives.
const ptRegsOrigAX = 15 * 8

// MapCounts is the symbol the counter programs use for their map.
const MapCounts = "counts"

// Target is one attach point: a kernel function, a tracepoint or a user
// location (function entry, return site or USDT probe).
type Target struct {
	Name string // what the FUNC column shows
	Slot uint32 // index into the counts map (set by NewCountPlan), or the attach cookie

	Symbol          string // KernelFunc: kernel symbol to attach to
	Category, Event string // Tracepoint, SyscallEnter/Exit: tracefs event
	Syscall         int    // SyscallEnter/Exit: syscall number
	Path            string // UserFunc: binary or library path
	Offset          uint64 // UserFunc: file offset of the location
	RefCtrOffset    uint64 // UserFunc: file offset of a USDT semaphore, 0 if none
}

// CountGroup is a set of targets of one kind, attached with one Mode.
type CountGroup struct {
	Kind    TargetKind
	Targets []Target
	base    uint32 // first slot of a syscall group
}

// CountPlan is everything needed to generate and attach counting programs.
type CountPlan struct {
	Groups []CountGroup
	PID    uint32 // count only this tgid; 0 means every process
	CPU    int    // count only on this CPU; -1 means every CPU
	Slots  uint32 // size of the counts map
}

// NewCountPlan assigns every target a slot in one per-CPU counts array.
// Syscall groups get MaxSyscalls slots each, indexed by syscall number, so
// the raw_syscalls mode can use the number as the slot directly.
func NewCountPlan(groups []CountGroup, pid uint32, cpu int) (*CountPlan, error) {
	p := &CountPlan{PID: pid, CPU: cpu}
	for gi := range groups {
		g := &groups[gi]
		switch g.Kind {
		case SyscallEnter, SyscallExit:
			g.base = p.Slots
			for ti := range g.Targets {
				nr := g.Targets[ti].Syscall
				if nr < 0 || nr >= MaxSyscalls {
					return nil, fmt.Errorf("syscall %s: number %d out of range", g.Targets[ti].Name, nr)
				}
				g.Targets[ti].Slot = g.base + uint32(nr)
			}
			p.Slots += MaxSyscalls
		default:
			for ti := range g.Targets {
				g.Targets[ti].Slot = p.Slots
				p.Slots++
			}
		}
	}
	if p.Slots == 0 {
		return nil, fmt.Errorf("nothing to count")
	}
	p.Groups = groups
	return p, nil
}

// slotSource says where a counter program takes its slot from.
type slotSource uint8

const (
	slotConst        slotSource = iota // an immediate, one program per target
	slotCookie                         // bpf_get_attach_cookie (5.15)
	slotSyscallEnter                   // raw tracepoint sys_enter: args[1] is the syscall number
	slotSyscallExit                    // raw tracepoint sys_exit: regs->orig_ax
)

type counter struct {
	slot  slotSource
	value uint32 // slotConst: the slot; syscall sources: the group's base
	pid   uint32
	cpu   int
}

// instructions generates the counter: optional tgid and CPU filters, then
// one per-CPU array increment. Per event it costs at most three helper calls
// (pid filter, CPU filter, cookie) plus the map lookup, which the verifier
// inlines for arrays.
func (c counter) instructions() asm.Instructions {
	// ctx stays in R1 unless a filter's helper call would clobber it.
	ctx := asm.R1
	var insns asm.Instructions
	if c.pid != 0 || c.cpu >= 0 {
		ctx = asm.R6
		insns = append(insns, asm.Mov.Reg(asm.R6, asm.R1))
	}
	if c.pid != 0 {
		insns = append(insns,
			asm.FnGetCurrentPidTgid.Call(),
			asm.RSh.Imm(asm.R0, 32),
			asm.JNE.Imm(asm.R0, int32(c.pid), "exit"),
		)
	}
	if c.cpu >= 0 {
		insns = append(insns,
			asm.FnGetSmpProcessorId.Call(),
			asm.JNE.Imm(asm.R0, int32(c.cpu), "exit"),
		)
	}
	switch c.slot {
	case slotConst:
		insns = append(insns, asm.StoreImm(asm.RFP, -4, int64(c.value), asm.Word))
	case slotCookie:
		if ctx != asm.R1 {
			insns = append(insns, asm.Mov.Reg(asm.R1, ctx))
		}
		insns = append(insns,
			asm.FnGetAttachCookie.Call(),
			asm.StoreMem(asm.RFP, -4, asm.R0, asm.Word),
		)
	case slotSyscallEnter, slotSyscallExit:
		if c.slot == slotSyscallEnter {
			// struct bpf_raw_tracepoint_args: args[0] = regs, args[1] = id.
			insns = append(insns, asm.LoadMem(asm.R0, ctx, 8, asm.DWord))
		} else {
			// args[0] = regs; read regs->orig_ax with probe_read_kernel.
			insns = append(insns,
				asm.LoadMem(asm.R3, ctx, 0, asm.DWord), // before R1 is reused
				asm.Add.Imm(asm.R3, ptRegsOrigAX),
				asm.Mov.Reg(asm.R1, asm.RFP),
				asm.Add.Imm(asm.R1, -16),
				asm.Mov.Imm(asm.R2, 8),
				asm.FnProbeReadKernel.Call(),
				asm.JNE.Imm(asm.R0, 0, "exit"),
				asm.LoadMem(asm.R0, asm.RFP, -16, asm.DWord),
			)
		}
		insns = append(insns, asm.JGE.Imm(asm.R0, MaxSyscalls, "exit"))
		if c.value != 0 {
			insns = append(insns, asm.Add.Imm(asm.R0, int32(c.value)))
		}
		insns = append(insns, asm.StoreMem(asm.RFP, -4, asm.R0, asm.Word))
	}
	insns = append(insns,
		asm.LoadMapPtr(asm.R1, 0).WithReference(MapCounts),
		asm.Mov.Reg(asm.R2, asm.RFP),
		asm.Add.Imm(asm.R2, -4),
		asm.FnMapLookupElem.Call(),
		asm.JEq.Imm(asm.R0, 0, "exit"),
		asm.LoadMem(asm.R1, asm.R0, 0, asm.DWord),
		asm.Add.Imm(asm.R1, 1),
		asm.StoreMem(asm.R0, 0, asm.R1, asm.DWord),
		asm.Mov.Imm(asm.R0, 0).WithSymbol("exit"),
		asm.Return(),
	)
	return insns
}

// Program is one generated program and the targets it attaches to.
type Program struct {
	Spec    *ebpf.ProgramSpec
	Targets []Target
}

// Object is a compiled group: its mode and programs. It holds specs only;
// nothing is loaded into the kernel yet.
type Object struct {
	Mode     Mode
	Kind     TargetKind
	Programs []*Program
}

// CountsSpec is the per-CPU array every counter increments.
func (p *CountPlan) CountsSpec() *ebpf.MapSpec {
	return &ebpf.MapSpec{
		Name:       MapCounts,
		Type:       ebpf.PerCPUArray,
		KeySize:    4,
		ValueSize:  8,
		MaxEntries: p.Slots,
	}
}

// CompileCounter generates the counting programs for group g in mode m.
// Modes that attach one program to many targets use the BPF cookie as the
// slot when the kernel has cookies (5.15), else one program per target with
// the slot as an immediate. It fails when mode m cannot serve g's kind.
func CompileCounter(p *CountPlan, g *CountGroup, m Mode, cookies bool) (*Object, error) {
	base := counter{pid: p.PID, cpu: p.CPU}
	obj := &Object{Mode: m, Kind: g.Kind}
	shared := func(typ ebpf.ProgramType, at ebpf.AttachType, c counter) {
		obj.Programs = append(obj.Programs, &Program{
			Spec:    progSpec(fmt.Sprintf("count_%s", m), typ, at, "", c),
			Targets: g.Targets,
		})
	}
	perTarget := func(typ ebpf.ProgramType, at ebpf.AttachType) {
		for _, t := range g.Targets {
			c := base
			c.slot, c.value = slotConst, t.Slot
			attachTo := ""
			if m == ModeFentry {
				attachTo = t.Symbol
			}
			obj.Programs = append(obj.Programs, &Program{
				Spec:    progSpec(fmt.Sprintf("count_%d", t.Slot), typ, at, attachTo, c),
				Targets: []Target{t},
			})
		}
	}
	cookieOrPerTarget := func(typ ebpf.ProgramType) {
		if cookies {
			c := base
			c.slot = slotCookie
			shared(typ, ebpf.AttachNone, c)
		} else {
			perTarget(typ, ebpf.AttachNone)
		}
	}
	switch {
	case m == ModeKprobeMulti && g.Kind == KernelFunc:
		c := base
		c.slot = slotCookie
		shared(ebpf.Kprobe, ebpf.AttachTraceKprobeMulti, c)
	case m == ModeFentry && g.Kind == KernelFunc:
		perTarget(ebpf.Tracing, ebpf.AttachTraceFEntry)
	case m == ModeKprobe && g.Kind == KernelFunc:
		cookieOrPerTarget(ebpf.Kprobe)
	case m == ModeRawSyscalls && (g.Kind == SyscallEnter || g.Kind == SyscallExit):
		c := base
		c.slot, c.value = slotSyscallEnter, g.base
		if g.Kind == SyscallExit {
			c.slot = slotSyscallExit
		}
		shared(ebpf.RawTracepoint, ebpf.AttachNone, c)
	case m == ModeRawTracepoint && g.Kind == Tracepoint:
		perTarget(ebpf.RawTracepoint, ebpf.AttachNone)
	case m == ModeTracepoint && (g.Kind == Tracepoint || g.Kind == SyscallEnter || g.Kind == SyscallExit):
		cookieOrPerTarget(ebpf.TracePoint)
	case m == ModeUprobeMulti && g.Kind == UserFunc:
		c := base
		c.slot = slotCookie
		shared(ebpf.Kprobe, ebpf.AttachTraceUprobeMulti, c)
	case m == ModeUprobe && g.Kind == UserFunc:
		cookieOrPerTarget(ebpf.Kprobe)
	default:
		return nil, fmt.Errorf("mode %s cannot attach to a %s", m, g.Kind)
	}
	return obj, nil
}

func progSpec(name string, typ ebpf.ProgramType, at ebpf.AttachType, attachTo string, c counter) *ebpf.ProgramSpec {
	if len(name) > 15 { // BPF_OBJ_NAME_LEN - 1
		name = name[:15]
	}
	return &ebpf.ProgramSpec{
		Name:         name,
		Type:         typ,
		AttachType:   at,
		AttachTo:     attachTo,
		License:      "GPL",
		Instructions: c.instructions(),
	}
}

// Dump writes the object's programs as BPF assembly, one block per distinct
// program (per-target copies that differ only in their slot are summarised).
func (o *Object) Dump(w io.Writer) {
	fmt.Fprintf(w, "; mode %s, %d program(s), %d target(s)\n", o.Mode, len(o.Programs), o.targets())
	for i, p := range o.Programs {
		if i == 1 && len(o.Programs) > 2 {
			fmt.Fprintf(w, "; ... %d more programs like %s, one per target, differing only in the slot\n", len(o.Programs)-1, o.Programs[0].Spec.Name)
			break
		}
		fmt.Fprintf(w, "%s (%s", p.Spec.Name, p.Spec.Type)
		if p.Spec.AttachType != ebpf.AttachNone {
			fmt.Fprintf(w, ", %s", p.Spec.AttachType)
		}
		fmt.Fprintf(w, "):\n%v\n", p.Spec.Instructions)
	}
}

func (o *Object) targets() int {
	n := 0
	for _, p := range o.Programs {
		n += len(p.Targets)
	}
	return n
}
