package dwarfinfo

import (
	"debug/dwarf"
	"debug/elf"
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

// loadDWARF builds the dwarf.Data of ef from the sections it needs only,
// each decompressed once into a buffer of its final size. (elf.File.DWARF
// decompresses every .debug_* section, line tables and location lists
// included.) It returns .debug_info too, for unit headers. Relocatable
// objects, .zdebug_ sections and DWARF 4 type units go through
// elf.File.DWARF, which applies relocations and knows the old formats; info
// is nil then.
func loadDWARF(ef *elf.File) (d *dwarf.Data, info []byte, err error) {
	legacy := ef.Type == elf.ET_REL
	for _, s := range ef.Sections {
		if strings.HasPrefix(s.Name, ".zdebug_") || s.Name == ".debug_types" {
			legacy = true
		}
	}
	if legacy {
		d, err := ef.DWARF()
		return d, nil, err
	}
	dat := make(map[string][]byte, len(dwarfSections))
	for _, name := range dwarfSections {
		s := ef.Section(".debug_" + name)
		if s == nil || s.Type == elf.SHT_NOBITS {
			continue
		}
		b, err := s.Data()
		if err != nil {
			return nil, nil, fmt.Errorf("section %s: %w", s.Name, err)
		}
		dat[name] = b
	}
	d, err = dwarf.New(dat["abbrev"], nil, nil, dat["info"], nil, nil, dat["ranges"], dat["str"])
	if err != nil {
		return nil, nil, err
	}
	for _, name := range []string{"addr", "line_str", "str_offsets", "rnglists"} {
		if b := dat[name]; b != nil {
			if err := d.AddSection(".debug_"+name, b); err != nil {
				return nil, nil, err
			}
		}
	}
	return d, dat["info"], nil
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
	bo := ef.ByteOrder
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
// .debug_aranges says covers pc: the unit's offset there plus the size of
// its header (DWARF 2-4: 11 bytes; DWARF 5 compile and partial units: 12;
// 8 more for 64-bit DWARF).
func (ds *dwarfState) unitDIE(pc uint64) (dwarf.Offset, bool) {
	off, ok := unitAt(ds.aranges, pc)
	if !ok || ds.info == nil || int64(off)+12 > int64(len(ds.info)) {
		return 0, false
	}
	bo := ds.ef.ByteOrder
	// p is where the version is; 64-bit DWARF widens the length (by 8,
	// after a 4-byte escape) and the abbreviation offset (by 4).
	p, wide := int(off)+4, dwarf.Offset(0)
	if bo.Uint32(ds.info[off:]) == 0xffffffff {
		p, wide = p+8, 12
		if p+3 > len(ds.info) {
			return 0, false
		}
	}
	switch v := bo.Uint16(ds.info[p:]); {
	case v >= 2 && v <= 4:
		return off + 11 + wide, true
	case v == 5 && (ds.info[p+2] == 0x01 || ds.info[p+2] == 0x03): // DW_UT_compile, DW_UT_partial
		return off + 12 + wide, true
	}
	return 0, false
}
