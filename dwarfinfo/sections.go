package dwarfinfo

import (
	"debug/dwarf"
	"debug/elf"
	"encoding/binary"
	"fmt"
	"slices"
	"sort"
	"strings"
)

// dwarfSections are the sections loadDWARF reads for debug/dwarf: unit
// headers and DIEs, their abbreviations and strings, and DWARF 5's address,
// string-offset and range tables. Line tables, call frames and location
// lists are not read here: nothing needs the first two, and location lists
// are read on the first ParamLocations that points into them.
var dwarfSections = []string{"abbrev", "info", "str", "ranges", "addr", "line_str", "str_offsets", "rnglists"}

// loadDWARF reads the DWARF of ef: the sections it needs only, each
// decompressed once into a buffer of its final size (elf.File.DWARF
// decompresses every .debug_* section, line tables and location lists
// included), indexed lazily by a unitTable. Relocatable objects, .zdebug_
// sections and DWARF 4 type units go through elf.File.DWARF, which applies
// relocations and knows the old formats; the table then holds that
// dwarf.Data, with every unit parsed.
func loadDWARF(ef *elf.File) (*unitTable, error) {
	legacy := ef.Type == elf.ET_REL
	for _, s := range ef.Sections {
		if strings.HasPrefix(s.Name, ".zdebug_") || s.Name == ".debug_types" {
			legacy = true
		}
	}
	if legacy {
		d, err := ef.DWARF()
		if err != nil {
			return nil, err
		}
		return &unitTable{data: d}, nil
	}
	dat := make(map[string][]byte, len(dwarfSections))
	for _, name := range dwarfSections {
		s := ef.Section(".debug_" + name)
		if s == nil || s.Type == elf.SHT_NOBITS {
			continue
		}
		b, err := s.Data()
		if err != nil {
			return nil, fmt.Errorf("section %s: %w", s.Name, err)
		}
		dat[name] = b
	}
	return newUnitTable(dat, ef.ByteOrder)
}

// unitTable hands out a dwarf.Data in which only the units read so far
// are parsed. debug/dwarf.New parses the abbreviation table of every unit
// up front (15 MB of maps for libc's 1,500 units, for one function's
// prototype), so the table points the abbreviation offset of each unit
// not yet read at an empty table (the 0 that ends .debug_abbrev) in its
// copy of .debug_info, and builds the dwarf.Data again, with the unit's
// real offset restored, when a query first reaches into a unit. DIE
// offsets stay section offsets, so references between units (and the
// lowerer's cache) keep working.
type unitTable struct {
	data  *dwarf.Data // current view; never nil after newUnitTable
	info  []byte      // .debug_info, abbreviation offsets patched (nil: data is complete)
	dat   map[string][]byte
	bo    binary.ByteOrder
	units []unitHeader // in section order
	empty uint64       // offset of an empty abbreviation table
	all   bool         // every unit enabled
}

// unitHeader is one .debug_info unit: where it and its DIEs start and end,
// its DWARF version and where its abbreviation offset field is.
type unitHeader struct {
	start, die, end dwarf.Offset
	version         int
	abbrevAt        int    // byte position of the abbreviation offset field
	wide            bool   // 64-bit DWARF: the field is 8 bytes
	abbrev          uint64 // the unit's real abbreviation offset
	enabled         bool
}

func newUnitTable(dat map[string][]byte, bo binary.ByteOrder) (*unitTable, error) {
	ut := &unitTable{info: dat["info"], dat: dat, bo: bo}
	abbrev := dat["abbrev"]
	var lazy bool
	ut.units, lazy = parseUnitHeaders(ut.info, bo)
	ut.empty = uint64(len(abbrev) - 1)
	if !lazy || len(ut.units) == 0 || len(abbrev) == 0 || abbrev[len(abbrev)-1] != 0 {
		ut.all = true
	} else {
		for i := range ut.units {
			ut.setAbbrev(&ut.units[i], ut.empty)
		}
	}
	return ut, ut.rebuild()
}

// parseUnitHeaders reads the unit headers of .debug_info. lazy is false
// when some unit cannot be parsed on its own (type, skeleton or split
// units, malformed headers): then every unit is parsed up front.
func parseUnitHeaders(info []byte, bo binary.ByteOrder) (units []unitHeader, lazy bool) {
	lazy = true
	for p := 0; p+11 <= len(info); {
		u := unitHeader{start: dwarf.Offset(p)}
		length, q := uint64(bo.Uint32(info[p:])), p+4
		if length == 0xffffffff {
			if p+14 > len(info) {
				return units, false
			}
			length, q, u.wide = bo.Uint64(info[p+4:]), p+12, true
		}
		if q+2 > len(info) || length > uint64(len(info)-q) || length < 2 {
			return units, false // malformed: let debug/dwarf report it
		}
		end := q + int(length)
		u.end = dwarf.Offset(end)
		u.version = int(bo.Uint16(info[q:]))
		q += 2
		switch {
		case u.version >= 2 && u.version <= 4:
			u.abbrevAt = q
		case u.version == 5 && q+2 <= end && (info[q] == 0x01 || info[q] == 0x03): // DW_UT_compile, DW_UT_partial
			u.abbrevAt = q + 2
		default:
			lazy = false // type, skeleton and split units: read them all up front
			units = append(units, u)
			p = end
			continue
		}
		fieldLen := 4
		if u.wide {
			fieldLen = 8
		}
		if u.abbrevAt+fieldLen > end {
			return units, false
		}
		if u.wide {
			u.abbrev = bo.Uint64(info[u.abbrevAt:])
		} else {
			u.abbrev = uint64(bo.Uint32(info[u.abbrevAt:]))
		}
		u.die = dwarf.Offset(u.abbrevAt + fieldLen)
		if u.version < 5 {
			u.die++ // address size follows the abbreviation offset
		}
		units = append(units, u)
		p = end
	}
	return units, lazy
}

func (ut *unitTable) setAbbrev(u *unitHeader, off uint64) {
	if u.wide {
		ut.bo.PutUint64(ut.info[u.abbrevAt:], off)
	} else {
		ut.bo.PutUint32(ut.info[u.abbrevAt:], uint32(off))
	}
}

// rebuild makes a new dwarf.Data over the sections; debug/dwarf parses
// the abbreviation tables of the enabled units only (the rest share the
// empty one).
func (ut *unitTable) rebuild() error {
	dat := ut.dat
	d, err := dwarf.New(dat["abbrev"], nil, nil, ut.info, nil, nil, dat["ranges"], dat["str"])
	if err != nil {
		return err
	}
	for _, name := range []string{"addr", "line_str", "str_offsets", "rnglists"} {
		if b := dat[name]; b != nil {
			if err := d.AddSection(".debug_"+name, b); err != nil {
				return err
			}
		}
	}
	ut.data = d
	return nil
}

// at returns a dwarf.Data in which the unit holding off is parsed.
func (ut *unitTable) at(off dwarf.Offset) (*dwarf.Data, error) {
	if ut.all || ut.info == nil {
		return ut.data, nil
	}
	i := sort.Search(len(ut.units), func(i int) bool { return ut.units[i].end > off })
	if i == len(ut.units) || off < ut.units[i].start {
		return ut.data, nil // not in any unit: debug/dwarf reports it
	}
	u := &ut.units[i]
	if u.enabled {
		return ut.data, nil
	}
	u.enabled = true
	ut.setAbbrev(u, u.abbrev)
	return ut.data, ut.rebuild()
}

// whole returns a dwarf.Data with every unit parsed, for scans of all of
// .debug_info (the name index, SeekPC).
func (ut *unitTable) whole() (*dwarf.Data, error) {
	if ut.all || ut.info == nil {
		return ut.data, nil
	}
	ut.all = true
	for i := range ut.units {
		u := &ut.units[i]
		u.enabled = true
		ut.setAbbrev(u, u.abbrev)
	}
	return ut.data, ut.rebuild()
}

// version returns the DWARF version of the unit holding off, or 0.
func (ut *unitTable) version(off dwarf.Offset) int {
	i := sort.Search(len(ut.units), func(i int) bool { return ut.units[i].end > off })
	if i == len(ut.units) || off < ut.units[i].start {
		return 0
	}
	return ut.units[i].version
}

// unitDIE returns the offset of the unit DIE at unit offset off.
func (ut *unitTable) unitDIE(off dwarf.Offset) (dwarf.Offset, bool) {
	i := sort.Search(len(ut.units), func(i int) bool { return ut.units[i].end > off })
	if i == len(ut.units) || ut.units[i].start != off || ut.units[i].die == 0 {
		return 0, false
	}
	return ut.units[i].die, true
}

// arange is one address range of .debug_aranges and the unit covering it.
type arange struct {
	lo, hi uint64
	cu     dwarf.Offset
}

// readAranges parses .debug_aranges into ranges sorted by address. It
// returns nil when the section is missing or malformed; callers then fall
// back to scanning unit ranges (dwarf.Reader.SeekPC).
func readAranges(ef *elf.File) []arange {
	s := ef.Section(".debug_aranges")
	if s == nil || s.Type == elf.SHT_NOBITS {
		return nil
	}
	data, err := s.Data()
	if err != nil {
		return nil
	}
	return parseAranges(data, ef.ByteOrder)
}

// parseAranges parses .debug_aranges data; nil when it is malformed.
func parseAranges(data []byte, bo binary.ByteOrder) []arange {
	var out []arange
	for p := 0; p+4 <= len(data); {
		length, hdr, offSize := uint64(bo.Uint32(data[p:])), 4, 4
		if length == 0xffffffff {
			if p+12 > len(data) {
				return nil
			}
			length, hdr, offSize = bo.Uint64(data[p+4:]), 12, 8
		}
		end := p + hdr + int(length)
		if length > uint64(len(data)) || end > len(data) || end <= p {
			return nil
		}
		q := p + hdr + 2 // version
		if q+offSize+2 > end {
			return nil
		}
		var cu uint64
		if offSize == 8 {
			cu = bo.Uint64(data[q:])
		} else {
			cu = uint64(bo.Uint32(data[q:]))
		}
		q += offSize
		addrSize, segSize := int(data[q]), int(data[q+1])
		q += 2
		if (addrSize != 4 && addrSize != 8) || segSize != 0 {
			return nil
		}
		// Tuples start at a multiple of their size from the unit start.
		if r := (q - p) % (2 * addrSize); r != 0 {
			q += 2*addrSize - r
		}
		for ; q+2*addrSize <= end; q += 2 * addrSize {
			var lo, n uint64
			if addrSize == 8 {
				lo, n = bo.Uint64(data[q:]), bo.Uint64(data[q+8:])
			} else {
				lo, n = uint64(bo.Uint32(data[q:])), uint64(bo.Uint32(data[q+4:]))
			}
			if lo == 0 && n == 0 {
				break
			}
			out = append(out, arange{lo: lo, hi: lo + n, cu: dwarf.Offset(cu)})
		}
		p = end
	}
	sort.Slice(out, func(i, j int) bool { return out[i].lo < out[j].lo })
	return slices.Clip(out)
}

// unitAt returns the offset of the unit whose .debug_aranges ranges cover
// pc.
func unitAt(rs []arange, pc uint64) (dwarf.Offset, bool) {
	i := sort.Search(len(rs), func(i int) bool { return rs[i].lo > pc })
	for j := i - 1; j >= 0 && j >= i-8; j-- { // ranges of different units may nest a little
		if pc >= rs[j].lo && pc < rs[j].hi {
			return rs[j].cu, true
		}
	}
	return 0, false
}

// unitDIE returns the offset of the unit DIE of the compile unit that
// .debug_aranges says covers pc.
func (ds *dwarfState) unitDIE(pc uint64) (dwarf.Offset, bool) {
	off, ok := unitAt(ds.aranges, pc)
	if !ok {
		return 0, false
	}
	return ds.ut.unitDIE(off)
}
