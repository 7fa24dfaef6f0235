package btf

import (
	"fmt"
	"hash/maphash"
	"strings"
	"sync"

	"github.com/btool/btool/internal/kallsyms"
	"github.com/btool/btool/internal/tracefs"
)

// KernelFunc is a kernel function that kprobes, kprobe_multi and fentry can
// be asked to attach to.
type KernelFunc struct {
	Name   string
	Module string // "" for the core kernel
}

var kernelFuncsOnce = sync.OnceValues(loadKernelFuncs)

// KernelFuncs returns the candidate functions for kernel wildcards
// (funccount, trace, list), in file order with duplicate
// names removed (the first is kept). It does not load BTF. The result is
// computed once per process and shared; it must not be modified.
//
// The source is <tracefs>/available_filter_functions when readable: exactly
// the functions ftrace can patch, which kprobe_multi (5.18+) and fentry
// require. Otherwise it is the text symbols of /proc/kallsyms without the
// init and irqentry sections (as bcc does), a superset that may include
// functions a probe then refuses. From either source it drops the names
// in the kprobe blacklist (when debugfs has one; its absence is not an
// error) and the names bcc skips: prefixes _kbl_addr_, __perf, perf_,
// __SCT__, gcc .cold clones, plus the non-function symbols __pfx_/__cfi_
// (padding and CFI preambles), __ftrace_invalid_address___ placeholders and
// BPF programs and trampolines (kallsyms modules "bpf" and "__builtin__*").
//
// Fails only when neither source can be read; the error then wraps the
// kallsyms error (e.g. [os.ErrNotExist] or [os.ErrPermission]).
func KernelFuncs() ([]KernelFunc, error) { return kernelFuncsOnce() }

func loadKernelFuncs() ([]KernelFunc, error) {
	blacklist, _ := tracefs.KprobeBlacklist() // optional: empty when missing
	ffs, ffErr := tracefs.AvailableFilterFunctions()
	if ffErr == nil {
		return fromFilterFunctions(ffs, blacklist), nil
	}
	tab, err := kallsyms.Load()
	if err != nil {
		return nil, fmt.Errorf("list kernel functions: available_filter_functions: %v; %w", ffErr, err)
	}
	return fromKallsyms(tab, blacklist), nil
}

func fromFilterFunctions(ffs []tracefs.FilterFunc, blacklist map[string]bool) []KernelFunc {
	out := make([]KernelFunc, 0, len(ffs))
	seen := newNameSet(len(ffs))
	for _, f := range ffs {
		if skipFunc(f.Name) || blacklist[f.Name] || seen.add(f.Name, out) {
			continue
		}
		out = append(out, KernelFunc{Name: f.Name, Module: f.Module})
	}
	return out
}

func fromKallsyms(tab *kallsyms.Table, blacklist map[string]bool) []KernelFunc {
	out := make([]KernelFunc, 0, tab.Len()/2)
	seen := newNameSet(tab.Len())
	inInit, inIRQ := false, false
	for _, s := range tab.All() {
		// Section markers, in file (= address) order for vmlinux. Init
		// code is freed after boot; irqentry code cannot be probed.
		switch s.Name {
		case "_sinittext", "__init_begin":
			inInit = true
			continue
		case "_einittext", "__init_end":
			inInit = false
			continue
		case "__irqentry_text_start":
			inIRQ = true
			continue
		case "__irqentry_text_end":
			inIRQ = false
			continue
		}
		if s.Module != "" {
			// Module symbols follow vmlinux; markers never span them.
			inInit, inIRQ = false, false
			if s.Module == "bpf" || strings.HasPrefix(s.Module, "__builtin__") {
				continue
			}
		}
		if inInit || inIRQ || !s.IsText() || skipFunc(s.Name) || blacklist[s.Name] || seen.add(s.Name, out) {
			continue
		}
		out = append(out, KernelFunc{Name: s.Name, Module: s.Module})
	}
	return out
}

// skipFunc reports names never offered for wildcards: bcc's skip list
// (get_kprobe_functions) plus symbols that are not functions.
func skipFunc(name string) bool {
	if name == "" {
		return true
	}
	switch name[0] {
	case '_':
		switch {
		case strings.HasPrefix(name, "__pfx_"),
			strings.HasPrefix(name, "__cfi_"),
			strings.HasPrefix(name, "__perf"),
			strings.HasPrefix(name, "__SCT__"),
			strings.HasPrefix(name, "_kbl_addr_"),
			strings.HasPrefix(name, "__ftrace_invalid_address__"):
			return true
		}
		switch name {
		case "_stext", "_text", "_etext", "_sinittext", "_einittext":
			return true
		}
	case 'p':
		if strings.HasPrefix(name, "perf_") {
			return true
		}
	}
	return strings.IndexByte(name, '.') >= 0 && strings.Contains(name, ".cold")
}

// nameSet is an insert-only set of the names in a []KernelFunc, used for
// deduplication. It is an open-addressing hash table of (hash tag, index)
// pairs: pointer-free and 8 bytes a slot, it is several times faster than a
// map[string]struct{} of 100k+ kernel names.
type nameSet struct {
	seed  maphash.Seed
	slots []uint64 // 0 = empty; else tag<<32 | index+1
	mask  uint64
}

func newNameSet(n int) *nameSet {
	size := uint64(1024)
	for size < uint64(2*n) {
		size <<= 1
	}
	return &nameSet{seed: maphash.MakeSeed(), slots: make([]uint64, size), mask: size - 1}
}

// add reports whether name is already among funcs; if not, it records name
// as the index len(funcs), which the caller must append next.
func (s *nameSet) add(name string, funcs []KernelFunc) bool {
	h := maphash.String(s.seed, name)
	tag := h >> 32
	for i := h & s.mask; ; i = (i + 1) & s.mask {
		slot := s.slots[i]
		if slot == 0 {
			s.slots[i] = tag<<32 | uint64(len(funcs)+1)
			return false
		}
		if slot>>32 == tag && funcs[uint32(slot)-1].Name == name {
			return true
		}
	}
}
