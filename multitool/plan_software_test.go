package multitool

import (
	"errors"
	"strings"
	"testing"

	"github.com/btool/btool/bpf"
	"github.com/btool/btool/bpf/compile"
	"github.com/btool/btool/bpf/feature"
	"github.com/btool/btool/specparse"
)

func TestHeadOfSoftwareEvent(t *testing.T) {
	for _, tc := range []struct {
		spec         string
		lib, fn      string
		period       uint64
		readsNothing bool
	}{
		{spec: "s:software:faults(100):u32:$pid", lib: "software", fn: "faults", period: 100},
		{spec: "s::cs()", fn: "cs", readsNothing: true},
		{spec: "s::cpu-clock():u32:$pid:$pid > 1#label", fn: "cpu-clock"},
	} {
		t.Run(tc.spec, func(t *testing.T) {
			p, err := specparse.ParseArgdist(tc.spec)
			if err != nil {
				t.Fatal(err)
			}
			h, err := HeadOfSoftwareEvent(p, tc.spec)
			if err != nil {
				t.Fatal(err)
			}
			if h.Kind != HeadSoftware || h.Return || h.Library != tc.lib || h.Func != tc.fn || h.Period != tc.period ||
				h.Signature != nil || h.ReadsNothing != tc.readsNothing || !h.Literal || h.Spec != tc.spec {
				t.Errorf("head %+v", h)
			}
			if !h.match(tc.fn) || h.match(tc.fn+"x") {
				t.Errorf("match: %v %v", h.match(tc.fn), h.match(tc.fn+"x"))
			}
		})
	}
	p, _ := specparse.ParseArgdist("p::vfs_read()")
	var ue *UsageError
	if _, err := HeadOfSoftwareEvent(p, "p::vfs_read()"); !errors.As(err, &ue) {
		t.Errorf("function probe: %v", err)
	}
}

// planSoftware plans a software-event argdist spec against the fixtures.
func planSoftwareSpec(t *testing.T, spec string, feats ...feature.Feature) (*Plan, error) {
	t.Helper()
	p, err := specparse.ParseArgdist(spec)
	if err != nil {
		t.Fatalf("parse %q: %v", spec, err)
	}
	h, err := HeadOfSoftwareEvent(p, spec)
	if err != nil {
		return nil, err
	}
	pl := &Planner{Src: newFixtureSources(t), Features: feature.NewFakeFeatures(feats...), Contexts: true}
	return pl.Plan(h)
}

// A software event plans to one perf-event target with the event's
// perf_event_attr, and a context with builtins and registers only.
func TestPlanSoftwareEvent(t *testing.T) {
	feats := append(append([]feature.Feature(nil), allFeatures...), feature.FeatPerfEvent)
	for _, tc := range []struct {
		spec string
		want compile.Target
	}{
		{"s:software:faults(100):u32:$pid", compile.Target{Name: "software:page-faults", Perf: compile.PerfAttr{Type: compile.PerfTypeSoftware, Config: 2, Period: 100}}},
		{"s::page-faults()", compile.Target{Name: "software:page-faults", Perf: compile.PerfAttr{Type: compile.PerfTypeSoftware, Config: 2, Period: 1}}},
		{"s::cs():char*:$comm", compile.Target{Name: "software:context-switches", Perf: compile.PerfAttr{Type: compile.PerfTypeSoftware, Config: 3, Period: 1}}},
		{"s::cpu()", compile.Target{Name: "software:cpu-clock", Perf: compile.PerfAttr{Type: compile.PerfTypeSoftware, Config: 0, Period: 1000000}}},
	} {
		t.Run(tc.spec, func(t *testing.T) {
			plan, err := planSoftwareSpec(t, tc.spec, feats...)
			if err != nil {
				t.Fatal(err)
			}
			if plan.Kind != compile.PerfEvent || len(plan.Modes) != 1 || plan.Modes[0] != compile.ModePerfEvent || plan.Return {
				t.Errorf("kind %v modes %v return %v", plan.Kind, plan.Modes, plan.Return)
			}
			if len(plan.Targets) != 1 || plan.Targets[0] != tc.want {
				t.Fatalf("targets %+v, want %+v", plan.Targets, tc.want)
			}
			if len(plan.Layouts) != 1 || plan.LayoutOf[0] != 0 {
				t.Fatalf("layouts %d, LayoutOf %v", len(plan.Layouts), plan.LayoutOf)
			}
			pc, err := plan.Layouts[0].Probe(compile.ModePerfEvent)
			if err != nil {
				t.Fatal(err)
			}
			if !pc.Regs || pc.Return || pc.Args != nil || pc.Fields != nil || pc.Mode != compile.ModePerfEvent {
				t.Errorf("probe context %+v", pc)
			}
			p, _ := specparse.ParseArgdist("s::cs():u32,char*,u64,u32:$pid,$comm,ctx->ip,$cpu")
			if _, err := compile.CheckValues(p.Exprs, pc, compile.ValueOptions{}); err != nil {
				t.Errorf("builtins: %v", err)
			}
			for _, e := range []string{"arg1", "$retval", "args->x"} {
				p, _ := specparse.ParseArgdist("s::cs():u64:" + e)
				if _, err := compile.CheckValues(p.Exprs, pc, compile.ValueOptions{}); err == nil {
					t.Errorf("%s checked in a perf event", e)
				}
			}
		})
	}
	// Without perf-event programs, the error says so.
	if _, err := planSoftwareSpec(t, "s::faults()", allFeatures...); !errors.Is(err, bpf.ErrNotSupported) || !strings.Contains(err.Error(), "perf event") {
		t.Errorf("no perf_event feature: %v", err)
	}
}
