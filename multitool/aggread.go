package multitool

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"sort"

	"github.com/cilium/ebpf"

	"github.com/btool/btool/bpf"
	"github.com/btool/btool/bpf/compile"
)

// AggRow is one key of an AggSink's map with its value merged over CPUs.
type AggRow struct {
	Key   []byte // as the map holds it: the histogram slot included
	Value compile.AggValue
}

// AggReader reads an AggSink's per-CPU hash. It never deletes keys in the
// kernel: without cumulative, Read returns each key's change since the
// previous Read (the difference of two snapshots), so no event counted
// between a read and a clear can be lost, and kernels before 5.10 can't
// hand a re-used element's stale per-CPU values to a new key. Keys stay
// in the map until the run ends: the map's MaxEntries bounds the memory,
// and new keys beyond it are counted in the sink's drops map.
type AggReader struct {
	m     *ebpf.Map
	l     compile.AggLayout
	ncpu  int
	batch bool // BPF_MAP_LOOKUP_BATCH worked (or was not tried yet)
	prev  map[string]compile.AggValue
	keys  reflect.Value // [][KeySize]byte batch buffer
	vals  reflect.Value // [][ValueSize]byte batch buffer, ncpu per key
}

// aggBatch is the number of keys asked for per batch lookup.
const aggBatch = 256

// NewAggReader returns a reader of m, laid out as l.
func NewAggReader(m *ebpf.Map, l compile.AggLayout) *AggReader {
	return &AggReader{m: m, l: l, batch: true, prev: map[string]compile.AggValue{}}
}

// Read returns the map's keys with their values merged over CPUs: the
// totals when cumulative, else the change since the previous Read (keys
// that did not change are left out). Min and max are not differences:
// a key's extreme is reported as it stands whenever its count changed.
// It reads in batches where the kernel has BPF_MAP_LOOKUP_BATCH (5.6),
// else one key at a time. It fails when the map can't be read.
func (r *AggReader) Read(cumulative bool) ([]AggRow, error) {
	if r.ncpu == 0 {
		n, err := ebpf.PossibleCPU()
		if err != nil {
			return nil, err
		}
		r.ncpu = n
	}
	var rows []AggRow
	var err error
	if r.batch {
		rows, err = r.readBatch()
		if errors.Is(err, ebpf.ErrNotSupported) {
			r.batch = false
		} else if err != nil {
			return nil, err
		}
	}
	if !r.batch {
		if rows, err = r.readIter(); err != nil {
			return nil, err
		}
	}
	out := rows[:0]
	for _, row := range rows {
		k := string(row.Key)
		cur := row.Value
		old, seen := r.prev[k]
		r.prev[k] = cur
		if cumulative {
			if cur.Count != 0 {
				out = append(out, row)
			}
			continue
		}
		if seen {
			if cur.Count == old.Count {
				continue
			}
			row.Value.Count -= old.Count
			if r.l.Agg == compile.AggSum {
				row.Value.Value -= old.Value
			}
		}
		if row.Value.Count != 0 {
			out = append(out, row)
		}
	}
	sort.Slice(out, func(i, j int) bool { return bytes.Compare(out[i].Key, out[j].Key) < 0 })
	return out, nil
}

func (r *AggReader) readBatch() ([]AggRow, error) {
	if !r.keys.IsValid() {
		kt := reflect.ArrayOf(r.l.KeySize, reflect.TypeOf(byte(0)))
		vt := reflect.ArrayOf(r.l.ValueSize, reflect.TypeOf(byte(0)))
		r.keys = reflect.MakeSlice(reflect.SliceOf(kt), aggBatch, aggBatch)
		r.vals = reflect.MakeSlice(reflect.SliceOf(vt), aggBatch*r.ncpu, aggBatch*r.ncpu)
	}
	var rows []AggRow
	var cursor ebpf.MapBatchCursor
	for {
		n, err := r.m.BatchLookup(&cursor, r.keys.Interface(), r.vals.Interface(), nil)
		for i := 0; i < n; i++ {
			rows = append(rows, r.row(r.keys.Index(i), r.vals.Slice(i*r.ncpu, (i+1)*r.ncpu)))
		}
		switch {
		case errors.Is(err, ebpf.ErrKeyNotExist):
			return rows, nil
		case err != nil:
			return nil, err
		}
	}
}

// row copies one key and its per-CPU values out of the batch buffers.
func (r *AggReader) row(key reflect.Value, vals reflect.Value) AggRow {
	k := make([]byte, r.l.KeySize)
	reflect.Copy(reflect.ValueOf(k), key)
	per := make([][]byte, vals.Len())
	for c := range per {
		per[c] = make([]byte, r.l.ValueSize)
		reflect.Copy(reflect.ValueOf(per[c]), vals.Index(c))
	}
	return AggRow{Key: k, Value: r.l.Merge(per)}
}

func (r *AggReader) readIter() ([]AggRow, error) {
	var rows []AggRow
	key := make([]byte, r.l.KeySize)
	var per [][]byte
	it := r.m.Iterate()
	for it.Next(&key, &per) {
		rows = append(rows, AggRow{Key: bytes.Clone(key), Value: r.l.Merge(per)})
	}
	if err := it.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", r.m, err)
	}
	return rows, nil
}

// Hist is one histogram of an AggLog2 or AggLinear sink: the rows of one
// key, gathered by slot.
type Hist struct {
	Key   []byte   // the map key with its slot bytes zeroed
	Slots []uint64 // counts by slot (compile.AggLayout.Slots of them)
	Count uint64   // events in all slots
}

// GroupHists gathers a histogram sink's rows into one Hist per key (the
// key without its slot), sorted by key bytes. Rows of slots out of range
// are ignored.
func GroupHists(l compile.AggLayout, rows []AggRow) []Hist {
	var out []Hist
	at := map[string]int{}
	for _, row := range rows {
		s := l.Slot(row.Key)
		if s < 0 || s >= l.Slots {
			continue
		}
		k := bytes.Clone(row.Key)
		if l.SlotOffset >= 0 {
			clear(k[l.SlotOffset : l.SlotOffset+8])
		}
		i, ok := at[string(k)]
		if !ok {
			i = len(out)
			at[string(k)] = i
			out = append(out, Hist{Key: k, Slots: make([]uint64, l.Slots)})
		}
		out[i].Slots[s] += row.Value.Count
		out[i].Count += row.Value.Count
	}
	sort.Slice(out, func(i, j int) bool { return bytes.Compare(out[i].Key, out[j].Key) < 0 })
	return out
}

// AggDrops returns the drops counters of sink s (compile.AggDrop*), summed
// over CPUs. It fails when the session has no such map.
func AggDrops(sess *bpf.Session, s *compile.AggSink) ([]uint64, error) {
	return sess.PerCPUSums(s.DropsMap())
}
