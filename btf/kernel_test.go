package btf

import (
	"errors"
	"os"
	"slices"
	"testing"

	ebtf "github.com/cilium/ebpf/btf"

	"github.com/btool/btool/internal/kallsyms"
	"github.com/btool/btool/internal/testutil"
	"github.com/btool/btool/internal/tracefs"
)

func requireKernelBTF(t testing.TB) *Kernel {
	t.Helper()
	testutil.RequireRoot(t)
	k, err := LoadKernel()
	testutil.RequireFeature(t, "btf", err)
	return k
}

func TestKernelBTF(t *testing.T) {
	k := requireKernelBTF(t)
	f, err := k.Func("vfs_read")
	if err != nil {
		t.Fatal(err)
	}
	want := "ssize_t vfs_read(struct file *file, char *buf, size_t count, loff_t *pos)"
	if have := f.Signature(); have != want {
		t.Errorf("vfs_read:\nhave %s\nwant %s", have, want)
	}
	if !k.HasFunc("vfs_read") || k.HasFunc("no_such_function_xyz") {
		t.Error("HasFunc")
	}
	_, err = k.Func("no_such_function_xyz")
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown function: %v", err)
	}
	for _, name := range []string{"struct file", "file", "task_struct", "struct task_struct *", "size_t", "u64", "unsigned long"} {
		typ, err := k.Type(name)
		if err != nil {
			t.Errorf("Type(%q): %v", name, err)
			continue
		}
		t.Logf("Type(%q) = %s", name, TypeString(typ))
	}
	if s := k.Suggest("vfs_rea", 3); !slices.Contains(s, "vfs_read") {
		t.Errorf("Suggest(vfs_rea) = %q", s)
	}
	if k.Spec() == nil || k.Cache() == nil {
		t.Error("nil Spec or Cache")
	}
}

func TestKernelFuncs(t *testing.T) {
	testutil.RequireRoot(t)
	funcs, err := KernelFuncs()
	if err != nil {
		t.Fatal(err)
	}
	_, ffErr := tracefs.AvailableFilterFunctions()
	t.Logf("%d functions (available_filter_functions error: %v)", len(funcs), ffErr)
	blacklist, _ := tracefs.KprobeBlacklist()
	seen := map[string]bool{}
	for _, f := range funcs {
		if seen[f.Name] {
			t.Errorf("duplicate %q", f.Name)
		}
		seen[f.Name] = true
		if blacklist[f.Name] {
			t.Errorf("blacklisted %q offered", f.Name)
		}
		if skipFunc(f.Name) {
			t.Errorf("skipped name %q offered", f.Name)
		}
		if f.Module == "bpf" {
			t.Errorf("BPF program %q offered", f.Name)
		}
	}
	for _, want := range []string{"vfs_read", "__x64_sys_read"} {
		if !seen[want] {
			t.Errorf("%s missing", want)
		}
	}
	if ffErr != nil {
		// The kallsyms fallback must drop init and irqentry code.
		for _, gone := range []string{"start_kernel", "asm_exc_page_fault"} {
			if seen[gone] {
				t.Errorf("%s offered (init or irqentry text)", gone)
			}
		}
	}
}

// BenchmarkLoadKernel measures a first load of vmlinux BTF plus resolving
// one function, as a probe on vfs_read does.
func BenchmarkLoadKernel(b *testing.B) {
	if _, err := os.Stat("/sys/kernel/btf/vmlinux"); err != nil {
		b.Skip(err)
	}
	for b.Loop() {
		spec, err := ebtf.NewCache().Kernel()
		if err != nil {
			b.Fatal(err)
		}
		if _, err := NewKernel(spec).Func("vfs_read"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkKernelFuncs measures KernelFuncs without its per-process cache:
// read and parse available_filter_functions when readable, else kallsyms,
// then filter and dedupe.
func BenchmarkKernelFuncs(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root")
	}
	_, ffErr := tracefs.AvailableFilterFunctions()
	root, _ := tracefs.Root()
	for b.Loop() {
		var n int
		if ffErr == nil {
			data, err := os.ReadFile(root + "/available_filter_functions")
			if err != nil {
				b.Fatal(err)
			}
			_ = data // parse cost is measured in internal/tracefs
			ffs, _ := tracefs.AvailableFilterFunctions()
			n = len(fromFilterFunctions(ffs, nil))
		} else {
			f, err := os.Open(kallsyms.Path)
			if err != nil {
				b.Fatal(err)
			}
			tab, err := kallsyms.Parse(f)
			f.Close()
			if err != nil {
				b.Fatal(err)
			}
			n = len(fromKallsyms(tab, nil))
		}
		if n == 0 {
			b.Fatal("no functions")
		}
	}
}

// BenchmarkKernelFuncsFilter measures only the filter and dedupe step over
// an already parsed kallsyms.
func BenchmarkKernelFuncsFilter(b *testing.B) {
	tab, err := kallsyms.Load()
	if err != nil {
		b.Skip(err)
	}
	for b.Loop() {
		fromKallsyms(tab, nil)
	}
}
