package compile

import (
	"strconv"
	"strings"

	"github.com/cilium/ebpf/asm"
	ebtf "github.com/cilium/ebpf/btf"

	"github.com/btool/btool/specparse"
)

// This file is the contract between the phases of `btool trace`:
//
//	multitool resolves a parsed probe to a ProbeContext (how each argument
//	is fetched in the chosen attach Mode) → CheckTrace types the probe's
//	filter and arguments against it → CompileTrace generates the program
//	and the EventLayout of the records it emits → multitool attaches the
//	program, reads the ring buffer and decodes records with the layout.

// ArgKind says how a probe argument is fetched from the program's context.
type ArgKind uint8

// The ways an argument is fetched.
const (
	// ArgCtx is a Size-byte load at ctx+Off: fentry/fexit argument slots,
	// pt_regs registers of kprobes and uprobes, tracepoint fields.
	ArgCtx ArgKind = iota + 1
	// ArgRegsIndirect is a syscall argument seen from a syscall wrapper
	// (__x64_sys_*): regs := *(u64 *)(ctx+Off) is the user's struct
	// pt_regs, and the value is the 8 bytes at regs+Off2, read with
	// bpf_probe_read_kernel.
	ArgRegsIndirect
	// ArgMem is a USDT memory operand: the address is *(u64 *)(ctx+Off)
	// (a pt_regs register) plus Disp, read with bpf_probe_read_user.
	ArgMem
	// ArgConst is a USDT constant operand: the value is Const.
	ArgConst
	// ArgDataLoc is a tracepoint __data_loc field: a u32 at ctx+Off whose
	// low 16 bits are the offset of the data from ctx and high 16 bits its
	// length. Its Type is the element array (char[] for strings).
	ArgDataLoc
	// ArgGoString is a Go string passed in two registers under Go's
	// ABIInternal: the data pointer at ctx+Off and the length at ctx+Off2
	// (pt_regs offsets). It is a string of exactly that length, read from
	// user memory; Go strings have no terminating NUL.
	ArgGoString
	// ArgUnavailable is a parameter the probe cannot read: passed on the
	// stack, in SSE registers (floats), or split over registers that are
	// not contiguous in pt_regs. Reason says which; the checker reports it
	// when the argument is used. Its place keeps later arguments' numbers.
	ArgUnavailable
)

// Arg is one value a probe can read: argN, retval, a named parameter or a
// tracepoint field.
type Arg struct {
	Name   string    // parameter or field name; "" if unnamed
	Type   ebtf.Type // C type; nil means unknown: an integer of Size bytes
	Kind   ArgKind
	Off    int16 // see ArgKind
	Off2   int16 // ArgRegsIndirect: offset in the inner pt_regs
	Disp   int32 // ArgMem: displacement added to the register
	Const  int64 // ArgConst: the value
	Size   int   // bytes of the raw value: 1, 2, 4 or 8
	Signed bool  // the raw value is signed (sign-extend when widening)
	// User says a pointer in this argument points to user memory: uprobe
	// and USDT arguments, syscall arguments, __user parameters.
	User bool
	// Reason says why an ArgUnavailable argument can't be read ("passed
	// on the stack", ...).
	Reason string
}

// ProbeContext describes what a program attached in Mode sees. It is built
// by multitool from BTF, DWARF, tracefs formats or USDT notes, and is all
// the checker and code generator know about the probe point.
type ProbeContext struct {
	Mode   Mode
	Return bool  // a return probe (kretprobe, fexit, uretprobe): retval is valid
	Args   []Arg // arg1..argN in order; named parameters are found by Name
	// Fields are a tracepoint's format fields (args->field); nil for other
	// probes.
	Fields []Arg
	Ret    *Arg // retval in return probes; nil otherwise
	// Regs says ctx is a struct pt_regs (kprobes, uprobes): ctx->di etc.
	Regs bool
	// UserMemory says pointers read from this probe's arguments point to
	// user memory by default (uprobes, USDT, syscall tracepoints).
	UserMemory bool
	// Types resolves type names in casts ("struct file", "u64"). nil means
	// only C builtin types are known.
	Types TypeSource
	// Kernel resolves kernel type names for $task (struct task_struct); nil
	// when the kernel has no BTF.
	Kernel TypeSource
}

// TypeSource resolves type names for casts. *btf.Kernel and
// *dwarfinfo.Binary satisfy it. A TypeSource that also implements
// EnumValue(name string) (int64, bool) lets expressions name enumerators.
type TypeSource interface {
	Type(name string) (ebtf.Type, error)
}

// CheckOptions tune CheckTrace.
type CheckOptions struct {
	StringSize int // bytes captured for %s arguments (-Z); 0 means 80
}

// FieldKind is how a record field is decoded.
type FieldKind uint8

// The field kinds of an event record.
const (
	FieldInt  FieldKind = iota + 1 // signed integer, little endian, Size bytes
	FieldUint                      // unsigned integer
	FieldStr                       // NUL-terminated string in Size-1 bytes, then a status byte (StrOK, StrTruncated, StrFault, StrNull)
	FieldChar                      // one byte
	FieldAddr                      // u64 address, printed as %p, %K (kernel symbol) or %U (user symbol)
)

// The status byte that ends a FieldStr.
const (
	StrOK        = 0 // the whole string was read
	StrTruncated = 1 // the string did not fit: the bytes are its start
	StrFault     = 2 // the read failed (page not present, bad address): no bytes
	StrNull      = 3 // the pointer was NULL: no bytes
)

// FieldLayout places one printf argument in an event record.
type FieldLayout struct {
	Offset int // from the start of the record
	Size   int // bytes; for FieldStr the buffer size including the status byte
	Kind   FieldKind
	Verb   specparse.Verb // the printf verb the argument belongs to
	Expr   string         // the argument's source text, for JSON field names
}

// The fixed header every trace record starts with. All integers are little
// endian.
const (
	HdrTimestamp = 0  // u64 bpf_ktime_get_ns()
	HdrPidTgid   = 8  // u64 bpf_get_current_pid_tgid(): tgid<<32 | tid
	HdrCPU       = 16 // u32 bpf_get_smp_processor_id()
	HdrProbe     = 20 // u32 probe index (the order of the specs on the command line)
	HdrTarget    = 24 // u64 index of the attach target within the probe (FUNC column of wildcard probes): from the cookie, an immediate, or 0
	HdrComm      = 32 // char[16] bpf_get_current_comm()
	HdrKStack    = 48 // s32 kernel stack id in the "stacks" map, or -errno, or -1 when not collected
	HdrUStack    = 52 // s32 user stack id, likewise
	HdrUID       = 56 // u32 uid (low half of bpf_get_current_uid_gid)
	HdrSize      = 64 // the first FieldLayout starts here (8-byte aligned)
)

// EventLayout is the layout of the records one probe's program emits.
type EventLayout struct {
	Size   int           // total record size
	Fields []FieldLayout // one per printf argument, in order
}

// Map names the trace programs reference.
const (
	MapEvents  = "events"  // BPF_MAP_TYPE_RINGBUF (5.8+), else a PERF_EVENT_ARRAY
	MapLost    = "lost"    // per-CPU array of one u64: ring-buffer reserve failures
	MapStacks  = "stacks"  // BPF_MAP_TYPE_STACK_TRACE for -K/-U
	MapScratch = "scratch" // per-CPU array of one record, where perf-buffer records are built
)

// The phase functions, implemented in check.go and compile_trace.go:
//
//	// CheckTrace types p's filter and printf arguments against pc. Every
//	// error is a *specparse.Error at the offending node, collected into a
//	// specparse.ErrorList; unknown names suggest the closest ones.
//	func CheckTrace(p *specparse.Probe, pc *ProbeContext, o CheckOptions) (*CheckedTrace, error)
//
//	// Compile (program.go) with a RecordSink generates the program for
//	// one attach of ct: filters, predicate, then one record per event in
//	// the ring buffer (or perf buffer), laid out as ct.Layout(). Maps are
//	// referenced by the Map* names; Assemble builds them per mode.

// SpecPart names the part of a probe spec some instructions were generated
// from: the filter, one printf argument, or fixed code (the record header,
// the submit). It is the instructions' source in dumps, and FailedPart
// maps a verifier rejection back to it.
type SpecPart struct {
	Label    string // "filter: arg3 > 20000", "arg 1: count", "record header"
	Pos, End specparse.Pos
	HasSpan  bool // Pos and End locate the part in the spec
}

func (p SpecPart) String() string { return p.Label }

func partOf(label string, e specparse.Expr) SpecPart {
	if e == nil {
		return SpecPart{Label: label}
	}
	return SpecPart{Label: label + ": " + specparse.ExprString(e), Pos: e.Pos(), End: e.End(), HasSpan: true}
}

// FailedPart returns the part of the spec whose code the verifier rejected:
// the last instruction index the verifier log mentions, mapped to the
// nearest SpecPart at or before it in insns (the program that failed to
// load). ok is false when the log names no instruction.
func FailedPart(insns asm.Instructions, log []string) (SpecPart, bool) {
	idx := -1
	for i := len(log) - 1; i >= 0 && idx < 0; i-- {
		line := strings.TrimSpace(log[i])
		if n := strings.IndexByte(line, ':'); n > 0 {
			if v, err := strconv.Atoi(line[:n]); err == nil {
				idx = v
			}
		}
	}
	if idx < 0 {
		return SpecPart{}, false
	}
	var part SpecPart
	found := false
	iter := insns.Iterate()
	for iter.Next() && int(iter.Offset) <= idx {
		if sp, ok := iter.Ins.Source().(SpecPart); ok {
			part, found = sp, true
		}
	}
	return part, found
}
