// Package btf resolves kernel symbols against the running kernel's BTF
// (/sys/kernel/btf/vmlinux and module BTF) and holds the neutral "resolved
// function" vocabulary (Func, Param) that dwarfinfo also produces for user
// space, so the checker and code generator see one type model.
//
// Types are github.com/cilium/ebpf/btf types; this package adds loading,
// caching, lookup by C name ([Kernel.Func], [Kernel.Type]), C rendering
// ([TypeString], [Func.Signature]) and the list of traceable kernel
// functions for wildcards ([KernelFuncs], which needs no BTF).
// See https://docs.kernel.org/bpf/btf.html.
package btf
