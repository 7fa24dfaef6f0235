package compile

import (
	"fmt"
	"strings"
	"testing"

	ebtf "github.com/cilium/ebpf/btf"

	"github.com/btool/btool/specparse"
)

// Synthetic types for the checker and execution tests, shaped like the
// kernel's (anonymous members in qstr, bitfields, arrays, enums, __be16).
// They go through btf.NewBuilder and back, so they are what a TypeSource
// would hand out.
//
//	struct qstr {                    // 16
//		union {
//			struct { u32 hash; u32 len; };
//			u64 hash_len;
//		};
//		const unsigned char *name;     // 8
//	};
//	struct dentry { unsigned int d_flags; int d_pad; struct qstr d_name; };  // d_name at 8, size 24
//	struct path { void *mnt; struct dentry *dentry; };                       // 16
//	struct file {                                                            // 40
//		unsigned int f_mode;   // 0
//		int f_count;           // 4
//		struct path f_path;    // 8
//		long long f_pos;       // 24
//		const char __user *f_ubuf; // 32 (pointer tagged "user")
//	};
//	enum state { ST_NEG = -1, ST_RUN = 1, ST_STOP = 2 };                     // signed, 4 bytes
//	struct sample {        // 40
//		unsigned int a:3;  // bit 0
//		unsigned int b:5;  // bit 3
//		int c:4;           // bit 8 (signed)
//		__be16 port;       // 4
//		short vals[4];     // 6
//		enum state st;     // 16
//		char tag[8];       // 20
//		unsigned long long big; // 32
//	};
//	struct task_struct { int pid; int tgid; char comm[16]; };               // 24
type fixture struct {
	spec *ebtf.Spec
	src  *specSource
}

var fixtureTypes = func() *fixture {
	u8 := &ebtf.Int{Name: "unsigned char", Size: 1}
	char := &ebtf.Int{Name: "char", Size: 1, Encoding: ebtf.Signed | ebtf.Char}
	u16 := &ebtf.Int{Name: "short unsigned int", Size: 2}
	s16 := &ebtf.Int{Name: "short int", Size: 2, Encoding: ebtf.Signed}
	u32i := &ebtf.Int{Name: "unsigned int", Size: 4}
	s32 := &ebtf.Int{Name: "int", Size: 4, Encoding: ebtf.Signed}
	u64i := &ebtf.Int{Name: "long long unsigned int", Size: 8}
	s64 := &ebtf.Int{Name: "long long int", Size: 8, Encoding: ebtf.Signed}
	ulong := &ebtf.Int{Name: "long unsigned int", Size: 8}
	u32 := &ebtf.Typedef{Name: "u32", Type: u32i}
	u64 := &ebtf.Typedef{Name: "u64", Type: u64i}
	be16 := &ebtf.Typedef{Name: "__be16", Type: &ebtf.Typedef{Name: "__u16", Type: u16}}
	sizeT := &ebtf.Typedef{Name: "size_t", Type: &ebtf.Typedef{Name: "__kernel_size_t", Type: ulong}}
	idx := u32i

	hashLen := &ebtf.Struct{Size: 8, Members: []ebtf.Member{
		{Name: "hash", Type: u32, Offset: 0},
		{Name: "len", Type: u32, Offset: 32},
	}}
	anonUnion := &ebtf.Union{Size: 8, Members: []ebtf.Member{
		{Name: "", Type: hashLen, Offset: 0},
		{Name: "hash_len", Type: u64, Offset: 0},
	}}
	qstr := &ebtf.Struct{Name: "qstr", Size: 16, Members: []ebtf.Member{
		{Name: "", Type: anonUnion, Offset: 0},
		{Name: "name", Type: &ebtf.Pointer{Target: &ebtf.Const{Type: u8}}, Offset: 64},
	}}
	dentry := &ebtf.Struct{Name: "dentry", Size: 24, Members: []ebtf.Member{
		{Name: "d_flags", Type: u32i, Offset: 0},
		{Name: "d_pad", Type: s32, Offset: 32},
		{Name: "d_name", Type: qstr, Offset: 64},
	}}
	path := &ebtf.Struct{Name: "path", Size: 16, Members: []ebtf.Member{
		{Name: "mnt", Type: &ebtf.Pointer{Target: &ebtf.Void{}}, Offset: 0},
		{Name: "dentry", Type: &ebtf.Pointer{Target: dentry}, Offset: 64},
	}}
	file := &ebtf.Struct{Name: "file", Size: 40, Members: []ebtf.Member{
		{Name: "f_mode", Type: u32i, Offset: 0},
		{Name: "f_count", Type: s32, Offset: 32},
		{Name: "f_path", Type: path, Offset: 64},
		{Name: "f_pos", Type: s64, Offset: 192},
		{Name: "f_ubuf", Type: &ebtf.Pointer{Target: &ebtf.TypeTag{Value: "user", Type: &ebtf.Const{Type: char}}}, Offset: 256},
	}}
	state := &ebtf.Enum{Name: "state", Size: 4, Signed: true, Values: []ebtf.EnumValue{
		{Name: "ST_NEG", Value: uint64(0xffffffffffffffff)}, {Name: "ST_RUN", Value: 1}, {Name: "ST_STOP", Value: 2},
	}}
	sample := &ebtf.Struct{Name: "sample", Size: 40, Members: []ebtf.Member{
		{Name: "a", Type: u32i, Offset: 0, BitfieldSize: 3},
		{Name: "b", Type: u32i, Offset: 3, BitfieldSize: 5},
		{Name: "c", Type: s32, Offset: 8, BitfieldSize: 4},
		{Name: "port", Type: be16, Offset: 32},
		{Name: "vals", Type: &ebtf.Array{Index: idx, Type: s16, Nelems: 4}, Offset: 48},
		{Name: "st", Type: state, Offset: 128},
		{Name: "tag", Type: &ebtf.Array{Index: idx, Type: char, Nelems: 8}, Offset: 160},
		{Name: "big", Type: u64i, Offset: 256},
	}}
	task := &ebtf.Struct{Name: "task_struct", Size: 24, Members: []ebtf.Member{
		{Name: "pid", Type: s32, Offset: 0},
		{Name: "tgid", Type: s32, Offset: 32},
		{Name: "comm", Type: &ebtf.Array{Index: idx, Type: char, Nelems: 16}, Offset: 64},
	}}
	b, err := ebtf.NewBuilder([]ebtf.Type{file, sample, task, sizeT, state}, nil)
	if err != nil {
		panic(err)
	}
	spec, err := b.Spec()
	if err != nil {
		panic(err)
	}
	return &fixture{spec: spec, src: &specSource{spec: spec}}
}()

// specSource is a TypeSource over a BTF spec, with enumerators.
type specSource struct{ spec *ebtf.Spec }

func (s *specSource) Type(name string) (ebtf.Type, error) {
	name = strings.TrimSpace(name)
	kind, tag, ok := strings.Cut(name, " ")
	if !ok || (kind != "struct" && kind != "union" && kind != "enum") {
		kind, tag = "", name
	}
	types, err := s.spec.AnyTypesByName(tag)
	if err != nil {
		return nil, err
	}
	for _, t := range types {
		switch t.(type) {
		case *ebtf.Struct:
			if kind == "struct" {
				return t, nil
			}
		case *ebtf.Union:
			if kind == "union" {
				return t, nil
			}
		case *ebtf.Enum:
			if kind == "enum" {
				return t, nil
			}
		default:
			if kind == "" {
				return t, nil
			}
		}
	}
	return nil, fmt.Errorf("type %q not found", name)
}

func (s *specSource) EnumValue(name string) (int64, bool) {
	for t := range s.spec.All() {
		if e, ok := t.(*ebtf.Enum); ok {
			for _, v := range e.Values {
				if v.Name == name {
					return int64(v.Value), true
				}
			}
		}
	}
	return 0, false
}

// ftype returns a fixture type by C name ("struct file", "struct file *").
func ftype(t testing.TB, name string) ebtf.Type {
	ptrs := strings.Count(name, "*")
	typ, err := fixtureTypes.src.Type(strings.TrimSpace(strings.ReplaceAll(name, "*", "")))
	if err != nil {
		panic(err)
	}
	for range ptrs {
		typ = &ebtf.Pointer{Target: typ}
	}
	return typ
}

var (
	tyCharPtr      = &ebtf.Pointer{Target: &ebtf.Const{Type: btfChar}}
	tyUserCharPtr  = &ebtf.Pointer{Target: &ebtf.TypeTag{Value: "user", Type: &ebtf.Const{Type: btfChar}}}
	tyInt          = ebtf.Type(btfInt)
	tyULong        = ebtf.Type(btfULong)
	tyLong         = ebtf.Type(btfLong)
	tyDataLocChars = &ebtf.Array{Index: btfUInt, Type: btfChar, Nelems: 0}
)

// Probe contexts for the checker tests.
func kprobeCtx(t testing.TB) *ProbeContext {
	params := []ParamType{
		{"file", ftype(t, "struct file *")},
		{"buf", tyUserCharPtr},
		{"count", ftype(t, "size_t")},
		{"pos", &ebtf.Pointer{Target: tyLong}},
		{"flags", tyInt},
		{"name", tyCharPtr},
	}
	return &ProbeContext{Mode: ModeKprobe, Args: RegArgs(params, false), Regs: true, Types: fixtureTypes.src, Kernel: fixtureTypes.src}
}

func kretprobeCtx(t testing.TB) *ProbeContext {
	pc := kprobeCtx(t)
	pc.Return = true
	pc.Ret = RetReg(&ebtf.Typedef{Name: "ssize_t", Type: btfLong})
	return pc
}

func fentryCtx(t testing.TB) *ProbeContext {
	args, _, err := FentryArgs([]ParamType{
		{"file", ftype(t, "struct file *")},
		{"buf", tyUserCharPtr},
		{"count", ftype(t, "size_t")},
		{"pos", &ebtf.Pointer{Target: tyLong}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return &ProbeContext{Mode: ModeFentry, Args: args, Types: fixtureTypes.src, Kernel: fixtureTypes.src}
}

// tracepointCtx is syscalls:sys_enter_read plus a __data_loc string, a
// char array, a signed short and a __be16 field.
func tracepointCtx(t testing.TB) *ProbeContext {
	fields := []Arg{
		{Name: "__syscall_nr", Type: tyInt, Kind: ArgCtx, Off: 8, Size: 4, Signed: true},
		{Name: "fd", Type: tyULong, Kind: ArgCtx, Off: 16, Size: 8},
		{Name: "buf", Type: &ebtf.Pointer{Target: btfChar}, Kind: ArgCtx, Off: 24, Size: 8},
		{Name: "count", Type: ftype(t, "size_t"), Kind: ArgCtx, Off: 32, Size: 8},
		{Name: "filename", Type: tyDataLocChars, Kind: ArgDataLoc, Off: 40, Size: 4},
		{Name: "comm", Type: &ebtf.Array{Index: btfUInt, Type: btfChar, Nelems: 16}, Kind: ArgCtx, Off: 44, Size: 16},
		{Name: "delta", Type: btfShort, Kind: ArgCtx, Off: 60, Size: 2, Signed: true},
		{Name: "sport", Type: &ebtf.Typedef{Name: "__be16", Type: btfUShort}, Kind: ArgCtx, Off: 62, Size: 2},
	}
	return &ProbeContext{Mode: ModeTracepoint, Fields: fields, UserMemory: true, Types: fixtureTypes.src, Kernel: fixtureTypes.src}
}

func uprobeCtx(t testing.TB) *ProbeContext {
	params := []ParamType{
		{"file", ftype(t, "struct file *")},
		{"s", ftype(t, "struct sample *")},
		{"msg", tyCharPtr},
		{"n", tyInt},
	}
	return &ProbeContext{Mode: ModeUprobe, Args: RegArgs(params, true), Regs: true, UserMemory: true, Types: fixtureTypes.src}
}

// mustParse parses a trace spec.
func mustParse(t testing.TB, spec string) *specparse.Probe {
	t.Helper()
	p, err := specparse.ParseTrace(spec)
	if err != nil {
		t.Fatalf("parse %q: %v", spec, err)
	}
	return p
}
