package testutil

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

var (
	workloadMu    sync.Mutex
	workloadDir   string
	workloadBuilt = map[string]error{}
)

// Workload returns the path of the workload program name (a directory under
// internal/workloads, e.g. "getpid"): $BTOOL_WORKLOADS/<name> when that is set
// (the VM harness sets it), else a binary built once per test process from
// this checkout with CGO_ENABLED=0. It fails the test when the binary is
// missing or does not build.
func Workload(t testing.TB, name string) string {
	t.Helper()
	if dir := os.Getenv("BTOOL_WORKLOADS"); dir != "" {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("workload %s: %v", name, err)
		}
		return p
	}
	p, err := buildWorkload(name)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// buildWorkload builds ./internal/workloads/<name> into the process-wide
// workload directory unless an earlier call did, and returns its path.
func buildWorkload(name string) (string, error) {
	workloadMu.Lock()
	defer workloadMu.Unlock()
	if workloadDir == "" {
		dir, err := os.MkdirTemp("", "btool-workloads-")
		if err != nil {
			return "", fmt.Errorf("workload %s: %w", name, err)
		}
		workloadDir = dir
	}
	p := filepath.Join(workloadDir, name)
	err, done := workloadBuilt[name]
	if !done {
		cmd := exec.Command("go", "build", "-o", p, "./internal/workloads/"+name)
		cmd.Dir = RepoRoot()
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, berr := cmd.CombinedOutput(); berr != nil {
			err = fmt.Errorf("go build ./internal/workloads/%s: %w\n%s", name, berr, out)
		}
		workloadBuilt[name] = err
	}
	return p, err
}
