package bpf

import (
	"errors"
	"fmt"
	"testing"

	"github.com/cilium/ebpf"

	"github.com/btool/btool/bpf/compile"
	"github.com/btool/btool/bpf/feature"
	"github.com/btool/btool/internal/testutil"
)

// TestKernelVerifierAcceptsCounters loads every counter shape the generator
// can emit (each mode, each slot source, with and without the PID and CPU
// filters) into the running kernel's verifier. Modes the kernel lacks skip.
func TestKernelVerifierAcceptsCounters(t *testing.T) {
	testutil.RequireRoot(t)
	f, err := feature.NewFeatures()
	if err != nil {
		t.Fatal(err)
	}
	groups := map[compile.TargetKind]compile.CountGroup{
		compile.KernelFunc:   {Kind: compile.KernelFunc, Targets: []compile.Target{{Name: "vfs_read", Symbol: "vfs_read"}}},
		compile.Tracepoint:   {Kind: compile.Tracepoint, Targets: []compile.Target{{Name: "sched:sched_process_fork", Category: "sched", Event: "sched_process_fork"}}},
		compile.SyscallEnter: {Kind: compile.SyscallEnter, Targets: []compile.Target{{Name: "read", Syscall: 0}}},
		compile.SyscallExit:  {Kind: compile.SyscallExit, Targets: []compile.Target{{Name: "read", Syscall: 0}}},
		compile.UserFunc:     {Kind: compile.UserFunc, Targets: []compile.Target{{Name: "x", Path: "/proc/self/exe"}}},
	}
	for _, kind := range []compile.TargetKind{compile.KernelFunc, compile.Tracepoint, compile.SyscallEnter, compile.SyscallExit, compile.UserFunc} {
		for _, m := range compile.Ladder(kind) {
			for _, filt := range []struct {
				pid uint32
				cpu int
			}{{0, -1}, {42, -1}, {0, 1}, {42, 1}} {
				for _, noCookie := range []bool{false, true} {
					name := fmt.Sprintf("%s/%s/pid=%d,cpu=%d,nocookie=%v", kind, m, filt.pid, filt.cpu, noCookie)
					t.Run(name, func(t *testing.T) {
						ff := f
						if noCookie {
							ff, _ = feature.NewFeatures("cookie")
						}
						for _, need := range modeNeeds(m) {
							if err := ff.Have(need); err != nil {
								if errors.Is(err, ErrNotSupported) {
									t.Skipf("kernel lacks %s", need)
								}
								t.Fatal(err)
							}
						}
						g := groups[kind]
						g.Targets = append([]compile.Target(nil), g.Targets...)
						plan, err := compile.NewCountPlan([]compile.CountGroup{g}, filt.pid, filt.cpu)
						if err != nil {
							t.Fatal(err)
						}
						obj, err := compile.CompileCounter(plan, &plan.Groups[0], m, ff.Have(feature.FeatCookie) == nil)
						if err != nil {
							t.Fatal(err)
						}
						counts, err := ebpf.NewMap(plan.CountsSpec())
						if err != nil {
							t.Fatal(err)
						}
						defer counts.Close()
						for _, p := range obj.Programs {
							spec := p.Spec.Copy()
							if err := spec.Instructions.AssociateMap(compile.MapCounts, counts); err != nil {
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
