package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/btool/btool/internal/testutil"
)

// userProbesRSS runs btool trace -D with n copies of a c:malloc probe,
// under a deadline, and returns its peak RSS in bytes and its run time.
// Every probe names the same libc, which btool opens, indexes and reads
// DWARF from once.
func userProbesRSS(tb testing.TB, n int) (int64, time.Duration) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute*timeScale())
	defer cancel()
	args := []string{"trace", "-D"}
	for range n {
		args = append(args, `c:malloc "%d bytes", arg1`)
	}
	cmd := exec.CommandContext(ctx, testutil.BtoolBin(tb), args...)
	var stderr strings.Builder
	cmd.Stdout, cmd.Stderr = nil, &stderr
	start := time.Now()
	err := cmd.Run()
	d := time.Since(start)
	if ctx.Err() != nil {
		tb.Fatalf("btool trace -D with %d probes did not finish in time", n)
	}
	if err != nil {
		tb.Fatalf("btool trace -D with %d probes: %v\n%s", n, err, stderr.String())
	}
	u, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		tb.Skip("no rusage")
	}
	return u.Maxrss * 1024, d
}

// libcHasDWARF reports whether btool finds malloc's prototype in libc's
// DWARF (libc6-dbg or an equivalent installed).
func libcHasDWARF(tb testing.TB) bool {
	out, err := exec.Command(testutil.BtoolBin(tb), "list", "-v", "c:malloc").Output()
	return err == nil && strings.Contains(string(out), "size_t")
}

// maxUserProbesRSS bounds btool's peak RSS for 1,000 probes on one
// binary. Before btool read DWARF one unit at a time, libc's debug file
// alone took 40 MB of it.
const maxUserProbesRSS = 64 << 20

// TestKernelTraceManyUserProbesRSS plans and compiles 1,000 probes on
// libc's malloc and checks the peak RSS: the binary is opened, indexed and
// read once, and only the DWARF units malloc needs are parsed.
func TestKernelTraceManyUserProbesRSS(t *testing.T) {
	requireRoot(t)
	if testutil.InVM() {
		t.Skip("measured on the host: the VM's libc has no DWARF")
	}
	t.Logf("libc has DWARF: %v", libcHasDWARF(t))
	rss, d := userProbesRSS(t, 1000)
	t.Logf("1000 c:malloc probes: peak RSS %.1f MB in %v", float64(rss)/(1<<20), d.Round(time.Millisecond))
	if rss > maxUserProbesRSS {
		t.Errorf("peak RSS %.1f MB for 1,000 c:malloc probes, want at most %d MB", float64(rss)/(1<<20), maxUserProbesRSS>>20)
	}
}

// BenchmarkUserProbesRSS: peak RSS and time of btool trace -D with 1, 10
// and 1,000 c:malloc probes on one libc.
func BenchmarkUserProbesRSS(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root")
	}
	b.Logf("libc has DWARF: %v", libcHasDWARF(b))
	for _, n := range []int{1, 10, 1000} {
		b.Run(fmt.Sprintf("probes=%d", n), func(b *testing.B) {
			var peak int64
			var total time.Duration
			for range b.N {
				rss, d := userProbesRSS(b, n)
				peak, total = max(peak, rss), total+d
			}
			b.ReportMetric(float64(peak)/(1<<20), "peak-rss-MB")
			b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "run-ms")
		})
	}
}
