package multitool

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"time"

	"github.com/btool/btool/bpf"
	"github.com/btool/btool/bpf/compile"
	"github.com/btool/btool/bpf/feature"
	"github.com/btool/btool/multitool/symbolize"
	"github.com/btool/btool/specparse"
)

// StackcountOptions are stackcount's options (bcc stackcount's flags,
// plus --json, --svg and --probe-limit).
type StackcountOptions struct {
	Pattern    string
	Regex      bool          // -r: the function part is a regular expression
	PID        int           // -p: only this process (tgid); 0 for all. Implies PerProcess.
	CPU        int           // -c: only on this CPU; -1 for all
	Interval   time.Duration // -i: print every interval; 0 for once at the end
	Duration   time.Duration // -D: stop after this long; 0 to run until interrupted
	Timestamp  bool          // -T: an HH:MM:SS line with each summary
	Offsets    bool          // -s: frames as name+0xoff
	PerProcess bool          // -P: stacks per process (tgid and comm)
	KernelOnly bool          // -K
	UserOnly   bool          // -U
	Addrs      bool          // -v: each frame's address
	Delimiter  bool          // -d: "--" between kernel and user stacks
	Folded     bool          // -f: folded stacks, one a line
	JSON       bool          // --json: one JSON object per summary
	SVG        string        // --svg: write a flame graph of the whole run to this file
	DryRun     bool          // --dump: print the generated BPF and exit
	ProbeLimit int           // --probe-limit: most per-link targets; 0 for bpf.DefaultProbeLimit, -1 none
}

// stacks returns which stacks the options collect.
func stackChoice(kernelOnly, userOnly bool) (kernel, user bool, err error) {
	if kernelOnly && userOnly {
		return false, false, usageErr("", errStackBoth)
	}
	return !userOnly, !kernelOnly, nil
}

// Stackcount counts the distinct kernel and user stacks that lead to the
// functions, tracepoints or USDT probes matching o.Pattern, in the kernel
// (an AggSink keyed by stack ids and tgid), and prints them as bcc's
// stackcount does every interval and at the end: the listing, folded
// stacks (-f) or JSON lines; with o.SVG it also writes a flame graph of
// the whole run. Stacks that could not be collected (hash collisions, a
// full map) are reported on stderr by reason, never printed as empty
// stacks. It returns when ctx is cancelled, the duration has passed or
// the -p process exits, with every probe detached. Option and pattern
// errors are UsageErrors. Kernel: bpf_get_stackid and per-CPU hashes
// (4.6), plus what the probes' modes need.
func Stackcount(ctx context.Context, o StackcountOptions, env Env) error {
	kernel, user, err := stackChoice(o.KernelOnly, o.UserOnly)
	if err != nil {
		return err
	}
	if o.PID < 0 {
		return usageErr("", fmt.Errorf("-p: invalid PID %d", o.PID))
	}
	if o.Folded && o.JSON {
		return usageErr("", fmt.Errorf("-f and --json are exclusive"))
	}
	p, err := specparse.ParsePattern(o.Pattern, o.Regex)
	if err != nil {
		return usageErr(o.Pattern, err)
	}
	if !o.DryRun {
		if err := needRoot("stackcount"); err != nil {
			return err
		}
	}
	head, err := HeadOfPattern(p)
	if err != nil {
		return err
	}
	planner := &Planner{Src: SystemSources{}, Features: env.Features, Log: env.logf, DryRun: o.DryRun}
	defer planner.Close()
	plan, err := planner.Plan(head)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	keys := stackKeys{Kernel: kernel, User: user, Comm: o.PerProcess || o.PID != 0}
	sink := stackSink("stackcount", keys, compile.AggCount, nil)
	filters := compile.Filters{PID: uint32(o.PID), UID: -1, CPU: o.CPU}
	probe := stackProbe(plan, ShortSpec(o.Pattern), "stackcount", filters, sink, env.Features)
	if o.DryRun {
		return dumpProbe(env.Out, probe)
	}
	pr := stackPrint{Kernel: kernel, User: user, PerProcess: keys.Comm, PIDLine: o.PerProcess && o.PID == 0,
		Offsets: o.Offsets, Addrs: o.Addrs, Delimiter: o.Delimiter, Folded: o.Folded, JSON: o.JSON}
	banner := func(n int) string {
		return fmt.Sprintf("Tracing %d functions for %q... Hit Ctrl-C to end.\n", n, o.Pattern)
	}
	return runStackTool(ctx, env, stackRun{
		tool: "stackcount", pid: o.PID, probeLimit: o.ProbeLimit, probes: []*bpf.Probe{probe}, sink: sink, keys: keys,
		print: pr, banner: banner, quietBanner: o.Folded, interval: o.Interval, duration: o.Duration,
		timestamp: o.Timestamp, svg: o.SVG, svgTitle: "stackcount " + o.Pattern, unit: "events",
	})
}

// stackProbe returns the probe of plan whose programs run sink, name
// naming it in messages and prog its programs.
//
// A single syscall's tracepoint stays on the raw sys_enter/sys_exit
// tracepoint filtered by number, although it runs for every system call of
// the machine and its kernel stacks are three frames deeper to walk
// (bpf_get_stackid: 1,671 ns of BPF time per event against 896 ns on the
// perf tracepoint, BenchmarkStackcountKernel*): on the perf syscall
// tracepoint the kernels of the 5.10 and 6.1 VMs hand the program the
// task's user registers, so every kernel stack came back empty.
func stackProbe(plan *Plan, name, prog string, filters compile.Filters, sink compile.Sink, f *feature.Features) *bpf.Probe {
	cookies := f.Have(feature.FeatCookie) == nil
	modes := plan.Modes
	return &bpf.Probe{Name: name, Kind: plan.Kind, Return: plan.Return, Targets: plan.Targets, Modes: modes,
		Build: func(m compile.Mode, targets []compile.Target) (*compile.Object, error) {
			fl := filters
			if m == compile.ModeRawSyscalls {
				fl.Syscall, fl.SyscallExit = plan.Syscall, plan.Kind == compile.SyscallExit
			}
			b := compile.Build{Name: prog, Mode: m, Return: plan.Return, Filters: fl, Sink: sink}
			return compile.Assemble(b, plan.Kind, targets, cookies, 0)
		}}
}

// dumpProbe prints the program of the probe's first mode.
func dumpProbe(w io.Writer, p *bpf.Probe) error {
	obj, err := p.Build(p.Modes[0], p.Targets)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "; %s\n", p.Name)
	obj.Dump(w)
	return nil
}

// stackRun is what runStackTool needs of a stack tool.
type stackRun struct {
	tool        string
	pid         int
	probeLimit  int
	probes      []*bpf.Probe
	sink        *compile.AggSink
	keys        stackKeys
	print       stackPrint
	banner      func(targets int) string // the banner, given the number of targets attached; nil for none
	quietBanner bool                     // the banner goes to stderr (folded output)
	interval    time.Duration
	duration    time.Duration
	timestamp   bool
	svg         string
	svgTitle    string
	unit        string // what the values count, for the loss report
	svgUnit     string // flamegraph.Options.CountName
	// keep filters samples in user space (profile: the idle task); nil
	// keeps all.
	keep func(StackSample) bool
}

// runStackTool attaches r's probes, then prints the stacks every interval
// and at the end (summaryLoop), reports losses on stderr and writes the
// SVG.
func runStackTool(ctx context.Context, env Env, r stackRun) error {
	sess, closeSession := openSession(r.pid, r.probeLimit, env)
	defer closeSession()
	sym := symbolize.New(symbolize.Options{})
	defer sym.Close()
	if r.pid > 0 {
		// Known from the start: its map is captured before it can exit.
		_ = sym.Snapshot(uint32(r.pid))
	}
	// New processes are noticed from the first event on: the notices are
	// read before anything is attached.
	if err := sess.Declare(r.sink.Maps()...); err != nil {
		return err
	}
	watch, err := startPIDWatcher(sess.Map(r.sink.NewKeys), r.sink.Layout(), sym)
	if err != nil {
		return err
	}
	defer watch.close()
	var attached []*bpf.Attached
	for _, p := range r.probes {
		a, err := sess.Attach(ctx, p)
		if err != nil {
			return err
		}
		attached = append(attached, a)
		for _, mt := range a.ByMode {
			env.logf("%s: %d target(s) attached with %s", p.Name, len(mt.Targets), mt.Mode)
		}
	}
	reportSkipped(env, attached)
	rd, err := newStackReader(sess, r.sink, r.keys)
	if err != nil {
		return err
	}
	rd.keepEmpty = r.print.ShowEmpty
	var svg *svgStacks
	if r.svg != "" {
		svg = &svgStacks{kinds: map[string]symbolize.Kind{}}
	}
	out := newAsyncWriter(env.Out)
	banner := out.buffer()
	if r.banner != nil {
		w := io.Writer(banner)
		if r.quietBanner || r.print.JSON {
			w = env.Err
		}
		io.WriteString(w, r.banner(attachedTargets(attached)))
	}
	if err := env.ready(); err != nil {
		return err
	}
	ctx, stopWatch := watchPID(ctx, r.pid, "process", env)
	defer stopWatch()
	lo := loopOptions{Interval: r.interval, Duration: r.duration}
	err = summaryLoop(ctx, env, out, banner, lo, sess.Detach, func(w *bytes.Buffer, now time.Time, last bool) error {
		samples, err := rd.read(!last)
		if err != nil {
			return err
		}
		if r.keep != nil {
			kept := samples[:0]
			for _, s := range samples {
				if r.keep(s) {
					kept = append(kept, s)
				}
			}
			samples = kept
		}
		texts := render(samples, r.print, sym)
		if svg != nil {
			fp := r.print
			fp.Folded, fp.Offsets, fp.Addrs, fp.Kinds = true, false, false, svg.kinds
			svg.add(render(samples, fp, sym), fp)
		}
		switch {
		case r.print.JSON:
			return writeStacksJSON(w, now, texts, r.print)
		case r.print.Folded:
			writeFolded(w, texts, r.print)
		default:
			if !r.print.ProfileStyle {
				fmt.Fprintln(w)
			}
			if r.timestamp {
				fmt.Fprintf(w, "%-8s\n", now.Format("15:04:05"))
			}
			writeListing(w, texts, r.print)
			if last && !r.print.ProfileStyle {
				fmt.Fprintln(w, "Detaching...")
			}
		}
		return nil
	})
	watch.close()
	rd.report(env.Err, r.tool, r.unit)
	if err != nil {
		return err
	}
	return svg.writeSVG(r.svg, r.svgTitle, r.svgUnit, r.print)
}
