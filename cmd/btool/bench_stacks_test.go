package main

import (
	"context"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/btool/btool/internal/testutil"
)

// cpuOf runs a tracer to completion (it stops by itself) with stdout
// discarded and returns the CPU time it used, user plus system:
// symbolizing and printing included, the BPF programs (run in the
// kernel on the sampled CPUs) not.
func cpuOf(b *testing.B, name string, args ...string) time.Duration {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("%s %v: %v\n%.500s", name, args, err, out)
	}
	return cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
}

// BenchmarkProfile99Hz: btool profile at 99 Hz on every CPU for 10 s
// (BTOOL_BENCH_PROFILE_SECONDS), its own CPU time, symbolization of every
// stack included, against bpftrace's profile:hz:99 { @[kstack, ustack] =
// count(); } over the same time. One run per tool whatever b.N: each takes
// the whole duration.
func BenchmarkProfile99Hz(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root")
	}
	secs := 10
	if s, err := strconv.Atoi(os.Getenv("BTOOL_BENCH_PROFILE_SECONDS")); err == nil && s > 0 {
		secs = s
	}
	d := cpuOf(b, testutil.BtoolBin(b), "profile", "-F", "99", "-d", strconv.Itoa(secs))
	b.ReportMetric(float64(d)/1e6, "btool-cpu-ms")
	if bt, err := exec.LookPath("bpftrace"); err == nil && os.Getenv("BTOOL_BENCH_NO_BPFTRACE") == "" {
		d := cpuOf(b, bt, "-e", "profile:hz:99 { @[kstack, ustack] = count(); } interval:s:"+strconv.Itoa(secs)+" { exit(); }")
		b.ReportMetric(float64(d)/1e6, "bpftrace-cpu-ms")
	}
}

// BenchmarkStackcountKernelOverhead: per-event cost of counting the
// kernel stacks of read(2) calls (a high-rate syscall tracepoint),
// stackcount -K against bpftrace's @[kstack] = count(), with the BPF run
// time per event (see benchPerEvent).
func BenchmarkStackcountKernelOverhead(b *testing.B) {
	const n = 300_000
	benchPerEvent(b, n, ddReads(b, n),
		[]string{"stackcount", "-K", "t:syscalls:sys_enter_read"},
		`tracepoint:syscalls:sys_enter_read { @[kstack] = count(); }`)
}

// BenchmarkStackcountBothOverhead: the same with kernel and user stacks
// (stackcount's default) against @[kstack, ustack] = count().
func BenchmarkStackcountBothOverhead(b *testing.B) {
	const n = 300_000
	benchPerEvent(b, n, ddReads(b, n),
		[]string{"stackcount", "t:syscalls:sys_enter_read"},
		`tracepoint:syscalls:sys_enter_read { @[kstack, ustack] = count(); }`)
}
