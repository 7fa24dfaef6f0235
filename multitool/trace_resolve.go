package multitool

import (
	"errors"
	"fmt"
	"os"
	"strings"

	ebtf "github.com/cilium/ebpf/btf"
	"golang.org/x/arch/x86/x86asm"

	"github.com/btool/btool/bpf"
	"github.com/btool/btool/bpf/compile"
	"github.com/btool/btool/bpf/feature"
	"github.com/btool/btool/btf"
	"github.com/btool/btool/dwarfinfo"
	"github.com/btool/btool/internal/syscalls"
	"github.com/btool/btool/internal/tracefs"
	"github.com/btool/btool/specparse"
)

// tracePlan is a probe resolved to its attach targets, with a way to build
// the ProbeContext for each attach mode.
type tracePlan struct {
	probe   *specparse.Probe
	spec    string // the probe's text, for errors
	kind    compile.TargetKind
	ret     bool // attach to returns (kretprobe, fexit, uretprobe)
	targets []compile.Target
	modes   []compile.Mode
	// context returns what a program attached in mode m sees.
	context func(m compile.Mode) (*compile.ProbeContext, error)
	// syscall is 1 + the syscall number of a single-syscall tracepoint
	// probe, which the raw_syscalls mode filters on; 0 otherwise.
	syscall int
}

// traceResolver caches what several probes share.
type traceResolver struct {
	env     Env
	dryRun  bool // -D: show the kprobe program even where kprobes are missing
	kernel  *btf.Kernel
	kernErr error
	loaded  bool
}

// kernelBTF loads kernel BTF once; nil when the kernel has none.
func (r *traceResolver) kernelBTF() *btf.Kernel {
	if !r.loaded {
		r.loaded = true
		r.kernel, r.kernErr = btf.LoadKernel()
	}
	return r.kernel
}

func (r *traceResolver) kernelLookup(name string) (ebtf.Type, error) {
	k := r.kernelBTF()
	if k == nil {
		return nil, r.kernErr
	}
	return k.Type(name)
}

// lazyKernel is a TypeSource that loads kernel BTF (about 10 ms) only when
// a probe actually names a kernel type, so tracepoint probes start fast.
func (r *traceResolver) lazyKernel() compile.TypeSource { return lazyKernel{r} }

type lazyKernel struct{ r *traceResolver }

func (l lazyKernel) Type(name string) (ebtf.Type, error) { return l.r.kernelLookup(name) }

func (l lazyKernel) EnumValue(name string) (int64, bool) {
	if k := l.r.kernelBTF(); k != nil {
		if ev, ok := any(k).(interface{ EnumValue(string) (int64, bool) }); ok {
			return ev.EnumValue(name)
		}
	}
	return 0, false
}

func specErr(spec string, pos, end specparse.Pos, format string, args ...any) error {
	return usageErr(spec, &specparse.Error{Pos: pos, End: end, Msg: fmt.Sprintf(format, args...)})
}

func funcSpanOf(p *specparse.Probe) (specparse.Pos, specparse.Pos) {
	return p.FuncPos, p.FuncPos + specparse.Pos(len(p.Func))
}

// resolve turns a parsed probe into a plan.
func (r *traceResolver) resolve(p *specparse.Probe, spec string) (*tracePlan, error) {
	switch {
	case p.Kind == specparse.TracepointProbe:
		return r.resolveTracepoint(p, spec, p.Library, p.Func, p.Func)
	case p.Kind == specparse.USDTProbe:
		return r.resolveUSDT(p, spec)
	case p.Library != "":
		return r.resolveUser(p, spec)
	}
	return r.resolveKernel(p, spec)
}

// syscallParams returns a syscall's parameters from its sys_enter format.
func (r *traceResolver) syscallParams(name string) ([]compile.ParamType, *tracefs.Format, error) {
	f, err := tracefs.ReadFormat("syscalls", "sys_enter_"+name)
	if err != nil {
		return nil, nil, err
	}
	var params []compile.ParamType
	for _, fld := range f.Fields {
		if fld.Common || fld.Name == "__syscall_nr" {
			continue
		}
		t, err := btf.ParseCType(fld.Type, fld.Size, fld.Signed, r.kernelLookup)
		if err != nil {
			t = nil
		}
		params = append(params, compile.ParamType{Name: fld.Name, Type: t})
	}
	return params, f, nil
}

var longType = &ebtf.Int{Name: "long", Size: 8, Encoding: ebtf.Signed}

func (r *traceResolver) resolveKernel(p *specparse.Probe, spec string) (*tracePlan, error) {
	pos, end := funcSpanOf(p)
	modes, mechErr := bpf.UsableModes(compile.KernelFunc, r.env.Features)
	if mechErr != nil && !errors.Is(mechErr, bpf.ErrNotSupported) {
		return nil, mechErr
	}
	if mechErr != nil && r.dryRun && !isSyscallName(p.Func) {
		modes, mechErr = []compile.Mode{compile.ModeKprobe}, nil
	}
	if name, ok := syscalls.Canonical(p.Func); ok && !strings.ContainsAny(p.Func, "*?[") {
		if mechErr != nil {
			// No kprobes or fentry: the syscall tracepoints carry the
			// same arguments.
			r.env.logf("no kprobes or fentry on this kernel: tracing %s through syscalls:sys_%s_%s", p.Func, map[bool]string{false: "enter", true: "exit"}[p.Kind == specparse.Return], name)
			ev := "sys_enter_" + name
			if p.Kind == specparse.Return {
				ev = "sys_exit_" + name
			}
			return r.resolveTracepoint(p, spec, "syscalls", ev, p.Func)
		}
		params, _, err := r.syscallParams(name)
		if err != nil {
			return nil, specErr(spec, pos, end, "syscall %s: %v", name, err)
		}
		params = applySignature(p, params, r.kernelLookup)
		plan := &tracePlan{probe: p, spec: spec, kind: compile.KernelFunc, ret: p.Kind == specparse.Return, modes: modes,
			targets: []compile.Target{{Name: p.Func, Symbol: syscalls.WrapperSymbol(name)}}}
		plan.context = func(m compile.Mode) (*compile.ProbeContext, error) {
			pc := &compile.ProbeContext{Mode: m, Return: plan.ret, Regs: m != compile.ModeFentry, UserMemory: true, Types: r.lazyKernel(), Kernel: r.lazyKernel()}
			regsOff := int16(112) // rdi of the wrapper's pt_regs
			if m == compile.ModeFentry {
				regsOff = 0
			}
			pc.Args = compile.SyscallWrapperArgs(params, regsOff)
			if plan.ret {
				if m == compile.ModeFentry {
					pc.Ret = &compile.Arg{Name: "retval", Type: longType, Kind: compile.ArgCtx, Off: 8, Size: 8, Signed: true}
				} else {
					pc.Ret = compile.RetReg(longType)
				}
			}
			return pc, nil
		}
		return plan, nil
	}
	if mechErr != nil {
		return nil, mechErr
	}
	k := r.kernelBTF()
	var targets []compile.Target
	if !strings.ContainsAny(p.Func, "*?[") && k != nil && k.HasFunc(p.Func) {
		targets = []compile.Target{{Name: p.Func, Symbol: p.Func}}
	} else {
		pat, err := specparse.Glob(p.Func)
		if err != nil {
			return nil, specErr(spec, pos, end, "%v", err)
		}
		funcs, err := btf.KernelFuncs()
		if err != nil {
			return nil, err
		}
		var names []string
		for _, f := range funcs {
			names = append(names, f.Name)
			if pat.MatchString(f.Name) {
				targets = append(targets, compile.Target{Name: f.Name, Symbol: f.Name, Slot: uint32(len(targets))})
			}
		}
		if len(targets) == 0 {
			if strings.ContainsAny(p.Func, "*?[") {
				return nil, specErr(spec, pos, end, "no kernel functions match %q", p.Func)
			}
			return nil, specErr(spec, pos, end, "unknown kernel function %q (not traceable: not in available_filter_functions or kallsyms, inlined, or marked notrace)%s", p.Func, didYouMean(suggest(p.Func, names, 3)))
		}
	}
	// Types come from the prototype when every target has the same one
	// (one function, or a wildcard over functions of one shape, such as
	// vfs_read/vfs_write); otherwise arguments are untyped argN.
	var params []compile.ParamType
	var ret ebtf.Type = &ebtf.Int{Name: "u64", Size: 8}
	if k != nil && len(targets) <= 64 {
		if fn, ok := commonPrototype(k, targets); ok {
			for _, prm := range fn.Params {
				params = append(params, compile.ParamType{Name: prm.Name, Type: prm.Type})
			}
			if fn.Ret != nil {
				ret = fn.Ret
			}
		} else if len(targets) > 1 {
			r.env.logf("%s: the %d matching functions have different prototypes: arguments are untyped arg1..arg6", p.Func, len(targets))
		}
	}
	params = applySignature(p, params, r.kernelLookup)
	plan := &tracePlan{probe: p, spec: spec, kind: compile.KernelFunc, ret: p.Kind == specparse.Return, modes: modes, targets: targets}
	plan.context = func(m compile.Mode) (*compile.ProbeContext, error) {
		pc := &compile.ProbeContext{Mode: m, Return: plan.ret, Regs: m != compile.ModeFentry, Types: r.lazyKernel(), Kernel: r.lazyKernel()}
		if m == compile.ModeFentry {
			args, retOff, err := compile.FentryArgs(params)
			if err != nil {
				return nil, err
			}
			pc.Args = args
			if plan.ret {
				pc.Ret = &compile.Arg{Name: "retval", Type: ret, Kind: compile.ArgCtx, Off: retOff, Size: 8, Signed: btf.IsSigned(ret)}
			}
			return pc, nil
		}
		pc.Args = compile.RegArgs(padParams(params, 6), false)
		if plan.ret {
			pc.Ret = compile.RetReg(ret)
		}
		return pc, nil
	}
	return plan, nil
}

func isSyscallName(fn string) bool {
	_, ok := syscalls.Canonical(fn)
	return ok
}

// commonPrototype returns the first target's prototype when every target
// has parameters of the same names and sizes (vfs_read's `char *buf` and
// vfs_write's `const char *buf` agree), or false when they differ or one
// is missing from BTF.
func commonPrototype(k *btf.Kernel, targets []compile.Target) (*btf.Func, bool) {
	var first *btf.Func
	var shape string
	for _, t := range targets {
		fn, err := k.Func(t.Symbol)
		if err != nil {
			return nil, false
		}
		var b strings.Builder
		for _, prm := range fn.Params {
			size, _ := ebtf.Sizeof(prm.Type)
			fmt.Fprintf(&b, "%s:%d,", prm.Name, size)
		}
		if fn.Ret != nil {
			size, _ := ebtf.Sizeof(fn.Ret)
			fmt.Fprintf(&b, "->%d", size)
		}
		if first == nil {
			first, shape = fn, b.String()
		} else if b.String() != shape {
			return nil, false
		}
	}
	return first, first != nil
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
func applySignature(p *specparse.Probe, params []compile.ParamType, lookup btf.TypeLookup) []compile.ParamType {
	if p.Params == nil {
		return params
	}
	out := make([]compile.ParamType, len(p.Params))
	for i, prm := range p.Params {
		t, err := btf.ParseCType(prm.Type.String(), 8, false, lookup)
		if err != nil {
			t = nil
		}
		out[i] = compile.ParamType{Name: prm.Name, Type: t}
	}
	return out
}

// resolveTracepoint plans a tracepoint probe on category:event (with
// wildcards: every match must share the first one's format).
func (r *traceResolver) resolveTracepoint(p *specparse.Probe, spec, category, event, display string) (*tracePlan, error) {
	pos, end := p.LibraryPos, p.FuncPos+specparse.Pos(len(p.Func))
	var events []tracefs.Event
	if !strings.ContainsAny(category+event, "*?[") {
		if _, err := tracefs.ReadFormat(category, event); err == nil {
			events = []tracefs.Event{{Category: category, Name: event}}
		}
	}
	if events == nil {
		var err error
		if events, err = tracefs.Events(); err != nil {
			return nil, err
		}
	}
	catRE, err1 := specparse.Glob(category)
	evRE, err2 := specparse.Glob(event)
	if err1 != nil || err2 != nil {
		return nil, specErr(spec, pos, end, "bad tracepoint pattern %s:%s", category, event)
	}
	var targets []compile.Target
	var names []string
	for _, ev := range events {
		names = append(names, ev.Category+":"+ev.Name)
		if catRE.MatchString(ev.Category) && evRE.MatchString(ev.Name) {
			name := ev.Name
			if len(targets) == 0 && display != event {
				name = display
			}
			targets = append(targets, compile.Target{Name: name, Category: ev.Category, Event: ev.Name, Slot: uint32(len(targets))})
		}
	}
	if len(targets) == 0 {
		return nil, specErr(spec, pos, end, "unknown tracepoint %s:%s%s", category, event, didYouMean(suggest(category+":"+event, names, 3)))
	}
	format, err := tracefs.ReadFormat(targets[0].Category, targets[0].Event)
	if err != nil {
		return nil, err
	}
	var fields []compile.Arg
	for _, f := range format.Fields {
		if f.Common {
			continue
		}
		t, err := btf.ParseCType(f.Type, f.Size, f.Signed, r.kernelLookup)
		if err != nil {
			t = nil
		}
		a := compile.Arg{Name: f.Name, Type: t, Kind: compile.ArgCtx, Off: int16(f.Offset), Size: f.Size, Signed: f.Signed, User: f.User}
		if f.DataLoc {
			a.Kind, a.Size = compile.ArgDataLoc, 4
		} else if a.Size > 8 || (a.Size != 1 && a.Size != 2 && a.Size != 4 && a.Size != 8) {
			a.Size = 0 // arrays: addressed, not loaded
		}
		fields = append(fields, a)
	}
	syscall := targets[0].Category == "syscalls"
	plan := &tracePlan{probe: p, spec: spec, kind: compile.Tracepoint, targets: targets, modes: []compile.Mode{compile.ModeTracepoint}}
	if syscall {
		plan.kind = compile.SyscallEnter
		if strings.HasPrefix(targets[0].Event, "sys_exit_") {
			plan.kind = compile.SyscallExit
		}
		// One syscall: a raw tracepoint on sys_enter/sys_exit filtered by
		// number attaches and detaches in microseconds, where a perf-event
		// tracepoint costs an RCU grace period (~75 ms) to close.
		if nr, ok := syscalls.NumberForTracepoint(targets[0].Event); ok && len(targets) == 1 && r.env.Features.Have(feature.FeatRawTracepoint) == nil {
			plan.modes = []compile.Mode{compile.ModeRawSyscalls, compile.ModeTracepoint}
			plan.syscall = nr + 1
		}
	}
	if err := r.env.Features.Have(feature.FeatTracepoint); err != nil && plan.syscall == 0 {
		return nil, err
	}
	plan.context = func(m compile.Mode) (*compile.ProbeContext, error) {
		pc := &compile.ProbeContext{Mode: m, UserMemory: syscall, Types: r.lazyKernel(), Kernel: r.lazyKernel()}
		if m == compile.ModeRawSyscalls {
			pc.Fields = rawSyscallFields(fields, plan.kind == compile.SyscallExit)
		} else {
			pc.Fields = fields
		}
		if syscall {
			for _, f := range pc.Fields {
				switch {
				case f.Name == "__syscall_nr":
				case f.Name == "ret" && plan.kind == compile.SyscallExit:
					ret := f
					pc.Ret, pc.Return = &ret, true
				default:
					pc.Args = append(pc.Args, f)
				}
			}
		}
		return pc, nil
	}
	return plan, nil
}

// rawSyscallFields maps a syscall tracepoint's fields onto what a raw
// tracepoint on sys_enter/sys_exit sees: args[0] is the task's user
// registers (the arguments, in the syscall ABI's registers), args[1] the
// syscall number on entry and the return value on exit.
func rawSyscallFields(fields []compile.Arg, exit bool) []compile.Arg {
	var params []compile.ParamType
	var out []compile.Arg
	for _, f := range fields {
		switch {
		case f.Name == "__syscall_nr" && !exit:
			out = append(out, compile.Arg{Name: f.Name, Type: f.Type, Kind: compile.ArgCtx, Off: 8, Size: 8, Signed: true})
		case f.Name == "ret" && exit:
			out = append(out, compile.Arg{Name: f.Name, Type: f.Type, Kind: compile.ArgCtx, Off: 8, Size: 8, Signed: true})
		case f.Name != "__syscall_nr":
			params = append(params, compile.ParamType{Name: f.Name, Type: f.Type})
		}
	}
	if !exit {
		out = append(out, compile.SyscallWrapperArgs(params, 0)...)
	}
	return out
}

// openBinary opens the library or binary a probe names.
func (r *traceResolver) openBinary(p *specparse.Probe, spec string) (*dwarfinfo.Binary, error) {
	return openBinary(p.Library, specSpan{spec, p.LibraryPos, p.LibraryPos + specparse.Pos(len(p.Library))})
}

// dwarfRegs maps x86_64 DWARF register numbers to pt_regs names.
var dwarfRegs = []string{"ax", "dx", "cx", "bx", "si", "di", "bp", "sp", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"}

func (r *traceResolver) resolveUser(p *specparse.Probe, spec string) (*tracePlan, error) {
	pos, end := funcSpanOf(p)
	b, err := r.openBinary(p, spec)
	if err != nil {
		return nil, err
	}
	pat, err := specparse.Glob(p.Func)
	if err != nil {
		return nil, specErr(spec, pos, end, "%v", err)
	}
	matched, err := findFunctions(b, pat.MatchString, p.Func, !strings.ContainsAny(p.Func, "*?["), specSpan{spec, pos, end})
	if err != nil {
		return nil, err
	}
	isGo := b.IsGo()
	ret := p.Kind == specparse.Return
	plan := &tracePlan{probe: p, spec: spec, kind: compile.UserFunc, ret: ret}
	if ret && isGo {
		// uretprobes corrupt Go's moving stacks: probe every RET instead.
		plan.ret = false
		for _, s := range matched {
			offs, err := retSites(b.Path(), s)
			if err != nil {
				return nil, specErr(spec, pos, end, "can't place return probes on Go function %s: %v (uretprobes would crash a Go program)", s.Name, err)
			}
			for _, off := range offs {
				plan.targets = append(plan.targets, compile.Target{Name: s.Demangled, Path: b.Path(), Offset: off, Slot: uint32(len(plan.targets))})
			}
		}
		r.env.logf("%s is a Go binary: tracing returns of %s with uprobes on its %d RET instructions", b.Path(), p.Func, len(plan.targets))
	} else {
		for _, s := range matched {
			if p.Offset != 0 && s.Size != 0 && p.Offset >= s.Size {
				return nil, specErr(spec, pos, p.End, "offset %#x is past the end of %s (%d bytes)", p.Offset, s.Demangled, s.Size)
			}
			plan.targets = append(plan.targets, compile.Target{Name: s.Demangled, Path: b.Path(), Offset: s.Offset + p.Offset, Slot: uint32(len(plan.targets))})
		}
	}
	modes, err := bpf.UsableModes(compile.UserFunc, r.env.Features)
	if err != nil {
		return nil, err
	}
	plan.modes = modes
	var params []compile.ParamType
	var retType ebtf.Type = &ebtf.Int{Name: "u64", Size: 8}
	var locs []dwarfinfo.Location
	if len(matched) == 1 {
		if fn, err := b.Func(matched[0].Name); err == nil {
			for _, prm := range fn.Params {
				params = append(params, compile.ParamType{Name: prm.Name, Type: prm.Type})
			}
			if fn.Ret != nil {
				retType = fn.Ret
			}
			locs, _ = b.ParamLocations(matched[0].Name)
		}
	}
	if p.Params != nil {
		params, locs = applySignature(p, params, b.Type), nil
	}
	var types compile.TypeSource = b
	plan.context = func(m compile.Mode) (*compile.ProbeContext, error) {
		pc := &compile.ProbeContext{Mode: m, Return: ret, Regs: true, UserMemory: true, Types: types, Kernel: r.lazyKernel()}
		switch {
		case isGo:
			pc.Args = compile.GoArgs(padParams(params, 9))
			if ret {
				pc.Ret = &compile.Arg{Name: "retval", Type: retType, Kind: compile.ArgCtx, Off: 80, Size: 8, Signed: btf.IsSigned(retType), User: true}
			}
		default:
			pc.Args = compile.RegArgs(padParams(params, 6), true)
			for i, l := range locs {
				if i < len(pc.Args) && l.Kind == dwarfinfo.LocReg && l.AtEntry && l.Reg >= 0 && l.Reg < len(dwarfRegs) {
					off, _ := compile.PtRegsOffset(dwarfRegs[l.Reg])
					pc.Args[i].Off = off
				}
			}
			if ret {
				pc.Ret = compile.RetReg(retType)
				pc.Ret.User = true
			}
		}
		return pc, nil
	}
	return plan, nil
}

// retSites returns the file offsets of the RET instructions of a function,
// decoded with x86asm.
func retSites(path string, s dwarfinfo.Symbol) ([]uint64, error) {
	if s.Size == 0 {
		return nil, fmt.Errorf("symbol has no size")
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	code := make([]byte, s.Size)
	if _, err := f.ReadAt(code, int64(s.Offset)); err != nil {
		return nil, err
	}
	var offs []uint64
	for i := 0; i < len(code); {
		inst, err := x86asm.Decode(code[i:], 64)
		if err != nil || inst.Len == 0 {
			i++ // padding or data: skip a byte
			continue
		}
		if inst.Op == x86asm.RET {
			offs = append(offs, s.Offset+uint64(i))
		}
		i += inst.Len
	}
	if len(offs) == 0 {
		return nil, fmt.Errorf("no RET instruction found")
	}
	return offs, nil
}

func (r *traceResolver) resolveUSDT(p *specparse.Probe, spec string) (*tracePlan, error) {
	pos, end := funcSpanOf(p)
	b, err := r.openBinary(p, spec)
	if err != nil {
		return nil, err
	}
	pat, err := specparse.Glob(p.Func)
	if err != nil {
		return nil, specErr(spec, pos, end, "%v", err)
	}
	match := func(u dwarfinfo.USDTProbe) bool {
		return (p.Provider == "" || p.Provider == u.Provider) && pat.MatchString(u.Name)
	}
	probes, err := findUSDT(b, match, p.Func, !strings.ContainsAny(p.Func, "*?["), specSpan{spec, pos, end})
	if err != nil {
		return nil, err
	}
	plan := &tracePlan{probe: p, spec: spec, kind: compile.UserFunc}
	for i, u := range probes {
		plan.targets = append(plan.targets, compile.Target{Name: u.Name, Path: b.Path(), Offset: u.Offset, RefCtrOffset: u.SemaphoreOffset, Slot: uint32(i)})
	}
	first := &probes[0]
	uargs, err := dwarfinfo.ParseUSDTArgs(first.Args)
	if err != nil {
		return nil, specErr(spec, pos, end, "USDT probe %s: %v", first.Name, err)
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
				return nil, specErr(spec, pos, end, "USDT probe %s: unsupported register in %q", first.Name, ua.Spec)
			}
			a.Kind, a.Off = compile.ArgCtx, off
		case dwarfinfo.ArgMem:
			off, ok := compile.PtRegsOffset(ua.Reg)
			if !ok || ua.Index != "" || ua.Symbol != "" {
				return nil, specErr(spec, pos, end, "USDT probe %s: unsupported operand %q", first.Name, ua.Spec)
			}
			a.Kind, a.Off, a.Disp, a.Size = compile.ArgMem, off, int32(ua.Offset), ua.Size
		case dwarfinfo.ArgConst:
			a.Kind, a.Const = compile.ArgConst, ua.Const
		}
		args = append(args, a)
	}
	modes, err := bpf.UsableModes(compile.UserFunc, r.env.Features)
	if err != nil {
		return nil, err
	}
	plan.modes = modes
	plan.context = func(m compile.Mode) (*compile.ProbeContext, error) {
		return &compile.ProbeContext{Mode: m, Regs: true, UserMemory: true, Args: args, Types: b, Kernel: r.lazyKernel()}, nil
	}
	return plan, nil
}
