package main

import (
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// blockedPipe returns the write end of a pipe that is full and whose read
// end is never read (closed at cleanup): every write to it blocks.
func blockedPipe(t *testing.T) *os.File {
	t.Helper()
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pr.Close(); pw.Close() })
	// Fill it through the raw fd, non-blocking, until it refuses more.
	fd := int(pw.Fd())
	if err := unix.SetNonblock(fd, true); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	for {
		if _, err := unix.Write(fd, buf); err != nil {
			if err != unix.EAGAIN {
				t.Fatal(err)
			}
			break
		}
	}
	// The child gets the same file description: make it block again.
	if err := unix.SetNonblock(fd, false); err != nil {
		t.Fatal(err)
	}
	return pw
}

// busyGetppid calls getppid in a loop until the test ends, for a busy
// tracepoint.
func busyGetppid(t *testing.T) {
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			for range 1000 {
				unix.Getppid()
			}
		}
	}()
	t.Cleanup(func() { close(stop); <-done })
}

// interruptWithin sends sig to tr and fails unless btool exits within d;
// it returns btool's stderr and exit code.
func interruptWithin(t *testing.T, tr *tracer, sig syscall.Signal, d time.Duration) (string, int) {
	t.Helper()
	start := time.Now()
	tr.cmd.Process.Signal(sig)
	select {
	case <-tr.done:
	case <-time.After(10 * time.Second * timeScale()):
		t.Fatalf("btool did not exit within 10s of %v with its stdout blocked:\n%s", sig, tr.err.String())
	}
	took := time.Since(start)
	t.Logf("exited %v after %v", took.Round(time.Millisecond), sig)
	if took > d*timeScale() {
		t.Errorf("btool took %v to exit after %v with its stdout blocked, want at most %v", took.Round(time.Millisecond), sig, d)
	}
	return tr.err.String(), tr.exitCode
}

// TestKernelTraceInterruptBlockedOutput: Ctrl-C ends trace within 2 s
// even though its stdout is a pipe nobody reads and events keep coming,
// detaching everything and saying how many events it didn't print.
// Before, SIGINT (and SIGTERM, and a second SIGINT) waited for the output.
func TestKernelTraceInterruptBlockedOutput(t *testing.T) {
	requireRoot(t)
	for _, tc := range []struct {
		name  string
		sig   syscall.Signal
		flags []string
	}{
		{"SIGINT", syscall.SIGINT, nil},
		{"SIGTERM", syscall.SIGTERM, nil},
		{"SIGINT-perfbuf", syscall.SIGINT, []string{"--no-feature", "ringbuf"}},
	} {
		sig := tc.sig
		t.Run(tc.name, func(t *testing.T) {
			busyGetppid(t)
			args := append(append([]string{"trace"}, tc.flags...), "t:syscalls:sys_enter_getppid")
			tr := startBtoolOut(t, blockedPipe(t), args...)
			progs, links := bpfObjects(t, tr.cmd.Process.Pid)
			if len(progs) == 0 || len(links) == 0 {
				t.Fatalf("btool holds no BPF programs/links (%v, %v)", progs, links)
			}
			time.Sleep(300 * time.Millisecond) // let events pile up behind the blocked output
			stderr, code := interruptWithin(t, tr, sig, 2*time.Second)
			t.Logf("stderr:\n%s", stderr)
			if code != 0 {
				t.Errorf("exit code %d, want 0; stderr:\n%s", code, stderr)
			}
			if !strings.Contains(stderr, "events not printed (output too slow)") {
				t.Errorf("stderr does not report the events left unprinted:\n%s", stderr)
			}
			assertGone(t, progs, links)
		})
	}
}

// TestKernelTraceSecondInterruptBlockedOutput: two quick Ctrl-Cs with the
// output blocked end btool at once (the second exits 130), or the first
// already did (0).
func TestKernelTraceSecondInterruptBlockedOutput(t *testing.T) {
	requireRoot(t)
	busyGetppid(t)
	tr := startBtoolOut(t, blockedPipe(t), "trace", "-K", "t:syscalls:sys_enter_getppid")
	time.Sleep(300 * time.Millisecond)
	tr.cmd.Process.Signal(syscall.SIGINT)
	time.Sleep(50 * time.Millisecond)
	stderr, code := interruptWithin(t, tr, syscall.SIGINT, 2*time.Second)
	if code != 0 && code != exitInterrupted {
		t.Errorf("exit code %d, want 0 or %d; stderr:\n%s", code, exitInterrupted, stderr)
	}
}

// TestKernelFunccountInterruptBlockedOutput: funccount's summaries are
// small, but with -i they fill a pipe nobody reads, and then Ctrl-C waited
// for the output too. It must end within 2 s and say the summaries were
// not printed.
func TestKernelFunccountInterruptBlockedOutput(t *testing.T) {
	requireRoot(t)
	busyGetppid(t)
	tr := startBtoolOut(t, blockedPipe(t), "funccount", "-i", "0.1", "t:syscalls:sys_enter_getppid")
	progs, links := bpfObjects(t, tr.cmd.Process.Pid)
	time.Sleep(500 * time.Millisecond) // a few summaries, all blocked
	stderr, code := interruptWithin(t, tr, syscall.SIGINT, 2*time.Second)
	if code != 0 {
		t.Errorf("exit code %d, want 0; stderr:\n%s", code, stderr)
	}
	if !strings.Contains(stderr, "summaries not printed (output too slow)") {
		t.Errorf("stderr does not report the summaries left unprinted:\n%s", stderr)
	}
	assertGone(t, progs, links)
}
