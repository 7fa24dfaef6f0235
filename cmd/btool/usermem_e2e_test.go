package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
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

// TestKernelTraceUprobeSymlinkSwap switches the symlink a probe names to
// another binary after btool has opened it but before it attaches: the
// probe must still land in the binary btool parsed (it attaches through
// its open file), so running that binary produces the events.
func TestKernelTraceUprobeSymlinkSwap(t *testing.T) {
	requireRoot(t)
	for _, mode := range []string{"uprobe_multi", "uprobe"} {
		t.Run(mode, func(t *testing.T) {
			var args []string
			if mode == "uprobe" {
				args = []string{"--no-feature", "uprobe_multi"}
			} else if !haveFeature(t, "uprobe_multi") {
				return
			}
			testUprobeSymlinkSwap(t, args)
		})
	}
}

func testUprobeSymlinkSwap(t *testing.T, extra []string) {
	cc, err := exec.LookPath("gcc")
	if err != nil {
		t.Skip("gcc is not installed")
	}
	dir := t.TempDir()
	build := func(name, src string) string {
		c := filepath.Join(dir, name+".c")
		if err := os.WriteFile(c, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		bin := filepath.Join(dir, name)
		if out, err := exec.Command(cc, "-O1", "-o", bin, c).CombinedOutput(); err != nil {
			t.Fatalf("gcc: %v\n%s", err, out)
		}
		return bin
	}
	const n = 7
	// target sits at different offsets in the two binaries; b never runs
	// a's target offset as a function entry.
	a := build("a", `#include <stdlib.h>
__attribute__((noinline)) int target(int x) { __asm__ volatile(""); return x + 1; }
int main(int argc, char **argv) { int s = 0; for (int i = 0; i < atoi(argv[1]); i++) s = target(s); return s == 0; }
`)
	b := build("b", `static volatile int sink;
__attribute__((noinline)) void pad(void) { for (int i = 0; i < 100; i++) sink += i * 3; sink ^= 5; sink *= 7; }
__attribute__((noinline)) int target(int x) { pad(); return x - 1; }
int main(void) { return target(0); }
`)
	link := filepath.Join(dir, "prog")
	if err := os.Symlink(a, link); err != nil {
		t.Fatal(err)
	}
	pause := filepath.Join(dir, "pause")
	t.Setenv("BTOOL_TEST_PAUSE_AFTER_OPEN", pause)

	ready := filepath.Join(dir, "ready")
	args := append([]string{"trace", "-v", "--ready-file", ready, "-M", fmt.Sprint(n)}, extra...)
	tr := startProcess(t, nil, append(args, link+`:target "x=%d", arg1`)...)
	waitFile := func(p string) {
		t.Helper()
		deadline := time.After(30 * time.Second * timeScale())
		for {
			if _, err := os.Stat(p); err == nil {
				return
			}
			select {
			case <-tr.done:
				t.Fatalf("btool exited %d before %s:\n%s", tr.exitCode, filepath.Base(p), tr.err.String())
			case <-deadline:
				t.Fatalf("btool did not reach %s in time:\n%s", filepath.Base(p), tr.err.String())
			case <-time.After(5 * time.Millisecond):
			}
		}
	}
	waitFile(pause + ".opened")
	// Switch the link atomically to b, as a package upgrade would.
	tmp := link + ".new"
	if err := os.Symlink(b, tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, link); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pause+".go", nil, 0o644); err != nil {
		t.Fatal(err)
	}
	waitFile(ready)

	if out, err := exec.Command(b).CombinedOutput(); err != nil && !strings.Contains(err.Error(), "exit status") {
		t.Fatalf("b: %v %s", err, out)
	}
	if out, err := exec.Command(a, fmt.Sprint(n)).CombinedOutput(); err != nil {
		t.Fatalf("a: %v %s", err, out)
	}
	out := tr.wait()
	if got := strings.Count(out, "x="); got != n {
		t.Fatalf("%d events, want %d (the probe must be in %s, the binary parsed):\n%s\n%s", got, n, a, out, tr.err.String())
	}
	if strings.Contains(out+tr.err.String(), "/proc/self/fd") {
		t.Errorf("output names the attach path, not the binary:\n%s\n%s", out, tr.err.String())
	}
}
