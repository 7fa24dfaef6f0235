package main

import (
	"os"
	"path/filepath"
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
