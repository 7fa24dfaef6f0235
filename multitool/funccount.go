package multitool

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/btool/btool/bpf"
	"github.com/btool/btool/bpf/compile"
	"github.com/btool/btool/bpf/feature"
	"github.com/btool/btool/specparse"
)

// FunccountOptions are funccount's options (bcc funccount's flags).
type FunccountOptions struct {
	Pattern    string
	Regex      bool          // -r: the function part is a regular expression
	PID        int           // -p: count only this process (tgid); 0 for all
	CPU        int           // -c: count only on this CPU; -1 for all
	Interval   time.Duration // -i: print and clear every interval; 0 for once at the end
	Duration   time.Duration // -d: stop after this long; 0 to run until interrupted
	Timestamp  bool          // -T: print HH:MM:SS before each summary
	DryRun     bool          // -D: print the generated BPF and exit
	ProbeLimit int           // --probe-limit: most per-link targets; 0 for bpf.DefaultProbeLimit, -1 none
	JSON       bool          // --json: one JSON object per summary
}

// FuncCount is one row of a funccount summary.
type FuncCount struct {
	Func  string `json:"func"`
	Count uint64 `json:"count"`
}

// Funccount counts calls of the functions, tracepoints or USDT probes
// matching o.Pattern, printing bcc's FUNC/COUNT table (or JSON lines) every
// interval and at the end. It returns when ctx is cancelled (Ctrl-C,
// SIGTERM, closed output) or the duration has passed, with every probe
// detached. Errors in the pattern are UsageErrors.
func Funccount(ctx context.Context, o FunccountOptions, env Env) error {
	p, err := specparse.ParsePattern(o.Pattern, o.Regex)
	if err != nil {
		return usageErr(o.Pattern, err)
	}
	if o.PID < 0 {
		return usageErr("", fmt.Errorf("invalid PID %d", o.PID))
	}
	if !o.DryRun {
		if err := needRoot("funccount"); err != nil {
			return err
		}
	}
	head, err := HeadOfPattern(p)
	if err != nil {
		return err
	}
	planner := &Planner{Src: SystemSources{}, Features: env.Features, Log: env.logf}
	defer planner.Close()
	probe, err := planner.Plan(head)
	if err != nil {
		return err
	}
	// Ctrl-C during resolution stops before compiling and attaching.
	if err := ctx.Err(); err != nil {
		return err
	}
	plan, err := compile.NewCountPlan(probe.CountGroups(), uint32(o.PID), o.CPU)
	if err != nil {
		return err
	}
	if o.DryRun {
		return dumpCounters(env.Out, plan, env.Features)
	}
	probes, err := bpf.CountProbes(plan, env.Features)
	if err != nil {
		return err
	}
	sess, closeSession := openSession(o.PID, o.ProbeLimit, env)
	defer closeSession()
	var attached []*bpf.Attached
	for _, p := range probes {
		p.Name = fmt.Sprintf("%s (%s)", ShortSpec(o.Pattern), p.Kind)
		a, err := sess.Attach(ctx, p)
		if err != nil {
			return err
		}
		attached = append(attached, a)
		for _, mt := range a.ByMode {
			env.logf("%d %s target(s) attached with %s", len(mt.Targets), p.Kind, mt.Mode)
		}
	}
	reportSkipped(env, attached)
	// Output goes through an asyncWriter from here on, the banner too: a
	// stdout nobody reads must not hold up Ctrl-C.
	out := newAsyncWriter(env.Out)
	banner := out.buffer()
	if o.JSON {
		fmt.Fprintf(env.Err, "Tracing %d functions for %q... Hit Ctrl-C to end.\n", attachedTargets(attached), o.Pattern)
	} else {
		fmt.Fprintf(banner, "Tracing %d functions for %q... Hit Ctrl-C to end.\n", attachedTargets(attached), o.Pattern)
	}
	if err := env.ready(); err != nil {
		return err
	}
	ctx, stopWatch := watchPID(ctx, o.PID, "process", env)
	defer stopWatch()
	return countLoop(ctx, o, env, out, banner, &counters{sess: sess, attached: attached, slots: plan.Slots})
}

func attachedTargets(as []*bpf.Attached) int {
	n := 0
	for _, a := range as {
		n += len(a.Targets())
	}
	return n
}

// counters is an attached count plan: the session holding its counts map
// and the targets attached, whose Slot indexes the map.
type counters struct {
	sess     *bpf.Session
	attached []*bpf.Attached
	slots    uint32
}

// countLoop prints funccount's summaries (see summaryLoop), ending with
// "Detaching...".
func countLoop(ctx context.Context, o FunccountOptions, env Env, out *asyncWriter, pending *bytes.Buffer, c *counters) error {
	prev := make([]uint64, c.slots)
	lo := loopOptions{Interval: o.Interval, Duration: o.Duration}
	return summaryLoop(ctx, env, out, pending, lo, c.sess.Detach, func(w *bytes.Buffer, now time.Time, last bool) error {
		rows, err := snapshot(c, prev)
		if err != nil {
			return err
		}
		printCounts(w, o, rows, now)
		if last && !o.JSON {
			fmt.Fprintln(w, "Detaching...")
		}
		return nil
	})
}

// loopOptions say when summaryLoop prints.
type loopOptions struct {
	Interval time.Duration // print every interval; 0 for once at the end
	Duration time.Duration // stop after this long (wall time); 0 to run until ctx ends
	Count    int           // stop after this many summaries; 0 for no limit
}

// summaryLoop waits for intervals, the duration, the count or
// cancellation, calling summary to format a summary each time into the
// buffer it is given (last is set for the final one, after detach ran).
// -d is wall time, on a timer of its own: the run ends Duration after
// counting started however -i ticks fall (a ticker drops ticks it can't
// deliver, so counting ticks would overshoot). Summaries are written
// through an asyncWriter, so a stdout nobody reads can't keep Ctrl-C
// waiting: at the end the probes are detached, the last summary formatted,
// and the output gets drainTimeout past cancellation to take them; what it
// could not take is reported on stderr. A summary error ends the loop
// with that error.
//
// pending is output already formatted for out (a banner).
func summaryLoop(ctx context.Context, env Env, out *asyncWriter, pending *bytes.Buffer, o loopOptions, detach func(),
	summary func(w *bytes.Buffer, now time.Time, last bool) error) error {
	var tick, deadline <-chan time.Time
	if o.Interval > 0 {
		t := time.NewTicker(o.Interval)
		defer t.Stop()
		tick = t.C
	}
	var end time.Time
	if o.Duration > 0 {
		end = time.Now().Add(o.Duration)
		t := time.NewTimer(o.Duration)
		defer t.Stop()
		deadline = t.C
	}
	// pending holds the banner and the summaries the output has not taken
	// yet; npending counts the summaries.
	npending, printed := 0, 0
	if err := out.send(ctx, pending, 0); err == nil {
		pending = out.buffer()
	} else if ctx.Err() == nil {
		return nil // output closed
	}
	for {
		exiting := false
		select {
		case <-ctx.Done():
			exiting = true
		case <-deadline:
			exiting = true
		case <-tick:
			// A tick at the deadline is the last summary (-i 1 -d 3
			// prints three), not one more before an empty one.
			exiting = !end.IsZero() && time.Until(end) < min(o.Interval/2, 50*time.Millisecond)
			exiting = exiting || (o.Count > 0 && printed+1 >= o.Count)
		}
		if exiting {
			// Detach first: the last summary then has every count.
			detach()
		}
		if err := summary(pending, time.Now(), exiting); err != nil {
			return err
		}
		npending++
		printed++
		if !exiting {
			if err := out.send(ctx, pending, npending); err != nil {
				if ctx.Err() == nil {
					return nil // output closed: stop quietly, detach in the caller
				}
				continue // interrupted while the output was blocked
			}
			pending, npending = out.buffer(), 0
			continue
		}
		finish, cancel := afterCancel(ctx, drainTimeout)
		defer cancel()
		dropped := 0
		if err := out.send(finish, pending, npending); err != nil {
			if finish.Err() == nil {
				return nil // output closed
			}
			dropped = npending
		}
		unwritten, werr := out.close(finish)
		if dropped += unwritten; werr == nil && dropped > 0 {
			fmt.Fprintln(env.Err, droppedMessage(dropped, "summaries"))
		}
		return nil
	}
}

// snapshot reads the counters and returns the non-zero counts since the
// previous snapshot, sorted ascending by count as bcc prints them. Counts
// are differenced rather than cleared, so no event is lost between read
// and clear.
func snapshot(c *counters, prev []uint64) ([]FuncCount, error) {
	sums, err := c.sess.PerCPUSums(compile.MapCounts)
	if err != nil {
		return nil, fmt.Errorf("read counts: %w", err)
	}
	var rows []FuncCount
	for _, a := range c.attached {
		for _, t := range a.Targets() {
			d := sums[t.Slot] - prev[t.Slot]
			prev[t.Slot] = sums[t.Slot]
			if d > 0 {
				rows = append(rows, FuncCount{t.Name, d})
			}
		}
	}
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].Count < rows[j].Count })
	return rows, nil
}

// printCounts prints one summary: bcc's layout, or one JSON object.
func printCounts(w io.Writer, o FunccountOptions, rows []FuncCount, now time.Time) error {
	if o.JSON {
		if rows == nil {
			rows = []FuncCount{}
		}
		return json.NewEncoder(w).Encode(struct {
			Time   string      `json:"time"`
			Counts []FuncCount `json:"counts"`
		}{now.Format(time.RFC3339Nano), rows})
	}
	if _, err := fmt.Fprintln(w); err != nil {
		return err
	}
	if o.Timestamp {
		fmt.Fprintf(w, "%-8s\n", now.Format("15:04:05"))
	}
	fmt.Fprintf(w, "%-36s %8s\n", "FUNC", "COUNT")
	for _, r := range rows {
		if _, err := fmt.Fprintf(w, "%-36s %8d\n", r.Func, r.Count); err != nil {
			return err
		}
	}
	return nil
}

// dumpCounters prints, for each group, the program the first usable mode
// would load.
func dumpCounters(w io.Writer, plan *compile.CountPlan, f *feature.Features) error {
	for gi := range plan.Groups {
		g := &plan.Groups[gi]
		modes, err := bpf.UsableModes(g.Kind, f)
		if err != nil {
			return err
		}
		obj, err := compile.CompileCounter(plan, g, modes[0], f.Have(feature.FeatCookie) == nil)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "; %d %s target(s)\n", len(g.Targets), g.Kind)
		obj.Dump(w)
	}
	return nil
}
