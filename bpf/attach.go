package bpf

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
	"syscall"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"

	"github.com/btool/btool/bpf/compile"
)

// ProgramAttach says how AttachProgram attaches a program.
type ProgramAttach struct {
	Mode   compile.Mode
	Kind   compile.TargetKind
	Return bool   // attach to function returns (kretprobe, uretprobe); fexit is chosen by the program's AttachType
	PID    uint32 // uprobes: attach for this process only; 0 for all
	Cookie bool   // per-target links carry the target's Slot as BPF cookie (the program reads it; 5.15)
}

// AttachProgram attaches one loaded program to targets: one multi-link
// (kprobe_multi, uprobe_multi, raw_syscalls) or one link per target,
// attached in parallel. Per-target modes skip targets that fail alone and
// return them as skipped; the error is set only when nothing attached. Each
// target's Slot is its attach cookie (multi-links always, per-target links
// with pa.Cookie). Uprobes also filter by PID in the
// kernel's uprobe layer, so other processes don't even trap.
func AttachProgram(ctx context.Context, prog *ebpf.Program, targets []compile.Target, pa ProgramAttach) ([]link.Link, []compile.Target, []SkippedTarget, error) {
	m, kind, pid := pa.Mode, pa.Kind, pa.PID
	switch m {
	case compile.ModeKprobeMulti:
		kmulti := link.KprobeMulti
		if pa.Return {
			kmulti = link.KretprobeMulti
		}
		return attachSplitting(ctx, targets, func(ts []compile.Target) (link.Link, error) {
			syms := make([]string, len(ts))
			cookies := make([]uint64, len(ts))
			for i, t := range ts {
				syms[i], cookies[i] = t.Symbol, uint64(t.Slot)
			}
			l, err := kmulti(prog, link.KprobeMultiOptions{Symbols: syms, Cookies: cookies})
			if err != nil {
				return nil, fmt.Errorf("kprobe_multi link on %d functions: %w", len(syms), err)
			}
			return l, nil
		})
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
		byPath := map[string][]compile.Target{} // by the file the kernel opens
		var order []string
		for _, t := range targets {
			f := attachFile(t)
			if _, ok := byPath[f]; !ok {
				order = append(order, f)
			}
			byPath[f] = append(byPath[f], t)
		}
		var links []link.Link
		var ok []compile.Target
		var skipped []SkippedTarget
		for _, file := range order {
			path := byPath[file][0].Path
			ex, err := link.OpenExecutable(file)
			if err != nil {
				closeAll(links)
				return nil, nil, nil, fmt.Errorf("%s: %w", path, err)
			}
			// Leave out what the kernel will refuse, so the batch
			// doesn't fail and need splitting.
			var refused []SkippedTarget
			byPath[file], refused = uprobeable(file, byPath[file])
			skipped = append(skipped, refused...)
			if len(byPath[file]) == 0 {
				continue
			}
			umulti := ex.UprobeMulti
			if pa.Return {
				umulti = ex.UretprobeMulti
			}
			ls, o, sk, err := attachSplitting(ctx, byPath[file], func(ts []compile.Target) (link.Link, error) {
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
				l, err := umulti(nil, prog, o)
				if err != nil {
					return nil, fmt.Errorf("uprobe_multi link on %d locations in %s: %w", len(ts), path, err)
				}
				return l, nil
			})
			if err != nil && len(order) == 1 {
				return nil, nil, nil, err
			}
			if err != nil {
				for _, t := range byPath[file] {
					sk = append(sk, SkippedTarget{t, err})
				}
			}
			links, ok, skipped = append(links, ls...), append(ok, o...), append(skipped, sk...)
		}
		if len(ok) == 0 {
			return nil, nil, skipped, skipped[0].Err
		}
		return links, ok, skipped, nil
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
	var cookie uint64
	if pa.Cookie {
		cookie = uint64(t.Slot)
	}
	switch pa.Mode {
	case compile.ModeFentry:
		return link.AttachTracing(link.TracingOptions{Program: prog})
	case compile.ModeKprobe:
		if pa.Return {
			return link.Kretprobe(t.Symbol, prog, &link.KprobeOptions{Cookie: cookie})
		}
		// Offset: a kprobe inside the function (vfs_read+0x11).
		return link.Kprobe(t.Symbol, prog, &link.KprobeOptions{Cookie: cookie, Offset: t.Offset})
	case compile.ModeRawTracepoint:
		return link.AttachRawTracepoint(link.RawTracepointOptions{Name: t.Event, Program: prog})
	case compile.ModeTracepoint:
		return link.Tracepoint(t.Category, t.Event, prog, &link.TracepointOptions{Cookie: cookie})
	case compile.ModePerfEvent:
		return attachPerfEvent(prog, t)
	case compile.ModeUprobe:
		ex, err := link.OpenExecutable(attachFile(t))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", t.Path, err)
		}
		uo := &link.UprobeOptions{Address: t.Offset, Cookie: cookie, RefCtrOffset: t.RefCtrOffset, PID: int(pa.PID)}
		if pa.Return {
			return ex.Uretprobe("", prog, uo)
		}
		return ex.Uprobe("", prog, uo)
	}
	return nil, fmt.Errorf("mode %s is not a per-target mode", pa.Mode)
}

// attachFile is the path the kernel opens to attach a uprobe on t.
func attachFile(t compile.Target) string {
	if t.File != "" {
		return t.File
	}
	return t.Path
}

// uprobeable splits targets in binary path into those a uprobe can take
// and those whose first instruction the x86-64 kernel refuses to
// single-step (arch_uprobe_analyze_insn: a LOCK, ES, CS, SS or DS prefix,
// or int3), which fail with ENOTSUPP ("possible trap insn"): libc's
// pthread_spin_lock starts with lock decl, and one such function fails a
// whole uprobe_multi batch. On other architectures, or when the file
// can't be read, every target is kept and the kernel decides.
func uprobeable(path string, targets []compile.Target) ([]compile.Target, []SkippedTarget) {
	if runtime.GOARCH != "amd64" {
		return targets, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return targets, nil
	}
	defer f.Close()
	var ok []compile.Target
	var refused []SkippedTarget
	buf := make([]byte, 15)
	for _, t := range targets {
		n, _ := f.ReadAt(buf, int64(t.Offset))
		if why := uprobeRefuses(buf[:n]); why != "" {
			refused = append(refused, SkippedTarget{t, fmt.Errorf("uprobes can't step over its first instruction (%s): %w", why, ErrNotSupported)})
			continue
		}
		ok = append(ok, t)
	}
	return ok, refused
}

// uprobeRefuses names why the kernel refuses a uprobe on x86-64 code
// starting with insn, or returns "" (the kernel may still refuse rarer
// opcodes; attachSplitting finds those).
func uprobeRefuses(insn []byte) string {
	for _, b := range insn {
		switch b {
		case 0xf0:
			return "a lock prefix"
		case 0x26, 0x2e, 0x36, 0x3e: // ES, CS, SS, DS (is_prefix_bad; FS and GS are fine)
			return "a segment prefix"
		case 0x64, 0x65, 0x66, 0x67, 0xf2, 0xf3: // other legacy prefixes: look further
			continue
		case 0xcc:
			return "int3"
		}
		return ""
	}
	return ""
}

// maxSplitAttempts bounds the link attempts attachSplitting makes to find
// the targets a multi-link refuses.
const maxSplitAttempts = 128

// attachSplitting attaches targets with one multi-link made by try. The
// kernel refuses a whole kprobe_multi or uprobe_multi link when one of its
// targets can't be probed (an instruction uprobes can't step over, a
// function that vanished), so when the error could be one target's, it
// splits the targets in halves and retries each, down to the targets that
// fail alone, which it returns as skipped for the next mode to try. An
// error that concerns the mechanism (both halves fail at the top, or
// the error isn't a per-target one) fails the call as a whole. It makes
// at most maxSplitAttempts attempts; targets not reached by then are
// skipped with the last error.
func attachSplitting(ctx context.Context, targets []compile.Target, try func([]compile.Target) (link.Link, error)) ([]link.Link, []compile.Target, []SkippedTarget, error) {
	attempts := 0
	var links []link.Link
	var ok []compile.Target
	var skipped []SkippedTarget
	var rec func(ts []compile.Target, top bool) error
	rec = func(ts []compile.Target, top bool) error {
		attempts++
		l, err := try(ts)
		if err == nil {
			links, ok = append(links, l), append(ok, ts...)
			return nil
		}
		if len(ts) == 1 || !perTargetErr(err) || attempts >= maxSplitAttempts || ctx.Err() != nil {
			if top {
				return err
			}
			for _, t := range ts {
				skipped = append(skipped, SkippedTarget{t, err})
			}
			return nil
		}
		mid := len(ts) / 2
		before := len(ok)
		rec(ts[:mid], false)
		rec(ts[mid:], false)
		if top && len(ok) == before {
			skipped = nil
			return err
		}
		return nil
	}
	if err := rec(targets, true); err != nil {
		return nil, nil, nil, err
	}
	return links, ok, skipped, nil
}

// perTargetErr reports whether a multi-link error may come from one of
// its targets rather than from the mechanism.
func perTargetErr(err error) bool {
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		return false
	}
	switch errno {
	case syscall.EINVAL, syscall.ENOENT, syscall.ESRCH, syscall.EBUSY, syscall.EEXIST, syscall.EILSEQ, syscall.EFAULT, syscall.Errno(524): // 524: ENOTSUPP, "can't probe this instruction"
		return true
	}
	return false
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
		return fmt.Errorf("verifier rejected the program: %w", ve)
	}
	return err
}
