package main

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/btool/btool/internal/testutil"
)

// TestKernelFunccountDurationZero: bcc's funccount accepts -d 0 as "no
// duration"; the count still comes out exact at Ctrl-C.
func TestKernelFunccountDurationZero(t *testing.T) {
	requireRoot(t)
	const n = 300
	w := startWorkload(t, testutil.Workload(t, "getpid"), "-n", strconv.Itoa(n), "-wait")
	tr := startBtool(t, "funccount", "-d", "0", "-p", strconv.Itoa(w.pid), "t:syscalls:sys_enter_getpid")
	w.run(t)
	out := tr.stop(syscall.SIGINT)
	if got := counts(t, out)["syscalls:sys_enter_getpid"]; got != n {
		t.Fatalf("count = %d, want %d:\n%s", got, n, out)
	}
}

// TestKernelProbeLimit: a wildcard with more targets than --probe-limit,
// in a mode where each target costs a link, is refused with an error that
// names the limit and the option; raising the limit attaches them all.
func TestKernelProbeLimit(t *testing.T) {
	requireRoot(t)
	const pattern = "t:sched:sched_process_*" // fork, exec, exit, free, wait, ...: more than 2
	_, errs, code := runBtool(t, "funccount", "--probe-limit", "2", "-d", "0.1", pattern)
	if code != exitRuntime || !strings.Contains(errs, "limit of 2 probes") || !strings.Contains(errs, "--probe-limit") {
		t.Fatalf("exit %d, stderr:\n%s\nwant a runtime error naming the limit and --probe-limit", code, errs)
	}
	if strings.Count(strings.TrimSpace(errs), "\n") != 0 {
		t.Errorf("want one line, got:\n%s", errs)
	}
	out, errs, code := runBtool(t, "funccount", "--probe-limit", "100", "-d", "0.1", pattern)
	if code != 0 || !strings.Contains(out, "Tracing ") {
		t.Fatalf("with a higher limit: exit %d\n%s%s", code, out, errs)
	}
	if _, errs, code := runBtool(t, "funccount", "--probe-limit", "-3", pattern); code != exitUsage || !strings.Contains(errs, "--probe-limit") {
		t.Errorf("negative limit: exit %d, %s", code, errs)
	}
}

// TestKernelTraceAggregate: -A prints each distinct event text once, with
// its count, at the end; -M still bounds the events read.
func TestKernelTraceAggregate(t *testing.T) {
	requireRoot(t)
	const n = 7
	w := startWorkload(t, testutil.Workload(t, "getpid"), "-n", strconv.Itoa(n), "-wait")
	tr := startBtool(t, "trace", "-A", "-M", strconv.Itoa(n), "-p", strconv.Itoa(w.pid), `t:syscalls:sys_enter_getpid "hello"`)
	w.run(t)
	out := tr.wait()
	want := "-->COUNT " + strconv.Itoa(n) + "\n"
	if strings.Count(out, "-->COUNT") != 1 || !strings.Contains(out, want) {
		t.Fatalf("want one aggregated line ending %q:\n%s", want, out)
	}
	if strings.Count(out, "hello") != 1 {
		t.Fatalf("event printed more than once:\n%s", out)
	}
	_, errs, code := runBtool(t, "trace", "-A", "t:syscalls:sys_enter_getpid")
	if code != exitUsage || !strings.Contains(errs, "-M/--max-events should be specified with -A/--aggregate") {
		t.Errorf("-A without -M: exit %d, %s", code, errs)
	}
}

// cgroup2Dir returns a fresh directory in the cgroup v2 hierarchy, mounting
// the hierarchy when the system has not (as in the test VMs).
func cgroup2Dir(t *testing.T) string {
	t.Helper()
	root := ""
	f, err := os.Open("/proc/self/mounts")
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if fs := strings.Fields(sc.Text()); len(fs) > 2 && fs[2] == "cgroup2" {
			root = fs[1]
			break
		}
	}
	f.Close()
	if root == "" {
		root = t.TempDir()
		if err := unix.Mount("none", root, "cgroup2", 0, ""); err != nil {
			t.Fatalf("mount cgroup2: %v", err)
		}
		t.Cleanup(func() { unix.Unmount(root, unix.MNT_DETACH) })
	}
	dir := filepath.Join(root, "btool-test-"+strconv.Itoa(os.Getpid()))
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(dir) })
	return dir
}

// TestKernelTraceCgroup: -c traces only the tasks of one cgroup. Two
// identical workloads run, one inside the cgroup; only its events print.
func TestKernelTraceCgroup(t *testing.T) {
	requireRoot(t)
	dir := cgroup2Dir(t)
	const n = 5
	in := startWorkload(t, testutil.Workload(t, "getpid"), "-n", strconv.Itoa(n), "-wait")
	out := startWorkload(t, testutil.Workload(t, "getpid"), "-n", strconv.Itoa(n), "-wait")
	if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(strconv.Itoa(in.pid)), 0); err != nil {
		t.Fatal(err)
	}
	tr := startBtool(t, "trace", "-c", dir, "-M", strconv.Itoa(n), `t:syscalls:sys_enter_getpid "x"`)
	out.run(t)
	in.run(t)
	text := tr.wait()
	lines := traceLines(text, "getpid")
	if len(lines) != n {
		t.Fatalf("want %d lines of the workload in the cgroup, got %d:\n%s", n, len(lines), text)
	}
	for _, l := range lines {
		if f := strings.Fields(l); f[0] != strconv.Itoa(in.pid) {
			t.Errorf("event of pid %s, want only %d (the one in the cgroup):\n%s", f[0], in.pid, text)
		}
	}
	_, errs, code := runBtool(t, "trace", "-c", "/proc", `t:syscalls:sys_enter_getpid`)
	if code != exitUsage || !strings.Contains(errs, "not a cgroup v2 directory") {
		t.Errorf("-c /proc: exit %d, %s", code, errs)
	}
}

// TestKernelTraceUprobeKernelStack: -K on a uprobe has no kernel stack to
// show (the probe fires in user mode); it prints nothing or a marker,
// never a negative errno like "-14". -U still prints the user stack.
func TestKernelTraceUprobeKernelStack(t *testing.T) {
	requireRoot(t)
	bin := buildC(t, "calls.c", "-O0")
	w := startWorkload(t, bin, "1")
	tr := startBtool(t, "trace", "-K", "-U", "-p", strconv.Itoa(w.pid), `p:`+bin+`:work_alpha+4`)
	w.run(t)
	out := tr.stop(syscall.SIGINT)
	if regexp.MustCompile(`(?m)^\s+-\d+\s*$`).MatchString(out) {
		t.Fatalf("an errno printed as a stack:\n%s", out)
	}
	if !strings.Contains(out, "        work_alpha+0x4 ["+filepath.Base(bin)+"]") {
		t.Fatalf("user stack missing:\n%s", out)
	}
}

// TestKernelFunccountWildcardComplete: a kernel wildcard attaches every
// function it matches, or says on stderr, without -v, how many it could
// not attach: the functions counted plus those reported skipped are all
// the matches btool list shows. (On 6.1, without kprobe_multi, this used
// to attach 341 of 368 tcp_* functions silently.)
func TestKernelFunccountWildcardComplete(t *testing.T) {
	requireRoot(t)
	if !haveFeature(t, "kprobe") {
		return
	}
	const pattern = "tcp_*"
	list, _, code := runBtool(t, "list", pattern)
	if code != 0 {
		t.Fatalf("list %s: exit %d", pattern, code)
	}
	matches := strings.Count(list, "\n")
	out, errs, code := runBtool(t, "funccount", "-d", "0.2", pattern)
	if code != 0 {
		t.Fatalf("funccount %s: exit %d\n%s%s", pattern, code, out, errs)
	}
	attached, skipped, total := attachReport(t, out, errs)
	if skipped > 0 && total != matches {
		t.Errorf("skip report counts %d targets, list shows %d", total, matches)
	}
	t.Logf("%d matches: %d attached, %d skipped and reported\n%s", matches, attached, skipped, errs)
	if attached+skipped != matches {
		t.Fatalf("%d attached + %d reported skipped != %d matches; stderr:\n%s", attached, skipped, matches, errs)
	}
}

// TestKernelTraceUserStringFromKernelProbe: do_sys_openat2's filename is a
// user pointer (const char __user *); %s on it must print the path the
// workload opened, with every kernel-function mechanism, not "".
func TestKernelTraceUserStringFromKernelProbe(t *testing.T) {
	requireRoot(t)
	path := filepath.Join(t.TempDir(), "btool-user-string.txt")
	os.WriteFile(path, []byte("x"), 0o644)
	for _, tc := range kernelFuncModes {
		t.Run(tc.mode, func(t *testing.T) {
			if !haveFeature(t, tc.feature) {
				return
			}
			w := startWorkload(t, testutil.Workload(t, "readfiles"), "-n", "3", "-path", path, "-wait")
			tr := startTraceMode(t, tc, w.pid, `do_sys_openat2 "%s", arg2`, "-Z", "256") // the temporary path is longer than 80
			w.run(t)
			out := tr.stop(syscall.SIGINT)
			n := 0
			for _, l := range traceLines(out, "") {
				if strings.HasSuffix(l, " "+path) {
					n++
				}
			}
			if n != 3 {
				t.Fatalf("want 3 lines ending in %s, got %d:\n%s\nstderr:\n%s", path, n, out, tr.err.String())
			}
		})
	}
}

// attachReport reads funccount's banner and skip warning: the targets
// attached, those reported skipped, and the total the warning counts (0
// without a warning).
func attachReport(t *testing.T, out, errs string) (attached, skipped, total int) {
	t.Helper()
	m := regexp.MustCompile(`^Tracing (\d+) functions`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no banner:\n%s", out)
	}
	attached, _ = strconv.Atoi(m[1])
	if s := regexp.MustCompile(`warning: (\d+) of (\d+) targets could not be attached`).FindStringSubmatch(errs); s != nil {
		skipped, _ = strconv.Atoi(s[1])
		total, _ = strconv.Atoi(s[2])
	}
	return attached, skipped, total
}
