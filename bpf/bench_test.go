package bpf

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"

	"github.com/btool/btool/bpf/compile"
	"github.com/btool/btool/bpf/feature"
)

//go:noinline
func benchTarget(x int) int { return x ^ 0x5a }

// BenchmarkUprobePerEvent measures the cost of one uprobe hit on a Go
// function with no probe, with an empty program, and with btool's counter,
// so the counter's own cost shows against the uprobe's trap (which
// dominates). Reported as ns per call.
func BenchmarkUprobePerEvent(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root")
	}
	path, off := selfOffset(b, "github.com/btool/btool/bpf.benchTarget")
	const calls = 200_000
	loop := func() time.Duration {
		start := time.Now()
		s := 0
		for i := 0; i < calls; i++ {
			s += benchTarget(i)
		}
		_ = s
		return time.Since(start)
	}
	f, _ := feature.NewFeatures()
	target := []compile.Target{{Name: "benchTarget", Path: path, Offset: off}}
	attach := func(insns asm.Instructions, m *ebpf.Map) func() {
		if m != nil {
			if err := insns.AssociateMap(compile.MapCounts, m); err != nil {
				b.Fatal(err)
			}
		}
		prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{Type: ebpf.Kprobe, AttachType: ebpf.AttachTraceUprobeMulti, License: "GPL", Instructions: insns})
		if err != nil {
			b.Fatal(err)
		}
		links, _, _, err := AttachProgram(context.Background(), prog, target, ProgramAttach{Mode: compile.ModeUprobeMulti, Kind: compile.UserFunc})
		if err != nil {
			b.Fatal(err)
		}
		return func() { closeAll(links); prog.Close() }
	}
	if f.Have(feature.FeatUprobeMulti) != nil {
		b.Skip("needs uprobe_multi")
	}
	var bare, empty, counted time.Duration
	for i := 0; i < b.N; i++ {
		bare += loop()
		detach := attach(asm.Instructions{asm.Mov.Imm(asm.R0, 0), asm.Return()}, nil)
		empty += loop()
		detach()
		plan, _ := compile.NewCountPlan([]compile.CountGroup{{Kind: compile.UserFunc, Targets: append([]compile.Target(nil), target...)}}, 0, -1)
		m, err := ebpf.NewMap(plan.CountsSpec())
		if err != nil {
			b.Fatal(err)
		}
		obj, err := compile.CompileCounter(plan, &plan.Groups[0], compile.ModeUprobeMulti, true)
		if err != nil {
			b.Fatal(err)
		}
		detach = attach(obj.Programs[0].Spec.Instructions, m)
		counted += loop()
		detach()
		m.Close()
	}
	per := func(d time.Duration) float64 { return float64(d) / float64(b.N) / calls }
	b.ReportMetric(per(bare), "bare-ns/call")
	b.ReportMetric(per(empty), "empty-prog-ns/call")
	b.ReportMetric(per(counted), "counter-ns/call")
	b.ReportMetric(100*(per(counted)-per(empty))/per(empty), "counter-vs-empty-%")
}
