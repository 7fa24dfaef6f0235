package syscalls

import (
	"strings"
	"sync"
)

type index struct {
	byName  map[string]int // unistd.h and kernel names
	byTrace map[string]int // kernel (tracepoint) names only
	tpName  []string       // nr -> tracepoint name
}

var idx = sync.OnceValue(func() *index {
	x := &index{
		byName:  make(map[string]int, len(names)+len(kernelNames)),
		byTrace: make(map[string]int, len(names)),
		tpName:  make([]string, len(names)),
	}
	for nr, name := range names {
		if name == "" {
			continue
		}
		x.byName[name] = nr
		tp := name
		if k, ok := kernelNames[name]; ok {
			tp = k
		}
		x.tpName[nr] = tp
		x.byTrace[tp] = nr
	}
	// Kernel names never shadow a unistd.h name of another syscall.
	for nr, tp := range x.tpName {
		if _, taken := x.byName[tp]; tp != "" && !taken {
			x.byName[tp] = nr
		}
	}
	return x
})

// Max returns one more than the highest known syscall number: every number
// Name knows is below Max. It is 0 on architectures without a table.
func Max() int { return len(names) }

// Name returns the unistd.h name of syscall nr ("fstat" for 5 on x86_64).
// It reports false for unknown or unassigned numbers.
func Name(nr int) (string, bool) {
	if nr < 0 || nr >= len(names) || names[nr] == "" {
		return "", false
	}
	return names[nr], true
}

// Number returns the number of the syscall called name, which may be the
// unistd.h name ("fstat") or the kernel's name ("newfstat"). It reports
// false for unknown names.
func Number(name string) (int, bool) {
	nr, ok := idx().byName[name]
	return nr, ok
}

// TracepointName returns the name the kernel uses for syscall nr: the
// suffix of its tracepoints syscalls:sys_enter_<name> and sys_exit_<name>
// ("newfstat" for fstat). It reports false for unknown numbers.
func TracepointName(nr int) (string, bool) {
	x := idx()
	if nr < 0 || nr >= len(x.tpName) || x.tpName[nr] == "" {
		return "", false
	}
	return x.tpName[nr], true
}

// NumberForTracepoint returns the syscall number of a syscall tracepoint,
// given its suffix ("newfstat") or full event name ("sys_enter_newfstat",
// "sys_exit_newfstat"). It reports false for unknown names.
func NumberForTracepoint(name string) (int, bool) {
	if s, ok := strings.CutPrefix(name, "sys_enter_"); ok {
		name = s
	} else if s, ok := strings.CutPrefix(name, "sys_exit_"); ok {
		name = s
	}
	nr, ok := idx().byTrace[name]
	return nr, ok
}

// symbolPrefixes are the prefixes of syscall function names across kernel
// versions and architectures, longest first where one is a prefix of another.
var symbolPrefixes = []string{
	"__x32_compat_sys_",
	"__ia32_compat_sys_",
	"__x64_sys_",
	"__ia32_sys_",
	"__arm64_sys_",
	"__s390x_sys_",
	"__s390_sys_",
	"__riscv_sys_",
	"__se_sys_",
	"__do_sys_",
	"sys_",
	"SyS_",
}

// Canonical recognises the syscall function names users type: sys_X, SyS_X
// (before 4.17), __x64_sys_X, __ia32_sys_X, __arm64_sys_X, __s390x_sys_X,
// __se_sys_X, __do_sys_X, __x32_compat_sys_X and __ia32_compat_sys_X. It
// returns X and true when X is a known syscall by its unistd.h or kernel
// name; otherwise false. A bare syscall name ("read") is not a function name
// and reports false.
func Canonical(fn string) (string, bool) {
	if x, ok := CutPrefix(fn); ok {
		if _, known := Number(x); known {
			return x, true
		}
	}
	return "", false
}

// CutPrefix strips the syscall entry-point prefix of fn (sys_, SyS_,
// __x64_sys_, ...: the spellings Canonical accepts) without checking that
// the rest names a syscall, so patterns like "sys_rea*" can be matched
// against syscall names. ok is false when fn has no such prefix or nothing
// follows it.
func CutPrefix(fn string) (rest string, ok bool) {
	for _, p := range symbolPrefixes {
		if x, found := strings.CutPrefix(fn, p); found {
			return x, x != ""
		}
	}
	return "", false
}

// WrapperSymbol returns the kernel entry symbol of the syscall called name
// (unistd.h or kernel name): "__x64_sys_newfstat" for "fstat" on x86_64.
// Unknown names are prefixed unchanged. The symbol exists on kernels since
// 4.17 built with syscall wrappers (all x86_64 and arm64 kernels since then).
func WrapperSymbol(name string) string {
	if nr, ok := Number(name); ok {
		name, _ = TracepointName(nr)
	}
	return wrapperPrefix + name
}
