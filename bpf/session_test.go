package bpf

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"testing"

	"github.com/cilium/ebpf"

	"github.com/btool/btool/bpf/compile"
)

// TestFallsBack: only "not supported here" errors move to the next mode;
// resource exhaustion and cancellation stop the walk.
func TestFallsBack(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{ErrNotSupported, true},
		{fmt.Errorf("fentry: %w", ErrNotSupported), true},
		{&limitError{mode: compile.ModeKprobe, n: 5, limit: 2}, true},
		{fmt.Errorf("load: %w", &ebpf.VerifierError{}), true},
		{fmt.Errorf("attach: %w", syscall.EINVAL), true},
		{fmt.Errorf("attach: %w", syscall.EOPNOTSUPP), true},
		{fmt.Errorf("attach: %w", syscall.EMFILE), false},
		{fmt.Errorf("attach: %w", syscall.ENOMEM), false},
		{context.Canceled, false},
		{fmt.Errorf("x: %w", context.DeadlineExceeded), false},
	} {
		if got := fallsBack(tc.err); got != tc.want {
			t.Errorf("fallsBack(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

// TestAttachProbeLimit walks a ladder of per-target modes with more
// targets than the limit: no program is built, and the error names the
// probe, the limit and the option, once.
func TestAttachProbeLimit(t *testing.T) {
	s := NewSession(SessionOptions{ProbeLimit: 2})
	defer s.Close()
	built := 0
	p := &Probe{Name: "t:sched:*", Kind: compile.Tracepoint, Targets: make([]compile.Target, 3),
		Modes: []compile.Mode{compile.ModeRawTracepoint, compile.ModeTracepoint},
		Build: func(compile.Mode, []compile.Target) (*compile.Object, error) {
			built++
			return nil, errors.New("built")
		}}
	_, err := s.Attach(context.Background(), p)
	if err == nil || !errors.Is(err, ErrProbeLimit) {
		t.Fatalf("err = %v, want ErrProbeLimit", err)
	}
	msg := err.Error()
	for _, want := range []string{"t:sched:*", "3 targets", "limit of 2", "--probe-limit"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q lacks %q", msg, want)
		}
	}
	if strings.Count(msg, "--probe-limit") != 1 {
		t.Errorf("error repeats itself: %q", msg)
	}
	if built != 0 {
		t.Errorf("built %d objects for modes over the limit", built)
	}
	// Multi-link modes attach any number of targets in one call: no limit.
	p.Modes = []compile.Mode{compile.ModeKprobeMulti}
	p.Kind = compile.KernelFunc
	if _, err := s.Attach(context.Background(), p); errors.Is(err, ErrProbeLimit) || built != 1 {
		t.Errorf("kprobe_multi: err = %v, built = %d; want the build to run", err, built)
	}
}

// TestAttachLimitHint: when one mode fails for another reason and the
// next one for the probe limit, the error still names the option.
func TestAttachLimitHint(t *testing.T) {
	s := NewSession(SessionOptions{ProbeLimit: 1})
	p := &Probe{Name: "p:c:*", Kind: compile.UserFunc, Targets: make([]compile.Target, 3),
		Modes: []compile.Mode{compile.ModeUprobeMulti, compile.ModeUprobe},
		Build: func(compile.Mode, []compile.Target) (*compile.Object, error) {
			return nil, fmt.Errorf("link: %w", syscall.EOPNOTSUPP)
		}}
	_, err := s.Attach(context.Background(), p)
	if err == nil || !strings.Contains(err.Error(), "--probe-limit") || !strings.Contains(err.Error(), "uprobe_multi") {
		t.Fatalf("err = %v, want both modes' reasons and the --probe-limit hint", err)
	}
}

// TestAttachStopsOnCancel: a cancelled context stops the walk before the
// next mode, with the context's error.
func TestAttachStopsOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s := NewSession(SessionOptions{})
	p := &Probe{Name: "x", Kind: compile.Tracepoint, Targets: make([]compile.Target, 1),
		Modes: []compile.Mode{compile.ModeRawTracepoint, compile.ModeTracepoint},
		Build: func(compile.Mode, []compile.Target) (*compile.Object, error) {
			t.Fatal("built after cancellation")
			return nil, nil
		}}
	if _, err := s.Attach(ctx, p); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

// TestAttachWrapsModeErrors: a build error that means "not supported"
// falls through to the next mode; when every mode fails, the error names
// each mode and still matches the sentinel.
func TestAttachWrapsModeErrors(t *testing.T) {
	s := NewSession(SessionOptions{})
	p := &Probe{Name: "x", Kind: compile.KernelFunc, Targets: make([]compile.Target, 1),
		Modes: []compile.Mode{compile.ModeFentry, compile.ModeKprobe},
		Build: func(m compile.Mode, _ []compile.Target) (*compile.Object, error) {
			return nil, fmt.Errorf("no %s here: %w", m, ErrNotSupported)
		}}
	_, err := s.Attach(context.Background(), p)
	if !errors.Is(err, ErrNotSupported) {
		t.Fatalf("err = %v, want ErrNotSupported", err)
	}
	for _, want := range []string{"fentry", "kprobe"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks mode %s", err, want)
		}
	}
	// Resource exhaustion stops the walk at the first mode.
	calls := 0
	p.Build = func(compile.Mode, []compile.Target) (*compile.Object, error) {
		calls++
		return nil, fmt.Errorf("load: %w", syscall.EMFILE)
	}
	if _, err := s.Attach(context.Background(), p); !errors.Is(err, syscall.EMFILE) || calls != 1 {
		t.Errorf("EMFILE: err = %v after %d builds; want EMFILE after 1", err, calls)
	}
}
