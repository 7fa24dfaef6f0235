package multitool

import (
	"testing"

	ebtf "github.com/cilium/ebpf/btf"

	"github.com/btool/btool/bpf/compile"
	"github.com/btool/btool/btf"
)

func TestCommonPrototype(t *testing.T) {
	char := &ebtf.Int{Name: "char", Size: 1, Encoding: ebtf.Signed}
	sizeT := &ebtf.Typedef{Name: "size_t", Type: &ebtf.Int{Name: "unsigned long", Size: 8}}
	fn := func(name string, params ...ebtf.FuncParam) *ebtf.Func {
		return &ebtf.Func{Name: name, Linkage: ebtf.GlobalFunc, Type: &ebtf.FuncProto{Return: sizeT, Params: params}}
	}
	b, err := ebtf.NewBuilder([]ebtf.Type{
		fn("my_read", ebtf.FuncParam{Name: "buf", Type: &ebtf.Pointer{Target: char}}, ebtf.FuncParam{Name: "count", Type: sizeT}),
		fn("my_write", ebtf.FuncParam{Name: "buf", Type: &ebtf.Pointer{Target: &ebtf.Const{Type: char}}}, ebtf.FuncParam{Name: "count", Type: sizeT}),
		fn("my_other", ebtf.FuncParam{Name: "flags", Type: sizeT}),
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	spec, err := b.Spec()
	if err != nil {
		t.Fatal(err)
	}
	k := btf.NewKernel(spec)
	targets := func(names ...string) []compile.Target {
		var ts []compile.Target
		for _, n := range names {
			ts = append(ts, compile.Target{Name: n, Symbol: n})
		}
		return ts
	}
	if fn, ok := commonPrototype(k, targets("my_read", "my_write")); !ok || fn.Name != "my_read" || len(fn.Params) != 2 || fn.Params[1].Name != "count" {
		t.Errorf("read/write share a prototype: got %v, %v", fn, ok)
	}
	if _, ok := commonPrototype(k, targets("my_read", "my_other")); ok {
		t.Errorf("read/other differ, want false")
	}
	if _, ok := commonPrototype(k, targets("my_read", "missing")); ok {
		t.Errorf("a function without BTF: want false")
	}
}
