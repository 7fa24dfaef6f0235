package multitool

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/perf"
	"github.com/cilium/ebpf/ringbuf"

	"github.com/btool/btool/bpf"
	"github.com/btool/btool/bpf/compile"
	"github.com/btool/btool/bpf/feature"
	"github.com/btool/btool/multitool/symbolize"
	"github.com/btool/btool/specparse"
)

// TraceOptions are trace's options (bcc trace's flags, plus --json).
type TraceOptions struct {
	Specs       []string
	PID         int    // -p: only this process (tgid); 0 for all
	TID         int    // -L: only this thread; 0 for all
	UID         int    // --uid: only this user; -1 for all
	Timestamp   bool   // -t: TIME column, seconds since start
	UnixTime    bool   // -u: with -t, absolute UNIX time
	Time        bool   // -T: TIME column, HH:MM:SS
	CPU         bool   // -C: CPU column
	KernelStack bool   // -K
	UserStack   bool   // -U
	Address     bool   // -a: print stack addresses
	MaxEvents   int    // -M: exit after this many printed events; 0 for no limit
	StringSize  int    // -Z: bytes captured for %s; 0 means 80
	IncludeSelf bool   // -S: don't skip btool's own events
	Name        string // -n: only events whose comm contains this
	MsgFilter   string // -f: only events whose message contains this
	BufferPages int    // -b: ring buffer pages (total), perf pages per CPU
	DryRun      bool   // -D: print the generated BPF and exit
	CgroupPath  string // -c: trace only tasks in this cgroup v2 directory or its descendants; "" for all
	Aggregate   bool   // -A: count identical event texts and print each once at the end, with its count (needs -M)
	ProbeLimit  int    // --probe-limit: most per-link targets per probe; 0 for bpf.DefaultProbeLimit, -1 none
	JSON        bool   // --json: one JSON object per event
}

// traceProbe is one layout group of one probe: the programs of a probe
// spec whose targets share a context. Its records carry its index in
// HdrProbe, so each is decoded with its own layout.
type traceProbe struct {
	spec   int // index of the probe spec
	plan   *Plan
	layout *compile.EventLayout
	verbs  []specparse.Verb
	format bool // the spec has a format string
	group  int  // layout index in plan.Layouts
	// sleepable says which modes built sleepable programs.
	sleepable map[compile.Mode]bool
}

// layoutErr is a spec that does not check or compile against layout l of
// plan. With several layouts the message names a target of l, since the
// spec may fit the others.
func layoutErr(spec string, plan *Plan, l int, m compile.Mode, err error) error {
	if len(plan.Layouts) < 2 {
		return usageErr(spec, err)
	}
	n := 0
	for _, x := range plan.LayoutOf {
		if x == l {
			n++
		}
	}
	where := plan.Layouts[l].Target
	if n > 1 {
		where += fmt.Sprintf(" (and %d more target(s) like it)", n-1)
	}
	var list specparse.ErrorList
	if errors.As(err, &list) {
		out := make(specparse.ErrorList, len(list))
		for i, e := range list {
			c := *e
			c.Msg = "at " + where + ": " + e.Msg
			out[i] = &c
		}
		return usageErr(spec, out)
	}
	return usageErr(spec, fmt.Errorf("at %s (%s): %w", where, m, err))
}

// Trace attaches one program per probe spec and prints a line (or JSON
// object) per event, as bcc's trace does. It returns on ctx cancellation,
// after -M events, or on a read error, with every probe detached. Spec
// errors are UsageErrors carrying the spec.
func Trace(ctx context.Context, o TraceOptions, env Env) error {
	if len(o.Specs) == 0 {
		return usageErr("", errors.New("expected at least one probe spec"))
	}
	if o.PID != 0 && o.TID != 0 {
		return usageErr("", errors.New("only one of -p and -L may be specified"))
	}
	if o.StringSize == 0 {
		o.StringSize = 80
	}
	if o.Aggregate && o.MaxEvents == 0 {
		return usageErr("", errors.New("-M/--max-events should be specified with -A/--aggregate"))
	}
	if o.Aggregate && o.JSON {
		return usageErr("", errors.New("-A/--aggregate prints text; it can't be combined with --json"))
	}
	if o.StringSize < 1 || o.StringSize > 4096 {
		return usageErr("", fmt.Errorf("-Z: string size must be 1 to 4096, got %d", o.StringSize))
	}
	probes := make([]*specparse.Probe, len(o.Specs))
	for i, s := range o.Specs {
		p, err := specparse.ParseTrace(s)
		if err != nil {
			return usageErr(s, err)
		}
		probes[i] = p
	}
	if !o.DryRun {
		if err := needRoot("trace"); err != nil {
			return err
		}
	}
	cgroupFD := 0
	if o.CgroupPath != "" {
		cg, err := openCgroup(o.CgroupPath)
		if err != nil {
			return usageErr("", fmt.Errorf("-c: %w", err))
		}
		// The fd is copied into the cgroup map when it is created; keep it
		// open until the session is built.
		defer cg.Close()
		cgroupFD = int(cg.Fd())
	}
	planner := &Planner{Src: SystemSources{}, Features: env.Features, Log: env.logf, DryRun: o.DryRun, Contexts: true}
	defer planner.Close()
	var tps []*traceProbe
	var bprobes []*bpf.Probe
	maxRecord := 0
	useRing := env.Features.Have(feature.FeatRingBuf) == nil
	cookies := env.Features.Have(feature.FeatCookie) == nil
	// Sleepable uprobe programs can fault in the page of a user string
	// that a plain program could only mark as (fault).
	sleepable := env.Features.Have(feature.FeatSleepableUprobe) == nil
	filters := compile.Filters{PID: uint32(o.PID), TID: uint32(o.TID), UID: int64(o.UID), CPU: -1, CgroupFD: cgroupFD}
	if !o.IncludeSelf && o.PID == 0 && o.TID == 0 {
		filters.SkipTGID = uint32(os.Getpid())
	}
	ringBytes := uint32(0)
	if o.BufferPages > 0 {
		ringBytes = uint32(o.BufferPages * os.Getpagesize())
	}
	for i, p := range probes {
		// Resolving and compiling a wildcard's layouts takes a while:
		// Ctrl-C stops between probes and between layouts, as attaching
		// stops between targets.
		if err := ctx.Err(); err != nil {
			return err
		}
		head, err := HeadOfProbe(p, o.Specs[i])
		if err != nil {
			return err
		}
		plan, err := planner.Plan(head)
		if err != nil {
			return err
		}
		var verbs []specparse.Verb
		if p.Format != nil {
			if verbs, err = p.Format.Verbs(); err != nil {
				return usageErr(o.Specs[i], err)
			}
		}
		// buildLayout generates the programs of layout l in mode m for
		// targets (some or all of the layout's), whose records carry
		// recIdx. maxRecord is read when it runs, after every layout's
		// record size is known.
		buildLayout := func(l int, recIdx uint32, m compile.Mode, targets []compile.Target) (*compile.Object, *compile.EventLayout, error) {
			pc, err := plan.Layouts[l].Probe(m)
			if err != nil {
				return nil, nil, err
			}
			ct, err := compile.CheckTrace(p, pc, compile.CheckOptions{StringSize: o.StringSize})
			if err != nil {
				return nil, nil, err
			}
			f := filters
			if m == compile.ModeRawSyscalls {
				f.Syscall, f.SyscallExit = plan.Syscall, plan.Kind == compile.SyscallExit
			}
			base := compile.Build{
				Name: fmt.Sprintf("trace_%d", recIdx), Mode: m, Return: plan.Return, Checked: ct, Filters: f,
				Sink: &compile.RecordSink{ProbeIndex: recIdx, KernelStack: o.KernelStack, UserStack: o.UserStack,
					PerfBuffer: !useRing, RingBytes: ringBytes, RecordSize: maxRecord},
			}
			base.Sleepable = sleepable && (m == compile.ModeUprobe || m == compile.ModeUprobeMulti) &&
				ct.ReadsUserStrings() && compile.SleepableMaps(base.Maps())
			obj, err := compile.Assemble(base, plan.Kind, targets, cookies, 0)
			return obj, ct.Layout(), err
		}
		// Check every layout in every mode: a spec that does not fit
		// one of them fails here, naming a target that has it. Layouts
		// that compile to the same code (the spec reads nothing in
		// which they differ) then share one program.
		err = plan.MergeLayouts(func(l int) (string, error) {
			if err := ctx.Err(); err != nil {
				return "", err
			}
			var key strings.Builder
			for mi, m := range plan.Modes {
				// Two stand-in targets: the index comes from the cookie
				// (or per target from its slot) alike for every layout,
				// so it does not tell them apart.
				obj, layout, err := buildLayout(l, 0, m, []compile.Target{{}, {Slot: 1}})
				switch {
				case err != nil && mi == 0:
					return "", layoutErr(o.Specs[i], plan, l, m, err)
				case err != nil:
					// A later mode fails at attach time and the ladder
					// moves on.
					fmt.Fprintf(&key, "error %v|", err)
				default:
					fmt.Fprintf(&key, "%v|%+v|", obj.Programs[0].Spec.Instructions, *layout)
				}
			}
			return key.String(), nil
		})
		if err != nil {
			return err
		}
		if len(plan.Layouts) > 1 {
			env.logf("probe %d (%s): %d targets in %d layouts", i, o.Specs[i], len(plan.Targets), len(plan.Layouts))
		}
		for l := range plan.Layouts {
			if err := ctx.Err(); err != nil {
				return err
			}
			l, group, recIdx := l, plan.LayoutTargets(l), uint32(len(tps))
			tp := &traceProbe{spec: i, plan: plan, verbs: verbs, format: p.Format != nil, group: l, sleepable: map[compile.Mode]bool{}}
			tps = append(tps, tp)
			build := func(m compile.Mode, targets []compile.Target) (*compile.Object, error) {
				obj, layout, err := buildLayout(l, recIdx, m, targets)
				if err != nil {
					return nil, err
				}
				tp.layout = layout
				tp.sleepable[m] = len(obj.Programs) > 0 && obj.Programs[0].Spec.Flags&compile.FlagSleepable != 0
				return obj, nil
			}
			// Build once now for the record layout (and -D).
			if _, err := build(plan.Modes[0], group); err != nil {
				return usageErr(o.Specs[i], err)
			}
			maxRecord = max(maxRecord, tp.layout.Size)
			name := fmt.Sprintf("probe %d (%s)", i, ShortSpec(o.Specs[i]))
			if len(plan.Layouts) > 1 {
				name = fmt.Sprintf("probe %d (%s), layout of %s", i, ShortSpec(o.Specs[i]), plan.Layouts[l].Target)
			}
			bprobes = append(bprobes, &bpf.Probe{Name: name, Kind: plan.Kind, Return: plan.Return, Targets: group, Modes: plan.Modes, Build: build})
		}
	}
	if o.DryRun {
		for i, bp := range bprobes {
			obj, err := bp.Build(bp.Modes[0], bp.Targets)
			if err != nil {
				return err
			}
			tp := tps[i]
			fmt.Fprintf(env.Out, "; probe %d: %s\n", tp.spec, o.Specs[tp.spec])
			if n := len(tp.plan.Layouts); n > 1 {
				fmt.Fprintf(env.Out, "; layout %d of %d, the targets laid out like %s\n", tp.group+1, n, tp.plan.Layouts[tp.group].Target)
			}
			fmt.Fprintf(env.Out, "; record %d bytes\n", tp.layout.Size)
			obj.Dump(env.Out)
		}
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	sess, closeSession := openSession(o.PID, o.ProbeLimit, env)
	defer closeSession()
	var attached []*bpf.Attached
	for i, bp := range bprobes {
		si := tps[i].spec
		a, err := sess.Attach(ctx, bp)
		if err != nil {
			return traceAttachErr(env, o.Specs[si], probes[si], err)
		}
		attached = append(attached, a)
		for _, mt := range a.ByMode {
			how := mt.Mode.String()
			if tps[i].sleepable[mt.Mode] {
				how += " (sleepable: user strings may fault pages in)"
			}
			env.logf("%s: %d target(s) attached with %s", bp.Name, len(mt.Targets), how)
		}
	}
	reportSkipped(env, attached)
	ctx, stopWatch := watchTarget(ctx, o.PID, o.TID, env)
	defer stopWatch()
	return traceLoop(ctx, o, env, sess, tps)
}

// traceAttachErr turns a verifier rejection of probe p's program into a
// spec error pointing at the part of the spec whose code was rejected, or
// at the whole probe; other errors pass through.
func traceAttachErr(env Env, spec string, p *specparse.Probe, err error) error {
	return specAttachErr(env, spec, p.Pos, p.End, err)
}

// specAttachErr is traceAttachErr for a probe spanning pos..end of spec.
func specAttachErr(env Env, spec string, pos, end specparse.Pos, err error) error {
	var ve *ebpf.VerifierError
	var pe *bpf.ProbeError
	if !errors.As(err, &ve) || !errors.As(err, &pe) {
		return err
	}
	if env.Verbose {
		fmt.Fprintf(env.Err, "%+v\n", ve)
	}
	hint := " (run with -v for the full log)"
	if env.Verbose {
		hint = ""
	}
	// A runtime failure, but it belongs to this spec.
	what := "this probe"
	if pe.HasPart && pe.Part.HasSpan {
		pos, end, what = pe.Part.Pos, pe.Part.End, "the code for "+pe.Part.Label
	} else if pe.HasPart {
		what = "this probe's " + pe.Part.Label
	}
	return &SpecError{Spec: spec, Err: &specparse.Error{Pos: pos, End: end,
		Msg: fmt.Sprintf("the kernel's verifier rejected %s (%s program): %v%s", what, pe.Mode, ve, hint)}}
}

// traceLoop reads records until ctx ends or -M events were printed.
//
// Output goes through an asyncWriter, so a slow or blocked reader of
// stdout (or slow -K/-U symbolization) can't hold up Ctrl-C: the loop
// checks ctx between events and while it waits for the output. Once ctx
// ends it stops reading, detaches every probe, and prints what the buffer
// already holds for at most drainTimeout; what is left is counted and
// reported on stderr as not printed.
func traceLoop(ctx context.Context, o TraceOptions, env Env, sess *bpf.Session, tps []*traceProbe) error {
	rd, err := openEvents(sess, o.BufferPages)
	if err != nil {
		return err
	}
	cols := TraceColumns{CPU: o.CPU}
	switch {
	case o.Timestamp && o.UnixTime:
		cols.Time = TimeUnix
	case o.Timestamp:
		cols.Time = TimeRelative
	case o.Time:
		cols.Time = TimeClock
	}
	for _, tp := range tps {
		if tp.format {
			cols.HasFormat = true
		}
	}
	clk := NewClock()
	sym := symbolize.New(symbolize.Options{Lines: env.Verbose}) // -v: file:line of frames
	defer sym.Close()
	if o.PID != 0 {
		// Capture the target's mappings now: it may exit before its
		// first event is read.
		sym.Snapshot(uint32(o.PID))
	}
	// Lines are built in a 64 KiB chunk that is handed to the writer
	// whenever it fills or the ring buffer runs dry, so a burst costs one
	// write per 64 KiB and a lone event appears at once.
	const chunkSize = 64 << 10
	out := newAsyncWriter(env.Out)
	cur, curEvents := out.buffer(), 0
	if !o.JSON {
		fmt.Fprintln(cur, cols.Header())
		// The header goes out at once, not with the first events.
		if err := out.send(ctx, cur, 0); err == nil {
			cur = out.buffer()
		}
	}
	if err := env.ready(); err != nil {
		return err
	}

	var (
		mu       sync.Mutex
		lastLost uint64
	)
	reportLost := func(final bool) {
		mu.Lock()
		defer mu.Unlock()
		n, err := sess.LostCount()
		if err != nil || n == lastLost {
			return
		}
		fmt.Fprintln(env.Err, LostMessage(n-lastLost))
		lastLost = n
	}
	done := make(chan struct{})
	var watcher sync.WaitGroup
	watcher.Add(1)
	go func() {
		defer watcher.Done()
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				// Wake a read blocked on an idle buffer.
				rd.flush()
				return
			case <-done:
				return
			case <-t.C:
				reportLost(false)
			}
		}
	}()
	defer func() {
		// Join the watcher before closing the reader, so its Flush can't
		// race the Close, and before the session's maps go away.
		close(done)
		watcher.Wait()
		rd.close()
		reportLost(true)
		if n := sess.Missed(); n > 0 {
			fmt.Fprintf(env.Err, "%d events missed: the kernel skipped the program while it was already running on that CPU\n", n)
		}
	}()

	// Symbolizing %U needs the process's mappings, captured at first sight.
	needSyms := make([]bool, len(tps))
	for i, tp := range tps {
		for _, v := range tp.verbs {
			needSyms[i] = needSyms[i] || v.Base() == "U"
		}
	}
	var dec TraceDecoder
	defer func() {
		if dec.Faults > 0 {
			env.logf("%d %%s argument(s) could not be read (page not present or a bad address); printed as (fault)", dec.Faults)
		}
	}()
	var ev TraceEvent
	printed := 0
	var msgBuf, line []byte
	// -A: identical event texts are counted, and printed once each at the
	// end, most frequent first.
	var agg *aggregator
	var aggBuf bytes.Buffer
	if o.Aggregate {
		agg = &aggregator{counts: map[string]int{}}
	}
	var msgFilter []byte
	if o.MsgFilter != "" {
		msgFilter = []byte(o.MsgFilter)
	}
	// printEvent formats rec into cur (or the aggregate) and says whether
	// it printed it.
	printEvent := func(rec []byte) bool {
		probe, err := TraceRecordProbe(rec)
		if err != nil || int(probe) >= len(tps) {
			return false
		}
		pi := int(probe)
		tp := tps[pi]
		if err := dec.Decode(rec, tp.layout, &ev); err != nil {
			return false
		}
		if o.Name != "" && !strings.Contains(ev.Comm, o.Name) {
			return false
		}
		if needSyms[pi] || o.UserStack {
			sym.Snapshot(ev.PID)
		}
		msgBuf = AppendMessage(msgBuf[:0], tp.verbs, ev.Values, sym, ev.PID)
		if msgFilter != nil && !bytes.Contains(msgBuf, msgFilter) {
			return false
		}
		fn := funcName(tp.plan, ev.Target)
		if o.KernelStack {
			ev.KAddrs = trimTracerFrames(sess.StackAddrs(ev.KStack), sym)
		}
		if o.UserStack {
			ev.UAddrs = sess.StackAddrs(ev.UStack)
		}
		if o.JSON {
			b, err := TraceJSON(&ev, fn, string(msgBuf), clk, sym)
			if err != nil {
				return false
			}
			line = append(append(line[:0], b...), '\n')
		} else {
			// The message ends the line: append it from its buffer rather
			// than allocating a string per event.
			line = append(append(cols.AppendLine(line[:0], &ev, fn, "", clk), msgBuf...), '\n')
		}
		w := cur
		if agg != nil {
			aggBuf.Reset()
			w = &aggBuf
		}
		w.Write(line)
		if !o.JSON && (o.KernelStack || o.UserStack) {
			if o.KernelStack {
				writeStack(w, ev.KAddrs, ev.KStack, false, ev.PID, o.Address, sym)
			}
			if o.UserStack {
				writeStack(w, ev.UAddrs, ev.UStack, true, ev.PID, o.Address, sym)
			}
			w.WriteByte('\n')
		}
		if agg != nil {
			agg.add(aggBuf.String())
		} else {
			curEvents++
		}
		return true
	}
	// send hands the current chunk to the writer, waiting until ctx ends.
	send := func(ctx context.Context) error {
		if err := out.send(ctx, cur, curEvents); err != nil {
			return err
		}
		cur, curEvents = out.buffer(), 0
		return nil
	}
	full := func() bool { return o.MaxEvents > 0 && printed >= o.MaxEvents }
	var loopErr error
	outputClosed := false
	for !full() && ctx.Err() == nil {
		rec, remaining, lost, err := rd.read()
		if err != nil {
			if ctx.Err() == nil && !isReaderDone(err) {
				loopErr = fmt.Errorf("read events: %w", err)
			}
			break
		}
		if lost > 0 {
			fmt.Fprintln(env.Err, LostMessage(lost))
			continue
		}
		if printEvent(rec) {
			printed++
		}
		if remaining == 0 || cur.Len() >= chunkSize || full() {
			if err := send(ctx); err != nil && ctx.Err() == nil {
				outputClosed = true
				break
			}
		}
	}

	// finish bounds the rest of the output: after cancellation (now or
	// while the rest is written), drainTimeout more.
	var finish context.Context
	dropped := 0
	if ctx.Err() != nil && !outputClosed {
		// Interrupted: detach first, so the buffer stops filling, then
		// print what it already holds, within the bound.
		sess.Detach()
		var cancel context.CancelFunc
		finish, cancel = context.WithTimeout(context.Background(), drainTimeout)
		defer cancel()
		rd.setDeadline(time.Now()) // read only what is there
		for !full() {
			rec, remaining, lost, err := rd.read()
			if errors.Is(err, ringbuf.ErrFlushed) || errors.Is(err, perf.ErrFlushed) {
				continue // the watcher's wake-up; read on to the deadline
			}
			if err != nil {
				break
			}
			if lost > 0 {
				fmt.Fprintln(env.Err, LostMessage(lost))
				continue
			}
			if finish.Err() != nil || outputClosed {
				dropped++ // counted, not formatted: it could not be printed in time
				continue
			}
			if printEvent(rec) {
				printed++
			}
			if remaining == 0 || cur.Len() >= chunkSize || full() {
				if err := send(finish); err != nil && finish.Err() == nil {
					outputClosed = true
				}
			}
		}
	} else {
		var cancel context.CancelFunc
		finish, cancel = afterCancel(ctx, drainTimeout)
		defer cancel()
	}
	if agg != nil {
		agg.print(cur)
		curEvents = printed
	}
	if finish.Err() != nil && !outputClosed {
		// The drain's time went to formatting (symbolizing a stack can
		// take a while), not necessarily to a blocked output: give the
		// writer one more bound to take what is ready.
		var cancel context.CancelFunc
		finish, cancel = context.WithTimeout(context.Background(), drainTimeout)
		defer cancel()
	}
	if !outputClosed && send(finish) != nil {
		dropped += curEvents
	}
	unwritten, werr := out.close(finish)
	dropped += unwritten
	if werr == nil && !outputClosed && dropped > 0 {
		fmt.Fprintln(env.Err, droppedMessage(dropped, "events"))
	}
	return loopErr
}

// isReaderDone says whether a read error means the reader was flushed or
// closed, rather than failed.
func isReaderDone(err error) bool {
	return errors.Is(err, ringbuf.ErrFlushed) || errors.Is(err, perf.ErrFlushed) || errors.Is(err, os.ErrClosed) ||
		errors.Is(err, ringbuf.ErrClosed) || errors.Is(err, perf.ErrClosed) || errors.Is(err, os.ErrDeadlineExceeded)
}

func writeStack(w io.Writer, addrs []uint64, id int32, user bool, pid uint32, showAddr bool, sym symbolize.Symbolizer) {
	if id < 0 {
		symbolize.FormatStackError(w, id)
		return
	}
	symbolize.FormatStack(w, addrs, user, pid, showAddr, sym)
}

// tracerFrames are the kernel's BPF and tracing glue between the probed
// code and the program; stacks start below them, as users expect.
var tracerFrames = []string{"bpf_prog_", "bpf_trace_run", "__bpf_trace_", "__traceiter_", "trace_call_bpf", "kprobe_", "perf_trace_",
	"bpf_trampoline_", "__bpf_prog_enter", "__bpf_prog_exit", "fprobe_", "kprobe_multi_link_", "rethook_", "arch_rethook_",
	"kretprobe_", "__kretprobe_", "ftrace_", "perf_syscall_", "trace_event_"}

// trimTracerFrames drops leading frames that belong to the tracing
// machinery itself.
func trimTracerFrames(addrs []uint64, sym symbolize.Symbolizer) []uint64 {
	for len(addrs) > 1 {
		name, _, ok := sym.Kernel(addrs[0])
		if !ok || !hasAnyPrefix(name, tracerFrames) {
			break
		}
		addrs = addrs[1:]
	}
	return addrs
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// funcName is the FUNC column: the target the event came from.
func funcName(plan *Plan, target uint64) string {
	if target < uint64(len(plan.Targets)) {
		return plan.Targets[target].Name
	}
	return plan.Head.Func
}

// eventReader reads the session's event buffer.
type eventReader struct {
	// read blocks for one record and returns it, the bytes still waiting
	// behind it, and a count of records the perf buffer lost.
	read func() ([]byte, int, uint64, error)
	// flush makes a blocked read return what is buffered and then
	// ErrFlushed; it may be called from another goroutine.
	flush func()
	// setDeadline makes reads fail with os.ErrDeadlineExceeded, once the
	// buffer is empty, from t on; not concurrently with read.
	setDeadline func(t time.Time)
	// close closes the reader; more calls do nothing.
	close func()
}

// openEvents opens the session's ring buffer (or perf buffer).
func openEvents(sess *bpf.Session, pages int) (*eventReader, error) {
	var once sync.Once
	events := sess.Map(compile.MapEvents)
	if events == nil {
		return nil, errors.New("no events map")
	}
	if events.Type() == ebpf.RingBuf {
		rd, err := ringbuf.NewReader(events)
		if err != nil {
			return nil, err
		}
		var rec ringbuf.Record
		return &eventReader{
			read: func() ([]byte, int, uint64, error) {
				if err := rd.ReadInto(&rec); err != nil {
					return nil, 0, 0, err
				}
				return rec.RawSample, rec.Remaining, 0, nil
			},
			flush:       func() { rd.Flush() },
			setDeadline: rd.SetDeadline,
			close:       func() { once.Do(func() { rd.Close() }) },
		}, nil
	}
	if pages <= 0 {
		pages = 64
	}
	rd, err := perf.NewReader(events, pages*os.Getpagesize())
	if err != nil {
		return nil, err
	}
	var rec perf.Record
	return &eventReader{
		read: func() ([]byte, int, uint64, error) {
			if err := rd.ReadInto(&rec); err != nil {
				return nil, 0, 0, err
			}
			return rec.RawSample, rec.Remaining, rec.LostSamples, nil
		},
		flush:       func() { rd.Flush() },
		setDeadline: rd.SetDeadline,
		close:       func() { once.Do(func() { rd.Close() }) },
	}, nil
}

// aggregator counts identical event texts for -A.
type aggregator struct {
	counts map[string]int
	order  []string // first-seen order, to break ties
}

func (a *aggregator) add(text string) {
	if _, ok := a.counts[text]; !ok {
		a.order = append(a.order, text)
	}
	a.counts[text]++
}

// print writes each distinct text followed by "-->COUNT n" and a blank
// line, most frequent first, as bcc's trace -A does.
func (a *aggregator) print(w io.Writer) {
	sort.SliceStable(a.order, func(i, j int) bool { return a.counts[a.order[i]] > a.counts[a.order[j]] })
	for _, t := range a.order {
		fmt.Fprintf(w, "%s-->COUNT %d\n\n", strings.TrimSuffix(t, "\n"), a.counts[t])
	}
}
