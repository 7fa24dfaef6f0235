package multitool

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/btool/btool/bpf"
	"github.com/btool/btool/bpf/compile"
)

// ProfileOptions are profile's options (bcc profile's, with -d for the
// duration as bpftrace's and btool's other tools have it).
type ProfileOptions struct {
	PID         int           // -p: sample only this process (tgid); 0 for all
	CPU         int           // -C: sample only this CPU; -1 for all
	Freq        uint64        // -F: samples per second on each CPU; 0 means DefaultProfileHz
	KernelOnly  bool          // -K
	UserOnly    bool          // -U
	IncludeIdle bool          // -I: keep the idle task's samples (pid 0)
	Delimiter   bool          // --delimited: "--" between kernel and user stacks in the listing
	Folded      bool          // -f
	JSON        bool          // --json
	SVG         string        // --svg: a flame graph of the run
	Duration    time.Duration // -d: stop after this long; 0 to run until interrupted
	Interval    time.Duration // -i: print every interval; 0 for once at the end
	DryRun      bool          // --dump
}

// DefaultProfileHz is profile's default sampling frequency: 49 Hz, off
// the 50 and 100 Hz of timers so that sampling does not run in lockstep
// with periodic work.
const DefaultProfileHz = 49

// MaxProfileHz bounds -F; the kernel's perf_event_max_sample_rate (100000
// by default, lowered when sampling costs too much) may refuse less.
const MaxProfileHz = 100000

// Profile samples the stacks running on every CPU (or in process o.PID)
// o.Freq times a second through a cpu-clock perf event per CPU, counting
// each distinct (process, kernel stack, user stack) in the kernel, and
// prints them at the end (and every interval) as bcc's profile does: the
// listing, folded stacks or JSON, with --svg a flame graph. The idle task
// (pid 0) is left out unless o.IncludeIdle. It returns on ctx
// cancellation, after the duration or when the -p process exits. Option
// errors are UsageErrors. Kernel: perf event programs (4.9) and
// bpf_get_stackid (4.6).
func Profile(ctx context.Context, o ProfileOptions, env Env) error {
	kernel, user, err := stackChoice(o.KernelOnly, o.UserOnly)
	if err != nil {
		return err
	}
	if o.Freq == 0 {
		o.Freq = DefaultProfileHz
	}
	switch {
	case o.Freq > MaxProfileHz:
		return usageErr("", fmt.Errorf("-F: %d Hz is more than %d", o.Freq, MaxProfileHz))
	case o.PID < 0:
		return usageErr("", fmt.Errorf("-p: invalid PID %d", o.PID))
	case o.Folded && o.JSON:
		return usageErr("", fmt.Errorf("-f and --json are mutually exclusive"))
	}
	if !o.DryRun {
		if err := needRoot("profile"); err != nil {
			return err
		}
	}
	modes, err := bpf.UsableModes(compile.PerfEvent, env.Features)
	if err != nil {
		return err
	}
	t := compile.Target{Name: "cpu-clock", Perf: compile.PerfAttr{Type: compile.PerfTypeSoftware, Config: 0 /* PERF_COUNT_SW_CPU_CLOCK */, Freq: o.Freq}}
	plan := &Plan{Kind: compile.PerfEvent, Modes: modes, Targets: []compile.Target{t}}
	keys := stackKeys{Kernel: kernel, User: user, Comm: true}
	sink := stackSink("profile", keys, compile.AggCount, nil)
	filters := compile.Filters{PID: uint32(o.PID), UID: -1, CPU: o.CPU}
	probe := stackProbe(plan, "profile", "profile", filters, sink, env.Features)
	if o.DryRun {
		return dumpProbe(env.Out, probe)
	}
	pr := stackPrint{Kernel: kernel, User: user, PerProcess: true, Delimiter: o.Delimiter, Folded: o.Folded, JSON: o.JSON, ProfileStyle: true, ShowEmpty: true}
	banner := func(int) string {
		var b strings.Builder
		fmt.Fprintf(&b, "Sampling at %d Hertz of %s", o.Freq, bannerWhom(o.PID, kernel, user))
		if o.CPU >= 0 {
			fmt.Fprintf(&b, " on CPU#%d", o.CPU)
		}
		if o.Duration > 0 {
			fmt.Fprintf(&b, " for %v.\n", o.Duration)
		} else {
			b.WriteString("... Hit Ctrl-C to end.\n")
		}
		return b.String()
	}
	var keep func(StackSample) bool
	if !o.IncludeIdle {
		keep = func(s StackSample) bool { return s.PID != 0 }
	}
	return runStackTool(ctx, env, stackRun{
		tool: "profile", pid: o.PID, probes: []*bpf.Probe{probe}, sink: sink, keys: keys,
		print: pr, banner: banner, quietBanner: o.Folded, interval: o.Interval, duration: o.Duration,
		svg: o.SVG, svgTitle: fmt.Sprintf("profile at %d Hz", o.Freq), unit: "samples", keep: keep,
	})
}

// bannerWhom is what profile's and offcputime's banners say they watch:
// "all threads" or "PID n", "by user + kernel stack" (or only one kind).
func bannerWhom(pid int, kernel, user bool) string {
	who := "all threads"
	if pid != 0 {
		who = fmt.Sprintf("PID %d", pid)
	}
	how := "user + kernel"
	if !kernel {
		how = "user"
	} else if !user {
		how = "kernel"
	}
	return who + " by " + how + " stack"
}
