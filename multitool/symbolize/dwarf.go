package symbolize

import (
	"debug/dwarf"
	"path/filepath"

	"github.com/go-delve/delve/pkg/dwarf/godwarf"
	"github.com/go-delve/delve/pkg/dwarf/reader"
)

// dwarfSyms is the DWARF of a file, for inlined frames and source lines.
// Compile units are loaded as trees (delve's godwarf.LoadTree, which
// resolves abstract origins and range lists) on first use and kept.
type dwarfSyms struct {
	data  *dwarf.Data
	units map[dwarf.Offset]*dwarfUnit
}

type dwarfUnit struct {
	tree  *godwarf.Tree
	files []*dwarf.LineFile // the line table's file list, for DW_AT_call_file
	lines *dwarf.LineReader // nil when the unit has no line table
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

// unit returns the compile unit containing pc, or nil.
func (ds *dwarfSyms) unit(pc uint64) *dwarfUnit {
	r := ds.data.Reader()
	cu, err := r.SeekPC(pc)
	if err != nil || cu == nil {
		return nil
	}
	if u, ok := ds.units[cu.Offset]; ok {
		return u
	}
	u := &dwarfUnit{}
	if tree, err := godwarf.LoadTree(cu.Offset, ds.data, 0); err == nil {
		u.tree = tree
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
	sub := findSubprogram(u.tree, pc)
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

// findSubprogram returns the subprogram of the unit tree whose ranges hold
// pc, looking through namespaces, classes and lexical blocks.
func findSubprogram(t *godwarf.Tree, pc uint64) *godwarf.Tree {
	for _, c := range t.Children {
		if !c.ContainsPC(pc) {
			continue
		}
		if c.Tag == dwarf.TagSubprogram {
			return c
		}
		if s := findSubprogram(c, pc); s != nil {
			return s
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
func (u *dwarfUnit) lineAt(pc uint64) (string, int) {
	if u.lines == nil {
		return "", 0
	}
	var le dwarf.LineEntry
	if err := u.lines.SeekPC(pc, &le); err != nil || le.File == nil {
		return "", 0
	}
	return filepath.Base(le.File.Name), le.Line
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
