package vmtest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/btool/btool/internal/testutil"
)

// TestVM builds the kernel tests of every package once, boots each VM kernel
// with them and reports every test that ran inside as a subtest
// TestVM/<kernel>/<package>/<TestName>. See doc.go for the knobs.
func TestVM(t *testing.T) {
	if testing.Short() {
		t.Skip("boots QEMU VMs; skipped under -short (run make test-vm)")
	}
	missing := func(what string, err error) {
		t.Helper()
		msg := fmt.Sprintf("%s: %v; run .ci/deps.sh (as root) to install the VM kernels and tools", what, err)
		if os.Getenv("BTOOL_REQUIRE_VM") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	kernels, err := FindKernels(KernelDir(), SelectedLabels())
	if err != nil {
		missing("VM kernels in "+KernelDir(), err)
	}
	busybox, err := FindBusybox()
	if err != nil {
		missing("static busybox", err)
	}
	if _, err := exec.LookPath("qemu-system-x86_64"); err != nil {
		missing("qemu", err)
	}

	ctx := context.Background()
	vmTimeout := envDuration(t, "BTOOL_VM_TIMEOUT", 20*time.Minute)
	if dl, ok := t.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, dl.Add(-30*time.Second))
		t.Cleanup(cancel) // not defer: the parallel kernel subtests run after TestVM returns
	}

	root := testutil.RepoRoot()
	work := workDir(t)
	start := time.Now()
	var patterns []string
	if p := os.Getenv("BTOOL_VM_PKGS"); p != "" {
		patterns = strings.Split(p, ",")
	}
	pkgs, err := KernelTestPackages(ctx, root, patterns...)
	if err != nil {
		t.Fatal(err)
	}
	payload, err := BuildPayload(ctx, root, work, pkgs)
	if err != nil {
		t.Fatal(err)
	}
	if payload.BtoolErr != nil {
		t.Errorf("btool does not build; tests in the VMs that need it will fail:\n%v", payload.BtoolErr)
	}
	for _, p := range pkgs {
		if out, ok := payload.BuildErrors[p.Rel]; ok {
			t.Errorf("%s: the test binary does not build, so its kernel tests do not run in the VMs:\n%s", p.Rel, out)
		}
	}
	if len(payload.Packages) == 0 {
		t.Fatal("no package with TestKernel tests built; nothing to run in the VMs")
	}
	initrd := filepath.Join(work, "initramfs.cpio")
	opts := InitOptions{Run: envString("BTOOL_VM_RUN", "^TestKernel"), TestTimeout: envString("BTOOL_VM_TEST_TIMEOUT", "10m")}
	if err := WriteInitramfs(initrd, busybox, root, payload, opts); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range payload.Packages {
		names = append(names, p.Rel)
	}
	size := int64(0)
	if fi, err := os.Stat(initrd); err == nil {
		size = fi.Size()
	}
	t.Logf("built btool=%v, %d workloads and %d test binaries (%s) into a %.0f MB initramfs in %.1fs",
		payload.Btool != "", len(payload.Workloads), len(payload.Packages), strings.Join(names, " "),
		float64(size)/(1<<20), time.Since(start).Seconds())
	for _, e := range payload.FixtureErrors {
		t.Logf("C fixture not built, its tests will skip in the VM: %s", e)
	}

	// Each single-threaded TCG guest needs one host core, so on the 2-core CI
	// machine two side by side take about as long as one (see doc.go);
	// BTOOL_VM_PARALLEL=0 runs them in turn.
	parallel := envString("BTOOL_VM_PARALLEL", "1") != "0"
	mem, _ := strconv.Atoi(os.Getenv("BTOOL_VM_MEM"))
	for _, k := range kernels {
		t.Run(k.Label, func(t *testing.T) {
			if parallel {
				t.Parallel()
			}
			bo := BootOptions{Initrd: initrd, WorkDir: work, MemMB: mem, Timeout: vmTimeout, Append: os.Getenv("BTOOL_VM_APPEND")}
			if os.Getenv("BTOOL_VM_CONSOLE") == "1" {
				bo.Console = os.Stderr
			}
			boot, err := BootKernel(ctx, k, bo)
			if err != nil {
				t.Fatal(err)
			}
			reportBoot(ctx, t, boot, payload.Packages)
		})
	}
}

// reportBoot reports the tests of one VM run as subtests of t.
func reportBoot(ctx context.Context, t *testing.T, boot *Boot, pkgs []Package) {
	t.Helper()
	if os.Getenv("BTOOL_VM_KEEP") == "1" {
		t.Logf("qemu command: %s", strings.Join(boot.Command, " "))
	}
	consoleTail := func() string { return ConsoleReport(boot.ConsoleLog, 40) }
	f, err := os.Open(boot.ResultsLog)
	if err != nil {
		t.Fatalf("VM %s left no results (qemu: %v): %v\n%s", boot.Kernel.Label, boot.Err, err, consoleTail())
	}
	res, err := ParseResults(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("VM %s: kernel %s, qemu ran for %.1fs", boot.Kernel.Label,
		strings.TrimPrefix(res.VM, boot.Kernel.Label+" "), boot.Elapsed.Seconds())
	for _, w := range res.Warnings {
		t.Errorf("VM setup: %s", w)
	}
	for _, pkg := range pkgs {
		sec := res.Sections[pkg.Rel]
		t.Run(pkg.Rel, func(t *testing.T) {
			if sec == nil {
				t.Fatalf("the VM never started this package's tests (see TestVM/%s for the console)", boot.Kernel.Label)
			}
			pr, err := ParseTestOutput(ctx, pkg.ImportPath, sec.Output)
			if err != nil {
				t.Fatalf("%v; raw output:\n%s", err, sec.Output)
			}
			for _, tr := range pr.Tests {
				reportTest(t, tr, "")
			}
			switch {
			case !sec.Ended:
				t.Errorf("the test binary did not finish: the VM died or timed out (see TestVM/%s for the console)\n%s",
					boot.Kernel.Label, strings.TrimSpace(pr.Output))
			case sec.RC != 0 && !pr.Failed():
				t.Errorf("the test binary exited with status %d but no test failed; its output:\n%s", sec.RC, sec.Output)
			case len(pr.Tests) == 0:
				t.Logf("no tests ran: %s", strings.TrimSpace(pr.Output))
			}
		})
	}
	switch {
	case boot.TimedOut:
		t.Errorf("VM %s timed out after %.0fs and was killed\n%s", boot.Kernel.Label, boot.Elapsed.Seconds(), consoleTail())
	case !res.Done:
		t.Errorf("VM %s stopped before /init finished (qemu: %v)\n%s", boot.Kernel.Label, boot.Err, consoleTail())
	case boot.Err != nil:
		t.Errorf("qemu: %v\n%s", boot.Err, consoleTail())
	}
}

// reportTest reports one test from the VM as a subtest of t, its subtests
// nested below it. parent is the full name of the enclosing VM test ("" at
// top level).
func reportTest(t *testing.T, tr *TestResult, parent string) {
	name := strings.TrimPrefix(tr.Name, parent+"/")
	if parent == "" {
		name = tr.Name
	}
	t.Run(name, func(t *testing.T) {
		for _, c := range tr.Children {
			reportTest(t, c, tr.Name)
		}
		out := dedent(tr.Output)
		switch tr.Action {
		case "pass":
			if parent == "" {
				t.Logf("passed in the VM in %.2fs", tr.Elapsed)
			}
			if out != "" {
				t.Log(out)
			}
		case "skip":
			t.Skip(out)
		case "fail":
			t.Errorf("failed in the VM (%.2fs):\n%s", tr.Elapsed, out)
		default:
			t.Errorf("did not finish in the VM (a crash, -test.timeout, or the VM died):\n%s", out)
		}
	})
}

// dedent removes the indentation common to the non-blank lines of s, and
// trailing newlines.
func dedent(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	common := -1
	for _, l := range lines {
		if strings.TrimSpace(l) == "" {
			continue
		}
		if n := len(l) - len(strings.TrimLeft(l, " \t")); common < 0 || n < common {
			common = n
		}
	}
	for i, l := range lines {
		if len(l) >= common && common > 0 {
			lines[i] = l[common:]
		}
	}
	return strings.Join(lines, "\n")
}

// workDir returns the directory for the build and the logs: a fresh
// t.TempDir, or with BTOOL_VM_KEEP=1 a directory that is kept (and logged).
func workDir(t *testing.T) string {
	if os.Getenv("BTOOL_VM_KEEP") != "1" {
		return t.TempDir()
	}
	d, err := os.MkdirTemp("", "btool-vm-")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("BTOOL_VM_KEEP=1: keeping the initramfs, binaries and logs in %s", d)
	return d
}

func envString(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func envDuration(t *testing.T, name string, def time.Duration) time.Duration {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		t.Fatalf("$%s: %v", name, err)
	}
	return d
}
