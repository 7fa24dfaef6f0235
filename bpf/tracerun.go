package bpf

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"

	"github.com/btool/btool/bpf/compile"
	"github.com/btool/btool/bpf/feature"
)

// TraceProbe is one probe of `btool trace`, ready to compile and attach.
type TraceProbe struct {
	Kind    compile.TargetKind
	Return  bool
	Targets []compile.Target // each compile.Target's Slot is its index, used as the attach cookie
	// Modes is the ladder to try, best first (see UsableModes).
	Modes []compile.Mode
	// Compile generates the program for mode m. target is -1 for a program
	// shared by every target (the cookie tells them apart), or the index of
	// the one target the program serves (fentry binds a program to one
	// function). Programs reference the maps by the Map* names.
	Compile func(m compile.Mode, target int) (*ebpf.ProgramSpec, error)
}

// TraceSessionOptions tune AttachTrace.
type TraceSessionOptions struct {
	PerfBuffer  bool   // use a perf event array instead of a ring buffer (kernels < 5.8)
	BufferPages int    // ring buffer size in pages (total), or perf pages per CPU; 0 means the default
	Stacks      bool   // create the stack trace map
	RecordSize  int    // largest record, for the perf-buffer scratch map
	PID         uint32 // uprobes: attach for this process only
	Log         io.Writer
}

// TraceSession is a set of attached trace programs and their maps. Close it
// to detach.
type TraceSession struct {
	Events *ebpf.Map      // ring buffer or perf event array
	Lost   *ebpf.Map      // per-CPU array of one u64: records the kernel could not reserve
	Stacks *ebpf.Map      // nil unless stacks were asked for
	Modes  []compile.Mode // the mode each probe attached with
	// Attached[i] lists the targets of probe i that attached.
	Attached [][]compile.Target

	mu    sync.Mutex
	maps  map[string]*ebpf.Map
	progs []*ebpf.Program
	links []link.Link
}

// ProbeError is a failure of one probe's program, such as a verifier
// rejection, with the probe's index so callers can point at its spec.
type ProbeError struct {
	Index   int
	Mode    compile.Mode
	Err     error
	Part    compile.SpecPart // for verifier rejections: the part of the spec whose code was rejected
	HasPart bool
}

// loadError carries the instructions of a program the kernel refused, so
// a verifier rejection can be mapped back to the spec.
type loadError struct {
	insns asm.Instructions
	err   error
}

func (e *loadError) Error() string { return e.err.Error() }
func (e *loadError) Unwrap() error { return e.err }

func (e *ProbeError) Error() string { return fmt.Sprintf("probe %d (%s): %v", e.Index, e.Mode, e.Err) }
func (e *ProbeError) Unwrap() error { return e.Err }

// DefaultRingPages is the default ring buffer size in pages: 4 MiB.
const DefaultRingPages = 1024

// AttachTrace creates the maps, then compiles, loads and attaches each
// probe, walking its mode ladder. On failure nothing stays attached. A
// verifier rejection is returned as is (a *ebpf.VerifierError inside), so
// the caller can tie it to the spec.
func AttachTrace(ctx context.Context, probes []TraceProbe, o TraceSessionOptions) (_ *TraceSession, err error) {
	s := &TraceSession{maps: map[string]*ebpf.Map{}}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	if err := s.createMaps(o); err != nil {
		return nil, err
	}
	for i, p := range probes {
		start := time.Now()
		var tried []string
		var attachedWith compile.Mode
		for mi, m := range p.Modes {
			ok, err := s.load(ctx, p, m, o)
			if err != nil {
				var ve *ebpf.VerifierError
				if errors.As(err, &ve) && mi == len(p.Modes)-1 {
					pe := &ProbeError{Index: i, Mode: m, Err: err}
					var le *loadError
					if errors.As(err, &le) {
						pe.Part, pe.HasPart = compile.FailedPart(le.insns, ve.Log)
					}
					return nil, pe
				}
				// The verifier judges each mode's program on its own
				// terms (fentry arguments are typed pointers, kprobe
				// arguments plain integers), so the next mode may pass.
				logf(o.Log, "probe %d: %s failed, falling back: %v", i, m, err)
				tried = append(tried, fmt.Sprintf("%s: %v", m, err))
				continue
			}
			attachedWith = m
			s.Attached = append(s.Attached, ok)
			logf(o.Log, "probe %d: attached %d of %d target(s) with %s in %v", i, len(ok), len(p.Targets), m, time.Since(start).Round(time.Microsecond))
			break
		}
		if attachedWith == 0 {
			return nil, fmt.Errorf("cannot attach probe %d (%s): %s", i, p.Kind, strings.Join(tried, "; "))
		}
		s.Modes = append(s.Modes, attachedWith)
	}
	return s, nil
}

func logf(w io.Writer, format string, args ...any) {
	if w != nil {
		fmt.Fprintf(w, format+"\n", args...)
	}
}

func (s *TraceSession) createMaps(o TraceSessionOptions) error {
	newMap := func(spec *ebpf.MapSpec) (*ebpf.Map, error) {
		m, err := ebpf.NewMap(spec)
		if err != nil {
			return nil, fmt.Errorf("create %s map: %w", spec.Name, err)
		}
		s.maps[spec.Name] = m
		return m, nil
	}
	var err error
	if o.PerfBuffer {
		s.Events, err = newMap(&ebpf.MapSpec{Name: compile.MapEvents, Type: ebpf.PerfEventArray})
	} else {
		pages := o.BufferPages
		if pages <= 0 {
			pages = DefaultRingPages
		}
		s.Events, err = newMap(&ebpf.MapSpec{Name: compile.MapEvents, Type: ebpf.RingBuf, MaxEntries: uint32(pages * 4096)})
	}
	if err != nil {
		return err
	}
	if s.Lost, err = newMap(&ebpf.MapSpec{Name: compile.MapLost, Type: ebpf.PerCPUArray, KeySize: 4, ValueSize: 8, MaxEntries: 1}); err != nil {
		return err
	}
	if o.Stacks {
		if s.Stacks, err = newMap(&ebpf.MapSpec{Name: compile.MapStacks, Type: ebpf.StackTrace, KeySize: 4, ValueSize: 127 * 8, MaxEntries: 16384}); err != nil {
			return err
		}
	}
	if o.PerfBuffer {
		size := o.RecordSize
		if size < 8 {
			size = 8
		}
		if _, err := newMap(&ebpf.MapSpec{Name: compile.MapScratch, Type: ebpf.PerCPUArray, KeySize: 4, ValueSize: uint32(size), MaxEntries: 1}); err != nil {
			return err
		}
	}
	return nil
}

// associate points the program's map references at the session's maps.
func (s *TraceSession) associate(spec *ebpf.ProgramSpec) error {
	for name, m := range s.maps {
		err := spec.Instructions.AssociateMap(name, m)
		if err != nil && !errors.Is(err, asm.ErrUnreferencedSymbol) {
			return err
		}
	}
	return nil
}

// load compiles and loads p's program(s) for mode m, one shared program or
// one per target for fentry, and attaches them.
func (s *TraceSession) load(ctx context.Context, p TraceProbe, m compile.Mode, o TraceSessionOptions) ([]compile.Target, error) {
	var specs []*ebpf.ProgramSpec
	var groups [][]compile.Target
	if m == compile.ModeFentry {
		// fentry programs are bound to one function at load time.
		for i, t := range p.Targets {
			spec, err := p.Compile(m, i)
			if err != nil {
				return nil, err
			}
			spec.AttachTo = t.Symbol
			specs = append(specs, spec)
			groups = append(groups, []compile.Target{t})
		}
	} else {
		spec, err := p.Compile(m, -1)
		if err != nil {
			return nil, err
		}
		specs, groups = []*ebpf.ProgramSpec{spec}, [][]compile.Target{p.Targets}
	}
	type result struct {
		prog  *ebpf.Program
		links []link.Link
		ok    []compile.Target
		err   error
	}
	results := make([]result, len(specs))
	parallelFor(len(specs), func(i int) {
		r := &results[i]
		sp := specs[i].Copy()
		if r.err = s.associate(sp); r.err != nil {
			return
		}
		r.prog, r.err = feature.Load(sp)
		if r.err != nil {
			r.err = &loadError{insns: sp.Instructions, err: r.err}
			return
		}
		r.links, r.ok, _, r.err = AttachProgram(ctx, r.prog, groups[i], ProgramAttach{Mode: m, Kind: p.Kind, Return: p.Return, PID: o.PID})
	})
	var ok []compile.Target
	var firstErr error
	for _, r := range results {
		ok = append(ok, r.ok...)
		if r.err != nil && firstErr == nil {
			firstErr = r.err
		}
	}
	if len(ok) == 0 {
		for _, r := range results {
			closeAll(r.links)
			if r.prog != nil {
				r.prog.Close()
			}
		}
		if firstErr == nil {
			firstErr = errors.New("no targets")
		}
		return nil, firstErr
	}
	s.mu.Lock()
	for _, r := range results {
		if r.prog != nil {
			s.progs = append(s.progs, r.prog)
		}
		s.links = append(s.links, r.links...)
	}
	s.mu.Unlock()
	return ok, nil
}

// Missed returns how many times the kernel skipped one of the session's
// programs because it was already running on that CPU (recursion
// protection of fentry/fexit, kprobe_multi and raw tracepoints; 5.12+).
// Those events are lost too.
func (s *TraceSession) Missed() uint64 {
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

// LostCount returns the number of records the kernel dropped because the
// ring buffer was full, summed over CPUs.
func (s *TraceSession) LostCount() (uint64, error) {
	var per []uint64
	if err := s.Lost.Lookup(uint32(0), &per); err != nil {
		return 0, err
	}
	var n uint64
	for _, v := range per {
		n += v
	}
	return n, nil
}

// StackAddrs returns the addresses of stack id in the stacks map, leaf
// first, or nil when the id is unknown.
func (s *TraceSession) StackAddrs(id int32) []uint64 {
	if s.Stacks == nil || id < 0 {
		return nil
	}
	var buf [127]uint64
	if err := s.Stacks.Lookup(uint32(id), &buf); err != nil {
		return nil
	}
	n := 0
	for n < len(buf) && buf[n] != 0 {
		n++
	}
	return append([]uint64(nil), buf[:n]...)
}

// Close detaches every link (in parallel), unloads the programs and frees
// the maps.
func (s *TraceSession) Close() error {
	s.mu.Lock()
	links, progs, maps := s.links, s.progs, s.maps
	s.links, s.progs, s.maps = nil, nil, nil
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
