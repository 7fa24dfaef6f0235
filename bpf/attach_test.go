package bpf

import (
	"context"
	"fmt"
	"syscall"
	"testing"

	"github.com/cilium/ebpf/link"

	"github.com/btool/btool/bpf/compile"
)

// fakeLink is a link.Link that does nothing.
type fakeLink struct{ link.Link }

func (fakeLink) Close() error { return nil }

// TestAttachSplitting: one target a multi-link can't take costs only that
// target, found by halving; mechanism errors fail the call at once.
func TestAttachSplitting(t *testing.T) {
	targets := make([]compile.Target, 10)
	for i := range targets {
		targets[i] = compile.Target{Name: fmt.Sprint(i), Slot: uint32(i)}
	}
	calls := 0
	bad := func(errno syscall.Errno, badSlots ...uint32) func([]compile.Target) (link.Link, error) {
		return func(ts []compile.Target) (link.Link, error) {
			calls++
			for _, t := range ts {
				for _, b := range badSlots {
					if t.Slot == b {
						return nil, fmt.Errorf("link: %w", errno)
					}
				}
			}
			return fakeLink{}, nil
		}
	}
	links, ok, skipped, err := attachSplitting(context.Background(), targets, bad(syscall.Errno(524), 7))
	if err != nil || len(ok) != 9 || len(skipped) != 1 || skipped[0].Target.Slot != 7 || len(links) == 0 {
		t.Fatalf("one bad target: ok %d, skipped %+v, err %v", len(ok), skipped, err)
	}
	if calls > 10 {
		t.Errorf("%d attempts to find one bad target of 10", calls)
	}
	calls = 0
	if _, _, _, err := attachSplitting(context.Background(), targets, bad(syscall.EOPNOTSUPP, 0)); err == nil || calls != 1 {
		t.Errorf("mechanism error: err %v after %d attempts, want an error after 1", err, calls)
	}
	calls = 0
	all := []uint32{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}
	if _, _, _, err := attachSplitting(context.Background(), targets, bad(syscall.EINVAL, all...)); err == nil {
		t.Errorf("every target refused: want the error, got none after %d attempts", calls)
	}
}
