package multitool

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"time"

	"github.com/cilium/ebpf"

	"github.com/btool/btool/bpf"
	"github.com/btool/btool/bpf/compile"
	"github.com/btool/btool/bpf/feature"
	"github.com/btool/btool/specparse"
)

// FunclatencyOptions are funclatency's options (bcc funclatency's flags,
// plus --json and --probe-limit).
type FunclatencyOptions struct {
	Pattern     string
	Regex       bool          // -r: the function part is a regular expression
	PID         int           // -p: only this process (tgid); 0 for all
	Interval    time.Duration // -i: print and clear every interval; 0 for once at the end
	Duration    time.Duration // -d: stop after this long; 0 to run until interrupted
	Timestamp   bool          // -T: print HH:MM:SS before each summary
	Micro       bool          // -u: histogram in microseconds
	Milli       bool          // -m: histogram in milliseconds
	PerFunction bool          // -F: one histogram per function
	// Levels (-l) is how many nested calls per thread keep their own
	// start time; 0 means DefaultLatencyLevels.
	Levels     int
	ProbeLimit int  // --probe-limit: most per-link targets; 0 for bpf.DefaultProbeLimit, -1 none
	JSON       bool // --json: one JSON object per summary
	DryRun     bool // -D: print the generated BPF and exit
	// From and To, instead of Pattern, are the two probes of a two-probe
	// latency (argdist grammar; their expressions are the key).
	From, To string
	// MaxPending bounds the starts waiting for their end (the stash
	// size) in the two-probe mode; 0 means DefaultMaxPending.
	MaxPending int
}

// DefaultLatencyLevels is the nesting depth funclatency keeps start times
// for when -l is not given.
const DefaultLatencyLevels = 16

// MaxLatencyLevels bounds -l: 8 bytes of depth and 8 per level fit the
// stash's 256-byte value (compile.MaxStashValue).
const MaxLatencyLevels = 31

// latencyUnit is the histogram's unit: its label and nanoseconds per unit.
type latencyUnit struct {
	label string
	div   uint64
}

func (o *FunclatencyOptions) unit() latencyUnit {
	switch {
	case o.Milli:
		return latencyUnit{"msecs", 1000000}
	case o.Micro:
		return latencyUnit{"usecs", 1000}
	}
	return latencyUnit{"nsecs", 1}
}

// The maps of funclatency's programs.
const (
	latStashMap = "lat_start"
	latHistMap  = "lat_hist"
	latSumMap   = "lat_sum"
)

// latencyProgram is funclatency's compiled plan: the entry and return
// probes, the stash between them and the sinks the return programs fill.
type latencyProgram struct {
	entry, ret *Plan
	stash      *compile.Stash
	hist, sum  *compile.AggSink
	probes     []*bpf.Probe
	unit       latencyUnit
	pair       bool // the two-probe mode (--from, --to)
}

// Funclatency times the functions matching o.Pattern from entry to return
// and prints bcc's log2 histogram of their latencies, with its avg line,
// every interval and at the end (or JSON lines). It returns when ctx is
// cancelled or the duration has passed, with every probe detached. Errors
// in the pattern or options are UsageErrors. Kernel: kprobes or fentry for
// kernel functions, syscall tracepoints for syscall names without them,
// uprobes for user functions; per-CPU hash maps (4.6), LRU hash (4.10).
func Funclatency(ctx context.Context, o FunclatencyOptions, env Env) error {
	if o.Micro && o.Milli {
		return usageErr("", errors.New("only set one of -m or -u"))
	}
	if o.PID < 0 {
		return usageErr("", fmt.Errorf("invalid PID %d", o.PID))
	}
	if o.Levels < 0 {
		return usageErr("", fmt.Errorf("-l: invalid nesting level %d", o.Levels))
	}
	pair := o.From != "" || o.To != ""
	var p *specparse.Pattern
	if pair {
		if err := checkPairOptions(o); err != nil {
			return usageErr("", err)
		}
	} else {
		if o.MaxPending != 0 {
			return usageErr("", errors.New("--max-pending is for --from and --to: a PATTERN's start times are bounded by -l"))
		}
		var err error
		if p, err = specparse.ParseLatencyPattern(o.Pattern, o.Regex); err != nil {
			return usageErr(o.Pattern, err)
		}
	}
	if !o.DryRun {
		if err := needRoot("funclatency"); err != nil {
			return err
		}
	}
	planner := &Planner{Src: SystemSources{}, Features: env.Features, Log: env.logf, DryRun: o.DryRun, Contexts: true}
	defer planner.Close()
	var lp *latencyProgram
	var err error
	if pair {
		lp, err = planPair(ctx, planner, o, env)
	} else {
		lp, err = planLatency(ctx, planner, p, o, env)
	}
	if err != nil {
		return err
	}
	if o.DryRun {
		for _, bp := range lp.probes {
			obj, err := bp.Build(bp.Modes[0], bp.Targets)
			if err != nil {
				return err
			}
			fmt.Fprintf(env.Out, "; %s\n", bp.Name)
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
	for _, bp := range lp.probes {
		a, err := sess.Attach(ctx, bp)
		if err != nil {
			return err
		}
		attached = append(attached, a)
		for _, mt := range a.ByMode {
			env.logf("%s: %d target(s) attached with %s", bp.Name, len(mt.Targets), mt.Mode)
		}
	}
	reportSkipped(env, attached)
	out := newAsyncWriter(env.Out)
	banner := out.buffer()
	w := io.Writer(banner)
	if o.JSON {
		w = env.Err
	}
	if pair {
		fmt.Fprintf(w, "Tracing latency from %q to %q... Hit Ctrl-C to end.\n", o.From, o.To)
	} else {
		fmt.Fprintf(w, "Tracing %d functions for %q... Hit Ctrl-C to end.\n", len(funcNames(lp.entry)), o.Pattern)
	}
	if err := env.ready(); err != nil {
		return err
	}
	ctx, stopWatch := watchPID(ctx, o.PID, "process", env)
	defer stopWatch()
	hist := NewAggReader(sess.Map(latHistMap), lp.hist.Layout())
	sum := NewAggReader(sess.Map(latSumMap), lp.sum.Layout())
	lo := loopOptions{Interval: o.Interval, Duration: o.Duration}
	err = summaryLoop(ctx, env, out, banner, lo, sess.Detach, func(w *bytes.Buffer, now time.Time, last bool) error {
		s, err := readLatency(lp, hist, sum, o.PerFunction)
		if err != nil {
			return err
		}
		if o.JSON {
			return s.writeJSON(w, now)
		}
		if err := s.print(w, o.Timestamp, now); err != nil {
			return err
		}
		if last {
			fmt.Fprintln(w, "Detaching...")
		}
		return nil
	})
	reportLatencyDrops(env, sess, lp)
	return err
}

// funcNames returns the distinct function names of plan's targets, in
// order: a Go function probed at several RETs is one function.
func funcNames(plan *Plan) []string {
	var names []string
	seen := map[string]bool{}
	for _, t := range plan.Targets {
		if !seen[t.Name] {
			seen[t.Name] = true
			names = append(names, t.Name)
		}
	}
	return names
}

// planLatency plans the entry and return probes of pattern p and builds
// their bpf.Probes: an EntrySink stashing the entry time, and a return
// program that looks it up and adds the latency to a log2 histogram (in
// the display unit) and a sum (nanoseconds).
func planLatency(ctx context.Context, pl *Planner, p *specparse.Pattern, o FunclatencyOptions, env Env) (*latencyProgram, error) {
	eh, err := HeadOfPattern(p)
	if err != nil {
		return nil, err
	}
	eh.ReadsNothing = true
	rh := *eh
	rh.Return = true
	entry, err := pl.Plan(eh)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ret, err := pl.Plan(&rh)
	if err != nil {
		return nil, err
	}
	if err := alignReturnTargets(entry, ret); err != nil {
		return nil, err
	}
	explainLatencyPlan(env, entry, ret)
	lp := &latencyProgram{entry: entry, ret: ret, unit: o.unit()}
	multi := len(entry.Targets) > 1
	// Functions of a wildcard that call each other (vfs_read calling
	// vfs_iter_read) each keep their own start time.
	lp.stash = &compile.Stash{Map: latStashMap, Timestamp: true, PerTarget: multi}
	if ret.Kind == compile.UserFunc && !ret.Return {
		// Go: returns are uprobes on RET instructions, matched to their
		// entry by goroutine and frame, whichever thread runs them.
		lp.stash.Key = compile.StashKeyGoFrame
		env.logf("start times keyed by goroutine and stack frame: goroutines move between threads")
	} else {
		lp.stash.Depth = o.Levels
		if lp.stash.Depth == 0 {
			lp.stash.Depth = DefaultLatencyLevels
		}
		env.logf("start times kept per thread, %d nested calls deep (-l)", lp.stash.Depth)
	}
	var keys []compile.KeyPart
	if o.PerFunction {
		keys = []compile.KeyPart{{Kind: compile.KeyTarget}}
	}
	lp.hist = &compile.AggSink{Map: latHistMap, Agg: compile.AggLog2, Key: keys}
	lp.sum = &compile.AggSink{Map: latSumMap, Agg: compile.AggSum, Key: keys, Value: lp.stash.Latency()}

	filters := compile.Filters{PID: uint32(o.PID), UID: -1, CPU: -1}
	if o.PID == 0 {
		filters.SkipTGID = uint32(os.Getpid())
	}
	cookies := env.Features.Have(feature.FeatCookie) == nil
	build := func(plan *Plan, m compile.Mode, targets []compile.Target) (*compile.Object, error) {
		f := filters
		if m == compile.ModeRawSyscalls {
			f.Syscall, f.SyscallExit = plan.Syscall, plan.Kind == compile.SyscallExit
		}
		b := compile.Build{Name: "lat_entry", Mode: m, Filters: f, Sink: &compile.EntrySink{Stash: lp.stash}}
		if plan == ret {
			hist := *lp.hist
			v, err := latencyValue(plan, m, lp.stash, lp.unit)
			if err != nil {
				return nil, err
			}
			hist.Value = v
			b = compile.Build{Name: "lat_return", Mode: m, Return: plan.Return, Filters: f, Stash: lp.stash,
				Sink: compile.Sinks{&hist, lp.sum}}
		}
		return compile.Assemble(b, plan.Kind, targets, cookies, 0)
	}
	// The return probes attach first and detach with the entries: every
	// start stashed then belongs to a call whose return is probed.
	for _, plan := range []*Plan{ret, entry} {
		plan := plan
		what := "entry"
		if plan == ret {
			what = "return"
		}
		bp := &bpf.Probe{Name: fmt.Sprintf("%s (%s)", ShortSpec(o.Pattern), what), Kind: plan.Kind, Return: plan.Return,
			Targets: plan.Targets, Modes: plan.Modes,
			Build: func(m compile.Mode, targets []compile.Target) (*compile.Object, error) {
				return build(plan, m, targets)
			}}
		// Build once now: an error is the pattern's, not the kernel's.
		if _, err := bp.Build(bp.Modes[0], bp.Targets); err != nil {
			return nil, err
		}
		lp.probes = append(lp.probes, bp)
	}
	return lp, nil
}

// latencyValue is the histogram's value in the return program: the stash's
// latency in nanoseconds, or $latency / unit checked against plan's
// context in mode m.
func latencyValue(plan *Plan, m compile.Mode, st *compile.Stash, u latencyUnit) (*compile.Value, error) {
	if u.div == 1 {
		return st.Latency(), nil
	}
	if len(plan.Layouts) == 0 {
		return nil, fmt.Errorf("internal error: no context for %s", plan.Head.Spec)
	}
	pc, err := plan.Layouts[0].Probe(m)
	if err != nil {
		return nil, err
	}
	e := &specparse.Binary{Op: specparse.OpDiv, X: &specparse.Ident{Name: "$latency"}, Y: &specparse.IntLit{Value: u.div}}
	vs, err := compile.CheckValues([]specparse.Expr{e}, pc, compile.ValueOptions{Stash: st})
	if err != nil {
		return nil, err
	}
	return vs[0], nil
}

// alignReturnTargets gives each return target the slot of its function's
// entry target, so the stash key (with PerTarget) and the -F key of a
// return name the function whose entry stashed the time. A Go function
// has a return target per RET instruction, all with its entry's slot.
func alignReturnTargets(entry, ret *Plan) error {
	slot := map[string]uint32{}
	for _, t := range entry.Targets {
		k := t.Path + "\x00" + t.Name
		if _, dup := slot[k]; dup {
			// Two functions of one name (static functions in
			// different files): only their order tells them apart.
			if len(entry.Targets) != len(ret.Targets) {
				return fmt.Errorf("%s: %d entry and %d return targets, and two functions named %s", entry.Head.Spec, len(entry.Targets), len(ret.Targets), t.Name)
			}
			return nil
		}
		slot[k] = t.Slot
	}
	for i := range ret.Targets {
		t := &ret.Targets[i]
		s, ok := slot[t.Path+"\x00"+t.Name]
		if !ok {
			return fmt.Errorf("%s: return target %s has no entry target", entry.Head.Spec, t.Name)
		}
		t.Slot = s
	}
	return nil
}

// explainLatencyPlan says with -v how the entry and return are probed.
func explainLatencyPlan(env Env, entry, ret *Plan) {
	if !env.Verbose {
		return
	}
	switch {
	case entry.Kind == compile.SyscallEnter:
		env.logf("timing %s between the syscalls:%s and syscalls:%s tracepoints, keyed by thread", entry.Head.Func, entry.Targets[0].Event, ret.Targets[0].Event)
	case !ret.Return && entry.Kind == compile.UserFunc:
		env.logf("timing %d Go function(s) from their entry to uprobes on their %d RET instructions (no uretprobes: they crash Go programs)", len(entry.Targets), len(ret.Targets))
	default:
		env.logf("timing %d function(s) from entry to return probe (modes %v)", len(entry.Targets), entry.Modes)
	}
}

// latencySummary is one interval's histograms and sums.
type latencySummary struct {
	unit  latencyUnit
	total latencyHist   // every function
	funcs []latencyHist // -F: per function, by name
}

// latencyHist is one histogram, its sum (ns) and count.
type latencyHist struct {
	Func    string
	Slots   []uint64
	TotalNS uint64
	Count   uint64
}

// readLatency reads the histogram and sum maps (the change since the last
// read) into a summary.
func readLatency(lp *latencyProgram, hist, sum *AggReader, perFunc bool) (*latencySummary, error) {
	hrows, err := hist.Read(false)
	if err != nil {
		return nil, fmt.Errorf("read histogram: %w", err)
	}
	srows, err := sum.Read(false)
	if err != nil {
		return nil, fmt.Errorf("read sums: %w", err)
	}
	s := &latencySummary{unit: lp.unit, total: latencyHist{Slots: make([]uint64, compile.Log2Slots)}}
	names := funcNames(lp.entry)
	name := func(l compile.AggLayout, key []byte) string {
		if len(l.Key) == 0 {
			return ""
		}
		i := l.Key[0].Uint(key)
		if i < uint64(len(lp.entry.Targets)) {
			return lp.entry.Targets[i].Name
		}
		return fmt.Sprintf("target %d", i)
	}
	byName := map[string]*latencyHist{}
	get := func(n string) *latencyHist {
		h := byName[n]
		if h == nil {
			h = &latencyHist{Func: n, Slots: make([]uint64, compile.Log2Slots)}
			byName[n] = h
		}
		return h
	}
	hl := lp.hist.Layout()
	for _, h := range GroupHists(hl, hrows) {
		for i, c := range h.Slots {
			s.total.Slots[i] += c
			if perFunc {
				get(name(hl, h.Key)).Slots[i] += c
			}
		}
	}
	sl := lp.sum.Layout()
	for _, r := range srows {
		s.total.TotalNS += r.Value.Value
		s.total.Count += r.Value.Count
		if perFunc {
			h := get(name(sl, r.Key))
			h.TotalNS += r.Value.Value
			h.Count += r.Value.Count
		}
	}
	if perFunc {
		// In pattern order, so the sections come out the same each run.
		for _, n := range names {
			if h := byName[n]; h != nil {
				s.funcs = append(s.funcs, *h)
				delete(byName, n)
			}
		}
		var rest []string
		for n := range byName {
			rest = append(rest, n)
		}
		sort.Strings(rest)
		for _, n := range rest {
			s.funcs = append(s.funcs, *byName[n])
		}
	}
	return s, nil
}

// print writes the summary in bcc's layout: a blank line, the time with
// -T, the histogram (or a "Function = name" section per function), and
// the avg line over every function when anything was timed.
func (s *latencySummary) print(w io.Writer, timestamp bool, now time.Time) error {
	fmt.Fprintln(w)
	if timestamp {
		fmt.Fprintf(w, "%-8s\n", now.Format("15:04:05"))
	}
	if s.funcs == nil {
		if err := PrintLog2Hist(w, s.unit.label, s.total.Slots); err != nil {
			return err
		}
	}
	for _, f := range s.funcs {
		fmt.Fprintf(w, "\nFunction = %s\n", f.Func)
		if err := PrintLog2Hist(w, s.unit.label, f.Slots); err != nil {
			return err
		}
	}
	if s.total.Count > 0 {
		total := s.total.TotalNS / s.unit.div
		_, err := fmt.Fprintf(w, "\navg = %d %s, total: %d %s, count: %d\n\n", total/s.total.Count, s.unit.label, total, s.unit.label, s.total.Count)
		return err
	}
	return nil
}

// latencyJSON is one function's (or every function's) histogram in JSON.
type latencyJSON struct {
	Func    string       `json:"func,omitempty"`
	Buckets []Log2Bucket `json:"buckets"`
	Count   uint64       `json:"count"`
	Total   uint64       `json:"total"`    // in the unit
	Avg     uint64       `json:"avg"`      // in the unit
	TotalNS uint64       `json:"total_ns"` // nanoseconds
}

func (h *latencyHist) json(u latencyUnit) latencyJSON {
	j := latencyJSON{Func: h.Func, Buckets: Log2Buckets(h.Slots), Count: h.Count, Total: h.TotalNS / u.div, TotalNS: h.TotalNS}
	if j.Buckets == nil {
		j.Buckets = []Log2Bucket{}
	}
	if h.Count > 0 {
		j.Avg = j.Total / h.Count
	}
	return j
}

// writeJSON writes the summary as one JSON object: the time, the unit,
// the histogram of every call and, with -F, one per function.
func (s *latencySummary) writeJSON(w io.Writer, now time.Time) error {
	v := struct {
		Time string `json:"time"`
		Unit string `json:"unit"`
		latencyJSON
		Functions []latencyJSON `json:"functions,omitempty"`
	}{Time: now.Format(time.RFC3339Nano), Unit: s.unit.label, latencyJSON: s.total.json(s.unit)}
	for i := range s.funcs {
		v.Functions = append(v.Functions, s.funcs[i].json(s.unit))
	}
	return json.NewEncoder(w).Encode(v)
}

// reportLatencyDrops says on stderr what the kernel could not time: calls
// whose program the kernel skipped (recursion protection), returns without
// a recorded start, starts that could not be recorded, and histogram
// events dropped because the map was full.
func reportLatencyDrops(env Env, sess *bpf.Session, lp *latencyProgram) {
	if n := sess.Missed(); n > 0 {
		fmt.Fprintf(env.Err, "%d events missed: the kernel skipped the program while it was already running on that CPU\n", n)
	}
	if n, ok := sess.ProbeMissed(); ok && n > 0 {
		fmt.Fprintf(env.Err, "%d probe hits missed by the kernel (kretprobe maxactive instances all in use, or another BPF program running on that CPU): those calls are not timed\n", n)
	}
	if d, err := sess.PerCPUSums(lp.stash.DropsMap()); err == nil && len(d) >= compile.StashDrops {
		ends, calls := "returns", "calls"
		if lp.pair {
			ends, calls = "ends", "starts"
		}
		if n := d[compile.StashDropMissing]; n > 0 {
			fmt.Fprintf(env.Err, "%d %s not timed: no start time recorded for them (begun before tracing, or the start was overwritten or evicted)\n", n, ends)
		}
		if n := d[compile.StashDropFull]; n > 0 {
			fmt.Fprintf(env.Err, "%d %s not timed: their start time could not be stored\n", n, calls)
		}
		if n := d[compile.StashDropDeep]; n > 0 {
			fmt.Fprintf(env.Err, "%d calls not timed: nested more than %d deep in one thread (raise -l)\n", n, lp.stash.Depth)
		}
		if n := d[compile.StashReplaced]; n > 0 && lp.stash.Key == compile.StashKeyGoFrame {
			// Not a loss: a Go function whose stack check grows the
			// goroutine's stack runs its entry again at the same frame
			// (it is timed from there), and a call left by a panic
			// never reaches a RET.
			env.logf("%d Go calls started again at the same frame (a stack growth re-running the entry, or a call left by panic)", n)
		} else if n > 0 {
			fmt.Fprintf(env.Err, "%d starts replaced by a later start with the same key before their end: the earlier ones are not timed\n", n)
		}
		if live, err := countKeys(sess.Map(lp.stash.Map)); err == nil {
			if n := lp.stash.Evicted(d, live); n > 0 {
				fmt.Fprintf(env.Err, "%d starts evicted: more than %d were waiting for their end (--max-pending)\n", n, stashSize(lp.stash))
			}
		}
	}
	for _, s := range []*compile.AggSink{lp.hist, lp.sum} {
		if d, err := AggDrops(sess, s); err == nil && len(d) > compile.AggDropFull && d[compile.AggDropFull] > 0 {
			fmt.Fprintf(env.Err, "%d latencies not counted in %s: the map was full\n", d[compile.AggDropFull], s.Map)
		}
	}
}

// countKeys counts the keys of m (the stash, after detach).
func countKeys(m *ebpf.Map) (int, error) {
	if m == nil {
		return 0, errors.New("no map")
	}
	var k, v []byte
	n := 0
	it := m.Iterate()
	for it.Next(&k, &v) {
		n++
	}
	return n, it.Err()
}

// stashSize is st's entries.
func stashSize(st *compile.Stash) uint32 {
	if st.MaxEntries == 0 {
		return compile.DefaultStashEntries
	}
	return st.MaxEntries
}
