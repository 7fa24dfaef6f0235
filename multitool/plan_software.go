package multitool

import (
	"github.com/btool/btool/bpf"
	"github.com/btool/btool/bpf/compile"
	"github.com/btool/btool/specparse"
)

// HeadOfSoftwareEvent returns the head of an argdist probe of type s (a
// perf software event: s:software:page-faults(100)); spec is the
// specifier as typed, for errors. HeadOfArgdist hands such probes to it.
// ReadsNothing is set when the probe has no expressions and no filter. It
// fails, with a UsageError at the probe type, for another type of probe.
func HeadOfSoftwareEvent(p *specparse.ArgdistProbe, spec string) (*ProbeHead, error) {
	if p.Kind != specparse.SoftwareEventProbe {
		return nil, specErr(spec, p.Pos, p.Pos+1, "not a software event probe (s:software:event())")
	}
	h := &ProbeHead{Spec: spec, Kind: HeadSoftware, Library: p.Library, LibraryPos: p.LibraryPos, Func: p.Func, FuncPos: p.FuncPos,
		Period: p.Period, Literal: true, ReadsNothing: p.Filter == nil && len(p.Exprs) == 0}
	fn := p.Func
	h.match = func(name string) bool { return name == fn }
	return h, nil
}

// planSoftware plans a perf software event: one target, named
// "software:" + the event's canonical name, whose perf event is opened on
// every online CPU (compile.ModePerfEvent). Its context has no arguments:
// expressions use the builtins ($pid, $comm, ...) and ctx->reg.
func (pl *Planner) planSoftware(h *ProbeHead) (*Plan, error) {
	pos, end := h.funcSpan()
	t, err := compile.SoftwareEventTarget(h.Func, h.Period)
	if err != nil {
		return nil, h.errorf(pos, end, "%v", err)
	}
	modes, err := bpf.UsableModes(compile.PerfEvent, pl.Features)
	if err != nil {
		return nil, err
	}
	plan := &Plan{Head: h, Kind: compile.PerfEvent, Modes: modes, Targets: []compile.Target{t}}
	if pl.Contexts {
		plan.setContexts([]*Context{pl.newContext(&Context{Kind: CtxPerfEvent, Target: t.Name})})
	}
	return plan, nil
}
