package multitool

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/btool/btool/bpf"
	"github.com/btool/btool/bpf/compile"
	"github.com/btool/btool/bpf/feature"
	"github.com/btool/btool/btf"
	"github.com/btool/btool/dwarfinfo"
	"github.com/btool/btool/internal/syscalls"
	"github.com/btool/btool/internal/tracefs"
	"github.com/btool/btool/specparse"
)

// resolveCount turns a funccount-style pattern into counting groups. Errors
// about what the user typed are UsageErrors pointing into the pattern.
func resolveCount(p *specparse.Pattern, f *feature.Features, env Env) ([]compile.CountGroup, error) {
	switch p.Kind {
	case specparse.KernelFunc:
		return resolveKernel(p, f, env)
	case specparse.Tracepoint:
		return resolveTracepoints(p)
	case specparse.UserFunc:
		return resolveUser(p)
	case specparse.USDT:
		return resolveUSDT(p)
	}
	return nil, fmt.Errorf("unsupported pattern kind %v", p.Kind)
}

func patternErr(p *specparse.Pattern, pos specparse.Pos, end specparse.Pos, format string, args ...any) error {
	return usageErr(p.Raw, &specparse.Error{Pos: pos, End: end, Msg: fmt.Sprintf(format, args...)})
}

func funcSpan(p *specparse.Pattern) (specparse.Pos, specparse.Pos) {
	return p.FuncPos, p.FuncPos + specparse.Pos(len(p.Func))
}

func targetSpan(p *specparse.Pattern) (specparse.Pos, specparse.Pos) {
	return p.TargetPos, p.TargetPos + specparse.Pos(len(p.Target))
}

func resolveKernel(p *specparse.Pattern, f *feature.Features, env Env) ([]compile.CountGroup, error) {
	_, mechErr := bpf.UsableModes(compile.KernelFunc, f)
	if mechErr != nil && !errors.Is(mechErr, bpf.ErrNotSupported) {
		return nil, mechErr
	}
	// Syscall names: with kprobes or fentry use the arch wrapper; without
	// them, count through the syscalls:sys_enter_* tracepoints.
	if rest, ok := syscalls.CutPrefix(p.Func); ok {
		if p.IsLiteral() {
			if name, ok := syscalls.Canonical(p.Func); ok {
				if mechErr == nil {
					return []compile.CountGroup{{Kind: compile.KernelFunc, Targets: []compile.Target{{Name: p.Func, Symbol: syscalls.WrapperSymbol(name)}}}}, nil
				}
				env.logf("no kprobes or fentry on this kernel: counting %s through syscalls:sys_enter_%s", p.Func, name)
				return syscallTargets(func(n string) bool { return n == name }, p.Func)
			}
		} else if mechErr != nil && !p.Regex {
			re, err := specparse.Glob(rest)
			if err == nil {
				env.logf("no kprobes or fentry on this kernel: counting %s through syscalls:sys_enter_* tracepoints", p.Func)
				return syscallTargets(re.MatchString, "")
			}
		}
	}
	if mechErr != nil {
		return nil, mechErr
	}
	m, err := p.Matcher()
	if err != nil {
		return nil, usageErr(p.Raw, err)
	}
	funcs, err := btf.KernelFuncs()
	if err != nil {
		return nil, fmt.Errorf("list kernel functions: %w", err)
	}
	var targets []compile.Target
	for _, kf := range funcs {
		if m.Match(kf.Name) {
			targets = append(targets, compile.Target{Name: kf.Name, Symbol: kf.Name})
		}
	}
	if len(targets) == 0 {
		pos, end := funcSpan(p)
		if p.IsLiteral() {
			names := make([]string, len(funcs))
			for i, kf := range funcs {
				names[i] = kf.Name
			}
			return nil, patternErr(p, pos, end, "unknown kernel function %q (not traceable: not in available_filter_functions or kallsyms, inlined, or marked notrace)%s", p.Func, didYouMean(suggest(p.Func, names, 3)))
		}
		return nil, patternErr(p, pos, end, "no kernel functions match %q", p.Func)
	}
	return []compile.CountGroup{{Kind: compile.KernelFunc, Targets: targets}}, nil
}

// syscallTargets builds syscall entry groups for the syscalls whose
// tracepoint names match. display, when set, names the single match.
func syscallTargets(match func(string) bool, display string) ([]compile.CountGroup, error) {
	events, err := tracefs.Events()
	if err != nil {
		return nil, err
	}
	var targets []compile.Target
	for _, ev := range events {
		if ev.Category != "syscalls" || !strings.HasPrefix(ev.Name, "sys_enter_") {
			continue
		}
		name := strings.TrimPrefix(ev.Name, "sys_enter_")
		if !match(name) {
			continue
		}
		nr, ok := syscalls.Number(name)
		if !ok {
			continue
		}
		shown := display
		if shown == "" {
			shown = "sys_" + name
		}
		targets = append(targets, compile.Target{Name: shown, Category: ev.Category, Event: ev.Name, Syscall: nr})
	}
	if len(targets) == 0 {
		return nil, fmt.Errorf("no syscall tracepoints match")
	}
	return []compile.CountGroup{{Kind: compile.SyscallEnter, Targets: targets}}, nil
}

func resolveTracepoints(p *specparse.Pattern) ([]compile.CountGroup, error) {
	m, err := p.Matcher()
	if err != nil {
		return nil, usageErr(p.Raw, err)
	}
	events, err := tracefs.Events()
	if err != nil {
		return nil, err
	}
	var enter, exit, other []compile.Target
	for _, ev := range events {
		if !m.MatchEvent(ev.Category, ev.Name) {
			continue
		}
		t := compile.Target{Name: ev.Category + ":" + ev.Name, Category: ev.Category, Event: ev.Name}
		if ev.Category == "syscalls" {
			if name, ok := strings.CutPrefix(ev.Name, "sys_enter_"); ok {
				if nr, ok := syscalls.Number(name); ok {
					t.Syscall = nr
					enter = append(enter, t)
					continue
				}
			} else if name, ok := strings.CutPrefix(ev.Name, "sys_exit_"); ok {
				if nr, ok := syscalls.Number(name); ok {
					t.Syscall = nr
					exit = append(exit, t)
					continue
				}
			}
		}
		other = append(other, t)
	}
	var groups []compile.CountGroup
	for _, g := range []compile.CountGroup{{Kind: compile.SyscallEnter, Targets: enter}, {Kind: compile.SyscallExit, Targets: exit}, {Kind: compile.Tracepoint, Targets: other}} {
		if len(g.Targets) > 0 {
			groups = append(groups, g)
		}
	}
	if len(groups) == 0 {
		pos, end := p.TargetPos, p.FuncPos+specparse.Pos(len(p.Func))
		if p.IsLiteral() {
			names := make([]string, len(events))
			for i, ev := range events {
				names[i] = ev.Category + ":" + ev.Name
			}
			return nil, patternErr(p, pos, end, "unknown tracepoint %s:%s%s", p.Target, p.Func, didYouMean(suggest(p.Target+":"+p.Func, names, 3)))
		}
		return nil, patternErr(p, pos, end, "no tracepoints match %s:%s", p.Target, p.Func)
	}
	return groups, nil
}

// openTarget resolves and opens the binary a user pattern names.
func openTarget(p *specparse.Pattern) (*dwarfinfo.Binary, error) {
	pos, end := targetSpan(p)
	return openBinary(p.Target, specSpan{p.Raw, pos, end})
}

func resolveUser(p *specparse.Pattern) ([]compile.CountGroup, error) {
	m, err := p.Matcher()
	if err != nil {
		return nil, usageErr(p.Raw, err)
	}
	b, err := openTarget(p)
	if err != nil {
		return nil, err
	}
	defer b.Close()
	pos, end := funcSpan(p)
	syms, err := findFunctions(b, m.Match, p.Func, p.IsLiteral(), specSpan{p.Raw, pos, end})
	if err != nil {
		return nil, err
	}
	targets := make([]compile.Target, len(syms))
	for i, s := range syms {
		targets[i] = compile.Target{Name: s.Demangled, Path: b.Path(), Offset: s.Offset}
	}
	sort.SliceStable(targets, func(i, j int) bool { return targets[i].Offset < targets[j].Offset })
	return []compile.CountGroup{{Kind: compile.UserFunc, Targets: targets}}, nil
}

func resolveUSDT(p *specparse.Pattern) ([]compile.CountGroup, error) {
	m, err := p.Matcher()
	if err != nil {
		return nil, usageErr(p.Raw, err)
	}
	b, err := openTarget(p)
	if err != nil {
		return nil, err
	}
	defer b.Close()
	pos, end := funcSpan(p)
	match := func(u dwarfinfo.USDTProbe) bool { return m.Match(u.Name) || m.Match(u.Provider+":"+u.Name) }
	probes, err := findUSDT(b, match, p.Func, p.IsLiteral(), specSpan{p.Raw, pos, end})
	if err != nil {
		return nil, err
	}
	targets := make([]compile.Target, len(probes))
	for i, u := range probes {
		targets[i] = compile.Target{Name: u.Name, Path: b.Path(), Offset: u.Offset, RefCtrOffset: u.SemaphoreOffset}
	}
	return []compile.CountGroup{{Kind: compile.UserFunc, Targets: targets}}, nil
}
