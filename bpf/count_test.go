package bpf

import (
	"context"
	"io"
	"os"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/btool/btool/bpf/compile"
	"github.com/btool/btool/bpf/feature"
	"github.com/btool/btool/internal/testutil"
)

func TestLadder(t *testing.T) {
	for _, tc := range []struct {
		kind    compile.TargetKind
		present []feature.Feature
		want    string
		wantErr string
	}{
		{compile.KernelFunc, []feature.Feature{feature.FeatKprobe, feature.FeatKprobeMulti, feature.FeatFentry}, "kprobe_multi fentry kprobe", ""},
		{compile.KernelFunc, []feature.Feature{feature.FeatKprobe, feature.FeatFentry}, "fentry kprobe", ""},
		{compile.KernelFunc, []feature.Feature{feature.FeatKprobe}, "kprobe", ""},
		{compile.KernelFunc, []feature.Feature{feature.FeatTracepoint}, "", "this kernel cannot attach to a kernel function"},
		{compile.SyscallEnter, []feature.Feature{feature.FeatRawTracepoint, feature.FeatTracepoint}, "raw_syscalls tracepoint", ""},
		{compile.Tracepoint, []feature.Feature{feature.FeatTracepoint}, "tracepoint", ""},
		{compile.UserFunc, []feature.Feature{feature.FeatUprobe, feature.FeatUprobeMulti}, "uprobe_multi uprobe", ""},
		{compile.UserFunc, []feature.Feature{feature.FeatUprobe}, "uprobe", ""},
	} {
		modes, err := UsableModes(tc.kind, feature.NewFakeFeatures(tc.present...))
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
	if _, err := feature.NewFeatures("kprobe_multi,bogus"); err == nil || !strings.Contains(err.Error(), `unknown feature "bogus"`) {
		t.Fatalf("err = %v", err)
	}
	f, err := feature.NewFeatures("kprobe_multi")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Have(feature.FeatKprobeMulti); err == nil || !strings.Contains(err.Error(), "disabled by --no-feature") {
		t.Fatalf("Have = %v", err)
	}
}

func TestCountPlanSlots(t *testing.T) {
	p, err := compile.NewCountPlan([]compile.CountGroup{
		{Kind: compile.KernelFunc, Targets: []compile.Target{{Name: "a"}, {Name: "b"}}},
		{Kind: compile.SyscallEnter, Targets: []compile.Target{{Name: "read", Syscall: 0}, {Name: "getpid", Syscall: 39}}},
		{Kind: compile.Tracepoint, Targets: []compile.Target{{Name: "x"}}},
	}, 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	got := []uint32{p.Groups[0].Targets[0].Slot, p.Groups[0].Targets[1].Slot, p.Groups[1].Targets[0].Slot, p.Groups[1].Targets[1].Slot, p.Groups[2].Targets[0].Slot}
	want := []uint32{0, 1, 2, 2 + 39, 2 + compile.MaxSyscalls}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("slots = %v, want %v", got, want)
		}
	}
	if p.Slots != 3+compile.MaxSyscalls {
		t.Fatalf("Slots = %d", p.Slots)
	}
}

// countGetpid attaches a counter for getppid calls of this process in the
// given mode ladder and checks the exact count. (Not getpid: the Go runtime
// calls getpid itself when it preempts goroutines with signals.)
func countGetpid(t *testing.T, f *feature.Features, kind compile.TargetKind, wantMode compile.Mode) {
	t.Helper()
	const calls = 1000
	nr := int(unix.SYS_GETPPID)
	plan, err := compile.NewCountPlan([]compile.CountGroup{{Kind: kind, Targets: []compile.Target{{
		Name: "getppid", Category: "syscalls", Event: "sys_enter_getppid", Syscall: nr,
	}}}}, uint32(os.Getpid()), -1)
	if err != nil {
		t.Fatal(err)
	}
	c, err := attachCounts(t, plan, f, testLog{t})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.groups[0].Mode() != wantMode {
		t.Fatalf("mode = %s, want %s", c.groups[0].Mode(), wantMode)
	}
	for i := 0; i < calls; i++ {
		unix.Getppid()
	}
	sums, err := c.PerCPUSums(compile.MapCounts)
	if err != nil {
		t.Fatal(err)
	}
	if got := sums[plan.Groups[0].Targets[0].Slot]; got != calls {
		t.Fatalf("count = %d, want %d", got, calls)
	}
}

// countRun is an attached count plan: its session and how each group
// attached.
type countRun struct {
	*Session
	groups []*Attached
}

// attachCounts attaches plan's groups in a new session, as funccount does.
func attachCounts(t *testing.T, plan *compile.CountPlan, f *feature.Features, log io.Writer) (*countRun, error) {
	t.Helper()
	probes, err := CountProbes(plan, f)
	if err != nil {
		return nil, err
	}
	s := NewSession(SessionOptions{PID: plan.PID, Log: log})
	r := &countRun{Session: s}
	for _, p := range probes {
		a, err := s.Attach(context.Background(), p)
		if err != nil {
			s.Close()
			return nil, err
		}
		r.groups = append(r.groups, a)
	}
	return r, nil
}

type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func TestKernelCountRawSyscalls(t *testing.T) {
	testutil.RequireRoot(t)
	f, _ := feature.NewFeatures()
	testutil.RequireFeature(t, string(feature.FeatRawTracepoint), f.Have(feature.FeatRawTracepoint))
	countGetpid(t, f, compile.SyscallEnter, compile.ModeRawSyscalls)
}

func TestKernelCountPerfTracepoint(t *testing.T) {
	testutil.RequireRoot(t)
	f, _ := feature.NewFeatures("raw_tracepoint")
	testutil.RequireFeature(t, string(feature.FeatTracepoint), f.Have(feature.FeatTracepoint))
	countGetpid(t, f, compile.SyscallEnter, compile.ModeTracepoint)
}

func TestKernelCountSyscallExit(t *testing.T) {
	testutil.RequireRoot(t)
	f, _ := feature.NewFeatures()
	testutil.RequireFeature(t, string(feature.FeatRawTracepoint), f.Have(feature.FeatRawTracepoint))
	const calls = 500
	plan, err := compile.NewCountPlan([]compile.CountGroup{{Kind: compile.SyscallExit, Targets: []compile.Target{{
		Name: "getppid", Category: "syscalls", Event: "sys_exit_getppid", Syscall: int(unix.SYS_GETPPID),
	}}}}, uint32(os.Getpid()), -1)
	if err != nil {
		t.Fatal(err)
	}
	c, err := attachCounts(t, plan, f, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := 0; i < calls; i++ {
		unix.Getppid()
	}
	sums, _ := c.PerCPUSums(compile.MapCounts)
	if got := sums[plan.Groups[0].Targets[0].Slot]; got != calls {
		t.Fatalf("count = %d, want %d", got, calls)
	}
}
