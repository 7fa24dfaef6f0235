package compile

import (
	"fmt"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
)

// bpfFUserStack is BPF_F_USER_STACK for bpf_get_stackid.
const bpfFUserStack = 1 << 8

// maxRecordSize bounds the record so every field offset fits a 16-bit
// instruction offset.
const maxRecordSize = 32 * 1024

// RecordSink writes one record per event, laid out as its EventLayout,
// into the MapEvents ring buffer (5.8), or with PerfBuffer into a
// PERF_EVENT_ARRAY through the per-CPU MapScratch array (older kernels):
// the Hdr* header, then each printf argument of Build.Checked into its
// field. A failed reserve or output increments MapLost[0]. Every path that
// reserved a record submits it: failed reads store 0 or an empty string
// instead of abandoning the record. It is trace's sink.
type RecordSink struct {
	ProbeIndex  uint32 // written to HdrProbe
	KernelStack bool   // -K: bpf_get_stackid into MapStacks for HdrKStack
	UserStack   bool   // -U: likewise, BPF_F_USER_STACK, for HdrUStack
	PerfBuffer  bool   // bpf_perf_event_output (kernels < 5.8) instead of the ring buffer
	RingBytes   uint32 // ring buffer size (a power of two multiple of the page size); 0 means DefaultRingBytes
	RecordSize  int    // the largest record of the session, for MapScratch; 0 means this probe's
}

// DefaultRingBytes is the ring buffer size when RecordSink.RingBytes is 0:
// 4 MiB.
const DefaultRingBytes = 4 << 20

// Maps declares the events, lost and, as needed, stacks and scratch maps.
func (s *RecordSink) Maps() []*ebpf.MapSpec {
	var maps []*ebpf.MapSpec
	if s.PerfBuffer {
		maps = append(maps, &ebpf.MapSpec{Name: MapEvents, Type: ebpf.PerfEventArray})
		size := s.RecordSize
		if size < 8 {
			size = 8
		}
		maps = append(maps, &ebpf.MapSpec{Name: MapScratch, Type: ebpf.PerCPUArray, KeySize: 4, ValueSize: uint32(size), MaxEntries: 1})
	} else {
		ring := s.RingBytes
		if ring == 0 {
			ring = DefaultRingBytes
		}
		maps = append(maps, &ebpf.MapSpec{Name: MapEvents, Type: ebpf.RingBuf, MaxEntries: ring})
	}
	maps = append(maps, &ebpf.MapSpec{Name: MapLost, Type: ebpf.PerCPUArray, KeySize: 4, ValueSize: 8, MaxEntries: 1})
	if s.KernelStack || s.UserStack {
		maps = append(maps, StackMapSpec())
	}
	return maps
}

// StackMapSpec is the MapStacks stack trace map: 16384 stacks of up to
// 127 frames.
func StackMapSpec() *ebpf.MapSpec {
	return &ebpf.MapSpec{Name: MapStacks, Type: ebpf.StackTrace, KeySize: 4, ValueSize: 127 * 8, MaxEntries: 16384}
}

func (s *RecordSink) gen(g *codegen, b *Build) error {
	ct := b.Checked
	if ct == nil {
		return fmt.Errorf("record sink: no checked probe")
	}
	layout := ct.Layout()
	if layout.Size > maxRecordSize {
		return fmt.Errorf("trace record of %d bytes is larger than %d: %w", layout.Size, maxRecordSize, ErrTooComplex)
	}
	g.mark(SpecPart{Label: "record header"})
	size := int32(layout.Size)
	if s.PerfBuffer {
		g.emit(
			asm.StoreImm(asm.RFP, stackKey, 0, asm.Word),
			asm.LoadMapPtr(asm.R1, 0).WithReference(MapScratch),
			asm.Mov.Reg(asm.R2, asm.RFP),
			asm.Add.Imm(asm.R2, stackKey),
			asm.FnMapLookupElem.Call(),
			asm.JEq.Imm(asm.R0, 0, "exit"),
		)
	} else {
		g.emit(
			asm.LoadMapPtr(asm.R1, 0).WithReference(MapEvents),
			asm.Mov.Imm(asm.R2, size),
			asm.Mov.Imm(asm.R3, 0),
			asm.FnRingbufReserve.Call(),
			asm.JEq.Imm(asm.R0, 0, "count_lost"),
		)
	}
	g.emit(asm.Mov.Reg(asm.R7, asm.R0))

	// Header.
	g.emit(
		asm.FnKtimeGetNs.Call(),
		asm.StoreMem(asm.R7, HdrTimestamp, asm.R0, asm.DWord),
	)
	g.pidTgid()
	g.emit(
		asm.StoreMem(asm.R7, HdrPidTgid, asm.R0, asm.DWord),
		asm.FnGetSmpProcessorId.Call(),
		asm.StoreMem(asm.R7, HdrCPU, asm.R0, asm.Word),
		asm.StoreImm(asm.R7, HdrProbe, int64(int32(s.ProbeIndex)), asm.Word),
	)
	if b.Index.From == IndexConst {
		g.emit(
			asm.StoreImm(asm.R7, HdrTarget, int64(int32(b.Index.Value)), asm.Word),
			asm.StoreImm(asm.R7, HdrTarget+4, 0, asm.Word),
		)
	} else {
		g.index(b.Index)
		g.emit(asm.StoreMem(asm.R7, HdrTarget, asm.R0, asm.DWord))
	}
	g.emit(
		asm.Mov.Reg(asm.R1, asm.R7),
		asm.Add.Imm(asm.R1, HdrComm),
		asm.Mov.Imm(asm.R2, 16),
		asm.FnGetCurrentComm.Call(),
	)
	for _, st := range []struct {
		want  bool
		off   int16
		flags int32
	}{{s.KernelStack, HdrKStack, 0}, {s.UserStack, HdrUStack, bpfFUserStack}} {
		if !st.want {
			g.emit(asm.StoreImm(asm.R7, st.off, -1, asm.Word))
			continue
		}
		g.emit(
			asm.Mov.Reg(asm.R1, asm.R6),
			asm.LoadMapPtr(asm.R2, 0).WithReference(MapStacks),
			asm.Mov.Imm(asm.R3, st.flags),
			asm.FnGetStackid.Call(),
			asm.StoreMem(asm.R7, st.off, asm.R0, asm.Word),
		)
	}
	g.uidGid()
	g.emit(
		asm.StoreMem(asm.R7, HdrUID, asm.R0, asm.Word),
		asm.StoreImm(asm.R7, HdrUID+4, 0, asm.Word),
	)

	// Fields.
	for i, f := range ct.fields {
		if i < len(ct.Probe.Args) {
			g.mark(partOf(fmt.Sprintf("arg %d", i+1), ct.Probe.Args[i]))
		}
		r, _ := g.allocReg()
		switch f.Kind {
		case FieldStr:
			g.storeString(f.str, f.Offset, r)
		case FieldChar:
			g.value(f.val, r)
			g.emit(asm.StoreMem(asm.R7, int16(f.Offset), r, asm.Byte))
		default:
			g.value(f.val, r)
			g.emit(asm.StoreMem(asm.R7, int16(f.Offset), r, asm.DWord))
		}
		g.freeReg(r)
	}

	// Output.
	g.mark(SpecPart{Label: "submit"})
	if s.PerfBuffer {
		g.emit(
			asm.Mov.Reg(asm.R1, asm.R6),
			asm.LoadMapPtr(asm.R2, 0).WithReference(MapEvents),
			asm.Mov.Imm32(asm.R3, -1), // BPF_F_CURRENT_CPU: 0xffffffff, zero-extended
			asm.Mov.Reg(asm.R4, asm.R7),
			asm.Mov.Imm(asm.R5, size),
			asm.FnPerfEventOutput.Call(),
			asm.JSLT.Imm(asm.R0, 0, "count_lost"),
		)
	} else {
		g.emit(
			asm.Mov.Reg(asm.R1, asm.R7),
			asm.Mov.Imm(asm.R2, 0),
			asm.FnRingbufSubmit.Call(),
		)
	}
	// Lost records: MapLost[0]++ (per CPU, so no atomics needed).
	g.tails = append(g.tails, func() {
		g.bind("count_lost")
		g.mark(SpecPart{Label: "count a lost record"})
		g.emit(asm.StoreImm(asm.RFP, stackKey, 0, asm.Word))
		g.incPerCPU(MapLost, stackKey, "exit")
		g.emit(asm.Ja.Label("exit"))
	})
	return nil
}
