package multitool

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/btool/btool/bpf"
	"github.com/btool/btool/bpf/compile"
	"github.com/btool/btool/bpf/feature"
	"github.com/btool/btool/specparse"
)

// ArgdistOptions are argdist's options: bcc argdist's flags, plus -L, -S,
// -D and --json.
type ArgdistOptions struct {
	Counts     []string      // -C: frequency counts, keyed by every expression
	Hists      []string      // -H: log2 histograms of the first expression, one per key of the others
	Linears    []string      // -L MIN,MAX,STEP:SPEC: linear histograms, likewise
	Stats      []string      // -S: count, sum, average, min and max of the first expression per key of the others
	PID        int           // -p: only this process (tgid); 0 for all
	StringSize int           // -z: bytes of string keys; 0 means 80
	Interval   time.Duration // -i: print every interval; 0 means 1 s
	Duration   time.Duration // -d: stop after this long; 0 to run until interrupted
	Count      int           // -n: stop after this many intervals; 0 for no limit
	Cumulative bool          // -c: totals since the start, not per interval
	Top        int           // -T: print only the top N rows of -C and -S tables, the N keys with most events of -H and -L; 0 for all
	DryRun     bool          // -D: print the generated BPF and exit
	ProbeLimit int           // --probe-limit: most per-link targets; 0 for bpf.DefaultProbeLimit, -1 none
	JSON       bool          // --json: one JSON object per interval
}

// argdistKind is what an argdist probe collects.
type argdistKind uint8

const (
	argCount  argdistKind = iota + 1 // -C
	argHist                          // -H
	argLinear                        // -L
	argStats                         // -S
)

func (k argdistKind) flag() string {
	return map[argdistKind]string{argCount: "-C", argHist: "-H", argLinear: "-L", argStats: "-S"}[k]
}

// argdistProbe is one -C/-H/-L/-S spec: parsed, planned, and, once built,
// the sinks whose maps hold its aggregates.
type argdistProbe struct {
	index int // position in the printing order
	kind  argdistKind
	spec  string // the spec as typed (for -L, after the bounds)
	p     *specparse.ArgdistProbe
	lin   compile.Linear
	// exprs and types are the probe's expressions with the defaults
	// filled in ($retval for a return probe without expressions); for
	// -H, -L and -S the first is the aggregated value, the rest are
	// keys.
	exprs []specparse.Expr
	types []*specparse.TypeName
	names []string // display names of exprs: the text as typed, "retval" for the default
	// defaultCalls says the probe has no expression: it counts calls
	// ("total calls").
	defaultCalls bool

	plan  *Plan
	entry *Plan // the entry probe of a return probe using $latency or $entry(x); nil if none
	// entryExprs are the x of every $entry(x), checked in the entry
	// context; timestamp says $latency is used.
	entryExprs []specparse.Expr
	timestamp  bool
	stash      *compile.Stash // the return side's view of the stash; nil without entry

	sinks   []*compile.AggSink // one; three (sum, min, max) for -S
	layouts []compile.AggLayout
	readers []*AggReader
	bprobes []*bpf.Probe // the return probes, then the entry probes
}

// title is the line above a -C or -S table: the label, else the spec.
func (a *argdistProbe) title() string {
	if a.p.Label != "" {
		return a.p.Label
	}
	return a.spec
}

// valueName is the header of a histogram's value column: the label, else
// the value expression.
func (a *argdistProbe) valueName() string {
	if a.p.Label != "" {
		return a.p.Label
	}
	return a.names[0]
}

// keyNames are the display names of the key parts.
func (a *argdistProbe) keyNames() []string {
	if a.kind == argCount {
		return a.names
	}
	return a.names[1:]
}

// Argdist collects the values of expressions at probes into in-kernel
// per-CPU aggregates (counts per key, log2 or linear histograms, sums,
// minima and maxima) and prints them every interval as bcc's argdist
// does: "[HH:MM:SS]", then the -C tables, the -H and -L histograms and
// the -S statistics. It returns on ctx cancellation, after -d or -n, or
// when the -p process exits, with every probe detached; events the
// kernel could not count (a full map, a return without its entry) are
// reported on stderr. Spec and option errors are UsageErrors.
func Argdist(ctx context.Context, o ArgdistOptions, env Env) error {
	probes, err := parseArgdistSpecs(o)
	if err != nil {
		return err
	}
	if o.StringSize == 0 {
		o.StringSize = compile.DefaultStringSize
	}
	if o.Interval == 0 {
		o.Interval = time.Second
	}
	if err := checkArgdistOptions(o); err != nil {
		return err
	}
	if !o.DryRun {
		if err := needRoot("argdist"); err != nil {
			return err
		}
	}
	planner := &Planner{Src: SystemSources{}, Features: env.Features, Log: env.logf, DryRun: o.DryRun, Contexts: true}
	defer planner.Close()
	cookies := env.Features.Have(feature.FeatCookie) == nil
	filters := compile.Filters{PID: uint32(o.PID), UID: -1, CPU: -1}
	if o.PID == 0 {
		filters.SkipTGID = uint32(os.Getpid())
	}
	for _, a := range probes {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := a.prepare(planner, o, filters, cookies, env); err != nil {
			return err
		}
	}
	if o.DryRun || env.Verbose {
		w := env.Out
		if !o.DryRun {
			w = env.Err
		}
		for _, a := range probes {
			for _, bp := range a.bprobes {
				obj, err := bp.Build(bp.Modes[0], bp.Targets)
				if err != nil {
					return err
				}
				fmt.Fprintf(w, "; %s\n", bp.Name)
				obj.Dump(w)
			}
		}
		if o.DryRun {
			return nil
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	sess, closeSession := openSession(o.PID, o.ProbeLimit, env)
	defer closeSession()
	var attached []*bpf.Attached
	for _, a := range probes {
		for _, bp := range a.bprobes {
			at, err := sess.Attach(ctx, bp)
			if err != nil {
				return specAttachErr(env, a.spec, a.p.Pos, a.p.End, err)
			}
			attached = append(attached, at)
			for _, mt := range at.ByMode {
				env.logf("%s: %d target(s) attached with %s", bp.Name, len(mt.Targets), mt.Mode)
			}
		}
		for i, s := range a.sinks {
			m := sess.Map(s.Map)
			if m == nil {
				return fmt.Errorf("%s: no %s map", a.spec, s.Map)
			}
			a.readers = append(a.readers, NewAggReader(m, a.layouts[i]))
		}
	}
	reportSkipped(env, attached)
	out := newAsyncWriter(env.Out)
	if err := env.ready(); err != nil {
		return err
	}
	ctx, stopWatch := watchPID(ctx, o.PID, "process", env)
	defer stopWatch()
	defer reportArgdistDrops(env, sess, probes)
	lo := loopOptions{Interval: o.Interval, Duration: o.Duration, Count: o.Count}
	return summaryLoop(ctx, env, out, out.buffer(), lo, sess.Detach, func(w *bytes.Buffer, now time.Time, last bool) error {
		snap, err := readArgdist(probes, o.Cumulative)
		if err != nil {
			return err
		}
		if o.JSON {
			return writeArgdistJSON(w, now, snap, o.Top)
		}
		writeArgdistText(w, now, snap, o.Top)
		return nil
	})
}

// checkArgdistOptions validates the numbers.
func checkArgdistOptions(o ArgdistOptions) error {
	switch {
	case o.StringSize < 1 || o.StringSize > 4096:
		return usageErr("", fmt.Errorf("-z: string size must be 1 to 4096, got %d", o.StringSize))
	case o.PID < 0:
		return usageErr("", fmt.Errorf("-p: invalid PID %d", o.PID))
	case o.Count < 0:
		return usageErr("", fmt.Errorf("-n: expected a number of intervals, got %d", o.Count))
	case o.Top < 0:
		return usageErr("", fmt.Errorf("-T: expected a number of rows, got %d", o.Top))
	case o.Interval < 0 || o.Duration < 0:
		return usageErr("", errors.New("-i and -d must be positive"))
	}
	return nil
}

// parseArgdistSpecs parses every spec, in printing order (-C, -H, -L,
// -S), and checks what each kind needs.
func parseArgdistSpecs(o ArgdistOptions) ([]*argdistProbe, error) {
	var probes []*argdistProbe
	add := func(kind argdistKind, specs []string) error {
		for _, s := range specs {
			a := &argdistProbe{index: len(probes), kind: kind, spec: s}
			if kind == argLinear {
				bounds, rest, ok := strings.Cut(s, ":")
				if !ok {
					return usageErr(s, errors.New("-L: expected MIN,MAX,STEP:SPEC, as in -L 0,100,10:p:c:malloc(size_t n):size_t:n"))
				}
				lin, err := parseLinear(bounds)
				if err != nil {
					return usageErr(s, &specparse.Error{Pos: 0, End: specparse.Pos(len(bounds)), Msg: "-L: " + err.Error()})
				}
				a.lin, a.spec = lin, rest
			}
			p, err := specparse.ParseArgdist(a.spec)
			if err != nil {
				return usageErr(a.spec, err)
			}
			a.p = p
			if err := a.defaults(); err != nil {
				return err
			}
			probes = append(probes, a)
		}
		return nil
	}
	for _, k := range []struct {
		kind  argdistKind
		specs []string
	}{{argCount, o.Counts}, {argHist, o.Hists}, {argLinear, o.Linears}, {argStats, o.Stats}} {
		if err := add(k.kind, k.specs); err != nil {
			return nil, err
		}
	}
	if len(probes) == 0 {
		return nil, usageErr("", errors.New("at least one specifier is required (-C, -H, -L or -S)"))
	}
	return probes, nil
}

// parseLinear parses -L's "MIN,MAX,STEP".
func parseLinear(s string) (compile.Linear, error) {
	parts := strings.Split(s, ",")
	if len(parts) != 3 {
		return compile.Linear{}, fmt.Errorf("expected MIN,MAX,STEP before the spec, got %q", s)
	}
	var lin compile.Linear
	var err error
	if lin.Min, err = strconv.ParseInt(strings.TrimSpace(parts[0]), 0, 64); err != nil {
		return lin, fmt.Errorf("MIN %q is not an integer", parts[0])
	}
	if lin.Max, err = strconv.ParseInt(strings.TrimSpace(parts[1]), 0, 64); err != nil {
		return lin, fmt.Errorf("MAX %q is not an integer", parts[1])
	}
	if lin.Step, err = strconv.ParseUint(strings.TrimSpace(parts[2]), 0, 64); err != nil || lin.Step == 0 {
		return lin, fmt.Errorf("STEP %q is not a positive integer", parts[2])
	}
	if lin.Max <= lin.Min {
		return lin, fmt.Errorf("MIN %d must be below MAX %d", lin.Min, lin.Max)
	}
	if n := (uint64(lin.Max) - uint64(lin.Min) + lin.Step - 1) / lin.Step; n > compile.MaxLinearBuckets {
		return lin, fmt.Errorf("%d buckets, more than %d: use a larger STEP", n, compile.MaxLinearBuckets)
	}
	return lin, nil
}

// defaults fills in the default expression and checks the expression
// count and the special variables' placement.
func (a *argdistProbe) defaults() error {
	p := a.p
	a.exprs, a.types = p.Exprs, p.Types
	for _, e := range p.Exprs {
		a.names = append(a.names, strings.TrimSpace(a.spec[e.Pos():e.End()]))
	}
	if len(p.Exprs) == 0 {
		if p.Kind != specparse.Return {
			if a.kind != argCount {
				return usageErr(a.spec, &specparse.Error{Pos: p.Pos, End: p.End,
					Msg: fmt.Sprintf("%s needs an expression to aggregate, as in %s:u64:arg1", a.kind.flag(), p.String())})
			}
			a.defaultCalls = true
		} else {
			// bcc: "r" without expressions is $retval.
			a.exprs = []specparse.Expr{&specparse.Ident{Span: specparse.Span{Start: p.Pos, Stop: p.End}, Name: "$retval"}}
			a.types = nil
			a.names = []string{"retval"}
		}
	}
	for _, e := range append(append([]specparse.Expr(nil), p.Exprs...), p.Filter) {
		var bad specparse.Expr
		specparse.Inspect(e, func(x specparse.Expr) bool {
			switch n := x.(type) {
			case *specparse.Ident:
				if n.Name == "$latency" {
					a.timestamp = true
					if p.Kind != specparse.Return && bad == nil {
						bad = n
					}
				}
			case *specparse.Call:
				if n.Fun == "$entry" {
					if p.Kind != specparse.Return && bad == nil {
						bad = n
					}
					if len(n.Args) == 1 {
						a.addEntry(n.Args[0])
					}
					return false
				}
			}
			return true
		})
		if bad != nil {
			return usageErr(a.spec, &specparse.Error{Pos: bad.Pos(), End: bad.End(),
				Msg: "$latency and $entry() need a return probe (r:), whose entry btool probes too"})
		}
	}
	return nil
}

// addEntry records x of $entry(x), once per text.
func (a *argdistProbe) addEntry(x specparse.Expr) {
	text := specparse.ExprString(x)
	for _, e := range a.entryExprs {
		if specparse.ExprString(e) == text {
			return
		}
	}
	a.entryExprs = append(a.entryExprs, x)
}

// mapName is the name of the probe's i-th sink map.
func (a *argdistProbe) mapName(suffix string) string {
	return fmt.Sprintf("ad%d%s", a.index, suffix)
}

// sinksFor returns the probe's sinks over vs (checked exprs).
func (a *argdistProbe) sinksFor(vs []*compile.Value, ss int) ([]*compile.AggSink, error) {
	var val *compile.Value
	keys := vs
	if a.kind != argCount {
		val, keys = vs[0], vs[1:]
		if val.Kind == compile.FieldStr {
			e := a.exprs[0]
			return nil, &specparse.Error{Pos: e.Pos(), End: e.End(), Msg: fmt.Sprintf("%s aggregates an integer, and %s is a string (make it a key of -C)", a.kind.flag(), a.names[0])}
		}
	}
	var key []compile.KeyPart
	for _, v := range keys {
		key = append(key, compile.KeyPart{Kind: compile.KeyValue, Value: v})
	}
	mk := func(suffix string, agg compile.AggKind) *compile.AggSink {
		s := &compile.AggSink{Map: a.mapName(suffix), Key: key, Agg: agg, StringSize: ss, MaxEntries: argdistMapEntries}
		if agg != compile.AggCount {
			s.Value = val
		}
		return s
	}
	switch a.kind {
	case argCount:
		return []*compile.AggSink{mk("", compile.AggCount)}, nil
	case argHist:
		return []*compile.AggSink{mk("", compile.AggLog2)}, nil
	case argLinear:
		s := mk("", compile.AggLinear)
		s.Linear = a.lin
		if !val.Signed() && a.lin.Min < 0 {
			return nil, &specparse.Error{Pos: 0, End: a.p.End, Msg: fmt.Sprintf("-L: %s is unsigned, so MIN must be 0 or more, not %d", a.names[0], a.lin.Min)}
		}
		return []*compile.AggSink{s}, nil
	}
	return []*compile.AggSink{mk("_sum", compile.AggSum), mk("_min", compile.AggMin), mk("_max", compile.AggMax)}, nil
}

// prepare plans the probe (and its entry probe), checks its expressions
// against every layout and mode, and sets up the bpf.Probes that build
// its programs.
func (a *argdistProbe) prepare(pl *Planner, o ArgdistOptions, filters compile.Filters, cookies bool, env Env) error {
	head, err := HeadOfArgdist(a.p, a.spec)
	if err != nil {
		return err
	}
	if a.plan, err = pl.Plan(head); err != nil {
		return err
	}
	a.plan.Modes = perfTracepointFirst(a.plan.Modes)
	filtersFor := func(plan *Plan, m compile.Mode) compile.Filters {
		f := filters
		if m == compile.ModeRawSyscalls {
			f.Syscall, f.SyscallExit = plan.Syscall, plan.Kind == compile.SyscallExit
		}
		return f
	}
	name := func(what string, plan *Plan, l int) string {
		n := fmt.Sprintf("%s probe %d (%s)", a.kind.flag(), a.index, ShortSpec(a.spec))
		if what != "" {
			n = fmt.Sprintf("%s probe %d entry (%s)", a.kind.flag(), a.index, ShortSpec(a.spec))
		}
		if len(plan.Layouts) > 1 {
			n += ", layout of " + plan.Layouts[l].Target
		}
		return n
	}
	// The entry side: $entry(x) values and the $latency timestamp,
	// stashed by an entry probe on the same function.
	stashName := a.mapName("_stash")
	// The entry probes attach after the return probes, so an entry is
	// stashed only for a call whose return is probed.
	var entries []*bpf.Probe
	if len(a.entryExprs) > 0 || a.timestamp {
		eh := *head
		eh.Return, eh.ReadsNothing = false, len(a.entryExprs) == 0
		if a.entry, err = pl.Plan(&eh); err != nil {
			return err
		}
		a.entry.Modes = perfTracepointFirst(a.entry.Modes)
		entryStash := func(l int, m compile.Mode) (*compile.Stash, error) {
			pc, err := a.entry.Layouts[l].Probe(m)
			if err != nil {
				return nil, err
			}
			var fields []*compile.Value
			if len(a.entryExprs) > 0 {
				if fields, err = compile.CheckValues(a.entryExprs, pc, compile.ValueOptions{Argdist: true}); err != nil {
					return nil, err
				}
			}
			return argdistStash(stashName, a.timestamp, fields, a.entry.Layouts[l].Kind == CtxUserGo), nil
		}
		for l := range a.entry.Layouts {
			for mi, m := range a.entry.Modes {
				st, err := entryStash(l, m)
				if err != nil && mi == 0 {
					return layoutErr(a.spec, a.entry, l, m, err)
				}
				if a.stash == nil && st != nil {
					a.stash = st
				}
			}
		}
		for l := range a.entry.Layouts {
			l, plan := l, a.entry
			entries = append(entries, &bpf.Probe{Name: name("entry", plan, l), Kind: plan.Kind, Targets: plan.LayoutTargets(l), Modes: plan.Modes,
				Build: func(m compile.Mode, targets []compile.Target) (*compile.Object, error) {
					st, err := entryStash(l, m)
					if err != nil {
						return nil, err
					}
					b := compile.Build{Name: fmt.Sprintf("argdist_%de", a.index), Mode: m, Filters: filtersFor(plan, m), Sink: &compile.EntrySink{Stash: st}}
					return compile.Assemble(b, plan.Kind, targets, cookies, 0)
				}})
		}
	}
	plan := a.plan
	// build checks the expressions in layout l and mode m and returns
	// the program for targets, with the sinks it writes.
	build := func(l int, m compile.Mode, targets []compile.Target) (*compile.Object, []*compile.AggSink, error) {
		pc, err := plan.Layouts[l].Probe(m)
		if err != nil {
			return nil, nil, err
		}
		vo := compile.ValueOptions{Types: a.types, Stash: a.stash, Argdist: true}
		var vs []*compile.Value
		if len(a.exprs) > 0 {
			if vs, err = compile.CheckValues(a.exprs, pc, vo); err != nil {
				return nil, nil, err
			}
		}
		var ct *compile.CheckedTrace
		if a.p.Filter != nil {
			if ct, err = compile.CheckFilter(a.p.Filter, pc, compile.ValueOptions{Stash: a.stash, Argdist: true}); err != nil {
				return nil, nil, err
			}
		}
		sinks, err := a.sinksFor(vs, o.StringSize)
		if err != nil {
			return nil, nil, err
		}
		var sink compile.Sink = sinks[0]
		if len(sinks) > 1 {
			var ss compile.Sinks
			for _, s := range sinks {
				ss = append(ss, s)
			}
			sink = ss
		}
		b := compile.Build{Name: fmt.Sprintf("argdist_%d", a.index), Mode: m, Return: plan.Return, Filters: filtersFor(plan, m),
			Checked: ct, Stash: a.stash, Sink: sink}
		obj, err := compile.Assemble(b, plan.Kind, targets, cookies, 0)
		return obj, sinks, err
	}
	// Check every layout in every mode, as trace does; layouts that
	// compile alike share a program. Every layout must lay out the map
	// alike, since they write the same one.
	var layoutKey string
	err = plan.MergeLayouts(func(l int) (string, error) {
		var key strings.Builder
		for mi, m := range plan.Modes {
			obj, sinks, err := build(l, m, []compile.Target{{}, {Slot: 1}})
			switch {
			case err != nil && mi == 0:
				return "", layoutErr(a.spec, plan, l, m, err)
			case err != nil:
				fmt.Fprintf(&key, "error %v|", err)
				continue
			}
			fmt.Fprintf(&key, "%v|", obj.Programs[0].Spec.Instructions)
			if mi == 0 {
				var lk strings.Builder
				for _, s := range sinks {
					fmt.Fprintf(&lk, "%+v;", s.Layout())
				}
				if l == 0 {
					layoutKey = lk.String()
					a.sinks = sinks
					for _, s := range sinks {
						a.layouts = append(a.layouts, s.Layout())
					}
				} else if lk.String() != layoutKey {
					return "", layoutErr(a.spec, plan, l, m, errors.New("the expressions have other types here than at "+plan.Layouts[0].Target+": give them types"))
				}
			}
		}
		return key.String(), nil
	})
	if err != nil {
		return err
	}
	for l := range plan.Layouts {
		l := l
		a.bprobes = append(a.bprobes, &bpf.Probe{Name: name("", plan, l), Kind: plan.Kind, Return: plan.Return, Targets: plan.LayoutTargets(l), Modes: plan.Modes,
			Build: func(m compile.Mode, targets []compile.Target) (*compile.Object, error) {
				obj, _, err := build(l, m, targets)
				return obj, err
			}})
	}
	a.bprobes = append(a.bprobes, entries...)
	return nil
}

// argdistMapEntries is the size of argdist's maps; 0 means
// compile.DefaultAggEntries. Tests shrink it to fill a map.
var argdistMapEntries uint32

// argdistStash returns the stash of a return probe's $latency and
// $entry(x) values: keyed by the Go call frame on Go code (goroutines move
// between threads, and each frame has its own key, recursion included),
// else by thread with a stack of up to 16 nested calls, so a recursive or
// nested call does not overwrite its caller's entry (bcc#2548).
func argdistStash(name string, timestamp bool, fields []*compile.Value, goCode bool) *compile.Stash {
	st := &compile.Stash{Map: name, Timestamp: timestamp, Fields: fields}
	if goCode {
		st.Key = compile.StashKeyGoFrame
		return st
	}
	level := 8 * len(fields)
	if timestamp {
		level += 8
	}
	st.Depth = min(argdistStashDepth, (compile.MaxStashValue-8)/max(level, 8))
	return st
}

// argdistStashDepth is the deepest nesting of one thread's calls that
// $latency and $entry(x) time; deeper calls are skipped and counted.
const argdistStashDepth = 16

// reportArgdistDrops says on stderr how many events the kernel could not
// count: probes the kernel skipped (kernels from 6.7 report it), keys
// that did not fit a full map, returns whose entry was not stashed,
// entries that could not be stored.
func reportArgdistDrops(env Env, sess *bpf.Session, probes []*argdistProbe) {
	if n, ok := sess.ProbeMissed(); ok && n > 0 {
		fmt.Fprintf(env.Err, "btool: argdist: %d events missed: the kernel did not run the program (a kretprobe out of instances, or another BPF program running on that CPU)\n", n)
	}
	for _, a := range probes {
		for _, s := range a.sinks {
			d, err := AggDrops(sess, s)
			if err != nil || len(d) <= compile.AggDropFull || d[compile.AggDropFull] == 0 {
				continue
			}
			n := s.MaxEntries
			if n == 0 {
				n = compile.DefaultAggEntries
			}
			fmt.Fprintf(env.Err, "btool: argdist: %s %s: %d events not counted: the map of %d keys was full\n", a.kind.flag(), ShortSpec(a.spec), d[compile.AggDropFull], n)
			break // the sinks of -S drop alike
		}
		if a.stash == nil {
			continue
		}
		d, err := sess.PerCPUSums(a.stash.DropsMap())
		if err != nil || len(d) < compile.StashDrops {
			continue
		}
		if n := d[compile.StashDropMissing]; n > 0 {
			fmt.Fprintf(env.Err, "btool: argdist: %s %s: %d returns skipped: their entry was not recorded (the call began before tracing started, or its entry was evicted)\n", a.kind.flag(), ShortSpec(a.spec), n)
		}
		if n := d[compile.StashDropFull]; n > 0 {
			fmt.Fprintf(env.Err, "btool: argdist: %s %s: %d entries could not be recorded: their returns are skipped\n", a.kind.flag(), ShortSpec(a.spec), n)
		}
		if n := d[compile.StashDropDeep]; n > 0 {
			fmt.Fprintf(env.Err, "btool: argdist: %s %s: %d returns skipped: calls nested deeper than %d in one thread\n", a.kind.flag(), ShortSpec(a.spec), n, a.stash.Depth)
		}
		if n := d[compile.StashReplaced]; n > 0 {
			fmt.Fprintf(env.Err, "btool: argdist: %s %s: %d entries replaced before their return (a call that never returned, such as one a Go panic unwound)\n", a.kind.flag(), ShortSpec(a.spec), n)
		}
		if m := sess.Map(a.stash.Map); m != nil {
			live := 0
			var k, v []byte
			for it := m.Iterate(); it.Next(&k, &v); {
				live++
			}
			if n := a.stash.Evicted(d, live); n > 0 {
				fmt.Fprintf(env.Err, "btool: argdist: %s %s: %d entries evicted from the full stash of %d: their returns are skipped\n", a.kind.flag(), ShortSpec(a.spec), n, compile.DefaultStashEntries)
			}
		}
	}
}
