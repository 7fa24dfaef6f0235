package dwarfinfo

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	ebtf "github.com/cilium/ebpf/btf"
)

// buildUnits links n C files, each its own compile unit with its own
// struct and function, into one binary.
func buildUnits(t *testing.T, n int, flags ...string) string {
	t.Helper()
	cc, err := exec.LookPath("gcc")
	if err != nil {
		t.Skip("gcc is not installed: cannot build the multi-unit fixture")
	}
	dir := t.TempDir()
	args := append([]string{}, flags...)
	for i := range n {
		src := fmt.Sprintf("struct s%d { long a%d; int b; };\n__attribute__((noinline)) long f%d(struct s%d *p, int k) { return p->a%d + k; }\n", i, i, i, i, i)
		if i == 0 {
			src += "int main(void) { struct s0 s = {1, 2}; return (int)f0(&s, 0); }\n"
		}
		p := filepath.Join(dir, fmt.Sprintf("u%d.c", i))
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		args = append(args, p)
	}
	out := filepath.Join(dir, "units")
	if b, err := exec.Command(cc, append(args, "-o", out)...).CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, b)
	}
	return out
}

func enabledUnits(ds *dwarfState) (on, all int) {
	for _, u := range ds.ut.units {
		if u.enabled || ds.ut.all {
			on++
		}
	}
	return on, len(ds.ut.units)
}

// TestLazyUnits checks that a function's prototype parses its own unit
// only, and that prototypes, locations and types come out the same as
// with every unit parsed, for DWARF 4 and 5 and compressed sections.
func TestLazyUnits(t *testing.T) {
	for _, flags := range [][]string{{"-g", "-O2"}, {"-gdwarf-4", "-O0"}, {"-g", "-O2", "-gz"}} {
		t.Run(fmt.Sprint(flags), func(t *testing.T) {
			path := buildUnits(t, 8, flags...)
			b := open(t, path)
			fn, err := b.Func("f5")
			if err != nil {
				t.Fatal(err)
			}
			ds, _ := b.dwarf()
			if on, all := enabledUnits(ds); on != 1 || all < 8 {
				t.Errorf("after Func(f5): %d of %d units parsed, want 1 of at least 8", on, all)
			}
			ptr, ok := fn.Params[0].Type.(*ebtf.Pointer)
			if !ok {
				t.Fatalf("f5 param 1: %v, want a pointer", fn.Params[0].Type)
			}
			st, ok := ptr.Target.(*ebtf.Struct)
			if !ok || st.Name != "s5" || len(st.Members) != 2 || st.Members[0].Name != "a5" {
				t.Fatalf("f5 param 1 points to %v, want struct s5 {a5, b}", ptr.Target)
			}
			locs, err := b.ParamLocations("f5")
			if err != nil {
				t.Fatal(err)
			}

			whole := open(t, path)
			wds, _ := whole.dwarf()
			if _, err := wds.ut.whole(); err != nil {
				t.Fatal(err)
			}
			wfn, _ := whole.Func("f5")
			wlocs, _ := whole.ParamLocations("f5")
			if fmt.Sprint(fn) != fmt.Sprint(wfn) || fmt.Sprint(locs) != fmt.Sprint(wlocs) {
				t.Errorf("lazy: %v %v\nwhole: %v %v", fn, locs, wfn, wlocs)
			}
			// A type by name needs the name index: every unit.
			typ, err := b.Type("struct s3")
			if err != nil {
				t.Fatal(err)
			}
			if st, ok := typ.(*ebtf.Struct); !ok || st.Members[0].Name != "a3" {
				t.Errorf("Type(struct s3) = %v", typ)
			}
		})
	}
}

// TestLazyUnitsLibc reads malloc's prototype from libc's separate debug
// file, when it is installed, parsing one unit of its ~1,500.
func TestLazyUnitsLibc(t *testing.T) {
	path, err := FindBinary("c")
	if err != nil {
		t.Skip(err)
	}
	b := open(t, path)
	if _, err := b.Func("malloc"); err != nil {
		t.Skipf("no DWARF for malloc in %s (install libc6-dbg): %v", path, err)
	}
	ds, _ := b.dwarf()
	on, all := enabledUnits(ds)
	t.Logf("%s (%s): %d of %d units parsed", path, ds.source, on, all)
	if all > 10 && on > 2 {
		t.Errorf("Func(malloc) parsed %d of %d units, want 1 or 2", on, all)
	}
}

// TestLazyUnitsLibcSame describes libc functions with units parsed as
// they are reached and with every unit parsed up front, and wants the
// same prototypes and locations: references between units (DW_FORM_ref_addr,
// dwz partial units) must resolve in the lazy table too.
func TestLazyUnitsLibcSame(t *testing.T) {
	if testing.Short() {
		t.Skip("reads libc's DWARF twice")
	}
	path, err := FindBinary("c")
	if err != nil {
		t.Skip(err)
	}
	lazy, whole := open(t, path), open(t, path)
	if _, err := lazy.Func("malloc"); err != nil {
		t.Skipf("no DWARF for malloc in %s: %v", path, err)
	}
	wds, _ := whole.dwarf()
	if _, err := wds.ut.whole(); err != nil {
		t.Fatal(err)
	}
	syms, err := lazy.Functions()
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for i := 0; i < len(syms) && checked < 150; i += max(1, len(syms)/300) {
		name := syms[i].Name
		wfn, werr := whole.Func(name)
		fn, err := lazy.Func(name)
		if (err == nil) != (werr == nil) || fmt.Sprint(fn) != fmt.Sprint(wfn) {
			t.Errorf("%s: lazy %v, %v; whole %v, %v", name, fn, err, wfn, werr)
			continue
		}
		if err != nil {
			continue
		}
		l, _ := lazy.ParamLocations(name)
		wl, _ := whole.ParamLocations(name)
		if fmt.Sprint(l) != fmt.Sprint(wl) {
			t.Errorf("%s: lazy locations %v, whole %v", name, l, wl)
		}
		checked++
	}
	ds, _ := lazy.dwarf()
	on, all := enabledUnits(ds)
	t.Logf("%d functions compared; lazily parsed %d of %d units", checked, on, all)
}
