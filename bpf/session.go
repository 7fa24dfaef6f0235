package bpf

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"

	"github.com/btool/btool/bpf/compile"
	"github.com/btool/btool/bpf/feature"
)

// DefaultProbeLimit is the most targets a probe may attach in a mode where
// each target costs its own link (fentry, kprobes, perf-event tracepoints,
// raw tracepoints, single uprobes), as in bcc: tens of thousands of such
// links take minutes to attach and detach. Multi-links (kprobe_multi,
// uprobe_multi, raw_syscalls) attach any number of targets in one call and
// are not limited.
const DefaultProbeLimit = 1000

// ErrProbeLimit is wrapped by the error of a mode skipped because a probe
// has more targets than SessionOptions.ProbeLimit.
var ErrProbeLimit = errors.New("probe limit")

// Probe is one probe to attach: targets of one kind, the attach modes to
// try, best first, and how to build the programs for a mode.
type Probe struct {
	Name    string // what messages call the probe: its spec or pattern
	Kind    compile.TargetKind
	Return  bool // attach to returns: kretprobe, fexit (by the program's attach type), uretprobe
	Targets []compile.Target
	Modes   []compile.Mode
	// Build generates the programs for mode m serving targets: all of
	// Targets, or the ones earlier modes could not attach. Every program
	// lists the targets it attaches to; the object declares its maps.
	Build func(m compile.Mode, targets []compile.Target) (*compile.Object, error)
}

// ModeTargets is the targets a probe attached with one mode.
type ModeTargets struct {
	Mode    compile.Mode
	Targets []compile.Target
}

// Attached reports how a probe was attached.
type Attached struct {
	ByMode  []ModeTargets   // the targets attached, by mode, in ladder order
	Skipped []SkippedTarget // targets no mode could attach, with the last error
	Tried   []error         // modes that failed as a whole, before or between the ones that worked
}

// Mode is the mode that attached the most targets.
func (a *Attached) Mode() compile.Mode {
	var best ModeTargets
	for _, mt := range a.ByMode {
		if len(mt.Targets) > len(best.Targets) {
			best = mt
		}
	}
	return best.Mode
}

// Targets returns every attached target.
func (a *Attached) Targets() []compile.Target {
	var ts []compile.Target
	for _, mt := range a.ByMode {
		ts = append(ts, mt.Targets...)
	}
	return ts
}

// SkippedTarget is a target that could not be attached, and why.
type SkippedTarget struct {
	Target compile.Target
	Err    error
}

// SessionOptions tune a Session.
type SessionOptions struct {
	// PID, when not zero, attaches uprobes for this process only, so
	// other processes don't even trap.
	PID uint32
	// ProbeLimit bounds the targets of a probe in per-target modes; 0
	// means DefaultProbeLimit, -1 no limit.
	ProbeLimit int
	// Log receives one line per decision (mode chosen, fallbacks,
	// timings) when non-nil; it is what -v prints.
	Log io.Writer
}

// Session owns the maps, programs and links of one run. Close it to detach
// everything.
type Session struct {
	opts SessionOptions

	mu       sync.Mutex
	declared map[string]*ebpf.MapSpec
	maps     map[string]*ebpf.Map
	progs    []*ebpf.Program
	links    []link.Link
	// probeMissed is what ProbeMissed counted on links Detach closed.
	probeMissed    uint64
	probeMissedSet bool
}

// NewSession returns an empty session.
func NewSession(o SessionOptions) *Session {
	return &Session{opts: o, declared: map[string]*ebpf.MapSpec{}, maps: map[string]*ebpf.Map{}}
}

func (s *Session) logf(format string, args ...any) {
	if s.opts.Log != nil {
		fmt.Fprintf(s.opts.Log, format+"\n", args...)
	}
}

// Declare records maps that programs will reference by name. Maps of the
// same name are one map: their type and key size must agree, and the
// largest value size and entry count win, so every probe's declaration
// fits. Declaring after the map was created fails if the map is too small.
func (s *Session) Declare(specs ...*ebpf.MapSpec) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, sp := range specs {
		old, ok := s.declared[sp.Name]
		if !ok {
			s.declared[sp.Name] = sp.Copy()
			continue
		}
		if old.Type != sp.Type || old.KeySize != sp.KeySize {
			return fmt.Errorf("map %s declared as %s/%d and %s/%d", sp.Name, old.Type, old.KeySize, sp.Type, sp.KeySize)
		}
		grow := sp.ValueSize > old.ValueSize || sp.MaxEntries > old.MaxEntries
		if grow && s.maps[sp.Name] != nil {
			return fmt.Errorf("map %s already exists with %d entries of %d bytes, too small for %d of %d", sp.Name, old.MaxEntries, old.ValueSize, sp.MaxEntries, sp.ValueSize)
		}
		old.ValueSize = max(old.ValueSize, sp.ValueSize)
		old.MaxEntries = max(old.MaxEntries, sp.MaxEntries)
	}
	return nil
}

// Map returns the session's map of that name, creating it from its
// declaration on first use; nil when it was never declared.
func (s *Session) Map(name string) *ebpf.Map {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, _ := s.mapLocked(name)
	return m
}

func (s *Session) mapLocked(name string) (*ebpf.Map, error) {
	if m := s.maps[name]; m != nil {
		return m, nil
	}
	spec := s.declared[name]
	if spec == nil {
		return nil, nil
	}
	m, err := ebpf.NewMap(spec)
	if err != nil {
		return nil, fmt.Errorf("create %s map: %w", name, err)
	}
	s.maps[name] = m
	return m, nil
}

// associate points spec's map references at the session's maps, creating
// them as needed.
func (s *Session) associate(spec *ebpf.ProgramSpec) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	seen := map[string]bool{}
	for _, ins := range spec.Instructions {
		name := ins.Reference()
		if !ins.IsLoadFromMap() || name == "" || seen[name] {
			continue
		}
		seen[name] = true
		m, err := s.mapLocked(name)
		if err != nil {
			return err
		}
		if m == nil {
			return fmt.Errorf("program %s references undeclared map %s", spec.Name, name)
		}
		if err := spec.Instructions.AssociateMap(name, m); err != nil && !errors.Is(err, asm.ErrUnreferencedSymbol) {
			return err
		}
	}
	return nil
}

// perTarget reports whether mode m costs one link per target.
func perTarget(m compile.Mode) bool {
	switch m {
	case compile.ModeKprobeMulti, compile.ModeUprobeMulti, compile.ModeRawSyscalls:
		return false
	}
	return true
}

// Attach walks p's mode ladder: it builds, loads and attaches p's programs
// with the first mode, then retries the targets that mode could not attach
// with the next one (functions fentry refuses get kprobes), and so on. A
// mode that fails as a whole is skipped only when its error means "not
// supported here" (see fallsBack); any other error, and cancellation of
// ctx, stops at once. It fails, with everything of p released, when no
// target attached; the error names every mode tried and why it failed, and
// a verifier rejection keeps its *ebpf.VerifierError (see ProbeError).
func (s *Session) Attach(ctx context.Context, p *Probe) (*Attached, error) {
	start := time.Now()
	a := &Attached{}
	remaining := p.Targets
	var lastErrs map[int]error // skipped targets' errors, by index in remaining
	triedAt := 0               // len(a.Tried) when lastErrs was recorded
	var verr *ProbeError
	limit := s.opts.ProbeLimit
	if limit == 0 {
		limit = DefaultProbeLimit
	}
	for mi, m := range p.Modes {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if perTarget(m) && limit > 0 && len(remaining) > limit {
			err := &limitError{mode: m, n: len(remaining), limit: limit}
			a.Tried = append(a.Tried, err)
			s.logf("%s: %v", p.Name, err)
			continue
		}
		obj, err := p.Build(m, remaining)
		if err == nil {
			err = s.Declare(obj.Maps...)
		}
		var ok []compile.Target
		var skipped []SkippedTarget
		if err == nil {
			ok, skipped, err = s.attachObject(ctx, obj, p)
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			var ve *ebpf.VerifierError
			if errors.As(err, &ve) {
				pe := &ProbeError{Mode: m, Err: err}
				var le *loadError
				if errors.As(err, &le) {
					pe.Part, pe.HasPart = compile.FailedPart(le.insns, ve.Log)
				}
				verr = pe
			}
			if !fallsBack(err) {
				return nil, fmt.Errorf("%s: %w", m, err)
			}
			s.logf("%s: %s failed, falling back: %v", p.Name, m, err)
			a.Tried = append(a.Tried, fmt.Errorf("%s: %w", m, err))
			continue
		}
		a.ByMode = append(a.ByMode, ModeTargets{Mode: m, Targets: ok})
		s.logf("%s: attached %d of %d target(s) with %s in %v", p.Name, len(ok), len(remaining), m, time.Since(start).Round(time.Microsecond))
		remaining = remaining[:0:0]
		lastErrs = map[int]error{}
		triedAt = len(a.Tried)
		for _, sk := range skipped {
			lastErrs[len(remaining)] = sk.Err
			remaining = append(remaining, sk.Target)
		}
		if len(remaining) == 0 {
			break
		}
		if mi < len(p.Modes)-1 {
			s.logf("%s: %d target(s) failed with %s, trying %s", p.Name, len(remaining), m, p.Modes[mi+1])
		}
	}
	if len(a.ByMode) == 0 {
		if le := allLimited(a.Tried); le != nil {
			return nil, &limitError{probe: p.Name, mode: le.mode, n: le.n, limit: le.limit}
		}
		if verr != nil && len(a.Tried) > 0 && errors.Is(a.Tried[len(a.Tried)-1], verr.Err) {
			return nil, verr
		}
		msgs := make([]string, len(a.Tried))
		for i, e := range a.Tried {
			msgs[i] = trimSentinel(e)
		}
		hint := ""
		for _, e := range a.Tried {
			if errors.Is(e, ErrProbeLimit) {
				hint = " (raise the probe limit with --probe-limit N, or 0 for none)"
				break
			}
		}
		err := fmt.Errorf("cannot attach %s (%d %s target(s)): %s%s", p.Name, len(p.Targets), p.Kind, strings.Join(msgs, "; "), hint)
		for _, e := range a.Tried {
			if errors.Is(e, ErrNotSupported) {
				return nil, &unsupportedError{err.Error()}
			}
		}
		return nil, err
	}
	// A skipped target's reason is the last mode's that tried it: a later
	// mode's failure for the leftovers (a single uprobe saying why the
	// instruction can't be probed) says more than the batch's; the probe
	// limit says less.
	var later error
	if len(a.Tried) > triedAt {
		if e := a.Tried[len(a.Tried)-1]; !errors.Is(e, ErrProbeLimit) {
			later = e
		}
	}
	for i, t := range remaining {
		err := lastErrs[i]
		if later != nil || err == nil && len(a.Tried) > 0 {
			err = cmp.Or(later, a.Tried[len(a.Tried)-1])
		}
		a.Skipped = append(a.Skipped, SkippedTarget{Target: t, Err: err})
	}
	return a, nil
}

// limitError is a mode skipped because a probe has more targets than the
// probe limit allows where each target costs a link.
type limitError struct {
	probe    string // set on the probe's final error
	mode     compile.Mode
	n, limit int
}

func (e *limitError) Error() string {
	if e.probe != "" {
		return fmt.Sprintf("%s: %d targets exceed the limit of %d probes where each target costs its own link (%s); raise it with --probe-limit N, or 0 for none",
			e.probe, e.n, e.limit, e.mode)
	}
	return fmt.Sprintf("%s: %d targets exceed the probe limit of %d", e.mode, e.n, e.limit)
}
func (e *limitError) Unwrap() error { return ErrProbeLimit }

// allLimited returns the first mode's limit error when every mode tried
// was skipped for the probe limit, else nil.
func allLimited(tried []error) *limitError {
	var first *limitError
	for _, e := range tried {
		var le *limitError
		if !errors.As(e, &le) {
			return nil
		}
		if first == nil {
			first = le
		}
	}
	return first
}

// fallsBack reports whether a mode's failure means "this mechanism doesn't
// work here", so the next mode may: the kernel lacks it, refuses it (a
// verifier rejection judges each mode's program on its own terms: fentry
// arguments are typed pointers, kprobe arguments plain integers), or
// rejects the target for it. Resource exhaustion (EMFILE, ENOMEM) and
// cancellation are not: another mode would fail the same way.
func fallsBack(err error) bool {
	if errors.Is(err, ErrNotSupported) || errors.Is(err, ErrProbeLimit) {
		return true
	}
	var ve *ebpf.VerifierError
	if errors.As(err, &ve) {
		return true
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		switch errno {
		case syscall.EMFILE, syscall.ENFILE, syscall.ENOMEM, syscall.EINTR:
			return false
		}
		return true
	}
	return !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded)
}

// attachObject loads obj's programs and attaches them. Per-target programs
// and links that fail alone are skipped; the error is set only when
// nothing attached, and then everything of obj is released.
func (s *Session) attachObject(ctx context.Context, obj *compile.Object, p *Probe) ([]compile.Target, []SkippedTarget, error) {
	type result struct {
		prog    *ebpf.Program
		links   []link.Link
		ok      []compile.Target
		skipped []SkippedTarget
		err     error
	}
	results := make([]result, len(obj.Programs))
	parallelFor(len(obj.Programs), func(i int) {
		pr := obj.Programs[i]
		r := &results[i]
		if ctx.Err() != nil {
			r.err = ctx.Err()
			return
		}
		spec := pr.Spec.Copy()
		if r.err = s.associate(spec); r.err != nil {
			return
		}
		prog, err := feature.Load(spec)
		if err != nil {
			r.err = &loadError{insns: spec.Instructions, err: fmt.Errorf("load %s program: %w", obj.Mode, explainLoadErr(err))}
			if len(pr.Targets) == 1 && len(obj.Programs) > 1 {
				r.skipped = []SkippedTarget{{pr.Targets[0], r.err}}
			}
			return
		}
		r.prog = prog
		r.links, r.ok, r.skipped, r.err = AttachProgram(ctx, prog, pr.Targets, ProgramAttach{Mode: obj.Mode, Kind: obj.Kind, Return: p.Return, PID: s.opts.PID, Cookie: pr.Cookie})
	})
	var ok []compile.Target
	var skipped []SkippedTarget
	var firstErr error
	for _, r := range results {
		ok = append(ok, r.ok...)
		skipped = append(skipped, r.skipped...)
		if r.err != nil && firstErr == nil {
			firstErr = r.err
		}
	}
	if len(ok) == 0 || ctx.Err() != nil {
		for _, r := range results {
			closeAll(r.links)
			if r.prog != nil {
				r.prog.Close()
			}
		}
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		if firstErr == nil && len(skipped) > 0 {
			firstErr = skipped[0].Err
		}
		if firstErr == nil {
			firstErr = errors.New("no targets")
		}
		return nil, nil, firstErr
	}
	// A program shared by several targets failed as a whole: its targets
	// go to the next mode with the others that failed.
	for i, r := range results {
		if r.err != nil && len(r.ok) == 0 && len(r.skipped) == 0 {
			for _, t := range obj.Programs[i].Targets {
				skipped = append(skipped, SkippedTarget{t, r.err})
			}
		}
	}
	s.mu.Lock()
	for _, r := range results {
		if r.prog != nil && len(r.ok) > 0 {
			s.progs = append(s.progs, r.prog)
		} else if r.prog != nil {
			r.prog.Close()
		}
		s.links = append(s.links, r.links...)
	}
	s.mu.Unlock()
	return ok, skipped, nil
}

// ProbeError is a verifier rejection of a probe's program on the last mode
// of its ladder, with the part of the spec whose code was rejected.
type ProbeError struct {
	Mode    compile.Mode
	Err     error
	Part    compile.SpecPart // the part of the spec whose code was rejected
	HasPart bool
}

func (e *ProbeError) Error() string { return fmt.Sprintf("%s: %v", e.Mode, e.Err) }
func (e *ProbeError) Unwrap() error { return e.Err }

// loadError carries the instructions of a program the kernel refused, so
// a verifier rejection can be mapped back to the spec.
type loadError struct {
	insns asm.Instructions
	err   error
}

func (e *loadError) Error() string { return e.err.Error() }
func (e *loadError) Unwrap() error { return e.err }

// PerCPUSums returns the values of the per-CPU u64 array name, summed over
// CPUs, one per key: batched lookups where the kernel has them (5.6),
// else one lookup per key.
func (s *Session) PerCPUSums(name string) ([]uint64, error) {
	m := s.Map(name)
	if m == nil {
		return nil, fmt.Errorf("no map %s", name)
	}
	ncpu, err := ebpf.PossibleCPU()
	if err != nil {
		return nil, err
	}
	n := int(m.MaxEntries())
	keys := make([]uint32, n)
	vals := make([]uint64, n*ncpu)
	sums := make([]uint64, n)
	var cursor ebpf.MapBatchCursor
	done := 0
	for done < n {
		got, err := m.BatchLookup(&cursor, keys[done:], vals[done*ncpu:], nil)
		for i := 0; i < got; i++ {
			var sum uint64
			for _, v := range vals[(done+i)*ncpu : (done+i+1)*ncpu] {
				sum += v
			}
			sums[keys[done+i]] = sum
		}
		done += got
		if errors.Is(err, ebpf.ErrKeyNotExist) {
			break
		}
		if errors.Is(err, ebpf.ErrNotSupported) {
			return perCPUSumsSlow(m, sums, ncpu)
		}
		if err != nil {
			return nil, err
		}
	}
	return sums, nil
}

func perCPUSumsSlow(m *ebpf.Map, sums []uint64, ncpu int) ([]uint64, error) {
	per := make([]uint64, ncpu)
	for k := range sums {
		if err := m.Lookup(uint32(k), per); err != nil {
			return nil, err
		}
		var sum uint64
		for _, v := range per {
			sum += v
		}
		sums[k] = sum
	}
	return sums, nil
}

// Missed returns how many times the kernel skipped one of the session's
// programs because it was already running on that CPU (recursion
// protection of fentry/fexit, kprobe_multi and raw tracepoints; 5.12+).
// Those events are lost too.
func (s *Session) Missed() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var n uint64
	for _, p := range s.progs {
		if st, err := p.Stats(); err == nil {
			n += st.RecursionMisses
		}
	}
	return n
}

// LostCount returns the records the kernel dropped because the ring buffer
// was full (compile.MapLost), summed over CPUs; 0 without that map.
func (s *Session) LostCount() (uint64, error) {
	m := s.Map(compile.MapLost)
	if m == nil {
		return 0, nil
	}
	var per []uint64
	if err := m.Lookup(uint32(0), &per); err != nil {
		return 0, err
	}
	var n uint64
	for _, v := range per {
		n += v
	}
	return n, nil
}

// StackAddrs returns the addresses of stack id in compile.MapStacks, leaf
// first, or nil when the id or the map is unknown.
func (s *Session) StackAddrs(id int32) []uint64 {
	m := s.Map(compile.MapStacks)
	if m == nil || id < 0 {
		return nil
	}
	var buf [127]uint64
	if err := m.Lookup(uint32(id), &buf); err != nil {
		return nil
	}
	n := 0
	for n < len(buf) && buf[n] != 0 {
		n++
	}
	return append([]uint64(nil), buf[:n]...)
}

// Detach closes every link, so no program runs any more, but keeps the
// programs and maps: a tool can still drain its event buffer, read its
// counters, stacks and lost counts, and Missed. Close frees the rest; it
// is safe to call Close after Detach, and Detach more than once.
func (s *Session) Detach() {
	s.mu.Lock()
	links := s.links
	s.links = nil
	if n, ok := linksMissed(links); ok {
		s.probeMissed += n
		s.probeMissedSet = true
	}
	s.mu.Unlock()
	closeAll(links)
}

// ProbeMissed returns how many times the kernel did not run one of the
// session's kprobe, kretprobe, kprobe_multi or uprobe_multi programs: a
// kretprobe whose maxactive instances were all in use (the return of a
// call the tool then never sees), or a probe hit while another BPF
// program ran on that CPU. Links closed by Detach keep counting. ok is
// false when no link of the session reports it: the kernel has bpf_link
// missed counts from 6.7 (kprobe_multi from 6.7, perf-event kprobes from
// 6.7, uprobe_multi from 6.7), and tracepoints and plain uprobes have none.
func (s *Session) ProbeMissed() (n uint64, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, ok = linksMissed(s.links)
	return n + s.probeMissed, ok || s.probeMissedSet
}

// linksMissed sums the missed counts the kernel reports for links.
func linksMissed(links []link.Link) (n uint64, ok bool) {
	for _, l := range links {
		info, err := l.Info()
		if err != nil {
			continue
		}
		switch info.Type {
		case link.KprobeMultiType:
			if km := info.KprobeMulti(); km != nil {
				n, ok = n+km.Missed, true
			}
		case link.UprobeMultiType:
			if um := info.UprobeMulti(); um != nil {
				n, ok = n+um.Missed, true
			}
		case link.PerfEventType:
			if pe := info.PerfEvent(); pe != nil {
				if kp := pe.Kprobe(); kp != nil {
					n, ok = n+kp.Missed, true
				}
			}
		}
	}
	return n, ok
}

// Close detaches every link (in parallel: closing a perf-event link costs
// an RCU grace period, so serial closing of hundreds takes tens of
// seconds), unloads the programs and frees the maps. It is safe to call
// more than once.
func (s *Session) Close() error {
	s.mu.Lock()
	links, progs, maps := s.links, s.progs, s.maps
	s.links, s.progs, s.maps = nil, nil, map[string]*ebpf.Map{}
	s.mu.Unlock()
	closeAll(links)
	for _, p := range progs {
		p.Close()
	}
	for _, m := range maps {
		m.Close()
	}
	return nil
}
