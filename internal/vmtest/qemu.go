package vmtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// BootOptions configures one VM boot.
type BootOptions struct {
	Initrd  string        // the initramfs
	WorkDir string        // console.log and results.log go here
	MemMB   int           // guest memory; 0 means 1024
	CPUs    int           // guest CPUs; 0 means 2
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
		o.CPUs = 2
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
	cmdline := []string{"console=ttyS0", "panic=-1", "tsc=reliable", "BTOOL_VM=" + k.Label}
	if len(k.Features) > 0 {
		// Unknown name=value parameters become init's environment.
		cmdline = append(cmdline, "BTOOL_EXPECT_FEATURES="+strings.Join(k.Features, ","))
	}
	if o.Append != "" {
		cmdline = append(cmdline, o.Append)
	}
	args := []string{
		"-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
		"-cpu", "max", "-m", strconv.Itoa(o.MemMB), "-smp", strconv.Itoa(o.CPUs),
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
	start := time.Now()
	b.Err = cmd.Run()
	b.Elapsed = time.Since(start)
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		b.TimedOut = true
	}
	return b, nil
}

// Tail returns the last n lines of the file p (or a note that it cannot be
// read), for failure messages.
func Tail(p string, n int) string {
	data, err := os.ReadFile(p)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", p, err)
	}
	lines := strings.Split(strings.TrimRight(strings.ReplaceAll(string(data), "\r", ""), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
