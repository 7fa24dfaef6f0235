package multitool

import (
	"github.com/btool/btool/specparse"
)

// HeadOfArgdist returns the head of an argdist probe: p/r on a kernel
// function (or, with a library, a user function), t on a tracepoint, u on
// a USDT probe, s on a perf software event (HeadOfSoftwareEvent). argdist
// attaches to exact names, as bcc's does: the function and event are
// literal. Errors are UsageErrors in spec.
func HeadOfArgdist(p *specparse.ArgdistProbe, spec string) (*ProbeHead, error) {
	if p.Kind == specparse.SoftwareEventProbe {
		return HeadOfSoftwareEvent(p, spec)
	}
	h := &ProbeHead{Spec: spec, Return: p.Kind == specparse.Return, Library: p.Library, LibraryPos: p.LibraryPos,
		Provider: p.Provider, Func: p.Func, FuncPos: p.FuncPos, Literal: true, Glob: true,
		ReadsNothing: p.Filter == nil && len(p.Exprs) == 0 && p.Kind != specparse.Return}
	// A signature "()" says nothing: the prototype comes from BTF or
	// DWARF, as in trace. One with parameters overrides it.
	if len(p.Params) > 0 {
		h.Signature = p.Params
	}
	h.Kind = headKind(p.Kind, p.Library)
	if hasGlob(p.Func) || (h.Kind == HeadTracepoint && hasGlob(p.Library)) {
		pos, end := h.funcSpan()
		if h.Kind == HeadTracepoint {
			pos = h.LibraryPos
		}
		return nil, h.errorf(pos, end, "argdist probes name one function or event: no wildcards")
	}
	fn := p.Func
	h.match = func(name string) bool { return name == fn }
	h.matchEvent = func(c, e string) bool { return c == p.Library && e == fn }
	h.matchUSDT = func(provider, name string) bool {
		return (p.Provider == "" || p.Provider == provider) && name == fn
	}
	return h, nil
}
