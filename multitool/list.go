package multitool

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/btool/btool/btf"
	"github.com/btool/btool/dwarfinfo"
	"github.com/btool/btool/internal/tracefs"
	"github.com/btool/btool/specparse"
)

// ListOptions are the options of `btool list`.
type ListOptions struct {
	Pattern string // funccount pattern grammar; "" lists kernel functions and tracepoints
	Regex   bool
	Verbose bool // -v: argument names and types
}

// List prints the probes matching o.Pattern, one per line, in the spec
// syntax the other tools accept (p::func, t:cat:event, p:/path:func,
// u:/path:probe). With Verbose it adds argument names and types: from BTF
// for kernel functions, from the tracepoint format for tracepoints and from
// DWARF for user functions.
func List(o ListOptions, env Env) error {
	if o.Pattern == "" {
		if err := listKernel(env.Out, "*", o); err != nil {
			return err
		}
		return listTracepoints(env.Out, "*:*", o)
	}
	p, err := specparse.ParsePattern(o.Pattern, o.Regex)
	if err != nil {
		return usageErr(o.Pattern, err)
	}
	switch p.Kind {
	case specparse.KernelFunc:
		return listKernelPattern(env.Out, p, o)
	case specparse.Tracepoint:
		return listTracepointPattern(env.Out, p, o)
	case specparse.UserFunc:
		return listUser(env.Out, p, o)
	case specparse.USDT:
		return listUSDT(env.Out, p, o)
	}
	return fmt.Errorf("unsupported pattern kind %v", p.Kind)
}

func listKernel(w io.Writer, glob string, o ListOptions) error {
	p, err := specparse.ParsePattern(glob, false)
	if err != nil {
		return err
	}
	return listKernelPattern(w, p, o)
}

func listKernelPattern(w io.Writer, p *specparse.Pattern, o ListOptions) error {
	m, err := p.Matcher()
	if err != nil {
		return usageErr(p.Raw, err)
	}
	funcs, err := btf.KernelFuncs()
	if err != nil {
		return fmt.Errorf("list kernel functions: %w", err)
	}
	var k *btf.Kernel
	if o.Verbose {
		if k, err = btf.LoadKernel(); err != nil {
			return fmt.Errorf("-v needs kernel BTF: %w", err)
		}
	}
	n := 0
	for _, f := range funcs {
		if !m.Match(f.Name) {
			continue
		}
		n++
		if _, err := fmt.Fprintf(w, "p::%s\n", f.Name); err != nil {
			return nil
		}
		if k != nil {
			fn, err := k.Func(f.Name)
			if err != nil {
				fmt.Fprintf(w, "    (no BTF prototype)\n")
				continue
			}
			printParams(w, fn)
		}
	}
	if n == 0 && p.Raw != "*" {
		pos, end := funcSpan(p)
		return patternErr(p, pos, end, "no kernel functions match %q", p.Func)
	}
	return nil
}

// printParams prints a prototype the way `bpftrace -lv` does: one
// "type name" line per parameter, then the return type.
func printParams(w io.Writer, fn *btf.Func) {
	for _, prm := range fn.Params {
		typ := "?"
		if prm.Type != nil {
			typ = btf.TypeString(prm.Type)
		}
		fmt.Fprintf(w, "    %s %s\n", typ, prm.Name)
	}
	if fn.Ret != nil {
		fmt.Fprintf(w, "    %s retval\n", btf.TypeString(fn.Ret))
	}
}

func listTracepoints(w io.Writer, glob string, o ListOptions) error {
	p, err := specparse.ParsePattern("t:"+glob, false)
	if err != nil {
		return err
	}
	return listTracepointPattern(w, p, o)
}

func listTracepointPattern(w io.Writer, p *specparse.Pattern, o ListOptions) error {
	m, err := p.Matcher()
	if err != nil {
		return usageErr(p.Raw, err)
	}
	events, err := tracefs.Events()
	if err != nil {
		return err
	}
	n := 0
	for _, ev := range events {
		if !m.MatchEvent(ev.Category, ev.Name) {
			continue
		}
		n++
		if _, err := fmt.Fprintf(w, "t:%s:%s\n", ev.Category, ev.Name); err != nil {
			return nil
		}
		if o.Verbose {
			format, err := tracefs.ReadFormat(ev.Category, ev.Name)
			if err != nil {
				fmt.Fprintf(w, "    (format unreadable: %v)\n", err)
				continue
			}
			for _, f := range format.Fields {
				if f.Common {
					continue
				}
				fmt.Fprintf(w, "    %s;\n", fieldDecl(f))
			}
		}
	}
	if n == 0 {
		return patternErr(p, p.TargetPos, p.FuncPos+specparse.Pos(len(p.Func)), "no tracepoints match %s:%s", p.Target, p.Func)
	}
	return nil
}

// fieldDecl renders a tracepoint field as a C declaration, the way tplist -v
// does ("char prev_comm[16]", "const char * filename").
func fieldDecl(f tracefs.Field) string {
	typ := f.Type
	if i := strings.Index(typ, "["); i >= 0 && !f.DataLoc {
		return strings.TrimSpace(typ[:i]) + " " + f.Name + typ[i:]
	}
	return typ + " " + f.Name
}

func listUser(w io.Writer, p *specparse.Pattern, o ListOptions) error {
	m, err := p.Matcher()
	if err != nil {
		return usageErr(p.Raw, err)
	}
	b, err := openTarget(p)
	if err != nil {
		return err
	}
	defer b.Close()
	syms, err := b.Functions()
	if err != nil {
		return err
	}
	sort.SliceStable(syms, func(i, j int) bool { return syms[i].Demangled < syms[j].Demangled })
	n := 0
	for _, s := range syms {
		if !m.Match(s.Name) && !m.Match(s.Demangled) {
			continue
		}
		n++
		if _, err := fmt.Fprintf(w, "p:%s:%s\n", b.Path(), s.Demangled); err != nil {
			return nil
		}
		if o.Verbose {
			fn, err := b.Func(s.Name)
			switch {
			case errors.Is(err, dwarfinfo.ErrNoDebugInfo):
				fmt.Fprintf(w, "    (no DWARF: build with -g for argument types)\n")
			case err != nil:
				fmt.Fprintf(w, "    (no DWARF entry)\n")
			default:
				printParams(w, fn)
			}
		}
	}
	if n == 0 {
		pos, end := funcSpan(p)
		return patternErr(p, pos, end, "no functions in %s match %q", b.Path(), p.Func)
	}
	return nil
}

func listUSDT(w io.Writer, p *specparse.Pattern, o ListOptions) error {
	m, err := p.Matcher()
	if err != nil {
		return usageErr(p.Raw, err)
	}
	b, err := openTarget(p)
	if err != nil {
		return err
	}
	defer b.Close()
	probes, err := b.USDT()
	if err != nil {
		return err
	}
	n := 0
	for _, u := range probes {
		if !m.Match(u.Name) && !m.Match(u.Provider+":"+u.Name) {
			continue
		}
		n++
		fmt.Fprintf(w, "u:%s:%s\n", b.Path(), u.Name)
		if o.Verbose {
			fmt.Fprintf(w, "    provider %s\n", u.Provider)
			sem := "no semaphore"
			if u.Semaphore != 0 {
				sem = fmt.Sprintf("semaphore 0x%x", u.Semaphore)
			}
			fmt.Fprintf(w, "    location 0x%x, %s, args: %s\n", u.Addr, sem, u.Args)
		}
	}
	if n == 0 {
		pos, end := funcSpan(p)
		return patternErr(p, pos, end, "no USDT probes in %s match %q", b.Path(), p.Func)
	}
	return nil
}
