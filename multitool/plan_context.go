package multitool

import (
	"fmt"
	"strings"

	ebtf "github.com/cilium/ebpf/btf"
	"golang.org/x/arch/x86/x86asm"

	"github.com/btool/btool/bpf/compile"
	"github.com/btool/btool/btf"
	"github.com/btool/btool/dwarfinfo"
)

// ContextKind is the calling convention or record format a target's
// arguments come in.
type ContextKind uint8

// The kinds of contexts.
const (
	CtxKernelFunc     ContextKind = iota + 1 // kernel function: BTF prototype, SysV registers or fentry slots
	CtxSyscallWrapper                        // __x64_sys_* wrapper: arguments in the user pt_regs it receives
	CtxTracepoint                            // tracefs format fields (args->field)
	CtxUserSysV                              // user function, SysV registers (DWARF locations where known)
	CtxUserGo                                // Go function, ABIInternal registers
	CtxUSDT                                  // USDT site: its argument spec
	CtxPerfEvent                             // perf event: no arguments; ctx->reg reads the interrupted task's registers
)

// Context is what a program attached at one target sees: where each
// argument is and its type. Targets with equal contexts share a layout
// and one program. Probe turns it into the checker's ProbeContext for an
// attach mode.
type Context struct {
	Kind   ContextKind
	Target string // the first target with this context, for errors ("sched:sched_process_exit")
	Return bool   // return probe: retval is valid
	// Params and Ret are the prototype (CtxKernelFunc, CtxSyscallWrapper,
	// CtxUser*); a nil Type is an untyped 8-byte integer.
	Params []compile.ParamType
	Ret    ebtf.Type
	// Locs are the DWARF entry locations of Params (CtxUserSysV); nil
	// means the ABI registers.
	Locs []dwarfinfo.Location
	// Fields are the tracepoint's format fields (CtxTracepoint).
	Fields      []compile.Arg
	Syscalls    bool // a syscalls:* tracepoint: arguments are user pointers
	SyscallExit bool // a syscalls:sys_exit_* tracepoint: ret is retval
	// Args are the USDT site's arguments (CtxUSDT).
	Args []compile.Arg

	key    string             // identity: equal keys are equal contexts
	types  compile.TypeSource // user binary for casts; nil: kernel BTF
	kernel compile.TypeSource
}

// Key returns the context's identity: contexts with equal keys give every
// expression the same location and type.
func (c *Context) Key() string { return c.key }

// newContext computes c's key and its kernel type source.
func (pl *Planner) newContext(c *Context) *Context {
	c.kernel = lazyKernel{pl}
	if c.types == nil {
		c.types = c.kernel
	}
	src := "kernel"
	if bin, ok := c.types.(Binary); ok {
		src = bin.Path()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d ret=%v syscalls=%v exit=%v types=%s|", c.Kind, c.Return, c.Syscalls, c.SyscallExit, src)
	for _, p := range c.Params {
		fmt.Fprintf(&b, "%s:%s,", p.Name, pl.typeKey(p.Type))
	}
	fmt.Fprintf(&b, "->%s|", pl.typeKey(c.Ret))
	for _, l := range c.Locs {
		fmt.Fprintf(&b, "%v,", l)
	}
	b.WriteByte('|')
	for _, as := range [][]compile.Arg{c.Fields, c.Args} {
		for _, a := range as {
			fmt.Fprintf(&b, "%s:%d:%d:%d:%d:%d:%d:%v:%v:%s,", a.Name, a.Kind, a.Off, a.Off2, a.Disp, a.Const, a.Size, a.Signed, a.User, pl.typeKey(a.Type))
		}
		b.WriteByte('|')
	}
	c.key = b.String()
	return c
}

// typeKey identifies t completely. Pointers, arrays, typedefs, functions
// and integers are spelled out; a struct, union or enum is named by its
// identity in the type graph, so two structs are the same only if they
// are the same BTF (or lowered DWARF) type: same members at the same
// offsets. (A kernel BTF spec is deduplicated, so one C type is one Go
// value there; a struct repeated in module BTF gets a layout of its own,
// which costs a program, not correctness.) Qualifiers (const, volatile,
// restrict) and type tags are ignored: they change no load.
func (pl *Planner) typeKey(t ebtf.Type) string {
	var b strings.Builder
	pl.writeType(&b, t, 0)
	return b.String()
}

func (pl *Planner) writeType(b *strings.Builder, t ebtf.Type, depth int) {
	if depth > 32 {
		b.WriteString("…")
		return
	}
	for {
		switch q := t.(type) {
		case *ebtf.Const:
			t = q.Type
			continue
		case *ebtf.Volatile:
			t = q.Type
			continue
		case *ebtf.Restrict:
			t = q.Type
			continue
		case *ebtf.TypeTag:
			t = q.Type
			continue
		}
		break
	}
	switch v := t.(type) {
	case nil:
		b.WriteString("?")
	case *ebtf.Void:
		b.WriteString("void")
	case *ebtf.Int:
		fmt.Fprintf(b, "int(%s,%d,%v)", v.Name, v.Size, v.Encoding)
	case *ebtf.Float:
		fmt.Fprintf(b, "float(%s,%d)", v.Name, v.Size)
	case *ebtf.Pointer:
		b.WriteByte('*')
		pl.writeType(b, v.Target, depth+1)
	case *ebtf.Array:
		fmt.Fprintf(b, "[%d]", v.Nelems)
		pl.writeType(b, v.Type, depth+1)
	case *ebtf.Typedef:
		fmt.Fprintf(b, "typedef(%s=", v.Name)
		pl.writeType(b, v.Type, depth+1)
		b.WriteByte(')')
	case *ebtf.FuncProto:
		b.WriteString("fn(")
		for _, p := range v.Params {
			pl.writeType(b, p.Type, depth+1)
			b.WriteByte(',')
		}
		b.WriteString(")")
		pl.writeType(b, v.Return, depth+1)
	default:
		// Struct, Union, Enum, Fwd and the rest: by identity.
		if pl.ids == nil {
			pl.ids = map[ebtf.Type]int{}
		}
		id, ok := pl.ids[t]
		if !ok {
			id = len(pl.ids) + 1
			pl.ids[t] = id
		}
		size, _ := ebtf.Sizeof(t)
		fmt.Fprintf(b, "%T(%s,%d)#%d", t, t.TypeName(), size, id)
	}
}

// Probe returns the ProbeContext a program attached in mode m at this
// context's targets sees.
func (c *Context) Probe(m compile.Mode) (*compile.ProbeContext, error) {
	pc := &compile.ProbeContext{Mode: m, Return: c.Return, Types: c.types, Kernel: c.kernel}
	switch c.Kind {
	case CtxKernelFunc:
		pc.Regs = m != compile.ModeFentry
		if m == compile.ModeFentry {
			args, retOff, err := compile.FentryArgs(c.Params)
			if err != nil {
				return nil, err
			}
			pc.Args = args
			if c.Return {
				pc.Ret = &compile.Arg{Name: "retval", Type: c.Ret, Kind: compile.ArgCtx, Off: retOff, Size: 8, Signed: btf.IsSigned(c.Ret)}
			}
			return pc, nil
		}
		pc.Args = compile.RegArgs(padParams(c.Params, 6), false)
		if c.Return {
			pc.Ret = compile.RetReg(c.Ret)
		}
	case CtxSyscallWrapper:
		pc.Regs, pc.UserMemory = m != compile.ModeFentry, true
		regsOff := int16(112) // rdi of the wrapper's pt_regs
		if m == compile.ModeFentry {
			regsOff = 0
		}
		pc.Args = compile.SyscallWrapperArgs(c.Params, regsOff)
		if c.Return {
			if m == compile.ModeFentry {
				pc.Ret = &compile.Arg{Name: "retval", Type: longType, Kind: compile.ArgCtx, Off: 8, Size: 8, Signed: true}
			} else {
				pc.Ret = compile.RetReg(longType)
			}
		}
	case CtxTracepoint:
		pc.UserMemory, pc.Return = c.Syscalls, false
		if m == compile.ModeRawSyscalls {
			pc.Fields = rawSyscallFields(c.Fields, c.SyscallExit)
		} else {
			pc.Fields = c.Fields
		}
		if c.Syscalls {
			for _, f := range pc.Fields {
				switch {
				case f.Name == "__syscall_nr":
				case f.Name == "ret" && c.SyscallExit:
					ret := f
					pc.Ret, pc.Return = &ret, true
				default:
					pc.Args = append(pc.Args, f)
				}
			}
		}
	case CtxUserGo:
		pc.Regs, pc.UserMemory = true, true
		pc.Args = compile.GoArgs(padParams(c.Params, 9))
		if c.Return {
			// Go's ABI: a string result spans RAX and RBX, a float is in X0.
			pc.Ret = compile.GoRet(c.Ret)
			pc.Ret.User = true
		}
	case CtxUserSysV:
		pc.Regs, pc.UserMemory = true, true
		pc.Args = compile.RegArgs(padParams(c.Params, 6), true)
		for i, l := range c.Locs {
			if i < len(pc.Args) && l.Kind == dwarfinfo.LocReg && l.AtEntry && l.Reg >= 0 && l.Reg < len(dwarfRegs) {
				// DWARF wins over the ABI guess: gcc may pass arguments of
				// static functions in other registers.
				if off, ok := compile.PtRegsOffset(dwarfRegs[l.Reg]); ok && pc.Args[i].Size <= 8 {
					pc.Args[i].Off, pc.Args[i].Kind, pc.Args[i].Reason = off, compile.ArgCtx, ""
				}
			}
		}
		if c.Return {
			pc.Ret = compile.RetReg(c.Ret)
			pc.Ret.User = true
		}
	case CtxUSDT:
		pc.Regs, pc.UserMemory = true, true
		pc.Args = c.Args
	case CtxPerfEvent:
		// bpf_perf_event_data starts with the interrupted task's pt_regs.
		pc.Regs = true
	default:
		return nil, fmt.Errorf("unknown context kind %d", c.Kind)
	}
	return pc, nil
}

// rawSyscallFields maps a syscall tracepoint's fields onto what a raw
// tracepoint on sys_enter/sys_exit sees: args[0] is the task's user
// registers (the arguments, in the syscall ABI's registers), args[1] the
// syscall number on entry and the return value on exit.
func rawSyscallFields(fields []compile.Arg, exit bool) []compile.Arg {
	var params []compile.ParamType
	var out []compile.Arg
	for _, f := range fields {
		switch {
		case f.Name == "__syscall_nr" && !exit:
			out = append(out, compile.Arg{Name: f.Name, Type: f.Type, Kind: compile.ArgCtx, Off: 8, Size: 8, Signed: true})
		case f.Name == "ret" && exit:
			out = append(out, compile.Arg{Name: f.Name, Type: f.Type, Kind: compile.ArgCtx, Off: 8, Size: 8, Signed: true})
		case f.Name != "__syscall_nr":
			params = append(params, compile.ParamType{Name: f.Name, Type: f.Type})
		}
	}
	if !exit {
		out = append(out, compile.SyscallWrapperArgs(params, 0)...)
	}
	return out
}

// checkInstructionBoundary decodes code (the start of function sym; whole
// says it ends where the function does) and returns an *offsetError when
// off is past the function or inside an instruction, or another error
// when the code cannot be decoded up to off.
func checkInstructionBoundary(sym string, code []byte, off uint64, whole bool) error {
	if whole && off >= uint64(len(code)) {
		return &offsetError{fmt.Sprintf("offset %#x is past the end of %s (%d bytes)", off, sym, len(code))}
	}
	i := uint64(0)
	for i < off {
		if i >= uint64(len(code)) {
			return fmt.Errorf("read only %d bytes of %s", len(code), sym)
		}
		n, op, err := decodeInsn(code[i:])
		if err != nil {
			return fmt.Errorf("cannot decode %s at +%#x: %v", sym, i, err)
		}
		if next := i + uint64(n); next > off {
			return &offsetError{fmt.Sprintf("offset %#x is inside an instruction of %s: %s spans +%#x to +%#x; use +%#x or +%#x",
				off, sym, op, i, next, i, next)}
		}
		i += uint64(n)
	}
	return nil
}

// decodeInsn returns the length and mnemonic of the x86-64 instruction
// at the start of code. x86asm predates CET: endbr64, which starts every
// function of an IBT kernel, it decodes as a lone prefix, so it is
// recognised here.
func decodeInsn(code []byte) (int, string, error) {
	if len(code) >= 4 && code[0] == 0xf3 && code[1] == 0x0f && code[2] == 0x1e && (code[3] == 0xfa || code[3] == 0xfb) {
		return 4, "endbr64", nil
	}
	inst, err := x86asm.Decode(code, 64)
	if err != nil {
		return 0, "", err
	}
	if inst.Len == 0 || inst.Op == 0 {
		return 0, "", fmt.Errorf("unrecognized instruction % x", code[:min(len(code), 4)])
	}
	return inst.Len, strings.ToLower(inst.Op.String()), nil
}
