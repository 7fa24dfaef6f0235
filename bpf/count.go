package bpf

import (
	"github.com/btool/btool/bpf/compile"
	"github.com/btool/btool/bpf/feature"
)

// CountProbes returns one Probe per group of p, with the group's usable
// mode ladder (see UsableModes) and CountSink programs, for
// Session.Attach. Read the counts with Session.PerCPUSums(compile.MapCounts),
// indexed by Target.Slot. It fails when a group's kind has no usable
// mode on this kernel (the error wraps ErrNotSupported).
func CountProbes(p *compile.CountPlan, f *feature.Features) ([]*Probe, error) {
	cookies := f.Have(feature.FeatCookie) == nil
	var probes []*Probe
	for gi := range p.Groups {
		g := &p.Groups[gi]
		modes, err := UsableModes(g.Kind, f)
		if err != nil {
			return nil, err
		}
		probes = append(probes, &Probe{
			Name: g.Kind.String(), Kind: g.Kind, Targets: g.Targets, Modes: modes,
			Build: func(m compile.Mode, targets []compile.Target) (*compile.Object, error) {
				sub := *g
				sub.Targets = targets
				return compile.CompileCounter(p, &sub, m, cookies)
			},
		})
	}
	return probes, nil
}
