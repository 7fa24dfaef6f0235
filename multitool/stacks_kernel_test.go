package multitool

import (
	"encoding/binary"
	"sort"
	"testing"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/btool/btool/bpf/compile"
	"github.com/btool/btool/internal/testutil"
)

// TestKernelStackReaderIntervals drives a stackReader over a real per-CPU
// hash laid out as stackcount's sink, with a fake stacks map, through
// intervals: each read returns only the events since the last (counts
// never lost, never repeated); ids no key used during an interval are
// deleted from the stacks map after it, ids in use are kept; an id
// deleted while an event was taking it still reads from the copy; failed
// ids are losses by reason, not samples.
func TestKernelStackReaderIntervals(t *testing.T) {
	testutil.RequireRoot(t)
	sink := stackSink("sc", stackKeys{Kernel: true, User: true}, compile.AggCount, nil)
	l := sink.Layout()
	ncpu, err := ebpf.PossibleCPU()
	if err != nil {
		t.Fatal(err)
	}
	m, err := ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.PerCPUHash, KeySize: uint32(l.KeySize), ValueSize: uint32(l.ValueSize), MaxEntries: 64})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	stacks := map[int32][]uint64{1: {0x10, 0x11}, 2: {0x20}, 3: {0x30}}
	var deleted []int32
	r := &stackReader{sink: sink, agg: NewAggReader(m, l), l: l, keys: stackKeys{Kernel: true, User: true},
		addrs: func(id int32) []uint64 { return stacks[id] },
		del: func(id int32) error {
			deleted = append(deleted, id)
			delete(stacks, id)
			return nil
		},
		cache: map[int32][]uint64{}, live: map[int32]bool{}, lost: stackLoss{}}
	put := func(tgid uint32, kid, uid int32, total uint64) {
		k := make([]byte, l.KeySize)
		for _, f := range l.Key {
			switch f.Part {
			case compile.KeyTgid:
				binary.LittleEndian.PutUint32(k[f.Offset:], tgid)
			case compile.KeyKernelStack:
				binary.LittleEndian.PutUint32(k[f.Offset:], uint32(kid))
			case compile.KeyUserStack:
				binary.LittleEndian.PutUint32(k[f.Offset:], uint32(uid))
			}
		}
		vals := make([]uint64, ncpu)
		vals[0] = total
		if err := m.Put(k, vals); err != nil {
			t.Fatal(err)
		}
	}
	read := func(clear bool) map[int32]uint64 { // by kernel id
		t.Helper()
		ss, err := r.read(clear)
		if err != nil {
			t.Fatal(err)
		}
		out := map[int32]uint64{}
		for _, s := range ss {
			out[s.KernelID] += s.Value
			if len(s.Kernel) == 0 {
				t.Errorf("sample %+v without kernel frames", s)
			}
		}
		return out
	}
	efault := -int32(unix.EFAULT)
	put(7, 1, 3, 5)
	put(8, 2, efault, 2) // a kernel thread: no user stack, still a sample
	put(9, -int32(unix.EEXIST), 3, 4)
	if got := read(true); got[1] != 5 || got[2] != 2 || len(got) != 2 {
		t.Fatalf("interval 1: %v", got)
	}
	if len(deleted) != 0 {
		t.Fatalf("deleted %v after the first interval", deleted)
	}
	if n := r.lost["kernel stack lost: stack map hash collision"]; n != 4 {
		t.Errorf("collision losses %d, want 4: %v", n, r.lost)
	}
	put(7, 1, 3, 8) // +3; id 2 idle this interval
	if got := read(true); got[1] != 3 || len(got) != 1 {
		t.Fatalf("interval 2: %v", got)
	}
	sort.Slice(deleted, func(i, j int) bool { return deleted[i] < deleted[j] })
	if len(deleted) != 1 || deleted[0] != 2 {
		t.Fatalf("deleted %v after interval 2, want [2] (ids 1 and 3 in use)", deleted)
	}
	// An event took id 2 just before its delete: its frames come from the
	// copy.
	put(8, 2, efault, 3)
	if got := read(false); got[2] != 1 || len(got) != 1 {
		t.Fatalf("interval 3: %v", got)
	}
	if len(r.lost) != 1 {
		t.Errorf("losses %v", r.lost)
	}
}
