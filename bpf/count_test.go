package bpf

import (
	"context"
	"os"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/btool/btool/internal/testutil"
)

func TestLadder(t *testing.T) {
	for _, tc := range []struct {
		kind    TargetKind
		present []Feature
		want    string
		wantErr string
	}{
		{KernelFunc, []Feature{FeatKprobe, FeatKprobeMulti, FeatFentry}, "kprobe_multi fentry kprobe", ""},
		{KernelFunc, []Feature{FeatKprobe, FeatFentry}, "fentry kprobe", ""},
		{KernelFunc, []Feature{FeatKprobe}, "kprobe", ""},
		{KernelFunc, []Feature{FeatTracepoint}, "", "this kernel cannot attach to a kernel function"},
		{SyscallEnter, []Feature{FeatRawTracepoint, FeatTracepoint}, "raw_syscalls tracepoint", ""},
		{Tracepoint, []Feature{FeatTracepoint}, "tracepoint", ""},
		{UserFunc, []Feature{FeatUprobe, FeatUprobeMulti}, "uprobe_multi uprobe", ""},
		{UserFunc, []Feature{FeatUprobe}, "uprobe", ""},
	} {
		modes, err := UsableModes(tc.kind, NewFakeFeatures(tc.present...))
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%s %v: err = %v, want %q", tc.kind, tc.present, err, tc.wantErr)
			}
			continue
		}
		var names []string
		for _, m := range modes {
			names = append(names, m.String())
		}
		if got := strings.Join(names, " "); got != tc.want || err != nil {
			t.Errorf("%s %v: got %q, %v; want %q", tc.kind, tc.present, got, err, tc.want)
		}
	}
}

func TestNewFeaturesRejectsUnknown(t *testing.T) {
	if _, err := NewFeatures("kprobe_multi,bogus"); err == nil || !strings.Contains(err.Error(), `unknown feature "bogus"`) {
		t.Fatalf("err = %v", err)
	}
	f, err := NewFeatures("kprobe_multi")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Have(FeatKprobeMulti); err == nil || !strings.Contains(err.Error(), "disabled by --no-feature") {
		t.Fatalf("Have = %v", err)
	}
}

func TestCountPlanSlots(t *testing.T) {
	p, err := NewCountPlan([]CountGroup{
		{Kind: KernelFunc, Targets: []Target{{Name: "a"}, {Name: "b"}}},
		{Kind: SyscallEnter, Targets: []Target{{Name: "read", Syscall: 0}, {Name: "getpid", Syscall: 39}}},
		{Kind: Tracepoint, Targets: []Target{{Name: "x"}}},
	}, 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	got := []uint32{p.Groups[0].Targets[0].Slot, p.Groups[0].Targets[1].Slot, p.Groups[1].Targets[0].Slot, p.Groups[1].Targets[1].Slot, p.Groups[2].Targets[0].Slot}
	want := []uint32{0, 1, 2, 2 + 39, 2 + MaxSyscalls}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("slots = %v, want %v", got, want)
		}
	}
	if p.Slots != 3+MaxSyscalls {
		t.Fatalf("Slots = %d", p.Slots)
	}
}

// countGetpid attaches a counter for getppid calls of this process in the
// given mode ladder and checks the exact count. (Not getpid: the Go runtime
// calls getpid itself when it preempts goroutines with signals.)
func countGetpid(t *testing.T, f *Features, kind TargetKind, wantMode Mode) {
	t.Helper()
	const calls = 1000
	nr := int(unix.SYS_GETPPID)
	plan, err := NewCountPlan([]CountGroup{{Kind: kind, Targets: []Target{{
		Name: "getppid", Category: "syscalls", Event: "sys_enter_getppid", Syscall: nr,
	}}}}, uint32(os.Getpid()), -1)
	if err != nil {
		t.Fatal(err)
	}
	c, err := AttachCounters(context.Background(), plan, f, &AttachOptions{Log: testLog{t}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.Groups[0].Mode != wantMode {
		t.Fatalf("mode = %s, want %s", c.Groups[0].Mode, wantMode)
	}
	for i := 0; i < calls; i++ {
		unix.Getppid()
	}
	sums, err := c.Read()
	if err != nil {
		t.Fatal(err)
	}
	if got := sums[plan.Groups[0].Targets[0].Slot]; got != calls {
		t.Fatalf("count = %d, want %d", got, calls)
	}
}

type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func TestKernelCountRawSyscalls(t *testing.T) {
	testutil.RequireRoot(t)
	f, _ := NewFeatures()
	testutil.RequireFeature(t, string(FeatRawTracepoint), f.Have(FeatRawTracepoint))
	countGetpid(t, f, SyscallEnter, ModeRawSyscalls)
}

func TestKernelCountPerfTracepoint(t *testing.T) {
	testutil.RequireRoot(t)
	f, _ := NewFeatures("raw_tracepoint")
	testutil.RequireFeature(t, string(FeatTracepoint), f.Have(FeatTracepoint))
	countGetpid(t, f, SyscallEnter, ModeTracepoint)
}

func TestKernelCountSyscallExit(t *testing.T) {
	testutil.RequireRoot(t)
	f, _ := NewFeatures()
	testutil.RequireFeature(t, string(FeatRawTracepoint), f.Have(FeatRawTracepoint))
	const calls = 500
	plan, err := NewCountPlan([]CountGroup{{Kind: SyscallExit, Targets: []Target{{
		Name: "getppid", Category: "syscalls", Event: "sys_exit_getppid", Syscall: int(unix.SYS_GETPPID),
	}}}}, uint32(os.Getpid()), -1)
	if err != nil {
		t.Fatal(err)
	}
	c, err := AttachCounters(context.Background(), plan, f, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := 0; i < calls; i++ {
		unix.Getppid()
	}
	sums, _ := c.Read()
	if got := sums[plan.Groups[0].Targets[0].Slot]; got != calls {
		t.Fatalf("count = %d, want %d", got, calls)
	}
}
