// Package symbolize turns stack addresses into function names for trace's
// -K/-U output and for the stack tools (stackcount, profile, offcputime).
//
// Kernel addresses resolve through /proc/kallsyms (package kallsyms: parsed
// once per process into a table sorted by address and searched by binary
// search); functions of kernel modules carry the module name, printed as
// "name+0xoff [module]".
//
// User addresses resolve through the process's memory map, captured by
// Snapshot when a pid is first seen (so processes that exit before the
// report still resolve: the mapped files are opened then and kept open by
// descriptor, keyed by device and inode), then, in the mapped file, in this
// order:
//
//   - the ELF .symtab and .dynsym (package dwarfinfo; aliases resolved to
//     the preferred name);
//   - .gnu_debugdata (MiniDebugInfo: an xz-compressed ELF holding a .symtab,
//     as Fedora and RHEL ship their binaries);
//   - .gopclntab (debug/gosym), which Go binaries keep when they are
//     stripped (go build -ldflags='-s -w');
//
// and, when the file carries DWARF (.debug_info), the frames of inlined
// calls (github.com/go-delve/delve/pkg/dwarf: an address inside an inlined
// call yields the inlined function(s) and then the function they were
// inlined into, as perf and blazesym print them) and, with Options.Lines,
// file:line of every frame. Addresses in no mapped file are looked up in
// the JIT map /tmp/perf-PID.map ("START SIZE name", hex), which is read at
// Snapshot and read again when it grows. C++ and Rust names are demangled
// (github.com/ianlancetaylor/demangle).
//
// Caches are bounded (see Options): at most MaxProcs process maps (least
// recently used evicted), at most MaxBinaries open files that no cached
// process maps (files a cached process maps stay open while it is cached,
// so they are bounded by MaxProcs times the files a process maps), and at
// most MaxFrames symbolized addresses per file (the cache is emptied when
// it fills). Close releases everything.
//
// Failed stack ids (bpf_get_stackid's negative returns) are explained by
// StackError, printed by FormatStackError and counted by StackErrors, so
// that a lost stack is never shown as an empty one.
//
// Nothing here needs root except reading kernel addresses from kallsyms
// (root or CAP_SYSLOG) and other users' /proc/PID/maps; no particular
// kernel is needed.
package symbolize
