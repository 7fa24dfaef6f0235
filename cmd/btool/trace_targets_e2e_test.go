package main

import (
	"os"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/btool/btool/internal/testutil"
)

// attachedRE matches trace -v's "probe 0: attached N of M target(s) with MODE".
var attachedRE = regexp.MustCompile(`attached (\d+) of (\d+) target\(s\) with (\S+)`)

// checkAllAttached fails unless trace -v's stderr says every target of the
// probe attached, with mode.
func checkAllAttached(t *testing.T, stderr, mode string) {
	t.Helper()
	m := attachedRE.FindStringSubmatch(stderr)
	if m == nil || m[3] != mode {
		t.Fatalf("not attached with %s:\n%s", mode, stderr)
	}
	if m[1] != m[2] {
		t.Errorf("only %s of %s targets attached with %s:\n%s", m[1], m[2], mode, stderr)
	}
}

// funcColumn counts trace's event lines by their FUNC column.
func funcColumn(out string) map[string]int {
	c := map[string]int{}
	for _, l := range traceLines(out, "") {
		if f := strings.Fields(l); len(f) >= 4 {
			c[f[3]]++
		}
	}
	return c
}

// TestKernelTraceWildcardKernelTargets traces a wildcard of kernel
// functions with each mechanism, with and without the BPF cookie (5.15),
// and checks that every function attached and that each event names the
// function it came from: with the cookie one program serves all targets and
// the cookie tells them apart; without it (5.10, or --no-feature cookie)
// each target needs its own program and its own index.
func TestKernelTraceWildcardKernelTargets(t *testing.T) {
	requireRoot(t)
	path := t.TempDir() + "/btool-wildcard-target"
	if err := os.WriteFile(path, []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	modes := append(kernelFuncModes[:len(kernelFuncModes):len(kernelFuncModes)],
		struct{ feature, noFeature, mode string }{"kprobe", "kprobe_multi,fentry,cookie", "kprobe"})
	for _, tc := range modes {
		name := tc.mode
		if strings.Contains(tc.noFeature, "cookie") {
			name += "-nocookie"
		}
		t.Run(name, func(t *testing.T) {
			if !haveFeature(t, tc.feature) {
				return
			}
			w := startWorkload(t, testutil.Workload(t, "readfiles"), "-n", "3", "-path", path, "-wait")
			args := []string{"trace", "-v", "-p", strconv.Itoa(w.pid)}
			if tc.noFeature != "" {
				args = append(args, "--no-feature", tc.noFeature)
			}
			// vfs_read and the vfs_read* functions next to it (vfs_readlink,
			// vfs_readv, ...): readfiles calls only vfs_read, twice a round.
			tr := startBtool(t, append(args, `vfs_read*`)...)
			w.run(t)
			out := tr.stop(syscall.SIGINT)
			checkAllAttached(t, tr.err.String(), tc.mode)
			if c := funcColumn(out); c["vfs_read"] != 6 || len(c) != 1 {
				t.Errorf("events by FUNC = %v, want vfs_read: 6 and nothing else:\n%s\nstderr:\n%s", c, out, tr.err.String())
			}
		})
	}
}

// TestKernelTraceWildcardUserTargets is the same for user functions: a
// wildcard over the three work_* functions of the calls fixture, called N,
// 2N and 3N times.
func TestKernelTraceWildcardUserTargets(t *testing.T) {
	requireRoot(t)
	bin := buildC(t, "calls.c")
	const n = 10
	for _, tc := range []struct{ feature, noFeature, mode, name string }{
		{"uprobe_multi", "", "uprobe_multi", "uprobe_multi"},
		{"uprobe", "uprobe_multi", "uprobe", "uprobe"},
		{"uprobe", "uprobe_multi,cookie", "uprobe", "uprobe-nocookie"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !haveFeature(t, tc.feature) {
				return
			}
			w := startWorkload(t, bin, strconv.Itoa(n))
			args := []string{"trace", "-v", "-p", strconv.Itoa(w.pid)}
			if tc.noFeature != "" {
				args = append(args, "--no-feature", tc.noFeature)
			}
			tr := startBtool(t, append(args, "p:"+bin+":work_*")...)
			w.run(t)
			out := tr.stop(syscall.SIGINT)
			checkAllAttached(t, tr.err.String(), tc.mode)
			c := funcColumn(out)
			if c["work_alpha"] != n || c["work_beta"] != 2*n || c["work_gamma"] != 3*n || len(c) != 3 {
				t.Errorf("events by FUNC = %v, want work_alpha: %d, work_beta: %d, work_gamma: %d:\n%s\nstderr:\n%s",
					c, n, 2*n, 3*n, out, tr.err.String())
			}
		})
	}
}
