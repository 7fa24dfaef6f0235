package compile

import (
	"fmt"
	"strings"

	ebtf "github.com/cilium/ebpf/btf"

	"github.com/btool/btool/btf"
)

// struct pt_regs offsets on x86_64, by register name.
var ptRegs = map[string]int16{
	"r15": 0, "r14": 8, "r13": 16, "r12": 24, "bp": 32, "bx": 40, "r11": 48, "r10": 56,
	"r9": 64, "r8": 72, "ax": 80, "cx": 88, "dx": 96, "si": 104, "di": 112, "orig_ax": 120,
	"ip": 128, "cs": 136, "flags": 144, "sp": 152, "ss": 160,
}

// PtRegsOffset returns the offset of a register in x86_64's struct pt_regs.
// It accepts "di", "rdi", "edi", "r8", "r8d" and similar spellings.
func PtRegsOffset(reg string) (int16, bool) {
	if off, ok := ptRegs[reg]; ok {
		return off, true
	}
	if len(reg) == 3 && (reg[0] == 'r' || reg[0] == 'e') {
		if off, ok := ptRegs[reg[1:]]; ok {
			return off, true
		}
	}
	for _, suf := range []string{"d", "w", "b"} {
		if len(reg) > 2 && reg[0] == 'r' && reg[len(reg)-1:] == suf {
			if off, ok := ptRegs[reg[:len(reg)-1]]; ok {
				return off, true
			}
		}
	}
	switch reg { // 8- and 16-bit legacy names
	case "al", "ax16":
		return ptRegs["ax"], true
	case "bl":
		return ptRegs["bx"], true
	case "cl":
		return ptRegs["cx"], true
	case "dl":
		return ptRegs["dx"], true
	case "sil":
		return ptRegs["si"], true
	case "dil":
		return ptRegs["di"], true
	}
	return 0, false
}

// sysvRegs are the SysV x86_64 integer argument registers, in order.
var sysvRegs = []string{"di", "si", "dx", "cx", "r8", "r9"}

// syscallRegs are the registers of syscall arguments: r10, not cx, carries
// the fourth, because the syscall instruction clobbers rcx.
var syscallRegs = []string{"di", "si", "dx", "r10", "r8", "r9"}

// goRegs are Go's ABIInternal integer argument registers on amd64.
var goRegs = []string{"ax", "bx", "cx", "di", "si", "r8", "r9", "r10", "r11"}

// ParamType is a parameter's name and type for the argument builders.
type ParamType struct {
	Name string
	Type ebtf.Type // nil: unknown, an 8-byte integer
}

// RegArgs returns pt_regs-based arguments (kprobes, uprobes) for params,
// one per parameter, placed by the SysV x86-64 calling convention: integer
// and pointer parameters take the next of RDI, RSI, RDX, RCX, R8, R9; a
// struct or union of at most 16 bytes takes one register per eightbyte
// (all or none), a larger one goes to memory without taking a register;
// floating-point eightbytes go to XMM registers, which don't take integer
// registers either. Parameters that end up on the stack, in XMM registers
// or split over two registers are ArgUnavailable with the reason. User
// marks pointers as user memory.
func RegArgs(params []ParamType, user bool) []Arg {
	var args []Arg
	nextInt, nextSSE := 0, 0
	for _, p := range params {
		c := classifySysV(p.Type)
		switch {
		case c.memory:
			args = append(args, unavailable(p, "passed on the stack ("+c.why+")"))
			continue
		case nextInt+c.ints > len(sysvRegs) || nextSSE+c.sse > 8:
			// The whole value goes to the stack; the registers left stay
			// free for later, smaller arguments.
			args = append(args, unavailable(p, "passed on the stack (the argument registers ran out)"))
			continue
		}
		first, firstSSE := nextInt, nextSSE
		nextInt += c.ints
		nextSSE += c.sse
		switch {
		case c.ints == 1 && c.sse == 0:
			args = append(args, regArg(p, sysvRegs[first], user))
		case c.ints == 0 && c.sse == 0:
			args = append(args, unavailable(p, "an empty struct, passed in no register"))
		case c.ints == 0:
			args = append(args, unavailable(p, fmt.Sprintf("floating point, passed in xmm%d, which pt_regs doesn't hold", firstSSE)))
		case c.sse > 0:
			args = append(args, unavailable(p, fmt.Sprintf("passed partly in %s and partly in xmm%d, which pt_regs doesn't hold", regName(sysvRegs[first]), firstSSE)))
		default:
			args = append(args, unavailable(p, fmt.Sprintf("passed in two registers (%s, %s), which pt_regs doesn't hold next to each other", regName(sysvRegs[first]), regName(sysvRegs[first+1]))))
		}
	}
	return args
}

// regName is the 64-bit name of a pt_regs register: "di" is "rdi".
func regName(reg string) string {
	if reg[0] == 'r' {
		return reg
	}
	return "r" + reg
}

// unavailable is a parameter that can't be read, for reason.
func unavailable(p ParamType, reason string) Arg {
	return Arg{Name: p.Name, Type: p.Type, Kind: ArgUnavailable, Size: 8, Reason: reason}
}

// sysvClass is how the SysV x86-64 ABI passes a value: in ints integer
// registers and sse XMM registers (one per eightbyte), or in memory.
type sysvClass struct {
	ints, sse int
	memory    bool
	why       string // memory: why
}

// classifySysV classifies a parameter of type t (nil: an 8-byte integer)
// by the SysV x86-64 psABI (3.2.3): scalars are INTEGER or SSE; long
// double is X87, in memory; an aggregate of more than 16 bytes, or with
// an unaligned field, is MEMORY; a smaller one is classified per
// eightbyte, INTEGER winning over SSE.
func classifySysV(t ebtf.Type) sysvClass {
	if t == nil {
		return sysvClass{ints: 1}
	}
	switch u := ebtf.UnderlyingType(t).(type) {
	case *ebtf.Int:
		if u.Size > 8 {
			return sysvClass{ints: 2} // __int128
		}
		return sysvClass{ints: 1}
	case *ebtf.Float:
		switch {
		case isComplex(u) && u.Size <= 16:
			return sysvClass{sse: int(u.Size+7) / 8}
		case u.Size > 8:
			return sysvClass{memory: true, why: "long double"}
		}
		return sysvClass{sse: 1}
	case *ebtf.Struct, *ebtf.Union:
		size, _ := ebtf.Sizeof(u)
		if size > 16 {
			return sysvClass{memory: true, why: "a struct or union larger than 16 bytes"}
		}
		var eb [2]uint8 // per eightbyte: 0 none, 1 SSE, 2 INTEGER
		ok := sysvLeaves(u, 0, func(off, size int, sse bool) {
			for i := off / 8; i <= (off+size-1)/8 && i < 2; i++ {
				switch {
				case !sse:
					eb[i] = 2
				case eb[i] == 0:
					eb[i] = 1
				}
			}
		})
		if !ok {
			return sysvClass{memory: true, why: "a struct with unaligned or long double fields"}
		}
		var c sysvClass
		for i := 0; i < (size+7)/8; i++ {
			if eb[i] == 1 {
				c.sse++
			} else {
				c.ints++ // INTEGER, or padding only (rare), taken as INTEGER
			}
		}
		return c
	}
	return sysvClass{ints: 1} // pointers, enums, arrays (decayed to pointers)
}

// isComplex reports whether a Float is a complex type (DWARF's complex
// floats are lowered to Floats named "complex ...", "complex64").
func isComplex(f *ebtf.Float) bool {
	return strings.Contains(f.Name, "complex")
}

// sysvLeaves calls leaf for every scalar in t at byte offset base, with
// its offset, size and whether it is floating point. It returns false
// when a field is unaligned or is a long double (which make the whole
// aggregate MEMORY).
func sysvLeaves(t ebtf.Type, base int, leaf func(off, size int, sse bool)) bool {
	switch u := ebtf.UnderlyingType(t).(type) {
	case *ebtf.Struct:
		return sysvMembers(u.Members, base, leaf)
	case *ebtf.Union:
		return sysvMembers(u.Members, base, leaf)
	case *ebtf.Array:
		es, err := ebtf.Sizeof(u.Type)
		if err != nil {
			return false
		}
		for i := 0; i < int(u.Nelems); i++ {
			if !sysvLeaves(u.Type, base+i*es, leaf) {
				return false
			}
		}
		return true
	case *ebtf.Float:
		if u.Size > 8 && !isComplex(u) {
			return false
		}
		if base%int(min(u.Size, 8)) != 0 {
			return false
		}
		leaf(base, int(u.Size), true)
		return true
	default:
		size, err := ebtf.Sizeof(u)
		if err != nil {
			return false
		}
		if size > 0 && base%min(size, 8) != 0 {
			return false
		}
		leaf(base, size, false)
		return true
	}
}

func sysvMembers(members []ebtf.Member, base int, leaf func(off, size int, sse bool)) bool {
	for _, m := range members {
		off := base + int(m.Offset)/8
		if m.BitfieldSize > 0 {
			// Bitfields are INTEGER; mark the bytes they touch.
			end := base + (int(m.Offset)+int(m.BitfieldSize)+7)/8
			leaf(off, max(end-off, 1), false)
			continue
		}
		if !sysvLeaves(m.Type, off, leaf) {
			return false
		}
	}
	return true
}

// GoArgs returns arguments of a Go function under ABIInternal (Go 1.17+ on
// amd64), one per parameter, assigned as the Go compiler does
// (cmd/compile/abi-internal.md): integers, pointers, maps, channels and
// funcs take the next of RAX, RBX, RCX, RDI, RSI, R8-R11; floats take
// X0-X14 separately (complex numbers two); strings, interfaces and slices
// are two, two and three integer registers; structs and arrays of one
// element are assigned field by field. A parameter that doesn't fit in
// the registers left, or holds an array of more than one element, goes
// to the stack as a whole and the registers stay free for later ones.
//
// A string is ArgGoString (pointer and length). Another value in several
// registers shows its first integer word (a slice's data pointer, an
// interface's type word), typed as that word. Float parameters and
// parameters on the stack are ArgUnavailable: pt_regs has no X registers,
// and a uprobe at entry doesn't see the caller's stack frame as Go lays it
// out.
func GoArgs(params []ParamType) []Arg {
	var abi goABI
	args := make([]Arg, 0, len(params))
	for _, p := range params {
		args = append(args, abi.arg(p))
	}
	return args
}

// GoResults returns the registers of a Go function's results at its RET
// instructions: ABIInternal assigns results like parameters, from RAX and
// X0 again. The arguments are named by results (use "retval" for the
// first).
func GoResults(results []ParamType) []Arg { return GoArgs(results) }

// GoRet is retval of a Go function with one result of type t (nil:
// unknown, RAX), for ProbeContext.Ret: a string result is ArgGoString in
// RAX and RBX, a float result ArgUnavailable (it is in X0).
func GoRet(t ebtf.Type) *Arg {
	a := GoResults([]ParamType{{Name: "retval", Type: t}})[0]
	return &a
}

// goABI assigns Go values to registers in order.
type goABI struct {
	nextInt, nextFloat int
}

// goFloatRegs is the number of X registers ABIInternal uses (X0-X14; X15
// is the zero register).
const goFloatRegs = 15

// goAssignment is where one value went: integer registers (pt_regs names)
// with the type of the first, and X register numbers.
type goAssignment struct {
	ints      []string
	firstType ebtf.Type
	floats    []int
}

func (s *goABI) arg(p ParamType) Arg {
	saved := *s
	var as goAssignment
	why := s.assign(p.Type, &as)
	if why != "" {
		*s = saved // the whole value goes to the stack
		return unavailable(p, "passed on the stack ("+why+")")
	}
	switch {
	case isGoString(p.Type):
		a := regArg(p, as.ints[0], true)
		a.Kind = ArgGoString
		a.Off2, _ = PtRegsOffset(as.ints[1])
		return a
	case len(as.ints) == 0 && len(as.floats) > 0:
		return unavailable(p, fmt.Sprintf("floating point, passed in X%d, which pt_regs doesn't hold", as.floats[0]))
	case len(as.ints) == 0:
		return unavailable(p, "zero-sized, passed in no register")
	}
	t := p.Type
	if t != nil {
		t = as.firstType // the first word of a struct, slice or interface
	}
	return regArg(ParamType{Name: p.Name, Type: t}, as.ints[0], true)
}

// assign register-assigns a value of type t (nil: one integer word) into
// as, and returns why it can't be, or "".
func (s *goABI) assign(t ebtf.Type, as *goAssignment) string {
	if t == nil {
		return s.assignInt(nil, as)
	}
	switch u := ebtf.UnderlyingType(t).(type) {
	case *ebtf.Int:
		if u.Size > 8 {
			return "an integer wider than a register"
		}
		return s.assignInt(t, as)
	case *ebtf.Float:
		n := 1
		if isComplex(u) {
			n = 2
		}
		for range n {
			if s.nextFloat >= goFloatRegs {
				return "the float registers ran out"
			}
			as.floats = append(as.floats, s.nextFloat)
			s.nextFloat++
		}
		return ""
	case *ebtf.Struct:
		for _, m := range u.Members {
			if why := s.assign(m.Type, as); why != "" {
				return why
			}
		}
		return ""
	case *ebtf.Array:
		switch u.Nelems {
		case 0:
			return ""
		case 1:
			return s.assign(u.Type, as)
		}
		return "an array of more than one element"
	case *ebtf.Union:
		return "a union"
	}
	return s.assignInt(t, as) // pointers, maps, channels, funcs
}

func (s *goABI) assignInt(t ebtf.Type, as *goAssignment) string {
	if s.nextInt >= len(goRegs) {
		return "the integer registers ran out"
	}
	if len(as.ints) == 0 {
		as.firstType = t
	}
	as.ints = append(as.ints, goRegs[s.nextInt])
	s.nextInt++
	return ""
}

// isGoString reports whether t is Go's string header as DWARF describes
// it: struct string { uint8 *str; int len }.
func isGoString(t ebtf.Type) bool {
	if t == nil {
		return false
	}
	st, ok := ebtf.UnderlyingType(t).(*ebtf.Struct)
	return ok && st.Name == "string" && st.Size == 16 && len(st.Members) == 2 &&
		st.Members[0].Name == "str" && st.Members[1].Name == "len"
}

func regArg(p ParamType, reg string, user bool) Arg {
	off, _ := PtRegsOffset(reg)
	return Arg{Name: p.Name, Type: p.Type, Kind: ArgCtx, Off: off, Size: 8, Signed: btf.IsSigned(p.Type), User: user}
}

// RetReg is retval in a kretprobe or uretprobe: RAX.
func RetReg(t ebtf.Type) *Arg {
	return &Arg{Name: "retval", Type: t, Kind: ArgCtx, Off: ptRegs["ax"], Size: 8, Signed: btf.IsSigned(t)}
}

// SyscallWrapperArgs returns the arguments of a syscall as seen from a
// probe on its wrapper (__x64_sys_read(const struct pt_regs *regs)): each
// is read from the user registers the wrapper receives. regsOff is where
// the wrapper's first argument lives in the program's ctx: 112 (rdi in
// pt_regs) for kprobes, 0 (first slot) for fentry.
func SyscallWrapperArgs(params []ParamType, regsOff int16) []Arg {
	var args []Arg
	for i, p := range params {
		if i >= len(syscallRegs) {
			break
		}
		off2, _ := PtRegsOffset(syscallRegs[i])
		args = append(args, Arg{Name: p.Name, Type: p.Type, Kind: ArgRegsIndirect, Off: regsOff, Off2: off2, Size: 8, Signed: btf.IsSigned(p.Type), User: true})
	}
	return args
}

// FentryArgs returns the arguments of an fentry/fexit program: 8-byte
// slots in the ctx, where a struct passed by value takes one slot per 8
// bytes (at most two). It also returns the slot of fexit's return value.
// Kernels before 5.17 allow at most 6 argument slots.
func FentryArgs(params []ParamType) ([]Arg, int16, error) {
	var args []Arg
	slot := 0
	for _, p := range params {
		words := 1
		if p.Type != nil {
			if s, ok := ebtf.UnderlyingType(p.Type).(*ebtf.Struct); ok {
				words = int(s.Size+7) / 8
				if words > 2 {
					return nil, 0, fmt.Errorf("parameter %s: structs larger than 16 bytes passed by value can't be read by fentry", p.Name)
				}
			}
		}
		args = append(args, Arg{Name: p.Name, Type: p.Type, Kind: ArgCtx, Off: int16(8 * slot), Size: 8, Signed: btf.IsSigned(p.Type)})
		slot += words
	}
	return args, int16(8 * slot), nil
}
