package bpf

import (
	"debug/elf"
	"debug/gosym"
	"os"
	"os/exec"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/btool/btool/bpf/compile"
	"github.com/btool/btool/bpf/feature"
	"github.com/btool/btool/internal/testutil"
)

// countPreads counts vfs_read calls made by this process through pread(2),
// which calls vfs_read exactly once per call, in whatever mode the ladder
// picks, and checks the mode and the exact count.
func countPreads(t *testing.T, f *feature.Features, wantMode compile.Mode) {
	t.Helper()
	const calls = 200
	fd, err := unix.Open("/proc/self/stat", unix.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	plan, err := compile.NewCountPlan([]compile.CountGroup{{Kind: compile.KernelFunc, Targets: []compile.Target{
		{Name: "vfs_read", Symbol: "vfs_read"},
		{Name: "vfs_write", Symbol: "vfs_write"},
	}}}, uint32(os.Getpid()), -1)
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
	// Every target must attach: a mode that attaches only some (vfs_read has
	// slot 0, so a slot-dependent failure would hide behind a right count)
	// is broken, not degraded.
	for _, s := range c.groups[0].Skipped {
		t.Errorf("%s: target %s did not attach: %v", wantMode, s.Target.Name, s.Err)
	}
	if len(c.groups[0].ByMode) != 1 {
		t.Errorf("targets attached by %d modes, want all by %s: %+v", len(c.groups[0].ByMode), wantMode, c.groups[0].ByMode)
	}
	buf := make([]byte, 64)
	for i := 0; i < calls; i++ {
		if _, err := unix.Pread(fd, buf, 0); err != nil {
			t.Fatal(err)
		}
	}
	sums, err := c.PerCPUSums(compile.MapCounts)
	if err != nil {
		t.Fatal(err)
	}
	// In-process, the Go runtime may read a file now and then (exact counts
	// are asserted end to end against separate workloads in cmd/btool).
	if got := sums[plan.Groups[0].Targets[0].Slot]; got < calls || got > calls+5 {
		t.Fatalf("vfs_read count = %d, want %d (plus at most a few runtime reads)", got, calls)
	}
	// kprobe_multi links report missed counts from 6.7 on (of the test
	// kernels only 6.12 has kprobe_multi); perf-event kprobes from 6.7
	// too, fentry links never.
	checkProbeMissed(t, c.Session, wantMode == compile.ModeKprobeMulti)
}

func TestKernelCountKprobeMulti(t *testing.T) {
	testutil.RequireRoot(t)
	f, _ := feature.NewFeatures()
	testutil.RequireFeature(t, string(feature.FeatKprobeMulti), f.Have(feature.FeatKprobeMulti))
	countPreads(t, f, compile.ModeKprobeMulti)
}

func TestKernelCountFentry(t *testing.T) {
	testutil.RequireRoot(t)
	f, _ := feature.NewFeatures("kprobe_multi")
	testutil.RequireFeature(t, string(feature.FeatFentry), f.Have(feature.FeatFentry))
	countPreads(t, f, compile.ModeFentry)
}

func TestKernelCountKprobe(t *testing.T) {
	testutil.RequireRoot(t)
	f, _ := feature.NewFeatures("kprobe_multi,fentry")
	testutil.RequireFeature(t, string(feature.FeatKprobe), f.Have(feature.FeatKprobe))
	countPreads(t, f, compile.ModeKprobe)
}

// KprobeWithoutCookies exercises the one-program-per-target shape.
func TestKernelCountKprobeNoCookie(t *testing.T) {
	testutil.RequireRoot(t)
	f, _ := feature.NewFeatures("kprobe_multi,fentry,cookie")
	testutil.RequireFeature(t, string(feature.FeatKprobe), f.Have(feature.FeatKprobe))
	countPreads(t, f, compile.ModeKprobe)
}

//go:noinline
func uprobeTarget(x int) int { return x*3 + 1 }

// selfOffset returns the file offset of a symbol in the running test binary.
func selfOffset(t testing.TB, sym string) (string, uint64) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ef, err := elf.Open(exe)
	if err != nil {
		t.Fatal(err)
	}
	defer ef.Close()
	// go test strips .symtab; .gopclntab always survives.
	pcln := ef.Section(".gopclntab")
	text := ef.Section(".text")
	if pcln == nil || text == nil {
		t.Fatalf("%s has no .gopclntab", exe)
	}
	data, err := pcln.Data()
	if err != nil {
		t.Fatal(err)
	}
	tab, err := gosym.NewTable(nil, gosym.NewLineTable(data, text.Addr))
	if err != nil {
		t.Fatal(err)
	}
	fn := tab.LookupFunc(sym)
	if fn == nil {
		t.Fatalf("symbol %s not found in %s", sym, exe)
	}
	for _, p := range ef.Progs {
		if p.Type == elf.PT_LOAD && p.Flags&elf.PF_X != 0 && fn.Entry >= p.Vaddr && fn.Entry < p.Vaddr+p.Memsz {
			return exe, fn.Entry - p.Vaddr + p.Off
		}
	}
	t.Fatalf("symbol %s not in an executable segment", sym)
	return "", 0
}

func countUprobe(t *testing.T, f *feature.Features, wantMode compile.Mode) {
	t.Helper()
	const calls = 300
	path, off := selfOffset(t, "github.com/btool/btool/bpf.uprobeTarget")
	plan, err := compile.NewCountPlan([]compile.CountGroup{{Kind: compile.UserFunc, Targets: []compile.Target{
		{Name: "uprobeTarget", Path: path, Offset: off},
	}}}, uint32(os.Getpid()), -1)
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
	s := 0
	for i := 0; i < calls; i++ {
		s += uprobeTarget(i)
	}
	sums, err := c.PerCPUSums(compile.MapCounts)
	if err != nil {
		t.Fatal(err)
	}
	if got := sums[0]; got != calls {
		t.Fatalf("count = %d, want %d (%d)", got, calls, s)
	}
	checkProbeMissed(t, c.Session, wantMode == compile.ModeUprobeMulti)
}

// checkProbeMissed checks the kernel's missed counts of a session whose
// probes missed nothing: 0, and reported when mustReport (multi links
// report them from 6.7 on), before and after Detach.
func checkProbeMissed(t *testing.T, s *Session, mustReport bool) {
	t.Helper()
	for _, when := range []string{"attached", "detached"} {
		if when == "detached" {
			s.Detach()
		}
		n, ok := s.ProbeMissed()
		if n != 0 || (mustReport && !ok) {
			t.Errorf("%s: ProbeMissed = %d, %v; want 0, reported %v", when, n, ok, mustReport)
		}
	}
}

func TestKernelCountUprobeMulti(t *testing.T) {
	testutil.RequireRoot(t)
	f, _ := feature.NewFeatures()
	testutil.RequireFeature(t, string(feature.FeatUprobeMulti), f.Have(feature.FeatUprobeMulti))
	countUprobe(t, f, compile.ModeUprobeMulti)
}

func TestKernelCountUprobe(t *testing.T) {
	testutil.RequireRoot(t)
	f, _ := feature.NewFeatures("uprobe_multi")
	testutil.RequireFeature(t, string(feature.FeatUprobe), f.Have(feature.FeatUprobe))
	countUprobe(t, f, compile.ModeUprobe)
}

func TestKernelCountRawTracepoint(t *testing.T) {
	testutil.RequireRoot(t)
	f, _ := feature.NewFeatures()
	testutil.RequireFeature(t, string(feature.FeatRawTracepoint), f.Have(feature.FeatRawTracepoint))
	// sched_process_fork fires in the parent for every fork; count this
	// process's forks.
	plan, err := compile.NewCountPlan([]compile.CountGroup{{Kind: compile.Tracepoint, Targets: []compile.Target{
		{Name: "sched:sched_process_fork", Category: "sched", Event: "sched_process_fork"},
	}}}, uint32(os.Getpid()), -1)
	if err != nil {
		t.Fatal(err)
	}
	c, err := attachCounts(t, plan, f, testLog{t})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.groups[0].Mode() != compile.ModeRawTracepoint {
		t.Fatalf("mode = %s", c.groups[0].Mode())
	}
	const forks = 3
	for i := 0; i < forks; i++ {
		if err := exec.Command("/proc/self/exe", "-test.run=^$").Run(); err != nil {
			t.Fatal(err)
		}
	}
	sums, _ := c.PerCPUSums(compile.MapCounts)
	// The Go runtime may start threads meanwhile, which fire the event too.
	if sums[0] < forks || sums[0] > forks+8 {
		t.Fatalf("forks counted = %d, want %d (plus a few runtime threads)", sums[0], forks)
	}
}
