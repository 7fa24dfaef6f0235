package multitool

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	ebtf "github.com/cilium/ebpf/btf"

	"github.com/btool/btool/bpf"
	"github.com/btool/btool/bpf/compile"
	"github.com/btool/btool/bpf/feature"
	"github.com/btool/btool/btf"
	"github.com/btool/btool/dwarfinfo"
	"github.com/btool/btool/internal/syscalls"
	"github.com/btool/btool/specparse"
)

// This file is probe planning, shared by every tool: a probe head (where
// to attach: kernel function, tracepoint, user function or USDT probe,
// entry or return, maybe with wildcards) resolves against Sources to a
// Plan: the attach targets, the attach modes to try, and what a program
// sees at each target (its Context). Targets whose contexts are identical
// share a layout, and a tool compiles one program per layout (per mode).

// HeadKind is what a probe head names.
type HeadKind uint8

// The kinds of probe heads.
const (
	HeadKernel     HeadKind = iota + 1 // p::func, r::func, funccount's func
	HeadTracepoint                     // t:category:event
	HeadUser                           // p:lib:func, r:lib:func, lib:func
	HeadUSDT                           // u:lib:[provider:]probe
	HeadSoftware                       // s:software:event(period): a perf software event (argdist; HeadOfSoftwareEvent)
)

// ProbeHead is the part of a probe spec that says where to attach, from a
// trace probe (HeadOfProbe) or a funccount pattern (HeadOfPattern).
type ProbeHead struct {
	Spec       string // the whole spec as typed, for errors
	Kind       HeadKind
	Return     bool
	Library    string // library or binary (HeadUser, HeadUSDT); category (HeadTracepoint)
	LibraryPos specparse.Pos
	Provider   string // USDT provider; "" for any
	Func       string // function, event or probe (a glob or regex unless Literal); HeadSoftware: the event as typed (name or alias)
	FuncPos    specparse.Pos
	Offset     uint64 // +offset after a function; 0 if none
	Period     uint64 // HeadSoftware: the sample period given; 0 means the event's default
	Literal    bool   // Func has no wildcards
	// Signature is a user-written prototype that overrides BTF/DWARF
	// (bcc's `p::do_sys_open(int dfd, const char *filename)`); nil if
	// none was given.
	Signature []*specparse.Param
	// Glob is set when Func is a glob (not a regex), so the syscall
	// tracepoint fallback can reuse it on syscall names.
	Glob bool
	// ReadsNothing says the probe reads no argument, field or return
	// value (no filter, no printf arguments), so every target shares the
	// first one's context and formats and prototypes are not read for
	// the others.
	ReadsNothing bool
	// QualifiedEvents names tracepoint targets "category:event" (funccount)
	// rather than "event" (trace's FUNC column).
	QualifiedEvents bool

	match      func(name string) bool
	matchEvent func(category, event string) bool
	matchUSDT  func(provider, name string) bool
}

func (h *ProbeHead) funcSpan() (specparse.Pos, specparse.Pos) {
	return h.FuncPos, h.FuncPos + specparse.Pos(len(h.Func))
}

func (h *ProbeHead) libSpan() specSpan {
	return specSpan{h.Spec, h.LibraryPos, h.LibraryPos + specparse.Pos(len(h.Library))}
}

func (h *ProbeHead) errorf(pos, end specparse.Pos, format string, args ...any) error {
	return specErr(h.Spec, pos, end, format, args...)
}

// offsetSpan locates "+0x11" after the function name.
func (h *ProbeHead) offsetSpan() (specparse.Pos, specparse.Pos) {
	pos := h.FuncPos + specparse.Pos(len(h.Func))
	end := pos
	if int(end) < len(h.Spec) && h.Spec[end] == '+' {
		end++
		for int(end) < len(h.Spec) && strings.IndexByte("0123456789abcdefABCDEFxX", h.Spec[end]) >= 0 {
			end++
		}
	}
	if end == pos {
		end = pos + 1
	}
	return pos, end
}

func hasGlob(s string) bool { return strings.ContainsAny(s, "*?[") }

// perfTracepointFirst returns modes with a syscall's raw sys_enter or
// sys_exit tracepoint (filtered by number) moved after the perf
// tracepoint of that syscall. The raw one is what funccount wants for
// many syscalls at once, but for one syscall it runs for every system
// call of the machine and must read the arguments through pt_regs with a
// helper: argdist's count of sys_enter_read's count took 137 ns of BPF
// time per read there against 69 ns on the perf tracepoint (bpftrace: 125
// ns). Not for kernel stacks: on the 5.10 and 6.1 kernels of the test
// VMs the perf syscall tracepoint hands the program user registers, and
// bpf_get_stackid found no kernel frames. Other ladders come back unchanged.
func perfTracepointFirst(modes []compile.Mode) []compile.Mode {
	if len(modes) > 1 && modes[0] == compile.ModeRawSyscalls {
		return append(append([]compile.Mode(nil), modes[1:]...), modes[0])
	}
	return modes
}

// headKind is what a trace or argdist probe of kind k names: a
// tracepoint, a USDT probe, a user function when it has a library, else a
// kernel function.
func headKind(k specparse.ProbeKind, library string) HeadKind {
	switch {
	case k == specparse.TracepointProbe:
		return HeadTracepoint
	case k == specparse.USDTProbe:
		return HeadUSDT
	case library != "":
		return HeadUser
	}
	return HeadKernel
}

// HeadOfProbe returns the head of a trace probe. Its errors are
// UsageErrors in spec.
func HeadOfProbe(p *specparse.Probe, spec string) (*ProbeHead, error) {
	h := &ProbeHead{Spec: spec, Return: p.Kind == specparse.Return, Library: p.Library, LibraryPos: p.LibraryPos,
		Provider: p.Provider, Func: p.Func, FuncPos: p.FuncPos, Offset: p.Offset, Literal: !hasGlob(p.Func),
		Signature: p.Params, Glob: true, ReadsNothing: p.Filter == nil && len(p.Args) == 0}
	h.Kind = headKind(p.Kind, p.Library)
	re, err := specparse.Glob(p.Func)
	if err != nil {
		pos, end := h.funcSpan()
		return nil, h.errorf(pos, end, "%v", err)
	}
	h.match = re.MatchString
	if h.Kind == HeadTracepoint {
		cat, err := specparse.Glob(p.Library)
		if err != nil {
			_, end := h.funcSpan()
			return nil, h.errorf(h.LibraryPos, end, "bad tracepoint pattern %s:%s", p.Library, p.Func)
		}
		h.Literal = !hasGlob(p.Library + p.Func)
		h.matchEvent = func(c, e string) bool { return cat.MatchString(c) && re.MatchString(e) }
	}
	h.matchUSDT = func(provider, name string) bool {
		return (p.Provider == "" || p.Provider == provider) && re.MatchString(name)
	}
	return h, nil
}

// HeadOfPattern returns the head of a funccount-style pattern.
func HeadOfPattern(p *specparse.Pattern) (*ProbeHead, error) {
	m, err := p.Matcher()
	if err != nil {
		return nil, usageErr(p.Raw, err)
	}
	h := &ProbeHead{Spec: p.Raw, Library: p.Target, LibraryPos: p.TargetPos, Func: p.Func, FuncPos: p.FuncPos,
		Literal: p.IsLiteral(), Glob: !p.Regex, QualifiedEvents: true, match: m.Match, matchEvent: m.MatchEvent}
	h.matchUSDT = func(provider, name string) bool { return m.Match(name) || m.Match(provider+":"+name) }
	switch p.Kind {
	case specparse.KernelFunc:
		h.Kind = HeadKernel
	case specparse.Tracepoint:
		h.Kind = HeadTracepoint
	case specparse.UserFunc:
		h.Kind = HeadUser
	case specparse.USDT:
		h.Kind = HeadUSDT
	default:
		return nil, fmt.Errorf("unsupported pattern kind %v", p.Kind)
	}
	return h, nil
}

// Plan is a probe head resolved to its attach targets.
//
// Targets[i].Slot is i: the attach cookie, the HdrTarget index of trace
// records and the FUNC column's index into Targets. For kernel functions
// Targets[i].Offset is the offset into the function of a kprobe at
// func+offset (0 for the entry); for user locations it is the file offset,
// as in compile.Target.
//
// Layouts are the distinct contexts of the targets; LayoutOf[i] is the
// index in Layouts of Targets[i]'s context. Layouts is empty unless the
// Planner computes contexts (Planner.Contexts).
type Plan struct {
	Head    *ProbeHead
	Kind    compile.TargetKind
	Return  bool // attach to returns (kretprobe, fexit, uretprobe); false for Go returns, probed at their RETs
	Targets []compile.Target
	// Modes is trace's attach ladder, best first: bpf.UsableModes of
	// Kind, narrowed (a kprobe at an offset is ModeKprobe only; a
	// tracepoint is ModeTracepoint, or ModeRawSyscalls first for one
	// syscall). funccount's counter groups (CountGroups) take their
	// ladders from bpf.UsableModes of each group's kind, as before.
	Modes    []compile.Mode
	Layouts  []*Context
	LayoutOf []int
	// Syscall is 1 + the syscall number of a single-syscall tracepoint
	// probe, which ModeRawSyscalls filters on; 0 otherwise.
	Syscall int
}

// LayoutTargets returns the targets of layout l, in Targets order.
func (p *Plan) LayoutTargets(l int) []compile.Target {
	var ts []compile.Target
	for i, t := range p.Targets {
		if p.LayoutOf[i] == l {
			ts = append(ts, t)
		}
	}
	return ts
}

// MergeLayouts merges layouts for which key returns the same string (for
// example: the same generated code in every mode, because the spec reads
// nothing in which they differ), keeping the first of each, and
// renumbers LayoutOf. It stops at key's first error.
func (p *Plan) MergeLayouts(key func(l int) (string, error)) error {
	index := map[string]int{}
	remap := make([]int, len(p.Layouts))
	var kept []*Context
	for l := range p.Layouts {
		k, err := key(l)
		if err != nil {
			return err
		}
		if j, ok := index[k]; ok {
			remap[l] = j
			continue
		}
		index[k] = len(kept)
		remap[l] = len(kept)
		kept = append(kept, p.Layouts[l])
	}
	p.Layouts = kept
	for i := range p.LayoutOf {
		p.LayoutOf[i] = remap[p.LayoutOf[i]]
	}
	return nil
}

// CountGroups splits the targets into funccount's counting groups:
// syscall entry and exit tracepoints (counted by syscall number in the
// raw_syscalls mode) apart from other targets.
func (p *Plan) CountGroups() []compile.CountGroup {
	if p.Kind == compile.KernelFunc || p.Kind == compile.UserFunc {
		return []compile.CountGroup{{Kind: p.Kind, Targets: p.Targets}}
	}
	var enter, exit, other []compile.Target
	for _, t := range p.Targets {
		switch {
		case t.Category == "syscalls" && strings.HasPrefix(t.Event, "sys_enter_") && t.Syscall >= 0:
			enter = append(enter, t)
		case t.Category == "syscalls" && strings.HasPrefix(t.Event, "sys_exit_") && t.Syscall >= 0:
			exit = append(exit, t)
		default:
			other = append(other, t)
		}
	}
	var groups []compile.CountGroup
	for _, g := range []compile.CountGroup{{Kind: compile.SyscallEnter, Targets: enter}, {Kind: compile.SyscallExit, Targets: exit}, {Kind: compile.Tracepoint, Targets: other}} {
		if len(g.Targets) > 0 {
			groups = append(groups, g)
		}
	}
	return groups
}

// Planner resolves probe heads to Plans. Its zero value is not usable:
// set Src and Features.
type Planner struct {
	Src      Sources
	Features *feature.Features
	Log      func(format string, args ...any) // verbose notes; nil for none
	// DryRun plans kernel functions with kprobes even where the kernel
	// has none, so -D can show the program.
	DryRun bool
	// Contexts computes each target's Context (trace); funccount, which
	// reads no arguments, leaves it unset.
	Contexts bool

	kernel   *btf.Kernel
	kernErr  error
	loaded   bool
	binaries map[string]Binary // by the library as a probe spells it
	opened   []Binary          // each open file once
	ids      map[ebtf.Type]int
}

// Close closes the binaries the plans opened. Contexts of user probes
// read types from them, so close only when done compiling.
func (pl *Planner) Close() {
	for _, b := range pl.opened {
		b.Close()
	}
	pl.binaries, pl.opened = nil, nil
}

func (pl *Planner) logf(format string, args ...any) {
	if pl.Log != nil {
		pl.Log(format, args...)
	}
}

// kernelBTF loads kernel BTF once; nil when the kernel has none.
func (pl *Planner) kernelBTF() *btf.Kernel {
	if !pl.loaded {
		pl.loaded = true
		pl.kernel, pl.kernErr = pl.Src.Kernel()
	}
	return pl.kernel
}

func (pl *Planner) kernelLookup(name string) (ebtf.Type, error) {
	k := pl.kernelBTF()
	if k == nil {
		if pl.kernErr == nil {
			return nil, btf.ErrNotFound
		}
		return nil, pl.kernErr
	}
	return k.Type(name)
}

// lazyKernel is a TypeSource that loads kernel BTF (about 10 ms) only when
// a probe actually names a kernel type, so tracepoint probes start fast.
type lazyKernel struct{ pl *Planner }

func (l lazyKernel) Type(name string) (ebtf.Type, error) { return l.pl.kernelLookup(name) }

func (l lazyKernel) EnumValue(name string) (int64, bool) {
	if k := l.pl.kernelBTF(); k != nil {
		if ev, ok := any(k).(interface{ EnumValue(string) (int64, bool) }); ok {
			return ev.EnumValue(name)
		}
	}
	return 0, false
}

// Plan resolves h. Errors about what the user typed are UsageErrors
// pointing into h.Spec.
func (pl *Planner) Plan(h *ProbeHead) (*Plan, error) {
	var plan *Plan
	var err error
	switch h.Kind {
	case HeadKernel:
		plan, err = pl.planKernel(h)
	case HeadTracepoint:
		plan, err = pl.planTracepoint(h, h.Library, h.Func, h.matchEvent, "")
	case HeadUser:
		plan, err = pl.planUser(h)
	case HeadUSDT:
		plan, err = pl.planUSDT(h)
	case HeadSoftware:
		plan, err = pl.planSoftware(h)
	default:
		err = fmt.Errorf("unsupported probe kind %d", h.Kind)
	}
	if err != nil {
		return nil, err
	}
	for i := range plan.Targets {
		plan.Targets[i].Slot = uint32(i)
	}
	if !pl.Contexts {
		plan.Layouts, plan.LayoutOf = nil, nil
	}
	return plan, nil
}

// setContexts groups per-target contexts by key into Layouts and LayoutOf.
func (plan *Plan) setContexts(ctxs []*Context) {
	index := map[string]int{}
	plan.Layouts, plan.LayoutOf = nil, make([]int, len(ctxs))
	for i, c := range ctxs {
		l, ok := index[c.key]
		if !ok {
			l = len(plan.Layouts)
			index[c.key] = l
			plan.Layouts = append(plan.Layouts, c)
		}
		plan.LayoutOf[i] = l
	}
}

var longType = &ebtf.Int{Name: "long", Size: 8, Encoding: ebtf.Signed}
var u64Type = compile.UntypedU64

// maxTypedTargets bounds the wildcard matches whose prototypes are looked
// up; past it arguments are untyped arg1..arg6 for every target.
const maxTypedTargets = 64

func (pl *Planner) planKernel(h *ProbeHead) (*Plan, error) {
	pos, end := h.funcSpan()
	modes, mechErr := bpf.UsableModes(compile.KernelFunc, pl.Features)
	if mechErr != nil && !errors.Is(mechErr, bpf.ErrNotSupported) {
		return nil, mechErr
	}
	_, isSyscall := syscalls.Canonical(h.Func)
	if mechErr != nil && pl.DryRun && !isSyscall {
		modes, mechErr = []compile.Mode{compile.ModeKprobe}, nil
	}
	if h.Offset != 0 {
		if h.Return {
			opos, oend := h.offsetSpan()
			return nil, h.errorf(opos, oend, "a return probe cannot have an offset")
		}
		if !h.Literal {
			opos, oend := h.offsetSpan()
			return nil, h.errorf(opos, oend, "an offset needs one function, not a wildcard")
		}
	}
	// Syscall names: with kprobes or fentry, probe the arch wrapper;
	// without them, the syscalls:sys_{enter,exit}_* tracepoints carry the
	// same arguments.
	if rest, ok := syscalls.CutPrefix(h.Func); ok {
		if name, ok := syscalls.Canonical(h.Func); ok && h.Literal {
			if mechErr != nil {
				if h.Offset != 0 {
					return nil, mechErr
				}
				dir := map[bool]string{false: "enter", true: "exit"}[h.Return]
				pl.logf("no kprobes or fentry on this kernel: tracing %s through syscalls:sys_%s_%s", h.Func, dir, name)
				ev := "sys_" + dir + "_" + name
				return pl.planTracepoint(h, "syscalls", ev, func(c, e string) bool { return c == "syscalls" && e == ev }, h.Func)
			}
			return pl.planSyscallWrapper(h, name, modes)
		} else if mechErr != nil && h.Glob && !h.Literal && !h.Return {
			if re, err := specparse.Glob(rest); err == nil {
				pl.logf("no kprobes or fentry on this kernel: probing %s through syscalls:sys_enter_* tracepoints", h.Func)
				match := func(c, e string) bool {
					n, ok := strings.CutPrefix(e, "sys_enter_")
					return c == "syscalls" && ok && re.MatchString(n)
				}
				plan, err := pl.planTracepoint(h, "syscalls", "sys_enter_"+rest, match, "")
				if err != nil {
					return nil, err
				}
				for i := range plan.Targets {
					plan.Targets[i].Name = "sys_" + strings.TrimPrefix(plan.Targets[i].Event, "sys_enter_")
				}
				return plan, nil
			}
		}
	}
	if mechErr != nil {
		return nil, mechErr
	}
	var targets []compile.Target
	var k *btf.Kernel
	if pl.Contexts {
		k = pl.kernelBTF()
	}
	if pl.Contexts && h.Literal && h.match(h.Func) && k != nil && k.HasFunc(h.Func) {
		targets = []compile.Target{{Name: h.Func, Symbol: h.Func}}
	} else {
		funcs, err := pl.Src.KernelFuncs()
		if err != nil {
			return nil, fmt.Errorf("list kernel functions: %w", err)
		}
		for _, kf := range funcs {
			if h.match(kf.Name) {
				targets = append(targets, compile.Target{Name: kf.Name, Symbol: kf.Name})
			}
		}
		if len(targets) == 0 {
			if h.Literal {
				names := make([]string, len(funcs))
				for i, kf := range funcs {
					names[i] = kf.Name
				}
				return nil, h.errorf(pos, end, "unknown kernel function %q (not traceable: not in available_filter_functions or kallsyms, inlined, or marked notrace)%s", h.Func, didYouMean(suggest(h.Func, names, 3)))
			}
			return nil, h.errorf(pos, end, "no kernel functions match %q", h.Func)
		}
	}
	plan := &Plan{Head: h, Kind: compile.KernelFunc, Return: h.Return, Modes: modes, Targets: targets}
	if h.Offset != 0 {
		if err := pl.kprobeAtOffset(h, plan); err != nil {
			return nil, err
		}
	}
	if pl.Contexts {
		plan.setContexts(pl.kernelContexts(h, targets))
	}
	return plan, nil
}

// kprobeAtOffset narrows plan to a kprobe at h.Offset into its one
// function. fentry and kprobe_multi attach at function entry only, so
// they leave the ladder; the offset must start an instruction (checked by
// decoding the function's live text when the kernel lets us read it).
func (pl *Planner) kprobeAtOffset(h *ProbeHead, plan *Plan) error {
	opos, oend := h.offsetSpan()
	var modes []compile.Mode
	for _, m := range plan.Modes {
		if m == compile.ModeKprobe {
			modes = append(modes, m)
		}
	}
	if len(modes) == 0 {
		return h.errorf(opos, oend, "an offset needs a kprobe (fentry and kprobe_multi attach at function entry only), and this kernel has no kprobes")
	}
	plan.Modes = modes
	t := &plan.Targets[0]
	t.Offset = h.Offset
	if err := pl.checkKernelOffset(t.Symbol, h.Offset); err != nil {
		var oe *offsetError
		if errors.As(err, &oe) {
			return h.errorf(opos, oend, "%s", oe.msg)
		}
		pl.logf("%s+%#x: not checked against the kernel's instructions: %v", t.Symbol, h.Offset, err)
	}
	return nil
}

// offsetError is an offset that does not start an instruction.
type offsetError struct{ msg string }

func (e *offsetError) Error() string { return e.msg }

// checkKernelOffset decodes sym's text up to off: an *offsetError when off
// is inside an instruction or past the function, another error when the
// text cannot be read or decoded (the offset is then accepted unchecked;
// the kernel itself refuses a kprobe inside an instruction with EILSEQ).
func (pl *Planner) checkKernelOffset(sym string, off uint64) error {
	const slack = 16 // read past off to tell "past the end" from "at the end"
	code, err := pl.Src.KernelText(sym, int(off)+slack)
	if err != nil {
		return err
	}
	return checkInstructionBoundary(sym, code, off, len(code) < int(off)+slack)
}

// kernelContexts returns the context of each kernel function target: its
// BTF prototype, or untyped arg1..arg6 without BTF or past maxTypedTargets.
func (pl *Planner) kernelContexts(h *ProbeHead, targets []compile.Target) []*Context {
	ctxs := make([]*Context, len(targets))
	k := pl.kernelBTF()
	untyped := func(t compile.Target) *Context {
		return pl.newContext(&Context{Kind: CtxKernelFunc, Return: h.Return, Target: t.Name, Params: padParams(nil, 6), Ret: u64Type})
	}
	if h.Signature != nil {
		c := pl.newContext(&Context{Kind: CtxKernelFunc, Return: h.Return, Target: targets[0].Name,
			Params: applySignature(h.Signature, nil, pl.kernelLookup), Ret: u64Type})
		for i := range ctxs {
			ctxs[i] = c
		}
		return ctxs
	}
	if k == nil || len(targets) > maxTypedTargets {
		for i, t := range targets {
			ctxs[i] = untyped(t)
		}
		return ctxs
	}
	for i, t := range targets {
		if h.ReadsNothing && i > 0 {
			ctxs[i] = ctxs[0]
			continue
		}
		fn, err := k.Func(t.Symbol)
		if err != nil {
			ctxs[i] = untyped(t)
			continue
		}
		c := &Context{Kind: CtxKernelFunc, Return: h.Return, Target: t.Name, Ret: u64Type}
		for _, prm := range fn.Params {
			c.Params = append(c.Params, compile.ParamType{Name: prm.Name, Type: prm.Type})
		}
		if fn.Ret != nil {
			c.Ret = fn.Ret
		}
		ctxs[i] = pl.newContext(c)
	}
	return ctxs
}

func (pl *Planner) planSyscallWrapper(h *ProbeHead, name string, modes []compile.Mode) (*Plan, error) {
	plan := &Plan{Head: h, Kind: compile.KernelFunc, Return: h.Return, Modes: modes,
		Targets: []compile.Target{{Name: h.Func, Symbol: syscalls.WrapperSymbol(name)}}}
	if h.Offset != 0 {
		if err := pl.kprobeAtOffset(h, plan); err != nil {
			return nil, err
		}
	}
	if !pl.Contexts {
		return plan, nil
	}
	pos, end := h.funcSpan()
	f, err := pl.Src.Format("syscalls", "sys_enter_"+name)
	if err != nil {
		return nil, h.errorf(pos, end, "syscall %s: %v", name, err)
	}
	var params []compile.ParamType
	for _, fld := range f.Fields {
		if fld.Common || fld.Name == "__syscall_nr" {
			continue
		}
		t, err := btf.ParseCType(fld.Type, fld.Size, fld.Signed, pl.kernelLookup)
		if err != nil {
			t = nil
		}
		params = append(params, compile.ParamType{Name: fld.Name, Type: t})
	}
	if h.Signature != nil {
		params = applySignature(h.Signature, params, pl.kernelLookup)
	}
	plan.setContexts([]*Context{pl.newContext(&Context{Kind: CtxSyscallWrapper, Return: h.Return, Target: h.Func, Params: params, Ret: longType})})
	return plan, nil
}

// padParams extends params to n untyped arguments so arg1..argN work
// without a prototype.
func padParams(params []compile.ParamType, n int) []compile.ParamType {
	for len(params) < n {
		params = append(params, compile.ParamType{})
	}
	return params
}

// applySignature overrides params with a signature the user wrote, like
// bcc's `p::do_sys_open(int dfd, const char __user *filename)`.
func applySignature(sig []*specparse.Param, params []compile.ParamType, lookup btf.TypeLookup) []compile.ParamType {
	if sig == nil {
		return params
	}
	out := make([]compile.ParamType, len(sig))
	for i, prm := range sig {
		t, err := btf.ParseCType(prm.Type.String(), 8, false, lookup)
		if err != nil {
			t = nil
		}
		out[i] = compile.ParamType{Name: prm.Name, Type: t}
	}
	return out
}

// planTracepoint plans the tracepoints category:event matched by match.
// display, when set, names a single match in the FUNC column (a syscall
// traced through its tracepoint).
func (pl *Planner) planTracepoint(h *ProbeHead, category, event string, match func(c, e string) bool, display string) (*Plan, error) {
	pos, end := h.LibraryPos, h.FuncPos+specparse.Pos(len(h.Func))
	var events []struct{ c, e string }
	if !hasGlob(category+event) && h.Glob {
		if _, err := pl.Src.Format(category, event); err == nil && match(category, event) {
			events = append(events, struct{ c, e string }{category, event})
		}
	}
	var names []string
	if events == nil {
		all, err := pl.Src.Events()
		if err != nil {
			return nil, err
		}
		for _, ev := range all {
			names = append(names, ev.Category+":"+ev.Name)
			if match(ev.Category, ev.Name) {
				events = append(events, struct{ c, e string }{ev.Category, ev.Name})
			}
		}
	}
	if len(events) == 0 {
		if h.Literal || display != "" {
			return nil, h.errorf(pos, end, "unknown tracepoint %s:%s%s", category, event, didYouMean(suggest(category+":"+event, names, 3)))
		}
		return nil, h.errorf(pos, end, "no tracepoints match %s:%s", category, event)
	}
	plan := &Plan{Head: h, Kind: compile.Tracepoint, Modes: []compile.Mode{compile.ModeTracepoint}}
	for _, ev := range events {
		t := compile.Target{Name: ev.e, Category: ev.c, Event: ev.e, Syscall: -1}
		if h.Kind == HeadTracepoint && h.QualifiedEvents {
			t.Name = ev.c + ":" + ev.e
		}
		if display != "" {
			t.Name = display
		}
		if ev.c == "syscalls" {
			if nr, ok := syscalls.NumberForTracepoint(ev.e); ok {
				t.Syscall = nr
			}
		}
		plan.Targets = append(plan.Targets, t)
	}
	first := plan.Targets[0]
	if first.Category == "syscalls" {
		plan.Kind = compile.SyscallEnter
		if strings.HasPrefix(first.Event, "sys_exit_") {
			plan.Kind = compile.SyscallExit
		}
		// One syscall: a raw tracepoint on sys_enter/sys_exit filtered by
		// number attaches and detaches in microseconds, where a perf-event
		// tracepoint costs an RCU grace period (~75 ms) to close.
		if first.Syscall >= 0 && len(plan.Targets) == 1 && pl.Features.Have(feature.FeatRawTracepoint) == nil {
			plan.Modes = []compile.Mode{compile.ModeRawSyscalls, compile.ModeTracepoint}
			plan.Syscall = first.Syscall + 1
		}
	}
	if !pl.Contexts {
		// Counting: the ladder of each group is chosen by the counter.
		return plan, nil
	}
	if err := pl.Features.Have(feature.FeatTracepoint); err != nil && plan.Syscall == 0 {
		return nil, err
	}
	ctxs := make([]*Context, len(plan.Targets))
	for i, t := range plan.Targets {
		if h.ReadsNothing && i > 0 {
			ctxs[i] = ctxs[0]
			continue
		}
		f, err := pl.Src.Format(t.Category, t.Event)
		if err != nil {
			return nil, fmt.Errorf("tracepoint %s:%s: %w", t.Category, t.Event, err)
		}
		c := &Context{Kind: CtxTracepoint, Target: t.Category + ":" + t.Event, Syscalls: t.Category == "syscalls",
			SyscallExit: t.Category == "syscalls" && strings.HasPrefix(t.Event, "sys_exit_")}
		for _, f := range f.Fields {
			if f.Common {
				continue
			}
			typ, err := btf.ParseCType(f.Type, f.Size, f.Signed, pl.kernelLookup)
			if err != nil {
				typ = nil
			}
			a := compile.Arg{Name: f.Name, Type: typ, Kind: compile.ArgCtx, Off: int16(f.Offset), Size: f.Size, Signed: f.Signed, User: f.User}
			if f.DataLoc {
				a.Kind, a.Size = compile.ArgDataLoc, 4
			} else if a.Size > 8 || (a.Size != 1 && a.Size != 2 && a.Size != 4 && a.Size != 8) {
				a.Size = 0 // arrays: addressed, not loaded
			}
			c.Fields = append(c.Fields, a)
		}
		ctxs[i] = pl.newContext(c)
	}
	plan.setContexts(ctxs)
	return plan, nil
}

// dwarfRegs maps x86_64 DWARF register numbers to pt_regs names.
var dwarfRegs = []string{"ax", "dx", "cx", "bx", "si", "di", "bp", "sp", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"}

// openBinary opens the library or binary h names, once per planner: every
// probe naming it, however spelled ("c", "libc", a path through a
// symlink), shares one open file and one copy of its symbols and DWARF,
// and attaches through that file (Binary.File), so the path is opened once.
func (pl *Planner) openBinary(h *ProbeHead) (Binary, error) {
	if b, ok := pl.binaries[h.Library]; ok {
		return b, nil
	}
	b, err := pl.Src.OpenBinary(h.Library)
	if err != nil {
		return nil, h.libSpan().errorf("%v", err)
	}
	if pl.binaries == nil {
		pl.binaries = map[string]Binary{}
	}
	if st, err := b.Stat(); err == nil {
		for _, o := range pl.opened {
			if ost, err := o.Stat(); err == nil && os.SameFile(st, ost) {
				b.Close()
				pl.binaries[h.Library] = o
				return o, nil
			}
		}
	}
	pl.binaries[h.Library] = b
	pl.opened = append(pl.opened, b)
	afterOpen()
	return b, nil
}

// afterOpen runs after the planner opens a binary; tests set it to change
// the file system between parsing and attaching.
var afterOpen = func() {}

func (pl *Planner) planUser(h *ProbeHead) (*Plan, error) {
	pos, end := h.funcSpan()
	b, err := pl.openBinary(h)
	if err != nil {
		return nil, err
	}
	matched, err := findFunctions(b, h.match, h.Func, h.Literal, specSpan{h.Spec, pos, end})
	if err != nil {
		return nil, err
	}
	modes, err := bpf.UsableModes(compile.UserFunc, pl.Features)
	if err != nil {
		return nil, err
	}
	isGo := b.IsGo()
	plan := &Plan{Head: h, Kind: compile.UserFunc, Return: h.Return, Modes: modes}
	var of []int // matched index of each target
	if h.Return && isGo && pl.Contexts {
		// uretprobes corrupt Go's moving stacks: probe every RET instead.
		plan.Return = false
		for si, s := range matched {
			offs, err := retSites(b, s)
			if err != nil {
				return nil, h.errorf(pos, end, "can't place return probes on Go function %s: %v (uretprobes would crash a Go program)", s.Name, err)
			}
			for _, off := range offs {
				plan.Targets = append(plan.Targets, compile.Target{Name: s.Demangled, Path: b.Path(), File: b.File(), Offset: off})
				of = append(of, si)
			}
		}
		pl.logf("%s is a Go binary: tracing returns of %s with uprobes on its %d RET instructions", b.Path(), h.Func, len(plan.Targets))
	} else {
		for si, s := range matched {
			if h.Offset != 0 && s.Size != 0 && h.Offset >= s.Size {
				opos, oend := h.offsetSpan()
				return nil, h.errorf(opos, oend, "offset %#x is past the end of %s (%d bytes)", h.Offset, s.Demangled, s.Size)
			}
			plan.Targets = append(plan.Targets, compile.Target{Name: s.Demangled, Path: b.Path(), File: b.File(), Offset: s.Offset + h.Offset})
			of = append(of, si)
		}
		if !pl.Contexts {
			sort.SliceStable(plan.Targets, func(i, j int) bool { return plan.Targets[i].Offset < plan.Targets[j].Offset })
		}
	}
	if !pl.Contexts {
		return plan, nil
	}
	perFunc := make([]*Context, len(matched))
	for si, s := range matched {
		if (h.ReadsNothing || len(matched) > maxTypedTargets) && si > 0 {
			// Reading nothing, or too many functions to look up in
			// DWARF: one context (untyped when there are many).
			perFunc[si] = perFunc[0]
			continue
		}
		c := &Context{Kind: CtxUserSysV, Return: h.Return, Target: s.Demangled, Ret: u64Type, types: b}
		if isGo {
			c.Kind = CtxUserGo
		}
		if len(matched) > maxTypedTargets && !h.ReadsNothing {
			pl.logf("%s: %d functions match: arguments are untyped arg1..argN", h.Func, len(matched))
		} else if fn, err := b.Func(s.Name); err == nil {
			for _, prm := range fn.Params {
				c.Params = append(c.Params, compile.ParamType{Name: prm.Name, Type: prm.Type})
			}
			if fn.Ret != nil {
				c.Ret = fn.Ret
			}
			if !isGo {
				c.Locs, _ = b.ParamLocations(s.Name)
			}
		}
		if h.Signature != nil {
			c.Params, c.Locs = applySignature(h.Signature, c.Params, b.Type), nil
		}
		perFunc[si] = pl.newContext(c)
	}
	ctxs := make([]*Context, len(plan.Targets))
	for i := range plan.Targets {
		ctxs[i] = perFunc[of[i]]
	}
	plan.setContexts(ctxs)
	return plan, nil
}

func (pl *Planner) planUSDT(h *ProbeHead) (*Plan, error) {
	pos, end := h.funcSpan()
	b, err := pl.openBinary(h)
	if err != nil {
		return nil, err
	}
	match := func(u dwarfinfo.USDTProbe) bool { return h.matchUSDT(u.Provider, u.Name) }
	probes, err := findUSDT(b, match, h.Func, h.Literal, specSpan{h.Spec, pos, end})
	if err != nil {
		return nil, err
	}
	modes, err := bpf.UsableModes(compile.UserFunc, pl.Features)
	if err != nil && pl.Contexts {
		return nil, err
	}
	plan := &Plan{Head: h, Kind: compile.UserFunc, Modes: modes}
	for _, u := range probes {
		plan.Targets = append(plan.Targets, compile.Target{Name: u.Name, Path: b.Path(), File: b.File(), Offset: u.Offset, RefCtrOffset: u.SemaphoreOffset})
	}
	if !pl.Contexts {
		return plan, nil
	}
	// Each site has its own argument spec: the compiler put the same
	// probe's arguments in different registers or stack slots at each.
	ctxs := make([]*Context, len(probes))
	for i, u := range probes {
		if h.ReadsNothing && i > 0 {
			ctxs[i] = ctxs[0]
			continue
		}
		args, err := usdtArgs(&u)
		if err != nil {
			return nil, h.errorf(pos, end, "%v", err)
		}
		// Name the site by its address, so messages about one layout tell
		// the sites apart.
		ctxs[i] = pl.newContext(&Context{Kind: CtxUSDT, Target: fmt.Sprintf("%s:%s (site at %#x)", u.Provider, u.Name, u.Addr), Args: args, types: b})
	}
	plan.setContexts(ctxs)
	return plan, nil
}

// usdtArgs turns a site's argument spec ("-4@%edi 8@-16(%rbp)") into
// arguments arg1..argN.
func usdtArgs(u *dwarfinfo.USDTProbe) ([]compile.Arg, error) {
	site := fmt.Sprintf("USDT probe %s:%s at %#x", u.Provider, u.Name, u.Offset)
	uargs, err := dwarfinfo.ParseUSDTArgs(u.Args)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", site, err)
	}
	var args []compile.Arg
	for i, ua := range uargs {
		enc := ebtf.Unsigned
		if ua.Signed {
			enc = ebtf.Signed
		}
		a := compile.Arg{Name: fmt.Sprintf("arg%d", i+1), Type: &ebtf.Int{Size: uint32(ua.Size), Encoding: enc}, Size: 8, Signed: ua.Signed, User: true}
		switch ua.Kind {
		case dwarfinfo.ArgReg:
			off, ok := compile.PtRegsOffset(ua.Reg)
			if !ok {
				return nil, fmt.Errorf("%s: unsupported register in %q", site, ua.Spec)
			}
			a.Kind, a.Off = compile.ArgCtx, off
		case dwarfinfo.ArgMem:
			off, ok := compile.PtRegsOffset(ua.Reg)
			if !ok || ua.Index != "" || ua.Symbol != "" {
				return nil, fmt.Errorf("%s: unsupported operand %q", site, ua.Spec)
			}
			a.Kind, a.Off, a.Disp, a.Size = compile.ArgMem, off, int32(ua.Offset), ua.Size
		case dwarfinfo.ArgConst:
			a.Kind, a.Const = compile.ArgConst, ua.Const
		}
		args = append(args, a)
	}
	return args, nil
}
