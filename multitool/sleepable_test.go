package multitool

import (
	"testing"

	"golang.org/x/sys/unix"

	"github.com/btool/btool/bpf/compile"
)

// bpf/compile may not import x/sys/unix: its copy of the flag must match.
func TestFlagSleepable(t *testing.T) {
	if compile.FlagSleepable != unix.BPF_F_SLEEPABLE {
		t.Fatalf("compile.FlagSleepable = %#x, BPF_F_SLEEPABLE = %#x", compile.FlagSleepable, unix.BPF_F_SLEEPABLE)
	}
}
