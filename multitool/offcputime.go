package multitool

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/btool/btool/bpf"
	"github.com/btool/btool/bpf/compile"
	"github.com/btool/btool/bpf/feature"
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

// Offcputime sums, per stack, the time threads spend blocked (off CPU):
// at each context switch (the sched:sched_switch tracepoint) the thread
// leaving the CPU records its kernel and user stacks and the time, and
// when it comes back on CPU the time since is added, in microseconds, to
// those stacks in the kernel (compile.OffCPUSink). Blocks outside
// [MinUs, MaxUs] are skipped. It prints bcc offcputime's listing, folded
// stacks with microseconds as counts, or JSON at the end, and with --svg
// an off-CPU flame graph. The idle task is never timed. It returns on ctx
// cancellation, after the duration or when the -p process exits. Option
// errors are UsageErrors. Kernel: tracepoints and bpf_get_stackid (4.7),
// LRU hashes (4.10).
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
	sinkFor := func(m compile.Mode) (*compile.OffCPUSink, error) {
		pc, err := plan.Layouts[0].Probe(m)
		if err != nil {
			return nil, err
		}
		vs, err := compile.CheckValues(ap.Exprs, pc, compile.ValueOptions{Types: ap.Types, Argdist: true})
		if err != nil {
			return nil, err
		}
		return &compile.OffCPUSink{Agg: agg, NextPID: vs[0], PID: uint32(o.PID), MinUs: o.MinUs, MaxUs: o.MaxUs}, nil
	}
	cookies := env.Features.Have(feature.FeatCookie) == nil
	// No prologue filters: the sink filters the thread leaving the CPU
	// itself (see compile.OffCPUSink).
	probe := &bpf.Probe{Name: "offcputime (sched:sched_switch)", Kind: plan.Kind, Targets: plan.Targets, Modes: plan.Modes,
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
		who := "all threads"
		if o.PID != 0 {
			who = fmt.Sprintf("PID %d", o.PID)
		}
		how := "user + kernel"
		if !kernel {
			how = "user"
		} else if !user {
			how = "kernel"
		}
		fmt.Fprintf(&b, "Tracing off-CPU time (us) of %s by %s stack", who, how)
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
