package dwarfinfo

import (
	"debug/dwarf"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"testing"

	ebtf "github.com/cilium/ebpf/btf"
)

// describe renders a lowered type compactly for comparisons, stopping at
// named structs, unions and enums.
func describe(t ebtf.Type) string {
	switch v := t.(type) {
	case nil:
		return "<nil>"
	case *ebtf.Void:
		return "void"
	case *ebtf.Int:
		return v.Name
	case *ebtf.Float:
		return v.Name
	case *ebtf.Pointer:
		return "*" + describe(v.Target)
	case *ebtf.Const:
		return "const " + describe(v.Type)
	case *ebtf.Volatile:
		return "volatile " + describe(v.Type)
	case *ebtf.Restrict:
		return "restrict " + describe(v.Type)
	case *ebtf.Typedef:
		return v.Name
	case *ebtf.Struct:
		return "struct " + v.Name
	case *ebtf.Union:
		return "union " + v.Name
	case *ebtf.Enum:
		return "enum " + v.Name
	case *ebtf.Fwd:
		return "fwd " + v.Name
	case *ebtf.Array:
		return "[" + strconv.Itoa(int(v.Nelems)) + "]" + describe(v.Type)
	case *ebtf.FuncProto:
		var ps []string
		for _, p := range v.Params {
			ps = append(ps, describe(p.Type))
		}
		return describe(v.Return) + "(" + strings.Join(ps, ", ") + ")"
	}
	return "?"
}

// entryWith returns a DIE with one exprloc attribute.
func entryWith(attr dwarf.Attr, val []byte) *dwarf.Entry {
	return &dwarf.Entry{Field: []dwarf.Field{{Attr: attr, Val: val, Class: dwarf.ClassExprLoc}}}
}

// cBuilds are the fixture builds the DWARF tests run against: DWARF 5 and
// DWARF 4 (DW_AT_bit_offset bitfields, .debug_loc), -O0 and -O2.
var cBuilds = [][]string{
	{"-g", "-O0"},
	{"-gdwarf-4", "-O0"},
	{"-g", "-O2"},
	{"-gdwarf-4", "-O2"},
}

func TestFuncPrototypes(t *testing.T) {
	for _, flags := range cBuilds {
		t.Run(strings.Join(flags, ""), func(t *testing.T) {
			b := open(t, build(t, "gcc", "funcs.c", flags...))
			for _, tt := range []struct {
				fn     string
				want   []string // "name type"
				ret    string
				wantFn string
			}{
				{"add_int", []string{"a int", "b long int", "s *char"}, "int", "add_int"},
				{"walk", []string{"n *struct node", "m *node_t", "d enum delta"}, "long int", "walk"},
				{"with_callback", []string{"cb callback_t", "raw *int(*void)", "len size_t"}, "<nil>", "with_callback"},
				{"local_helper", []string{"c unsigned char"}, "int", "local_helper"},
				{"aliased64", []string{"x int"}, "int", "aliased64"},
			} {
				fn, err := b.Func(tt.fn)
				if err != nil {
					t.Errorf("Func(%s): %v", tt.fn, err)
					continue
				}
				var got []string
				for _, p := range fn.Params {
					got = append(got, p.Name+" "+describe(p.Type))
				}
				if !reflect.DeepEqual(got, tt.want) || describe(fn.Ret) != tt.ret || fn.Name != tt.wantFn || fn.Module != b.Path() {
					t.Errorf("Func(%s) = %s %v -> %s (module %s); want %s %v -> %s", tt.fn, fn.Name, got, describe(fn.Ret), fn.Module, tt.wantFn, tt.want, tt.ret)
				}
			}
			fn, err := b.Func("with_callback")
			if err != nil {
				t.Fatal(err)
			}
			cb := ebtf.UnderlyingType(fn.Params[0].Type)
			if got := describe(cb); got != "*int(*const char, long int)" {
				t.Errorf("callback_t lowers to %s", got)
			}
		})
	}
}

func TestStructLowering(t *testing.T) {
	for _, flags := range cBuilds {
		t.Run(strings.Join(flags, ""), func(t *testing.T) {
			b := open(t, build(t, "gcc", "funcs.c", flags...))
			typ, err := b.Type("struct node")
			if err != nil {
				t.Fatal(err)
			}
			node := typ.(*ebtf.Struct)
			if node.Size != 88 {
				t.Errorf("sizeof(struct node) = %d, want 88", node.Size)
			}
			type member struct {
				name     string
				typ      string
				off, bit ebtf.Bits
			}
			want := []member{
				{"id", "int", 0, 0},
				{"flag", "unsigned int", 32, 1},
				{"level", "unsigned int", 33, 3},
				{"signed_bits", "int", 36, 5},
				{"name", "[16]char", 48, 0},
				{"in", "struct inner", 192, 0},
				{"color", "enum color", 320, 0},
				{"next", "*struct node", 384, 0},
				{"grid", "[2][3]int", 448, 0},
				{"u", "union ", 640, 0},
				{"cv", "volatile const int", 672, 0},
			}
			var got []member
			for _, m := range node.Members {
				d := describe(m.Type)
				if d == "const volatile int" {
					d = "volatile const int" // qualifier order is the compiler's choice
				}
				got = append(got, member{m.Name, d, m.Offset, m.BitfieldSize})
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("struct node members\n got %v\nwant %v", got, want)
			}
			// Recursion: next points at the very same Struct value.
			if next := node.Members[7].Type.(*ebtf.Pointer).Target; next != ebtf.Type(node) {
				t.Error("struct node's next does not point back at the same *Struct")
			}
			inner := node.Members[5].Type.(*ebtf.Struct)
			if inner.Size != 16 || inner.Members[1].Name != "b" || inner.Members[1].Offset != 64 {
				t.Errorf("struct inner = %+v", inner)
			}
			u := node.Members[9].Type.(*ebtf.Union)
			if u.Size != 4 || len(u.Members) != 2 || u.Members[1].Name != "f" || u.Members[1].Offset != 0 {
				t.Errorf("anonymous union = %+v", u)
			}

			color := node.Members[6].Type.(*ebtf.Enum)
			if color.Signed || color.Size != 4 || !reflect.DeepEqual(color.Values, []ebtf.EnumValue{{Name: "RED", Value: 0}, {Name: "GREEN", Value: 2}, {Name: "BLUE", Value: 7}}) {
				t.Errorf("enum color = %+v", color)
			}
			delta, err := b.Type("enum delta")
			if err != nil {
				t.Fatal(err)
			}
			d := delta.(*ebtf.Enum)
			minus1 := int64(-1)
			if !d.Signed || !reflect.DeepEqual(d.Values, []ebtf.EnumValue{{Name: "DOWN", Value: uint64(minus1)}, {Name: "FLAT", Value: 0}, {Name: "UP", Value: 1}}) {
				t.Errorf("enum delta = %+v", d)
			}

			// The typedef resolves to the same struct.
			td, err := b.Type("node_t")
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := td.(*ebtf.Typedef); !ok || ebtf.UnderlyingType(td) != ebtf.Type(node) {
				t.Errorf("Type(node_t) = %v, want a typedef of struct node", td)
			}
			if sz, err := ebtf.Sizeof(td); err != nil || sz != 88 {
				t.Errorf("Sizeof(node_t) = %d, %v", sz, err)
			}
			fn, err := b.Func("walk")
			if err != nil {
				t.Fatal(err)
			}
			if fn.Params[0].Type.(*ebtf.Pointer).Target != ebtf.Type(node) {
				t.Error("walk's n and Type(struct node) are different values")
			}
		})
	}
}

func TestTypeLookup(t *testing.T) {
	b := open(t, build(t, "gcc", "funcs.c", "-g", "-O0"))
	for _, tt := range []struct{ have, want string }{
		{"struct node", "struct node"},
		{"node", "struct node"},
		{"node_t", "node_t"},
		{"callback_t", "callback_t"},
		{"enum color", "enum color"},
		{"color", "enum color"},
		{"int", "int"},
		{"size_t", "size_t"},
	} {
		got, err := b.Type(tt.have)
		if err != nil || describe(got) != tt.want {
			t.Errorf("Type(%q) = %s, %v; want %s", tt.have, describe(got), err, tt.want)
		}
	}
	for _, name := range []string{"struct nosuch", "union node", "nosuch_t"} {
		if _, err := b.Type(name); !errors.Is(err, ErrNotFound) {
			t.Errorf("Type(%q) error = %v, want ErrNotFound", name, err)
		}
	}
}

func TestFuncErrors(t *testing.T) {
	b := open(t, build(t, "gcc", "funcs.c", "-g", "-O0"))
	if _, err := b.Func("nosuchfunc"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Func(nosuchfunc) error = %v, want ErrNotFound", err)
	}

	nodebug := open(t, build(t, "gcc", "funcs.c", "-O0"))
	_, err := nodebug.Func("add_int")
	if !errors.Is(err, ErrNoDebugInfo) || !strings.Contains(err.Error(), "-g") || !strings.Contains(err.Error(), "signature") {
		t.Errorf("Func without DWARF: error %v; want ErrNoDebugInfo suggesting -g or a signature", err)
	}
	if _, err := nodebug.Type("struct node"); !errors.Is(err, ErrNoDebugInfo) {
		t.Errorf("Type without DWARF: error %v, want ErrNoDebugInfo", err)
	}
	if _, err := nodebug.ParamLocations("add_int"); !errors.Is(err, ErrNoDebugInfo) {
		t.Errorf("ParamLocations without DWARF: error %v, want ErrNoDebugInfo", err)
	}
	// Symbols still work without DWARF.
	if _, err := nodebug.Lookup("add_int"); err != nil {
		t.Error(err)
	}
}

func TestCXXFunc(t *testing.T) {
	b := open(t, build(t, "g++", "cxx.cc", "-g", "-O0"))
	for _, tt := range []struct {
		have, wantName string
		params         []string
		ret            string
	}{
		{"_ZN2ns6Widget4pokeEi", "_ZN2ns6Widget4pokeEi", []string{"this const *struct Widget", "x int"}, "int"},
		{"ns::Widget::poke(int)", "_ZN2ns6Widget4pokeEi", []string{"this const *struct Widget", "x int"}, "int"},
		{"ns::Widget::poke(long, ns::Widget const&)", "_ZN2ns6Widget4pokeElRKS0_", []string{"this const *struct Widget", "x long int", "other *const struct Widget"}, "long int"},
		{"ns::Widget::count", "_ZN2ns6Widget5countEv", nil, "int"},
		{"free_function", "_Z13free_functionPN2ns6WidgetE", []string{"w *struct Widget"}, "int"},
	} {
		fn, err := b.Func(tt.have)
		if err != nil {
			t.Errorf("Func(%q): %v", tt.have, err)
			continue
		}
		var got []string
		for _, p := range fn.Params {
			got = append(got, p.Name+" "+describe(p.Type))
		}
		if fn.Name != tt.wantName || !reflect.DeepEqual(got, tt.params) || describe(fn.Ret) != tt.ret {
			t.Errorf("Func(%q) = %s %v -> %s; want %s %v -> %s", tt.have, fn.Name, got, describe(fn.Ret), tt.wantName, tt.params, tt.ret)
		}
	}
	for _, name := range []string{"poke", "ns::Widget::poke"} {
		if _, err := b.Func(name); !errors.Is(err, ErrAmbiguous) || !strings.Contains(err.Error(), "_ZN2ns6Widget4pokeEi") {
			t.Errorf("Func(%q) error = %v, want ErrAmbiguous listing the overloads", name, err)
		}
	}
	w, err := b.Type("ns::Widget")
	if err != nil {
		t.Fatal(err)
	}
	if s, ok := w.(*ebtf.Struct); !ok || s.Size != 4 || len(s.Members) != 1 || s.Members[0].Name != "value_" {
		t.Errorf("Type(ns::Widget) = %v", w)
	}
}

func TestParamLocations(t *testing.T) {
	for _, tt := range []struct {
		flags []string
		fn    string
		want  []Location
	}{
		// -O0: the prologue spills the arguments to the frame.
		{[]string{"-g", "-O0"}, "add_int", []Location{{Kind: LocFBReg, Offset: -36}, {Kind: LocFBReg, Offset: -48}, {Kind: LocFBReg, Offset: -56}}},
		// -O2: location lists say where each argument is at the entry: rdi, rsi, rdx.
		{[]string{"-g", "-O2"}, "add_int", []Location{{Kind: LocReg, Reg: 5, AtEntry: true}, {Kind: LocReg, Reg: 4, AtEntry: true}, {Kind: LocReg, Reg: 1, AtEntry: true}}},
		{[]string{"-gdwarf-4", "-O2"}, "walk", []Location{{Kind: LocReg, Reg: 5, AtEntry: true}, {Kind: LocReg, Reg: 4, AtEntry: true}, {Kind: LocReg, Reg: 1, AtEntry: true}}},
	} {
		b := open(t, build(t, "gcc", "funcs.c", tt.flags...))
		got, err := b.ParamLocations(tt.fn)
		if err != nil {
			t.Errorf("%v ParamLocations(%s): %v", tt.flags, tt.fn, err)
			continue
		}
		if len(got) != len(tt.want) {
			t.Errorf("%v ParamLocations(%s) = %+v, want %+v", tt.flags, tt.fn, got, tt.want)
			continue
		}
		for i := range got {
			w := tt.want[i]
			if w.Kind == LocFBReg {
				// Exact frame offsets are the compiler's choice: check kind,
				// sign and that they are distinct.
				if got[i].Kind != LocFBReg || got[i].Offset >= 0 || got[i].AtEntry {
					t.Errorf("%v %s param %d = %+v, want a CFA-relative stack slot not valid at entry", tt.flags, tt.fn, i, got[i])
				}
				continue
			}
			if got[i] != w {
				t.Errorf("%v %s param %d = %+v, want %+v", tt.flags, tt.fn, i, got[i], w)
			}
		}
	}
}

func TestDecodeLocation(t *testing.T) {
	cfa := &subprogram{entry: entryWith(dwarf.AttrFrameBase, []byte{0x9c})}        // DW_AT_frame_base: DW_OP_call_frame_cfa
	rbp := &subprogram{entry: entryWith(dwarf.AttrFrameBase, []byte{0x56})}        // DW_OP_reg6
	rsp8 := &subprogram{entry: entryWith(dwarf.AttrFrameBase, []byte{0x77, 0x08})} // DW_OP_breg7 8
	none := &subprogram{entry: entryWith(dwarf.AttrName, []byte("x"))}             // no frame base
	ds := &dwarfState{}
	for _, tt := range []struct {
		name string
		sp   *subprogram
		have []byte
		want Location
	}{
		{"reg5", cfa, []byte{0x55}, Location{Kind: LocReg, Reg: 5}},
		{"regx 17", cfa, []byte{0x90, 0x11}, Location{Kind: LocReg, Reg: 17}},
		{"breg7 -8", cfa, []byte{0x77, 0x78}, Location{Kind: LocBReg, Reg: 7, Offset: -8}},
		{"bregx 6 16", cfa, []byte{0x92, 0x06, 0x10}, Location{Kind: LocBReg, Reg: 6, Offset: 16}},
		{"fbreg -20 cfa", cfa, []byte{0x91, 0x6c}, Location{Kind: LocFBReg, Offset: -20}},
		{"fbreg -20 rbp", rbp, []byte{0x91, 0x6c}, Location{Kind: LocBReg, Reg: 6, Offset: -20}},
		{"fbreg -20 rsp+8", rsp8, []byte{0x91, 0x6c}, Location{Kind: LocBReg, Reg: 7, Offset: -12}},
		{"fbreg no frame base", none, []byte{0x91, 0x6c}, Location{}},
		{"piece", cfa, []byte{0x55, 0x93, 0x08, 0x54, 0x93, 0x08}, Location{}},
		{"entry_value", cfa, []byte{0xa3, 0x01, 0x55, 0x9f}, Location{}},
		{"empty", cfa, nil, Location{}},
	} {
		if got := ds.decodeLocation(tt.sp, tt.have); got != tt.want {
			t.Errorf("%s: decodeLocation(% x) = %+v, want %+v", tt.name, tt.have, got, tt.want)
		}
	}
}

func TestGoFunc(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
		if _, err := os.Stat(goTool); err != nil {
			t.Skip("go toolchain not installed: cannot build testdata/gofunc")
		}
	}
	out := filepath.Join(t.TempDir(), "gofunc")
	cmd := exec.Command(goTool, "build", "-o", out, "./testdata/gofunc")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	b := open(t, out)
	if !b.IsGo() {
		t.Error("IsGo() = false for a Go binary")
	}
	fn, err := b.Func("main.work")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range fn.Params {
		got = append(got, p.Name+" "+describe(p.Type))
	}
	// Results (~r0, ~r1) are not parameters; two results give no Ret.
	if want := []string{"name struct string", "n int", "p *main.point", "xs struct []uint8"}; !reflect.DeepEqual(got, want) || fn.Ret != nil {
		t.Errorf("Func(main.work) = %v -> %s; want %v -> <nil>", got, describe(fn.Ret), want)
	}
	single, err := b.Func("main.single")
	if err != nil {
		t.Fatal(err)
	}
	if describe(single.Ret) != "int" || len(single.Params) != 1 {
		t.Errorf("Func(main.single) = %+v", single)
	}
}

// TestSeparateDebugFile strips a binary's DWARF into a separate file and
// finds it again through .gnu_debuglink and through the build ID.
func TestSeparateDebugFile(t *testing.T) {
	objcopy, err := exec.LookPath("objcopy")
	if err != nil {
		t.Skip("objcopy not installed")
	}
	path := build(t, "gcc", "funcs.c", "-g", "-O0", "-Wl,--build-id")
	dir := filepath.Dir(path)
	run := func(args ...string) {
		t.Helper()
		if b, err := exec.Command(objcopy, args...).CombinedOutput(); err != nil {
			t.Fatalf("objcopy %v: %v\n%s", args, err, b)
		}
	}
	dbg := filepath.Join(dir, "funcs.debug")
	run("--only-keep-debug", path, dbg)
	run("--strip-debug", "--add-gnu-debuglink="+dbg, path)

	b := open(t, path)
	if hasDebugInfo(b.elf) {
		t.Fatal("binary still has .debug_info")
	}
	if fn, err := b.Func("add_int"); err != nil || len(fn.Params) != 3 {
		t.Fatalf("Func via .gnu_debuglink = %+v, %v", fn, err)
	}

	// Build-ID lookup under a private debug root.
	id := hex.EncodeToString(b.buildID())
	if len(id) < 4 {
		t.Fatalf("no build ID in %s", path)
	}
	root := t.TempDir()
	idPath := filepath.Join(root, ".build-id", id[:2], id[2:]+".debug")
	if err := os.MkdirAll(filepath.Dir(idPath), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(dbg, idPath); err != nil {
		t.Fatal(err)
	}
	old := debugRoot
	debugRoot = root
	t.Cleanup(func() { debugRoot = old })
	b2 := open(t, path)
	if fn, err := b2.Func("walk"); err != nil || len(fn.Params) != 3 {
		t.Fatalf("Func via build ID = %+v, %v", fn, err)
	}
}
