package compile

import (
	"fmt"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"

	"github.com/btool/btool/bpf/feature"
	"github.com/btool/btool/internal/testutil"
	"github.com/btool/btool/specparse"
)

func TestSleepableMaps(t *testing.T) {
	ok := (&RecordSink{}).Maps()
	if !SleepableMaps(ok) {
		t.Errorf("ring buffer record sink maps refused: %v", ok)
	}
	for _, s := range []*RecordSink{{PerfBuffer: true}, {KernelStack: true}, {UserStack: true}} {
		if SleepableMaps(s.Maps()) {
			t.Errorf("%+v: maps accepted for a sleepable program", *s)
		}
	}
	cg := &Build{Filters: Filters{UID: -1, CPU: -1, CgroupFD: 3}, Sink: &RecordSink{}}
	if SleepableMaps(cg.Maps()) {
		t.Error("cgroup array accepted for a sleepable program")
	}
}

// sleepableBuild is a sleepable trace build of spec in mode m.
func sleepableBuild(t testing.TB, spec string, pc *ProbeContext, m Mode, sink *RecordSink) *Build {
	t.Helper()
	ct, err := CheckTrace(mustParse(t, spec), pc, CheckOptions{})
	if err != nil {
		t.Fatalf("%s:\n%s", spec, specparse.Caret(spec, err))
	}
	return &Build{Name: "sleepy", Mode: m, Checked: ct, Filters: NoFilters, Sink: sink, Sleepable: true}
}

func calls(insns asm.Instructions, fn asm.BuiltinFunc) int {
	n := 0
	for _, ins := range insns {
		if ins.IsBuiltinCall() && ins.Constant == int64(fn) {
			n++
		}
	}
	return n
}

// TestCompileSleepable checks the sleepable build: the flag, the
// bpf_copy_from_user fallbacks only in sleepable programs, and refusals
// for modes and maps a sleepable program can't have.
func TestCompileSleepable(t *testing.T) {
	for _, tc := range []struct {
		spec string
		pc   *ProbeContext
		copy int // bpf_copy_from_user calls when sleepable
	}{
		{`p:/bin/x:f "%s", msg`, uprobeCtx(t), 2},         // touch the page, then the next one
		{`p:/bin/x:f "%s", s->tag`, uprobeCtx(t), 1},      // char[8]: copied whole
		{`p:/bin/x:f "%s", name`, goStringCtx(), 1},       // Go string: copied whole
		{`p:/bin/x:f "%d", n`, uprobeCtx(t), 0},           // no string
		{`p:/bin/x:f "%s %s", msg, msg`, uprobeCtx(t), 4}, // per string
	} {
		b := sleepableBuild(t, tc.spec, tc.pc, ModeUprobe, &RecordSink{})
		if got := b.Checked.ReadsUserStrings(); got != (tc.copy > 0) {
			t.Errorf("%s: ReadsUserStrings %v", tc.spec, got)
		}
		spec, err := Compile(b)
		if err != nil {
			t.Fatalf("%s: %v", tc.spec, err)
		}
		if spec.Flags&FlagSleepable == 0 {
			t.Errorf("%s: no BPF_F_SLEEPABLE", tc.spec)
		}
		if n := calls(spec.Instructions, asm.FnCopyFromUser); n != tc.copy {
			t.Errorf("%s: %d bpf_copy_from_user calls, want %d", tc.spec, n, tc.copy)
		}
		b.Sleepable = false
		if spec, err = Compile(b); err != nil {
			t.Fatal(err)
		}
		if spec.Flags != 0 || calls(spec.Instructions, asm.FnCopyFromUser) != 0 {
			t.Errorf("%s: not sleepable, but flags %#x and bpf_copy_from_user", tc.spec, spec.Flags)
		}
	}
	b := sleepableBuild(t, `p:/bin/x:f "%s", msg`, uprobeCtx(t), ModeKprobe, &RecordSink{})
	if _, err := Compile(b); err == nil || !strings.Contains(err.Error(), "only uprobe programs") {
		t.Errorf("sleepable kprobe: %v", err)
	}
	b = sleepableBuild(t, `p:/bin/x:f "%s", msg`, uprobeCtx(t), ModeUprobeMulti, &RecordSink{UserStack: true})
	if _, err := Compile(b); err == nil || !strings.Contains(err.Error(), "can't use its maps") {
		t.Errorf("sleepable with a stack map: %v", err)
	}
}

// goStringCtx is a uprobe on a Go function whose argument name is a Go
// string in RAX (pointer) and RBX (length).
func goStringCtx() *ProbeContext {
	return &ProbeContext{Mode: ModeUprobe, Regs: true, UserMemory: true, Args: []Arg{
		{Name: "name", Kind: ArgGoString, Off: 80, Off2: 40, Size: 8, User: true},
	}}
}

// TestKernelVerifierSleepable loads the sleepable uprobe and uprobe_multi
// programs of the uprobe and USDT verifier specs, and of Go strings,
// into the running kernel's verifier with BPF_F_SLEEPABLE.
func TestKernelVerifierSleepable(t *testing.T) {
	testutil.RequireRoot(t)
	f, err := feature.NewFeatures()
	if err != nil {
		t.Fatal(err)
	}
	testutil.RequireFeature(t, string(feature.FeatSleepableUprobe), f.Have(feature.FeatSleepableUprobe))
	type kase struct {
		spec string
		pc   *ProbeContext
	}
	var cases []kase
	for _, k := range verifierKinds() {
		if k.name == "uprobe" || k.name == "usdt" {
			for _, s := range k.specs {
				cases = append(cases, kase{s, k.pc(t)})
			}
		}
	}
	cases = append(cases,
		kase{`p:/bin/x:f (name == "abc") "%s %s", name, name`, goStringCtx()},
		kase{`p:/bin/x:f "%s %s %s", msg, s->tag, file->f_path.dentry->d_name.name`, uprobeCtx(t)},
	)
	for _, m := range []Mode{ModeUprobe, ModeUprobeMulti} {
		t.Run(m.String(), func(t *testing.T) {
			if m == ModeUprobeMulti {
				testutil.RequireFeature(t, string(feature.FeatUprobeMulti), f.Have(feature.FeatUprobeMulti))
			}
			for i, c := range cases {
				for _, ss := range []int{1, 80, 4096} {
					for _, ix := range []IndexSource{{From: IndexConst, Value: 3}, {From: IndexCookie}} {
						t.Run(fmt.Sprintf("%d/ss=%d/%v", i, ss, ix.From), func(t *testing.T) {
							ct, err := CheckTrace(mustParse(t, c.spec), c.pc, CheckOptions{StringSize: ss})
							if err != nil {
								t.Fatal(err)
							}
							b := &Build{Name: "sleepy", Mode: m, Checked: ct, Index: ix, Sleepable: true,
								Filters: Filters{PID: 42, UID: 0, CPU: -1, SkipTGID: 7}, Sink: &RecordSink{}}
							spec, err := Compile(b)
							if err != nil {
								if ss == 4096 && strings.Contains(err.Error(), "larger than") {
									t.Skip(err)
								}
								t.Fatal(err)
							}
							maps := newTraceMaps(t, false, 0)
							spec = spec.Copy()
							for name, mp := range map[string]*ebpf.Map{MapEvents: maps.events, MapLost: maps.lost} {
								spec.Instructions.AssociateMap(name, mp)
							}
							prog, err := ebpf.NewProgram(spec)
							if err != nil {
								t.Fatalf("verifier rejected %s:\n%+v\n%v", c.spec, err, spec.Instructions)
							}
							prog.Close()
						})
					}
				}
			}
		})
	}
}
