package dwarfinfo

import (
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"sync"
)

var (
	// ErrNotFound is wrapped by errors for a library, binary, symbol, function
	// or type that does not exist.
	ErrNotFound = errors.New("not found")
	// ErrNoDebugInfo is wrapped by Func, Type and ParamLocations when the
	// binary (and any separate debug file for it) has no DWARF .debug_info.
	ErrNoDebugInfo = errors.New("no DWARF debug info")
	// ErrAmbiguous is wrapped by Func when a plain name matches several
	// different functions (C++ overloads, same-named statics); pass the
	// mangled symbol name instead.
	ErrAmbiguous = errors.New("ambiguous name")
)

// Binary is an ELF executable or shared library opened for symbol, USDT and
// DWARF queries. Open only reads the ELF headers; symbol tables, notes and
// DWARF are parsed on first use and cached. A Binary is safe for concurrent
// use.
type Binary struct {
	path string
	file *os.File
	elf  *elf.File

	symOnce sync.Once
	syms    *symbolTable
	symErr  error

	usdtOnce sync.Once
	usdt     []USDTProbe
	usdtErr  error

	dwOnce sync.Once
	dw     *dwarfState
	dwErr  error
}

// Open opens the ELF file at path. It is cheap: only the ELF, program and
// section headers are read (well under a millisecond, even for libc). The
// caller must Close the Binary. It returns an error wrapping [ErrNotFound]
// when the file does not exist, and an error naming the path when it is not
// a readable ELF file.
func Open(path string) (*Binary, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("open binary %s: no such file: %w", path, ErrNotFound)
		}
		return nil, fmt.Errorf("open binary: %w", err)
	}
	ef, err := elf.NewFile(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open binary %s: not an ELF file: %w", path, err)
	}
	return &Binary{path: path, file: f, elf: ef}, nil
}

// Path returns the path the Binary was opened with.
func (b *Binary) Path() string { return b.path }

// File returns a path that names the very file the Binary read, for as
// long as the Binary is open: /proc/self/fd/N of its descriptor. The
// kernel resolves a uprobe's path with kern_path, which follows that magic
// link to the open file, so a probe attached through it lands in this
// binary even if a symlink in Path has since been switched to another.
// It is only meaningful to this process.
func (b *Binary) File() string { return fmt.Sprintf("/proc/self/fd/%d", b.file.Fd()) }

// Stat returns the FileInfo of the file the Binary read (not of whatever
// Path names now).
func (b *Binary) Stat() (os.FileInfo, error) { return b.file.Stat() }

// ReadAt reads from the file the Binary read, at file offset off.
func (b *Binary) ReadAt(p []byte, off int64) (int, error) { return b.file.ReadAt(p, off) }

// Close releases the file (and a separate debug file, if one was opened).
// Results already returned stay valid; queries that still need to read the
// file fail afterwards. Close must not run concurrently with other methods.
func (b *Binary) Close() error {
	var err error
	if b.dw != nil && b.dw.debugFile != nil {
		err = b.dw.debugFile.Close()
	}
	if cerr := b.file.Close(); err == nil {
		err = cerr
	}
	return err
}

// IsGo reports whether the binary was built by the Go toolchain: it has a
// .go.buildinfo section or a runtime.buildVersion symbol. Unreadable symbol
// tables count as "not Go".
func (b *Binary) IsGo() bool {
	if b.elf.Section(".go.buildinfo") != nil {
		return true
	}
	st, err := b.symbols()
	if err != nil {
		return false
	}
	return st.hasGoVersion
}

// fileOffset translates a virtual address of the binary into the file offset
// the kernel's uprobe API expects: through the PT_LOAD segment containing
// vaddr (off = vaddr - p_vaddr + p_offset), else through the section
// containing it (relocatable objects have no segments). ok is false when
// vaddr lies in neither.
func (b *Binary) fileOffset(vaddr uint64) (uint64, bool) {
	for _, p := range b.elf.Progs {
		if p.Type != elf.PT_LOAD {
			continue
		}
		if vaddr >= p.Vaddr && vaddr < p.Vaddr+p.Memsz {
			return vaddr - p.Vaddr + p.Off, true
		}
	}
	for _, s := range b.elf.Sections {
		if s.Flags&elf.SHF_ALLOC == 0 || s.Type == elf.SHT_NOBITS {
			continue
		}
		if vaddr >= s.Addr && vaddr < s.Addr+s.Size {
			return vaddr - s.Addr + s.Offset, true
		}
	}
	return 0, false
}

// vaddr translates a file offset back to a virtual address through the
// PT_LOAD segment whose file image contains it.
func (b *Binary) vaddr(off uint64) (uint64, bool) {
	for _, p := range b.elf.Progs {
		if p.Type != elf.PT_LOAD {
			continue
		}
		if off >= p.Off && off < p.Off+p.Filesz {
			return off - p.Off + p.Vaddr, true
		}
	}
	if len(b.elf.Progs) == 0 {
		for _, s := range b.elf.Sections {
			if s.Flags&elf.SHF_ALLOC == 0 || s.Type == elf.SHT_NOBITS {
				continue
			}
			if off >= s.Offset && off < s.Offset+s.Size {
				return off - s.Offset + s.Addr, true
			}
		}
	}
	return 0, false
}
