package multitool

// TEMPORARY stand-in for the lead's aggread.go and hist.go; deleted at the merge.

import (
	"bytes"
	"fmt"
	"io"
	"math/bits"
	"sort"
	"strings"

	"github.com/cilium/ebpf"

	"github.com/btool/btool/bpf/compile"
)

type AggReader struct {
	m    *ebpf.Map
	l    compile.AggLayout
	prev map[string]compile.AggValue
}

func NewAggReader(m *ebpf.Map, l compile.AggLayout) *AggReader {
	return &AggReader{m: m, l: l, prev: map[string]compile.AggValue{}}
}

type AggRow struct {
	Key   []byte
	Value compile.AggValue
}

func (r *AggReader) Read(cumulative bool) ([]AggRow, error) {
	var rows []AggRow
	var key []byte
	var per [][]byte
	it := r.m.Iterate()
	for it.Next(&key, &per) {
		v := r.l.Merge(per)
		k := string(key)
		d := v
		if !cumulative {
			p := r.prev[k]
			r.prev[k] = v
			d.Count -= p.Count
			d.Value -= p.Value
			if d.Count == 0 {
				continue
			}
		}
		rows = append(rows, AggRow{Key: []byte(k), Value: d})
	}
	return rows, it.Err()
}

type Hist struct {
	Key   []byte
	Slots []uint64
	Count uint64
}

func GroupHists(l compile.AggLayout, rows []AggRow) []Hist {
	by := map[string]*Hist{}
	for _, r := range rows {
		k := append([]byte(nil), r.Key...)
		s := l.Slot(k)
		for i := 0; i < 8; i++ {
			k[l.SlotOffset+i] = 0
		}
		h := by[string(k)]
		if h == nil {
			h = &Hist{Key: k, Slots: make([]uint64, l.Slots)}
			by[string(k)] = h
		}
		if s >= 0 && s < l.Slots {
			h.Slots[s] += r.Value.Count
		}
		h.Count += r.Value.Count
	}
	var out []Hist
	for _, h := range by {
		out = append(out, *h)
	}
	sort.Slice(out, func(i, j int) bool { return bytes.Compare(out[i].Key, out[j].Key) < 0 })
	return out
}

func PrintLog2Hist(w io.Writer, label string, slots []uint64) error {
	top, max := 0, uint64(0)
	for s := 1; s < compile.Log2Negative && s < len(slots); s++ {
		c := slots[s]
		if s == 1 {
			c += slots[0]
		}
		if c > 0 {
			top = s
		}
		if c > max {
			max = c
		}
	}
	if slots[0] > 0 && top == 0 {
		top = 1
	}
	if top == 0 {
		return nil
	}
	fmt.Fprintf(w, "     %-19s : count     distribution\n", label)
	for s := 1; s <= top; s++ {
		c := slots[s]
		if s == 1 {
			c += slots[0]
		}
		lo := uint64(1) << (s - 1)
		hi := uint64(1)<<s - 1
		if s == 1 {
			lo = 0
		}
		n := int(40 * c / max)
		fmt.Fprintf(w, "%10d -> %-10d : %-8d |%-40s|\n", lo, hi, c, strings.Repeat("*", n))
	}
	_ = bits.Len64
	return nil
}

type Bucket struct {
	Min   int64  `json:"min"`
	Max   int64  `json:"max"`
	Count uint64 `json:"count"`
}

func Log2Buckets(slots []uint64) []Bucket {
	var out []Bucket
	for s, c := range slots {
		if c == 0 || s == compile.Log2Negative {
			continue
		}
		lo, hi, _ := compile.Log2Range(s)
		out = append(out, Bucket{Min: int64(lo), Max: int64(hi), Count: c})
	}
	return out
}
