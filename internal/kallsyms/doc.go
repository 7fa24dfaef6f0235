// Package kallsyms reads /proc/kallsyms, the kernel's symbol table, once per
// process: address to symbol lookups for kernel stack traces, symbol
// addresses by name, and the list of kernel text symbols (the fallback
// candidate list for kernel function wildcards).
//
// Addresses are only visible to privileged readers: with kptr_restrict set
// (or without CAP_SYSLOG) the kernel prints every address as zero. Names and
// types are still listed then, but [Table.Lookup] and [Table.Addr] fail.
// See https://docs.kernel.org/admin-guide/sysctl/kernel.html#kptr-restrict.
package kallsyms
