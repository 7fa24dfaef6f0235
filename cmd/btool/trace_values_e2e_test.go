package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/btool/btool/internal/testutil"
)

// copyExe copies the executable src to dir/name, so a process run from it
// has comm name.
func copyExe(t *testing.T, src, dir, name string) string {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestKernelTraceCommExact filters on $comm == "cat" while processes named
// cat and catalina make the traced syscall: only cat's calls print (a
// prefix comparison would let catalina's through).
func TestKernelTraceCommExact(t *testing.T) {
	requireRoot(t)
	dir := t.TempDir()
	getpid := testutil.Workload(t, "getpid")
	cat := copyExe(t, getpid, dir, "cat")
	catalina := copyExe(t, getpid, dir, "catalina")
	w1 := startWorkload(t, cat, "-n", "3", "-wait")
	w2 := startWorkload(t, catalina, "-n", "5", "-wait")
	tr := startBtool(t, "trace", `t:syscalls:sys_enter_getpid ($comm == "cat") "%s", $comm`)
	w1.run(t)
	w2.run(t)
	out := tr.stop(syscall.SIGINT)
	lines := traceLines(out, "")
	if len(lines) != 3 {
		t.Fatalf("want 3 lines from cat, got %d:\n%s\nstderr:\n%s", len(lines), out, tr.err.String())
	}
	for _, l := range lines {
		if f := strings.Fields(l); len(f) < 5 || f[2] != "cat" || f[4] != "cat" {
			t.Errorf("line %q is not from cat", l)
		}
	}
}

// buildCNoDWARF compiles testdata/c/src without debug info, so its
// functions have symbols but no types.
func buildCNoDWARF(t *testing.T, src string) string {
	t.Helper()
	return buildC(t, src, "-g0") // -g0 after the fixtures' -g: no DWARF at all
}

// TestKernelTraceUntypedString prints %s of an argument of a function
// without DWARF: the untyped u64 is read as a user-space string, as bcc's
// trace does (the README's `r:bash:readline "%s", retval`).
func TestKernelTraceUntypedString(t *testing.T) {
	requireRoot(t)
	bin := buildCNoDWARF(t, "calls.c")
	const n = 2
	w := startWorkload(t, bin, strconv.Itoa(n))
	tr := startBtool(t, "trace", "-p", strconv.Itoa(w.pid), `p:`+bin+`:work_gamma "x=%d s=%s", arg1, arg2`)
	w.run(t)
	out := tr.stop(syscall.SIGINT)
	lines := traceLines(out, "")
	if len(lines) != 3*n {
		t.Fatalf("want %d lines, got %d:\n%s\nstderr:\n%s", 3*n, len(lines), out, tr.err.String())
	}
	for _, l := range lines {
		if !strings.HasSuffix(l, " s=x") {
			t.Errorf("line %q does not end in s=x", l)
		}
	}
}

// TestKernelTraceGoMixedABI traces a Go function whose parameters mix
// floats and integers: under Go's register ABI the floats are in X
// registers, so the integers and the string after them are in RBX, RCX+RDI
// and RSI, not shifted by one register per float. Reading a float
// parameter is refused with the reason.
func TestKernelTraceGoMixedABI(t *testing.T) {
	requireRoot(t)
	bin := testutil.Workload(t, "gomixed")
	w := startWorkload(t, bin, "-wait")
	tr := startBtool(t, "trace", "-p", strconv.Itoa(w.pid), bin+`:main.mixed "a=%d b=%d s=%s c=%d", a, b, s, c`)
	w.run(t)
	out := tr.stop(syscall.SIGINT)
	var msgs []string
	for _, l := range traceLines(out, "") {
		f := strings.Fields(l)
		msgs = append(msgs, strings.Join(f[4:], " "))
	}
	want := []string{"a=0 b=10 s=go c=100", "a=1 b=11 s=go c=101", "a=2 b=12 s=go c=102"}
	if strings.Join(msgs, "|") != strings.Join(want, "|") {
		t.Fatalf("got %q, want %q\n%s\nstderr:\n%s", msgs, want, out, tr.err.String())
	}

	b, err := exec.Command(testutil.BtoolBin(t), "trace", bin+`:main.mixed "%d", x`).CombinedOutput()
	if err == nil || !strings.Contains(string(b), "x can't be read: floating point, passed in X0") {
		t.Fatalf("reading a float parameter: %v\n%s", err, b)
	}
}
