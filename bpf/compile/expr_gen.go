package compile

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"

	"github.com/cilium/ebpf/asm"

	"github.com/btool/btool/specparse"
)

// This file generates BPF for the typed expression tree (expr_ir.go).
//
// Register use: R6 holds ctx and R7 the record for the whole program. R8
// and R9 are the expression register pool; values live across helper
// calls only there or in stack slots (spills), since calls clobber R0-R5.
// R0-R5 are used as scratch only within sequences that contain no call.
// Every value is kept in its register sign- or zero-extended from its C
// type, so 64-bit and 32-bit operations see the same number.
//
// Memory is read only through bpf_probe_read_{kernel,user}{,_str}; a failed
// read yields 0 (the helper's return value is checked) or an empty string.

// Stack frame layout (offsets from R10).
const (
	stackScratch = -8  // target of scalar probe reads (8 bytes)
	stackKey     = -16 // u32 map key
	stackPidTgid = -24 // pid_tgid saved by the filters for the header
	stackUidGid  = -32 // uid_gid saved by the filters for the header
	stackFixed   = 32  // bytes taken by the slots above
	stackLimit   = 512 // MAX_BPF_STACK
)

// codegen accumulates the instructions of one program.
type codegen struct {
	insns   asm.Instructions
	pending []string          // labels to put on the next instruction
	alias   map[string]string // label -> the label of the instruction it landed on
	labels  int
	inUse   [2]bool // R8, R9
	sp      int     // dynamic stack bytes in use below stackFixed
	maxSP   int
	ss      int // string size
	err     error
	source  fmt.Stringer // attached to the next emitted instruction (see mark)

	savedPidTgid bool     // the prologue saved pid_tgid at stackPidTgid
	savedUidGid  bool     // the prologue saved uid_gid at stackUidGid
	sleepable    bool     // a sleepable program: user string reads may fault pages in (see Build.Sleepable)
	tails        []func() // out-of-line blocks emitted after the exit (see Compile)
}

var pool = [2]asm.Register{asm.R8, asm.R9}

func newCodegen(ss int) *codegen {
	return &codegen{alias: map[string]string{}, ss: ss}
}

// mark makes src the source of the next emitted instruction: dumps show it
// as a comment, and a verifier rejection at or after that instruction is
// reported against it (see FailedPart).
func (g *codegen) mark(src fmt.Stringer) { g.source = src }

func (g *codegen) emit(insns ...asm.Instruction) {
	for _, ins := range insns {
		if g.source != nil {
			ins = ins.WithSource(g.source)
			g.source = nil
		}
		if len(g.pending) > 0 {
			ins = ins.WithSymbol(g.pending[0])
			for _, l := range g.pending[1:] {
				g.alias[l] = g.pending[0]
			}
			g.pending = g.pending[:0]
		}
		g.insns = append(g.insns, ins)
	}
}

// newLabel returns a fresh label name.
func (g *codegen) newLabel() string {
	g.labels++
	return fmt.Sprintf("L%d", g.labels)
}

// bind places label l on the next instruction emitted.
func (g *codegen) bind(l string) { g.pending = append(g.pending, l) }

// finish resolves label aliases and returns the program.
func (g *codegen) finish() (asm.Instructions, error) {
	if g.err != nil {
		return nil, g.err
	}
	if len(g.pending) > 0 {
		return nil, fmt.Errorf("internal error: labels %v at the end of the program", g.pending)
	}
	for i, ins := range g.insns {
		if ref := ins.Reference(); ref != "" && ins.OpCode.Class().IsJump() {
			if to, ok := g.alias[ref]; ok {
				g.insns[i] = ins.WithReference(to)
			}
		}
	}
	return g.insns, nil
}

// allocReg takes a free pool register.
func (g *codegen) allocReg() (asm.Register, bool) {
	for i, used := range g.inUse {
		if !used {
			g.inUse[i] = true
			return pool[i], true
		}
	}
	return 0, false
}

func (g *codegen) freeReg(r asm.Register) {
	for i, p := range pool {
		if p == r {
			g.inUse[i] = false
		}
	}
}

// alloc reserves n bytes (rounded up to 8) of stack and returns their
// offset from R10. Allocations are freed in reverse order.
func (g *codegen) alloc(n int) int16 {
	n = (n + 7) &^ 7
	g.sp += n
	g.maxSP = max(g.maxSP, g.sp)
	if stackFixed+g.sp > stackLimit && g.err == nil {
		g.err = fmt.Errorf("expressions need %d bytes of BPF stack, more than the %d available: %w", stackFixed+g.sp, stackLimit, ErrTooComplex)
	}
	return int16(-(stackFixed + g.sp))
}

func (g *codegen) free(n int) { g.sp -= (n + 7) &^ 7 }

// ErrTooComplex is returned (wrapped) when a probe's expressions do not fit
// the limits of a BPF program.
var ErrTooComplex = errors.New("expression too complex")

func fitsImm(v uint64) bool {
	return int64(v) >= math.MinInt32 && int64(v) <= math.MaxInt32
}

// loadConst sets dst to v.
func (g *codegen) loadConst(dst asm.Register, v uint64) {
	switch {
	case fitsImm(v):
		g.emit(asm.Mov.Imm(dst, int32(int64(v))))
	case v <= math.MaxUint32:
		g.emit(asm.Mov.Imm32(dst, int32(uint32(v)))) // zero-extends
	default:
		g.emit(asm.LoadImm(dst, int64(v), asm.DWord))
	}
}

func sizeOp(n int) asm.Size {
	switch n {
	case 1:
		return asm.Byte
	case 2:
		return asm.Half
	case 4:
		return asm.Word
	}
	return asm.DWord
}

// normalize truncates dst to t and extends it back to 64 bits.
func (g *codegen) normalize(dst asm.Register, t intType) {
	switch {
	case t.size >= 8:
	case t.signed:
		sh := int32(64 - t.bits())
		g.emit(asm.LSh.Imm(dst, sh), asm.ArSh.Imm(dst, sh))
	case t.size == 4:
		g.emit(asm.Mov.Reg32(dst, dst))
	default:
		g.emit(asm.And.Imm(dst, int32(1)<<t.bits()-1))
	}
}

// convert changes the value in dst from type from to type to.
func (g *codegen) convert(dst asm.Register, from, to intType) {
	if from == to || to.size >= 8 {
		return // a normalized value is already its 64-bit conversion
	}
	if from.size < to.size && (!from.signed || to.signed) {
		return // every value of from fits in to
	}
	g.normalize(dst, to)
}

// value generates code that leaves n's value in dst (a pool register the
// caller owns). It may use the other pool register and the stack.
func (g *codegen) value(n irNode, dst asm.Register) {
	switch n := n.(type) {
	case *irConst:
		g.loadConst(dst, n.v)
	case *irArg:
		g.arg(n, dst)
	case *irSpecial:
		g.special(n, dst)
	case *irCtxAddr:
		g.emit(asm.Mov.Reg(dst, asm.R6))
		if n.off != 0 {
			g.emit(asm.Add.Imm(dst, int32(n.off)))
		}
	case *irLoad:
		g.load(n, dst)
	case *irStash:
		g.stashValue(n, dst)
	case *irConv:
		g.value(n.x, dst)
		g.convert(dst, n.x.irType(), n.t)
	case *irUnary:
		g.value(n.x, dst)
		if n.op == specparse.OpNeg {
			g.emit(asm.Neg.Imm(dst, 0))
		} else {
			g.emit(asm.Xor.Imm(dst, -1))
		}
		g.normalize(dst, n.t)
	case *irBinary:
		g.binary(n, dst)
	case *irCompare, *irLogical, *irNot, *irStrEq:
		lTrue, lEnd := g.newLabel(), g.newLabel()
		g.branch(n, lTrue, true, dst)
		g.emit(asm.Mov.Imm(dst, 0), asm.Ja.Label(lEnd))
		g.bind(lTrue)
		g.emit(asm.Mov.Imm(dst, 1))
		g.bind(lEnd)
	case *irCond:
		lElse, lEnd := g.newLabel(), g.newLabel()
		g.branch(n.c, lElse, false, dst)
		g.value(n.x, dst)
		g.emit(asm.Ja.Label(lEnd))
		g.bind(lElse)
		g.value(n.y, dst)
		g.bind(lEnd)
	default:
		g.err = fmt.Errorf("internal error: cannot generate %T", n)
	}
}

// rhs is the second operand of an ALU or jump instruction.
type rhs struct {
	imm   int32
	isImm bool
	reg   asm.Register
	owned bool // reg is a pool register to free
}

// operands puts x in dst and returns y as an immediate or a register.
// With imm32 set, any constant is an immediate (for 32-bit jumps).
func (g *codegen) operands(x, y irNode, dst asm.Register, imm32 bool) rhs {
	g.value(x, dst)
	if v, ok := isConst(y); ok {
		if imm32 {
			return rhs{imm: int32(uint32(v)), isImm: true}
		}
		if fitsImm(v) {
			return rhs{imm: int32(int64(v)), isImm: true}
		}
		g.loadConst(asm.R1, v)
		return rhs{reg: asm.R1}
	}
	if r, ok := g.allocReg(); ok {
		g.value(y, r)
		return rhs{reg: r, owned: true}
	}
	// No free register: spill x while y is computed in dst.
	slot := g.alloc(8)
	g.emit(asm.StoreMem(asm.RFP, slot, dst, asm.DWord))
	g.value(y, dst)
	g.emit(
		asm.Mov.Reg(asm.R2, dst),
		asm.LoadMem(dst, asm.RFP, slot, asm.DWord),
	)
	g.free(8)
	return rhs{reg: asm.R2}
}

func (g *codegen) release(r rhs) {
	if r.owned {
		g.freeReg(r.reg)
	}
}

func aluOp(op specparse.Operator, signed bool) asm.ALUOp {
	switch op {
	case specparse.OpAdd:
		return asm.Add
	case specparse.OpSub:
		return asm.Sub
	case specparse.OpMul:
		return asm.Mul
	case specparse.OpDiv:
		return asm.Div
	case specparse.OpRem:
		return asm.Mod
	case specparse.OpAnd:
		return asm.And
	case specparse.OpOr:
		return asm.Or
	case specparse.OpXor:
		return asm.Xor
	case specparse.OpShl:
		return asm.LSh
	case specparse.OpShr:
		if signed {
			return asm.ArSh
		}
		return asm.RSh
	}
	return asm.InvalidALUOp
}

func (g *codegen) binary(n *irBinary, dst asm.Register) {
	if (n.op == specparse.OpDiv || n.op == specparse.OpRem) && n.t.signed {
		g.signedDiv(n, dst)
		return
	}
	r := g.operands(n.x, n.y, dst, false)
	op := aluOp(n.op, n.t.signed)
	if r.isImm {
		imm := r.imm
		if n.op == specparse.OpShl || n.op == specparse.OpShr {
			imm &= 63 // as the runtime masks register shift counts
		}
		g.emit(op.Imm(dst, imm))
	} else {
		g.emit(op.Reg(dst, r.reg))
	}
	g.release(r)
	switch n.op {
	case specparse.OpAdd, specparse.OpSub, specparse.OpMul, specparse.OpShl:
		g.normalize(dst, n.t)
	}
}

// signedDiv emits signed division or modulo without BPF_SDIV (which needs
// cpu v4, 6.6): divide the magnitudes, then fix the sign. Like BPF's
// unsigned division, x/0 is 0 and x%0 is x.
func (g *codegen) signedDiv(n *irBinary, dst asm.Register) {
	r := g.operands(n.x, n.y, dst, false)
	if r.isImm {
		g.emit(asm.Mov.Imm(asm.R4, r.imm))
	} else {
		g.emit(asm.Mov.Reg(asm.R4, r.reg))
	}
	g.release(r)
	l1, l2, l3 := g.newLabel(), g.newLabel(), g.newLabel()
	g.emit(asm.Mov.Reg(asm.R5, dst)) // sign of the result: x^y for /, x for %
	if n.op == specparse.OpDiv {
		g.emit(asm.Xor.Reg(asm.R5, asm.R4))
	}
	g.emit(
		asm.Mov.Reg(asm.R3, dst),
		asm.JSGE.Imm(asm.R3, 0, l1),
		asm.Neg.Imm(asm.R3, 0),
	)
	g.bind(l1)
	g.emit(
		asm.JSGE.Imm(asm.R4, 0, l2),
		asm.Neg.Imm(asm.R4, 0),
	)
	g.bind(l2)
	if n.op == specparse.OpDiv {
		g.emit(asm.Div.Reg(asm.R3, asm.R4))
	} else {
		g.emit(asm.Mod.Reg(asm.R3, asm.R4))
	}
	g.emit(
		asm.JSGE.Imm(asm.R5, 0, l3),
		asm.Neg.Imm(asm.R3, 0),
	)
	g.bind(l3)
	g.emit(asm.Mov.Reg(dst, asm.R3))
	g.normalize(dst, n.t)
}

// negate returns the comparison that is true when op is false.
func negate(op specparse.Operator) specparse.Operator {
	switch op {
	case specparse.OpLt:
		return specparse.OpGe
	case specparse.OpLe:
		return specparse.OpGt
	case specparse.OpGt:
		return specparse.OpLe
	case specparse.OpGe:
		return specparse.OpLt
	case specparse.OpEq:
		return specparse.OpNe
	}
	return specparse.OpEq
}

// mirror returns the comparison with its operands swapped.
func mirror(op specparse.Operator) specparse.Operator {
	switch op {
	case specparse.OpLt:
		return specparse.OpGt
	case specparse.OpLe:
		return specparse.OpGe
	case specparse.OpGt:
		return specparse.OpLt
	case specparse.OpGe:
		return specparse.OpLe
	}
	return op
}

func jumpOp(op specparse.Operator, signed bool) asm.JumpOp {
	switch op {
	case specparse.OpEq:
		return asm.JEq
	case specparse.OpNe:
		return asm.JNE
	case specparse.OpLt:
		if signed {
			return asm.JSLT
		}
		return asm.JLT
	case specparse.OpLe:
		if signed {
			return asm.JSLE
		}
		return asm.JLE
	case specparse.OpGt:
		if signed {
			return asm.JSGT
		}
		return asm.JGT
	}
	if signed {
		return asm.JSGE
	}
	return asm.JGE
}

// branch jumps to label when n's truth equals when, and falls through
// otherwise. dst is a pool register it may clobber.
func (g *codegen) branch(n irNode, label string, when bool, dst asm.Register) {
	switch n := n.(type) {
	case *irCompare:
		op, x, y := n.op, n.x, n.y
		if _, xc := isConst(x); xc {
			if _, yc := isConst(y); !yc {
				op, x, y = mirror(op), y, x
			}
		}
		if !when {
			op = negate(op)
		}
		j := jumpOp(op, n.ct.signed)
		w32 := n.ct.size == 4
		r := g.operands(x, y, dst, w32)
		switch {
		case r.isImm && w32:
			g.emit(j.Imm32(dst, r.imm, label))
		case r.isImm:
			g.emit(j.Imm(dst, r.imm, label))
		case w32:
			g.emit(j.Reg32(dst, r.reg, label))
		default:
			g.emit(j.Reg(dst, r.reg, label))
		}
		g.release(r)
	case *irLogical:
		and := n.op == specparse.OpLogAnd
		if and == when {
			// x && y true, or x || y false: both must agree.
			skip := g.newLabel()
			g.branch(n.x, skip, !when, dst)
			g.branch(n.y, label, when, dst)
			g.bind(skip)
		} else {
			g.branch(n.x, label, when, dst)
			g.branch(n.y, label, when, dst)
		}
	case *irNot:
		g.branch(n.x, label, !when, dst)
	case *irStrEq:
		g.strEq(n, label, when, dst)
	default:
		g.value(n, dst)
		if when {
			g.emit(asm.JNE.Imm(dst, 0, label))
		} else {
			g.emit(asm.JEq.Imm(dst, 0, label))
		}
	}
}

// probeRead reads size bytes (1, 2, 4 or 8) from the address in R3 and
// leaves them zero-extended in dst, or 0 when the read fails.
func (g *codegen) probeRead(dst asm.Register, size int, space AddrSpace) {
	fn := asm.FnProbeReadKernel
	if space == SpaceUser {
		fn = asm.FnProbeReadUser
	}
	done := g.newLabel()
	g.emit(
		asm.Mov.Reg(asm.R1, asm.RFP),
		asm.Add.Imm(asm.R1, stackScratch),
		asm.Mov.Imm(asm.R2, int32(size)),
		fn.Call(),
		asm.Mov.Imm(dst, 0),
		asm.JNE.Imm(asm.R0, 0, done),
		asm.LoadMem(dst, asm.RFP, stackScratch, sizeOp(size)),
	)
	g.bind(done)
}

// signExtend sign-extends the low size bytes of dst.
func (g *codegen) signExtend(dst asm.Register, size int) {
	if size < 8 {
		sh := int32(64 - 8*size)
		g.emit(asm.LSh.Imm(dst, sh), asm.ArSh.Imm(dst, sh))
	}
}

func (g *codegen) arg(n *irArg, dst asm.Register) {
	a := n.arg
	raw := intType{a.Size, a.Signed}
	switch a.Kind {
	case ArgCtx:
		if int(a.Off)%a.Size == 0 && a.Off >= 0 {
			g.emit(asm.LoadMem(dst, asm.R6, a.Off, sizeOp(a.Size)))
		} else {
			g.emit(asm.Mov.Reg(asm.R3, asm.R6), asm.Add.Imm(asm.R3, int32(a.Off)))
			g.probeRead(dst, a.Size, SpaceKernel)
		}
	case ArgRegsIndirect:
		g.emit(
			asm.LoadMem(asm.R3, asm.R6, a.Off, asm.DWord),
			asm.Add.Imm(asm.R3, int32(a.Off2)),
		)
		g.probeRead(dst, 8, SpaceKernel)
	case ArgMem:
		g.emit(asm.LoadMem(asm.R3, asm.R6, a.Off, asm.DWord))
		if a.Disp != 0 {
			g.emit(asm.Add.Imm(asm.R3, a.Disp))
		}
		g.probeRead(dst, a.Size, SpaceUser)
	case ArgConst:
		g.loadConst(dst, raw.normalize(uint64(a.Const)))
		g.convert(dst, raw, n.t)
		return
	default:
		g.err = fmt.Errorf("argument %s: kind %d cannot be read as a value", a.Name, a.Kind)
		return
	}
	if n.be > 0 {
		g.emit(asm.HostTo(asm.BE, dst, sizeOp(n.be)))
		raw = intType{n.be, false}
	} else if raw.signed {
		g.signExtend(dst, raw.size)
	}
	g.convert(dst, raw, n.t)
}

func (g *codegen) special(n *irSpecial, dst asm.Register) {
	switch n.name {
	case "$pid":
		g.emit(asm.FnGetCurrentPidTgid.Call(), asm.Mov.Reg32(dst, asm.R0))
	case "$tgid":
		g.emit(asm.FnGetCurrentPidTgid.Call(), asm.RSh.Imm(asm.R0, 32), asm.Mov.Reg(dst, asm.R0))
	case "$uid":
		g.emit(asm.FnGetCurrentUidGid.Call(), asm.Mov.Reg32(dst, asm.R0))
	case "$gid":
		g.emit(asm.FnGetCurrentUidGid.Call(), asm.RSh.Imm(asm.R0, 32), asm.Mov.Reg(dst, asm.R0))
	case "$cpu":
		g.emit(asm.FnGetSmpProcessorId.Call(), asm.Mov.Reg(dst, asm.R0))
	case "$task":
		g.emit(asm.FnGetCurrentTask.Call(), asm.Mov.Reg(dst, asm.R0))
	default:
		g.err = fmt.Errorf("internal error: special %s", n.name)
	}
}

func (g *codegen) load(n *irLoad, dst asm.Register) {
	g.value(n.addr, dst)
	g.emit(asm.Mov.Reg(asm.R3, dst))
	g.probeRead(dst, n.size, n.space)
	switch {
	case n.bitSz > 0:
		if n.bitOff > 0 {
			g.emit(asm.RSh.Imm(dst, int32(n.bitOff)))
		}
		sh := int32(64 - n.bitSz)
		switch {
		case n.t.signed:
			g.emit(asm.LSh.Imm(dst, sh), asm.ArSh.Imm(dst, sh))
		case n.bitSz < 31:
			g.emit(asm.And.Imm(dst, int32(1)<<n.bitSz-1))
		case n.bitSz < 64:
			g.emit(asm.LSh.Imm(dst, sh), asm.RSh.Imm(dst, sh))
		}
	case n.be > 0:
		g.emit(asm.HostTo(asm.BE, dst, sizeOp(n.be)))
		g.convert(dst, intType{n.be, false}, n.t)
	case n.t.signed:
		g.signExtend(dst, n.size)
	}
}

// strAddr leaves the address of a strPtr, strArray or strDataLoc string
// in R3, using dst.
func (g *codegen) strAddr(s *strSource, dst asm.Register) {
	if s.kind == strDataLoc {
		// __data_loc: u32 at ctx+off, low 16 bits = offset of the data
		// from ctx.
		g.emit(
			asm.LoadMem(dst, asm.R6, s.arg.Off, asm.Word),
			asm.And.Imm(dst, 0xffff),
			asm.Mov.Reg(asm.R3, asm.R6),
			asm.Add.Reg(asm.R3, dst),
		)
		return
	}
	g.value(s.addr, dst)
	g.emit(asm.Mov.Reg(asm.R3, dst))
}

// callReadStr calls bpf_probe_read_{user,kernel}_str for s, with R1-R3
// set up. A char pointer in kernel space (a kernel probe's char *
// argument, or one loaded from a kernel struct) may still point to user
// memory: kernels built without BTF type tags don't mark __user pointers,
// so do_sys_openat2's filename looks like a kernel string. Such strings
// pick the helper at run time by the address's top bit, which on x86-64
// splits user addresses (below 0x0000800000000000, or 0x0100000000000000
// with 5-level paging) from kernel ones; probe_read_kernel would refuse
// a user address. Other strings use the helper of their space.
func (g *codegen) callReadStr(s *strSource, space AddrSpace) {
	if s.kind != strPtr || space != SpaceKernel {
		g.emit(readStrFn(space).Call())
		return
	}
	kern, done := g.newLabel(), g.newLabel()
	g.emit(
		asm.JSLT.Imm(asm.R3, 0, kern),
		asm.FnProbeReadUserStr.Call(),
		asm.Ja.Label(done),
	)
	g.bind(kern)
	g.emit(asm.FnProbeReadKernelStr.Call())
	g.bind(done)
}

func readStrFn(space AddrSpace) asm.BuiltinFunc {
	if space == SpaceUser {
		return asm.FnProbeReadUserStr
	}
	return asm.FnProbeReadKernelStr
}

func readFn(space AddrSpace) asm.BuiltinFunc {
	if space == SpaceUser {
		return asm.FnProbeReadUser
	}
	return asm.FnProbeReadKernel
}

// strEq compares a string with a literal, exactly: the string must end
// where the literal does. It jumps to label when (string == lit) == when.
func (g *codegen) strEq(n *irStrEq, label string, when bool, dst asm.Register) {
	s, lit := n.src, n.lit
	if s.kind == strGo {
		g.goStrEq(s, lit, label, when)
		return
	}
	var cmp []byte // bytes the buffer must start with
	var size int   // buffer size
	var want int32 // R0 after the read when the string can be equal
	switch {
	case s.kind == strComm:
		// bpf_get_current_comm NUL-terminates what it copies, so reading
		// fewer than TASK_COMM_LEN bytes would cut "catalina" to "cat":
		// read all 16 and compare the literal and its NUL. The kernel
		// keeps at most 15 characters of a task's name, so a literal of
		// 16 bytes or more is compared as the kernel would have cut it:
		// its first 15 bytes ("systemd-journald" matches the comm
		// "systemd-journal").
		const taskCommLen = 16
		cmp = append([]byte(lit[:min(len(lit), taskCommLen-1)]), 0)
		buf := g.alloc(taskCommLen)
		defer g.free(taskCommLen)
		g.emit(
			asm.Mov.Reg(asm.R1, asm.RFP),
			asm.Add.Imm(asm.R1, int32(buf)),
			asm.Mov.Imm(asm.R2, taskCommLen),
			asm.FnGetCurrentComm.Call(),
		)
		g.strCompareBuf(buf, cmp, 0, label, when)
		return
	case s.kind == strArray && s.n > 0:
		// A char array holds at most n bytes and need not end in NUL:
		// read min(n, len+1) bytes and compare them with the literal
		// and, if the array is longer, its terminating NUL.
		size = min(s.n, len(lit)+1)
		cmp = []byte(lit)
		if len(lit) < s.n {
			cmp = append(cmp, 0)
		}
		buf := g.alloc(size)
		defer g.free(size)
		g.strAddr(s, dst)
		g.emit(
			asm.Mov.Reg(asm.R1, asm.RFP),
			asm.Add.Imm(asm.R1, int32(buf)),
			asm.Mov.Imm(asm.R2, int32(size)),
			readFn(s.space).Call(),
		)
		g.strCompareBuf(buf, cmp, 0, label, when)
		return
	}
	// A NUL-terminated string: read at most len+1 characters into a
	// buffer of len+2; it equals the literal iff the read returns len+1
	// (characters plus NUL) and the characters match.
	size = len(lit) + 2
	want = int32(len(lit) + 1)
	buf := g.alloc(size)
	defer g.free(size)
	g.strAddr(s, dst)
	space := s.space
	if s.kind == strDataLoc {
		space = SpaceKernel
	}
	g.emit(
		asm.Mov.Reg(asm.R1, asm.RFP),
		asm.Add.Imm(asm.R1, int32(buf)),
		asm.Mov.Imm(asm.R2, int32(size)),
	)
	g.callReadStr(s, space)
	cmp = []byte(lit)
	if len(lit) == 0 {
		// Kernels before 6.13 return 0, not 1, for an empty string
		// (strncpy_from_user_nofault forgot the NUL), so test that the read
		// worked and the first byte is the NUL instead.
		want, cmp = anyNonNegative, []byte{0}
	}
	g.strCompareBuf(buf, cmp, want, label, when)
}

// anyNonNegative as strCompareBuf's want accepts any successful read.
const anyNonNegative = -1

// goStrEq jumps to label when (the Go string equals lit) == when: the
// lengths must match, then the bytes.
func (g *codegen) goStrEq(s *strSource, lit string, label string, when bool) {
	g.emit(asm.LoadMem(asm.R2, asm.R6, s.arg.Off2, asm.DWord))
	if len(lit) == 0 {
		if when {
			g.emit(asm.JEq.Imm(asm.R2, 0, label))
		} else {
			g.emit(asm.JNE.Imm(asm.R2, 0, label))
		}
		return
	}
	skip := label
	if when {
		skip = g.newLabel()
	}
	g.emit(asm.JNE.Imm(asm.R2, int32(len(lit)), skip))
	buf := g.alloc(len(lit))
	defer g.free(len(lit))
	g.emit(
		asm.LoadMem(asm.R3, asm.R6, s.arg.Off, asm.DWord),
		asm.Mov.Reg(asm.R1, asm.RFP),
		asm.Add.Imm(asm.R1, int32(buf)),
		asm.Mov.Imm(asm.R2, int32(len(lit))),
		asm.FnProbeReadUser.Call(),
	)
	g.strCompareBuf(buf, []byte(lit), 0, label, when) // probe_read_user returns 0 on success
	if when {
		g.bind(skip)
	}
}

// strCompareBuf jumps to label when (R0 == want && buffer at buf starts
// with cmp) == when.
func (g *codegen) strCompareBuf(buf int16, cmp []byte, want int32, label string, when bool) {
	notEq := label
	if when {
		notEq = g.newLabel()
	}
	if want == anyNonNegative {
		g.emit(asm.JSLT.Imm(asm.R0, 0, notEq))
	} else {
		g.emit(asm.JNE.Imm(asm.R0, want, notEq))
	}
	for i := 0; i < len(cmp); {
		var sz int
		switch rest := len(cmp) - i; {
		case rest >= 8:
			sz = 8
		case rest >= 4:
			sz = 4
		case rest >= 2:
			sz = 2
		default:
			sz = 1
		}
		var chunk [8]byte
		copy(chunk[:], cmp[i:i+sz])
		v := binary.LittleEndian.Uint64(chunk[:])
		g.emit(asm.LoadMem(asm.R1, asm.RFP, buf+int16(i), sizeOp(sz)))
		switch sz {
		case 8:
			g.emit(asm.LoadImm(asm.R2, int64(v), asm.DWord), asm.JNE.Reg(asm.R1, asm.R2, notEq))
		case 4:
			g.emit(asm.JNE.Imm32(asm.R1, int32(uint32(v)), notEq))
		default:
			g.emit(asm.JNE.Imm(asm.R1, int32(v), notEq))
		}
		i += sz
	}
	if when {
		g.emit(asm.Ja.Label(label))
		g.bind(notEq)
	}
}

// storeString writes a %s argument into the record at off: the string,
// NUL-terminated within ss bytes, then a status byte (StrOK,
// StrTruncated, StrFault, StrNull).
func (g *codegen) storeString(s *strSource, off int, dst asm.Register) {
	ss := g.ss
	flagOff := int16(off + ss)
	toRecord := func(size int) {
		g.emit(
			asm.Mov.Reg(asm.R1, asm.R7),
			asm.Add.Imm(asm.R1, int32(off)),
			asm.Mov.Imm(asm.R2, int32(size)),
		)
	}
	switch {
	case s.kind == strGo:
		// A Go string: copy min(len, ss) bytes and terminate them; the
		// string is truncated when it is longer.
		fits := g.newLabel()
		g.emit(
			asm.LoadMem(asm.R2, asm.R6, s.arg.Off2, asm.DWord),
			asm.StoreImm(asm.R7, flagOff, 0, asm.Byte),
			asm.JLE.Imm(asm.R2, int32(ss-1), fits),
			asm.Mov.Imm(asm.R2, int32(ss-1)),
			asm.StoreImm(asm.R7, flagOff, 1, asm.Byte),
		)
		g.bind(fits)
		g.emit(
			asm.Mov.Reg(dst, asm.R2), // the length survives the call in dst
			asm.LoadMem(asm.R3, asm.R6, s.arg.Off, asm.DWord),
			asm.Mov.Reg(asm.R1, asm.R7),
			asm.Add.Imm(asm.R1, int32(off)),
			asm.FnProbeReadUser.Call(),
		)
		read := g.newLabel()
		g.emit(asm.JEq.Imm(asm.R0, 0, read))
		if g.sleepable {
			// bpf_copy_from_user faults the pages in.
			g.emit(
				asm.Mov.Reg(asm.R2, dst),
				asm.LoadMem(asm.R3, asm.R6, s.arg.Off, asm.DWord),
				asm.Mov.Reg(asm.R1, asm.R7),
				asm.Add.Imm(asm.R1, int32(off)),
				asm.FnCopyFromUser.Call(),
				asm.JEq.Imm(asm.R0, 0, read),
			)
		}
		g.emit(
			asm.StoreImm(asm.R7, flagOff, StrFault, asm.Byte),
			asm.Mov.Imm(dst, 0),
		)
		g.bind(read)
		g.emit(
			asm.Mov.Reg(asm.R1, asm.R7),
			asm.Add.Reg(asm.R1, dst),
			asm.StoreImm(asm.R1, int16(off), 0, asm.Byte),
		)
		return
	case s.kind == strComm:
		toRecord(min(16, ss))
		g.emit(asm.FnGetCurrentComm.Call(), asm.StoreImm(asm.R7, flagOff, 0, asm.Byte))
		return
	case s.kind == strArray && s.n > 0 && s.n < ss:
		// The whole array fits: copy it and terminate it.
		g.strAddr(s, dst)
		toRecord(s.n)
		read := g.newLabel()
		g.emit(readFn(s.space).Call())
		if g.sleepable && s.space == SpaceUser {
			// The size is known: bpf_copy_from_user faults the pages in.
			copied := g.newLabel()
			g.emit(asm.JEq.Imm(asm.R0, 0, copied))
			toRecord(s.n)
			g.emit(
				asm.Mov.Reg(asm.R3, dst),
				asm.FnCopyFromUser.Call(),
			)
			g.bind(copied)
		}
		g.emit(
			asm.StoreImm(asm.R7, int16(off+s.n), 0, asm.Byte),
			asm.StoreImm(asm.R7, flagOff, StrOK, asm.Byte),
			asm.JEq.Imm(asm.R0, 0, read),
			asm.StoreImm(asm.R7, flagOff, StrFault, asm.Byte),
		)
		g.bind(read)
		return
	}
	g.strAddr(s, dst)
	space := s.space
	if s.kind == strDataLoc {
		space = SpaceKernel
	}
	null, done, end := g.newLabel(), g.newLabel(), g.newLabel()
	if s.kind != strDataLoc {
		g.emit(asm.JEq.Imm(asm.R3, 0, null))
	}
	toRecord(ss)
	// The helper returns the bytes copied including the NUL: ss means the
	// buffer filled up (the string was truncated, or exactly fit); a
	// negative value that the read failed (the helper zeroes the buffer).
	g.callReadStr(s, space)
	if g.sleepable && space == SpaceUser && s.kind != strDataLoc {
		g.faultInStr(off, dst)
	}
	g.emit(
		asm.Mov.Imm(asm.R1, StrFault),
		asm.JSLT.Imm(asm.R0, 0, done),
		asm.Mov.Imm(asm.R1, StrOK),
		asm.JNE.Imm(asm.R0, int32(ss), done),
		asm.Mov.Imm(asm.R1, StrTruncated),
	)
	g.bind(done)
	g.emit(asm.StoreMem(asm.R7, flagOff, asm.R1, asm.Byte))
	if s.kind != strDataLoc {
		g.emit(asm.Ja.Label(end))
		g.bind(null)
		g.emit(
			asm.StoreImm(asm.R7, int16(off), 0, asm.Byte),
			asm.StoreImm(asm.R7, flagOff, StrNull, asm.Byte),
		)
		g.bind(end)
	}
}

// pageSize is the size of the pages faultInStr touches.
var pageSize = int32(os.Getpagesize())

// faultInStr follows a bpf_probe_read_user_str of the string at the
// address in dst into the record at off, in a sleepable program: when the
// read failed (R0 < 0), most likely because the string's page is mapped
// but not faulted in, it touches the page with a one-byte
// bpf_copy_from_user, which may fault it in, and reads again. A string
// that did not end on its first page continues on the next one; when the
// read still fails and the string's ss bytes reach the next page, that
// page is touched too and the string read a third time. (ss is at most
// 4096, so the bytes span at most two pages.) It leaves the last read's
// result in R0. The common case, a read that worked, costs one branch.
//
// bpf_copy_from_user_str (a kfunc, 6.12) would read the string in one
// call; bpf_copy_from_user (5.10, a helper) works wherever sleepable
// uprobes do and needs no kernel BTF to resolve a kfunc at load time.
func (g *codegen) faultInStr(off int, dst asm.Register) {
	done := g.newLabel()
	retry := func() {
		g.emit(
			asm.Mov.Reg(asm.R1, asm.R7),
			asm.Add.Imm(asm.R1, int32(off)),
			asm.Mov.Imm(asm.R2, int32(g.ss)),
			asm.Mov.Reg(asm.R3, dst),
			asm.FnProbeReadUserStr.Call(),
			asm.JSGE.Imm(asm.R0, 0, done),
		)
	}
	touch := func() {
		// R3 is the address to touch; a failure leaves R0 < 0 and
		// ends the attempts.
		g.emit(
			asm.Mov.Reg(asm.R1, asm.RFP),
			asm.Add.Imm(asm.R1, stackScratch),
			asm.Mov.Imm(asm.R2, 1),
			asm.FnCopyFromUser.Call(),
			asm.JNE.Imm(asm.R0, 0, done),
		)
	}
	g.emit(
		asm.JSGE.Imm(asm.R0, 0, done),
		asm.Mov.Reg(asm.R3, dst),
	)
	touch()
	retry()
	// The next page starts at (dst | (pageSize-1)) + 1; it holds some of
	// the ss bytes when next - dst < ss.
	g.emit(
		asm.Mov.Imm(asm.R0, -14), // -EFAULT, should the string fit its page
		asm.Mov.Reg(asm.R3, dst),
		asm.Or.Imm(asm.R3, pageSize-1),
		asm.Add.Imm(asm.R3, 1),
		asm.Mov.Reg(asm.R1, asm.R3),
		asm.Sub.Reg(asm.R1, dst),
		asm.JGE.Imm(asm.R1, int32(g.ss), done),
	)
	touch()
	retry()
	g.bind(done)
}
