package dwarfinfo

import (
	"bufio"
	"bytes"
	"debug/elf"
	"errors"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestFunctions(t *testing.T) {
	b := open(t, build(t, "gcc", "funcs.c", "-g", "-O0"))
	fns, err := b.Functions()
	if err != nil {
		t.Fatal(err)
	}
	names := make(map[string]Symbol)
	addrs := make(map[uint64]string)
	for i, s := range fns {
		if i > 0 && fns[i-1].Name >= s.Name {
			t.Errorf("not sorted by unique name: %q then %q", fns[i-1].Name, s.Name)
		}
		if prev, dup := addrs[s.Addr]; dup {
			t.Errorf("address %#x listed twice: %s and %s", s.Addr, prev, s.Name)
		}
		addrs[s.Addr] = s.Name
		names[s.Name] = s
		if s.Demangled != s.Name {
			t.Errorf("C symbol %q demangled to %q", s.Name, s.Demangled)
		}
	}
	for _, want := range []string{"add_int", "walk", "with_callback", "local_helper", "cb_impl", "main", "aliased"} {
		if _, ok := names[want]; !ok {
			t.Errorf("Functions() lacks %s", want)
		}
	}
	// aliased, aliased64 and aliased_impl share an address: listed once,
	// under the shortest global name.
	for _, alias := range []string{"aliased64", "aliased_impl"} {
		if _, ok := names[alias]; ok {
			t.Errorf("alias %s listed; want only %q", alias, "aliased")
		}
	}
	if _, ok := names["sink"]; ok {
		t.Error("data symbol sink listed as a function")
	}
}

// TestSymbolOffsets checks Offset against the bytes of the file: the bytes
// at Offset must be the bytes of the function at its address in .text,
// and Addr must agree with nm.
func TestSymbolOffsets(t *testing.T) {
	for _, flags := range [][]string{{"-g", "-O0"}, {"-O2", "-no-pie"}, {"-O2", "-shared", "-fPIC"}} {
		t.Run(strings.Join(flags, ""), func(t *testing.T) {
			path := build(t, "gcc", "funcs.c", flags...)
			b := open(t, path)
			syms, err := b.Lookup("add_int")
			if err != nil {
				t.Fatal(err)
			}
			s := syms[0]
			if s.Size == 0 {
				t.Fatalf("add_int has no size: %+v", s)
			}
			text := b.elf.Section(".text")
			if s.Addr < text.Addr || s.Addr+s.Size > text.Addr+text.Size {
				t.Fatalf("add_int %#x not in .text", s.Addr)
			}
			data, err := text.Data()
			if err != nil {
				t.Fatal(err)
			}
			want := data[s.Addr-text.Addr : s.Addr-text.Addr+s.Size]
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if got := raw[s.Offset : s.Offset+s.Size]; !bytes.Equal(got, want) {
				t.Errorf("bytes at file offset %#x differ from add_int's code at %#x", s.Offset, s.Addr)
			}
			if nmAddr, ok := nmLookup(t, path, "add_int"); ok && nmAddr != s.Addr {
				t.Errorf("Addr = %#x, nm says %#x", s.Addr, nmAddr)
			}
		})
	}
}

// nmLookup returns the address nm reports for sym, if nm is installed.
func nmLookup(t *testing.T, path, sym string) (uint64, bool) {
	nm, err := exec.LookPath("nm")
	if err != nil {
		return 0, false
	}
	out, err := exec.Command(nm, "--defined-only", path).Output()
	if err != nil {
		t.Fatalf("nm: %v", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 3 && f[2] == sym {
			v, err := strconv.ParseUint(f[0], 16, 64)
			return v, err == nil
		}
	}
	return 0, false
}

func TestLookup(t *testing.T) {
	b := open(t, build(t, "gcc", "funcs.c", "-g", "-O0"))
	main, err := b.Lookup("aliased")
	if err != nil {
		t.Fatal(err)
	}
	for _, alias := range []string{"aliased64", "aliased_impl"} {
		got, err := b.Lookup(alias)
		if err != nil {
			t.Fatalf("Lookup(%s): %v", alias, err)
		}
		if len(got) != 1 || got[0].Addr != main[0].Addr || got[0].Name != alias {
			t.Errorf("Lookup(%s) = %+v, want %s at %#x", alias, got, alias, main[0].Addr)
		}
	}
	if got, err := b.Lookup("local_helper"); err != nil || len(got) != 1 {
		t.Errorf("Lookup(local_helper) = %+v, %v", got, err)
	}
	_, err = b.Lookup("nosuchfunc")
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), b.Path()) || !strings.Contains(err.Error(), "nosuchfunc") {
		t.Errorf("Lookup(nosuchfunc) error = %v; want ErrNotFound naming the function and %s", err, b.Path())
	}
}

func TestCXXDemangling(t *testing.T) {
	b := open(t, build(t, "g++", "cxx.cc", "-g", "-O0"))
	fns, err := b.Functions()
	if err != nil {
		t.Fatal(err)
	}
	demangled := make(map[string]string)
	for _, s := range fns {
		demangled[s.Demangled] = s.Name
	}
	for _, tt := range []struct{ demangled, mangled string }{
		{"ns::Widget::poke(int)", "_ZN2ns6Widget4pokeEi"},
		{"ns::Widget::poke(long, ns::Widget const&)", "_ZN2ns6Widget4pokeElRKS0_"},
		{"ns::Widget::count()", "_ZN2ns6Widget5countEv"},
		{"free_function(ns::Widget*)", "_Z13free_functionPN2ns6WidgetE"},
	} {
		if got := demangled[tt.demangled]; got != tt.mangled {
			t.Errorf("Functions(): %q has Name %q, want %q", tt.demangled, got, tt.mangled)
		}
		syms, err := b.Lookup(tt.demangled)
		if err != nil || len(syms) != 1 || syms[0].Name != tt.mangled {
			t.Errorf("Lookup(%q) = %+v, %v; want %s", tt.demangled, syms, err, tt.mangled)
		}
		if syms, err := b.Lookup(tt.mangled); err != nil || len(syms) != 1 || syms[0].Demangled != tt.demangled {
			t.Errorf("Lookup(%q) = %+v, %v", tt.mangled, syms, err)
		}
	}
	overloads, err := b.Lookup("ns::Widget::poke")
	if err != nil || len(overloads) != 2 {
		t.Errorf("Lookup(ns::Widget::poke) = %+v, %v; want both overloads", overloads, err)
	}
}

func TestSymbolize(t *testing.T) {
	b := open(t, build(t, "g++", "cxx.cc", "-g", "-O0"))
	syms, err := b.Lookup("ns::Widget::poke(int)")
	if err != nil {
		t.Fatal(err)
	}
	s := syms[0]
	for _, tt := range []struct {
		have     uint64
		wantName string
		wantOff  uint64
		wantOK   bool
	}{
		{s.Offset, "ns::Widget::poke(int)", 0, true},
		{s.Offset + 5, "ns::Widget::poke(int)", 5, true},
		{s.Offset + s.Size - 1, "ns::Widget::poke(int)", s.Size - 1, true},
		{1 << 40, "", 0, false},
	} {
		name, off, ok := b.Symbolize(tt.have)
		if name != tt.wantName || off != tt.wantOff || ok != tt.wantOK {
			t.Errorf("Symbolize(%#x) = %q, %d, %v; want %q, %d, %v", tt.have, name, off, ok, tt.wantName, tt.wantOff, tt.wantOK)
		}
	}
}

func TestIsGo(t *testing.T) {
	c := open(t, build(t, "gcc", "funcs.c", "-O0"))
	if c.IsGo() {
		t.Error("C binary reported as Go")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Skip(err)
	}
	if g := open(t, exe); !g.IsGo() {
		t.Error("the Go test binary is not reported as Go")
	}
}

// TestLibc checks alias folding and IFUNC marking on the system libc.
func TestLibc(t *testing.T) {
	path, err := FindBinary("c")
	if err != nil {
		t.Skip(err)
	}
	b := open(t, path)
	fns, err := b.Functions()
	if err != nil {
		t.Fatal(err)
	}
	open, err1 := b.Lookup("open")
	open64, err2 := b.Lookup("open64")
	if err1 != nil || err2 != nil {
		t.Skipf("libc without open/open64: %v %v", err1, err2)
	}
	if open[0].Addr != open64[0].Addr {
		t.Skip("open and open64 are not aliases in this libc")
	}
	n := 0
	for _, s := range fns {
		if s.Addr == open[0].Addr {
			n++
			if s.Name != "open" {
				t.Errorf("open/open64 listed as %q, want open", s.Name)
			}
		}
	}
	if n != 1 {
		t.Errorf("open's address listed %d times, want once", n)
	}
	if i := slices.IndexFunc(fns, func(s Symbol) bool { return s.Name == "memcpy" }); i >= 0 {
		if b.elf.Class == elf.ELFCLASS64 && !fns[i].IFunc {
			t.Log("memcpy is not an IFUNC in this libc")
		}
	}
}
