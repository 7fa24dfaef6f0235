package compile

import (
	"fmt"

	"github.com/cilium/ebpf"
)

// Sinks runs several sinks, in order, on each event that passed the
// prologue and the predicate: funclatency's log2 histogram of a latency
// and the sum of the same latency, argdist's sum, minimum and maximum of
// one value per key. Each sink computes its own key and value; a value
// taken from a Stash ($latency) is read from its slot, not computed
// again. Give each sink its own map name.
type Sinks []Sink

// Maps returns the sinks' maps, each name once (a map two sinks share,
// such as the stacks map, is declared by the first).
func (ss Sinks) Maps() []*ebpf.MapSpec {
	var out []*ebpf.MapSpec
	seen := map[string]bool{}
	for _, s := range ss {
		for _, m := range s.Maps() {
			if !seen[m.Name] {
				seen[m.Name] = true
				out = append(out, m)
			}
		}
	}
	return out
}

func (ss Sinks) gen(g *codegen, b *Build) error {
	if len(ss) == 0 {
		return fmt.Errorf("no sinks")
	}
	names := map[string]bool{}
	for _, s := range ss {
		if a, ok := s.(*AggSink); ok {
			if names[a.name()] {
				return fmt.Errorf("two sinks write map %s: give each its own Map name", a.name())
			}
			names[a.name()] = true
		}
		if err := s.gen(g, b); err != nil {
			return err
		}
	}
	return nil
}
