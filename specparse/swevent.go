package specparse

import (
	"fmt"
	"strconv"
	"strings"
)

// SoftwareEvent is a perf software event an argdist probe of type s can
// name (s:software:EVENT(period)): a kernel counter such as page faults or
// context switches, or a clock, sampled every Period occurrences.
type SoftwareEvent struct {
	Name  string // canonical name, as perf and bpftrace spell it: "page-faults"
	Alias string // bpftrace's short alias ("faults"); "" if none
	// Clock says the event is a clock (cpu-clock, task-clock): its period
	// is in nanoseconds of CPU time, and the kernel raises a period below
	// MinClockPeriod to it.
	Clock bool
	// DefaultPeriod is the period when the spec gives none: 1 for counted
	// events, so every occurrence is counted exactly; 1,000,000 ns (one
	// sample per millisecond of CPU time) for the clocks, as in bpftrace.
	DefaultPeriod uint64
}

// MinClockPeriod is the shortest period, in nanoseconds, the kernel keeps
// for the cpu-clock and task-clock events (perf_swevent_init_hrtimer
// raises shorter ones to it, so a shorter period would give wrong counts).
const MinClockPeriod = 10000

// MaxPeriod is the largest sample period perf_event_open accepts: the
// kernel refuses a period with bit 63 set.
const MaxPeriod = 1<<63 - 1

// SoftwareEvents lists the perf software events, in bpftrace's order
// (alphabetical). bpftrace's bpf-output is left out: it never fires on its
// own.
var SoftwareEvents = []SoftwareEvent{
	{Name: "alignment-faults", DefaultPeriod: 1},
	{Name: "context-switches", Alias: "cs", DefaultPeriod: 1},
	{Name: "cpu-clock", Alias: "cpu", Clock: true, DefaultPeriod: 1000000},
	{Name: "cpu-migrations", DefaultPeriod: 1},
	{Name: "dummy", DefaultPeriod: 1},
	{Name: "emulation-faults", DefaultPeriod: 1},
	{Name: "major-faults", DefaultPeriod: 1},
	{Name: "minor-faults", DefaultPeriod: 1},
	{Name: "page-faults", Alias: "faults", DefaultPeriod: 1},
	{Name: "task-clock", Clock: true, DefaultPeriod: 1000000},
}

// LookupSoftwareEvent returns the software event named name or by its
// alias, or false.
func LookupSoftwareEvent(name string) (SoftwareEvent, bool) {
	for _, ev := range SoftwareEvents {
		if name == ev.Name || (ev.Alias != "" && name == ev.Alias) {
			return ev, true
		}
	}
	return SoftwareEvent{}, false
}

// softwareEventNames lists the valid names for an error message:
// "alignment-faults, context-switches (cs), ...".
func softwareEventNames() string {
	names := make([]string, len(SoftwareEvents))
	for i, ev := range SoftwareEvents {
		names[i] = ev.Name
		if ev.Alias != "" {
			names[i] += " (" + ev.Alias + ")"
		}
	}
	return strings.Join(names, ", ")
}

// EventPeriod returns the sample period of a software-event probe: the
// one given in the spec, else the event's default. It returns 0 for other
// probes and for an unknown event (which ParseArgdist refuses).
func (pr *ArgdistProbe) EventPeriod() uint64 {
	if pr.Kind != SoftwareEventProbe {
		return 0
	}
	if pr.Period != 0 {
		return pr.Period
	}
	ev, _ := LookupSoftwareEvent(pr.Func)
	return ev.DefaultPeriod
}

// checkSoftwareHead checks the category and event of "s:category:event".
func (p *parser) checkSoftwareHead(pr *ArgdistProbe) {
	if pr.Library != "" && pr.Library != "software" {
		p.errorf(pr.LibraryPos, pr.LibraryPos+Pos(len(pr.Library)), "software event category must be 'software' or empty, as in s:software:page-faults() or s::cs(), but got '%s'", pr.Library)
	}
	if pr.Func == "" {
		p.errorf(pr.FuncPos, pr.FuncPos, "missing software event name: one of %s", softwareEventNames())
		return
	}
	if _, ok := LookupSoftwareEvent(pr.Func); !ok {
		p.errorf(pr.FuncPos, pr.FuncPos+Pos(len(pr.Func)), "unknown software event '%s': valid names are %s", pr.Func, softwareEventNames())
	}
}

// parseSoftwarePeriod parses the sample period between the parentheses
// at src[open] and src[close]: empty (the event's default) or a decimal
// count of events (nanoseconds for clocks) from 1 to MaxPeriod.
func (p *parser) parseSoftwarePeriod(pr *ArgdistProbe, open, close int) {
	text := p.src[open+1 : close]
	s := strings.TrimSpace(text)
	if s == "" {
		return
	}
	start := open + 1 + strings.Index(text, s)
	pos, end := Pos(start), Pos(start+len(s))
	digits := true
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			digits = false
			break
		}
	}
	if !digits {
		p.errorf(pos, end, "sample period must be a positive decimal number of events (nanoseconds for cpu-clock and task-clock), not '%s'", s)
		return
	}
	v, err := strconv.ParseUint(s, 10, 64)
	switch {
	case err != nil || v > MaxPeriod:
		p.errorf(pos, end, "sample period %s is too large: at most %d", s, uint64(MaxPeriod))
		return
	case v == 0:
		p.errorf(pos, end, "sample period must be at least 1, not 0")
		return
	}
	if ev, ok := LookupSoftwareEvent(pr.Func); ok && ev.Clock && v < MinClockPeriod {
		p.errorf(pos, end, "%s's period is in nanoseconds and the kernel's minimum is %d, not %d", ev.Name, MinClockPeriod, v)
		return
	}
	pr.Period = v
}

// periodString is the canonical "(N)" or "()" of a software-event probe.
func (pr *ArgdistProbe) periodString() string {
	if pr.Period == 0 {
		return "()"
	}
	return fmt.Sprintf("(%d)", pr.Period)
}
