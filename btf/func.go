package btf

import (
	ebtf "github.com/cilium/ebpf/btf"
)

// Func is a probe-able function resolved to its prototype. Kernel functions
// come from BTF; user functions come from DWARF lowered into the same types.
type Func struct {
	Name   string // symbol name as attached (mangled for C++/Rust user symbols)
	Module string // kernel module ("" or "vmlinux" for the core kernel); binary path for user functions
	Params []Param
	Ret    ebtf.Type // nil means void or unknown
	// Variadic is set when the prototype ends in "...". The variadic part
	// is not in Params.
	Variadic bool
	// BTF is the kernel's BTF function (nil for user functions). Its Type is
	// the *ebtf.FuncProto the other fields were derived from.
	BTF *ebtf.Func
}

// Param is one formal parameter of a Func.
type Param struct {
	Name string
	Type ebtf.Type // nil means unknown (no type information)
}
