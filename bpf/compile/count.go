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
	Path            string // UserFunc: binary or library path, for messages
	// File is, for UserFunc, the path the kernel opens to attach: a
	// /proc/self/fd link to the file btool parsed, so that a symlink
	// switched between parsing and attaching cannot move the probe into
	// another binary at this one's offset. Empty means Path.
	File string
	// Offset is, for UserFunc, the file offset of the location; for
	// KernelFunc, the offset into Symbol of a kprobe at func+off (0: the
	// entry), for link.KprobeOptions.Offset. Plans with a kernel offset
	// attach with ModeKprobe only.
	Offset       uint64
	RefCtrOffset uint64 // UserFunc: file offset of a USDT semaphore, 0 if none
	// Perf is, for PerfEvent, the event opened on every online CPU.
	Perf PerfAttr
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

// CountSink increments slot "index" (see Build.Index) of the per-CPU u64
// array MapCounts of Slots entries: no hash update and no atomics, and the
// verifier inlines the array lookup. With no filters and a constant or
// syscall-number index it calls no helper at all; with the cookie, one.
// It is funccount's sink.
type CountSink struct {
	Slots uint32 // entries of MapCounts
}

// Maps declares MapCounts.
func (s *CountSink) Maps() []*ebpf.MapSpec {
	return []*ebpf.MapSpec{{Name: MapCounts, Type: ebpf.PerCPUArray, KeySize: 4, ValueSize: 8, MaxEntries: s.Slots}}
}

func (s *CountSink) gen(g *codegen, b *Build) error {
	g.mark(SpecPart{Label: "count"})
	if b.Index.From == IndexConst {
		g.emit(asm.StoreImm(asm.RFP, stackKey, int64(b.Index.Value), asm.Word))
	} else {
		g.index(b.Index)
		g.emit(asm.StoreMem(asm.RFP, stackKey, asm.R0, asm.Word))
	}
	g.incPerCPU(MapCounts, stackKey, "exit")
	return nil
}

// Program is one generated program and the targets it attaches to.
type Program struct {
	Spec    *ebpf.ProgramSpec
	Targets []Target
	// Cookie says the program reads its target from the BPF cookie
	// (5.15), so each link must carry the target's Slot as its cookie.
	// Otherwise links carry none: kernels without cookie support refuse
	// a non-zero one.
	Cookie bool
}

// Object is a compiled group: its mode and programs. It holds specs only;
// nothing is loaded into the kernel yet.
type Object struct {
	Mode     Mode
	Kind     TargetKind
	Programs []*Program
	Maps     []*ebpf.MapSpec // the maps the programs reference by name
}

// CountsSpec is the per-CPU array every counter increments.
func (p *CountPlan) CountsSpec() *ebpf.MapSpec {
	return (&CountSink{Slots: p.Slots}).Maps()[0]
}

// CompileCounter generates the counting programs for group g in mode m:
// Assemble with a CountSink over the plan's slots.
func CompileCounter(p *CountPlan, g *CountGroup, m Mode, cookies bool) (*Object, error) {
	base := Build{Name: "count", Mode: m, Filters: Filters{PID: p.PID, UID: -1, CPU: p.CPU}, Sink: &CountSink{Slots: p.Slots}}
	return Assemble(base, g.Kind, g.Targets, cookies, g.base)
}

// Assemble generates the programs that serve targets (all of one kind) in
// mode m = base.Mode, each a copy of base with its index source and attach
// point set: one shared program where the mode attaches many targets at
// once (kprobe_multi, uprobe_multi, raw_syscalls) or the kernel passes a
// BPF cookie (5.15; cookies), telling targets apart by cookie or syscall
// number, else one program per target with its Slot as a constant (fentry
// and raw tracepoints bind a program to one target; a perf event's program
// serves the events of one target on every CPU). syscallBase is the
// first slot of a syscall group (raw_syscalls indexes slots by syscall
// number); when base filters one syscall (Filters.Syscall), the program
// serves that one target and indexes by its Slot. It fails when m cannot
// attach kind.
func Assemble(base Build, kind TargetKind, targets []Target, cookies bool, syscallBase uint32) (*Object, error) {
	m := base.Mode
	obj := &Object{Mode: m, Kind: kind, Maps: base.Maps()}
	name := base.Name
	if name == "" {
		name = "prog"
	}
	var err error
	add := func(b Build, targets []Target) {
		if err != nil {
			return
		}
		spec, e := Compile(&b)
		if e != nil {
			err = e
			return
		}
		obj.Programs = append(obj.Programs, &Program{Spec: spec, Targets: targets, Cookie: b.Index.From == IndexCookie})
	}
	shared := func(ix IndexSource) {
		b := base
		b.Name, b.Index = fmt.Sprintf("%s_%s", name, m), ix
		add(b, targets)
	}
	perTarget := func() {
		for _, t := range targets {
			b := base
			b.Name, b.Index = fmt.Sprintf("%s_%d", name, t.Slot), IndexSource{From: IndexConst, Value: t.Slot}
			if m == ModeFentry {
				b.AttachTo = t.Symbol
			}
			add(b, []Target{t})
		}
	}
	cookieOrPerTarget := func() {
		if cookies && len(targets) > 1 {
			shared(IndexSource{From: IndexCookie})
		} else {
			perTarget()
		}
	}
	switch {
	case m == ModeKprobeMulti && kind == KernelFunc:
		shared(IndexSource{From: IndexCookie})
	case m == ModeFentry && kind == KernelFunc:
		perTarget()
	case m == ModeKprobe && kind == KernelFunc:
		cookieOrPerTarget()
	case m == ModeRawSyscalls && (kind == SyscallEnter || kind == SyscallExit):
		if base.Filters.Syscall != 0 {
			perTarget()
		} else {
			shared(IndexSource{From: IndexSyscall, Value: syscallBase, Exit: kind == SyscallExit})
		}
	case m == ModeRawTracepoint && kind == Tracepoint:
		perTarget()
	case m == ModeTracepoint && (kind == Tracepoint || kind == SyscallEnter || kind == SyscallExit):
		cookieOrPerTarget()
	case m == ModeUprobeMulti && kind == UserFunc:
		shared(IndexSource{From: IndexCookie})
	case m == ModeUprobe && kind == UserFunc:
		cookieOrPerTarget()
	case m == ModePerfEvent && kind == PerfEvent:
		perTarget()
	default:
		return nil, fmt.Errorf("mode %s cannot attach to a %s", m, kind)
	}
	if err != nil {
		return nil, err
	}
	return obj, nil
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
