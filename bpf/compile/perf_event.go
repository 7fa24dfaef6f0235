package compile

import (
	"fmt"

	"github.com/btool/btool/specparse"
)

// PerfAttr is the perf event a PerfEvent target opens on every online CPU:
// the part of perf_event_open(2)'s struct perf_event_attr btool sets.
// Exactly one of Period and Freq is non-zero.
type PerfAttr struct {
	Type   uint32 // PERF_TYPE_*: PerfTypeSoftware
	Config uint64 // the event within Type: PERF_COUNT_SW_* for software events
	Period uint64 // sample_period: the program runs once every Period events (nanoseconds for the clocks)
	Freq   uint64 // sample_freq: about Freq runs per second on each CPU, the kernel adjusting the period (attr.freq)
}

// PerfTypeSoftware is PERF_TYPE_SOFTWARE, the perf_event_attr type of the
// kernel's software events.
const PerfTypeSoftware = 1

// softwareConfigs maps the canonical names of specparse.SoftwareEvents to
// their PERF_COUNT_SW_* values (include/uapi/linux/perf_event.h).
var softwareConfigs = map[string]uint64{
	"cpu-clock":        0,
	"task-clock":       1,
	"page-faults":      2,
	"context-switches": 3,
	"cpu-migrations":   4,
	"minor-faults":     5,
	"major-faults":     6,
	"alignment-faults": 7,
	"emulation-faults": 8,
	"dummy":            9,
}

// SoftwareEventTarget returns the target of the software event name (its
// canonical name or alias, see specparse.SoftwareEvents) sampled every
// period events; period 0 means the event's default. The target is named
// "software:" + the canonical name. It fails for an unknown name or a
// period the kernel would refuse or change (0, above
// specparse.MaxPeriod, or below specparse.MinClockPeriod for a clock).
func SoftwareEventTarget(name string, period uint64) (Target, error) {
	ev, ok := specparse.LookupSoftwareEvent(name)
	config, known := softwareConfigs[ev.Name]
	if !ok || !known {
		return Target{}, fmt.Errorf("unknown software event %q", name)
	}
	if period == 0 {
		period = ev.DefaultPeriod
	}
	if period > specparse.MaxPeriod || ev.Clock && period < specparse.MinClockPeriod {
		return Target{}, fmt.Errorf("software event %s: period %d out of range", ev.Name, period)
	}
	return Target{Name: "software:" + ev.Name, Perf: PerfAttr{Type: PerfTypeSoftware, Config: config, Period: period}}, nil
}
