package bpf

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"

	"github.com/btool/btool/specparse"
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
	f, _ := NewFeatures()
	target := []Target{{Name: "benchTarget", Path: path, Offset: off}}
	attach := func(insns asm.Instructions, m *ebpf.Map) func() {
		if m != nil {
			if err := insns.AssociateMap(countsMap, m); err != nil {
				b.Fatal(err)
			}
		}
		prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{Type: ebpf.Kprobe, AttachType: ebpf.AttachTraceUprobeMulti, License: "GPL", Instructions: insns})
		if err != nil {
			b.Fatal(err)
		}
		links, _, _, err := AttachProgram(context.Background(), prog, target, ProgramAttach{Mode: ModeUprobeMulti, Kind: UserFunc})
		if err != nil {
			b.Fatal(err)
		}
		return func() { closeAll(links); prog.Close() }
	}
	if f.Have(FeatUprobeMulti) != nil {
		b.Skip("needs uprobe_multi")
	}
	var bare, empty, counted time.Duration
	for i := 0; i < b.N; i++ {
		bare += loop()
		detach := attach(asm.Instructions{asm.Mov.Imm(asm.R0, 0), asm.Return()}, nil)
		empty += loop()
		detach()
		plan, _ := NewCountPlan([]CountGroup{{Kind: UserFunc, Targets: append([]Target(nil), target...)}}, 0, -1)
		m, err := ebpf.NewMap(plan.countsSpec())
		if err != nil {
			b.Fatal(err)
		}
		detach = attach(counter{slot: slotCookie, cpu: -1}.instructions(), m)
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

// BenchmarkCompileSpec: parse, check and generate one trace spec, the
// compile half of launch-to-attached (target: at most 1 ms).
func BenchmarkCompileSpec(b *testing.B) {
	for _, tc := range []struct {
		name, spec string
		ctx        func(testing.TB) *ProbeContext
	}{
		{"tracepoint", `t:syscalls:sys_enter_read (args->count > 20000) "read %d bytes", args->count`, tracepointCtx},
		{"kprobe-chain", `vfs_read (count > 0) "%s %d", file->f_path.dentry->d_name.name, count`, kprobeCtx},
	} {
		b.Run(tc.name, func(b *testing.B) {
			pc := tc.ctx(b)
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				p, err := specparse.ParseTrace(tc.spec)
				if err != nil {
					b.Fatal(err)
				}
				ct, err := CheckTrace(p, pc, CheckOptions{})
				if err != nil {
					b.Fatal(err)
				}
				if _, _, err := CompileTrace(ct, TraceOptions{UID: -1}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
