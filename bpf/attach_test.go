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

func TestUprobeRefuses(t *testing.T) {
	for _, tc := range []struct {
		insn []byte
		want bool
	}{
		{[]byte{0xf0, 0xff, 0x0f}, true},              // lock decl (%rdi): pthread_spin_lock
		{[]byte{0x66, 0xf0, 0x0f, 0xb1, 0x17}, true},  // data16 lock cmpxchg
		{[]byte{0x2e, 0x0f, 0x1f, 0x84, 0, 0}, true},  // cs nopw
		{[]byte{0xcc}, true},                          // int3
		{[]byte{0x64, 0x48, 0x8b, 0x04, 0x25}, false}, // mov %fs:..., TLS: fine
		{[]byte{0xf3, 0x0f, 0x1e, 0xfa}, false},       // endbr64
		{[]byte{0x55}, false},                         // push %rbp
		{nil, false},
	} {
		if got := uprobeRefuses(tc.insn) != ""; got != tc.want {
			t.Errorf("% x: refused = %v, want %v", tc.insn, got, tc.want)
		}
	}
}
