package vmtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// BootOptions configures one VM boot.
type BootOptions struct {
	Initrd  string        // the initramfs
	WorkDir string        // console.log and results.log go here
	MemMB   int           // guest memory; 0 means 1024
	CPUs    int           // guest CPUs; 0 means 1 (see BootKernel)
	Timeout time.Duration // qemu is killed after this; 0 means no limit beyond ctx
	Append  string        // extra kernel command line parameters
	Console io.Writer     // optional live copy of the console
}

// Boot is the outcome of one VM run.
type Boot struct {
	Kernel     Kernel
	Command    []string      // the qemu command line
	ConsoleLog string        // the serial console (ttyS0): kernel messages
	ResultsLog string        // the results port (ttyS1): markers and test output
	Elapsed    time.Duration // wall time of qemu
	TimedOut   bool          // qemu was killed at the timeout
	Err        error         // qemu's failure to start or exit status, if any
}

// BootKernel boots k under QEMU software emulation (never KVM) with the
// initramfs, waits for the guest to power off, the timeout or ctx, and
// returns where the logs are. It fails only when qemu cannot be found; a
// failed or timed-out run is described in the Boot.
func BootKernel(ctx context.Context, k Kernel, o BootOptions) (*Boot, error) {
	qemu, err := exec.LookPath("qemu-system-x86_64")
	if err != nil {
		return nil, fmt.Errorf("qemu-system-x86_64 (run .ci/deps.sh): %w", err)
	}
	if o.MemMB == 0 {
		o.MemMB = 1024
	}
	if o.CPUs == 0 {
		// One vCPU: with two, QEMU's TCG races the kernel's live text
		// patching (text_poke_bp when kprobes, kprobe_multi, ftrace and
		// static keys flip), and the 6.12 guest oopsed mid-instruction
		// (RIP inside a half-patched call in vfs_fstatat, and at 0x0) in
		// about one run in three. With one vCPU every kernel-function test
		// passed on both kernels, and the fentry attach of vfs_* got faster.
		o.CPUs = 1
	}
	b := &Boot{
		Kernel:     k,
		ConsoleLog: filepath.Join(o.WorkDir, "console-"+k.Label+".log"),
		ResultsLog: filepath.Join(o.WorkDir, "results-"+k.Label+".log"),
	}
	// tsc=reliable: under TCG, 6.1 often finds the vCPUs' TSCs
	// "unsynchronized" and falls back to the HPET, which the vDSO cannot read,
	// so every clock_gettime becomes a slow emulated syscall and a Go test
	// binary tracing syscalls livelocked the guest (RCU stalls) for 20 minutes.
	// The vCPUs share QEMU's clock, so their TSCs are in fact synchronized.
	//
	// oops=panic: after an oops the kernel is not to be trusted and tests
	// tend to hang until the timeout; panicking ends the VM at once (panic=-1
	// reboots, -no-reboot exits) and the oops is in the console log.
	cmdline := []string{"console=ttyS0", "panic=-1", "oops=panic", "tsc=reliable", "BTOOL_VM=" + k.Label}
	if len(k.Features) > 0 {
		// Unknown name=value parameters become init's environment.
		cmdline = append(cmdline, "BTOOL_EXPECT_FEATURES="+strings.Join(k.Features, ","))
	}
	if o.Append != "" {
		cmdline = append(cmdline, o.Append)
	}
	args := []string{
		"-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
		"-accel", accel(), "-cpu", "max", "-m", strconv.Itoa(o.MemMB), "-smp", strconv.Itoa(o.CPUs),
		"-kernel", k.Path, "-initrd", o.Initrd, "-append", strings.Join(cmdline, " "),
		"-serial", "stdio", // ttyS0: console
		"-serial", "file:" + b.ResultsLog, // ttyS1: results
	}
	b.Command = append([]string{qemu}, args...)

	console, err := os.Create(b.ConsoleLog)
	if err != nil {
		return nil, err
	}
	defer console.Close()

	if o.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.Timeout)
		defer cancel()
	}
	cmd := exec.CommandContext(ctx, qemu, args...)
	cmd.Stdin = nil
	cmd.Stdout = console
	if o.Console != nil {
		cmd.Stdout = io.MultiWriter(console, o.Console)
	}
	cmd.Stderr = cmd.Stdout
	cmd.WaitDelay = 5 * time.Second
	// If the test process dies (killed, or go test's -timeout), take qemu
	// with it instead of leaving a guest spinning on a core.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	start := time.Now()
	b.Err = cmd.Run()
	b.Elapsed = time.Since(start)
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		b.TimedOut = true
	}
	return b, nil
}

// kernelTroubleRE matches the first line of the kernel's reports of trouble.
var kernelTroubleRE = regexp.MustCompile(`\] (BUG:|Oops|Kernel panic|WARNING:|rcu: INFO|watchdog: BUG|INFO: task .* blocked)`)

// ConsoleReport returns what a failure message needs from the console log p:
// the first report of kernel trouble (an oops, a panic, a warning, an RCU
// stall), up to n lines of it, and then the last n lines.
func ConsoleReport(p string, n int) string {
	data, err := os.ReadFile(p)
	if err != nil {
		return fmt.Sprintf("(cannot read the console log %s: %v)", p, err)
	}
	lines := strings.Split(strings.TrimRight(strings.ReplaceAll(string(data), "\r", ""), "\n"), "\n")
	var b strings.Builder
	tail := max(0, len(lines)-n)
	for i, l := range lines {
		if kernelTroubleRE.MatchString(l) {
			if i < tail {
				end := min(i+n, tail)
				fmt.Fprintf(&b, "console, first kernel trouble (line %d):\n%s\n...\n", i+1, strings.Join(lines[i:end], "\n"))
			}
			break
		}
	}
	fmt.Fprintf(&b, "console, last %d lines (%s):\n%s", len(lines)-tail, p, strings.Join(lines[tail:], "\n"))
	return b.String()
}

// accel returns the -accel option: $BTOOL_VM_ACCEL, default single-threaded
// TCG. With QEMU 7.2's multi-threaded TCG (one host thread per vCPU), 2 of 3
// runs of the cmd/btool tests crashed the guest where the kernel patches its
// own text while the other vCPU runs it (attaching tracepoints, kprobes and
// fentry): an "Oops: int3" in syscall_trace_enter, a call through NULL from
// ksys_write, an RCU-stall livelock. With thread=single the vCPUs take turns
// on one host thread and no run crashed. BootKernel now also boots one vCPU
// by default, where the two modes are the same; thread=single keeps
// BootOptions.CPUs > 1 safe. Each VM needs one host core, so two VMs side by
// side fit the 2-core CI machine.
func accel() string {
	if a := os.Getenv("BTOOL_VM_ACCEL"); a != "" {
		return a
	}
	return "tcg,thread=single"
}
