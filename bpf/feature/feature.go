package feature

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"syscall"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/features"
	"golang.org/x/sys/unix"
)

// Feature names a kernel capability btool can use. The names are part of the
// user interface (--no-feature) and of the test contract
// ($BTOOL_EXPECT_FEATURES in the VM tier).
type Feature string

// The features btool probes for, with the kernel that introduced them.
const (
	FeatKprobe        Feature = "kprobe"         // kprobes via the perf PMU or tracefs (CONFIG_KPROBES)
	FeatKprobeMulti   Feature = "kprobe_multi"   // BPF_LINK_TYPE_KPROBE_MULTI, 5.18
	FeatFentry        Feature = "fentry"         // BPF_TRACE_FENTRY/FEXIT trampolines, 5.5
	FeatUprobe        Feature = "uprobe"         // uprobes via the perf PMU or tracefs
	FeatUprobeMulti   Feature = "uprobe_multi"   // BPF_LINK_TYPE_UPROBE_MULTI, 6.6
	FeatTracepoint    Feature = "tracepoint"     // perf-event tracepoints, 4.7
	FeatRawTracepoint Feature = "raw_tracepoint" // BPF_PROG_TYPE_RAW_TRACEPOINT, 4.17
	FeatRingBuf       Feature = "ringbuf"        // BPF_MAP_TYPE_RINGBUF, 5.8
	FeatCookie        Feature = "cookie"         // bpf_get_attach_cookie, 5.15
	FeatGetFuncIP     Feature = "get_func_ip"    // bpf_get_func_ip in kprobes, 5.15
	// FeatSleepableUprobe: uprobe programs loaded with BPF_F_SLEEPABLE,
	// which may call bpf_copy_from_user and so fault in user pages (6.0).
	FeatSleepableUprobe Feature = "sleepable_uprobe"
	// FeatPerfEvent: BPF_PROG_TYPE_PERF_EVENT programs (4.9), run by perf
	// events such as software events (page faults, context switches,
	// cpu-clock).
	FeatPerfEvent Feature = "perf_event"
)

// AllFeatures lists every Feature in a stable order.
var AllFeatures = []Feature{
	FeatKprobe, FeatKprobeMulti, FeatFentry, FeatUprobe, FeatUprobeMulti,
	FeatTracepoint, FeatRawTracepoint, FeatRingBuf, FeatCookie, FeatGetFuncIP,
	FeatSleepableUprobe, FeatPerfEvent,
}

// Features answers "does the running kernel have X?" Each probe runs at most
// once, on first use, and only conclusive answers are cached. The zero value
// is not usable; call NewFeatures.
type Features struct {
	mu       sync.Mutex
	disabled map[Feature]bool
	results  map[Feature]error
	probes   map[Feature]func() error
}

// NewFeatures returns a feature set that probes the running kernel, with the
// named features forced off (as by --no-feature). Unknown names are an error
// listing the known ones.
func NewFeatures(disabled ...string) (*Features, error) {
	f := &Features{
		disabled: map[Feature]bool{},
		results:  map[Feature]error{},
		probes:   defaultProbes(),
	}
	for _, d := range disabled {
		for _, name := range strings.Split(d, ",") {
			name = strings.TrimSpace(name)
			if name == "" {
				continue
			}
			if _, ok := f.probes[Feature(name)]; !ok {
				return nil, fmt.Errorf("unknown feature %q (known: %s)", name, knownFeatures())
			}
			f.disabled[Feature(name)] = true
		}
	}
	return f, nil
}

// NewFakeFeatures returns a feature set with fixed answers, for tests: the
// listed features are present and every other one is missing.
func NewFakeFeatures(present ...Feature) *Features {
	f := &Features{disabled: map[Feature]bool{}, results: map[Feature]error{}, probes: map[Feature]func() error{}}
	have := map[Feature]bool{}
	for _, p := range present {
		have[p] = true
	}
	for _, name := range AllFeatures {
		name := name
		if have[name] {
			f.probes[name] = func() error { return nil }
		} else {
			f.probes[name] = func() error { return fmt.Errorf("%s: faked missing: %w", name, ErrNotSupported) }
		}
	}
	return f
}

func knownFeatures() string {
	names := make([]string, len(AllFeatures))
	for i, f := range AllFeatures {
		names[i] = string(f)
	}
	return strings.Join(names, ", ")
}

// Have returns nil when the kernel has the feature. It returns an error
// wrapping ErrNotSupported, with the reason, when the kernel lacks it or the
// user disabled it, and any other error when the probe could not run (for
// example without root).
func (f *Features) Have(name Feature) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.disabled[name] {
		return fmt.Errorf("%s disabled by --no-feature: %w", name, ErrNotSupported)
	}
	if err, ok := f.results[name]; ok {
		return err
	}
	probe, ok := f.probes[name]
	if !ok {
		return fmt.Errorf("unknown feature %q", name)
	}
	err := probe()
	if err == nil || errors.Is(err, ErrNotSupported) {
		f.results[name] = err
	}
	return err
}

// Disabled reports whether the user forced the feature off.
func (f *Features) Disabled(name Feature) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.disabled[name]
}

// FeatureStatus is one row of Report.
type FeatureStatus struct {
	Name Feature
	Err  error // nil: available
}

// Report probes every feature and returns the results in AllFeatures order.
func (f *Features) Report() []FeatureStatus {
	out := make([]FeatureStatus, 0, len(AllFeatures))
	for _, name := range AllFeatures {
		out = append(out, FeatureStatus{name, f.Have(name)})
	}
	return out
}

func defaultProbes() map[Feature]func() error {
	return map[Feature]func() error{
		FeatKprobe:          func() error { return probeProbeType("kprobe") },
		FeatUprobe:          func() error { return probeProbeType("uprobe") },
		FeatKprobeMulti:     features.HaveBPFLinkKprobeMulti,
		FeatUprobeMulti:     features.HaveBPFLinkUprobeMulti,
		FeatFentry:          probeFentry,
		FeatTracepoint:      func() error { return features.HaveProgramType(ebpf.TracePoint) },
		FeatRawTracepoint:   func() error { return features.HaveProgramType(ebpf.RawTracepoint) },
		FeatRingBuf:         func() error { return features.HaveMapType(ebpf.RingBuf) },
		FeatCookie:          func() error { return features.HaveProgramHelper(ebpf.Kprobe, asm.FnGetAttachCookie) },
		FeatGetFuncIP:       func() error { return features.HaveProgramHelper(ebpf.Kprobe, asm.FnGetFuncIp) },
		FeatSleepableUprobe: probeSleepableUprobe,
		FeatPerfEvent:       func() error { return features.HaveProgramType(ebpf.PerfEvent) },
	}
}

// tracefsDirs are where tracefs may be mounted.
var tracefsDirs = []string{"/sys/kernel/tracing", "/sys/kernel/debug/tracing"}

// probeProbeType checks for the kprobe or uprobe perf PMU, or the tracefs
// kprobe_events/uprobe_events file that the legacy fallback writes to.
func probeProbeType(typ string) error {
	if _, err := os.Stat("/sys/bus/event_source/devices/" + typ + "/type"); err == nil {
		return nil
	}
	for _, dir := range tracefsDirs {
		if _, err := os.Stat(dir + "/" + typ + "_events"); err == nil {
			return nil
		}
	}
	cfg := "CONFIG_KPROBES"
	if typ == "uprobe" {
		cfg = "CONFIG_UPROBES"
	}
	return fmt.Errorf("%ss: no %s PMU and no %s_events in tracefs (kernel built without %s): %w",
		typ, typ, typ, cfg, ErrNotSupported)
}

// probeFentry loads (but does not attach) a minimal fentry program on
// vfs_read. It needs kernel BTF. Kernels that refuse tracing programs
// (lockdown, or a distribution policy) answer EPERM even to root; that counts
// as "not supported" too.
func probeFentry() error {
	spec := &ebpf.ProgramSpec{
		Type:         ebpf.Tracing,
		AttachType:   ebpf.AttachTraceFEntry,
		AttachTo:     "vfs_read",
		License:      "GPL",
		Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, 0), asm.Return()},
	}
	prog, err := Load(spec)
	if err == nil {
		prog.Close()
		return nil
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("probe fentry: %w", err)
	}
	reason := err.Error()
	var errno syscall.Errno
	if errors.As(err, &errno) {
		reason = errno.Error() // drop cilium's MEMLOCK hint: root has no memlock limit here
	}
	return fmt.Errorf("fentry: the kernel refuses fentry programs (%s): %w", reason, ErrNotSupported)
}

// probeSleepableUprobe loads (but does not attach) a sleepable kprobe-type
// program that calls bpf_copy_from_user, the shape btool's sleepable
// uprobe programs have. Kernels before 6.0 refuse BPF_F_SLEEPABLE for
// kprobe-type programs ("Only fentry/fexit/fmod_ret, lsm, iter, uprobe,
// and struct_ops programs can be sleepable" names uprobes since 6.0) with
// EINVAL. The kernel checks that the program is attached to a uprobe (not
// a kprobe) only at attach time; btool makes only uprobe programs
// sleepable.
func probeSleepableUprobe() error {
	spec := &ebpf.ProgramSpec{
		Type:    ebpf.Kprobe,
		Flags:   unix.BPF_F_SLEEPABLE,
		License: "GPL",
		Instructions: asm.Instructions{
			asm.Mov.Reg(asm.R1, asm.RFP),
			asm.Add.Imm(asm.R1, -8),
			asm.Mov.Imm(asm.R2, 1),
			asm.Mov.Imm(asm.R3, 0),
			asm.FnCopyFromUser.Call(),
			asm.Mov.Imm(asm.R0, 0),
			asm.Return(),
		},
	}
	prog, err := ebpf.NewProgram(spec)
	if err == nil {
		prog.Close()
		return nil
	}
	if errors.Is(err, unix.EINVAL) || errors.Is(err, ErrNotSupported) {
		return fmt.Errorf("sleepable uprobes: the kernel refuses sleepable uprobe programs (needs 6.0): %w", ErrNotSupported)
	}
	return fmt.Errorf("probe sleepable uprobes: %w", err)
}
