package bpf

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"unsafe"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"

	"github.com/btool/btool/bpf/compile"
)

// perfEventLink is a program attached to one perf-event target on every
// online CPU: per CPU, the perf event's file descriptor and, where the
// kernel has perf links (5.15), the BPF link. Without them the program
// was attached with PERF_EVENT_IOC_SET_BPF, and closing the event
// detaches it. Close releases everything.
type perfEventLink struct {
	// Link is nil: embedding the interface gives the type link.Link's
	// unexported method; every exported one is defined below.
	link.Link
	events []perCPUEvent
}

type perCPUEvent struct {
	cpu int
	fd  int
	raw *link.RawLink // nil when attached by ioctl
}

// Close detaches the program from every CPU's event and closes the
// events. It is safe to call more than once.
func (l *perfEventLink) Close() error {
	var errs []error
	for _, ev := range l.events {
		if ev.raw != nil {
			if err := ev.raw.Close(); err != nil {
				errs = append(errs, fmt.Errorf("close perf link on CPU %d: %w", ev.cpu, err))
			}
		}
		if err := unix.Close(ev.fd); err != nil {
			errs = append(errs, fmt.Errorf("close perf event on CPU %d: %w", ev.cpu, err))
		}
	}
	l.events = nil
	return errors.Join(errs...)
}

// Update is not supported: a perf event's program can't be replaced.
func (l *perfEventLink) Update(*ebpf.Program) error {
	return fmt.Errorf("update perf event program: %w", ErrNotSupported)
}

// Pin is not supported: the link is one link per CPU.
func (l *perfEventLink) Pin(string) error {
	return fmt.Errorf("pin perf event links: %w", ErrNotSupported)
}

// Unpin is not supported, as Pin.
func (l *perfEventLink) Unpin() error {
	return fmt.Errorf("unpin perf event links: %w", ErrNotSupported)
}

// Detach is not supported; Close detaches.
func (l *perfEventLink) Detach() error {
	return fmt.Errorf("detach perf event links: %w", ErrNotSupported)
}

// Info is not supported: there is one link per CPU.
func (l *perfEventLink) Info() (*link.Info, error) {
	return nil, fmt.Errorf("perf event link info: %w", ErrNotSupported)
}

// tryPerfLink says attachPerfEvent tries a perf link before the ioctl;
// tests turn it off to take the path of kernels before 5.15.
var tryPerfLink = true

// perfEventAttr is the perf_event_attr of a, opened disabled (it is
// enabled once the program is attached).
func perfEventAttr(a compile.PerfAttr) (*unix.PerfEventAttr, error) {
	attr := &unix.PerfEventAttr{
		Type:   a.Type,
		Config: a.Config,
		Size:   uint32(unsafe.Sizeof(unix.PerfEventAttr{})),
		Bits:   unix.PerfBitDisabled,
	}
	switch {
	case a.Freq != 0 && a.Period == 0:
		attr.Sample = a.Freq
		attr.Bits |= unix.PerfBitFreq
	case a.Period != 0 && a.Freq == 0 && a.Period < 1<<63:
		attr.Sample = a.Period
	default:
		return nil, fmt.Errorf("perf event type %d config %d: need a period below 2^63 or a frequency, have period %d and frequency %d", a.Type, a.Config, a.Period, a.Freq)
	}
	return attr, nil
}

// attachPerfEvent opens t's perf event (t.Perf) on every online CPU, for
// every process (pid -1: the program's prologue filters by process), and
// runs prog on each: through a perf link (BPF_LINK_TYPE_PERF_EVENT, 5.15)
// where the kernel has it, else PERF_EVENT_IOC_SET_BPF (4.9). A CPU that
// goes offline while attaching is left out; any other failure closes what
// was opened and returns the error, naming the CPU. CPUs that come online
// later are not covered.
func attachPerfEvent(prog *ebpf.Program, t compile.Target) (link.Link, error) {
	attr, err := perfEventAttr(t.Perf)
	if err != nil {
		return nil, err
	}
	cpus, err := onlineCPUs()
	if err != nil {
		return nil, err
	}
	l := &perfEventLink{}
	fail := func(err error) (link.Link, error) {
		l.Close()
		return nil, err
	}
	useLink := tryPerfLink
	for _, cpu := range cpus {
		fd, err := unix.PerfEventOpen(attr, -1, cpu, -1, unix.PERF_FLAG_FD_CLOEXEC)
		if errors.Is(err, unix.ENODEV) {
			continue // the CPU went offline
		}
		if err != nil {
			return fail(fmt.Errorf("perf_event_open %s on CPU %d: %w", t.Name, cpu, err))
		}
		ev := perCPUEvent{cpu: cpu, fd: fd}
		l.events = append(l.events, ev)
		if useLink {
			raw, err := link.AttachRawLink(link.RawLinkOptions{Target: fd, Program: prog, Attach: ebpf.AttachPerfEvent})
			if err == nil {
				l.events[len(l.events)-1].raw = raw
			} else {
				// Before 5.15 (b89fbfbb854c "bpf: Implement minimal BPF
				// perf link") link_create refuses BPF_PERF_EVENT.
				useLink = false
			}
		}
		if l.events[len(l.events)-1].raw == nil {
			if err := unix.IoctlSetInt(fd, unix.PERF_EVENT_IOC_SET_BPF, prog.FD()); err != nil {
				return fail(fmt.Errorf("attach program to perf event %s on CPU %d: %w", t.Name, cpu, err))
			}
		}
		if err := unix.IoctlSetInt(fd, unix.PERF_EVENT_IOC_ENABLE, 0); err != nil {
			return fail(fmt.Errorf("enable perf event %s on CPU %d: %w", t.Name, cpu, err))
		}
	}
	if len(l.events) == 0 {
		return nil, fmt.Errorf("perf event %s: no online CPU", t.Name)
	}
	return l, nil
}

// onlineCPUs returns the CPUs /sys/devices/system/cpu/online lists.
func onlineCPUs() ([]int, error) {
	b, err := os.ReadFile("/sys/devices/system/cpu/online")
	if err != nil {
		return nil, fmt.Errorf("online CPUs: %w", err)
	}
	cpus, err := parseCPUList(string(b))
	if err != nil {
		return nil, fmt.Errorf("online CPUs: %w", err)
	}
	return cpus, nil
}

// parseCPUList parses the kernel's CPU list format: "0-3,5,7-8\n".
func parseCPUList(s string) ([]int, error) {
	var cpus []int
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, errors.New("empty CPU list")
	}
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		first, err := strconv.Atoi(lo)
		if err != nil || first < 0 {
			return nil, fmt.Errorf("bad CPU list %q", s)
		}
		last := first
		if isRange {
			if last, err = strconv.Atoi(hi); err != nil || last < first {
				return nil, fmt.Errorf("bad CPU list %q", s)
			}
		}
		for c := first; c <= last; c++ {
			cpus = append(cpus, c)
		}
	}
	return cpus, nil
}
