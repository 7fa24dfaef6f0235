package multitool

import (
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/cilium/ebpf"

	"github.com/btool/btool/bpf/compile"
	"github.com/btool/btool/internal/testutil"
)

// TestKernelAggReader fills a log2 sink's per-CPU hash from user space and
// checks what Read returns: merged over CPUs, differences between reads
// (keys that did not change left out), totals when cumulative, through
// the batch path and the one-key-at-a-time path.
func TestKernelAggReader(t *testing.T) {
	testutil.RequireRoot(t)
	sink := &compile.AggSink{Agg: compile.AggLog2, Key: []compile.KeyPart{{Kind: compile.KeyTgid}}, Value: nil}
	l := sink.Layout()
	if l.SlotOffset < 0 {
		t.Fatalf("layout %+v has no slot", l)
	}
	ncpu, err := ebpf.PossibleCPU()
	if err != nil {
		t.Fatal(err)
	}
	for _, batch := range []bool{true, false} {
		t.Run(fmt.Sprintf("batch=%v", batch), func(t *testing.T) {
			m, err := ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.PerCPUHash, KeySize: uint32(l.KeySize), ValueSize: uint32(l.ValueSize), MaxEntries: 64})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			key := func(tgid uint32, slot uint64) []byte {
				k := make([]byte, l.KeySize)
				binary.LittleEndian.PutUint32(k[l.Key[0].Offset:], tgid)
				binary.LittleEndian.PutUint64(k[l.SlotOffset:], slot)
				return k
			}
			// put stores total events for a key, spread over two CPUs
			// where there are two (the VMs may have one).
			put := func(tgid uint32, slot uint64, total uint64) {
				vals := make([]uint64, ncpu)
				vals[0] = total
				if ncpu > 1 && total > 1 {
					vals[0], vals[1] = total-1, 1
				}
				if err := m.Put(key(tgid, slot), vals); err != nil {
					t.Fatal(err)
				}
			}
			r := NewAggReader(m, l)
			r.batch = batch
			put(7, 3, 3) // 3 events of tgid 7 in slot 3
			put(7, 5, 4)
			put(9, 1, 1)
			read := func(cum bool) string {
				rows, err := r.Read(cum)
				if err != nil {
					t.Fatal(err)
				}
				var s string
				for _, h := range GroupHists(l, rows) {
					s += fmt.Sprintf("%d:", l.Key[0].Uint(h.Key))
					for i, n := range h.Slots {
						if n != 0 {
							s += fmt.Sprintf(" %d=%d", i, n)
						}
					}
					s += fmt.Sprintf(" (%d); ", h.Count)
				}
				return s
			}
			if got, want := read(false), "7: 3=3 5=4 (7); 9: 1=1 (1); "; got != want {
				t.Errorf("first read %q, want %q", got, want)
			}
			put(7, 3, 6) // +3
			if got, want := read(false), "7: 3=3 (3); "; got != want {
				t.Errorf("second read %q, want %q", got, want)
			}
			if got, want := read(false), ""; got != want {
				t.Errorf("unchanged read %q, want %q", got, want)
			}
			if got, want := read(true), "7: 3=6 5=4 (10); 9: 1=1 (1); "; got != want {
				t.Errorf("cumulative read %q, want %q", got, want)
			}
			if batch && !r.batch {
				t.Error("BPF_MAP_LOOKUP_BATCH was not used on a kernel that has it")
			}
		})
	}
}
