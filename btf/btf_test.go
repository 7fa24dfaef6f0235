package btf

import (
	"errors"
	"slices"
	"strings"
	"testing"

	ebtf "github.com/cilium/ebpf/btf"
)

// Types shared by the synthetic spec and the TypeString table.
var (
	tChar    = &ebtf.Int{Name: "char", Size: 1, Encoding: ebtf.Char}
	tInt     = &ebtf.Int{Name: "int", Size: 4, Encoding: ebtf.Signed}
	tLong    = &ebtf.Int{Name: "long int", Size: 8, Encoding: ebtf.Signed}
	tULong   = &ebtf.Int{Name: "long unsigned int", Size: 8}
	tLLong   = &ebtf.Int{Name: "long long int", Size: 8, Encoding: ebtf.Signed}
	tBool    = &ebtf.Int{Name: "_Bool", Size: 1, Encoding: ebtf.Bool}
	tSizeT   = &ebtf.Typedef{Name: "size_t", Type: &ebtf.Typedef{Name: "__kernel_size_t", Type: tULong}}
	tSsizeT  = &ebtf.Typedef{Name: "ssize_t", Type: &ebtf.Typedef{Name: "__kernel_ssize_t", Type: tLong}}
	tLoffT   = &ebtf.Typedef{Name: "loff_t", Type: &ebtf.Typedef{Name: "__kernel_loff_t", Type: tLLong}}
	tFile    = &ebtf.Struct{Name: "file", Size: 8, Members: []ebtf.Member{{Name: "f_mode", Type: tInt}}}
	tEnum    = &ebtf.Enum{Name: "bpf_cmd", Size: 4, Values: []ebtf.EnumValue{{Name: "BPF_MAP_CREATE", Value: 0}}}
	tUnion   = &ebtf.Union{Name: "bpf_attr", Size: 8, Members: []ebtf.Member{{Name: "x", Type: tLong}}}
	tCbProto = &ebtf.FuncProto{Return: &ebtf.Void{}, Params: []ebtf.FuncParam{{Type: tInt}, {Type: ptr(tChar)}}}
	tOps     = &ebtf.Struct{Name: "ops", Size: 8, Members: []ebtf.Member{{Name: "cb", Type: ptr(tCbProto)}}}
	tTask    = &ebtf.Struct{Name: "task_struct", Size: 16, Members: []ebtf.Member{
		{Name: "comm", Type: &ebtf.Array{Type: tChar, Index: tInt, Nelems: 16}},
	}}
)

func ptr(t ebtf.Type) *ebtf.Pointer { return &ebtf.Pointer{Target: t} }

func fn(name string, ret ebtf.Type, params ...ebtf.FuncParam) *ebtf.Func {
	if ret == nil {
		ret = &ebtf.Void{}
	}
	return &ebtf.Func{Name: name, Linkage: ebtf.GlobalFunc, Type: &ebtf.FuncProto{Return: ret, Params: params}}
}

func testKernel(t *testing.T) *Kernel {
	t.Helper()
	types := []ebtf.Type{
		fn("vfs_read", tSsizeT,
			ebtf.FuncParam{Name: "file", Type: ptr(tFile)},
			ebtf.FuncParam{Name: "buf", Type: &ebtf.TypeTag{Value: "user", Type: ptr(tChar)}},
			ebtf.FuncParam{Name: "count", Type: tSizeT},
			ebtf.FuncParam{Name: "pos", Type: ptr(tLoffT)}),
		fn("do_sys_open", tLong,
			ebtf.FuncParam{Name: "dfd", Type: tInt},
			ebtf.FuncParam{Name: "filename", Type: ptr(&ebtf.Const{Type: tChar})}),
		fn("_printk", tInt,
			ebtf.FuncParam{Name: "fmt", Type: ptr(&ebtf.Const{Type: tChar})},
			ebtf.FuncParam{Type: &ebtf.Void{}}),
		fn("schedule", nil),
		fn("set_cb", &ebtf.Void{}, ebtf.FuncParam{Name: "o", Type: ptr(tOps)}, ebtf.FuncParam{Name: "cb", Type: ptr(tCbProto)}),
		fn("get_comm", ptr(tChar), ebtf.FuncParam{Name: "tsk", Type: ptr(tTask)}),
		fn("bpf_cmd_ok", tBool, ebtf.FuncParam{Name: "cmd", Type: tEnum}, ebtf.FuncParam{Name: "attr", Type: ptr(tUnion)}),
		// Two static functions of one name with different prototypes.
		fn("dup", tInt, ebtf.FuncParam{Name: "a", Type: tInt}),
		fn("dup", tInt, ebtf.FuncParam{Name: "a", Type: tLong}),
		// Two with the same prototype.
		fn("same", tInt, ebtf.FuncParam{Name: "a", Type: tInt}),
		fn("same", tInt, ebtf.FuncParam{Name: "a", Type: tInt}),
		&ebtf.Typedef{Name: "u64", Type: &ebtf.Int{Name: "long long unsigned int", Size: 8}},
		&ebtf.Fwd{Name: "only_fwd", Kind: ebtf.FwdStruct},
	}
	b, err := ebtf.NewBuilder(types, nil)
	if err != nil {
		t.Fatal(err)
	}
	spec, err := b.Spec()
	if err != nil {
		t.Fatal(err)
	}
	return NewKernel(spec)
}

func TestTypeString(t *testing.T) {
	tests := []struct {
		have ebtf.Type
		want string
	}{
		{nil, "void"},
		{&ebtf.Void{}, "void"},
		{tInt, "int"},
		{tULong, "unsigned long"},
		{tLong, "long"},
		{&ebtf.Int{Name: "long long unsigned int", Size: 8}, "unsigned long long"},
		{&ebtf.Int{Name: "short unsigned int", Size: 2}, "unsigned short"},
		{tBool, "bool"},
		{&ebtf.Int{Size: 4, Encoding: ebtf.Signed}, "s32"},
		{tSizeT, "size_t"},
		{ptr(tFile), "struct file *"},
		{ptr(&ebtf.Const{Type: tChar}), "const char *"},
		{&ebtf.Const{Type: ptr(tChar)}, "char *const"},
		{&ebtf.Const{Type: ptr(&ebtf.Const{Type: tChar})}, "const char *const"},
		{ptr(ptr(tChar)), "char **"},
		{ptr(&ebtf.Void{}), "void *"},
		{ptr(&ebtf.Volatile{Type: tInt}), "volatile int *"},
		{&ebtf.TypeTag{Value: "user", Type: ptr(tChar)}, "char *"},
		{ptr(&ebtf.TypeTag{Value: "rcu", Type: tFile}), "struct file *"},
		{&ebtf.Array{Type: tChar, Nelems: 16}, "char[16]"},
		{&ebtf.Array{Type: &ebtf.Array{Type: tInt, Nelems: 3}, Nelems: 2}, "int[2][3]"},
		{&ebtf.Array{Type: ptr(tChar), Nelems: 4}, "char *[4]"},
		{ptr(&ebtf.Array{Type: tInt, Nelems: 4}), "int (*)[4]"},
		{&ebtf.Array{Type: &ebtf.Const{Type: tChar}, Nelems: 8}, "const char[8]"},
		{tEnum, "enum bpf_cmd"},
		{&ebtf.Enum{Size: 4}, "enum {...}"},
		{ptr(tUnion), "union bpf_attr *"},
		{&ebtf.Struct{}, "struct {...}"},
		{&ebtf.Fwd{Name: "sock", Kind: ebtf.FwdStruct}, "struct sock"},
		{&ebtf.Fwd{Name: "u", Kind: ebtf.FwdUnion}, "union u"},
		{ptr(tCbProto), "void (*)(int, char *)"},
		{ptr(ptr(tCbProto)), "void (**)(int, char *)"},
		{tCbProto, "void (int, char *)"},
		{ptr(&ebtf.FuncProto{Return: tInt}), "int (*)(void)"},
		{ptr(&ebtf.FuncProto{Return: tInt, Params: []ebtf.FuncParam{{Type: tInt}, {Type: &ebtf.Void{}}}}), "int (*)(int, ...)"},
		{&ebtf.Float{Name: "double", Size: 8}, "double"},
	}
	for _, tt := range tests {
		if have := TypeString(tt.have); have != tt.want {
			t.Errorf("TypeString(%v): have %q, want %q", tt.have, have, tt.want)
		}
	}
}

func TestFunc(t *testing.T) {
	k := testKernel(t)
	tests := []struct {
		name string
		want string
	}{
		{"vfs_read", "ssize_t vfs_read(struct file *file, char *buf, size_t count, loff_t *pos)"},
		{"do_sys_open", "long do_sys_open(int dfd, const char *filename)"},
		{"_printk", "int _printk(const char *fmt, ...)"},
		{"schedule", "void schedule(void)"},
		{"set_cb", "void set_cb(struct ops *o, void (*cb)(int, char *))"},
		{"get_comm", "char *get_comm(struct task_struct *tsk)"},
		{"bpf_cmd_ok", "bool bpf_cmd_ok(enum bpf_cmd cmd, union bpf_attr *attr)"},
		{"same", "int same(int a)"},
	}
	for _, tt := range tests {
		f, err := k.Func(tt.name)
		if err != nil {
			t.Errorf("Func(%q): %v", tt.name, err)
			continue
		}
		if have := f.Signature(); have != tt.want {
			t.Errorf("Func(%q).Signature():\nhave %s\nwant %s", tt.name, have, tt.want)
		}
		if f.BTF == nil || f.BTF.Name != tt.name || f.Module != "" {
			t.Errorf("Func(%q): BTF %v, Module %q", tt.name, f.BTF, f.Module)
		}
	}

	f, _ := k.Func("vfs_read")
	if len(f.Params) != 4 || f.Params[2].Name != "count" || TypeString(f.Params[2].Type) != "size_t" || f.Ret == nil {
		t.Errorf("vfs_read: %+v", f)
	}
	if f, _ := k.Func("schedule"); f.Ret != nil || len(f.Params) != 0 {
		t.Errorf("schedule: %+v", f)
	}
	if f, _ := k.Func("_printk"); !f.Variadic || len(f.Params) != 1 {
		t.Errorf("_printk: %+v", f)
	}

	_, err := k.Func("no_such_function_xyz")
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), `kernel function "no_such_function_xyz" not found in BTF`) {
		t.Errorf("unknown function: %v", err)
	}
	if _, err := k.Func("u64"); !errors.Is(err, ErrNotFound) {
		t.Errorf("typedef as function: %v", err)
	}
	if _, err := k.Func("dup"); !errors.Is(err, ErrMultipleMatches) {
		t.Errorf("ambiguous function: %v", err)
	}
	if !k.HasFunc("vfs_read") || k.HasFunc("u64") || k.HasFunc("nope") {
		t.Error("HasFunc")
	}
}

func TestType(t *testing.T) {
	k := testKernel(t)
	tests := []struct {
		name string
		want string
	}{
		{"struct file", "struct file"},
		{"file", "struct file"},
		{"task_struct", "struct task_struct"},
		{"struct  task_struct *", "struct task_struct *"},
		{"size_t", "size_t"},
		{"ssize_t", "ssize_t"},
		{"u64", "u64"},
		{"unsigned long", "unsigned long"},
		{"long", "long"},
		{"char **", "char **"},
		{"int", "int"},
		{"enum bpf_cmd", "enum bpf_cmd"},
		{"bpf_cmd", "enum bpf_cmd"},
		{"union bpf_attr", "union bpf_attr"},
	}
	for _, tt := range tests {
		typ, err := k.Type(tt.name)
		if err != nil {
			t.Errorf("Type(%q): %v", tt.name, err)
			continue
		}
		if have := TypeString(typ); have != tt.want {
			t.Errorf("Type(%q): have %q, want %q", tt.name, have, tt.want)
		}
	}
	for _, bad := range []string{"struct nope", "nope", "union file", "enum file", "only_fwd", "vfs_read", "", "*"} {
		if typ, err := k.Type(bad); !errors.Is(err, ErrNotFound) {
			t.Errorf("Type(%q): have %v, %v; want ErrNotFound", bad, typ, err)
		}
	}
}

func TestSuggest(t *testing.T) {
	names := []string{"vfs_read", "vfs_readv", "vfs_write", "do_sys_openat2", "do_sys_open", "tcp_sendmsg", "vfs_read"}
	tests := []struct {
		name string
		n    int
		want []string
	}{
		{"vfs_rea", 3, []string{"vfs_read", "vfs_readv"}},
		{"vfs_raed", 2, []string{"vfs_read"}},
		{"do_sys_ope", 5, []string{"do_sys_open", "do_sys_openat2"}},
		{"tcp_sendmgs", 1, []string{"tcp_sendmsg"}},
		{"zzz", 3, nil},
		{"vfs_read", 0, nil},
	}
	for _, tt := range tests {
		have := SuggestNames(tt.name, names, tt.n)
		if tt.n == 0 {
			have = nil
		}
		if !slices.Equal(have, tt.want) {
			t.Errorf("suggest(%q, %d): have %q, want %q", tt.name, tt.n, have, tt.want)
		}
	}
}

func TestSkipFunc(t *testing.T) {
	for name, want := range map[string]bool{
		"vfs_read":                       false,
		"__x64_sys_read":                 false,
		"tcp_v4_rcv.isra.0":              false,
		"_kbl_addr_do_int3":              true,
		"__perf_event_task_sched_in":     true,
		"perf_event_open":                true,
		"__SCT__tp_func_sched_switch":    true,
		"setitimer.cold":                 true,
		"foo.cold.12":                    true,
		"__pfx_vfs_read":                 true,
		"__cfi_vfs_read":                 true,
		"__ftrace_invalid_address___864": true,
		"_etext":                         true,
	} {
		if have := skipFunc(name); have != want {
			t.Errorf("skipFunc(%q) = %v, want %v", name, have, want)
		}
	}
}
