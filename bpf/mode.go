package bpf

import (
	"errors"
	"fmt"
	"strings"

	"github.com/btool/btool/bpf/compile"
	"github.com/btool/btool/bpf/feature"
)

// needs lists the features a mode cannot work without.
func modeNeeds(m compile.Mode) []feature.Feature {
	switch m {
	case compile.ModeKprobeMulti:
		return []feature.Feature{feature.FeatKprobeMulti}
	case compile.ModeFentry:
		return []feature.Feature{feature.FeatFentry}
	case compile.ModeKprobe:
		return []feature.Feature{feature.FeatKprobe}
	case compile.ModeRawSyscalls, compile.ModeRawTracepoint:
		return []feature.Feature{feature.FeatRawTracepoint}
	case compile.ModeTracepoint:
		return []feature.Feature{feature.FeatTracepoint}
	case compile.ModeUprobeMulti:
		return []feature.Feature{feature.FeatUprobeMulti}
	case compile.ModeUprobe:
		return []feature.Feature{feature.FeatUprobe}
	case compile.ModePerfEvent:
		return []feature.Feature{feature.FeatPerfEvent}
	}
	return nil
}

// UsableModes filters compile.Ladder(kind) by what the kernel supports. When no mode
// is usable it returns an error wrapping ErrNotSupported that names every
// mechanism it tried and why each is missing, plus what would work instead.
func UsableModes(kind compile.TargetKind, f *feature.Features) ([]compile.Mode, error) {
	var modes []compile.Mode
	var reasons []string
	for _, m := range compile.Ladder(kind) {
		ok := true
		for _, feat := range modeNeeds(m) {
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

func kindHint(kind compile.TargetKind) string {
	switch kind {
	case compile.KernelFunc:
		return "use tracepoints instead (t:category:event; see btool list 't:*'), e.g. t:syscalls:sys_enter_* for syscalls"
	case compile.UserFunc:
		return "user probes need a kernel with CONFIG_UPROBES"
	case compile.PerfEvent:
		return "perf events need a kernel with CONFIG_PERF_EVENTS"
	}
	return ""
}

// trimSentinel drops the ": not supported" suffix of wrapped ErrNotSupported
// errors so joined reasons read cleanly.
func trimSentinel(err error) string {
	return strings.TrimSuffix(strings.TrimSuffix(err.Error(), ": "+ErrNotSupported.Error()), ": "+ErrProbeLimit.Error())
}

// unsupportedError is a complete "not supported" message that still matches
// errors.Is(err, ErrNotSupported) without the sentinel's text appended.
type unsupportedError struct{ msg string }

func (e *unsupportedError) Error() string { return e.msg }
func (e *unsupportedError) Unwrap() error { return ErrNotSupported }
