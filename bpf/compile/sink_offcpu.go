package compile

import (
	"fmt"
	"math"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
)

// OffCPUSink times how long threads are off CPU, per stack: the sink of
// offcputime, for a program on the scheduler's context switch
// (sched:sched_switch), where the current task is the one leaving the CPU
// and NextPID names the one coming on.
//
// At each switch, two things happen, in this order:
//
//   - on: the thread NextPID comes back on CPU. Its record (taken when it
//     left) is looked up and deleted; the time since, in microseconds, is
//     added (AggSum) to the Agg key the record holds, when it lies within
//     [MinUs, MaxUs]. Thread 0 (the idle task) is skipped.
//   - off: the current thread leaves the CPU. Unless it is thread 0, or
//     PID is set and it belongs to another process, its Agg key (tgid,
//     comm, kernel and user stack ids: its stacks as it blocks) and the
//     time are recorded under its thread id, replacing an older record.
//
// Doing "on" first lets a test run the program twice on one thread (off,
// then on). The process filter is the sink's, not the prologue's: a
// prologue filter on the current task would also skip the "on" half of
// the switches where a task of another process leaves the CPU; so build
// the program without a PID filter.
//
// Maps:
//
//	Agg's maps   the sums (Agg.Map, its drops, "stacks")
//	Start        BPF_MAP_TYPE_LRU_HASH (4.10) of MaxEntries: u32 thread
//	             id -> the Agg key, then the u64 ktime_get_ns when it left.
//	             LRU: threads that exit while off CPU leave records that
//	             newer ones push out.
//
// Per switch: two hash operations per half (lookup and delete; update),
// bpf_get_current_comm, two bpf_get_stackid, ktime_get_ns twice.
//
// Kernel: LRU hashes 4.10, bpf_get_stackid 4.6, plus the mode's needs.
type OffCPUSink struct {
	// Agg is where the times go: Agg AggSum with no Value (the sink
	// supplies it), keyed by KeyTgid, KeyComm, KeyKernelStack and
	// KeyUserStack parts only (any of them).
	Agg        *AggSink
	Start      string // the records' map; "" means "offcpu_start"
	NextPID    *Value // the thread id of the task coming on CPU: args->next_pid of sched_switch
	PID        uint32 // record only threads of this process (tgid); 0 for all
	MinUs      uint64 // skip blocks shorter than this many microseconds
	MaxUs      uint64 // skip blocks longer than this; 0 for no bound
	MaxEntries uint32 // records; 0 means DefaultOffCPUEntries
}

// DefaultOffCPUEntries is the size of OffCPUSink's records map: threads
// off CPU at once.
const DefaultOffCPUEntries = 32768

func (s *OffCPUSink) start() string {
	if s.Start == "" {
		return "offcpu_start"
	}
	return s.Start
}

// Maps declares Agg's maps and the records map.
func (s *OffCPUSink) Maps() []*ebpf.MapSpec {
	n := s.MaxEntries
	if n == 0 {
		n = DefaultOffCPUEntries
	}
	l := s.Agg.Layout()
	return append(s.Agg.Maps(), &ebpf.MapSpec{Name: s.start(), Type: ebpf.LRUHash, KeySize: 4, ValueSize: uint32(l.KeySize + 8), MaxEntries: n})
}

func (s *OffCPUSink) check() error {
	if s.Agg == nil || s.Agg.Agg != AggSum || s.Agg.Value != nil {
		return fmt.Errorf("off-CPU sink: needs an AggSum sink without a value")
	}
	for _, p := range s.Agg.Key {
		switch p.Kind {
		case KeyTgid, KeyComm, KeyKernelStack, KeyUserStack:
		default:
			return fmt.Errorf("off-CPU sink: key part %s is not recorded per thread", p.Kind)
		}
	}
	if s.NextPID == nil || s.NextPID.node == nil || s.NextPID.Kind == FieldStr {
		return fmt.Errorf("off-CPU sink: needs the integer thread id of the task coming on CPU")
	}
	if s.MaxUs != 0 && s.MaxUs < s.MinUs {
		return fmt.Errorf("off-CPU sink: maximum %d us below minimum %d us", s.MaxUs, s.MinUs)
	}
	return nil
}

func (s *OffCPUSink) gen(g *codegen, b *Build) error {
	if err := s.check(); err != nil {
		return err
	}
	l := s.Agg.Layout()
	rec := g.alloc(l.KeySize + 8) // the Agg key, then the timestamp
	tid := g.alloc(8)
	init := g.alloc(16)
	x := g.alloc(8)
	defer g.free(l.KeySize + 8 + 8 + 16 + 8)
	off := g.newLabel()

	// On: the next thread's record, if any.
	g.mark(SpecPart{Label: "on: the thread coming on CPU"})
	r, _ := g.allocReg()
	g.value(s.NextPID.node, r)
	g.emit(
		asm.JEq.Imm32(r, 0, off),
		asm.StoreMem(asm.RFP, tid, r, asm.Word),
	)
	g.freeReg(r)
	g.emit(
		asm.LoadMapPtr(asm.R1, 0).WithReference(s.start()),
		asm.Mov.Reg(asm.R2, asm.RFP),
		asm.Add.Imm(asm.R2, int32(tid)),
		asm.FnMapLookupElem.Call(),
		asm.JEq.Imm(asm.R0, 0, off),
	)
	// Copy the record out before deleting it.
	for o := 0; o < l.KeySize+8; o += 8 {
		g.emit(
			asm.LoadMem(asm.R1, asm.R0, int16(o), asm.DWord),
			asm.StoreMem(asm.RFP, rec+int16(o), asm.R1, asm.DWord),
		)
	}
	g.emit(
		asm.LoadMapPtr(asm.R1, 0).WithReference(s.start()),
		asm.Mov.Reg(asm.R2, asm.RFP),
		asm.Add.Imm(asm.R2, int32(tid)),
		asm.FnMapDeleteElem.Call(),
		asm.FnKtimeGetNs.Call(),
		asm.LoadMem(asm.R1, asm.RFP, rec+int16(l.KeySize), asm.DWord),
		asm.Sub.Reg(asm.R0, asm.R1),
		asm.Div.Imm(asm.R0, 1000),
	)
	if s.MinUs > 0 {
		g.loadConst(asm.R1, s.MinUs)
		g.emit(asm.JLT.Reg(asm.R0, asm.R1, off))
	}
	if s.MaxUs > 0 && s.MaxUs < math.MaxInt64 {
		g.loadConst(asm.R1, s.MaxUs)
		g.emit(asm.JGT.Reg(asm.R0, asm.R1, off))
	}
	g.emit(
		asm.StoreMem(asm.RFP, x, asm.R0, asm.DWord),
		asm.Mov.Reg(asm.R7, asm.RFP),
		asm.Add.Imm(asm.R7, int32(rec)),
	)
	g.mark(SpecPart{Label: "on: add the time off CPU"})
	s.Agg.genUpdate(g, l, x, init)

	// Off: the current thread's record.
	g.bind(off)
	g.mark(SpecPart{Label: "off: the thread leaving the CPU"})
	g.pidTgidSave()
	g.emit(
		asm.StoreMem(asm.RFP, tid, asm.R0, asm.Word),
		asm.Mov.Reg32(asm.R1, asm.R0), // the thread id
		asm.JEq.Imm(asm.R1, 0, "exit"),
	)
	if s.PID != 0 {
		g.emit(
			asm.RSh.Imm(asm.R0, 32),
			asm.JNE.Imm32(asm.R0, int32(s.PID), "exit"),
		)
	}
	// genKey zeroes the padding only when the layout has holes; the
	// record's timestamp slot is written below.
	s.Agg.genKey(g, b, l, rec)
	g.emit(
		asm.FnKtimeGetNs.Call(),
		asm.StoreMem(asm.RFP, rec+int16(l.KeySize), asm.R0, asm.DWord),
		asm.LoadMapPtr(asm.R1, 0).WithReference(s.start()),
		asm.Mov.Reg(asm.R2, asm.RFP),
		asm.Add.Imm(asm.R2, int32(tid)),
		asm.Mov.Reg(asm.R3, asm.RFP),
		asm.Add.Imm(asm.R3, int32(rec)),
		asm.Mov.Imm(asm.R4, 0), // BPF_ANY
		asm.FnMapUpdateElem.Call(),
	)
	return nil
}
