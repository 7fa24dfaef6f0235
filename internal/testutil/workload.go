package testutil

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
)

var (
	workloadMu    sync.Mutex
	workloadBuilt = map[string]error{}
)

// Workload returns the path of the workload program name (a directory under
// internal/workloads, e.g. "getpid"): $BTOOL_WORKLOADS/<name> when that is set
// (the VM harness sets it), else a binary built from this checkout with
// CGO_ENABLED=0, once per test process, into a per-user directory under
// os.TempDir that later runs overwrite (so nothing piles up). It fails the test
// when the binary is missing or does not build.
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

// buildWorkload builds ./internal/workloads/<name> into workloadDir unless
// this process did already, and returns its path. It builds into a temporary
// file and renames it into place, so test processes running side by side
// never see a half-written binary.
func buildWorkload(name string) (string, error) {
	workloadMu.Lock()
	defer workloadMu.Unlock()
	dir, err := workloadDir()
	if err != nil {
		return "", fmt.Errorf("workload %s: %w", name, err)
	}
	p := filepath.Join(dir, name)
	err, done := workloadBuilt[name]
	if !done {
		err = goBuild(name, dir, p)
		workloadBuilt[name] = err
	}
	return p, err
}

func goBuild(name, dir, dst string) error {
	f, err := os.CreateTemp(dir, name+".tmp-*")
	if err != nil {
		return fmt.Errorf("workload %s: %w", name, err)
	}
	tmp := f.Name()
	f.Close()
	defer os.Remove(tmp)
	cmd := exec.Command("go", "build", "-o", tmp, "./internal/workloads/"+name)
	cmd.Dir = RepoRoot()
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./internal/workloads/%s: %w\n%s", name, err, out)
	}
	if err := os.Rename(tmp, dst); err != nil {
		return fmt.Errorf("workload %s: %w", name, err)
	}
	return nil
}

// workloadDir returns (creating it) $TMPDIR/btool-workloads-<uid>, and fails
// when it exists but is not a directory of this user's (it could be planted).
func workloadDir() (string, error) {
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("btool-workloads-%d", os.Getuid()))
	if err := os.Mkdir(dir, 0o700); err != nil && !os.IsExist(err) {
		return "", err
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return "", err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !fi.IsDir() || !ok || int(st.Uid) != os.Getuid() {
		return "", fmt.Errorf("%s is not a directory owned by uid %d", dir, os.Getuid())
	}
	return dir, nil
}
