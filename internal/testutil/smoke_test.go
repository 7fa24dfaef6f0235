package testutil_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"golang.org/x/sys/unix"

	"github.com/btool/btool/internal/testutil"
)

// TestKernelSmoke proves the test rig end to end on every kernel it runs on
// (the host root tier and each VM): it loads a trivial BPF program, checks
// kernel BTF and the tracing file systems, and runs a workload.
func TestKernelSmoke(t *testing.T) {
	testutil.RequireRoot(t)

	var uts unix.Utsname
	if err := unix.Uname(&uts); err != nil {
		t.Fatal(err)
	}
	t.Logf("kernel %s, BTOOL_VM=%q, expected features %q",
		unix.ByteSliceToString(uts.Release[:]), os.Getenv("BTOOL_VM"), os.Getenv("BTOOL_EXPECT_FEATURES"))

	t.Run("prog", func(t *testing.T) {
		prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{
			Type:    ebpf.SocketFilter,
			License: "GPL",
			Instructions: asm.Instructions{
				asm.Mov.Imm(asm.R0, 0),
				asm.Return(),
			},
		})
		if err != nil {
			t.Fatalf("loading a two-instruction socket filter: %v", err)
		}
		defer prog.Close()
	})

	t.Run("btf", func(t *testing.T) {
		fi, err := os.Stat("/sys/kernel/btf/vmlinux")
		if err != nil {
			t.Fatalf("kernel BTF: %v", err)
		}
		t.Logf("/sys/kernel/btf/vmlinux: %d bytes", fi.Size())
	})

	t.Run("tracefs", func(t *testing.T) {
		// tracepoint and kprobe tests need tracefs; the VM's init mounts it.
		if _, err := os.Stat("/sys/kernel/tracing/events/syscalls"); err != nil {
			t.Fatalf("tracefs is not mounted at /sys/kernel/tracing: %v", err)
		}
	})

	t.Run("workload", func(t *testing.T) {
		out, err := exec.Command(testutil.Workload(t, "getpid"), "-n", "10").Output()
		if err != nil {
			t.Fatalf("getpid workload: %v", err)
		}
		if !strings.HasSuffix(string(out), "done 10\n") {
			t.Fatalf("getpid workload printed %q, want it to end in \"done 10\"", out)
		}
	})
}
