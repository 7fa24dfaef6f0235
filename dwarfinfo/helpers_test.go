package dwarfinfo

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// build compiles testdata/src with compiler ("gcc" or "g++") and flags into
// t.TempDir() and returns the binary's path. It skips the test when the
// compiler is not installed (the VM test tiers have none).
func build(t *testing.T, compiler, src string, flags ...string) string {
	t.Helper()
	cc, err := exec.LookPath(compiler)
	if err != nil {
		t.Skipf("%s is not installed: cannot build test fixture testdata/%s", compiler, src)
	}
	out := filepath.Join(t.TempDir(), strings.TrimSuffix(src, filepath.Ext(src)))
	args := append(append([]string{}, flags...), "-o", out, filepath.Join("testdata", src))
	if b, err := exec.Command(cc, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", cc, strings.Join(args, " "), err, b)
	}
	return out
}

// open opens path and closes it when the test ends.
func open(t *testing.T, path string) *Binary {
	t.Helper()
	b, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}
