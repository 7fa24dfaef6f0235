package syscalls

// kernelNames maps unistd.h names to the kernel's SYSCALL_DEFINE name where
// they differ on x86_64. That name is the syscall tracepoint suffix
// (syscalls:sys_enter_<name>) and the entry symbol (__x64_sys_<name>).
// Checked against the tracepoints of 6.18 (TestKernelTracepoints).
var kernelNames = map[string]string{
	"fstat":    "newfstat",   // fs/stat.c SYSCALL_DEFINE2(newfstat, ...)
	"stat":     "newstat",    // SYSCALL_DEFINE2(newstat, ...)
	"lstat":    "newlstat",   // SYSCALL_DEFINE2(newlstat, ...)
	"uname":    "newuname",   // kernel/sys.c SYSCALL_DEFINE1(newuname, ...)
	"sendfile": "sendfile64", // fs/read_write.c SYSCALL_DEFINE4(sendfile64, ...)
	"umount2":  "umount",     // fs/namespace.c SYSCALL_DEFINE2(umount, name, flags)
	"_sysctl":  "sysctl",     // removed in 5.5; was SYSCALL_DEFINE1(sysctl, ...)
}

// wrapperPrefix is the prefix of the syscall entry symbols since Linux 4.17
// (CONFIG_ARCH_HAS_SYSCALL_WRAPPER).
const wrapperPrefix = "__x64_sys_"
