package btf

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"

	ebtf "github.com/cilium/ebpf/btf"

	"github.com/btool/btool/internal/kallsyms"
	"github.com/btool/btool/internal/tracefs"
)

// Kernel is the running kernel's BTF: vmlinux, plus module BTF loaded on
// demand. It is safe for concurrent use.
type Kernel struct {
	cache *ebtf.Cache
	spec  *ebtf.Spec

	mu    sync.Mutex
	funcs map[funcKey]funcResult
}

type funcKey struct{ module, name string }

type funcResult struct {
	fn  *Func
	err error
}

var loadKernelOnce = sync.OnceValues(func() (*Kernel, error) {
	cache := ebtf.NewCache()
	spec, err := cache.Kernel()
	if errors.Is(err, ebtf.ErrNotSupported) {
		return nil, fmt.Errorf("kernel BTF (/sys/kernel/btf/vmlinux) not available; the kernel needs CONFIG_DEBUG_INFO_BTF: %w", err)
	}
	if err != nil {
		return nil, fmt.Errorf("load kernel BTF: %w", err)
	}
	return &Kernel{cache: cache, spec: spec, funcs: map[funcKey]funcResult{}}, nil
})

// LoadKernel returns the running kernel's BTF. It loads
// /sys/kernel/btf/vmlinux once per process (lazily decoded by cilium/ebpf)
// and returns the same Kernel to every caller; a failure is cached too.
//
// Returns an error wrapping [ErrNotSupported] when the kernel has no BTF
// (CONFIG_DEBUG_INFO_BTF, Linux 5.2+ for /sys/kernel/btf/vmlinux).
func LoadKernel() (*Kernel, error) { return loadKernelOnce() }

// NewKernel wraps an existing spec, for tests with synthetic BTF. Module
// lookups then go to the running kernel's module BTF, if any.
func NewKernel(spec *ebtf.Spec) *Kernel {
	return &Kernel{cache: ebtf.NewCache(), spec: spec, funcs: map[funcKey]funcResult{}}
}

// Spec returns the vmlinux BTF.
func (k *Kernel) Spec() *ebtf.Spec { return k.spec }

// Cache returns the BTF cache holding vmlinux and the module BTF loaded so
// far; pass it to ebpf.CollectionOptions.Cache so program loads reuse it.
// For a Kernel made by NewKernel the cache is independent of Spec.
func (k *Kernel) Cache() *ebtf.Cache { return k.cache }

// Func resolves a kernel function by name to its BTF prototype. It searches
// vmlinux first; when the function is not there but available_filter_functions
// (or, if that is unreadable, kallsyms) places it in a module, it searches
// that module's BTF (/sys/kernel/btf/<module>). Results are cached.
//
// Returns an error wrapping [ErrNotFound] ("kernel function "x" not found in
// BTF") when no BTF has the function, and one wrapping [ErrMultipleMatches]
// when several functions of that name have different prototypes.
func (k *Kernel) Func(name string) (*Func, error) {
	return k.resolve(funcKey{name: name}, func() (*Func, error) {
		fn, err := findFunc(k.spec, name, "")
		if !errors.Is(err, ErrNotFound) {
			return fn, err
		}
		if mod := moduleOf(name); mod != "" {
			if mfn, merr := k.moduleFunc(mod, name); merr == nil || !errors.Is(merr, ErrNotFound) {
				return mfn, merr
			}
		}
		return nil, fmt.Errorf("kernel function %q not found in BTF: %w", name, ErrNotFound)
	})
}

// FuncInModule resolves a function of the named kernel module from that
// module's BTF. Module "" or "vmlinux" means the core kernel, like Func.
//
// Returns an error wrapping [ErrNotFound] when the module or the function
// is unknown, and [ErrNotSupported] when the kernel has no module BTF
// (CONFIG_DEBUG_INFO_BTF_MODULES, Linux 5.11+).
func (k *Kernel) FuncInModule(module, name string) (*Func, error) {
	if module == "" || module == "vmlinux" {
		return k.Func(name)
	}
	return k.resolve(funcKey{module, name}, func() (*Func, error) {
		return k.moduleFunc(module, name)
	})
}

func (k *Kernel) resolve(key funcKey, find func() (*Func, error)) (*Func, error) {
	k.mu.Lock()
	r, ok := k.funcs[key]
	k.mu.Unlock()
	if ok {
		return r.fn, r.err
	}
	fn, err := find()
	k.mu.Lock()
	k.funcs[key] = funcResult{fn, err}
	k.mu.Unlock()
	return fn, err
}

func (k *Kernel) moduleFunc(module, name string) (*Func, error) {
	spec, err := k.cache.Module(module)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("kernel function %q: no BTF for module %q: %w", name, module, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("kernel function %q: load BTF of module %q: %w", name, module, err)
	}
	fn, err := findFunc(spec, name, module)
	if errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("kernel function %q not found in BTF of module %q: %w", name, module, ErrNotFound)
	}
	return fn, err
}

// findFunc looks up a BTF FUNC called name in spec.
func findFunc(spec *ebtf.Spec, name, module string) (*Func, error) {
	types, err := spec.AnyTypesByName(name)
	if err != nil && !errors.Is(err, ebtf.ErrNotFound) {
		return nil, fmt.Errorf("kernel function %q: %w", name, err)
	}
	var found *Func
	for _, t := range types {
		bf, ok := t.(*ebtf.Func)
		if !ok {
			continue
		}
		fn, err := newFunc(bf, module)
		if err != nil {
			return nil, err
		}
		if found == nil {
			found = fn
		} else if found.Signature() != fn.Signature() {
			return nil, fmt.Errorf("kernel function %q: %q and %q: %w", name, found.Signature(), fn.Signature(), ErrMultipleMatches)
		}
	}
	if found == nil {
		return nil, ErrNotFound
	}
	return found, nil
}

func newFunc(bf *ebtf.Func, module string) (*Func, error) {
	proto, ok := bf.Type.(*ebtf.FuncProto)
	if !ok {
		return nil, fmt.Errorf("kernel function %q: BTF type %v is not a prototype", bf.Name, bf.Type)
	}
	fn := &Func{Name: bf.Name, Module: module, BTF: bf}
	if !isVoid(proto.Return) {
		fn.Ret = proto.Return
	}
	for i, p := range proto.Params {
		if i == len(proto.Params)-1 && p.Name == "" && isVoid(p.Type) {
			fn.Variadic = true
			break
		}
		fn.Params = append(fn.Params, Param{Name: p.Name, Type: p.Type})
	}
	return fn, nil
}

// moduleOf returns the module a kernel function lives in according to
// available_filter_functions, else kallsyms; "" when it is in vmlinux or
// unknown.
func moduleOf(name string) string {
	if ffs, err := tracefs.AvailableFilterFunctions(); err == nil {
		for _, f := range ffs {
			if f.Name == name {
				return f.Module
			}
		}
		return ""
	}
	tab, err := kallsyms.Load()
	if err != nil {
		return ""
	}
	for _, s := range tab.All() {
		if s.Name == name && s.IsText() {
			return s.Module
		}
	}
	return ""
}

// HasFunc reports whether vmlinux BTF has a function called name. This is
// the cheap half of fentry eligibility: the kernel also refuses functions
// that ftrace cannot patch (notrace, inlined), which only an attach attempt
// or available_filter_functions tells.
func (k *Kernel) HasFunc(name string) bool {
	types, err := k.spec.AnyTypesByName(name)
	if err != nil {
		return false
	}
	for _, t := range types {
		if _, ok := t.(*ebtf.Func); ok {
			return true
		}
	}
	return false
}

// intNames maps C spellings of integer types to BTF's (gcc DWARF) names.
var intNames = map[string]string{
	"long":               "long int",
	"signed long":        "long int",
	"unsigned long":      "long unsigned int",
	"long long":          "long long int",
	"signed long long":   "long long int",
	"unsigned long long": "long long unsigned int",
	"short":              "short int",
	"signed short":       "short int",
	"unsigned short":     "short unsigned int",
	"unsigned":           "unsigned int",
	"signed":             "int",
	"signed int":         "int",
	"bool":               "_Bool",
}

// Type resolves a C type name against vmlinux BTF: "struct file",
// "union bpf_attr", "enum bpf_cmd", a typedef ("size_t", "u64"), a base
// type ("int", "unsigned long", "char"), or a bare tag name ("task_struct",
// tried as a typedef or base type first, then struct, union and enum).
// Trailing "*"s make pointers: "struct file *". Of several types with one
// name the first in BTF order wins.
//
// Returns an error wrapping [ErrNotFound] for an unknown name.
func (k *Kernel) Type(name string) (ebtf.Type, error) {
	return lookupType(k.spec, name)
}

func lookupType(spec *ebtf.Spec, name string) (ebtf.Type, error) {
	s := strings.TrimSpace(name)
	ptrs := 0
	for strings.HasSuffix(s, "*") {
		ptrs++
		s = strings.TrimSpace(strings.TrimSuffix(s, "*"))
	}
	s = strings.Join(strings.Fields(s), " ")
	var t ebtf.Type
	kind, tag, _ := strings.Cut(s, " ")
	switch kind {
	case "struct", "union", "enum":
		t = findNamed(spec, tag, kind)
	default:
		if n, ok := intNames[s]; ok {
			s = n
		}
		for _, k := range []string{"", "struct", "union", "enum"} {
			if t = findNamed(spec, s, k); t != nil {
				break
			}
		}
	}
	if t == nil {
		return nil, fmt.Errorf("kernel type %q not found in BTF: %w", name, ErrNotFound)
	}
	for range ptrs {
		t = &ebtf.Pointer{Target: t}
	}
	return t, nil
}

// findNamed returns the first type called name of the given C kind:
// "struct", "union", "enum", or "" for typedefs and base types.
func findNamed(spec *ebtf.Spec, name, kind string) ebtf.Type {
	if name == "" {
		return nil
	}
	types, err := spec.AnyTypesByName(name)
	if err != nil {
		return nil
	}
	for _, t := range types {
		switch t.(type) {
		case *ebtf.Struct:
			if kind == "struct" {
				return t
			}
		case *ebtf.Union:
			if kind == "union" {
				return t
			}
		case *ebtf.Enum:
			if kind == "enum" {
				return t
			}
		case *ebtf.Typedef, *ebtf.Int, *ebtf.Float:
			if kind == "" {
				return t
			}
		}
	}
	return nil
}
