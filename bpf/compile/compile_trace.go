package compile

import (
	"fmt"

	"github.com/cilium/ebpf/asm"
)

// bpfFUserStack is BPF_F_USER_STACK for bpf_get_stackid.
const bpfFUserStack = 1 << 8

// maxRecordSize bounds the record so every field offset fits a 16-bit
// instruction offset.
const maxRecordSize = 32 * 1024

// CompileTrace generates the program for one attach of ct:
//
//  1. the -p/-L/self and --uid filters (bpf_get_current_pid_tgid,
//     bpf_get_current_uid_gid), then the predicate; an event that fails
//     any of them exits before touching the buffer;
//  2. a record of layout.Size bytes reserved in the MapEvents ring buffer
//     (5.8), or with o.PerfBuffer taken from the per-CPU MapScratch array;
//  3. the header (Hdr* offsets), then each printf argument into its field;
//  4. bpf_ringbuf_submit, or bpf_perf_event_output to the MapEvents perf
//     event array. A failed reserve or output increments MapLost[0].
//
// Maps are referenced by the Map* names (MapStacks only with -K/-U); the
// caller associates them. R6 holds ctx throughout, R7 the record. Every
// path that reserved a record submits it: failed reads store 0 or an empty
// string instead of abandoning the record.
//
// On fentry/fexit, the verifier types struct pointer arguments (they are
// PTR_TO_BTF_ID), so only member access, +/- and comparisons work on them;
// casts to 32-bit types and bitwise or multiplicative arithmetic on such a
// pointer are rejected at load time.
//
// Kernel requirements beyond the program type: JMP32 (5.1),
// bpf_probe_read_{kernel,user}{,_str} (5.5), the ring buffer (5.8) unless
// o.PerfBuffer, bpf_get_attach_cookie (5.15) with TargetCookie.
// It fails when the expressions need more than the 512-byte BPF stack
// (wrapping ErrTooComplex).
func CompileTrace(ct *CheckedTrace, o TraceOptions) (asm.Instructions, *EventLayout, error) {
	if ct == nil {
		return nil, nil, fmt.Errorf("compile trace: nil probe")
	}
	layout := ct.Layout()
	if layout.Size > maxRecordSize {
		return nil, nil, fmt.Errorf("trace record of %d bytes is larger than %d: %w", layout.Size, maxRecordSize, ErrTooComplex)
	}
	g := newCodegen(ct.StringSize)
	// The first instruction needs a source too: with any source set,
	// cilium/ebpf emits BTF line info, which must start at instruction 0.
	g.mark(SpecPart{Label: "prologue: pid, uid and syscall filters"})
	g.emit(asm.Mov.Reg(asm.R6, asm.R1))

	// raw_syscalls: one program on sys_enter/sys_exit sees every syscall.
	if o.Syscall != 0 {
		nr := int32(o.Syscall - 1)
		if o.SyscallExit {
			// args[0] is the task's pt_regs; the number is regs->orig_ax.
			g.emit(
				asm.LoadMem(asm.R3, asm.R6, 0, asm.DWord),
				asm.Add.Imm(asm.R3, ptRegsOrigAX),
				asm.Mov.Reg(asm.R1, asm.RFP),
				asm.Add.Imm(asm.R1, stackScratch),
				asm.Mov.Imm(asm.R2, 8),
				asm.FnProbeReadKernel.Call(),
				asm.JNE.Imm(asm.R0, 0, "exit"),
				asm.LoadMem(asm.R0, asm.RFP, stackScratch, asm.DWord),
			)
		} else {
			g.emit(asm.LoadMem(asm.R0, asm.R6, 8, asm.DWord)) // args[1] = id
		}
		g.emit(asm.JNE.Imm(asm.R0, nr, "exit"))
	}

	// Filters.
	havePidTgid := o.PID != 0 || o.TID != 0 || o.SkipTGID != 0
	if havePidTgid {
		g.emit(
			asm.FnGetCurrentPidTgid.Call(),
			asm.StoreMem(asm.RFP, stackPidTgid, asm.R0, asm.DWord),
		)
		if o.TID != 0 {
			g.emit(asm.JNE.Imm32(asm.R0, int32(o.TID), "exit"))
		}
		if o.PID != 0 || o.SkipTGID != 0 {
			g.emit(asm.RSh.Imm(asm.R0, 32))
			if o.PID != 0 {
				g.emit(asm.JNE.Imm32(asm.R0, int32(o.PID), "exit"))
			}
			if o.SkipTGID != 0 {
				g.emit(asm.JEq.Imm32(asm.R0, int32(o.SkipTGID), "exit"))
			}
		}
	}
	haveUidGid := o.UID >= 0
	if haveUidGid {
		g.emit(
			asm.FnGetCurrentUidGid.Call(),
			asm.StoreMem(asm.RFP, stackUidGid, asm.R0, asm.DWord),
			asm.JNE.Imm32(asm.R0, int32(uint32(o.UID)), "exit"),
		)
	}

	// Predicate.
	if ct.filter != nil {
		if v, ok := isConst(ct.filter); ok {
			if v == 0 {
				// Never true: a program that does nothing.
				return asm.Instructions{asm.Mov.Imm(asm.R0, 0), asm.Return()}, layout, nil
			}
		} else {
			g.mark(partOf("filter", ct.Probe.Filter))
			r, _ := g.allocReg()
			g.branch(ct.filter, "exit", false, r)
			g.freeReg(r)
		}
	}

	// The record.
	g.mark(SpecPart{Label: "record header"})
	size := int32(layout.Size)
	if o.PerfBuffer {
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
	if havePidTgid {
		g.emit(asm.LoadMem(asm.R0, asm.RFP, stackPidTgid, asm.DWord))
	} else {
		g.emit(asm.FnGetCurrentPidTgid.Call())
	}
	g.emit(
		asm.StoreMem(asm.R7, HdrPidTgid, asm.R0, asm.DWord),
		asm.FnGetSmpProcessorId.Call(),
		asm.StoreMem(asm.R7, HdrCPU, asm.R0, asm.Word),
		asm.StoreImm(asm.R7, HdrProbe, int64(int32(o.ProbeIndex)), asm.Word),
	)
	switch o.TargetFrom {
	case TargetCookie:
		g.emit(
			asm.Mov.Reg(asm.R1, asm.R6),
			asm.FnGetAttachCookie.Call(),
			asm.StoreMem(asm.R7, HdrTarget, asm.R0, asm.DWord),
		)
	default:
		g.emit(
			asm.StoreImm(asm.R7, HdrTarget, int64(int32(o.Target)), asm.Word),
			asm.StoreImm(asm.R7, HdrTarget+4, 0, asm.Word),
		)
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
	}{{o.KernelStack, HdrKStack, 0}, {o.UserStack, HdrUStack, bpfFUserStack}} {
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
	if haveUidGid {
		g.emit(asm.LoadMem(asm.R0, asm.RFP, stackUidGid, asm.DWord))
	} else {
		g.emit(asm.FnGetCurrentUidGid.Call())
	}
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
	if o.PerfBuffer {
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
	g.bind("exit")
	g.emit(asm.Mov.Imm(asm.R0, 0), asm.Return())

	// Lost records: MapLost[0]++ (per CPU, so no atomics needed).
	g.bind("count_lost")
	g.mark(SpecPart{Label: "count a lost record"})
	g.emit(
		asm.StoreImm(asm.RFP, stackKey, 0, asm.Word),
		asm.LoadMapPtr(asm.R1, 0).WithReference(MapLost),
		asm.Mov.Reg(asm.R2, asm.RFP),
		asm.Add.Imm(asm.R2, stackKey),
		asm.FnMapLookupElem.Call(),
		asm.JEq.Imm(asm.R0, 0, "exit"),
		asm.LoadMem(asm.R1, asm.R0, 0, asm.DWord),
		asm.Add.Imm(asm.R1, 1),
		asm.StoreMem(asm.R0, 0, asm.R1, asm.DWord),
		asm.Ja.Label("exit"),
	)
	insns, err := g.finish()
	if err != nil {
		return nil, nil, err
	}
	return insns, layout, nil
}
