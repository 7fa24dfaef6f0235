package dwarfinfo

import (
	"debug/dwarf"
	"encoding/binary"
	"errors"
	"fmt"

	ebtf "github.com/cilium/ebpf/btf"
)

// lowerer turns DWARF type DIEs into cilium/ebpf BTF types, the way pahole
// does, memoising by DIE offset so that recursive types (a struct pointing
// to itself) terminate and every DIE maps to exactly one ebtf.Type value.
//
// It walks raw DIEs through debug/dwarf's Reader instead of using a
// ready-made DWARF type model: delve's godwarf ignores DW_AT_data_bit_offset
// (gcc ≥ 11 bitfields, DWARF 5) and rejects type units, and neither godwarf
// nor debug/dwarf's Type keeps an enum's underlying type (its signedness)
// or C++ reference types, all of which the BTF lowering needs.
type lowerer struct {
	data      func(dwarf.Offset) (*dwarf.Data, error) // the DWARF holding a DIE
	byteOrder binary.ByteOrder
	ptrSize   uint32
	cache     map[dwarf.Offset]ebtf.Type
	index     *ebtf.Int // array index type, as in kernel BTF
}

func newLowerer(data func(dwarf.Offset) (*dwarf.Data, error), bo binary.ByteOrder, ptrSize int) *lowerer {
	return &lowerer{
		data:      data,
		byteOrder: bo,
		ptrSize:   uint32(ptrSize),
		cache:     make(map[dwarf.Offset]ebtf.Type),
		index:     &ebtf.Int{Name: "__ARRAY_SIZE_TYPE__", Size: 4},
	}
}

// errTypeUnit is returned for DW_FORM_ref_sig8 references (-fdebug-types-section).
var errTypeUnit = errors.New("DWARF type units (-fdebug-types-section) are not supported")

// readDIE returns the DIE at off and its direct children.
func (l *lowerer) readDIE(off dwarf.Offset) (*dwarf.Entry, []*dwarf.Entry, error) {
	d, err := l.data(off)
	if err != nil {
		return nil, nil, err
	}
	return readDIE(d, off)
}

func readDIE(d *dwarf.Data, off dwarf.Offset) (*dwarf.Entry, []*dwarf.Entry, error) {
	r := d.Reader()
	e, err := readEntry(r, off)
	if err != nil {
		return nil, nil, err
	}
	var kids []*dwarf.Entry
	if e.Children {
		for {
			k, err := r.Next()
			if err != nil {
				return nil, nil, err
			}
			if k == nil || k.Tag == 0 {
				break
			}
			kids = append(kids, k)
			if k.Children {
				r.SkipChildren()
			}
		}
	}
	return e, kids, nil
}

// readEntry reads just the DIE at off, leaving r after it.
func readEntry(r *dwarf.Reader, off dwarf.Offset) (*dwarf.Entry, error) {
	r.Seek(off)
	e, err := r.Next()
	if err != nil {
		return nil, err
	}
	if e == nil || e.Offset != off {
		return nil, fmt.Errorf("no DWARF entry at offset %#x", off)
	}
	return e, nil
}

// typeOf lowers the DW_AT_type of e; an absent attribute means void.
func (l *lowerer) typeOf(e *dwarf.Entry) (ebtf.Type, error) {
	switch v := e.Val(dwarf.AttrType).(type) {
	case dwarf.Offset:
		return l.lower(v)
	case nil:
		return &ebtf.Void{}, nil
	case uint64:
		return nil, errTypeUnit
	default:
		return nil, fmt.Errorf("DWARF entry %#x: unexpected type attribute %T", e.Offset, v)
	}
}

// lower returns the BTF type for the type DIE at off.
func (l *lowerer) lower(off dwarf.Offset) (ebtf.Type, error) {
	if t, ok := l.cache[off]; ok {
		return t, nil
	}
	e, kids, err := l.readDIE(off)
	if err != nil {
		return nil, err
	}
	name, _ := e.Val(dwarf.AttrName).(string)
	byteSize, hasSize := e.Val(dwarf.AttrByteSize).(int64)

	// Every node that can be part of a cycle is cached before its
	// referents are lowered.
	switch e.Tag {
	case dwarf.TagBaseType:
		enc, _ := e.Val(dwarf.AttrEncoding).(int64)
		var t ebtf.Type
		switch enc {
		case dwAteFloat, dwAteComplexFloat, dwAteDecimalFloat:
			t = &ebtf.Float{Name: name, Size: uint32(byteSize)}
		case dwAteBoolean:
			t = &ebtf.Int{Name: name, Size: uint32(byteSize), Encoding: ebtf.Bool}
		case dwAteSigned, dwAteSignedChar, dwAteSignedFixed:
			// Like pahole: char is plain signed, never BTF_INT_CHAR.
			t = &ebtf.Int{Name: name, Size: uint32(byteSize), Encoding: ebtf.Signed}
		default: // unsigned, unsigned_char, UTF, address, unsigned_fixed
			t = &ebtf.Int{Name: name, Size: uint32(byteSize), Encoding: ebtf.Unsigned}
		}
		l.cache[off] = t
		return t, nil

	case dwarf.TagPointerType, dwarf.TagReferenceType, dwarf.TagRvalueReferenceType:
		t := &ebtf.Pointer{}
		l.cache[off] = t
		return l.fill(off, t, func() (err error) { t.Target, err = l.typeOf(e); return })

	case dwarf.TagConstType:
		t := &ebtf.Const{}
		l.cache[off] = t
		return l.fill(off, t, func() (err error) { t.Type, err = l.typeOf(e); return })

	case dwarf.TagVolatileType:
		t := &ebtf.Volatile{}
		l.cache[off] = t
		return l.fill(off, t, func() (err error) { t.Type, err = l.typeOf(e); return })

	case dwarf.TagRestrictType:
		t := &ebtf.Restrict{}
		l.cache[off] = t
		return l.fill(off, t, func() (err error) { t.Type, err = l.typeOf(e); return })

	case dwarf.TagAtomicType, dwarf.TagImmutableType, dwarf.TagPackedType, dwarf.TagSharedType:
		// No BTF equivalent: the qualified type itself.
		t, err := l.typeOf(e)
		if err != nil {
			return nil, err
		}
		l.cache[off] = t
		return t, nil

	case dwarf.TagTypedef:
		t := &ebtf.Typedef{Name: name}
		l.cache[off] = t
		return l.fill(off, t, func() (err error) { t.Type, err = l.typeOf(e); return })

	case dwarf.TagStructType, dwarf.TagClassType, dwarf.TagUnionType:
		isUnion := e.Tag == dwarf.TagUnionType
		if decl, _ := e.Val(dwarf.AttrDeclaration).(bool); decl {
			kind := ebtf.FwdStruct
			if isUnion {
				kind = ebtf.FwdUnion
			}
			t := &ebtf.Fwd{Name: name, Kind: kind}
			l.cache[off] = t
			return t, nil
		}
		var t ebtf.Type
		var members *[]ebtf.Member
		if isUnion {
			u := &ebtf.Union{Name: name, Size: uint32(byteSize)}
			t, members = u, &u.Members
		} else {
			s := &ebtf.Struct{Name: name, Size: uint32(byteSize)}
			t, members = s, &s.Members
		}
		l.cache[off] = t
		return l.fill(off, t, func() error { return l.members(kids, members) })

	case dwarf.TagEnumerationType:
		t := &ebtf.Enum{Name: name, Size: uint32(byteSize)}
		if !hasSize {
			t.Size = 4
		}
		l.cache[off] = t
		signedKnown := false
		if to, ok := e.Val(dwarf.AttrType).(dwarf.Offset); ok {
			if base, err := l.lower(to); err == nil {
				if i, ok := ebtf.UnderlyingType(base).(*ebtf.Int); ok {
					t.Signed, signedKnown = i.Encoding == ebtf.Signed, true
				}
			}
		}
		for _, k := range kids {
			if k.Tag != dwarf.TagEnumerator {
				continue
			}
			n, _ := k.Val(dwarf.AttrName).(string)
			var v uint64
			switch cv := k.Val(dwarf.AttrConstValue).(type) {
			case int64:
				v = uint64(cv)
				if cv < 0 && !signedKnown {
					t.Signed = true
				}
			case uint64:
				v = cv
			}
			t.Values = append(t.Values, ebtf.EnumValue{Name: n, Value: v})
		}
		return t, nil

	case dwarf.TagArrayType:
		var counts []uint32
		for _, k := range kids {
			if k.Tag != dwarf.TagSubrangeType && k.Tag != dwarf.TagEnumerationType {
				continue
			}
			counts = append(counts, subrangeCount(k))
		}
		if len(counts) == 0 {
			counts = []uint32{0}
		}
		// int m[2][3] is one DIE with two subranges: Array{2, Array{3, int}}.
		outer := &ebtf.Array{Index: l.index, Nelems: counts[0]}
		l.cache[off] = outer
		return l.fill(off, outer, func() error {
			elem, err := l.typeOf(e)
			if err != nil {
				return err
			}
			inner := outer
			for _, c := range counts[1:] {
				next := &ebtf.Array{Index: l.index, Nelems: c}
				inner.Type = next
				inner = next
			}
			inner.Type = elem
			return nil
		})

	case dwarf.TagSubroutineType:
		t := &ebtf.FuncProto{}
		l.cache[off] = t
		return l.fill(off, t, func() error {
			ret, err := l.typeOf(e)
			if err != nil {
				return err
			}
			t.Return = ret
			for _, k := range kids {
				switch k.Tag {
				case dwarf.TagFormalParameter:
					pt, err := l.typeOf(k)
					if err != nil {
						return err
					}
					pn, _ := k.Val(dwarf.AttrName).(string)
					t.Params = append(t.Params, ebtf.FuncParam{Name: pn, Type: pt})
				case dwarf.TagUnspecifiedParameters:
					// BTF marks varargs with a final void parameter.
					t.Params = append(t.Params, ebtf.FuncParam{Type: &ebtf.Void{}})
				}
			}
			return nil
		})

	case dwarf.TagPtrToMemberType:
		size := l.ptrSize
		if hasSize {
			size = uint32(byteSize)
		}
		t := &ebtf.Int{Name: "long unsigned int", Size: size}
		l.cache[off] = t
		return t, nil

	case dwarf.TagUnspecifiedType: // decltype(nullptr)
		t := &ebtf.Pointer{Target: &ebtf.Void{}}
		l.cache[off] = t
		return t, nil
	}

	// Anything else (Go-, Fortran- or Ada-specific DIEs): an opaque
	// unsigned integer of the right size when known, else void.
	var t ebtf.Type = &ebtf.Void{}
	if hasSize && byteSize > 0 && byteSize <= 16 {
		if name == "" {
			name = "unknown"
		}
		t = &ebtf.Int{Name: name, Size: uint32(byteSize)}
	}
	l.cache[off] = t
	return t, nil
}

// fill runs f to complete the cached node t, removing it from the cache
// again when f fails so a later call does not see a half-built type.
func (l *lowerer) fill(off dwarf.Offset, t ebtf.Type, f func() error) (ebtf.Type, error) {
	if err := f(); err != nil {
		delete(l.cache, off)
		return nil, err
	}
	return t, nil
}

// members lowers the member and inheritance children of a struct, class or
// union.
func (l *lowerer) members(kids []*dwarf.Entry, out *[]ebtf.Member) error {
	for _, k := range kids {
		if k.Tag != dwarf.TagMember && k.Tag != dwarf.TagInheritance {
			continue
		}
		if decl, _ := k.Val(dwarf.AttrDeclaration).(bool); decl {
			continue // C++ static data member (DWARF 4)
		}
		mt, err := l.typeOf(k)
		if err != nil {
			return err
		}
		m := ebtf.Member{Type: mt}
		m.Name, _ = k.Val(dwarf.AttrName).(string)

		var byteOff int64
		switch loc := k.Val(dwarf.AttrDataMemberLoc).(type) {
		case int64:
			byteOff = loc
		case []byte:
			v, ok := plusUconst(loc)
			if !ok {
				continue // virtual base classes: no fixed offset
			}
			byteOff = v
		}
		bitSize, _ := k.Val(dwarf.AttrBitSize).(int64)
		switch {
		case k.Val(dwarf.AttrDataBitOffset) != nil:
			dbo, _ := k.Val(dwarf.AttrDataBitOffset).(int64)
			m.Offset = ebtf.Bits(dbo)
		case k.Val(dwarf.AttrBitOffset) != nil && bitSize > 0:
			// DWARF 2/3: bit_offset counts from the most significant bit of
			// a storage unit of byte_size bytes at byteOff.
			bo, _ := k.Val(dwarf.AttrBitOffset).(int64)
			storage, ok := k.Val(dwarf.AttrByteSize).(int64)
			if !ok {
				sz, _ := ebtf.Sizeof(mt)
				storage = int64(sz)
			}
			if l.byteOrder == binary.BigEndian {
				m.Offset = ebtf.Bits(byteOff*8 + bo)
			} else {
				m.Offset = ebtf.Bits(byteOff*8 + storage*8 - bo - bitSize)
			}
		default:
			m.Offset = ebtf.Bits(byteOff * 8)
		}
		if bitSize > 0 {
			m.BitfieldSize = ebtf.Bits(bitSize)
		}
		*out = append(*out, m)
	}
	return nil
}

// plusUconst decodes a member location expression "DW_OP_plus_uconst N"
// (or an empty expression, meaning 0).
func plusUconst(expr []byte) (int64, bool) {
	if len(expr) == 0 {
		return 0, true
	}
	if expr[0] != dwOpPlusUconst {
		return 0, false
	}
	v, n := uleb128(expr[1:])
	if n == 0 || 1+n != len(expr) {
		return 0, false
	}
	return int64(v), true
}

// subrangeCount returns the element count of an array dimension: DW_AT_count,
// or upper_bound - lower_bound + 1; 0 for flexible or variable-length arrays.
func subrangeCount(k *dwarf.Entry) uint32 {
	if c, ok := k.Val(dwarf.AttrCount).(int64); ok && c >= 0 {
		return uint32(c)
	}
	ub, ok := k.Val(dwarf.AttrUpperBound).(int64)
	if !ok {
		return 0
	}
	lb, _ := k.Val(dwarf.AttrLowerBound).(int64)
	if ub < lb {
		return 0
	}
	return uint32(ub - lb + 1)
}

func uleb128(b []byte) (uint64, int) {
	var v uint64
	var shift uint
	for i, c := range b {
		if shift < 64 {
			v |= uint64(c&0x7f) << shift
		}
		shift += 7
		if c&0x80 == 0 {
			return v, i + 1
		}
	}
	return 0, 0
}

// DWARF base type encodings (DW_ATE_*).
const (
	dwAteBoolean      = 0x02
	dwAteComplexFloat = 0x03
	dwAteFloat        = 0x04
	dwAteSigned       = 0x05
	dwAteSignedChar   = 0x06
	dwAteSignedFixed  = 0x0d
	dwAteDecimalFloat = 0x0f
	dwOpPlusUconst    = 0x23
)
