package dwarfinfo

import (
	"bytes"
	"debug/dwarf"
	"debug/elf"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/go-delve/delve/pkg/dwarf/godwarf"
	"github.com/go-delve/delve/pkg/dwarf/leb128"
	"github.com/go-delve/delve/pkg/dwarf/loclist"
	"github.com/go-delve/delve/pkg/dwarf/op"
	"github.com/ianlancetaylor/demangle"

	ebtf "github.com/cilium/ebpf/btf"

	"github.com/btool/btool/btf"
)

// debugRoot is where separate debug files are looked up (build-id and
// .gnu_debuglink). Tests may point it elsewhere.
var debugRoot = "/usr/lib/debug"

// dwarfState is the lazily opened DWARF of a Binary.
type dwarfState struct {
	ut        *unitTable // the DWARF, parsed one unit at a time
	ef        *elf.File  // the ELF file holding the DWARF: the binary or its separate debug file
	debugFile *os.File   // separate debug file, if any (closed by Binary.Close)
	source    string     // path of ef, for messages
	aranges   []arange   // .debug_aranges: which unit covers an address

	mu   sync.Mutex // guards everything below
	lw   *lowerer
	idx  *dwarfIndex
	locs *locSections
}

// dwarf opens the DWARF data once: from the binary itself, else from a
// separate debug file found by build ID or .gnu_debuglink under
// /usr/lib/debug. It returns an error wrapping ErrNoDebugInfo when neither
// has .debug_info.
func (b *Binary) dwarf() (*dwarfState, error) {
	b.dwOnce.Do(func() { b.dw, b.dwErr = b.openDWARF() })
	return b.dw, b.dwErr
}

func hasDebugInfo(f *elf.File) bool {
	return f.Section(".debug_info") != nil || f.Section(".zdebug_info") != nil
}

func (b *Binary) openDWARF() (*dwarfState, error) {
	ef, source := b.elf, b.path
	var dbg *os.File
	if !hasDebugInfo(ef) {
		if f, df, p := b.findDebugFile(); df != nil {
			ef, dbg, source = df, f, p
		}
	}
	if !hasDebugInfo(ef) {
		return nil, fmt.Errorf("%s has no DWARF debug info (rebuild it with -g, install its debug symbols, or give the probe a typed signature): %w", b.path, ErrNoDebugInfo)
	}
	ut, err := loadDWARF(ef)
	if err != nil {
		if dbg != nil {
			dbg.Close()
		}
		return nil, fmt.Errorf("read DWARF of %s: %w", source, err)
	}
	ptrSize := 8
	if ef.Class == elf.ELFCLASS32 {
		ptrSize = 4
	}
	return &dwarfState{
		ut:        ut,
		ef:        ef,
		debugFile: dbg,
		source:    source,
		aranges:   readAranges(ef),
		lw:        newLowerer(ut.at, ef.ByteOrder, ptrSize),
	}, nil
}

// findDebugFile looks for a separate debug file: first
// /usr/lib/debug/.build-id/xx/yyyy.debug from the NT_GNU_BUILD_ID note, then
// the .gnu_debuglink name next to the binary, in its .debug directory and
// under /usr/lib/debug/<dir>. Only files with .debug_info are accepted.
func (b *Binary) findDebugFile() (*os.File, *elf.File, string) {
	var candidates []string
	if id := b.buildID(); len(id) >= 2 {
		h := hex.EncodeToString(id)
		candidates = append(candidates, filepath.Join(debugRoot, ".build-id", h[:2], h[2:]+".debug"))
	}
	if s := b.elf.Section(".gnu_debuglink"); s != nil {
		if data, err := s.Data(); err == nil {
			if i := bytes.IndexByte(data, 0); i > 0 {
				name := string(data[:i])
				dir := filepath.Dir(b.path)
				if abs, err := filepath.Abs(dir); err == nil {
					dir = abs
				}
				candidates = append(candidates,
					filepath.Join(dir, name),
					filepath.Join(dir, ".debug", name),
					filepath.Join(debugRoot, dir, name))
			}
		}
	}
	for _, p := range candidates {
		if p == b.path {
			continue
		}
		f, err := os.Open(p)
		if err != nil {
			continue
		}
		ef, err := elf.NewFile(f)
		if err != nil || !hasDebugInfo(ef) {
			f.Close()
			continue
		}
		return f, ef, p
	}
	return nil, nil, ""
}

// buildID returns the GNU build ID of the binary, or nil.
func (b *Binary) buildID() []byte {
	for _, s := range b.elf.Sections {
		if s.Type != elf.SHT_NOTE {
			continue
		}
		data, err := s.Data()
		if err != nil {
			continue
		}
		bo := b.elf.ByteOrder
		for off := 0; off+12 <= len(data); {
			namesz, descsz, typ := int(bo.Uint32(data[off:])), int(bo.Uint32(data[off+4:])), bo.Uint32(data[off+8:])
			name := off + 12
			desc := name + (namesz+3)&^3
			next := desc + (descsz+3)&^3
			if desc+descsz > len(data) || namesz < 0 || descsz < 0 {
				break
			}
			if typ == 3 /* NT_GNU_BUILD_ID */ && string(bytes.TrimRight(data[name:name+namesz], "\x00")) == "GNU" {
				return data[desc : desc+descsz]
			}
			off = next
		}
	}
	return nil
}

// subprogram is a resolved DW_TAG_subprogram.
type subprogram struct {
	entry   *dwarf.Entry   // the DIE found (concrete when there is one)
	params  []*dwarf.Entry // its DW_TAG_formal_parameter children (for Go: the inputs only)
	results []*dwarf.Entry // Go only: the result parameters (DW_AT_variable_parameter)
	origins []*dwarf.Entry // DW_AT_abstract_origin/DW_AT_specification chain of entry
	name    string         // name to report (symbol name, else linkage name, else DW_AT_name)
	cu      dwarf.Offset   // offset of the compile unit DIE
	entryPC uint64
	hasPC   bool
}

// attr returns the attribute from the DIE or, failing that, from its
// abstract origin / specification chain.
func (sp *subprogram) attr(a dwarf.Attr) any {
	if v := sp.entry.Val(a); v != nil {
		return v
	}
	for _, o := range sp.origins {
		if v := o.Val(a); v != nil {
			return v
		}
	}
	return nil
}

// Func returns the prototype of the function name (a symbol name, a
// DW_AT_name, a linkage name or a demangled C++ name) from DWARF: parameter
// names and types and the return type, lowered into cilium/ebpf BTF types
// (structs, unions, enums, typedefs, qualifiers, arrays, function pointers;
// C++ references become pointers). Func.Name is the symbol name (mangled
// for C++), Func.Module the binary's path; Ret is nil for void; a parameter
// whose type cannot be lowered has a nil Type. For Go functions, Params are
// the inputs only and Ret is the result when there is exactly one (nil
// otherwise). When several functions have the name (same-named static
// functions), the first one Lookup returns is described. DWARF is read on
// the first call.
//
// Errors wrap [ErrNoDebugInfo] when the binary has no DWARF (the message
// says to build with -g or pass a typed signature), [ErrNotFound] when no
// function has that name, and [ErrAmbiguous] when a plain name matches
// several different functions (C++ overloads).
func (b *Binary) Func(name string) (*btf.Func, error) {
	ds, err := b.dwarf()
	if err != nil {
		return nil, err
	}
	ds.mu.Lock()
	defer ds.mu.Unlock()
	sp, err := b.findSubprogram(ds, name)
	if err != nil {
		return nil, err
	}
	fn := &btf.Func{Name: sp.name, Module: b.path}
	for _, p := range sp.params {
		bp := btf.Param{}
		bp.Name, _ = ds.paramAttr(p, dwarf.AttrName).(string)
		if to, ok := ds.paramAttr(p, dwarf.AttrType).(dwarf.Offset); ok {
			if t, err := ds.lw.lower(to); err == nil {
				bp.Type = t
			}
		}
		fn.Params = append(fn.Params, bp)
	}
	retType, _ := sp.attr(dwarf.AttrType).(dwarf.Offset)
	if len(sp.results) == 1 {
		retType, _ = ds.paramAttr(sp.results[0], dwarf.AttrType).(dwarf.Offset)
	}
	if retType != 0 {
		if t, err := ds.lw.lower(retType); err == nil {
			fn.Ret = t
		}
	}
	return fn, nil
}

// paramAttr returns attribute a of a formal parameter, following its
// DW_AT_abstract_origin when the concrete DIE lacks it.
func (ds *dwarfState) paramAttr(p *dwarf.Entry, a dwarf.Attr) any {
	if v := p.Val(a); v != nil {
		return v
	}
	if o, ok := p.Val(dwarf.AttrAbstractOrigin).(dwarf.Offset); ok {
		if e, err := ds.readEntry(o); err == nil {
			return e.Val(a)
		}
	}
	return nil
}

// Type returns the named type lowered into a cilium/ebpf BTF type: a
// typedef, struct, class, union, enum or base type ("struct foo",
// "union foo" and "enum foo" restrict the kind; a bare name prefers a
// typedef, then a struct/class/union, enum and base type; C++ names may be
// namespace-qualified). Complete definitions win over declarations. The
// first call builds a name index over all of the DWARF.
//
// Errors wrap [ErrNoDebugInfo] when the binary has no DWARF and
// [ErrNotFound] when no type has that name.
func (b *Binary) Type(name string) (ebtf.Type, error) {
	ds, err := b.dwarf()
	if err != nil {
		return nil, err
	}
	ds.mu.Lock()
	defer ds.mu.Unlock()
	idx, err := ds.index()
	if err != nil {
		return nil, err
	}
	want := []dwarf.Tag{dwarf.TagTypedef, dwarf.TagStructType, dwarf.TagClassType, dwarf.TagUnionType, dwarf.TagEnumerationType, dwarf.TagBaseType}
	bare := strings.TrimSpace(name)
	for _, kw := range []struct {
		prefix string
		tags   []dwarf.Tag
	}{
		{"struct ", []dwarf.Tag{dwarf.TagStructType, dwarf.TagClassType}},
		{"class ", []dwarf.Tag{dwarf.TagClassType, dwarf.TagStructType}},
		{"union ", []dwarf.Tag{dwarf.TagUnionType}},
		{"enum ", []dwarf.Tag{dwarf.TagEnumerationType}},
	} {
		if strings.HasPrefix(bare, kw.prefix) {
			bare, want = strings.TrimSpace(bare[len(kw.prefix):]), kw.tags
			break
		}
	}
	refs := idx.types[bare]
	for _, decl := range []bool{false, true} {
		for _, tag := range want {
			for _, r := range refs {
				if r.tag == tag && r.decl == decl {
					return ds.lw.lower(r.off)
				}
			}
		}
	}
	return nil, fmt.Errorf("type %q in %s: %w", name, b.path, ErrNotFound)
}

// findSubprogram resolves name to a subprogram DIE. Symbol names go the fast
// way: the symbol's address selects the compile unit (SeekPC) and only that
// unit is scanned. Anything else uses the full name index.
func (b *Binary) findSubprogram(ds *dwarfState, name string) (*subprogram, error) {
	if syms, err := b.Lookup(name); err == nil {
		var found []*subprogram
		for _, s := range syms {
			sp, err := ds.subprogramAt(s.Addr)
			if err != nil || sp == nil {
				continue
			}
			sp.name = s.Name
			found = append(found, sp)
		}
		if len(found) > 0 {
			if err := checkAmbiguous(name, found); err != nil {
				return nil, fmt.Errorf("function %q in %s: %w", name, b.path, err)
			}
			return found[0], nil
		}
	}

	idx, err := ds.index()
	if err != nil {
		return nil, err
	}
	refs := idx.funcs[name]
	if len(refs) == 0 && (strings.Contains(name, "::") || strings.Contains(name, "(")) {
		for _, r := range idx.linkage {
			if demangle.Filter(r.linkage) == name || demangle.Filter(r.linkage, demangle.NoParams) == name {
				refs = append(refs, r)
			}
		}
	}
	if len(refs) == 0 {
		return nil, fmt.Errorf("function %q in %s: no DWARF entry: %w", name, b.path, ErrNotFound)
	}
	// Prefer out-of-line definitions, then abstract (inline) instances,
	// then declarations.
	best := slices.MinFunc(refs, func(x, y funcRef) int { return x.rank() - y.rank() }).rank()
	var found []*subprogram
	for _, r := range refs {
		if r.rank() != best {
			continue
		}
		sp, err := ds.loadSubprogram(r.off, r.cu)
		if err != nil {
			return nil, err
		}
		found = append(found, sp)
	}
	if err := checkAmbiguous(name, found); err != nil {
		return nil, fmt.Errorf("function %q in %s: %w", name, b.path, err)
	}
	if found[0].hasPC {
		slices.SortStableFunc(found, func(x, y *subprogram) int {
			switch {
			case x.entryPC < y.entryPC:
				return -1
			case x.entryPC > y.entryPC:
				return 1
			}
			return 0
		})
	}
	return found[0], nil
}

// checkAmbiguous fails when the subprograms have different linkage names
// (C++ overloads matched by a plain or parameterless name).
func checkAmbiguous(name string, sps []*subprogram) error {
	var names []string
	for _, sp := range sps {
		ln, _ := sp.attr(dwarf.AttrLinkageName).(string)
		if ln == "" {
			ln, _ = sp.attr(attrMIPSLinkageName).(string)
		}
		if ln != "" && !slices.Contains(names, ln) {
			names = append(names, ln)
		}
	}
	if len(names) > 1 {
		for i, n := range names {
			if d := demangle.Filter(n); d != n {
				names[i] = n + " (" + d + ")"
			}
		}
		return fmt.Errorf("%w: matches %s; use the symbol name", ErrAmbiguous, strings.Join(names, ", "))
	}
	return nil
}

const (
	attrMIPSLinkageName dwarf.Attr = 0x2007
	dwLangGo                       = 0x16 // DW_LANG_Go
)

// subprogramAt scans the compile unit covering addr for the subprogram
// whose entry is addr. It returns nil when there is none.
func (ds *dwarfState) subprogramAt(addr uint64) (*subprogram, error) {
	var cu *dwarf.Entry
	var r *dwarf.Reader
	if off, ok := ds.unitDIE(addr); ok {
		// .debug_aranges names the unit: read its DIE only, not
		// the unit DIEs and ranges of every unit before it.
		d, err := ds.ut.at(off)
		if err != nil {
			return nil, err
		}
		r = d.Reader()
		r.Seek(off)
		e, err := r.Next()
		if err != nil {
			return nil, err
		}
		if e == nil || (e.Tag != dwarf.TagCompileUnit && e.Tag != dwarf.TagPartialUnit) {
			return nil, fmt.Errorf("no unit at %#x (.debug_aranges for %#x)", off, addr)
		}
		cu = e
	} else {
		d, err := ds.ut.whole()
		if err != nil {
			return nil, err
		}
		r = d.Reader()
		if cu, err = r.SeekPC(addr); err != nil {
			return nil, err
		}
	}
	depth := 1
	for depth > 0 {
		e, err := r.Next()
		if err != nil {
			return nil, err
		}
		if e == nil {
			break
		}
		if e.Tag == 0 {
			depth--
			continue
		}
		if e.Tag != dwarf.TagSubprogram {
			if e.Children {
				depth++
			}
			continue
		}
		if e.Children {
			r.SkipChildren()
		}
		if pc, ok := ds.entryPC(e); ok && pc == addr {
			return ds.loadSubprogram(e.Offset, cu.Offset)
		}
	}
	return nil, nil
}

// entryPC returns the first instruction of a subprogram: DW_AT_low_pc, else
// the start of its first range.
func (ds *dwarfState) entryPC(e *dwarf.Entry) (uint64, bool) {
	if pc, ok := e.Val(dwarf.AttrLowpc).(uint64); ok {
		return pc, true
	}
	if e.Val(dwarf.AttrRanges) != nil {
		if d, err := ds.ut.at(e.Offset); err != nil {
			return 0, false
		} else if rs, err := d.Ranges(e); err == nil && len(rs) > 0 {
			return rs[0][0], true
		}
	}
	return 0, false
}

// loadSubprogram reads the subprogram DIE at off with its parameters and
// origin chain.
func (ds *dwarfState) loadSubprogram(off, cu dwarf.Offset) (*subprogram, error) {
	e, kids, err := ds.readDIE(off)
	if err != nil {
		return nil, err
	}
	sp := &subprogram{entry: e, cu: cu}
	sp.entryPC, sp.hasPC = ds.entryPC(e)
	isGo := false
	if cuEntry, err := ds.readEntry(cu); err == nil {
		lang, _ := cuEntry.Val(dwarf.AttrLanguage).(int64)
		isGo = lang == dwLangGo
	}
	addParams := func(kids []*dwarf.Entry) {
		for _, k := range kids {
			if k.Tag != dwarf.TagFormalParameter {
				continue
			}
			// Go lists results as formal parameters marked
			// DW_AT_variable_parameter.
			if out, _ := k.Val(dwarf.AttrVarParam).(bool); isGo && out {
				sp.results = append(sp.results, k)
				continue
			}
			sp.params = append(sp.params, k)
		}
	}
	addParams(kids)
	cur := e
	for range 4 { // chains are at most definition → specification, concrete → abstract
		var next dwarf.Offset
		if o, ok := cur.Val(dwarf.AttrAbstractOrigin).(dwarf.Offset); ok {
			next = o
		} else if o, ok := cur.Val(dwarf.AttrSpecification).(dwarf.Offset); ok {
			next = o
		} else {
			break
		}
		oe, okids, err := ds.readDIE(next)
		if err != nil {
			return nil, err
		}
		sp.origins = append(sp.origins, oe)
		if len(sp.params) == 0 && len(sp.results) == 0 {
			addParams(okids)
		}
		cur = oe
	}
	if n, _ := sp.attr(dwarf.AttrLinkageName).(string); n != "" {
		sp.name = n
	} else if n, _ := sp.attr(attrMIPSLinkageName).(string); n != "" {
		sp.name = n
	} else {
		sp.name, _ = sp.attr(dwarf.AttrName).(string)
	}
	return sp, nil
}

// dwarfIndex maps names to DIEs across all of the DWARF.
type dwarfIndex struct {
	funcs   map[string][]funcRef // by DW_AT_name, linkage name and qualified C++ name
	linkage []funcRef            // every subprogram with a linkage name (for demangled lookups)
	types   map[string][]typeRef // by name and qualified C++ name
}

type funcRef struct {
	off, cu dwarf.Offset
	linkage string
	hasCode bool // low_pc or ranges: an out-of-line instance
	decl    bool // DW_AT_declaration
}

func (r funcRef) rank() int {
	switch {
	case r.hasCode:
		return 0
	case !r.decl:
		return 1
	}
	return 2
}

type typeRef struct {
	off  dwarf.Offset
	tag  dwarf.Tag
	decl bool
}

// index builds the name index with one pass over .debug_info. Subprogram
// bodies are skipped; unnamed out-of-line instances take their names from
// the DIE they refer to.
func (ds *dwarfState) index() (*dwarfIndex, error) {
	if ds.idx != nil {
		return ds.idx, nil
	}
	type rawFunc struct {
		funcRef
		name   string
		scope  string
		origin dwarf.Offset
	}
	var raws []rawFunc
	byOff := make(map[dwarf.Offset]int)
	idx := &dwarfIndex{funcs: make(map[string][]funcRef), types: make(map[string][]typeRef)}

	d, err := ds.ut.whole()
	if err != nil {
		return nil, err
	}
	r := d.Reader()
	var cu dwarf.Offset
	var scopes []string // qualified name prefix per open DIE with children
	for {
		e, err := r.Next()
		if err != nil {
			return nil, fmt.Errorf("index DWARF of %s: %w", ds.source, err)
		}
		if e == nil {
			break
		}
		if e.Tag == 0 {
			if len(scopes) > 0 {
				scopes = scopes[:len(scopes)-1]
			}
			continue
		}
		scope := ""
		if len(scopes) > 0 {
			scope = scopes[len(scopes)-1]
		}
		name, _ := e.Val(dwarf.AttrName).(string)
		decl, _ := e.Val(dwarf.AttrDeclaration).(bool)
		switch e.Tag {
		case dwarf.TagCompileUnit, dwarf.TagPartialUnit:
			cu = e.Offset
			scopes = scopes[:0]
		case dwarf.TagSubprogram:
			rf := rawFunc{funcRef: funcRef{off: e.Offset, cu: cu, decl: decl}, name: name, scope: scope}
			rf.linkage, _ = e.Val(dwarf.AttrLinkageName).(string)
			if rf.linkage == "" {
				rf.linkage, _ = e.Val(attrMIPSLinkageName).(string)
			}
			rf.hasCode = e.Val(dwarf.AttrLowpc) != nil || e.Val(dwarf.AttrRanges) != nil
			if o, ok := e.Val(dwarf.AttrSpecification).(dwarf.Offset); ok {
				rf.origin = o
			} else if o, ok := e.Val(dwarf.AttrAbstractOrigin).(dwarf.Offset); ok {
				rf.origin = o
			}
			byOff[e.Offset] = len(raws)
			raws = append(raws, rf)
			if e.Children {
				r.SkipChildren()
			}
			continue
		case dwarf.TagStructType, dwarf.TagClassType, dwarf.TagUnionType, dwarf.TagEnumerationType,
			dwarf.TagTypedef, dwarf.TagBaseType:
			if name != "" {
				ref := typeRef{off: e.Offset, tag: e.Tag, decl: decl}
				idx.types[name] = append(idx.types[name], ref)
				if scope != "" {
					idx.types[scope+"::"+name] = append(idx.types[scope+"::"+name], ref)
				}
			}
		}
		if e.Children {
			next := scope
			switch e.Tag {
			case dwarf.TagNamespace, dwarf.TagStructType, dwarf.TagClassType, dwarf.TagUnionType:
				if name == "" {
					name = "(anonymous)"
				}
				if next != "" {
					next += "::"
				}
				next += name
			}
			scopes = append(scopes, next)
		}
	}

	resolve := func(i int) (string, string, string) {
		rf := raws[i]
		name, scope, linkage := rf.name, rf.scope, rf.linkage
		for hops := 0; (name == "" || linkage == "") && rf.origin != 0 && hops < 4; hops++ {
			j, ok := byOff[rf.origin]
			if !ok {
				break
			}
			rf = raws[j]
			if name == "" {
				name, scope = rf.name, rf.scope
			}
			if linkage == "" {
				linkage = rf.linkage
			}
		}
		return name, scope, linkage
	}
	for i := range raws {
		name, scope, linkage := resolve(i)
		ref := raws[i].funcRef
		ref.linkage = linkage
		add := func(k string) {
			if k != "" {
				idx.funcs[k] = append(idx.funcs[k], ref)
			}
		}
		add(name)
		if linkage != name {
			add(linkage)
		}
		if scope != "" && name != "" {
			add(scope + "::" + name)
		}
		if linkage != "" {
			idx.linkage = append(idx.linkage, ref)
		}
	}
	ds.idx = idx
	return idx, nil
}

// LocKind says where a parameter lives at a function's entry.
type LocKind uint8

const (
	LocUnknown LocKind = iota // optimised out, composite, or an expression we do not decode
	LocReg                    // in DWARF register Reg
	LocFBReg                  // in memory at CFA + Offset (DW_OP_fbreg with a DW_OP_call_frame_cfa frame base)
	LocBReg                   // in memory at DWARF register Reg + Offset (DW_OP_bregN, or DW_OP_fbreg with a register frame base)
)

func (k LocKind) String() string {
	switch k {
	case LocReg:
		return "reg"
	case LocFBReg:
		return "fbreg"
	case LocBReg:
		return "breg"
	}
	return "unknown"
}

// Location is where a parameter's value is, decoded from its DW_AT_location.
type Location struct {
	Kind   LocKind
	Reg    int   // DWARF register number (x86-64: 0 rax, 1 rdx, 2 rcx, 3 rbx, 4 rsi, 5 rdi, 6 rbp, 7 rsp, 8-15 r8-r15)
	Offset int64 // LocFBReg, LocBReg: byte offset
	// AtEntry is true when the location holds at the function's first
	// instruction: a location-list entry covering the entry PC, or a
	// register location. A single memory expression (gcc -O0's
	// "DW_OP_fbreg -20") describes the stack slot the prologue spills the
	// argument to; at the entry the value is still in its ABI register.
	AtEntry bool
}

// ParamLocations returns, parallel to Func(name).Params, the DWARF
// location of each parameter at the function's entry PC when it is a
// single register, a frame-base offset or a register offset; anything
// else is LocUnknown. It resolves name like Func and fails like Func.
func (b *Binary) ParamLocations(name string) ([]Location, error) {
	ds, err := b.dwarf()
	if err != nil {
		return nil, err
	}
	ds.mu.Lock()
	defer ds.mu.Unlock()
	sp, err := b.findSubprogram(ds, name)
	if err != nil {
		return nil, err
	}
	locs := make([]Location, len(sp.params))
	for i, p := range sp.params {
		locs[i] = ds.paramLocation(sp, p)
	}
	return locs, nil
}

// paramLocation decodes p's location at sp's entry PC. Malformed location
// data gives LocUnknown, never a panic.
func (ds *dwarfState) paramLocation(sp *subprogram, p *dwarf.Entry) (loc Location) {
	defer func() {
		if recover() != nil {
			loc = Location{}
		}
	}()
	f := p.AttrField(dwarf.AttrLocation)
	if f == nil {
		return Location{}
	}
	var expr []byte
	fromList := false
	switch v := f.Val.(type) {
	case []byte:
		expr = v
	case int64:
		if !sp.hasPC {
			return Location{}
		}
		var ok bool
		expr, ok = ds.findLocList(sp, f.Class, v)
		if !ok {
			return Location{}
		}
		fromList = true
	default:
		return Location{}
	}
	loc = ds.decodeLocation(sp, expr)
	loc.AtEntry = loc.Kind != LocUnknown && (fromList || loc.Kind == LocReg)
	return loc
}

// decodeLocation decodes a one-operation location expression with delve's
// op opcodes: DW_OP_regN, DW_OP_regx, DW_OP_bregN, DW_OP_bregx or
// DW_OP_fbreg (resolved against the subprogram's DW_AT_frame_base).
func (ds *dwarfState) decodeLocation(sp *subprogram, expr []byte) Location {
	if len(expr) == 0 {
		return Location{}
	}
	buf := bytes.NewBuffer(expr[1:])
	code := op.Opcode(expr[0])
	var loc Location
	switch {
	case code >= op.DW_OP_reg0 && code <= op.DW_OP_reg31:
		loc = Location{Kind: LocReg, Reg: int(code - op.DW_OP_reg0)}
	case code == op.DW_OP_regx:
		r, _ := leb128.DecodeUnsigned(buf)
		loc = Location{Kind: LocReg, Reg: int(r)}
	case code >= op.DW_OP_breg0 && code <= op.DW_OP_breg31:
		o, _ := leb128.DecodeSigned(buf)
		loc = Location{Kind: LocBReg, Reg: int(code - op.DW_OP_breg0), Offset: o}
	case code == op.DW_OP_bregx:
		r, _ := leb128.DecodeUnsigned(buf)
		o, _ := leb128.DecodeSigned(buf)
		loc = Location{Kind: LocBReg, Reg: int(r), Offset: o}
	case code == op.DW_OP_fbreg:
		o, _ := leb128.DecodeSigned(buf)
		fb, ok := sp.attr(dwarf.AttrFrameBase).([]byte)
		if !ok || len(fb) == 0 {
			return Location{}
		}
		fbLoc := Location{}
		if op.Opcode(fb[0]) == op.DW_OP_call_frame_cfa && len(fb) == 1 {
			fbLoc = Location{Kind: LocFBReg}
		} else {
			fbLoc = ds.decodeLocation(sp, fb)
		}
		switch fbLoc.Kind {
		case LocFBReg:
			loc = Location{Kind: LocFBReg, Offset: o}
		case LocReg: // frame base is the register's value (clang -O0: rbp)
			loc = Location{Kind: LocBReg, Reg: fbLoc.Reg, Offset: o}
		case LocBReg:
			loc = Location{Kind: LocBReg, Reg: fbLoc.Reg, Offset: fbLoc.Offset + o}
		default:
			return Location{}
		}
	default:
		return Location{}
	}
	if buf.Len() != 0 { // more operations follow: not a simple location
		return Location{}
	}
	return loc
}

type locSections struct {
	loc, loclists []byte
	addr          *godwarf.DebugAddrSection
}

// findLocList returns the location expression covering sp's entry PC from
// the location list at off (a .debug_loc offset for DWARF ≤ 4, a
// .debug_loclists offset or index for DWARF 5).
func (ds *dwarfState) findLocList(sp *subprogram, class dwarf.Class, off int64) ([]byte, bool) {
	if ds.locs == nil {
		ls := &locSections{}
		ls.loc, _ = godwarf.GetDebugSectionElf(ds.ef, "loc")
		ls.loclists, _ = godwarf.GetDebugSectionElf(ds.ef, "loclists")
		if a, err := godwarf.GetDebugSectionElf(ds.ef, "addr"); err == nil {
			ls.addr = godwarf.ParseAddr(a)
		}
		ds.locs = ls
	}
	cuEntry, err := ds.readEntry(sp.cu)
	if err != nil {
		return nil, false
	}
	var base uint64
	if pc, ok := cuEntry.Val(dwarf.AttrLowpc).(uint64); ok {
		base = pc
	}
	version := ds.unitVersion(sp.cu)
	if version >= 5 || (version == 0 && ds.locs.loc == nil) {
		if ds.locs.loclists == nil {
			return nil, false
		}
		if class == dwarf.ClassLocList { // DW_FORM_loclistx: index into the offset table
			lb, _ := cuEntry.Val(dwarf.AttrLoclistsBase).(int64)
			p := lb + 4*off
			if p < 0 || p+4 > int64(len(ds.locs.loclists)) {
				return nil, false
			}
			off = lb + int64(binary.LittleEndian.Uint32(ds.locs.loclists[p:]))
		}
		addrBase, _ := cuEntry.Val(dwarf.AttrAddrBase).(int64)
		rdr := loclist.NewDwarf5Reader(ds.locs.loclists)
		e, err := rdr.Find(int(off), 0, base, sp.entryPC, ds.locs.addr.GetSubsection(uint64(addrBase)))
		if err != nil || e == nil {
			return nil, false
		}
		return e.Instr, true
	}
	if ds.locs.loc == nil {
		return nil, false
	}
	ptrSize := 8
	if ds.ef.Class == elf.ELFCLASS32 {
		ptrSize = 4
	}
	rdr := loclist.NewDwarf2Reader(ds.locs.loc, ptrSize)
	e, err := rdr.Find(int(off), 0, base, sp.entryPC, nil)
	if err != nil || e == nil {
		return nil, false
	}
	return e.Instr, true
}

// unitVersion returns the DWARF version of the unit containing off, or 0
// when it cannot be determined.
func (ds *dwarfState) unitVersion(off dwarf.Offset) int {
	if ds.ut.info == nil { // read by elf.File.DWARF: find the headers
		if ds.ut.units == nil {
			info, err := godwarf.GetDebugSectionElf(ds.ef, "info")
			if err != nil {
				return 0
			}
			ds.ut.units, _ = parseUnitHeaders(info, ds.ef.ByteOrder)
		}
	}
	return ds.ut.version(off)
}

// readDIE returns the DIE at off and its direct children.
func (ds *dwarfState) readDIE(off dwarf.Offset) (*dwarf.Entry, []*dwarf.Entry, error) {
	d, err := ds.ut.at(off)
	if err != nil {
		return nil, nil, err
	}
	return readDIE(d, off)
}

// readEntry reads the DIE at off.
func (ds *dwarfState) readEntry(off dwarf.Offset) (*dwarf.Entry, error) {
	d, err := ds.ut.at(off)
	if err != nil {
		return nil, err
	}
	return readEntry(d.Reader(), off)
}
