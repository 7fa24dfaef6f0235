package bpf

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"

	"github.com/btool/btool/bpf/compile"
	"github.com/btool/btool/bpf/feature"
)

// AttachedGroup reports how one compile.CountGroup was attached.
type AttachedGroup struct {
	Kind    compile.TargetKind
	Mode    compile.Mode
	Targets []compile.Target // the targets that are attached
	Skipped []SkippedTarget  // targets that failed individually (per-target modes only)
	Tried   []error          // modes that failed before compile.Mode worked, in ladder order
}

// SkippedTarget is a target that could not be attached, and why.
type SkippedTarget struct {
	Target compile.Target
	Err    error
}

// Counters is a loaded and attached compile.CountPlan. Close it to detach.
type Counters struct {
	Plan   *compile.CountPlan
	Groups []AttachedGroup

	counts *ebpf.Map
	ncpu   int
	keys   []uint32
	vals   []uint64

	mu    sync.Mutex
	progs []*ebpf.Program
	links []link.Link
}

// AttachOptions tune AttachCounters.
type AttachOptions struct {
	// Log receives one line per decision (mode chosen, fallbacks, timings)
	// when non-nil; it is what -v prints.
	Log io.Writer
}

func (o *AttachOptions) logf(format string, args ...any) {
	if o != nil && o.Log != nil {
		fmt.Fprintf(o.Log, format+"\n", args...)
	}
}

// AttachCounters loads and attaches counting programs for every group in p,
// walking each group's mode ladder (see compile.Ladder) and falling back one step
// when a mode is unsupported or refused. On failure nothing stays attached.
// Needs root. The error wraps ErrNotSupported when no mechanism fits.
func AttachCounters(ctx context.Context, p *compile.CountPlan, f *feature.Features, opts *AttachOptions) (_ *Counters, err error) {
	counts, err := ebpf.NewMap(p.CountsSpec())
	if err != nil {
		return nil, fmt.Errorf("create counts map: %w", explainLoadErr(err))
	}
	ncpu, err := ebpf.PossibleCPU()
	if err != nil {
		counts.Close()
		return nil, err
	}
	c := &Counters{Plan: p, counts: counts, ncpu: ncpu}
	defer func() {
		if err != nil {
			c.Close()
		}
	}()
	for gi := range p.Groups {
		g := &p.Groups[gi]
		modes, err := UsableModes(g.Kind, f)
		if err != nil {
			return nil, err
		}
		ag := AttachedGroup{Kind: g.Kind}
		var attached bool
		for _, m := range modes {
			start := time.Now()
			obj, err := compile.CompileCounter(p, g, m, f.Have(feature.FeatCookie) == nil)
			if err == nil {
				ag.Targets, ag.Skipped, err = c.attachObject(ctx, obj)
			}
			if err != nil {
				opts.logf("%s: %s failed, falling back: %v", g.Kind, m, err)
				ag.Tried = append(ag.Tried, fmt.Errorf("%s: %w", m, err))
				continue
			}
			ag.Mode = m
			opts.logf("%s: attached %d of %d target(s) with %s in %v", g.Kind, len(ag.Targets), len(g.Targets), m, time.Since(start).Round(time.Microsecond))
			for _, s := range ag.Skipped {
				opts.logf("  skipped %s: %v", s.Target.Name, s.Err)
			}
			attached = true
			break
		}
		if !attached {
			msgs := make([]string, len(ag.Tried))
			for i, e := range ag.Tried {
				msgs[i] = e.Error()
			}
			return nil, fmt.Errorf("cannot attach to %d %s target(s): %s", len(g.Targets), g.Kind, strings.Join(msgs, "; "))
		}
		c.Groups = append(c.Groups, ag)
	}
	return c, nil
}

// attachObject loads obj's programs and attaches them. Per-target modes
// attach in parallel and skip targets that fail alone; if every target
// fails, the first error is returned and everything from obj is released.
func (c *Counters) attachObject(ctx context.Context, obj *compile.Object) ([]compile.Target, []SkippedTarget, error) {
	type result struct {
		prog    *ebpf.Program
		links   []link.Link
		ok      []compile.Target
		skipped []SkippedTarget
		err     error
	}
	results := make([]result, len(obj.Programs))
	parallelFor(len(obj.Programs), func(i int) {
		p := obj.Programs[i]
		r := &results[i]
		if ctx.Err() != nil {
			r.err = ctx.Err()
			return
		}
		spec := p.Spec.Copy()
		if err := spec.Instructions.AssociateMap(compile.MapCounts, c.counts); err != nil {
			r.err = err
			return
		}
		prog, err := feature.Load(spec)
		if err != nil {
			r.err = fmt.Errorf("load %s program: %w", obj.Mode, explainLoadErr(err))
			if len(p.Targets) == 1 {
				r.skipped = []SkippedTarget{{p.Targets[0], r.err}}
			}
			return
		}
		r.prog = prog
		r.links, r.ok, r.skipped, r.err = AttachProgram(ctx, prog, p.Targets, ProgramAttach{Mode: obj.Mode, Kind: obj.Kind, PID: c.Plan.PID})
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
	shared := len(obj.Programs) == 1 && len(obj.Programs[0].Targets) > 1
	if len(ok) == 0 || (shared && firstErr != nil) {
		for _, r := range results {
			closeAll(r.links)
			if r.prog != nil {
				r.prog.Close()
			}
		}
		if firstErr == nil && len(skipped) > 0 {
			firstErr = skipped[0].Err
		}
		if firstErr == nil {
			firstErr = errors.New("no targets")
		}
		return nil, nil, firstErr
	}
	c.mu.Lock()
	for _, r := range results {
		if r.prog != nil {
			c.progs = append(c.progs, r.prog)
		}
		c.links = append(c.links, r.links...)
	}
	c.mu.Unlock()
	return ok, skipped, nil
}

// ProgramAttach says how AttachProgram attaches a program.
type ProgramAttach struct {
	Mode   compile.Mode
	Kind   compile.TargetKind
	Return bool   // attach to function returns (kretprobe, uretprobe); fexit is chosen by the program's AttachType
	PID    uint32 // uprobes: attach for this process only; 0 for all
}

// AttachProgram attaches one loaded program to targets: one multi-link
// (kprobe_multi, uprobe_multi, raw_syscalls) or one link per target,
// attached in parallel. Per-target modes skip targets that fail alone and
// return them as skipped; the error is set only when nothing attached. Each
// target's Slot is its attach cookie. Uprobes also filter by PID in the
// kernel's uprobe layer, so other processes don't even trap.
func AttachProgram(ctx context.Context, prog *ebpf.Program, targets []compile.Target, pa ProgramAttach) ([]link.Link, []compile.Target, []SkippedTarget, error) {
	m, kind, pid := pa.Mode, pa.Kind, pa.PID
	switch m {
	case compile.ModeKprobeMulti:
		syms := make([]string, len(targets))
		cookies := make([]uint64, len(targets))
		for i, t := range targets {
			syms[i], cookies[i] = t.Symbol, uint64(t.Slot)
		}
		kmulti := link.KprobeMulti
		if pa.Return {
			kmulti = link.KretprobeMulti
		}
		l, err := kmulti(prog, link.KprobeMultiOptions{Symbols: syms, Cookies: cookies})
		if err != nil {
			return nil, nil, nil, fmt.Errorf("kprobe_multi link on %d functions: %w", len(syms), err)
		}
		return []link.Link{l}, targets, nil, nil
	case compile.ModeRawSyscalls:
		name := "sys_enter"
		if kind == compile.SyscallExit {
			name = "sys_exit"
		}
		l, err := link.AttachRawTracepoint(link.RawTracepointOptions{Name: name, Program: prog})
		if err != nil {
			return nil, nil, nil, fmt.Errorf("raw tracepoint %s: %w", name, err)
		}
		return []link.Link{l}, targets, nil, nil
	case compile.ModeUprobeMulti:
		byPath := map[string][]compile.Target{}
		var order []string
		for _, t := range targets {
			if _, ok := byPath[t.Path]; !ok {
				order = append(order, t.Path)
			}
			byPath[t.Path] = append(byPath[t.Path], t)
		}
		var links []link.Link
		for _, path := range order {
			ts := byPath[path]
			ex, err := link.OpenExecutable(path)
			if err != nil {
				closeAll(links)
				return nil, nil, nil, err
			}
			o := &link.UprobeMultiOptions{PID: pid}
			var refs bool
			for _, t := range ts {
				o.Addresses = append(o.Addresses, t.Offset)
				o.Cookies = append(o.Cookies, uint64(t.Slot))
				o.RefCtrOffsets = append(o.RefCtrOffsets, t.RefCtrOffset)
				refs = refs || t.RefCtrOffset != 0
			}
			if !refs {
				o.RefCtrOffsets = nil
			}
			umulti := ex.UprobeMulti
			if pa.Return {
				umulti = ex.UretprobeMulti
			}
			l, err := umulti(nil, prog, o)
			if err != nil {
				closeAll(links)
				return nil, nil, nil, fmt.Errorf("uprobe_multi link on %d locations in %s: %w", len(ts), path, err)
			}
			links = append(links, l)
		}
		return links, targets, nil, nil
	}

	// Per-target modes: one link per target, attached in parallel.
	links := make([]link.Link, len(targets))
	errs := make([]error, len(targets))
	parallelFor(len(targets), func(i int) {
		if ctx.Err() != nil {
			errs[i] = ctx.Err()
			return
		}
		links[i], errs[i] = attachOne(pa, prog, targets[i])
	})
	var ok []compile.Target
	var skipped []SkippedTarget
	var out []link.Link
	for i, t := range targets {
		if errs[i] != nil {
			skipped = append(skipped, SkippedTarget{t, errs[i]})
			continue
		}
		ok = append(ok, t)
		out = append(out, links[i])
	}
	if len(ok) == 0 {
		return nil, nil, skipped, skipped[0].Err
	}
	return out, ok, skipped, nil
}

func attachOne(pa ProgramAttach, prog *ebpf.Program, t compile.Target) (link.Link, error) {
	cookie := uint64(t.Slot)
	switch pa.Mode {
	case compile.ModeFentry:
		return link.AttachTracing(link.TracingOptions{Program: prog})
	case compile.ModeKprobe:
		if pa.Return {
			return link.Kretprobe(t.Symbol, prog, &link.KprobeOptions{Cookie: cookie})
		}
		return link.Kprobe(t.Symbol, prog, &link.KprobeOptions{Cookie: cookie})
	case compile.ModeRawTracepoint:
		return link.AttachRawTracepoint(link.RawTracepointOptions{Name: t.Event, Program: prog})
	case compile.ModeTracepoint:
		return link.Tracepoint(t.Category, t.Event, prog, &link.TracepointOptions{Cookie: cookie})
	case compile.ModeUprobe:
		ex, err := link.OpenExecutable(t.Path)
		if err != nil {
			return nil, err
		}
		uo := &link.UprobeOptions{Address: t.Offset, Cookie: cookie, RefCtrOffset: t.RefCtrOffset, PID: int(pa.PID)}
		if pa.Return {
			return ex.Uretprobe("", prog, uo)
		}
		return ex.Uprobe("", prog, uo)
	}
	return nil, fmt.Errorf("mode %s is not a per-target mode", pa.Mode)
}

// Read returns the current count of every slot, summed over CPUs. The
// returned slice is reused by the next call.
func (c *Counters) Read() ([]uint64, error) {
	n := int(c.Plan.Slots)
	if c.keys == nil {
		c.keys = make([]uint32, n)
		c.vals = make([]uint64, n*c.ncpu)
	}
	sums := make([]uint64, n)
	var cursor ebpf.MapBatchCursor
	done := 0
	for done < n {
		got, err := c.counts.BatchLookup(&cursor, c.keys[done:], c.vals[done*c.ncpu:], nil)
		for i := 0; i < got; i++ {
			var s uint64
			for _, v := range c.vals[(done+i)*c.ncpu : (done+i+1)*c.ncpu] {
				s += v
			}
			sums[c.keys[done+i]] = s
		}
		done += got
		if errors.Is(err, ebpf.ErrKeyNotExist) {
			break
		}
		if err != nil {
			if errors.Is(err, ebpf.ErrNotSupported) {
				return c.readSlow(sums)
			}
			return nil, err
		}
	}
	return sums, nil
}

// readSlow reads slot by slot, for kernels without batch lookups (< 5.6).
func (c *Counters) readSlow(sums []uint64) ([]uint64, error) {
	per := make([]uint64, c.ncpu)
	for k := range sums {
		if err := c.counts.Lookup(uint32(k), per); err != nil {
			return nil, err
		}
		var s uint64
		for _, v := range per {
			s += v
		}
		sums[k] = s
	}
	return sums, nil
}

// Close detaches every link and unloads every program, in parallel: closing
// a perf-event link costs an RCU grace period in the kernel, so serial
// closing of hundreds of links takes tens of seconds.
func (c *Counters) Close() error {
	c.mu.Lock()
	links, progs := c.links, c.progs
	c.links, c.progs = nil, nil
	c.mu.Unlock()
	closeAll(links)
	for _, p := range progs {
		p.Close()
	}
	if c.counts != nil {
		c.counts.Close()
		c.counts = nil
	}
	return nil
}

func closeAll(links []link.Link) {
	parallelFor(len(links), func(i int) {
		if links[i] != nil {
			links[i].Close()
		}
	})
}

// parallelFor runs fn(0..n-1) on a bounded pool of goroutines. The work is
// mostly waiting in the kernel, so the pool is larger than the CPU count.
func parallelFor(n int, fn func(i int)) {
	if n == 1 {
		fn(0)
		return
	}
	workers := 4 * runtime.NumCPU()
	if workers > 64 {
		workers = 64
	}
	if workers > n {
		workers = n
	}
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				fn(i)
			}
		}()
	}
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
}

// explainLoadErr keeps the verifier's short summary and says when the cause
// is missing privileges.
func explainLoadErr(err error) error {
	var ve *ebpf.VerifierError
	if errors.As(err, &ve) {
		return fmt.Errorf("verifier rejected the program: %v", ve)
	}
	return err
}
