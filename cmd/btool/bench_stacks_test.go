package main

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
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

// BenchmarkStackcountGetpidOverhead: per-event cost of counting the kernel
// stacks of getpid calls (a high-rate tracepoint), as the wall time of a
// getpid loop under each tracer minus the bare loop, per call: btool
// stackcount -K against bpftrace's @[kstack] = count(), and btool with
// both stacks (its default).
func BenchmarkStackcountGetpidOverhead(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root")
	}
	const n = 1_000_000
	work := testutil.Workload(b, "getpid")
	loop := func() time.Duration {
		start := time.Now()
		if out, err := exec.Command(work, "-n", strconv.Itoa(n)).CombinedOutput(); err != nil {
			b.Fatalf("%v: %s", err, out)
		}
		return time.Since(start)
	}
	under := func(ready, name string, args ...string) time.Duration {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, name, args...)
		out, _ := cmd.StdoutPipe()
		cmd.Stderr = nil
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		r := bufio.NewReader(out)
		for {
			l, err := r.ReadString('\n')
			if err != nil {
				b.Fatalf("%s died", name)
			}
			if strings.Contains(l, ready) {
				break
			}
		}
		d := loop()
		cmd.Process.Signal(syscall.SIGINT)
		go r.WriteTo(devNull{})
		cmd.Wait()
		return d
	}
	var bare, kernel, both time.Duration
	bin := testutil.BtoolBin(b)
	for i := 0; i < b.N; i++ {
		bare += loop()
		kernel += under("Tracing", bin, "stackcount", "-K", "t:syscalls:sys_enter_getpid")
		both += under("Tracing", bin, "stackcount", "t:syscalls:sys_enter_getpid")
	}
	per := func(d time.Duration) float64 { return float64(d-bare) / float64(b.N) / n }
	b.ReportMetric(float64(bare)/float64(b.N)/n, "bare-ns/call")
	b.ReportMetric(per(kernel), "btool-K-ns/event")
	b.ReportMetric(per(both), "btool-KU-ns/event")
	if bt, err := exec.LookPath("bpftrace"); err == nil && os.Getenv("BTOOL_BENCH_NO_BPFTRACE") == "" {
		d := under("ready", bt, "-e", `tracepoint:syscalls:sys_enter_getpid { @[kstack] = count(); } BEGIN { printf("ready\n"); }`)
		b.ReportMetric((float64(d)-float64(bare)/float64(b.N))/n, "bpftrace-ns/event")
	}
}
