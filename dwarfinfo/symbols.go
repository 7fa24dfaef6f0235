package dwarfinfo

import (
	"cmp"
	"debug/elf"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/ianlancetaylor/demangle"
)

// Symbol is a function symbol of a Binary.
type Symbol struct {
	Name      string // symbol name without any @VERSION/@@VERSION suffix (mangled for C++/Rust)
	Demangled string // C++/Rust demangled name; equal to Name for C names
	Addr      uint64 // virtual address (st_value)
	Size      uint64 // st_size; 0 when unknown
	Offset    uint64 // file offset to attach a uprobe at (Addr translated through its PT_LOAD segment)
	// IFunc marks an STT_GNU_IFUNC symbol: Addr is the resolver that the
	// dynamic linker calls once to pick an implementation (memcpy, strlen in
	// glibc), so a uprobe there does not fire on calls.
	IFunc bool
}

// symbolTable is the lazily built function symbol index of a Binary.
type symbolTable struct {
	all          []symCandidate // every defined function symbol, deduplicated by (Name, Addr), sorted by Addr then preference
	byAddr       []Symbol       // one preferred symbol per address, sorted by Addr (for Symbolize)
	funcs        []Symbol       // byAddr deduplicated by Name, sorted by Name (Functions)
	hasGoVersion bool           // runtime.buildVersion is defined
}

type symCandidate struct {
	Symbol
	hidden bool // non-default version ("name@VER") or hidden dynsym version
	local  bool
}

// less orders candidates at the same address: default versions first, then
// names without a leading underscore, then global/weak over local, then
// shorter names, then by name.
func (c *symCandidate) less(d *symCandidate) int {
	if c.hidden != d.hidden {
		if c.hidden {
			return 1
		}
		return -1
	}
	cu, du := strings.HasPrefix(c.Name, "_"), strings.HasPrefix(d.Name, "_")
	if cu != du {
		if cu {
			return 1
		}
		return -1
	}
	if c.local != d.local {
		if c.local {
			return 1
		}
		return -1
	}
	if n := cmp.Compare(len(c.Name), len(d.Name)); n != 0 {
		return n
	}
	return strings.Compare(c.Name, d.Name)
}

// symbols builds the symbol table once.
func (b *Binary) symbols() (*symbolTable, error) {
	b.symOnce.Do(func() { b.syms, b.symErr = b.loadSymbols() })
	return b.syms, b.symErr
}

func (b *Binary) loadSymbols() (*symbolTable, error) {
	st := &symbolTable{}
	var cands []symCandidate
	for _, load := range []func() ([]elf.Symbol, error){b.elf.Symbols, b.elf.DynamicSymbols} {
		syms, err := load()
		if err != nil {
			if errors.Is(err, elf.ErrNoSymbols) {
				continue
			}
			return nil, fmt.Errorf("read symbols of %s: %w", b.path, err)
		}
		for _, s := range syms {
			if s.Name == "runtime.buildVersion" && s.Section != elf.SHN_UNDEF {
				st.hasGoVersion = true
			}
			typ := elf.ST_TYPE(s.Info)
			if typ != elf.STT_FUNC && typ != elf.STT_GNU_IFUNC {
				continue
			}
			if s.Section == elf.SHN_UNDEF || s.Section == elf.SHN_ABS && s.Value == 0 || s.Name == "" {
				continue
			}
			name, hidden := s.Name, false
			if i := strings.IndexByte(name, '@'); i > 0 {
				hidden = !strings.HasPrefix(name[i:], "@@")
				name = name[:i]
			}
			if s.HasVersion && s.VersionIndex.IsHidden() {
				hidden = true
			}
			off, ok := b.fileOffset(s.Value)
			if !ok {
				off = s.Value
			}
			cands = append(cands, symCandidate{
				Symbol: Symbol{Name: name, Addr: s.Value, Size: s.Size, Offset: off, IFunc: typ == elf.STT_GNU_IFUNC},
				hidden: hidden,
				local:  elf.ST_BIND(s.Info) == elf.STB_LOCAL,
			})
		}
	}

	slices.SortStableFunc(cands, func(a, b symCandidate) int {
		if n := cmp.Compare(a.Addr, b.Addr); n != 0 {
			return n
		}
		return a.less(&b)
	})
	// Deduplicate (Name, Addr): .symtab and .dynsym repeat each other.
	type nameAddr struct {
		name string
		addr uint64
	}
	seen := make(map[nameAddr]struct{}, len(cands))
	for i := range cands {
		c := &cands[i]
		key := nameAddr{c.Name, c.Addr}
		if _, dup := seen[key]; dup {
			continue
		}
		seen[key] = struct{}{}
		if c.Size == 0 {
			// .dynsym and .symtab may disagree; keep the known size.
			for j := i + 1; j < len(cands) && cands[j].Addr == c.Addr; j++ {
				if cands[j].Size != 0 {
					c.Size = cands[j].Size
					break
				}
			}
		}
		c.Demangled = demangle.Filter(c.Name)
		st.all = append(st.all, *c)
	}
	// One preferred symbol per address: the first of each address group.
	var best []symCandidate
	for i := range cands {
		if i == 0 || cands[i].Addr != cands[i-1].Addr {
			// The first candidate of an address is never a (Name, Addr)
			// duplicate, so it already carries Demangled and the size fix.
			c := cands[i]
			best = append(best, c)
			st.byAddr = append(st.byAddr, c.Symbol)
		}
	}
	// Deduplicate by name, keeping the preferred candidate of each name.
	slices.SortStableFunc(best, func(x, y symCandidate) int {
		if n := strings.Compare(x.Name, y.Name); n != 0 {
			return n
		}
		if n := x.less(&y); n != 0 {
			return n
		}
		return cmp.Compare(x.Addr, y.Addr)
	})
	for i, c := range best {
		if i > 0 && c.Name == best[i-1].Name {
			continue
		}
		st.funcs = append(st.funcs, c.Symbol)
	}
	return st, nil
}

// Functions returns the defined function symbols (STT_FUNC and
// STT_GNU_IFUNC, from .symtab and .dynsym) sorted by Name, with version
// suffixes stripped. Aliases at one address are listed once, under the
// preferred name (default version, no leading underscore, global, shortest,
// then alphabetical: "open" rather than "open64" or "__open"), and a name
// is listed once even when defined at several addresses (the preferred
// definition wins). The result is shared: callers must not modify it.
// It fails only when a symbol table cannot be read; a stripped binary with
// neither table gives an empty list.
func (b *Binary) Functions() ([]Symbol, error) {
	st, err := b.symbols()
	if err != nil {
		return nil, err
	}
	return st.funcs, nil
}

// Lookup returns the function symbols whose Name or Demangled name equals
// name, one per address (default-version and global definitions first,
// then by address), including aliases that Functions folds away
// ("open64" finds the symbol Functions lists as "open") and every
// same-named static function. When nothing matches exactly, a C++ name
// without its parameter list ("ns::Widget::poke") matches every overload.
// It returns an error wrapping [ErrNotFound] naming the binary when no
// symbol matches.
func (b *Binary) Lookup(name string) ([]Symbol, error) {
	st, err := b.symbols()
	if err != nil {
		return nil, err
	}
	var matches []symCandidate
	add := func(c symCandidate) {
		for _, o := range matches {
			if o.Addr == c.Addr {
				return
			}
		}
		matches = append(matches, c)
	}
	for _, c := range st.all {
		if c.Name == name || c.Demangled == name {
			add(c)
		}
	}
	if len(matches) == 0 && strings.Contains(name, "::") && !strings.Contains(name, "(") {
		for _, c := range st.all {
			if c.Demangled != c.Name && demangle.Filter(c.Name, demangle.NoParams) == name {
				add(c)
			}
		}
	}
	if len(matches) == 0 {
		return nil, fmt.Errorf("function %q in %s: %w", name, b.path, ErrNotFound)
	}
	// Default versions and global definitions first, then by address.
	slices.SortStableFunc(matches, func(x, y symCandidate) int {
		if x.hidden != y.hidden {
			if x.hidden {
				return 1
			}
			return -1
		}
		if x.local != y.local {
			if x.local {
				return 1
			}
			return -1
		}
		return cmp.Compare(x.Addr, y.Addr)
	})
	out := make([]Symbol, len(matches))
	for i, c := range matches {
		out[i] = c.Symbol
	}
	return out, nil
}

// Symbolize resolves a FILE OFFSET inside the binary (what a stack address
// becomes after subtracting its /proc/PID/maps mapping start and adding the
// mapping's file offset) to the demangled name of the function containing
// it and the offset into that function. ok is false when the offset is not
// in a loaded segment or not inside any function symbol (a symbol of
// unknown size covers everything up to the next symbol).
func (b *Binary) Symbolize(offset uint64) (name string, off uint64, ok bool) {
	st, err := b.symbols()
	if err != nil || len(st.byAddr) == 0 {
		return "", 0, false
	}
	va, ok := b.vaddr(offset)
	if !ok {
		return "", 0, false
	}
	i, found := slices.BinarySearchFunc(st.byAddr, va, func(s Symbol, a uint64) int { return cmp.Compare(s.Addr, a) })
	if !found {
		i--
	}
	if i < 0 {
		return "", 0, false
	}
	s := st.byAddr[i]
	if s.Size != 0 && va >= s.Addr+s.Size {
		return "", 0, false
	}
	return s.Demangled, va - s.Addr, true
}
