// Package syscalls maps Linux system call numbers to names and back, and
// translates between the names users type (read, sys_read, __x64_sys_read),
// the syscall tracepoints (syscalls:sys_enter_<name>) and the kernel's entry
// symbols (__x64_sys_<name>).
//
// Only x86_64 has a table for now; on other architectures every lookup
// fails. The table is generated from golang.org/x/sys/unix by gen.go.
// Syscall tracepoints and entry symbols use the kernel's SYSCALL_DEFINE name,
// which differs from the unistd.h name for a few calls (fstat is
// SYSCALL_DEFINE2(newfstat, ...)); the alias table handles those.
package syscalls

//go:generate go run gen.go
