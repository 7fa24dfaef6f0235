package multitool

import (
	"context"
	"fmt"
	"strings"
	"time"

	ebtf "github.com/cilium/ebpf/btf"

	"github.com/btool/btool/bpf"
	"github.com/btool/btool/bpf/compile"
	"github.com/btool/btool/bpf/feature"
	"github.com/btool/btool/btf"
	"github.com/btool/btool/specparse"
)

// OffcputimeOptions are offcputime's options (bcc offcputime's, with -d
// for the duration as btool's profile has it).
type OffcputimeOptions struct {
	PID        int           // -p: only threads of this process; 0 for all
	KernelOnly bool          // -K
	UserOnly   bool          // -U
	MinUs      uint64        // -m: skip blocks shorter than this many microseconds
	MaxUs      uint64        // -M: skip blocks longer than this; 0 for no bound
	Delimiter  bool          // --delimited: "--" between kernel and user stacks in the listing
	Folded     bool          // -f: folded, the count in microseconds
	JSON       bool          // --json
	SVG        string        // --svg: an off-CPU flame graph
	Duration   time.Duration // -d: stop after this long; 0 to run until interrupted
	DryRun     bool          // --dump
}

// offcpuSpec is the probe offcputime plans: the scheduler's switch, with
// the thread id of the task coming on CPU.
const offcpuSpec = "t:sched:sched_switch():u32:args->next_pid"

// rawNextPID is the thread id of the task coming on CPU in a raw
// tracepoint program on sched_switch (see rawSwitchContext).
var rawNextPID = func() *specparse.ArgdistProbe {
	p, err := specparse.ParseArgdist("t:sched:sched_switch():u32:next->pid")
	if err != nil {
		panic(err) // a constant spec
	}
	return p
}()

// rawSwitchContext returns the context of a raw tracepoint program on
// sched_switch, whose ctx holds the tracepoint's arguments as u64s:
// TP_PROTO(bool preempt, struct task_struct *prev, struct task_struct
// *next, ...), every kernel since 4.17, with next typed from kernel BTF
// (read with bpf_probe_read_kernel). It fails when the kernel has no raw
// tracepoints or no BTF, or BTF's btf_trace_sched_switch does not have
// that shape.
func rawSwitchContext(f *feature.Features) (*compile.ProbeContext, error) {
	if err := f.Have(feature.FeatRawTracepoint); err != nil {
		return nil, err
	}
	k, err := btf.LoadKernel()
	if err != nil {
		return nil, err
	}
	proto, err := k.Type("btf_trace_sched_switch")
	if err != nil {
		return nil, err
	}
	fp, ok := ebtf.UnderlyingType(proto).(*ebtf.Pointer)
	var fn *ebtf.FuncProto
	if ok {
		fn, ok = ebtf.UnderlyingType(fp.Target).(*ebtf.FuncProto)
	}
	// Params[0] is the void *__data of every btf_trace_* typedef.
	if !ok || len(fn.Params) < 4 {
		return nil, fmt.Errorf("btf_trace_sched_switch is not (void *, bool, struct task_struct *, struct task_struct *, ...)")
	}
	task, err := k.Type("struct task_struct *")
	if err != nil {
		return nil, err
	}
	for _, i := range []int{2, 3} {
		if p, ok := ebtf.UnderlyingType(fn.Params[i].Type).(*ebtf.Pointer); !ok || typeName(p.Target) != "task_struct" {
			return nil, fmt.Errorf("btf_trace_sched_switch argument %d is not a struct task_struct *", i)
		}
	}
	return &compile.ProbeContext{Mode: compile.ModeRawTracepoint, Types: k, Kernel: k, Args: []compile.Arg{
		{Name: "prev", Type: task, Kind: compile.ArgCtx, Off: 8, Size: 8},
		{Name: "next", Type: task, Kind: compile.ArgCtx, Off: 16, Size: 8},
	}}, nil
}

func typeName(t ebtf.Type) string {
	if s, ok := ebtf.UnderlyingType(t).(*ebtf.Struct); ok {
		return s.Name
	}
	return ""
}

// Offcputime sums, per stack, the time threads spend blocked (off CPU):
// at each context switch (sched_switch: a raw tracepoint where the kernel
// has one and BTF, else the perf tracepoint) the thread
// leaving the CPU records its kernel and user stacks and the time, and
// when it comes back on CPU the time since is added, in microseconds, to
// those stacks in the kernel (compile.OffCPUSink). Blocks outside
// [MinUs, MaxUs] are skipped. It prints bcc offcputime's listing, folded
// stacks with microseconds as counts, or JSON at the end, and with --svg
// an off-CPU flame graph. The idle task is never timed. It returns on ctx
// cancellation, after the duration or when the -p process exits. Option
// errors are UsageErrors. Kernel: tracepoints and bpf_get_stackid (4.7),
// LRU hashes (4.10); raw tracepoints (4.17) and BTF for the cheaper
// program.
func Offcputime(ctx context.Context, o OffcputimeOptions, env Env) error {
	kernel, user, err := stackChoice(o.KernelOnly, o.UserOnly)
	if err != nil {
		return err
	}
	switch {
	case o.PID < 0:
		return usageErr("", fmt.Errorf("-p: invalid PID %d", o.PID))
	case o.MaxUs != 0 && o.MaxUs < o.MinUs:
		return usageErr("", fmt.Errorf("-M %d is below -m %d", o.MaxUs, o.MinUs))
	case o.Folded && o.JSON:
		return usageErr("", fmt.Errorf("-f and --json are mutually exclusive"))
	}
	if !o.DryRun {
		if err := needRoot("offcputime"); err != nil {
			return err
		}
	}
	ap, err := specparse.ParseArgdist(offcpuSpec)
	if err != nil {
		return err
	}
	head, err := HeadOfArgdist(ap, offcpuSpec)
	if err != nil {
		return err
	}
	planner := &Planner{Src: SystemSources{}, Features: env.Features, Log: env.logf, DryRun: o.DryRun, Contexts: true}
	defer planner.Close()
	plan, err := planner.Plan(head)
	if err != nil {
		return err
	}
	keys := stackKeys{Kernel: kernel, User: user, Comm: true}
	agg := stackSink("offcputime", keys, compile.AggSum, nil)
	// A raw tracepoint first where the kernel has one and BTF types
	// next: cheaper per switch than the perf tracepoint, which formats
	// the event's record for the program first.
	modes := plan.Modes
	raw, rawErr := rawSwitchContext(env.Features)
	if rawErr == nil {
		modes = append([]compile.Mode{compile.ModeRawTracepoint}, modes...)
	} else {
		env.logf("offcputime: no raw tracepoint program on sched_switch (%v): using the perf tracepoint", rawErr)
	}
	sinkFor := func(m compile.Mode) (*compile.OffCPUSink, error) {
		exprs, types, pc := ap.Exprs, ap.Types, raw
		if m != compile.ModeRawTracepoint {
			var err error
			if pc, err = plan.Layouts[0].Probe(m); err != nil {
				return nil, err
			}
		} else {
			exprs, types = rawNextPID.Exprs, rawNextPID.Types
		}
		vs, err := compile.CheckValues(exprs, pc, compile.ValueOptions{Types: types, Argdist: true})
		if err != nil {
			return nil, err
		}
		return &compile.OffCPUSink{Agg: agg, NextPID: vs[0], PID: uint32(o.PID), MinUs: o.MinUs, MaxUs: o.MaxUs}, nil
	}
	cookies := env.Features.Have(feature.FeatCookie) == nil
	// No prologue filters: the sink filters the thread leaving the CPU
	// itself (see compile.OffCPUSink).
	probe := &bpf.Probe{Name: "offcputime (sched:sched_switch)", Kind: plan.Kind, Targets: plan.Targets, Modes: modes,
		Build: func(m compile.Mode, targets []compile.Target) (*compile.Object, error) {
			s, err := sinkFor(m)
			if err != nil {
				return nil, err
			}
			b := compile.Build{Name: "offcputime", Mode: m, Filters: compile.NoFilters, Sink: s}
			return compile.Assemble(b, plan.Kind, targets, cookies, 0)
		}}
	if o.DryRun {
		return dumpProbe(env.Out, probe)
	}
	pr := stackPrint{Kernel: kernel, User: user, PerProcess: true, Delimiter: o.Delimiter, Folded: o.Folded, JSON: o.JSON, ProfileStyle: true, ShowEmpty: true}
	banner := func(int) string {
		var b strings.Builder
		fmt.Fprintf(&b, "Tracing off-CPU time (us) of %s", bannerWhom(o.PID, kernel, user))
		if o.Duration > 0 {
			fmt.Fprintf(&b, " for %v.\n", o.Duration)
		} else {
			b.WriteString("... Hit Ctrl-C to end.\n")
		}
		return b.String()
	}
	return runStackTool(ctx, env, stackRun{
		tool: "offcputime", pid: o.PID, probes: []*bpf.Probe{probe}, sink: agg, keys: keys,
		print: pr, banner: banner, quietBanner: o.Folded, duration: o.Duration,
		svg: o.SVG, svgTitle: "Off-CPU Time Flame Graph", unit: "us", svgUnit: "us",
	})
}
