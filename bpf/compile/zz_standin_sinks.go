package compile

// TEMPORARY stand-in for the lead's sink_multi.go; deleted at the merge.

import "github.com/cilium/ebpf"

// Sinks runs several sinks in order on each event.
type Sinks []Sink

// Maps is the union of the sinks' maps.
func (s Sinks) Maps() []*ebpf.MapSpec {
	var out []*ebpf.MapSpec
	seen := map[string]bool{}
	for _, k := range s {
		for _, m := range k.Maps() {
			if !seen[m.Name] {
				seen[m.Name] = true
				out = append(out, m)
			}
		}
	}
	return out
}

func (s Sinks) gen(g *codegen, b *Build) error {
	for _, k := range s {
		if err := k.gen(g, b); err != nil {
			return err
		}
	}
	return nil
}
