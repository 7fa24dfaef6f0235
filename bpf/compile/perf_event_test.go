package compile

import (
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/btool/btool/specparse"
)

// perfEventCtx is what a perf-event program sees: pt_regs at ctx+0 and no
// arguments.
func perfEventCtx(t testing.TB) *ProbeContext {
	return &ProbeContext{Mode: ModePerfEvent, Regs: true, Types: fixtureTypes.src, Kernel: fixtureTypes.src}
}

func TestSoftwareEventTarget(t *testing.T) {
	for _, tc := range []struct {
		name   string
		period uint64
		want   Target
	}{
		{"page-faults", 0, Target{Name: "software:page-faults", Perf: PerfAttr{Type: unix.PERF_TYPE_SOFTWARE, Config: unix.PERF_COUNT_SW_PAGE_FAULTS, Period: 1}}},
		{"faults", 100, Target{Name: "software:page-faults", Perf: PerfAttr{Type: unix.PERF_TYPE_SOFTWARE, Config: unix.PERF_COUNT_SW_PAGE_FAULTS, Period: 100}}},
		{"cs", 0, Target{Name: "software:context-switches", Perf: PerfAttr{Type: unix.PERF_TYPE_SOFTWARE, Config: unix.PERF_COUNT_SW_CONTEXT_SWITCHES, Period: 1}}},
		{"cpu", 0, Target{Name: "software:cpu-clock", Perf: PerfAttr{Type: unix.PERF_TYPE_SOFTWARE, Config: unix.PERF_COUNT_SW_CPU_CLOCK, Period: 1000000}}},
		{"task-clock", 20000, Target{Name: "software:task-clock", Perf: PerfAttr{Type: unix.PERF_TYPE_SOFTWARE, Config: unix.PERF_COUNT_SW_TASK_CLOCK, Period: 20000}}},
		{"cpu-migrations", 0, Target{Name: "software:cpu-migrations", Perf: PerfAttr{Type: unix.PERF_TYPE_SOFTWARE, Config: unix.PERF_COUNT_SW_CPU_MIGRATIONS, Period: 1}}},
		{"minor-faults", 0, Target{Name: "software:minor-faults", Perf: PerfAttr{Type: unix.PERF_TYPE_SOFTWARE, Config: unix.PERF_COUNT_SW_PAGE_FAULTS_MIN, Period: 1}}},
		{"major-faults", 0, Target{Name: "software:major-faults", Perf: PerfAttr{Type: unix.PERF_TYPE_SOFTWARE, Config: unix.PERF_COUNT_SW_PAGE_FAULTS_MAJ, Period: 1}}},
		{"alignment-faults", 0, Target{Name: "software:alignment-faults", Perf: PerfAttr{Type: unix.PERF_TYPE_SOFTWARE, Config: unix.PERF_COUNT_SW_ALIGNMENT_FAULTS, Period: 1}}},
		{"emulation-faults", 0, Target{Name: "software:emulation-faults", Perf: PerfAttr{Type: unix.PERF_TYPE_SOFTWARE, Config: unix.PERF_COUNT_SW_EMULATION_FAULTS, Period: 1}}},
		{"dummy", 0, Target{Name: "software:dummy", Perf: PerfAttr{Type: unix.PERF_TYPE_SOFTWARE, Config: unix.PERF_COUNT_SW_DUMMY, Period: 1}}},
	} {
		got, err := SoftwareEventTarget(tc.name, tc.period)
		if err != nil || got != tc.want {
			t.Errorf("SoftwareEventTarget(%q, %d) = %+v, %v; want %+v", tc.name, tc.period, got, err, tc.want)
		}
	}
	for _, ev := range specparse.SoftwareEvents {
		if _, ok := softwareConfigs[ev.Name]; !ok {
			t.Errorf("specparse event %s has no PERF_COUNT_SW_* value", ev.Name)
		}
	}
	if len(softwareConfigs) != len(specparse.SoftwareEvents) {
		t.Errorf("%d configs for %d events", len(softwareConfigs), len(specparse.SoftwareEvents))
	}
	for _, bad := range []struct {
		name   string
		period uint64
	}{{"nosuch", 0}, {"cpu-clock", 9999}, {"faults", 1 << 63}} {
		if got, err := SoftwareEventTarget(bad.name, bad.period); err == nil {
			t.Errorf("SoftwareEventTarget(%q, %d) = %+v, want an error", bad.name, bad.period, got)
		}
	}
}

// TestAssemblePerfEvent: a perf event target gets its own program of type
// BPF_PROG_TYPE_PERF_EVENT with its slot as an immediate, and the other
// modes refuse perf events.
func TestAssemblePerfEvent(t *testing.T) {
	t1, _ := SoftwareEventTarget("page-faults", 0)
	t2, _ := SoftwareEventTarget("cs", 0)
	t1.Slot, t2.Slot = 0, 1
	s := &AggSink{Agg: AggCount, Key: []KeyPart{{Kind: KeyTarget}, {Kind: KeyTgid}}}
	base := Build{Name: "swev", Mode: ModePerfEvent, Filters: Filters{PID: 42, UID: 0, SkipTGID: 7, CPU: 1, CgroupFD: 3}, Sink: s}
	obj, err := Assemble(base, PerfEvent, []Target{t1, t2}, true, 0)
	if err != nil {
		t.Fatal(err)
	}
	if obj.Mode != ModePerfEvent || obj.Kind != PerfEvent || len(obj.Programs) != 2 {
		t.Fatalf("object %v %v with %d programs, want perf_event, perf event, 2", obj.Mode, obj.Kind, len(obj.Programs))
	}
	for i, p := range obj.Programs {
		if p.Spec.Type != ebpf.PerfEvent || p.Cookie || len(p.Targets) != 1 || p.Targets[0].Slot != uint32(i) {
			t.Errorf("program %d: type %v cookie %v targets %+v", i, p.Spec.Type, p.Cookie, p.Targets)
		}
		dump := p.Spec.Instructions.String()
		for _, want := range []string{"FnGetCurrentPidTgid", "FnGetCurrentUidGid", "FnGetSmpProcessorId", "FnCurrentTaskUnderCgroup", "FnGetAttachCookie"} {
			if got := strings.Contains(dump, want); got != (want != "FnGetAttachCookie") {
				t.Errorf("program %d: calls %s: %v\n%s", i, want, got, dump)
			}
		}
	}
	if got := Ladder(PerfEvent); len(got) != 1 || got[0] != ModePerfEvent {
		t.Errorf("Ladder(PerfEvent) = %v", got)
	}
	if ModePerfEvent.String() != "perf_event" || PerfEvent.String() != "perf event" {
		t.Errorf("names %q %q", ModePerfEvent, PerfEvent)
	}
	for _, m := range []Mode{ModeKprobe, ModeTracepoint, ModeUprobe, ModeRawTracepoint} {
		if _, err := Assemble(Build{Mode: m, Filters: NoFilters, Sink: s}, PerfEvent, []Target{t1}, false, 0); err == nil {
			t.Errorf("mode %s assembled a perf event", m)
		}
	}
	if _, err := Assemble(Build{Mode: ModePerfEvent, Filters: NoFilters, Sink: s}, Tracepoint, []Target{{Name: "x"}}, false, 0); err == nil {
		t.Error("perf_event mode assembled a tracepoint")
	}
}

// TestCheckPerfEvent: builtins and registers check in a perf-event
// context.
func TestCheckPerfEvent(t *testing.T) {
	vs := sinkValues(t, perfEventCtx(t), ValueOptions{}, "$pid", "$tgid", "$comm", "$cpu", "$uid", "ctx->ip", "$task->pid")
	if len(vs) != 7 || vs[2].Kind != FieldStr {
		t.Fatalf("values %v", vs)
	}
}
