package multitool

import (
	"context"
	"errors"
	"fmt"

	"github.com/btool/btool/bpf"
	"github.com/btool/btool/bpf/compile"
	"github.com/btool/btool/bpf/feature"
	"github.com/btool/btool/specparse"
)

// This file is funclatency's two-probe mode: the latency from a start
// probe to an end probe (--from, --to), matched by key expressions (the
// biolatency pattern: a block request's issue to its completion, keyed by
// the request pointer) or, without them, by thread (a syscall's enter and
// exit).

// DefaultMaxPending is the stash size of the two-probe mode when
// --max-pending is not given: starts waiting for their end at once.
const DefaultMaxPending = compile.DefaultStashEntries

// pairEnd is one of the two probes: its spec, parsed, and its plan.
type pairEnd struct {
	spec string
	p    *specparse.ArgdistProbe
	plan *Plan
}

// planPair plans the --from and --to probes and builds their bpf.Probes:
// the start stashes the time under its key, the end looks its key up and
// adds the latency to the histogram and the sum. Errors in the specs are
// UsageErrors.
func planPair(ctx context.Context, pl *Planner, o FunclatencyOptions, env Env) (*latencyProgram, error) {
	var ends [2]*pairEnd
	for i, spec := range []string{o.From, o.To} {
		p, err := specparse.ParseArgdist(spec)
		if err != nil {
			return nil, usageErr(spec, err)
		}
		if p.Label != "" {
			return nil, usageErr(spec, specErr(spec, p.LabelPos, p.End, "a --from or --to probe takes no #label"))
		}
		ends[i] = &pairEnd{spec: spec, p: p}
	}
	from, to := ends[0], ends[1]
	if len(from.p.Exprs) != len(to.p.Exprs) {
		return nil, usageErr("", fmt.Errorf("--from has %d key expression(s) and --to %d: they must match, one for one", len(from.p.Exprs), len(to.p.Exprs)))
	}
	for _, e := range ends {
		h, err := HeadOfArgdist(e.p, e.spec)
		if err != nil {
			return nil, err
		}
		h.ReadsNothing = false
		if e.plan, err = pl.Plan(h); err != nil {
			return nil, err
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
	lp := &latencyProgram{entry: from.plan, ret: to.plan, unit: o.unit(), pair: true}
	maxPending := o.MaxPending
	if maxPending == 0 {
		maxPending = DefaultMaxPending
	}
	lp.stash = &compile.Stash{Map: latStashMap, Timestamp: true, MaxEntries: uint32(maxPending)}
	if err := pairKeyStash(lp.stash, len(from.p.Exprs)); err != nil {
		return nil, usageErr(o.From, err)
	}
	lp.hist = &compile.AggSink{Map: latHistMap, Agg: compile.AggLog2}
	lp.sum = &compile.AggSink{Map: latSumMap, Agg: compile.AggSum, Value: lp.stash.Latency()}
	if from.p.Exprs == nil {
		env.logf("timing from %s to %s, keyed by thread", from.spec, to.spec)
	} else {
		env.logf("timing from %s to %s, keyed by %d expression(s); at most %d starts wait for their end", from.spec, to.spec, len(from.p.Exprs), maxPending)
	}

	filters := compile.Filters{PID: uint32(o.PID), UID: -1, CPU: -1}
	cookies := env.Features.Have(feature.FeatCookie) == nil
	// The end probes attach first, as in planLatency.
	for _, e := range []*pairEnd{to, from} {
		e := e
		isEnd := e == to
		build := func(l int, m compile.Mode, targets []compile.Target) (*compile.Object, error) {
			pc, err := e.plan.Layouts[l].Probe(m)
			if err != nil {
				return nil, err
			}
			keys, err := compile.CheckValues(e.p.Exprs, pc, compile.ValueOptions{Types: e.p.Types})
			if err != nil {
				return nil, err
			}
			for i, k := range keys {
				if k.Kind == compile.FieldStr {
					return nil, specErr(e.spec, e.p.Exprs[i].Pos(), e.p.Exprs[i].End(), "%s is a string: keys are integers or pointers", k.Expr)
				}
			}
			f := filters
			if m == compile.ModeRawSyscalls {
				f.Syscall, f.SyscallExit = e.plan.Syscall, e.plan.Kind == compile.SyscallExit
			}
			b := compile.Build{Name: "lat_from", Mode: m, Return: e.plan.Return, Filters: f}
			vo := compile.ValueOptions{}
			if isEnd {
				b.Name, b.Stash, vo.Stash = "lat_to", lp.stash, lp.stash
				hist := *lp.hist
				if hist.Value, err = latencyValue(e.plan, m, lp.stash, lp.unit); err != nil {
					return nil, err
				}
				b.Sink = compile.Sinks{&hist, lp.sum}
			} else {
				b.Sink = &compile.EntrySink{Stash: lp.stash}
			}
			if err := pairKeys(&b, keys); err != nil {
				return nil, err
			}
			if e.p.Filter != nil {
				// The end's filter may use $latency: "only requests
				// slower than 1 ms".
				if b.Checked, err = compile.CheckFilter(e.p.Filter, pc, vo); err != nil {
					return nil, err
				}
			}
			return compile.Assemble(b, e.plan.Kind, targets, cookies, 0)
		}
		what := "from"
		if isEnd {
			what = "to"
		}
		for l := range e.plan.Layouts {
			l := l
			bp := &bpf.Probe{Name: fmt.Sprintf("--%s %s", what, ShortSpec(e.spec)), Kind: e.plan.Kind, Return: e.plan.Return,
				Targets: e.plan.LayoutTargets(l), Modes: e.plan.Modes,
				Build: func(m compile.Mode, targets []compile.Target) (*compile.Object, error) { return build(l, m, targets) }}
			if _, err := bp.Build(bp.Modes[0], bp.Targets); err != nil {
				return nil, layoutErr(e.spec, e.plan, l, bp.Modes[0], err)
			}
			lp.probes = append(lp.probes, bp)
		}
	}
	return lp, nil
}

// pairKeyStash sets up stash st for n key expressions (0: the thread).
func pairKeyStash(st *compile.Stash, n int) error {
	if n > 0 {
		st.Key, st.KeyValues = compile.StashKeyExpr, n
	}
	return nil
}

// pairKeys gives build b (a start's EntrySink, or an end) its key values.
func pairKeys(b *compile.Build, keys []*compile.Value) error {
	if len(keys) == 0 {
		return nil
	}
	if b.Stash != nil {
		b.StashKey = keys
		return nil
	}
	es, ok := b.Sink.(*compile.EntrySink)
	if !ok {
		return errors.New("internal error: a start probe without an entry sink")
	}
	es.Key = keys
	return nil
}

// checkPairOptions refuses the options that have no meaning in the
// two-probe mode.
func checkPairOptions(o FunclatencyOptions) error {
	switch {
	case o.From == "" || o.To == "":
		return errors.New("--from and --to go together")
	case o.Pattern != "":
		return errors.New("give a PATTERN, or --from and --to, not both")
	case o.PerFunction:
		return errors.New("-F needs a PATTERN: --from and --to time one pair of probes")
	case o.Regex:
		return errors.New("-r needs a PATTERN: --from and --to name one probe each")
	case o.MaxPending < 0:
		return fmt.Errorf("--max-pending: invalid size %d", o.MaxPending)
	}
	return nil
}
