package kallsyms

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// Path is the kernel symbol table file.
const Path = "/proc/kallsyms"

// Symbol is one line of /proc/kallsyms.
type Symbol struct {
	Addr   uint64 // 0 for every symbol when addresses are hidden (kptr_restrict)
	Name   string
	Type   byte   // nm-style type letter: 't'/'T' text, 'w'/'W' weak, 'd'/'D' data, ...
	Module string // "" for the core kernel; "bpf" for BPF programs
}

// IsText reports whether the symbol is a function (types t, T, w and W).
func (s Symbol) IsText() bool { return isText(s.Type) }

func isText(typ byte) bool {
	switch typ {
	case 't', 'T', 'w', 'W':
		return true
	}
	return false
}

// entry is the compact, pointer-free form of a Symbol. A kernel has 100k to
// 300k symbols; keeping pointers out of the big slice keeps the garbage
// collector's work (and so the load time) small.
type entry struct {
	addr uint64
	off  uint32 // name offset in Table.strs[str]
	str  uint16
	nlen uint16
	mod  uint16 // index into Table.mods; 0 is the core kernel
	typ  byte
}

// Table is a parsed /proc/kallsyms. It is immutable after Load returns and
// safe for concurrent use; indexes are built lazily on first use.
type Table struct {
	ents     []entry
	strs     []string // the file text, one string per chunk read
	mods     []string // module names; mods[0] == ""
	hasAddrs bool     // false when kptr_restrict hid all addresses

	textOnce sync.Once
	text     []int32 // indexes into ents of text symbols, sorted by address

	funcsOnce sync.Once
	funcs     []Symbol

	addrCalls atomic.Int32
	nameOnce  sync.Once
	byName    map[string]uint64
}

var loadOnce = sync.OnceValues(func() (*Table, error) {
	f, err := os.Open(Path)
	if err != nil {
		return nil, fmt.Errorf("kallsyms: %w", err)
	}
	defer f.Close()
	return parse(f)
})

// Load reads and parses /proc/kallsyms. It reads the file only once per
// process and returns the same Table to every caller; a failure is cached
// too. Returns an error wrapping [os.ErrNotExist] on kernels built without
// CONFIG_KALLSYMS.
//
// On a 6.18 kernel with 122k symbols, the kernel needs about 22 ms to produce
// the file; parsing overlaps reading and adds a few ms.
func Load() (*Table, error) { return loadOnce() }

// Parse parses text in /proc/kallsyms format. It is meant for tests and for
// symbol tables saved from other machines.
func Parse(r io.Reader) (*Table, error) { return parse(r) }

// Len returns the number of symbols.
func (t *Table) Len() int { return len(t.ents) }

// Symbol returns symbol i (0 <= i < Len()) in file order.
func (t *Table) Symbol(i int) Symbol { return t.sym(&t.ents[i]) }

// All iterates over every symbol in file order, with its index.
func (t *Table) All() iter.Seq2[int, Symbol] {
	return func(yield func(int, Symbol) bool) {
		for i := range t.ents {
			if !yield(i, t.sym(&t.ents[i])) {
				return
			}
		}
	}
}

func (t *Table) sym(e *entry) Symbol {
	return Symbol{Addr: e.addr, Name: t.name(e), Type: e.typ, Module: t.mods[e.mod]}
}

func (t *Table) name(e *entry) string {
	return t.strs[e.str][e.off : e.off+uint32(e.nlen)]
}

// HasAddrs reports whether the table holds real addresses (false when
// kptr_restrict made the kernel print zeros).
func (t *Table) HasAddrs() bool { return t.hasAddrs }

// Functions returns the text symbols (types t, T, w and W) in file order. The
// slice is built once and shared; it must not be modified.
func (t *Table) Functions() []Symbol {
	t.funcsOnce.Do(func() {
		n := 0
		for i := range t.ents {
			if isText(t.ents[i].typ) {
				n++
			}
		}
		t.funcs = make([]Symbol, 0, n)
		for i := range t.ents {
			if isText(t.ents[i].typ) {
				t.funcs = append(t.funcs, t.sym(&t.ents[i]))
			}
		}
	})
	return t.funcs
}

// Lookup returns the text symbol containing addr, i.e. the one with the
// highest address not above addr, and addr's offset into it. Of several
// symbols at one address the first in file order wins. Symbol sizes are not
// known, so an address past the last function of a region still resolves to
// that function.
//
// Lookup fails (returns false) when addr lies below the first text symbol
// and always when addresses are hidden (see [Table.HasAddrs]).
func (t *Table) Lookup(addr uint64) (Symbol, uint64, bool) {
	if !t.hasAddrs {
		return Symbol{}, 0, false
	}
	t.textOnce.Do(t.buildText)
	// First index whose address is > addr.
	i, _ := slices.BinarySearchFunc(t.text, addr, func(idx int32, target uint64) int {
		if t.ents[idx].addr <= target {
			return -1
		}
		return 1
	})
	if i == 0 {
		return Symbol{}, 0, false
	}
	// Walk back to the first symbol (in file order) at that address.
	a := t.ents[t.text[i-1]].addr
	j := i - 1
	for j > 0 && t.ents[t.text[j-1]].addr == a {
		j--
	}
	e := &t.ents[t.text[j]]
	return t.sym(e), addr - e.addr, true
}

func (t *Table) buildText() {
	n := 0
	for i := range t.ents {
		if isText(t.ents[i].typ) {
			n++
		}
	}
	text := make([]int32, 0, n)
	sorted := true
	var last uint64
	for i := range t.ents {
		if !isText(t.ents[i].typ) {
			continue
		}
		if t.ents[i].addr < last {
			sorted = false
		}
		last = t.ents[i].addr
		text = append(text, int32(i))
	}
	if !sorted {
		// Module symbols are not sorted in kallsyms. Break ties by file
		// order, so the result is the same as a stable sort.
		slices.SortFunc(text, func(a, b int32) int {
			return cmp.Or(cmp.Compare(t.ents[a].addr, t.ents[b].addr), cmp.Compare(a, b))
		})
	}
	t.text = text
}

// Addr returns the address of the first symbol (of any type) called name.
// It fails when there is no such symbol or addresses are hidden. The first
// few calls scan the table; later ones use a map built on demand.
func (t *Table) Addr(name string) (uint64, bool) {
	if !t.hasAddrs {
		return 0, false
	}
	if t.addrCalls.Add(1) <= 4 {
		for i := range t.ents {
			e := &t.ents[i]
			if int(e.nlen) == len(name) && t.name(e) == name {
				return e.addr, true
			}
		}
		return 0, false
	}
	t.nameOnce.Do(func() {
		m := make(map[string]uint64, len(t.ents))
		for i := len(t.ents) - 1; i >= 0; i-- { // first occurrence wins
			m[t.name(&t.ents[i])] = t.ents[i].addr
		}
		t.byName = m
	})
	a, ok := t.byName[name]
	return a, ok
}

// chunkSize is the read size. /proc/kallsyms is produced by the kernel at
// roughly 250 MB/s, slower than it parses, so parsing overlaps reading: one
// goroutine reads chunks while the caller parses the previous ones.
const chunkSize = 256 << 10

type chunk struct {
	b   []byte
	err error
}

// parse reads r to the end and parses it. Names and modules are substrings
// of one string per chunk read, so the parse allocates nothing per line.
func parse(r io.Reader) (*Table, error) {
	const nbuf = 4
	chunks := make(chan chunk, nbuf)
	free := make(chan []byte, nbuf)
	for range nbuf {
		free <- make([]byte, chunkSize)
	}
	go func() {
		defer close(chunks)
		for {
			b := <-free
			n, err := io.ReadFull(r, b)
			if n > 0 {
				chunks <- chunk{b: b[:n]}
			}
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return
			}
			if err != nil {
				chunks <- chunk{err: err}
				return
			}
		}
	}()

	p := parser{
		t:    &Table{ents: make([]entry, 0, 1<<17), mods: []string{""}},
		mods: map[string]uint16{"": 0},
	}
	var err error
	for c := range chunks {
		if err != nil {
			continue // drain so the reader can finish
		}
		if c.err != nil {
			err = fmt.Errorf("kallsyms: %w", c.err)
			continue
		}
		s := string(c.b)
		free <- c.b[:cap(c.b)]
		err = p.feed(s)
	}
	if err == nil && p.carry != "" {
		err = p.line(p.carry, p.addStr(p.carry), 0)
	}
	if err != nil {
		return nil, err
	}
	return p.t, nil
}

type parser struct {
	t      *Table
	mods   map[string]uint16
	carry  string // incomplete last line of the previous chunk
	lineNo int
}

func (p *parser) addStr(s string) uint16 {
	p.t.strs = append(p.t.strs, s)
	return uint16(len(p.t.strs) - 1)
}

func (p *parser) feed(s string) error {
	if len(p.t.strs) >= 1<<16-2 {
		return errors.New("kallsyms: file too large")
	}
	if p.carry != "" {
		i := strings.IndexByte(s, '\n')
		if i < 0 {
			p.carry += s
			return nil
		}
		l := p.carry + s[:i]
		if err := p.line(l, p.addStr(l), 0); err != nil {
			return err
		}
		p.carry, s = "", s[i+1:]
	}
	str := p.addStr(s)
	off := 0
	for {
		i := strings.IndexByte(s[off:], '\n')
		if i < 0 {
			p.carry = s[off:]
			return nil
		}
		if err := p.line(s[off:off+i], str, off); err != nil {
			return err
		}
		off += i + 1
	}
}

// line parses l, which starts at byte off of p.t.strs[str].
func (p *parser) line(l string, str uint16, off int) error {
	p.lineNo++
	if l == "" {
		return nil
	}
	e, name, nlen, mod, ok := parseLine(l)
	if !ok || nlen >= 1<<16 {
		return fmt.Errorf("kallsyms line %d: malformed %q", p.lineNo, l)
	}
	e.str = str
	e.off = uint32(off + name)
	e.nlen = uint16(nlen)
	if mod != "" {
		id, ok := p.mods[mod]
		if !ok {
			id = uint16(len(p.t.mods))
			p.t.mods = append(p.t.mods, mod)
			p.mods[mod] = id
		}
		e.mod = id
	}
	if e.addr != 0 {
		p.t.hasAddrs = true
	}
	p.t.ents = append(p.t.ents, e)
	return nil
}

// parseLine parses "ffffffff81000000 T _stext" or
// "ffffffffc0201000 t name\t[module]". It returns the entry without its
// name fields, the offset and length of the name in l, and the module name.
func parseLine(l string) (e entry, name, nlen int, mod string, ok bool) {
	i := 0
	for ; i < len(l) && l[i] != ' '; i++ {
		c := l[i]
		var v byte
		switch {
		case c >= '0' && c <= '9':
			v = c - '0'
		case c >= 'a' && c <= 'f':
			v = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			v = c - 'A' + 10
		default:
			return e, 0, 0, "", false
		}
		e.addr = e.addr<<4 | uint64(v)
	}
	// " T name"
	if i == 0 || i > 16 || len(l) < i+4 || l[i+2] != ' ' {
		return e, 0, 0, "", false
	}
	e.typ = l[i+1]
	name = i + 3
	rest := l[name:]
	nlen = len(rest)
	if j := strings.IndexByte(rest, '\t'); j >= 0 {
		m := rest[j+1:]
		if len(m) < 3 || m[0] != '[' || m[len(m)-1] != ']' || j == 0 {
			return e, 0, 0, "", false
		}
		mod = m[1 : len(m)-1]
		nlen = j
	}
	return e, name, nlen, mod, true
}
