package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/btool/btool/internal/testutil"
)

// launch runs a tracer command, waits until its stdout prints a line
// containing ready (printed only once every probe is attached), then
// interrupts it and waits for it to exit. It returns launch-to-ready and
// interrupt-to-exit times and the peak RSS in bytes.
func launch(b *testing.B, ready string, name string, args ...string) (toReady, toExit time.Duration, rss int64) {
	b.Helper()
	// bpftrace can sit for minutes in the kernel closing perf events on a
	// loaded machine; never let it hang make bench.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	r := bufio.NewReader(out)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			cmd.Process.Kill()
			cmd.Wait()
			b.Fatalf("%s exited before %q: %v", name, ready, err)
		}
		if strings.Contains(line, ready) {
			break
		}
	}
	toReady = time.Since(start)
	stop := time.Now()
	cmd.Process.Signal(syscall.SIGINT)
	go func() { _, _ = bufio.NewReader(r).WriteTo(devNull{}) }()
	cmd.Wait()
	toExit = time.Since(stop)
	if u, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		rss = u.Maxrss * 1024
	}
	return toReady, toExit, rss
}

type devNull struct{}

func (devNull) Write(p []byte) (int, error) { return len(p), nil }

// report records medians as custom benchmark metrics.
func report(b *testing.B, prefix string, ready, exit []time.Duration, rss []int64) {
	med := func(d []time.Duration) float64 {
		sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
		return float64(d[len(d)/2]) / float64(time.Millisecond)
	}
	sort.Slice(rss, func(i, j int) bool { return rss[i] < rss[j] })
	b.ReportMetric(med(ready), prefix+"ready-ms")
	b.ReportMetric(med(exit), prefix+"exit-ms")
	b.ReportMetric(float64(rss[len(rss)-1])/(1<<20), prefix+"peak-rss-MB")
}

func benchLaunch(b *testing.B, readyLine string, btoolArgs []string, bpftraceProg string) {
	if os.Geteuid() != 0 {
		b.Skip("needs root")
	}
	bin := testutil.BtoolBin(b)
	var ready, exit []time.Duration
	var rss []int64
	for i := 0; i < b.N; i++ {
		r, e, m := launch(b, readyLine, bin, btoolArgs...)
		ready, exit, rss = append(ready, r), append(exit, e), append(rss, m)
	}
	report(b, "btool-", ready, exit, rss)
	if bt, err := exec.LookPath("bpftrace"); err == nil && bpftraceProg != "" && os.Getenv("BTOOL_BENCH_NO_BPFTRACE") == "" {
		// One bpftrace run per benchmark call: it is slow enough that more
		// would dominate make bench.
		r, e, m := launch(b, "ready", bt, "-e", bpftraceProg)
		report(b, "bpftrace-", []time.Duration{r}, []time.Duration{e}, []int64{m})
	}
}

// BenchmarkLaunchOneTracepoint: launch to one tracepoint attached (the
// banner is printed only after attaching), then exit.
func BenchmarkLaunchOneTracepoint(b *testing.B) {
	benchLaunch(b, "Tracing", []string{"funccount", "t:sched:sched_process_fork"},
		`tracepoint:sched:sched_process_fork { @[probe] = count(); } BEGIN { printf("ready\n"); }`)
}

// BenchmarkLaunchAllSyscalls: attach and detach every syscalls:sys_enter_*
// tracepoint.
func BenchmarkLaunchAllSyscalls(b *testing.B) {
	benchLaunch(b, "Tracing", []string{"funccount", "t:syscalls:sys_enter_*"},
		`tracepoint:syscalls:sys_enter_* { @[probe] = count(); } BEGIN { printf("ready\n"); }`)
}

// BenchmarkGetpidOverhead: per-event cost of counting getpid calls, as the
// wall time of a getpid loop under each tracer minus the bare loop, per call.
func BenchmarkGetpidOverhead(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root")
	}
	const n = 2_000_000
	work := testutil.Workload(b, "getpid")
	loop := func() time.Duration {
		start := time.Now()
		if out, err := exec.Command(work, "-n", strconv.Itoa(n)).CombinedOutput(); err != nil {
			b.Fatalf("%v: %s", err, out)
		}
		return time.Since(start)
	}
	under := func(name string, args ...string) time.Duration {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, name, args...)
		out, _ := cmd.StdoutPipe()
		cmd.Start()
		r := bufio.NewReader(out)
		for {
			l, err := r.ReadString('\n')
			if err != nil {
				b.Fatalf("%s died", name)
			}
			if strings.Contains(l, "Tracing") || strings.Contains(l, "ready") {
				break
			}
		}
		d := loop()
		cmd.Process.Signal(syscall.SIGINT)
		go r.WriteTo(devNull{})
		cmd.Wait()
		return d
	}
	var bare, counted time.Duration
	for i := 0; i < b.N; i++ {
		bare += loop()
		counted += under(testutil.BtoolBin(b), "funccount", "t:syscalls:sys_enter_getpid")
	}
	perEvent := func(d time.Duration) float64 { return float64(d-bare) / float64(b.N) / n }
	b.ReportMetric(float64(bare)/float64(b.N)/n, "bare-ns/call")
	b.ReportMetric(perEvent(counted), "btool-ns/event")
	if bt, err := exec.LookPath("bpftrace"); err == nil && os.Getenv("BTOOL_BENCH_NO_BPFTRACE") == "" {
		d := under(bt, "-e", `tracepoint:syscalls:sys_enter_getpid { @ = count(); } BEGIN { printf("ready\n"); }`)
		b.ReportMetric((float64(d)-float64(bare)/float64(b.N))/n, "bpftrace-ns/event")
	}
}

// BenchmarkTraceLaunchTracepoint: launch to attached for a trace spec on a
// tracepoint (the header is printed once every probe is attached); target
// 10 ms.
func BenchmarkTraceLaunchTracepoint(b *testing.B) {
	benchLaunch(b, "PID", []string{"trace", `t:syscalls:sys_enter_openat "%s", args->filename`},
		`tracepoint:syscalls:sys_enter_openat { printf("%s\n", str(args->filename)); } BEGIN { printf("ready\n"); }`)
}

// BenchmarkTraceCompileKernelFunc: launch to generated program for a
// kernel-function spec that needs BTF (vfs_read's prototype and the
// file->f_path.dentry->d_name.name chain), through -D. Attaching needs
// kprobes, which this host lacks; the VM tier attaches it.
func BenchmarkTraceCompileKernelFunc(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root")
	}
	bin := testutil.BtoolBin(b)
	var total time.Duration
	for i := 0; i < b.N; i++ {
		start := time.Now()
		out, err := exec.Command(bin, "trace", "-D", "--no-feature", "kprobe_multi,fentry", `vfs_read "%s", file->f_path.dentry->d_name.name`).CombinedOutput()
		total += time.Since(start)
		if err != nil && !strings.Contains(string(out), "cannot attach") {
			b.Fatalf("%v: %s", err, out)
		}
	}
	b.ReportMetric(float64(total)/float64(b.N)/1e6, "ms/launch")
}

// BenchmarkTracePrintfRate: sustained printf rate of a syscall tracepoint
// with two integer arguments, written to a pipe the benchmark reads, with
// losses. The workload paces its getpid calls at BTOOL_BENCH_RATE per
// second (default 1,000,000) for 2 s; events/s is lines read over the time
// from release to the last line.
func BenchmarkTracePrintfRate(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root")
	}
	pace := 1_000_000
	if v, err := strconv.Atoi(os.Getenv("BTOOL_BENCH_RATE")); err == nil && v > 0 {
		pace = v
	}
	n := 2 * pace
	work := testutil.Workload(b, "getpid")
	rate := func(name string, args func(pid int) []string) (float64, int, string) {
		w := exec.Command(work, "-n", strconv.Itoa(n), "-rate", strconv.Itoa(pace), "-wait")
		stdin, _ := w.StdinPipe()
		wout, _ := w.StdoutPipe()
		w.Start()
		line, _ := bufio.NewReader(wout).ReadString('\n')
		pid, _ := strconv.Atoi(strings.TrimSpace(line))
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, name, args(pid)...)
		out, _ := cmd.StdoutPipe()
		var stderr strings.Builder
		cmd.Stderr = &stderr
		cmd.Start()
		r := bufio.NewReaderSize(out, 1<<16)
		for {
			l, err := r.ReadString('\n')
			if err != nil {
				b.Fatalf("%s died: %s", name, stderr.String())
			}
			if strings.HasPrefix(l, "PID") || strings.Contains(l, "ready") {
				break
			}
		}
		stdin.Close()
		start := time.Now()
		lines := 0
		var last time.Time
		done := make(chan struct{})
		go func() {
			defer close(done)
			for {
				if _, err := r.ReadSlice('\n'); err != nil {
					if err == bufio.ErrBufferFull {
						continue
					}
					return
				}
				lines++
				last = time.Now()
				if lines == n {
					return
				}
			}
		}()
		w.Wait()
		select {
		case <-done:
		case <-time.After(3 * time.Second):
		}
		elapsed := last.Sub(start)
		cmd.Process.Signal(syscall.SIGINT)
		go r.WriteTo(devNull{})
		cmd.Wait()
		return float64(lines) / elapsed.Seconds(), n - lines, stderr.String()
	}
	for i := 0; i < b.N; i++ {
		evs, missing, errs := rate(testutil.BtoolBin(b), func(pid int) []string {
			return []string{"trace", "-p", strconv.Itoa(pid), `t:syscalls:sys_enter_getpid "%d %d", $pid, $tgid`}
		})
		b.ReportMetric(evs, "btool-events/s")
		b.ReportMetric(float64(missing), "btool-missing")
		if missing > 0 && !strings.Contains(errs, "Possibly lost") {
			b.Errorf("%d events missing without a loss report", missing)
		}
	}
	if bt, err := exec.LookPath("bpftrace"); err == nil && os.Getenv("BTOOL_BENCH_NO_BPFTRACE") == "" {
		evs, missing, _ := rate(bt, func(pid int) []string {
			return []string{"-e", fmt.Sprintf(`BEGIN { printf("ready\n"); } tracepoint:syscalls:sys_enter_getpid /pid == %d/ { printf("%%d %%d\n", tid, pid); }`, pid)}
		})
		b.ReportMetric(evs, "bpftrace-events/s")
		b.ReportMetric(float64(missing), "bpftrace-missing")
	}
}

// TestKernelBenchWildcardAttach times attaching and detaching every
// '*_show' kernel function (about 1,400 rarely called sysfs handlers) with
// kprobe_multi and with per-function kprobes. It is a benchmark that needs
// kprobes, so it runs in the 6.12 VM through `make bench` (BTOOL_BENCH=1)
// and skips elsewhere; results are logged.
func TestKernelBenchWildcardAttach(t *testing.T) {
	if os.Getenv("BTOOL_BENCH") == "" {
		t.Skip("a benchmark: set BTOOL_BENCH=1 (make bench runs it in the 6.12 VM)")
	}
	requireRoot(t)
	for _, tc := range []struct{ feature, noFeature, mode string }{
		{"kprobe_multi", "", "kprobe_multi"},
		{"kprobe", "kprobe_multi,fentry", "kprobe"},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			if !haveFeature(t, tc.feature) {
				return
			}
			// --probe-limit 0: 1,400 per-function kprobes are over the
			// default limit, which is what this benchmark measures.
			args := []string{"funccount", "-v", "--probe-limit", "0"}
			if tc.noFeature != "" {
				args = append(args, "--no-feature", tc.noFeature)
			}
			start := time.Now()
			tr := startBtool(t, append(args, "*_show")...)
			attached := time.Since(start)
			stop := time.Now()
			out := tr.stop(syscall.SIGINT)
			detached := time.Since(stop)
			m := regexp.MustCompile(`Tracing (\d+) functions`).FindStringSubmatch(out)
			if m == nil {
				t.Fatalf("no banner:\n%s", out)
			}
			t.Logf("BENCH %s: %s functions: launch to attached %v, detach and exit %v", tc.mode, m[1], attached.Round(time.Millisecond), detached.Round(time.Millisecond))
		})
	}
}
