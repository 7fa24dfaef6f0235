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
		{[]string{"stackcount", "-K", "-U", "t:sched:sched_switch"}, []string{"btool: stackcount: -K and -U are mutually exclusive: both stacks are the default"}},
		{[]string{"stackcount", "-f", "--json", "t:sched:sched_switch"}, []string{"btool: stackcount: -f and --json are mutually exclusive"}},
		{[]string{"stackcount"}, []string{"btool: stackcount: expected exactly one PATTERN, got 0 (quote patterns that contain * or spaces)"}},
		{[]string{"stackcount", "-D", "soon", "x"}, []string{`btool: stackcount: -D: invalid duration "soon" (seconds, or a duration like 500ms)`}},
		{[]string{"stackcount", "-c", "x", "vfs_read"}, []string{`btool: stackcount: -c: invalid CPU "x"`}},
		{[]string{"stackcount", "-i", "0.001", "vfs_read"}, []string{`btool: stackcount: -i: 0.001 is too short (at least 10ms)`}},
		{[]string{"profile", "-F", "0"}, []string{`btool: profile: -F: expected a frequency from 1 to 100000 Hz, got "0"`}},
		{[]string{"profile", "-K", "-U"}, []string{"btool: profile: -K and -U are mutually exclusive: both stacks are the default"}},
		{[]string{"profile", "-C", "x"}, []string{`btool: profile: -C: invalid CPU "x"`}},
		{[]string{"profile", "-d", "1", "2"}, []string{"btool: profile: give the duration once: -d or an argument, not both"}},
		{[]string{"offcputime", "-m", "10", "-M", "5"}, []string{"btool: offcputime: -M 5 is below -m 10"}},
		{[]string{"offcputime", "-m", "x"}, []string{`btool: offcputime: -m: expected a number of microseconds, got "x"`}},
		{[]string{"offcputime", "-K", "-U"}, []string{"btool: offcputime: -K and -U are mutually exclusive: both stacks are the default"}},
		{[]string{"nosuch"}, []string{`btool: nosuch: unknown command "nosuch" (commands: trace, funccount, funclatency, argdist, stackcount, profile, offcputime, list, features)`}},
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
