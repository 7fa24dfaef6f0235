package bpf

import (
	"errors"
	"fmt"
	"strings"
)

// Mode is one way of attaching a program to a kind of target.
type Mode uint8

// The attach modes, roughly from most to least efficient within each kind.
const (
	ModeKprobeMulti   Mode = iota + 1 // one kprobe_multi link for many kernel functions (5.18)
	ModeFentry                        // one fentry program and link per kernel function (5.5)
	ModeKprobe                        // one perf-event kprobe per kernel function
	ModeRawSyscalls                   // one raw tracepoint on sys_enter/sys_exit, slot by syscall number
	ModeRawTracepoint                 // one raw tracepoint program and link per event (4.17)
	ModeTracepoint                    // one perf-event tracepoint per event
	ModeUprobeMulti                   // one uprobe_multi link for many user locations (6.6)
	ModeUprobe                        // one perf-event uprobe per user location
)

var modeNames = map[Mode]string{
	ModeKprobeMulti:   "kprobe_multi",
	ModeFentry:        "fentry",
	ModeKprobe:        "kprobe",
	ModeRawSyscalls:   "raw_syscalls",
	ModeRawTracepoint: "raw_tracepoint",
	ModeTracepoint:    "tracepoint",
	ModeUprobeMulti:   "uprobe_multi",
	ModeUprobe:        "uprobe",
}

func (m Mode) String() string {
	if s, ok := modeNames[m]; ok {
		return s
	}
	return fmt.Sprintf("Mode(%d)", m)
}

// needs lists the features a mode cannot work without.
func (m Mode) needs() []Feature {
	switch m {
	case ModeKprobeMulti:
		return []Feature{FeatKprobeMulti}
	case ModeFentry:
		return []Feature{FeatFentry}
	case ModeKprobe:
		return []Feature{FeatKprobe}
	case ModeRawSyscalls, ModeRawTracepoint:
		return []Feature{FeatRawTracepoint}
	case ModeTracepoint:
		return []Feature{FeatTracepoint}
	case ModeUprobeMulti:
		return []Feature{FeatUprobeMulti}
	case ModeUprobe:
		return []Feature{FeatUprobe}
	}
	return nil
}

// TargetKind is what a group of attach targets is.
type TargetKind uint8

// The kinds of targets.
const (
	KernelFunc   TargetKind = iota + 1 // kernel function entry
	Tracepoint                         // a tracefs event other than syscalls:*
	SyscallEnter                       // syscalls:sys_enter_* events
	SyscallExit                        // syscalls:sys_exit_* events
	UserFunc                           // user-space function entry or USDT location
)

func (k TargetKind) String() string {
	switch k {
	case KernelFunc:
		return "kernel function"
	case Tracepoint:
		return "tracepoint"
	case SyscallEnter:
		return "syscall entry tracepoint"
	case SyscallExit:
		return "syscall exit tracepoint"
	case UserFunc:
		return "user function"
	}
	return fmt.Sprintf("TargetKind(%d)", k)
}

// Ladder returns the attach modes for a kind of target, best first. It is a
// pure function of its arguments.
func Ladder(kind TargetKind) []Mode {
	switch kind {
	case KernelFunc:
		return []Mode{ModeKprobeMulti, ModeFentry, ModeKprobe}
	case Tracepoint:
		return []Mode{ModeRawTracepoint, ModeTracepoint}
	case SyscallEnter, SyscallExit:
		return []Mode{ModeRawSyscalls, ModeTracepoint}
	case UserFunc:
		return []Mode{ModeUprobeMulti, ModeUprobe}
	}
	return nil
}

// UsableModes filters Ladder(kind) by what the kernel supports. When no mode
// is usable it returns an error wrapping ErrNotSupported that names every
// mechanism it tried and why each is missing, plus what would work instead.
func UsableModes(kind TargetKind, f *Features) ([]Mode, error) {
	var modes []Mode
	var reasons []string
	for _, m := range Ladder(kind) {
		ok := true
		for _, feat := range m.needs() {
			if err := f.Have(feat); err != nil {
				if !errors.Is(err, ErrNotSupported) {
					return nil, err
				}
				ok = false
				reasons = append(reasons, trimSentinel(err))
				break
			}
		}
		if ok {
			modes = append(modes, m)
		}
	}
	if len(modes) == 0 {
		msg := fmt.Sprintf("this kernel cannot attach to a %s (%s)", kind, strings.Join(reasons, "; "))
		if hint := kindHint(kind); hint != "" {
			msg += ": " + hint
		}
		return nil, &unsupportedError{msg}
	}
	return modes, nil
}

func kindHint(kind TargetKind) string {
	switch kind {
	case KernelFunc:
		return "use tracepoints instead (t:category:event; see btool list 't:*'), e.g. t:syscalls:sys_enter_* for syscalls"
	case UserFunc:
		return "user probes need a kernel with CONFIG_UPROBES"
	}
	return ""
}

// trimSentinel drops the ": not supported" suffix of wrapped ErrNotSupported
// errors so joined reasons read cleanly.
func trimSentinel(err error) string {
	return strings.TrimSuffix(err.Error(), ": "+ErrNotSupported.Error())
}

// unsupportedError is a complete "not supported" message that still matches
// errors.Is(err, ErrNotSupported) without the sentinel's text appended.
type unsupportedError struct{ msg string }

func (e *unsupportedError) Error() string { return e.msg }
func (e *unsupportedError) Unwrap() error { return ErrNotSupported }
