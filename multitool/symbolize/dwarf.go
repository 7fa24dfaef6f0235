package symbolize

import (
	"cmp"
	"debug/dwarf"
	"path/filepath"
	"slices"

	"github.com/go-delve/delve/pkg/dwarf/godwarf"
	"github.com/go-delve/delve/pkg/dwarf/reader"
)

// dwarfSyms is the DWARF of a file, for inlined frames and source lines.
// Compile units are loaded as trees (delve's godwarf.LoadTree, which
// resolves abstract origins and range lists) on first use and kept.
type dwarfSyms struct {
	data   *dwarf.Data
	ranges []cuRange // every unit's address ranges, sorted; built on first use
	units  map[dwarf.Offset]*dwarfUnit
}

// cuRange is one address range of a compile unit.
type cuRange struct {
	lo, hi uint64
	cu     *dwarf.Entry
}

type dwarfUnit struct {
	tree  *godwarf.Tree
	subs  []subRange        // the unit's subprograms' ranges, sorted by start
	files []*dwarf.LineFile // the line table's file list, for DW_AT_call_file
	lines *dwarf.LineReader // nil when the unit has no line table
	seqs  []lineSeq         // the line table, read on first use of lines
	read  bool              // seqs was read
}

// subRange is one address range of a subprogram.
type subRange struct {
	lo, hi uint64
	sub    *godwarf.Tree
}

// lineSeq is one sequence of a line table: rows sorted by address,
// covering [rows[0].addr, end).
type lineSeq struct {
	rows []lineRow
	end  uint64
}

type lineRow struct {
	addr uint64
	file string // base name
	line int
}

// maxDWARFUnits caps the compile-unit trees kept per file; beyond it they
// are dropped and reloaded on demand.
const maxDWARFUnits = 256

// dwarf returns the file's DWARF, opened on first use; nil when the file
// has no .debug_info or it can't be read. e.mu is held.
func (e *symBin) dwarf() *dwarfSyms {
	if e.dw != nil {
		return e.dw
	}
	e.dw = &dwarfSyms{}
	if e.elf.Section(".debug_info") == nil {
		return nil
	}
	d, err := e.elf.DWARF()
	if err != nil {
		return nil
	}
	e.dw.data = d
	e.dw.units = make(map[dwarf.Offset]*dwarfUnit)
	return e.dw
}

// unit returns the compile unit containing pc, or nil. The units' ranges
// are read once and searched by binary search (Reader.SeekPC reads unit
// entries on every call).
func (ds *dwarfSyms) unit(pc uint64) *dwarfUnit {
	if ds.ranges == nil {
		ds.ranges = ds.readRanges()
	}
	i, found := slices.BinarySearchFunc(ds.ranges, pc, func(r cuRange, pc uint64) int { return cmp.Compare(r.lo, pc) })
	if !found {
		i--
	}
	if i < 0 || pc >= ds.ranges[i].hi {
		return nil
	}
	cu := ds.ranges[i].cu
	if u, ok := ds.units[cu.Offset]; ok {
		return u
	}
	u := &dwarfUnit{}
	if tree, err := godwarf.LoadTree(cu.Offset, ds.data, 0); err == nil {
		u.tree = tree
		u.subs = subprograms(tree, nil)
		slices.SortStableFunc(u.subs, func(a, b subRange) int { return cmp.Compare(a.lo, b.lo) })
	}
	if lr, err := ds.data.LineReader(cu); err == nil && lr != nil {
		u.lines = lr
		u.files = lr.Files()
	}
	if len(ds.units) >= maxDWARFUnits {
		clear(ds.units)
	}
	ds.units[cu.Offset] = u
	return u
}

// readRanges returns the address ranges of every compile unit, sorted by
// start (non-nil, so it is read once even when empty).
func (ds *dwarfSyms) readRanges() []cuRange {
	rs := []cuRange{}
	r := ds.data.Reader()
	for {
		e, err := r.Next()
		if err != nil || e == nil {
			break
		}
		if e.Tag == dwarf.TagCompileUnit || e.Tag == dwarf.TagPartialUnit {
			if rngs, err := ds.data.Ranges(e); err == nil {
				for _, rg := range rngs {
					if rg[0] < rg[1] {
						rs = append(rs, cuRange{rg[0], rg[1], e})
					}
				}
			}
		}
		r.SkipChildren()
	}
	slices.SortStableFunc(rs, func(a, b cuRange) int { return cmp.Compare(a.lo, b.lo) })
	return rs
}

// frames appends outer (the function the symbol table names at pc) preceded
// by the functions inlined at pc, innermost first. With lines, every frame
// gets its file:line: the innermost from the line table at pc, each outer
// one from the DW_AT_call_file/DW_AT_call_line of the call inlined into it.
// Without DWARF for pc, it appends outer alone.
func (ds *dwarfSyms) frames(dst []Frame, outer Frame, pc uint64, lines bool) []Frame {
	if ds == nil || ds.data == nil {
		return append(dst, outer)
	}
	u := ds.unit(pc)
	if u == nil || u.tree == nil {
		return append(dst, outer)
	}
	sub := u.findSubprogram(pc)
	var stack []*godwarf.Tree
	if sub != nil {
		stack = reader.InlineStack(sub, pc)
	}
	file, line := "", 0
	if lines {
		file, line = u.lineAt(pc)
	}
	for _, in := range stack {
		f := Frame{Name: dieName(in), Inlined: true, Kind: KindDWARF, File: file, Line: line}
		dst = append(dst, f)
		if lines {
			file, line = u.callSite(in)
		}
	}
	outer.File, outer.Line = file, line
	return append(dst, outer)
}

// subprograms appends the ranges of the subprograms under t, looking
// through namespaces, classes and lexical blocks but not into subprograms.
func subprograms(t *godwarf.Tree, dst []subRange) []subRange {
	for _, c := range t.Children {
		if c.Tag == dwarf.TagSubprogram {
			for _, r := range c.Ranges {
				dst = append(dst, subRange{r[0], r[1], c})
			}
			continue
		}
		dst = subprograms(c, dst)
	}
	return dst
}

// findSubprogram returns the subprogram whose ranges hold pc, or nil.
func (u *dwarfUnit) findSubprogram(pc uint64) *godwarf.Tree {
	i, found := slices.BinarySearchFunc(u.subs, pc, func(r subRange, pc uint64) int { return cmp.Compare(r.lo, pc) })
	if !found {
		i--
	}
	// Ranges of different subprograms don't overlap; nested ones
	// (subprograms in lexical blocks of C++ lambdas' parents) may: look
	// back for the closest start that still holds pc.
	for ; i >= 0; i-- {
		if pc < u.subs[i].hi {
			return u.subs[i].sub
		}
		if i > 0 && u.subs[i-1].hi <= u.subs[i].lo {
			break
		}
	}
	return nil
}

// dieName is the demangled linkage name of an (abstract origin of an)
// inlined subroutine, else its DW_AT_name, else "[unknown]".
func dieName(t *godwarf.Tree) string {
	for _, a := range []dwarf.Attr{dwarf.AttrLinkageName, dwarf.AttrName} {
		if s, ok := t.Val(a).(string); ok && s != "" {
			return Demangle(s)
		}
	}
	return "[unknown]"
}

// lineAt returns the file and line of the line-table row covering pc.
// The unit's table is read once into sorted sequences and searched by
// binary search (LineReader.SeekPC scans the table on every call).
func (u *dwarfUnit) lineAt(pc uint64) (string, int) {
	if u.lines == nil {
		return "", 0
	}
	if !u.read {
		u.read = true
		u.seqs = readLines(u.lines)
	}
	i, found := slices.BinarySearchFunc(u.seqs, pc, func(s lineSeq, pc uint64) int { return cmp.Compare(s.rows[0].addr, pc) })
	if !found {
		i--
	}
	if i < 0 || pc >= u.seqs[i].end {
		return "", 0
	}
	rows := u.seqs[i].rows
	j, found := slices.BinarySearchFunc(rows, pc, func(r lineRow, pc uint64) int { return cmp.Compare(r.addr, pc) })
	if found {
		// The last of several rows at one address is the one that
		// covers it (earlier ones are empty ranges).
		for j+1 < len(rows) && rows[j+1].addr == pc {
			j++
		}
	} else {
		j--
	}
	return rows[j].file, rows[j].line
}

// readLines reads a unit's line table into sequences sorted by start.
func readLines(lr *dwarf.LineReader) []lineSeq {
	lr.Reset()
	var seqs []lineSeq
	var rows []lineRow
	names := map[*dwarf.LineFile]string{}
	var le dwarf.LineEntry
	for lr.Next(&le) == nil {
		if le.EndSequence {
			if len(rows) > 0 {
				seqs = append(seqs, lineSeq{rows: rows, end: le.Address})
			}
			rows = nil
			continue
		}
		name, ok := names[le.File]
		if !ok && le.File != nil {
			name = filepath.Base(le.File.Name)
			names[le.File] = name
		}
		rows = append(rows, lineRow{le.Address, name, le.Line})
	}
	slices.SortStableFunc(seqs, func(a, b lineSeq) int { return cmp.Compare(a.rows[0].addr, b.rows[0].addr) })
	return seqs
}

// callSite returns the DW_AT_call_file and DW_AT_call_line of an inlined
// subroutine.
func (u *dwarfUnit) callSite(t *godwarf.Tree) (string, int) {
	line, _ := t.Val(dwarf.AttrCallLine).(int64)
	idx, ok := t.Val(dwarf.AttrCallFile).(int64)
	file := ""
	if ok && idx >= 0 && int(idx) < len(u.files) && u.files[idx] != nil {
		file = filepath.Base(u.files[idx].Name)
	}
	return file, int(line)
}
