package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/btool/btool/internal/testutil"
)

// traceLines returns the event lines of trace output (after the header)
// whose COMM column is comm ("" for all).
func traceLines(out, comm string) []string {
	var lines []string
	for i, l := range strings.Split(out, "\n") {
		if i == 0 || l == "" || strings.HasPrefix(l, " ") {
			continue
		}
		f := strings.Fields(l)
		if comm != "" && (len(f) < 3 || f[2] != comm) {
			continue
		}
		lines = append(lines, l)
	}
	return lines
}

// TestKernelTraceUserExample is the README's first example:
// sys_read with a filter on the byte count, against dd reading 1 MiB blocks.
// On kernels without kprobes it goes through the syscall tracepoint, on
// others through the __x64_sys_read wrapper; the output is the same.
func TestKernelTraceUserExample(t *testing.T) {
	requireRoot(t)
	dd, err := exec.LookPath("dd")
	if err != nil {
		t.Skip("no dd")
	}
	tr := startBtool(t, "trace", "-v", "sys_read (arg3 > 20000) \"read %d bytes\", arg3")
	if out, err := exec.Command(dd, "if=/dev/zero", "of=/dev/null", "bs=1M", "count=5").CombinedOutput(); err != nil {
		t.Fatalf("dd: %v\n%s", err, out)
	}
	out := tr.stop(syscall.SIGINT)
	if !strings.HasPrefix(out, "PID     TID     COMM            FUNC             -\n") {
		t.Errorf("header:\n%s", out)
	}
	lines := traceLines(out, "dd")
	if len(lines) != 5 {
		t.Fatalf("want 5 dd lines, got %d:\n%s\nstderr:\n%s", len(lines), out, tr.err.String())
	}
	re := regexp.MustCompile(`^\d+\s+\d+\s+dd\s+sys_read\s+read 1048576 bytes$`)
	for _, l := range lines {
		if !re.MatchString(l) {
			t.Errorf("line %q does not match %v", l, re)
		}
	}
	t.Logf("mechanism:\n%s", tr.err.String())
}

func TestKernelTraceOpenatFilename(t *testing.T) {
	requireRoot(t)
	path := filepath.Join(t.TempDir(), "btool-trace-target.txt")
	os.WriteFile(path, []byte("x"), 0o644)
	w := startWorkload(t, testutil.Workload(t, "readfiles"), "-n", "3", "-path", path, "-wait")
	tr := startBtool(t, "trace", "-p", strconv.Itoa(w.pid), `t:syscalls:sys_enter_openat "%s", args->filename`)
	w.run(t)
	out := tr.stop(syscall.SIGINT)
	n := 0
	for _, l := range traceLines(out, "") {
		if strings.HasSuffix(l, " "+path) && strings.Contains(l, "sys_enter_openat") {
			n++
		}
	}
	if n != 3 {
		t.Fatalf("want 3 openat lines for %s, got %d:\n%s", path, n, out)
	}
}

// TestKernelTraceReturnSigned checks a return probe filtered on a signed
// retval: failed openat calls return -ENOENT.
func TestKernelTraceReturnSigned(t *testing.T) {
	requireRoot(t)
	missing := filepath.Join(t.TempDir(), "does-not-exist")
	w := startWorkload(t, testutil.Workload(t, "readfiles"), "-n", "4", "-path", missing, "-ignore-errors", "-wait")
	tr := startBtool(t, "trace", "-p", strconv.Itoa(w.pid), `r::sys_openat (retval < 0) "openat failed: %d", retval`)
	w.run(t)
	out := tr.stop(syscall.SIGINT)
	lines := traceLines(out, "")
	if len(lines) != 4 {
		t.Fatalf("want 4 failed openat lines, got %d:\n%s\nstderr:\n%s", len(lines), out, tr.err.String())
	}
	for _, l := range lines {
		if !strings.HasSuffix(l, "openat failed: -2") {
			t.Errorf("line %q, want openat failed: -2", l)
		}
	}
}

func TestKernelTraceUprobeDWARFArgs(t *testing.T) {
	requireRoot(t)
	bin := buildC(t, "calls.c")
	const n = 3
	w := startWorkload(t, bin, strconv.Itoa(n))
	tr := startBtool(t, "trace", "-p", strconv.Itoa(w.pid),
		`p:`+bin+`:work_gamma (x > 0) "x=%ld s=%s", x, s`,
		`r:`+bin+`:work_beta "beta=%d", retval`)
	w.run(t)
	out := tr.stop(syscall.SIGINT)
	gamma, beta := 0, 0
	for _, l := range traceLines(out, "") {
		switch {
		case strings.Contains(l, "work_gamma") && regexp.MustCompile(`x=[12] s=x$`).MatchString(l):
			gamma++
		case strings.Contains(l, "work_beta") && regexp.MustCompile(`beta=[024]$`).MatchString(l):
			beta++
		}
	}
	// work_gamma(i, "x") runs 3 times per i; x > 0 keeps i = 1, 2. work_beta
	// returns 2*i twice per i.
	if gamma != 6 || beta != 6 {
		t.Fatalf("gamma lines %d (want 6), beta lines %d (want 6):\n%s", gamma, beta, out)
	}
}

// TestKernelTraceGo traces a Go function's arguments (Go's register ABI)
// and its returns, which btool probes at the RET instructions: a uretprobe
// would crash the Go program.
func TestKernelTraceGo(t *testing.T) {
	requireRoot(t)
	const n = 5
	bin := testutil.Workload(t, "spin")
	w := startWorkload(t, bin, "-n", strconv.Itoa(n), "-wait")
	tr := startBtool(t, "trace", "-v", "-p", strconv.Itoa(w.pid),
		bin+`:main.spinTarget "i=%d k=%d", i, k`,
		`r:`+bin+`:main.spinTarget "ret=%d", retval`)
	w.run(t) // fails if the workload crashed
	out := tr.stop(syscall.SIGINT)
	var args, rets []string
	for _, l := range traceLines(out, "") {
		f := strings.Fields(l)
		msg := strings.Join(f[4:], " ")
		if strings.HasPrefix(msg, "i=") {
			args = append(args, msg)
		} else if strings.HasPrefix(msg, "ret=") {
			rets = append(rets, msg)
		}
	}
	if len(args) != n || len(rets) != n {
		t.Fatalf("want %d entry and %d return lines, got %d and %d:\n%s\nstderr:\n%s", n, n, len(args), len(rets), out, tr.err.String())
	}
	for i := 0; i < n; i++ {
		if args[i] != "i="+strconv.Itoa(i)+" k=42" || rets[i] != "ret="+strconv.Itoa(i+42) {
			t.Errorf("event %d: %q, %q", i, args[i], rets[i])
		}
	}
}

func TestKernelTraceJSONAndMaxEvents(t *testing.T) {
	requireRoot(t)
	w := startWorkload(t, testutil.Workload(t, "getpid"), "-n", "50", "-wait")
	tr := startBtool(t, "trace", "--json", "-M", "3", "-p", strconv.Itoa(w.pid), `t:syscalls:sys_enter_getpid "pid call %d", $tgid`)
	w.run(t)
	out := tr.wait() // -M makes it exit by itself
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 {
		t.Fatalf("-M 3: got %d lines:\n%s", len(lines), out)
	}
	for _, l := range lines {
		var ev map[string]any
		if err := json.Unmarshal([]byte(l), &ev); err != nil {
			t.Fatalf("%v: %s", err, l)
		}
		if int(ev["pid"].(float64)) != w.pid || ev["comm"] == "" || ev["func"] != "sys_enter_getpid" {
			t.Errorf("event fields: %s", l)
		}
		args, _ := ev["args"].(map[string]any)
		if v, ok := args["$tgid"].(float64); !ok || int(v) != w.pid {
			t.Errorf("typed arg $tgid missing or wrong: %s", l)
		}
	}
}

func TestKernelTraceUserStack(t *testing.T) {
	requireRoot(t)
	bin := buildC(t, "calls.c", "-O0") // -O0: even leaf functions get frames
	w := startWorkload(t, bin, "1")
	// Probe past the prologue (push %rbp; mov %rsp,%rbp), so the frame
	// pointer chain already includes main, as it does anywhere but the
	// first instruction.
	tr := startBtool(t, "trace", "-U", "-p", strconv.Itoa(w.pid), `p:`+bin+`:work_alpha+4`)
	w.run(t)
	out := tr.stop(syscall.SIGINT)
	if !strings.Contains(out, "        work_alpha+0x4 ["+filepath.Base(bin)+"]") || !strings.Contains(out, "        main+0x") {
		t.Fatalf("user stack not symbolized:\n%s", out)
	}
}

// TestKernelTraceUserStackInlined checks trace -U -v on a stack through
// inlined code: mid is probed past its prologue (push %rbp; mov
// %rsp,%rbp), so the stack is mid, then the return address in top that
// lies in the code of the always-inlined inl_helper, which must print as
// an inlined frame (at the call's source line) above top, and main below.
func TestKernelTraceUserStackInlined(t *testing.T) {
	requireRoot(t)
	bin := buildC(t, "inlined.c")
	src, err := os.ReadFile(filepath.Join(testutil.RepoRoot(), "testdata", "c", "inlined.c"))
	if err != nil {
		t.Fatal(err)
	}
	callLine := 0
	for i, l := range strings.Split(string(src), "\n") {
		if strings.Contains(l, "INLINED CALL") {
			callLine = i + 1
		}
	}
	w := startWorkload(t, bin, "3")
	tr := startBtool(t, "trace", "-U", "-v", "-p", strconv.Itoa(w.pid), `p:`+bin+`:mid+4`)
	w.run(t)
	out := tr.stop(syscall.SIGINT)
	mod := regexp.QuoteMeta(filepath.Base(bin))
	re := regexp.MustCompile(`(?m)^        mid\+0x4 \[` + mod + `\] inlined\.c:\d+\n` +
		`        inl_helper \(inlined\) \[` + mod + `\] inlined\.c:` + strconv.Itoa(callLine) + `\n` +
		`        top\+0x[0-9a-f]+ \[` + mod + `\] inlined\.c:\d+\n` +
		`        main\+0x[0-9a-f]+ \[` + mod + `\] inlined\.c:\d+\n`)
	if !re.MatchString(out) {
		t.Fatalf("no mid <- inl_helper (inlined) <- top <- main stack:\n%s", out)
	}
}

func TestKernelTraceKernelStack(t *testing.T) {
	requireRoot(t)
	w := startWorkload(t, testutil.Workload(t, "getpid"), "-n", "1", "-wait")
	tr := startBtool(t, "trace", "-K", "-p", strconv.Itoa(w.pid), `t:syscalls:sys_enter_getpid`)
	w.run(t)
	out := tr.stop(syscall.SIGINT)
	if !regexp.MustCompile(`(?m)^        \S+\+0x[0-9a-f]+ \[kernel\]$`).MatchString(out) {
		t.Fatalf("kernel stack not symbolized:\n%s", out)
	}
}

// TestKernelTraceLostEvents floods a tiny ring buffer with events nobody
// can print fast enough, and checks that the loss is reported.
func TestKernelTraceLostEvents(t *testing.T) {
	requireRoot(t)
	w := startWorkload(t, testutil.Workload(t, "getpid"), "-n", "200000", "-wait")
	tr := startBtool(t, "trace", "-b", "1", "-p", strconv.Itoa(w.pid), `t:syscalls:sys_enter_getpid "%s %s %s", $comm, $comm, $comm`)
	w.run(t)
	tr.stop(syscall.SIGINT)
	if !regexp.MustCompile(`Possibly lost \d+ samples`).MatchString(tr.err.String()) {
		t.Fatalf("no loss reported; stderr:\n%s", tr.err.String())
	}
}

// kernelFuncModes returns the kernel-function attach modes to test, each
// with the --no-feature list that forces it; modes the kernel lacks skip
// (or fail where the VM expects them).
type kernelFuncMode struct{ feature, noFeature, mode string }

var kernelFuncModes = []kernelFuncMode{
	{"kprobe_multi", "", "kprobe_multi"},
	{"fentry", "kprobe_multi", "fentry"},
	{"kprobe", "kprobe_multi,fentry", "kprobe"},
}

// startTraceMode starts btool trace -v on process pid with spec, forcing
// mode tc; extra options go before the spec.
func startTraceMode(t *testing.T, tc kernelFuncMode, pid int, spec string, extra ...string) *tracer {
	t.Helper()
	args := append([]string{"trace", "-v", "-p", strconv.Itoa(pid)}, extra...)
	if tc.noFeature != "" {
		args = append(args, "--no-feature", tc.noFeature)
	}
	return startBtool(t, append(args, spec)...)
}

// TestKernelTraceVFSReadChain follows file->f_path.dentry->d_name.name on
// vfs_read, typed by kernel BTF, with each kernel-function mechanism.
func TestKernelTraceVFSReadChain(t *testing.T) {
	requireRoot(t)
	path := filepath.Join(t.TempDir(), "btool-chain-target")
	os.WriteFile(path, []byte("hello"), 0o644)
	for _, tc := range kernelFuncModes {
		t.Run(tc.mode, func(t *testing.T) {
			if !haveFeature(t, tc.feature) {
				return
			}
			w := startWorkload(t, testutil.Workload(t, "readfiles"), "-n", "3", "-path", path, "-wait")
			tr := startTraceMode(t, tc, w.pid, `vfs_read "name=%s count=%d", file->f_path.dentry->d_name.name, count`)
			w.run(t)
			out := tr.stop(syscall.SIGINT)
			if !strings.Contains(tr.err.String(), "attached with "+tc.mode) {
				t.Fatalf("not attached with %s:\n%s", tc.mode, tr.err.String())
			}
			n := 0
			for _, l := range traceLines(out, "") {
				if strings.Contains(l, " vfs_read ") && strings.HasSuffix(l, "name=btool-chain-target count=4096") {
					n++
				}
			}
			// Each round reads the file until EOF: two reads of 4096.
			if n != 6 {
				t.Fatalf("want 6 vfs_read lines naming the file, got %d:\n%s", n, out)
			}
		})
	}
}

// TestKernelTraceKernelReturnSigned checks kretprobe/fexit retval with a
// signed filter: reading a directory fails with -EISDIR.
func TestKernelTraceKernelReturnSigned(t *testing.T) {
	requireRoot(t)
	dir := t.TempDir()
	for _, tc := range kernelFuncModes {
		t.Run(tc.mode, func(t *testing.T) {
			if !haveFeature(t, tc.feature) {
				return
			}
			w := startWorkload(t, testutil.Workload(t, "readfiles"), "-n", "4", "-path", dir, "-ignore-errors", "-wait")
			tr := startTraceMode(t, tc, w.pid, `r::vfs_read (retval < 0) "vfs_read failed: %d", retval`)
			w.run(t)
			out := tr.stop(syscall.SIGINT)
			lines := traceLines(out, "")
			if len(lines) != 4 {
				t.Fatalf("want 4 lines, got %d:\n%s\nstderr:\n%s", len(lines), out, tr.err.String())
			}
			for _, l := range lines {
				if !strings.HasSuffix(l, "vfs_read failed: -21") {
					t.Errorf("line %q, want -21 (EISDIR)", l)
				}
			}
		})
	}
}

// TestKernelTracePerfBuffer forces the perf-buffer path of kernels before
// 5.8 (no BPF ring buffer).
func TestKernelTracePerfBuffer(t *testing.T) {
	requireRoot(t)
	const n = 20
	w := startWorkload(t, testutil.Workload(t, "getpid"), "-n", strconv.Itoa(n), "-wait")
	tr := startBtool(t, "trace", "--no-feature", "ringbuf", "-p", strconv.Itoa(w.pid), `t:syscalls:sys_enter_getpid "tgid %d", $tgid`)
	w.run(t)
	out := tr.stop(syscall.SIGINT)
	lines := traceLines(out, "")
	if len(lines) != n {
		t.Fatalf("want %d lines, got %d:\n%s", n, len(lines), out)
	}
	for _, l := range lines {
		if !strings.HasSuffix(l, "tgid "+strconv.Itoa(w.pid)) {
			t.Errorf("line %q", l)
		}
	}
}

// TestKernelTraceGoStrings prints Go string arguments (pointer and length in
// two registers, no NUL), truncated at -Z with a marker, and filters on
// string equality.
func TestKernelTraceGoStrings(t *testing.T) {
	requireRoot(t)
	bin := testutil.Workload(t, "gostrings")
	w := startWorkload(t, bin, "-wait")
	tr := startBtool(t, "trace", "-Z", "16", "-p", strconv.Itoa(w.pid),
		bin+`:main.greet "name=%s n=%d", name, n`,
		bin+`:main.greet (name == "be") "found be"`)
	w.run(t)
	out := tr.stop(syscall.SIGINT)
	var msgs []string
	for _, l := range traceLines(out, "") {
		f := strings.Fields(l)
		msgs = append(msgs, strings.Join(f[4:], " "))
	}
	want := map[string]bool{"name=alpha n=0": true, "name=be n=1": true, "name=a-very-long-nam... n=2": true, "found be": true}
	if len(msgs) != len(want) {
		t.Fatalf("want %d lines, got %d:\n%s", len(want), len(msgs), out)
	}
	for _, m := range msgs {
		if !want[m] {
			t.Errorf("unexpected line %q", m)
		}
	}
}

// TestKernelTraceUntouchedPages traces strings on pages the workload has
// mapped but never touched (testdata/c/untouched.c): a string on one such
// page, one that continues onto a second untouched page, and a USDT
// argument. Sleepable uprobe programs fault the pages in and print the
// strings, with uprobe_multi and with perf-event uprobes; with the
// feature forced off they print (fault), and -v counts the failures.
func TestKernelTraceUntouchedPages(t *testing.T) {
	requireRoot(t)
	bin := buildC(t, "untouched.c")
	strs := []string{"on the first page", "across two pages", "usdt page three"}
	faults := []string{"(fault)", "(fault)", "(fault)"}
	for _, tc := range []struct {
		name      string
		noFeature string
		mode      string
		want      []string
	}{
		{"sleepable uprobe_multi", "", "uprobe_multi (sleepable", strs},
		{"sleepable uprobe", "uprobe_multi", "uprobe (sleepable", strs},
		{"not sleepable", "sleepable_uprobe", "", faults},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.noFeature != "sleepable_uprobe" && !haveFeature(t, "sleepable_uprobe") {
				return
			}
			if tc.noFeature != "uprobe_multi" && !haveFeature(t, "uprobe_multi") {
				return
			}
			args := []string{"trace", "-v"}
			if tc.noFeature != "" {
				args = append(args, "--no-feature", tc.noFeature)
			}
			w := startWorkload(t, bin, filepath.Join(t.TempDir(), "pages"))
			tr := startBtool(t, append(args, "-p", strconv.Itoa(w.pid),
				bin+`:show "%s", s`,
				`u:`+bin+`:untouched:show "%s", (char *)arg1`)...)
			w.run(t)
			out := tr.stop(syscall.SIGINT)
			var got []string
			for _, l := range traceLines(out, "") {
				if f := strings.Fields(l); len(f) > 4 && f[3] == "show" {
					got = append(got, strings.Join(f[4:], " "))
				}
			}
			if strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Fatalf("got %q, want %q:\n%s\nstderr:\n%s", got, tc.want, out, tr.err.String())
			}
			stderr := tr.err.String()
			if tc.mode != "" && !strings.Contains(stderr, "attached with "+tc.mode) {
				t.Errorf("not attached with %s:\n%s", tc.mode, stderr)
			}
			if tc.mode == "" && strings.Contains(stderr, "sleepable") {
				t.Errorf("sleepable programs despite --no-feature sleepable_uprobe:\n%s", stderr)
			}
			if wantFaults := tc.want[0] == "(fault)"; wantFaults != strings.Contains(stderr, "3 %s argument(s) could not be read") {
				t.Errorf("-v fault count (want one: %v):\n%s", wantFaults, stderr)
			}
		})
	}
}
