package main

import (
	"bytes"
	"os"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestPermuteArgs(t *testing.T) {
	app := newApp(nil, nil)
	for _, tc := range []struct{ have, want string }{
		{"btool funccount vfs_* -d 1", "btool funccount -d 1 -- vfs_*"},
		{"btool funccount -d 1 vfs_*", "btool funccount -d 1 -- vfs_*"},
		{"btool funccount vfs_* -Tr -i 2", "btool funccount -Tr -i 2 -- vfs_*"},
		{"btool funccount vfs_* -Tp 12", "btool funccount -Tp 12 -- vfs_*"},
		{"btool funccount --pid=3 x", "btool funccount --pid=3 -- x"},
		{"btool list", "btool list"},
		{"btool nosuch a -b", "btool nosuch a -b"},
	} {
		p, _ := permuteArgs(app, strings.Fields(tc.have))
		got := strings.Join(p, " ")
		if got != tc.want {
			t.Errorf("permuteArgs(%q) = %q, want %q", tc.have, got, tc.want)
		}
	}
}

// TestUsageErrors runs the CLI in-process on bad input: each gets a one-line
// message (plus a caret under the spec where one applies), exit code 2, and
// no Go stack.
func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []string // lines of stderr, in order
	}{
		{[]string{"funccount"}, []string{"btool: funccount: expected exactly one PATTERN, got 0 (quote patterns that contain * or spaces)"}},
		{[]string{"funccount", "--bogus", "x"}, []string{"btool: funccount: flag provided but not defined: -bogus"}},
		{[]string{"funccount", "-i", "soon", "x"}, []string{`btool: funccount: -i: invalid duration "soon" (seconds, or a duration like 500ms)`}},
		{[]string{"funccount", "--no-feature", "warp", "x"}, []string{`btool: funccount: --no-feature: unknown feature "warp" (known: ` + featureNames() + ")"}},
		{[]string{"funccount", "x:c:malloc"}, []string{
			"btool: funccount: type must be 'p', 't', or 'u', but got 'x'",
			"    x:c:malloc",
			"    ^",
		}},
		{[]string{"funccount", "a:b:c:d"}, []string{`btool: funccount: too many ':'-separated components in pattern "a:b:c:d"`}},
		{[]string{"nosuch"}, []string{`btool: nosuch: unknown command "nosuch" (commands: trace, funccount, funclatency, argdist, list, features)`}},
	} {
		var out, errb bytes.Buffer
		code := run(append([]string{"btool"}, tc.args...), &out, &errb)
		if code != exitUsage {
			t.Errorf("%v: exit %d, want %d; stderr:\n%s", tc.args, code, exitUsage, errb.String())
			continue
		}
		got := strings.Split(strings.TrimRight(errb.String(), "\n"), "\n")
		if len(got) < len(tc.want) || !reflect.DeepEqual(got[:len(tc.want)], tc.want) {
			t.Errorf("%v: stderr =\n%s\nwant prefix:\n%s", tc.args, errb.String(), strings.Join(tc.want, "\n"))
		}
		if strings.Contains(errb.String(), "goroutine ") {
			t.Errorf("%v: Go stack in output", tc.args)
		}
	}
}

// TestInterruptible: the first signal cancels the run; the second exits at
// once with the interrupted code and says the kernel removes the probes.
func TestInterruptible(t *testing.T) {
	cancelled := make(chan struct{})
	exited := make(chan int, 1)
	var errb syncBuffer
	stop := interruptible(func() { close(cancelled) }, &errb, func(code int) { exited <- code })
	defer stop()
	syscall.Kill(os.Getpid(), syscall.SIGINT)
	select {
	case <-cancelled:
	case <-time.After(5 * time.Second):
		t.Fatal("first SIGINT did not cancel")
	}
	syscall.Kill(os.Getpid(), syscall.SIGINT)
	select {
	case code := <-exited:
		if code != exitInterrupted {
			t.Errorf("exit code %d, want %d", code, exitInterrupted)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("second SIGINT did not exit")
	}
	if !strings.Contains(errb.String(), "kernel removes the probes") {
		t.Errorf("message %q", errb.String())
	}
}
