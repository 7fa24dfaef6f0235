package main

import (
	"bufio"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/btool/btool/internal/cfixtures"
	"github.com/btool/btool/internal/testutil"
)

// The per-event cost benchmarks of argdist and funclatency, btool against
// bpftrace in the same run: the wall time of a workload making a known
// number of events under each tracer, minus the bare workload, divided by
// the events.

// timeUnder starts a tracer, runs work once it is attached, stops the
// tracer with SIGINT and returns how long work took. btool is told to
// write a ready file once attached; any other tracer must print a line
// containing "ready".
func timeUnder(b *testing.B, work func() time.Duration, name string, args ...string) time.Duration {
	b.Helper()
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
	d := work()
	cmd.Process.Signal(syscall.SIGINT)
	if ready == "" {
		go r.WriteTo(devNull{})
	}
	cmd.Wait()
	return d
}

// benchPerEvent reports the bare cost of one event of work (events per
// run) and what btool and bpftrace add to it.
func benchPerEvent(b *testing.B, events int, work func() time.Duration, btoolArgs []string, bpftraceProg string) {
	if os.Geteuid() != 0 {
		b.Skip("needs root")
	}
	var bare, traced time.Duration
	for i := 0; i < b.N; i++ {
		bare += work()
		traced += timeUnder(b, work, testutil.BtoolBin(b), btoolArgs...)
	}
	per := func(d time.Duration, runs int) float64 { return float64(d) / float64(runs) / float64(events) }
	b.ReportMetric(per(bare, b.N), "bare-ns/event")
	b.ReportMetric(per(traced-bare, b.N), "btool-added-ns/event")
	if bt, err := exec.LookPath("bpftrace"); err == nil && bpftraceProg != "" && os.Getenv("BTOOL_BENCH_NO_BPFTRACE") == "" {
		// One bpftrace run per benchmark call: its start and exit take
		// long enough to dominate make bench otherwise.
		d := timeUnder(b, work, bt, "-e", `BEGIN { printf("ready\n"); } `+bpftraceProg)
		b.ReportMetric(per(d, 1)-per(bare, b.N), "bpftrace-added-ns/event")
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
