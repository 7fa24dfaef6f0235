package vmtest

import (
	"context"
	"os/exec"
	"testing"

	"github.com/btool/btool/internal/testutil"
)

func TestListKernelTestPackages(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("needs the go command")
	}
	pkgs, err := KernelTestPackages(context.Background(), testutil.RepoRoot(), "./internal/...")
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]Package{}
	for _, p := range pkgs {
		found[p.Rel] = p
	}
	// testutil has TestKernelSmoke; vmtest is never its own payload; the
	// workloads have no tests.
	if p, ok := found["internal/testutil"]; !ok || p.ImportPath != "github.com/btool/btool/internal/testutil" {
		t.Errorf("internal/testutil not found with its import path: %+v", pkgs)
	}
	for _, rel := range []string{"internal/vmtest", "internal/workloads/getpid"} {
		if _, ok := found[rel]; ok {
			t.Errorf("%s listed as a kernel test package", rel)
		}
	}
}

func TestBinaryName(t *testing.T) {
	tests := []struct{ rel, want string }{
		{"bpf", "bpf.test"},
		{"internal/testutil", "internal_testutil.test"},
		{".", "root.test"},
	}
	for _, tt := range tests {
		if have := (Package{Rel: tt.rel}).BinaryName(); have != tt.want {
			t.Errorf("BinaryName(%q) = %q, want %q", tt.rel, have, tt.want)
		}
	}
}

func TestMatchTestKernel(t *testing.T) {
	tests := []struct {
		src  string
		want bool
	}{
		{"func TestKernelSmoke(t *testing.T) {", true},
		{"func TestKernel(t *testing.T) {", true},
		{"func TestKernelX[T any](t *testing.T) {", false},
		{"// func TestKernelOld(t *testing.T)", false},
		{"func TestKernelsAreFun(t *testing.T) {", true}, // go test -run '^TestKernel' runs it too
		{"func testKernelHelper(t *testing.T) {", false},
	}
	for _, tt := range tests {
		if have := kernelTestRE.MatchString(tt.src); have != tt.want {
			t.Errorf("%q: match = %v, want %v", tt.src, have, tt.want)
		}
	}
}
