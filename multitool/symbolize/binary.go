package symbolize

import (
	"bytes"
	"cmp"
	"container/list"
	"debug/elf"
	"debug/gosym"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/ianlancetaylor/demangle"
	"github.com/ulikunitz/xz"

	"github.com/btool/btool/dwarfinfo"
)

// symBin is an opened mapped file and what was learnt from it. Its lazily
// built tables are guarded by its own mutex, so that a file shared by
// processes is read once.
type symBin struct {
	key  symBinKey
	refs int           // cached processes mapping it
	idle *list.Element // in ProcSymbolizer.idle when refs == 0

	b   *dwarfinfo.Binary // nil when the file could not be opened
	elf *elf.File         // the same descriptor, for sections dwarfinfo doesn't read
	err error

	mu        sync.Mutex
	maxFrames int
	cache     map[uint64][]Frame // by file offset; emptied when it reaches maxFrames
	cacheLn   bool               // cache holds lines

	miniOnce sync.Once
	mini     []funcSym // .gnu_debugdata's functions, sorted by address

	goOnce sync.Once
	gotab  *gosym.Table

	dw *dwarfSyms // nil until first needed; see dwarf.go
}

// funcSym is a function of a symbol table other than dwarfinfo's.
type funcSym struct {
	addr, size uint64
	name       string
}

// openBin opens the first of paths that opens as an ELF file; err records
// the first failure when none does.
func openBin(paths []string, maxFrames int) *symBin {
	e := &symBin{maxFrames: maxFrames}
	for _, p := range paths {
		b, err := dwarfinfo.Open(p)
		if err == nil {
			e.b, e.err = b, nil
			break
		}
		if e.err == nil {
			e.err = err
		}
	}
	if e.b != nil {
		fi, err := e.b.Stat()
		if err == nil {
			e.elf, _ = elf.NewFile(io.NewSectionReader(e.b, 0, fi.Size()))
		}
	}
	return e
}

// close closes the file; lookups after it fail.
func (e *symBin) close() error {
	if e.b == nil {
		return nil
	}
	err := e.b.Close()
	e.b, e.elf = nil, nil
	e.err = errors.New("closed")
	return err
}

// frames appends the frames of file offset off, innermost first (one
// frame, with an empty name, when nothing names it). lines asks for
// File and Line.
func (e *symBin) frames(dst []Frame, off uint64, lines bool) []Frame {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.cacheLn != lines {
		clear(e.cache)
		e.cacheLn = lines
	}
	if fs, ok := e.cache[off]; ok {
		return append(dst, fs...)
	}
	n := len(dst)
	dst = e.resolve(dst, off, lines)
	if e.cache == nil {
		e.cache = make(map[uint64][]Frame)
	}
	if len(e.cache) >= e.maxFrames {
		clear(e.cache)
	}
	e.cache[off] = slices.Clone(dst[n:])
	return dst
}

// resolve symbolizes file offset off without the cache. e.mu is held.
func (e *symBin) resolve(dst []Frame, off uint64, lines bool) []Frame {
	if e.b == nil || e.elf == nil {
		return append(dst, Frame{})
	}
	va, ok := vaddr(e.elf, off)
	if !ok {
		return append(dst, Frame{})
	}
	f := Frame{}
	if name, o, ok := e.b.Symbolize(off); ok {
		f = Frame{Name: name, Off: o, Kind: KindSymtab}
	} else if s, ok := lookupFunc(e.miniSyms(), va); ok {
		f = Frame{Name: s.name, Off: va - s.addr, Kind: KindMiniDebug}
	} else if t := e.goTable(); t != nil {
		if fn := t.PCToFunc(va); fn != nil {
			f = Frame{Name: fn.Name, Off: va - fn.Entry, Kind: KindGo}
		}
	}
	if f.Name != "" && e.goTable() != nil {
		f.Kind = KindGo
		if lines {
			file, line, _ := e.gotab.PCToLine(va)
			if file != "" {
				f.File, f.Line = filepath.Base(file), line
			}
		}
		return append(dst, f)
	}
	if f.Name == "" {
		return append(dst, f)
	}
	if dw := e.dwarf(); dw != nil {
		return dw.frames(dst, f, va, lines)
	}
	return append(dst, f)
}

// vaddr translates a file offset to a virtual address through the PT_LOAD
// segment whose file image contains it.
func vaddr(f *elf.File, off uint64) (uint64, bool) {
	for _, p := range f.Progs {
		if p.Type == elf.PT_LOAD && off >= p.Off && off < p.Off+p.Filesz {
			return off - p.Off + p.Vaddr, true
		}
	}
	return 0, false
}

// lookupFunc finds the function containing va in syms (sorted by address);
// a symbol of unknown size covers everything up to the next one.
func lookupFunc(syms []funcSym, va uint64) (funcSym, bool) {
	i, found := slices.BinarySearchFunc(syms, va, func(s funcSym, a uint64) int { return cmp.Compare(s.addr, a) })
	if !found {
		i--
	}
	if i < 0 {
		return funcSym{}, false
	}
	s := syms[i]
	if s.size != 0 && va >= s.addr+s.size {
		return funcSym{}, false
	}
	return s, true
}

// maxMiniDebug caps the decompressed size of .gnu_debugdata: Fedora's are
// well under a megabyte (they hold symbols only).
const maxMiniDebug = 64 << 20

// miniSyms returns the functions of the .gnu_debugdata section, read on
// first use; nil when there is none or it can't be read.
func (e *symBin) miniSyms() []funcSym {
	e.miniOnce.Do(func() {
		sec := e.elf.Section(".gnu_debugdata")
		if sec == nil || sec.Type == elf.SHT_NOBITS {
			return
		}
		syms, err := readMiniDebugInfo(sec.Open())
		if err == nil {
			e.mini = syms
		}
	})
	return e.mini
}

// readMiniDebugInfo decompresses an xz stream holding an ELF file and
// returns its function symbols sorted by address (C++ and Rust names
// demangled). It fails when the stream is not xz, is larger than
// maxMiniDebug, or holds no ELF symbol table.
func readMiniDebugInfo(r io.Reader) ([]funcSym, error) {
	zr, err := xz.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("MiniDebugInfo: %w", err)
	}
	data, err := io.ReadAll(io.LimitReader(zr, maxMiniDebug+1))
	if err != nil {
		return nil, fmt.Errorf("MiniDebugInfo: %w", err)
	}
	if len(data) > maxMiniDebug {
		return nil, fmt.Errorf("MiniDebugInfo: larger than %d bytes", maxMiniDebug)
	}
	ef, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("MiniDebugInfo: %w", err)
	}
	syms, err := ef.Symbols()
	if err != nil {
		return nil, fmt.Errorf("MiniDebugInfo: %w", err)
	}
	return funcSyms(syms), nil
}

// funcSyms keeps the defined functions of syms, sorted by address, one per
// address (global names before local ones, then the shorter name).
func funcSyms(syms []elf.Symbol) []funcSym {
	type cand struct {
		funcSym
		local bool
	}
	var cs []cand
	for _, s := range syms {
		typ := elf.ST_TYPE(s.Info)
		if typ != elf.STT_FUNC && typ != elf.STT_GNU_IFUNC || s.Section == elf.SHN_UNDEF || s.Name == "" {
			continue
		}
		name := s.Name
		if i := strings.IndexByte(name, '@'); i > 0 {
			name = name[:i]
		}
		cs = append(cs, cand{funcSym{s.Value, s.Size, name}, elf.ST_BIND(s.Info) == elf.STB_LOCAL})
	}
	slices.SortFunc(cs, func(a, b cand) int {
		if c := cmp.Compare(a.addr, b.addr); c != 0 {
			return c
		}
		if a.local != b.local {
			if a.local {
				return 1
			}
			return -1
		}
		return cmp.Or(cmp.Compare(len(a.name), len(b.name)), strings.Compare(a.name, b.name))
	})
	out := make([]funcSym, 0, len(cs))
	for i, c := range cs {
		if i > 0 && c.addr == cs[i-1].addr {
			continue
		}
		c.name = Demangle(c.name)
		out = append(out, c.funcSym)
	}
	return out
}

// Demangle returns the demangled form of a C++ or Rust symbol name, and
// name itself for anything else.
func Demangle(name string) string {
	return demangle.Filter(name)
}

// goTable returns the binary's Go symbol table, from .gopclntab, built on
// first use; nil for non-Go files or when it can't be read. It works on
// binaries built with -ldflags='-s -w', which keep .gopclntab.
func (e *symBin) goTable() *gosym.Table {
	e.goOnce.Do(func() {
		pcln := e.elf.Section(".gopclntab")
		text := e.elf.Section(".text")
		if pcln == nil || text == nil {
			return
		}
		data, err := pcln.Data()
		if err != nil {
			return
		}
		t, err := gosym.NewTable(nil, gosym.NewLineTable(data, text.Addr))
		if err == nil {
			e.gotab = t
		}
	})
	return e.gotab
}
