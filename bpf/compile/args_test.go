package compile

import (
	"fmt"
	"strings"
	"testing"

	ebtf "github.com/cilium/ebpf/btf"
)

var (
	tyDouble  = &ebtf.Float{Name: "double", Size: 8}
	tyFloat   = &ebtf.Float{Name: "float", Size: 4}
	tyLDouble = &ebtf.Float{Name: "long double", Size: 16}
	tyCDouble = &ebtf.Float{Name: "complex double", Size: 16}
	tyI128    = &ebtf.Int{Name: "__int128", Size: 16, Encoding: ebtf.Signed}
)

// cstruct builds a struct of the given member types laid out with C
// alignment (each member aligned to min(size, 8)).
func cstruct(name string, types ...ebtf.Type) *ebtf.Struct {
	s := &ebtf.Struct{Name: name}
	off, align := 0, 1
	for i, t := range types {
		size, err := ebtf.Sizeof(t)
		if err != nil {
			panic(err)
		}
		a := min(size, 8)
		if arr, ok := t.(*ebtf.Array); ok {
			a, _ = ebtf.Sizeof(arr.Type)
		}
		off = (off + a - 1) &^ (a - 1)
		align = max(align, a)
		s.Members = append(s.Members, ebtf.Member{Name: fmt.Sprintf("m%d", i), Type: t, Offset: ebtf.Bits(8 * off)})
		off += size
	}
	s.Size = uint32((off + align - 1) &^ (align - 1))
	return s
}

// placement renders args as "name:reg" (the pt_regs register) or
// "name:-reason".
func placement(args []Arg) string {
	regOf := map[int16]string{}
	for name, off := range ptRegs {
		regOf[off] = name
	}
	var out []string
	for _, a := range args {
		switch a.Kind {
		case ArgUnavailable:
			out = append(out, a.Name+":-"+a.Reason)
		case ArgGoString:
			out = append(out, a.Name+":"+regOf[a.Off]+"+"+regOf[a.Off2])
		default:
			out = append(out, a.Name+":"+regOf[a.Off])
		}
	}
	return strings.Join(out, " ")
}

func params(types ...ebtf.Type) []ParamType {
	var ps []ParamType
	for i, t := range types {
		ps = append(ps, ParamType{Name: string(rune('a' + i)), Type: t})
	}
	return ps
}

// TestRegArgsSysV checks argument registers under the SysV x86-64
// convention: small structs by value take one register per eightbyte,
// large ones and long doubles go to memory without taking one, floats
// take XMM registers, and an argument that no longer fits goes to the
// stack while a later, smaller one still gets the register left.
func TestRegArgsSysV(t *testing.T) {
	ptr := &ebtf.Pointer{Target: btfChar}
	s8 := cstruct("s8", btfInt, btfInt)                                        // 8 bytes: one register
	s16 := cstruct("s16", ptr, btfULong)                                       // 16 bytes: two registers
	s24 := cstruct("s24", ptr, ptr, ptr)                                       // memory
	sMixed := cstruct("mixed", btfULong, tyDouble)                             // INTEGER + SSE
	sFloats := cstruct("floats", tyFloat, tyFloat)                             // one SSE eightbyte
	sSmall := cstruct("small", btfChar, btfChar)                               // 2 bytes: one register
	sLD := cstruct("ld", tyLDouble)                                            // memory (X87)
	arr := cstruct("arr", &ebtf.Array{Type: btfInt, Index: btfInt, Nelems: 3}) // 12 bytes: two registers
	for _, tc := range []struct {
		name   string
		params []ParamType
		want   string
	}{
		{"ints", params(btfInt, ptr, btfULong, btfInt, btfInt, btfInt), "a:di b:si c:dx d:cx e:r8 f:r9"},
		{"seventh on the stack", params(btfInt, btfInt, btfInt, btfInt, btfInt, btfInt, btfInt), "a:di b:si c:dx d:cx e:r8 f:r9 g:-passed on the stack (the argument registers ran out)"},
		{"untyped", []ParamType{{Name: "a"}, {Name: "b"}}, "a:di b:si"},
		{"8-byte struct", params(s8, btfInt), "a:di b:si"},
		{"small struct", params(sSmall, btfInt), "a:di b:si"},
		{"16-byte struct takes two", params(btfInt, s16, btfInt), "a:di b:-passed in two registers (rsi, rdx), which pt_regs doesn't hold next to each other c:cx"},
		{"array struct takes two", params(arr, btfInt), "a:-passed in two registers (rdi, rsi), which pt_regs doesn't hold next to each other b:dx"},
		{"large struct takes none", params(s24, btfInt, ptr), "a:-passed on the stack (a struct or union larger than 16 bytes) b:di c:si"},
		{"long double takes none", params(tyLDouble, btfInt), "a:-passed on the stack (long double) b:di"},
		{"struct of long double", params(sLD, btfInt), "a:-passed on the stack (a struct with unaligned or long double fields) b:di"},
		{"floats take xmm", params(tyDouble, btfInt, tyFloat, ptr), "a:-floating point, passed in xmm0, which pt_regs doesn't hold b:di c:-floating point, passed in xmm1, which pt_regs doesn't hold d:si"},
		{"float struct", params(sFloats, btfInt), "a:-floating point, passed in xmm0, which pt_regs doesn't hold b:di"},
		{"complex double", params(tyCDouble, btfInt), "a:-floating point, passed in xmm0, which pt_regs doesn't hold b:di"},
		{"mixed struct", params(sMixed, btfInt), "a:-passed partly in rdi and partly in xmm0, which pt_regs doesn't hold b:si"},
		{"__int128", params(tyI128, btfInt), "a:-passed in two registers (rdi, rsi), which pt_regs doesn't hold next to each other b:dx"},
		{"struct that no longer fits", params(btfInt, btfInt, btfInt, btfInt, btfInt, s16, btfInt), "a:di b:si c:dx d:cx e:r8 f:-passed on the stack (the argument registers ran out) g:r9"},
		{"typedef'd struct", params(&ebtf.Typedef{Name: "pair_t", Type: s16}, &ebtf.Const{Type: btfInt}), "a:-passed in two registers (rdi, rsi), which pt_regs doesn't hold next to each other b:dx"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if have := placement(RegArgs(tc.params, false)); have != tc.want {
				t.Errorf("\nhave %s\nwant %s", have, tc.want)
			}
		})
	}
}

// TestCheckUnavailableArg: using an argument the probe can't read is an
// error that says why; later arguments are still readable.
func TestCheckUnavailableArg(t *testing.T) {
	pc := &ProbeContext{Mode: ModeKprobe, Regs: true, Args: RegArgs(params(cstruct("big", tyCharPtr, tyCharPtr, tyCharPtr), btfInt), false)}
	if _, err := CheckTrace(mustParse(t, `f "%d", b`), pc, CheckOptions{}); err != nil {
		t.Fatalf("b: %v", err)
	}
	_, err := CheckTrace(mustParse(t, `f "%p", &a`), pc, CheckOptions{})
	if err == nil || !strings.Contains(err.Error(), "a can't be read: passed on the stack (a struct or union larger than 16 bytes)") {
		t.Fatalf("a: %v", err)
	}
}

// Go types as DWARF describes them, lowered to BTF.
var (
	goInt     = &ebtf.Int{Name: "int", Size: 8, Encoding: ebtf.Signed}
	goUint8   = &ebtf.Int{Name: "uint8", Size: 1}
	goBool    = &ebtf.Int{Name: "bool", Size: 1, Encoding: ebtf.Bool}
	goF64     = &ebtf.Float{Name: "float64", Size: 8}
	goF32     = &ebtf.Float{Name: "float32", Size: 4}
	goC128    = &ebtf.Float{Name: "complex128", Size: 16}
	goPtr     = &ebtf.Pointer{Target: goUint8}
	goString  = &ebtf.Struct{Name: "string", Size: 16, Members: []ebtf.Member{{Name: "str", Type: goPtr}, {Name: "len", Type: goInt, Offset: 64}}}
	goSlice   = &ebtf.Struct{Name: "[]uint8", Size: 24, Members: []ebtf.Member{{Name: "array", Type: goPtr}, {Name: "len", Type: goInt, Offset: 64}, {Name: "cap", Type: goInt, Offset: 128}}}
	goIface   = &ebtf.Typedef{Name: "error", Type: &ebtf.Struct{Name: "runtime.iface", Size: 16, Members: []ebtf.Member{{Name: "tab", Type: goPtr}, {Name: "data", Type: goPtr, Offset: 64}}}}
	goPoint   = &ebtf.Struct{Name: "main.point", Size: 16, Members: []ebtf.Member{{Name: "x", Type: goF64}, {Name: "n", Type: goInt, Offset: 64}}}
	goPair32  = &ebtf.Struct{Name: "main.pair", Size: 8, Members: []ebtf.Member{{Name: "a", Type: &ebtf.Int{Name: "int32", Size: 4, Encoding: ebtf.Signed}}, {Name: "b", Type: &ebtf.Int{Name: "int32", Size: 4, Encoding: ebtf.Signed}, Offset: 32}}}
	goArr1    = &ebtf.Array{Type: goInt, Index: goInt, Nelems: 1}
	goArr2    = &ebtf.Array{Type: goInt, Index: goInt, Nelems: 2}
	goEmpty   = &ebtf.Struct{Name: "struct {}", Size: 0}
	goMapType = &ebtf.Typedef{Name: "map[string]int", Type: &ebtf.Pointer{Target: &ebtf.Struct{Name: "hash", Size: 48}}}
)

// TestGoArgs checks Go's ABIInternal register assignment: floats use X
// registers and don't shift integer arguments, strings/slices/interfaces
// and structs take a register per word (field by field: two int32s take
// two), arrays of one element are their element, a value that doesn't fit
// goes to the stack whole and leaves the registers to later arguments.
func TestGoArgs(t *testing.T) {
	nine := []ebtf.Type{goInt, goInt, goInt, goInt, goInt, goInt, goInt, goInt, goInt}
	fifteen := make([]ebtf.Type, 15)
	for i := range fifteen {
		fifteen[i] = goF64
	}
	for _, tc := range []struct {
		name   string
		params []ParamType
		want   string
	}{
		{"ints", params(goInt, goPtr, goBool, goMapType), "a:ax b:bx c:cx d:di"},
		{"nine ints", params(nine...), "a:ax b:bx c:cx d:di e:si f:r8 g:r9 h:r10 i:r11"},
		{"tenth on the stack", params(append(nine, goInt)...), "a:ax b:bx c:cx d:di e:si f:r8 g:r9 h:r10 i:r11 j:-passed on the stack (the integer registers ran out)"},
		{"floats don't shift ints", params(goInt, goF64, goInt, goF32, goString, goInt), "a:ax b:-floating point, passed in X0, which pt_regs doesn't hold c:bx d:-floating point, passed in X1, which pt_regs doesn't hold e:cx+di f:si"},
		{"complex takes two X", params(goC128, goF64, goInt), "a:-floating point, passed in X0, which pt_regs doesn't hold b:-floating point, passed in X2, which pt_regs doesn't hold c:ax"},
		{"sixteenth float on the stack", params(append(fifteen, goF64, goInt)...), ""},
		{"string", params(goString, goInt), "a:ax+bx b:cx"},
		{"slice takes three", params(goSlice, goInt), "a:ax b:di"},
		{"interface takes two", params(goIface, goInt), "a:ax b:cx"},
		{"struct field by field", params(goPair32, goInt), "a:ax b:cx"},
		{"struct with a float", params(goPoint, goInt), "a:ax b:bx"},
		{"array of one", params(goArr1, goInt), "a:ax b:bx"},
		{"array of two on the stack", params(goArr2, goInt), "a:-passed on the stack (an array of more than one element) b:ax"},
		{"zero-sized", params(goEmpty, goInt), "a:-zero-sized, passed in no register b:ax"},
		{"slice that no longer fits", params(goInt, goInt, goInt, goInt, goInt, goInt, goInt, goSlice, goInt), "a:ax b:bx c:cx d:di e:si f:r8 g:r9 h:-passed on the stack (the integer registers ran out) i:r10"},
		{"untyped", []ParamType{{Name: "a"}, {Name: "b"}}, "a:ax b:bx"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			have := placement(GoArgs(tc.params))
			if tc.name == "sixteenth float on the stack" {
				// 15 floats in X0-X14, the 16th on the stack, the int in RAX.
				if !strings.HasSuffix(have, "p:-passed on the stack (the float registers ran out) q:ax") {
					t.Errorf("have %s", have)
				}
				return
			}
			if have != tc.want {
				t.Errorf("\nhave %s\nwant %s", have, tc.want)
			}
		})
	}
}

// TestGoArgTypes: a value in several registers is typed as its first
// word, so a slice shows its data pointer.
func TestGoArgTypes(t *testing.T) {
	args := GoArgs(params(goSlice, goPair32, goIface))
	for i, want := range []string{"uint8 *", "int32", "uint8 *"} {
		if have := cType(args[i].Type); have != want {
			t.Errorf("arg %d: type %s, want %s", i+1, have, want)
		}
	}
}

// TestGoRet checks the registers of Go results: from RAX (and X0) again.
func TestGoRet(t *testing.T) {
	for _, tc := range []struct {
		typ  ebtf.Type
		want string
	}{
		{nil, "retval:ax"},
		{goInt, "retval:ax"},
		{goString, "retval:ax+bx"},
		{goF64, "retval:-floating point, passed in X0, which pt_regs doesn't hold"},
		{goSlice, "retval:ax"},
	} {
		if have := placement([]Arg{*GoRet(tc.typ)}); have != tc.want {
			t.Errorf("GoRet(%s) = %s, want %s", cType(tc.typ), have, tc.want)
		}
	}
	if have := placement(GoResults([]ParamType{{"x", goF64}, {"n", goInt}, {"err", goIface}})); have != "x:-floating point, passed in X0, which pt_regs doesn't hold n:ax err:bx" {
		t.Errorf("GoResults = %s", have)
	}
	if !GoRet(goInt).User {
		t.Error("Go results are user memory")
	}
}
