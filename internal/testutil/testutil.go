// Package testutil holds the test vocabulary shared by btool's three test tiers:
// unprivileged unit tests, root tests on the host kernel, and tests inside the
// QEMU VMs (see internal/vmtest).
//
// Conventions:
//   - A test that needs root calls RequireRoot. Without root, or under -short
//     (the unprivileged tier), it skips.
//   - A test that needs a kernel feature calls RequireFeature with the result of
//     the feature probe. It skips naming the feature when the kernel lacks it, but
//     FAILS when the feature is listed in $BTOOL_EXPECT_FEATURES (the VM harness
//     sets this for the kernels it boots, so a missing feature on a kernel known
//     to have it is a failure, not a silent skip).
//   - Tests whose name starts with TestKernel run in the host root tier and again
//     inside each VM kernel.
package testutil

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/cilium/ebpf"
)

// RequireRoot skips the test unless it runs as root.
func RequireRoot(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("needs root; skipped in the unprivileged tier (-short)")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root (run the root tier with sudo or as root)")
	}
}

// Expected reports whether $BTOOL_EXPECT_FEATURES lists the named feature.
func Expected(name string) bool {
	for _, f := range strings.Split(os.Getenv("BTOOL_EXPECT_FEATURES"), ",") {
		if strings.TrimSpace(f) == name {
			return true
		}
	}
	return false
}

// RequireFeature skips the test when have (the result of a feature probe)
// says the kernel lacks the named feature. It fails the test instead when the
// feature is expected on this kernel (see Expected), or when the probe itself
// could not run.
func RequireFeature(t testing.TB, name string, have error) {
	t.Helper()
	if have == nil {
		return
	}
	if Expected(name) {
		t.Fatalf("kernel feature %s is expected on this kernel but missing: %v", name, have)
	}
	if errors.Is(have, ebpf.ErrNotSupported) || errors.Is(have, os.ErrNotExist) {
		t.Skipf("kernel lacks feature %s: %v", name, have)
	}
	t.Fatalf("probing kernel feature %s: %v", name, have)
}

var (
	buildOnce sync.Once
	buildPath string
	buildErr  error
)

// BtoolBin returns the path of a btool binary for end-to-end tests: $BTOOL_BIN
// when set (the VM harness sets it), else one built once per test process from
// this checkout with CGO_ENABLED=0.
func BtoolBin(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("BTOOL_BIN"); p != "" {
		return p
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "btool-bin-")
		if err != nil {
			buildErr = err
			return
		}
		buildPath = filepath.Join(dir, "btool")
		cmd := exec.Command("go", "build", "-o", buildPath, "./cmd/btool")
		cmd.Dir = RepoRoot()
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = errors.New("go build ./cmd/btool: " + err.Error() + "\n" + string(out))
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildPath
}

// RepoRoot returns the root of the btool checkout (the directory holding go.mod).
func RepoRoot() string {
	if p := os.Getenv("BTOOL_ROOT"); p != "" {
		return p
	}
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// InVM reports whether the test runs inside a btool test VM.
func InVM() bool { return os.Getenv("BTOOL_VM") != "" }
