package compile

import (
	"bytes"
	"encoding/binary"
	"math"
)

// This file decodes what the sinks write, so the runtime and the printers
// read maps through the layouts and never with offsets of their own.

// AggValue is one key's aggregate, merged over the CPUs.
type AggValue struct {
	// Value is AggSum's sum, or AggMin's or AggMax's extreme (as int64
	// when AggLayout.ValueSigned); 0 for the counting aggregations.
	Value uint64
	Count uint64 // events
}

// Merge merges one key's per-CPU values, each l.ValueSize bytes (as
// ebpf.Map.Lookup returns them into a [][]byte): counts and sums add up,
// min and max are taken over the CPUs whose count is not 0.
func (l AggLayout) Merge(perCPU [][]byte) AggValue {
	var out AggValue
	le := binary.LittleEndian
	have := false
	for _, v := range perCPU {
		if len(v) < l.ValueSize {
			continue
		}
		switch l.Agg {
		case AggSum:
			out.Value += le.Uint64(v)
			out.Count += le.Uint64(v[8:])
		case AggMin, AggMax:
			n := le.Uint64(v[8:])
			if n == 0 {
				continue
			}
			x := le.Uint64(v)
			if !have || l.beats(x, out.Value) {
				out.Value = x
			}
			have = true
			out.Count += n
		default:
			out.Count += le.Uint64(v)
		}
	}
	return out
}

// beats reports whether x replaces cur as the minimum or maximum.
func (l AggLayout) beats(x, cur uint64) bool {
	switch {
	case l.Agg == AggMin && l.ValueSigned:
		return int64(x) < int64(cur)
	case l.Agg == AggMin:
		return x < cur
	case l.ValueSigned:
		return int64(x) > int64(cur)
	}
	return x > cur
}

// Uint returns the field's unsigned value in key (FieldUint, FieldAddr,
// and the raw bits of FieldInt).
func (f KeyField) Uint(key []byte) uint64 {
	b := key[f.Offset : f.Offset+f.Size]
	switch f.Size {
	case 4:
		return uint64(binary.LittleEndian.Uint32(b))
	case 8:
		return binary.LittleEndian.Uint64(b)
	}
	return 0
}

// Int returns the field's signed value in key (FieldInt: stack ids and
// signed expressions).
func (f KeyField) Int(key []byte) int64 {
	if f.Size == 4 {
		return int64(int32(f.Uint(key)))
	}
	return int64(f.Uint(key))
}

// String returns a FieldStr field's string in key, up to its first NUL,
// and its status: expression strings carry a status byte after the
// characters (StrOK, StrTruncated, StrFault, StrNull), as trace's
// records do; comm has none and is always StrOK.
func (f KeyField) String(key []byte) (s string, status byte) {
	b := key[f.Offset : f.Offset+f.Size]
	if f.Part == KeyValue {
		b, status = b[:len(b)-1], b[len(b)-1]
	}
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b), status
}

// Slot returns the histogram slot of key (AggLog2, AggLinear).
func (l AggLayout) Slot(key []byte) int {
	if l.SlotOffset < 0 {
		return 0
	}
	return int(binary.LittleEndian.Uint64(key[l.SlotOffset:]))
}

// Log2Range returns the values log2 slot s counts, lo..hi inclusive (see
// Log2Slots). ok is false for Log2Negative and slots out of range.
func Log2Range(s int) (lo, hi uint64, ok bool) {
	switch {
	case s == 0:
		return 0, 0, true
	case s < 0 || s > 64:
		return 0, 0, false
	case s == 64:
		return 1 << 63, math.MaxUint64, true
	}
	return 1 << (s - 1), 1<<s - 1, true
}

// Range returns the values linear slot s counts, lo <= v < hi, and
// whether the slot is the underflow (v < Min) or overflow (v >= Max)
// slot, where lo or hi is open.
func (l Linear) Range(s int) (lo, hi int64, under, over bool) {
	n := int(l.buckets())
	switch {
	case s <= 0:
		return math.MinInt64, l.Min, true, false
	case s > n:
		return l.Max, math.MaxInt64, false, true
	}
	lo = l.Min + int64(uint64(s-1)*l.Step)
	hi = lo + int64(l.Step)
	if s == n {
		hi = l.Max
	}
	return lo, hi, false, false
}
