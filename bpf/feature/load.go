package feature

import (
	"github.com/cilium/ebpf"

	"github.com/btool/btool/btf"
)

// Load loads spec into the kernel. fentry/fexit programs name their
// attach point by BTF ID, and ebpf.NewProgram decodes the kernel's BTF
// afresh (tens of milliseconds and megabytes) for every program; they are
// loaded through a collection sharing btf.LoadKernel's cache, so one decode
// serves the whole process, however many functions are traced.
func Load(spec *ebpf.ProgramSpec) (*ebpf.Program, error) {
	if spec.Type != ebpf.Tracing {
		return ebpf.NewProgram(spec)
	}
	k, err := btf.LoadKernel()
	if err != nil {
		return ebpf.NewProgram(spec)
	}
	coll, err := ebpf.NewCollectionWithOptions(&ebpf.CollectionSpec{Programs: map[string]*ebpf.ProgramSpec{"prog": spec}},
		ebpf.CollectionOptions{Cache: k.Cache()})
	if err != nil {
		return nil, err
	}
	defer coll.Close()
	return coll.DetachProgram("prog"), nil
}

// ErrNotSupported is cilium/ebpf's sentinel for a missing kernel feature;
// every "no" from Features.Have wraps it.
var ErrNotSupported = ebpf.ErrNotSupported
