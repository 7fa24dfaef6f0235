package bpf

import (
	"errors"
	"fmt"
	"testing"

	"github.com/cilium/ebpf"

	"github.com/btool/btool/internal/testutil"
)

// TestKernelVerifierAcceptsCounters loads every counter shape the generator
// can emit (each mode, each slot source, with and without the PID and CPU
// filters) into the running kernel's verifier. Modes the kernel lacks skip.
func TestKernelVerifierAcceptsCounters(t *testing.T) {
	testutil.RequireRoot(t)
	f, err := NewFeatures()
	if err != nil {
		t.Fatal(err)
	}
	groups := map[TargetKind]CountGroup{
		KernelFunc:   {Kind: KernelFunc, Targets: []Target{{Name: "vfs_read", Symbol: "vfs_read"}}},
		Tracepoint:   {Kind: Tracepoint, Targets: []Target{{Name: "sched:sched_process_fork", Category: "sched", Event: "sched_process_fork"}}},
		SyscallEnter: {Kind: SyscallEnter, Targets: []Target{{Name: "read", Syscall: 0}}},
		SyscallExit:  {Kind: SyscallExit, Targets: []Target{{Name: "read", Syscall: 0}}},
		UserFunc:     {Kind: UserFunc, Targets: []Target{{Name: "x", Path: "/proc/self/exe"}}},
	}
	for _, kind := range []TargetKind{KernelFunc, Tracepoint, SyscallEnter, SyscallExit, UserFunc} {
		for _, m := range Ladder(kind) {
			for _, filt := range []struct {
				pid uint32
				cpu int
			}{{0, -1}, {42, -1}, {0, 1}, {42, 1}} {
				for _, noCookie := range []bool{false, true} {
					name := fmt.Sprintf("%s/%s/pid=%d,cpu=%d,nocookie=%v", kind, m, filt.pid, filt.cpu, noCookie)
					t.Run(name, func(t *testing.T) {
						ff := f
						if noCookie {
							ff, _ = NewFeatures("cookie")
						}
						for _, need := range m.needs() {
							if err := ff.Have(need); err != nil {
								if errors.Is(err, ErrNotSupported) {
									t.Skipf("kernel lacks %s", need)
								}
								t.Fatal(err)
							}
						}
						g := groups[kind]
						g.Targets = append([]Target(nil), g.Targets...)
						plan, err := NewCountPlan([]CountGroup{g}, filt.pid, filt.cpu)
						if err != nil {
							t.Fatal(err)
						}
						obj, err := CompileCounter(plan, &plan.Groups[0], m, ff)
						if err != nil {
							t.Fatal(err)
						}
						counts, err := ebpf.NewMap(plan.countsSpec())
						if err != nil {
							t.Fatal(err)
						}
						defer counts.Close()
						for _, p := range obj.Programs {
							spec := p.Spec.Copy()
							if err := spec.Instructions.AssociateMap(countsMap, counts); err != nil {
								t.Fatal(err)
							}
							prog, err := ebpf.NewProgram(spec)
							if err != nil {
								t.Fatalf("verifier rejected %s: %+v", spec.Name, err)
							}
							prog.Close()
						}
					})
				}
			}
		}
	}
}
