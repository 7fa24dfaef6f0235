package compile

import (
	"fmt"

	"github.com/cilium/ebpf/asm"
)

// The tests' shorthand for one trace program: the options of a
// RecordSink Build, flattened, as the tests were first written. The
// product builds with Build and Assemble (multitool's trace).

// TargetSource says where a program takes the HdrTarget index from.
type TargetSource uint8

// The target index sources.
const (
	TargetConst  TargetSource = iota // TraceOptions.Target, an immediate (one program per target, or one target)
	TargetCookie                     // bpf_get_attach_cookie (kprobe_multi, uprobe_multi, perf links; 5.15+)
)

// TraceOptions are the per-program settings of CompileTrace.
type TraceOptions struct {
	ProbeIndex  uint32       // written to HdrProbe
	Target      uint32       // with TargetConst: written to HdrTarget
	TargetFrom  TargetSource // where HdrTarget comes from
	PID         uint32       // only this tgid (-p); 0 for all
	TID         uint32       // only this thread (-L); 0 for all
	UID         int64        // only this uid (--uid); -1 for all
	SkipTGID    uint32       // drop events of this tgid (btool itself, unless -S); 0 for none
	KernelStack bool         // -K: bpf_get_stackid into MapStacks for HdrKStack
	UserStack   bool         // -U: likewise, BPF_F_USER_STACK, for HdrUStack
	PerfBuffer  bool         // emit with bpf_perf_event_output to a PERF_EVENT_ARRAY (kernels < 5.8) instead of the ring buffer
	// Syscall, when not zero, is 1 + the syscall number a raw_syscalls
	// program (raw tracepoint sys_enter or sys_exit) accepts; others
	// exit at once. SyscallExit says the program is on sys_exit.
	Syscall     int
	SyscallExit bool
	CgroupFD    int // -c: only tasks in this cgroup v2 directory or below (see Filters.CgroupFD); 0 for all
}

// CompileTrace generates trace's program for one attach of ct: Compile
// with a RecordSink configured from o. It returns the instructions and the
// layout of the records they emit.
func CompileTrace(ct *CheckedTrace, o TraceOptions) (asm.Instructions, *EventLayout, error) {
	if ct == nil {
		return nil, nil, fmt.Errorf("compile trace: nil probe")
	}
	b := &Build{
		Name: "trace", Mode: ModeKprobe, Checked: ct,
		Filters: Filters{PID: o.PID, TID: o.TID, UID: o.UID, SkipTGID: o.SkipTGID, CPU: -1, CgroupFD: o.CgroupFD,
			Syscall: o.Syscall, SyscallExit: o.SyscallExit},
		Index: IndexSource{From: IndexConst, Value: o.Target},
		Sink:  &RecordSink{ProbeIndex: o.ProbeIndex, KernelStack: o.KernelStack, UserStack: o.UserStack, PerfBuffer: o.PerfBuffer},
	}
	if o.TargetFrom == TargetCookie {
		b.Index = IndexSource{From: IndexCookie}
	}
	spec, err := Compile(b)
	if err != nil {
		return nil, nil, err
	}
	return spec.Instructions, ct.Layout(), nil
}
