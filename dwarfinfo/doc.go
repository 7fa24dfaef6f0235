// Package dwarfinfo resolves user-space binaries for uprobes and USDT probes:
// it finds libraries the way bcc does (FindBinary: ld.so cache, then $PATH),
// lists and looks up function symbols with the file offsets uprobes attach
// at, reads USDT probes from .note.stapsdt (with semaphore offsets for the
// kernel's ref_ctr_offset), symbolizes stack addresses, and lowers DWARF
// function prototypes and types into cilium/ebpf BTF types so that user
// functions are checked with the same type model as kernel functions
// (github.com/btool/btool/btf).
//
// Everything is lazy: Open reads only the ELF headers; symbol tables, notes
// and DWARF are parsed on first use and cached in the Binary. DWARF is read
// a unit at a time: a function's prototype decompresses the sections
// debug/dwarf needs (not line tables or location lists) and parses the
// abbreviations of the unit .debug_aranges names for it, and of the units
// its types refer into; only lookups by a name the symbol table lacks (Type,
// a DW_AT_name that is no symbol) parse every unit. For libc's debug file
// that is 1 unit of 2,063 for malloc. A Binary keeps its file open, and
// File names that open file for the kernel, so probes land in the file that
// was read. Nothing here
// needs root or a particular kernel; the offsets it returns are what the
// uprobe API (kernel 3.5+, ref_ctr_offset 4.20+) expects.
//
// Errors wrap the sentinels ErrNotFound, ErrNoDebugInfo and ErrAmbiguous.
package dwarfinfo
