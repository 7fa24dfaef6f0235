package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/btool/btool/internal/testutil"
)

// TestKernelNoSuchPID: -p with a PID no process has is a usage error for
// trace and funccount, not a silent run or an empty table.
func TestKernelNoSuchPID(t *testing.T) {
	requireRoot(t)
	gone := strconv.Itoa(noSuchPID(t))
	for _, args := range [][]string{
		{"trace", "-p", gone, "t:syscalls:sys_enter_getppid"},
		{"funccount", "-p", gone, "t:syscalls:sys_enter_getppid"},
		{"trace", "-L", gone, "t:syscalls:sys_enter_getppid"},
	} {
		out, errs, code := runBtool(t, args...)
		if code != exitUsage || !strings.Contains(errs, "no such process: "+gone) {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want exit 2, no such process", args, code, out, errs)
		}
	}
}

// TestKernelPIDExitEndsRun: a run with -p ends when its process exits, as
// bcc's tools do, with funccount's summary printed.
func TestKernelPIDExitEndsRun(t *testing.T) {
	requireRoot(t)
	for _, tool := range []string{"trace", "funccount"} {
		t.Run(tool, func(t *testing.T) {
			sleeper := exec.Command("sleep", "2")
			if err := sleeper.Start(); err != nil {
				t.Fatal(err)
			}
			defer sleeper.Process.Kill()
			tr := startBtool(t, tool, "-p", strconv.Itoa(sleeper.Process.Pid), "t:syscalls:sys_enter_getppid")
			start := time.Now()
			go sleeper.Wait()
			out := tr.wait() // fails unless btool exits 0 on its own
			if d := time.Since(start); d > 10*time.Second*timeScale() {
				t.Errorf("btool ran %v after the process exited", d)
			}
			if !strings.Contains(tr.err.String(), "exited") {
				t.Errorf("stderr doesn't say the process exited: %q", tr.err.String())
			}
			if tool == "funccount" && !strings.Contains(out, "Detaching...") {
				t.Errorf("no summary: %q", out)
			}
		})
	}
}

// TestKernelReadyFileSymlink: --ready-file refuses a symlink rather than
// overwriting its target as root.
func TestKernelReadyFileSymlink(t *testing.T) {
	requireRoot(t)
	dir := t.TempDir()
	target := filepath.Join(dir, "target")
	os.WriteFile(target, []byte("precious"), 0o600)
	link := filepath.Join(dir, "ready")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	_, errs, code := runBtool(t, "funccount", "-d", "0.1", "--ready-file", link, "t:syscalls:sys_enter_getppid")
	if code != exitRuntime || !strings.Contains(errs, "symlink") {
		t.Errorf("exit %d, stderr %q; want exit 1 refusing the symlink", code, errs)
	}
	if b, _ := os.ReadFile(target); string(b) != "precious" {
		t.Errorf("symlink target overwritten: %q", b)
	}
}

// TestKernelClosedStdout: output to a pipe whose reader has gone (`| head
// -0`) is a normal end: exit 0, no "context canceled".
func TestKernelClosedStdout(t *testing.T) {
	requireRoot(t)
	for _, args := range [][]string{
		{"funccount", "t:syscalls:sys_enter_getppid"}, // not c:malloc: the VMs have no shared libc
		{"trace", "t:syscalls:sys_enter_getppid"},
	} {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		r.Close()
		cmd := exec.Command(testutil.BtoolBin(t), args...)
		cmd.Stdout = w
		var errb syncBuffer
		cmd.Stderr = &errb
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		w.Close()
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second * timeScale()):
			cmd.Process.Kill()
			<-done
			t.Fatalf("%q: didn't stop with its output closed", args)
		}
		if code := cmd.ProcessState.ExitCode(); code != 0 || strings.Contains(errb.String(), "canceled") {
			t.Errorf("%q: exit %d, stderr %q; want exit 0", args, code, errb.String())
		}
	}
}

// TestKernelFtraceEvent: ftrace's own events (format, no id) are unknown
// tracepoints, a usage error in every command, not a raw file error.
func TestKernelFtraceEvent(t *testing.T) {
	requireRoot(t)
	if _, err := os.Stat("/sys/kernel/tracing/events/ftrace/bprint/format"); err != nil {
		t.Skip("no ftrace:bprint here")
	}
	for _, cmd := range []string{"trace", "funccount", "list"} {
		_, errs, code := runBtool(t, cmd, "t:ftrace:bprint")
		if code != exitUsage || !strings.Contains(errs, "ftrace:bprint") || strings.Contains(errs, "/sys/") {
			t.Errorf("%s t:ftrace:bprint: exit %d, stderr %q; want exit 2 naming the tracepoint", cmd, code, errs)
		}
	}
}

// TestKernelFunccountDurationWallTime: -d is wall time on its own timer,
// however fast -i ticks.
func TestKernelFunccountDurationWallTime(t *testing.T) {
	requireRoot(t)
	start := time.Now()
	out, errs, code := runBtool(t, "funccount", "-i", "0.01", "-d", "0.5", "t:syscalls:sys_enter_getppid")
	d := time.Since(start)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if d > 3*time.Second*timeScale() {
		t.Errorf("-i 0.01 -d 0.5 ran %v", d)
	}
	if n := strings.Count(out, "FUNC "); n < 5 || n > 60 {
		t.Errorf("%d summaries for -i 0.01 -d 0.5", n)
	}
}

// TestKernelBufferPagesRounded: -b 3 is rounded up to 4 pages, with the
// ring buffer and with the perf buffer, instead of failing to create the
// map ("not a multiple of page size").
func TestKernelBufferPagesRounded(t *testing.T) {
	requireRoot(t)
	for _, extra := range [][]string{nil, {"--no-feature", "ringbuf"}} {
		args := append([]string{"trace", "-v", "-b", "3", "-M", "1"}, extra...)
		tr := startBtool(t, append(args, "t:sched:sched_process_exec")...)
		deadline := time.Now().Add(10 * time.Second * timeScale())
		for done := false; !done && time.Now().Before(deadline); {
			exec.Command("/bin/true").Run()
			select {
			case <-tr.done:
				done = true
			case <-time.After(50 * time.Millisecond):
			}
		}
		tr.wait()
		if !strings.Contains(tr.err.String(), "rounded 3 pages up to 4") {
			t.Errorf("%v: -v didn't say -b was rounded: %s", extra, tr.err.String())
		}
	}
}
