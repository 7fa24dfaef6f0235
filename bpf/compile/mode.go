package compile

import (
	"fmt"
)

// Mode is one way of attaching a program to a kind of target.
type Mode uint8

// The attach modes, roughly from most to least efficient within each kind.
const (
	ModeKprobeMulti   Mode = iota + 1 // one kprobe_multi link for many kernel functions (5.18)
	ModeFentry                        // one fentry program and link per kernel function (5.5)
	ModeKprobe                        // one perf-event kprobe per kernel function
	ModeRawSyscalls                   // one raw tracepoint on sys_enter/sys_exit, slot by syscall number
	ModeRawTracepoint                 // one raw tracepoint program and link per event (4.17)
	ModeTracepoint                    // one perf-event tracepoint per event
	ModeUprobeMulti                   // one uprobe_multi link for many user locations (6.6)
	ModeUprobe                        // one perf-event uprobe per user location
	// ModePerfEvent is a BPF_PROG_TYPE_PERF_EVENT program (4.9) run by
	// perf events opened on every online CPU: one program per target,
	// attached to each CPU's event with a perf link (5.15) or
	// PERF_EVENT_IOC_SET_BPF. Its context is struct bpf_perf_event_data:
	// the interrupted task's pt_regs at offset 0, then sample_period and
	// addr.
	ModePerfEvent
)

var modeNames = map[Mode]string{
	ModeKprobeMulti:   "kprobe_multi",
	ModeFentry:        "fentry",
	ModeKprobe:        "kprobe",
	ModeRawSyscalls:   "raw_syscalls",
	ModeRawTracepoint: "raw_tracepoint",
	ModeTracepoint:    "tracepoint",
	ModeUprobeMulti:   "uprobe_multi",
	ModeUprobe:        "uprobe",
	ModePerfEvent:     "perf_event",
}

func (m Mode) String() string {
	if s, ok := modeNames[m]; ok {
		return s
	}
	return fmt.Sprintf("Mode(%d)", m)
}

// TargetKind is what a group of attach targets is.
type TargetKind uint8

// The kinds of targets.
const (
	KernelFunc   TargetKind = iota + 1 // kernel function entry
	Tracepoint                         // a tracefs event other than syscalls:*
	SyscallEnter                       // syscalls:sys_enter_* events
	SyscallExit                        // syscalls:sys_exit_* events
	UserFunc                           // user-space function entry or USDT location
	PerfEvent                          // a perf event sampled on every CPU (Target.Perf): software events such as page faults, clocks
)

func (k TargetKind) String() string {
	switch k {
	case KernelFunc:
		return "kernel function"
	case Tracepoint:
		return "tracepoint"
	case SyscallEnter:
		return "syscall entry tracepoint"
	case SyscallExit:
		return "syscall exit tracepoint"
	case UserFunc:
		return "user function"
	case PerfEvent:
		return "perf event"
	}
	return fmt.Sprintf("TargetKind(%d)", k)
}

// Ladder returns the attach modes for a kind of target, best first. It is a
// pure function of its arguments.
func Ladder(kind TargetKind) []Mode {
	switch kind {
	case KernelFunc:
		return []Mode{ModeKprobeMulti, ModeFentry, ModeKprobe}
	case Tracepoint:
		return []Mode{ModeRawTracepoint, ModeTracepoint}
	case SyscallEnter, SyscallExit:
		return []Mode{ModeRawSyscalls, ModeTracepoint}
	case UserFunc:
		return []Mode{ModeUprobeMulti, ModeUprobe}
	case PerfEvent:
		return []Mode{ModePerfEvent}
	}
	return nil
}
