package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/btool/btool/internal/cfixtures"
	"github.com/btool/btool/internal/testutil"
)

// The per-event cost benchmarks of argdist and funclatency, btool against
// bpftrace in the same run: the wall time of a workload making a known
// number of events under each tracer, minus the bare workload, divided by
// the events.

// timeUnder starts a tracer, runs work once it is attached, stops the
// tracer with SIGINT and returns how long work took, and how long the
// kernel ran the BPF programs that appeared while the tracer started
// (kernel.bpf_stats_enabled; 0 where the kernel can't say). btool is told
// to write a ready file once attached; any other tracer must print a line
// containing "ready".
func timeUnder(b *testing.B, work func() time.Duration, name string, args ...string) (time.Duration, time.Duration) {
	b.Helper()
	before := progStats()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ready := ""
	if name == testutil.BtoolBin(b) {
		ready = filepath.Join(b.TempDir(), "ready")
		args = append([]string{args[0], "--ready-file", ready}, args[1:]...)
	}
	cmd := exec.CommandContext(ctx, name, args...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	r := bufio.NewReader(out)
	if ready == "" {
		for {
			l, err := r.ReadString('\n')
			if err != nil {
				b.Fatalf("%s died before attaching: %s", name, stderr.String())
			}
			if strings.Contains(l, "ready") {
				break
			}
		}
	} else {
		go r.WriteTo(devNull{})
		deadline := time.Now().Add(time.Minute)
		for {
			if _, err := os.Stat(ready); err == nil {
				break
			}
			if time.Now().After(deadline) {
				cmd.Process.Kill()
				b.Fatalf("%s %v did not attach: %s", name, args, stderr.String())
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
	start := progStats()
	for id := range start {
		if _, old := before[id]; old {
			delete(start, id) // not the tracer's
		}
	}
	d := work()
	var ran time.Duration
	for id, s := range progStats() {
		if s0, ok := start[id]; ok {
			ran += s - s0
		}
	}
	cmd.Process.Signal(syscall.SIGINT)
	if ready == "" {
		go r.WriteTo(devNull{})
	}
	cmd.Wait()
	return d, ran
}

// progStats returns the run time of every loaded BPF program by id, with
// the kernel's BPF statistics switched on (they stay on for the run of
// the benchmark binary).
func progStats() map[ebpf.ProgramID]time.Duration {
	if stats == nil {
		stats, _ = ebpf.EnableStats(uint32(unix.BPF_STATS_RUN_TIME))
	}
	out := map[ebpf.ProgramID]time.Duration{}
	var id ebpf.ProgramID
	for {
		var err error
		if id, err = ebpf.ProgramGetNextID(id); err != nil {
			return out
		}
		p, err := ebpf.NewProgramFromID(id)
		if err != nil {
			continue
		}
		if st, err := p.Stats(); err == nil {
			out[id] = st.Runtime
		}
		p.Close()
	}
}

// stats keeps the kernel's BPF run-time statistics on while it is open.
var stats io.Closer

// benchPerEvent reports the bare cost of one event of work (events per
// run) and what btool and bpftrace add to it: medians over b.N rounds,
// each round timing the bare workload next to the traced ones, so a
// machine whose load drifts compares like with like.
func benchPerEvent(b *testing.B, events int, work func() time.Duration, btoolArgs []string, bpftraceProg string) {
	if os.Geteuid() != 0 {
		b.Skip("needs root")
	}
	bt, err := exec.LookPath("bpftrace")
	if err != nil || bpftraceProg == "" || os.Getenv("BTOOL_BENCH_NO_BPFTRACE") != "" {
		bt = ""
	}
	var bare, btool, bpftrace, btoolBPF, bpftraceBPF []float64
	per := func(d time.Duration) float64 { return float64(d) / float64(events) }
	for i := 0; i < b.N; i++ {
		base := per(work())
		bare = append(bare, base)
		d, ran := timeUnder(b, work, testutil.BtoolBin(b), btoolArgs...)
		btool, btoolBPF = append(btool, per(d)-base), append(btoolBPF, per(ran))
		if bt != "" {
			d, ran := timeUnder(b, work, bt, "-e", `BEGIN { printf("ready\n"); } `+bpftraceProg)
			bpftrace, bpftraceBPF = append(bpftrace, per(d)-base), append(bpftraceBPF, per(ran))
		}
	}
	median := func(x []float64) float64 {
		sort.Float64s(x)
		return x[len(x)/2]
	}
	b.ReportMetric(median(bare), "bare-ns/event")
	b.ReportMetric(median(btool), "btool-added-ns/event")
	b.ReportMetric(median(btoolBPF), "btool-bpf-ns/event")
	if len(bpftrace) > 0 {
		b.ReportMetric(median(bpftrace), "bpftrace-added-ns/event")
		b.ReportMetric(median(bpftraceBPF), "bpftrace-bpf-ns/event")
	}
}

// ddReads returns a workload of n read(2) calls of 512 bytes each (dd from
// /dev/zero to /dev/null).
func ddReads(b *testing.B, n int) func() time.Duration {
	dd, err := exec.LookPath("dd")
	if err != nil {
		b.Skip("no dd")
	}
	return func() time.Duration {
		start := time.Now()
		if out, err := exec.Command(dd, "if=/dev/zero", "of=/dev/null", "bs=512", "count="+strconv.Itoa(n)).CombinedOutput(); err != nil {
			b.Fatalf("dd: %v: %s", err, out)
		}
		return time.Since(start)
	}
}

// BenchmarkArgdistCountOverhead: argdist -C of a syscall tracepoint's
// argument against bpftrace's @[args->count] = count().
func BenchmarkArgdistCountOverhead(b *testing.B) {
	const n = 500_000
	benchPerEvent(b, n, ddReads(b, n),
		[]string{"argdist", "-i", "3600", "-C", "t:syscalls:sys_enter_read():u64:args->count"},
		`tracepoint:syscalls:sys_enter_read { @[args->count] = count(); }`)
}

// BenchmarkArgdistHistOverhead: argdist -H of the same argument against
// bpftrace's @ = hist(args->count).
func BenchmarkArgdistHistOverhead(b *testing.B) {
	const n = 500_000
	benchPerEvent(b, n, ddReads(b, n),
		[]string{"argdist", "-i", "3600", "-H", "t:syscalls:sys_enter_read():u64:args->count"},
		`tracepoint:syscalls:sys_enter_read { @ = hist(args->count); }`)
}

// BenchmarkFunclatencyUprobe: funclatency of a C function (entry uprobe
// and return uprobe) against bpftrace's @s[tid] = nsecs and
// hist(nsecs - @s[tid]).
func BenchmarkFunclatencyUprobe(b *testing.B) {
	bin, err := cfixtures.Build(testutil.RepoRoot(), b.TempDir(), "", cfixtures.Fixture{Src: "calls.c"}, false)
	if errors.Is(err, exec.ErrNotFound) {
		b.Skip(err)
	}
	if err != nil {
		b.Fatal(err)
	}
	const n = 100_000 // work_alpha calls
	work := func() time.Duration {
		start := time.Now()
		cmd := exec.Command(bin, strconv.Itoa(n))
		cmd.Stdin = strings.NewReader("\n")
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("%v: %s", err, out)
		}
		return time.Since(start)
	}
	benchPerEvent(b, n, work,
		[]string{"funclatency", bin + ":work_alpha"},
		`uprobe:`+bin+`:work_alpha { @s[tid] = nsecs; } uretprobe:`+bin+`:work_alpha /@s[tid]/ { @ = hist(nsecs - @s[tid]); delete(@s[tid]); }`)
}

// TestKernelBenchFunclatencyVfsRead measures funclatency's per-event cost
// on vfs_read with each kernel mechanism: fentry/fexit, kprobe/kretprobe
// and kprobe_multi. It needs kprobes and fentry, so it runs in the 6.12
// VM through `make bench` (BTOOL_BENCH=1) and skips elsewhere; results are
// logged as BENCH lines. The events are the count funclatency reports.
func TestKernelBenchFunclatencyVfsRead(t *testing.T) {
	if os.Getenv("BTOOL_BENCH") == "" {
		t.Skip("a benchmark: set BTOOL_BENCH=1 (make bench runs it in the 6.12 VM)")
	}
	requireRoot(t)
	work := testutil.Workload(t, "readfiles")
	const rounds = 20_000
	run := func() time.Duration {
		start := time.Now()
		if out, err := exec.Command(work, "-n", strconv.Itoa(rounds)).CombinedOutput(); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		return time.Since(start)
	}
	for _, tc := range []struct{ feature, noFeature, mode string }{
		{"fentry", "kprobe_multi", "fentry"},
		{"kprobe_multi", "fentry", "kprobe_multi"},
		{"kprobe", "kprobe_multi,fentry", "kprobe"},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			if !haveFeature(t, tc.feature) {
				return
			}
			// The bare run next to the traced one: the VM's emulated
			// clock drifts between runs.
			bare := run()
			tr := startBtool(t, "funclatency", "-v", "--no-feature", tc.noFeature, "vfs_read")
			d := run()
			out := tr.stop(syscall.SIGINT)
			if !strings.Contains(tr.err.String(), tc.mode) {
				t.Fatalf("not attached with %s:\n%s", tc.mode, tr.err.String())
			}
			i := strings.Index(out, "count: ")
			if i < 0 {
				t.Fatalf("no count in\n%s", out)
			}
			n, _ := strconv.Atoi(strings.Fields(out[i+len("count: "):])[0])
			if n < 2*rounds {
				t.Fatalf("count %d, want at least %d (two reads per round)", n, 2*rounds)
			}
			t.Logf("BENCH funclatency vfs_read %s: %d events, bare %v, traced %v: %+.0f ns/event", tc.mode, n, bare.Round(time.Millisecond), d.Round(time.Millisecond), float64(d-bare)/float64(n))
		})
	}
}
