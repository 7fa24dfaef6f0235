package main

import (
	"bytes"
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/btool/btool/multitool"
)

// fakeTools swaps the tools for ones that attach nothing and records what
// they were given, so the CLI's validation runs without root or probes.
func fakeTools(t testing.TB) (trace *multitool.TraceOptions, fc *multitool.FunccountOptions) {
	trace, fc = new(multitool.TraceOptions), new(multitool.FunccountOptions)
	rt, rf, rl, rfe, ra := runTrace, runFunccount, runList, runFeatures, runArgdist
	t.Cleanup(func() { runTrace, runFunccount, runList, runFeatures, runArgdist = rt, rf, rl, rfe, ra })
	runArgdist = func(_ context.Context, o multitool.ArgdistOptions, _ multitool.Env) error { argdistGot = o; return nil }
	runTrace = func(_ context.Context, o multitool.TraceOptions, _ multitool.Env) error { *trace = o; return nil }
	runFunccount = func(_ context.Context, o multitool.FunccountOptions, _ multitool.Env) error { *fc = o; return nil }
	runList = func(multitool.ListOptions, multitool.Env) error { return nil }
	runFeatures = func(multitool.Env) error { return nil }
	rfl := runFunclat
	t.Cleanup(func() { runFunclat = rfl })
	runFunclat = func(context.Context, multitool.FunclatencyOptions, multitool.Env) error { return nil }
	rsc, rpr, roc := runStackcount, runProfile, runOffcputime
	t.Cleanup(func() { runStackcount, runProfile, runOffcputime = rsc, rpr, roc })
	runStackcount = func(context.Context, multitool.StackcountOptions, multitool.Env) error { return nil }
	runProfile = func(context.Context, multitool.ProfileOptions, multitool.Env) error { return nil }
	runOffcputime = func(context.Context, multitool.OffcputimeOptions, multitool.Env) error { return nil }
	return trace, fc
}

// argdistGot is what the fake argdist (see fakeTools) was given last.
var argdistGot multitool.ArgdistOptions

// noSuchPID returns a PID no process has.
func noSuchPID(t testing.TB) int {
	for pid := multitool.MaxPID; pid > 1; pid-- {
		if _, err := os.Stat("/proc/" + strconv.Itoa(pid)); os.IsNotExist(err) {
			return pid
		}
	}
	t.Skip("no free PID")
	return 0
}

// TestValidation: every number a user gives is checked, and a bad one is a
// usage error (exit 2) whose one-line message names the value.
func TestValidation(t *testing.T) {
	fakeTools(t)
	self := os.Getpid()
	gone := strconv.Itoa(noSuchPID(t))
	wrapped := strconv.FormatInt(4294967296+int64(self), 10)
	for _, tc := range []struct {
		args []string
		want string // in the message
	}{
		{[]string{"trace", "-p", gone, "t:sched:sched_switch"}, "no such process: " + gone},
		{[]string{"funccount", "-p", gone, "c:malloc"}, "no such process: " + gone},
		{[]string{"trace", "-L", gone, "t:sched:sched_switch"}, "-L: no such process: " + gone},
		{[]string{"trace", "-p", wrapped, "t:sched:sched_switch"}, wrapped},
		{[]string{"funccount", "-p", wrapped, "c:malloc"}, wrapped},
		{[]string{"trace", "-L", wrapped, "t:sched:sched_switch"}, wrapped},
		{[]string{"trace", "-p", "-3", "t:sched:sched_switch"}, "-3"},
		{[]string{"trace", "--uid", "4294967296", "t:sched:sched_switch"}, "4294967296"},
		{[]string{"trace", "--uid", "-2", "t:sched:sched_switch"}, "-2"},
		{[]string{"funccount", "-c", "100000", "c:malloc"}, "100000"},
		{[]string{"stackcount", "-p", gone, "c:malloc"}, "no such process: " + gone},
		{[]string{"stackcount", "-c", "100000", "c:malloc"}, "100000"},
		{[]string{"stackcount", "-D", "NaN", "c:malloc"}, "NaN"},
		{[]string{"profile", "-p", gone}, "no such process: " + gone},
		{[]string{"profile", "-F", "1000000"}, "1000000"},
		{[]string{"profile", "-d", "-1"}, "-1"},
		{[]string{"offcputime", "-p", gone}, "no such process: " + gone},
		{[]string{"offcputime", "-M", "0"}, "-M"},
		{[]string{"funccount", "-c", "-1", "c:malloc"}, "-1"},
		{[]string{"trace", "-b", "100000000", "t:sched:sched_switch"}, "100000000"},
		{[]string{"trace", "-b", "-1", "t:sched:sched_switch"}, "-1"},
		{[]string{"trace", "-M", "-1", "t:sched:sched_switch"}, "-1"},
		{[]string{"funccount", "-d", "NaN", "c:malloc"}, "NaN"},
		{[]string{"funccount", "-d", "Inf", "c:malloc"}, "Inf"},
		{[]string{"funccount", "-d", "1e300", "c:malloc"}, "1e300"},
		{[]string{"funccount", "-d", "1e400", "c:malloc"}, "1e400"},
		{[]string{"funccount", "-d", "-1", "c:malloc"}, "-1"},
		{[]string{"funccount", "-i", "NaN", "c:malloc"}, "NaN"},
		{[]string{"funccount", "-i", "1ns", "c:malloc"}, "1ns"},
		{[]string{"funccount", "-i", "0.001", "c:malloc"}, "at least 10ms"},
		{[]string{"funccount", "-i", "99999999999999h", "c:malloc"}, "99999999999999h"},
		{[]string{"funccount", "c:malloc", "-d"}, "flag -d needs a value"},
		{[]string{"funccount", "c:malloc", "--duration"}, "flag --duration needs a value"},
		{[]string{"funccount", "c:malloc", "-Td"}, "flag -d needs a value"},
		{[]string{"trace", "x", "-p"}, "flag -p needs a value"},
		{[]string{"trace", "-p", "--", "x"}, "flag -p needs a value"},
		{[]string{"trace", "-p", "99999999999999999999", "x"}, "99999999999999999999"},
		{[]string{"argdist"}, "at least one specifier is required"},
		{[]string{"argdist", "-p", gone, "-C", "p:c:malloc()"}, "no such process: " + gone},
		{[]string{"argdist", "-z", "0", "-C", "p:c:malloc()"}, "-z: expected a whole number from 1 to 4096, got \"0\""},
		{[]string{"argdist", "-z", "4097", "-C", "p:c:malloc()"}, "4097"},
		{[]string{"argdist", "-n", "0", "-C", "p:c:malloc()"}, "-n: expected a whole number"},
		{[]string{"argdist", "-n", "x", "-C", "p:c:malloc()"}, "-n: expected a whole number"},
		{[]string{"argdist", "-T", "-1", "-C", "p:c:malloc()"}, "-T: expected a whole number"},
		{[]string{"argdist", "-i", "0", "-C", "p:c:malloc()"}, "-i: must be positive"},
		{[]string{"argdist", "-i", "1ms", "-C", "p:c:malloc()"}, "-i: 1ms is too short"},
		{[]string{"argdist", "-d", "-1", "-C", "p:c:malloc()"}, "-d: must be positive"},
		{[]string{"argdist", "-C", "p:c:malloc()", "extra"}, `unexpected argument "extra"`},
		{[]string{"argdist", "-C"}, "flag -C needs a value"},
		{[]string{"argdist", "--probe-limit", "x", "-C", "p:c:malloc()"}, "--probe-limit"},
	} {
		var out, errb bytes.Buffer
		code := run(append([]string{"btool"}, tc.args...), &out, &errb)
		msg := strings.TrimRight(errb.String(), "\n")
		if code != exitUsage || !strings.Contains(msg, tc.want) || strings.Contains(msg, "\n") {
			t.Errorf("%q: exit %d, stderr %q; want exit 2 and one line containing %q", tc.args, code, msg, tc.want)
		}
	}
}

// TestValidValues: values in range pass, -b rounded up to a power of two.
func TestValidValues(t *testing.T) {
	trace, fc := fakeTools(t)
	self := strconv.Itoa(os.Getpid())
	var out, errb bytes.Buffer
	if code := run([]string{"btool", "trace", "-v", "-b", "3", "-p", self, "--uid", "4294967294", "x"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if trace.BufferPages != 4 || trace.PID != os.Getpid() || trace.UID != 4294967294 {
		t.Errorf("trace options %+v", *trace)
	}
	if !strings.Contains(errb.String(), "rounded 3 pages up to 4") {
		t.Errorf("-v didn't say -b was rounded: %q", errb.String())
	}
	errb.Reset()
	if code := run([]string{"btool", "funccount", "-c", "0", "-i", "10ms", "-d", "0.5", "c:malloc"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if fc.CPU != 0 || fc.Interval.Milliseconds() != 10 || fc.Duration.Milliseconds() != 500 {
		t.Errorf("funccount options %+v", *fc)
	}
}

// TestArgdistValues: argdist's defaults (-i 1, -z 80), and specs kept
// whole, commas included, in command-line order per flag.
func TestArgdistValues(t *testing.T) {
	fakeTools(t)
	var out, errb bytes.Buffer
	args := []string{"btool", "argdist", "-C", "p::f(int a, int b):int,int:a,b", "-H", "t:a:b()::args->x,$PID", "-C", "t:a:b()",
		"-L", "0,100,10:t:a:b()::args->x", "-S", "t:a:b()::args->x,$COMM", "-c", "-n", "3", "-T", "5", "-z", "16", "-d", "2"}
	if code := run(args, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	o := argdistGot
	if strings.Join(o.Counts, "|") != "p::f(int a, int b):int,int:a,b|t:a:b()" || len(o.Hists) != 1 || o.Hists[0] != "t:a:b()::args->x,$PID" ||
		len(o.Linears) != 1 || len(o.Stats) != 1 || o.Stats[0] != "t:a:b()::args->x,$COMM" {
		t.Errorf("specs %q %q %q %q", o.Counts, o.Hists, o.Linears, o.Stats)
	}
	if !o.Cumulative || o.Count != 3 || o.Top != 5 || o.StringSize != 16 || o.Interval != time.Second || o.Duration != 2*time.Second {
		t.Errorf("options %+v", o)
	}
}

// TestBigSpecErrorBounded: an error in a 100 KB spec prints a window of it,
// not the spec (three times).
func TestBigSpecErrorBounded(t *testing.T) {
	// The real trace: the spec fails to parse before anything needs root.
	spec := "t:sched:sched_switch (" + strings.Repeat("arg1 == 1 && ", 8000) + "@@)"
	var out, errb bytes.Buffer
	code := run([]string{"btool", "trace", spec}, &out, &errb)
	if code != exitUsage {
		t.Fatalf("exit %d: %.300s", code, errb.String())
	}
	if errb.Len() > 1000 {
		t.Errorf("%d bytes of error output for a %d-byte spec: %.500s", errb.Len(), len(spec), errb.String())
	}
	if !strings.Contains(errb.String(), "…") {
		t.Errorf("no … marks: %s", errb.String())
	}
}

// FuzzCLI drives flag parsing and validation through run with arbitrary
// command lines (arguments separated by NUL); the tools are fakes, so
// nothing is attached. run must not panic and exits 0, 1 or 2 only.
func FuzzCLI(f *testing.F) {
	for _, s := range []string{
		"trace\x00-p\x001\x00x",
		"funccount\x00c:malloc\x00-d",
		"funccount\x00-i\x001ns\x00-d\x00NaN\x00c:malloc",
		"funccount\x00-c\x0099999\x00c:malloc",
		"trace\x00-b\x003\x00-L\x004294967297\x00t:a:b",
		"trace\x00--uid=-7\x00-Z\x000\x00x",
		"list\x00-r\x00(",
		"features\x00--no-feature\x00x",
		"trace\x00-Mp\x00--\x00x",
		"funccount\x00--probe-limit\x00-1\x00x",
		"argdist\x00-C\x00p:c:malloc(size_t n):u64,u8:n,n\x00-n\x002",
		"argdist\x00-z\x000\x00-T\x00-1\x00-H\x00t:a:b()",
		"stackcount\x00-KUfv\x00-D\x001\x00t:a:b",
		"profile\x00-F\x0099\x00-C\x000\x003",
		"offcputime\x00-m\x005\x00-M\x004\x00-d",
		"-h",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		if !utf8.ValidString(line) || len(line) > 4096 {
			t.Skip()
		}
		args := append([]string{"btool"}, strings.Split(line, "\x00")...)
		fakeTools(t)
		var out, errb bytes.Buffer
		done := make(chan int, 1)
		go func() { done <- run(args, &out, &errb) }()
		var code int
		select {
		case code = <-done:
		case <-time.After(5 * time.Second):
			t.Fatalf("%q: run did not return", args)
		}
		if code != exitOK && code != exitRuntime && code != exitUsage {
			t.Fatalf("%q: exit %d", args, code)
		}
		if strings.Contains(errb.String(), "internal error") {
			t.Fatalf("%q: %s", args, errb.String())
		}
		if code == exitUsage && errb.Len() == 0 {
			t.Fatalf("%q: exit 2 without a message", args)
		}
	})
}
