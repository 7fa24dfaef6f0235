package kallsyms

import (
	"os"
	"strings"
	"testing"

	"github.com/btool/btool/internal/testutil"
)

func loadTestdata(t testing.TB) *Table {
	t.Helper()
	f, err := os.Open("testdata/kallsyms")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tab, err := Parse(f)
	if err != nil {
		t.Fatal(err)
	}
	return tab
}

func TestParse(t *testing.T) {
	tab := loadTestdata(t)
	if n := tab.Len(); n != 13 {
		t.Fatalf("have %d symbols, want 13", n)
	}
	if !tab.HasAddrs() {
		t.Error("HasAddrs: false")
	}
	want := Symbol{Addr: 0xffffffffc0201000, Name: "mod_fn_a", Type: 't', Module: "foo"}
	if have := tab.Symbol(11); have != want {
		t.Errorf("module symbol: have %+v, want %+v", have, want)
	}
	fns := tab.Functions()
	if len(fns) != 12 {
		t.Errorf("Functions: have %d, want 12 (all but some_data)", len(fns))
	}
	for _, s := range fns {
		if s.Name == "some_data" {
			t.Error("Functions includes data symbol")
		}
	}

	for _, bad := range []string{"zz T x\n", "ffff T\n", "ffffffff81000000 Tx\n", "ffffffff81000000\n", "ffffffff81000000 t x\tfoo\n"} {
		if _, err := Parse(strings.NewReader(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestLookup(t *testing.T) {
	tab := loadTestdata(t)
	tests := []struct {
		addr   uint64
		name   string
		offset uint64
		ok     bool
	}{
		{0xffffffff80ffffff, "", 0, false},
		{0xffffffff81000000, "srso_alias_untrain_ret", 0, true},
		{0xffffffff81000005, "srso_alias_untrain_ret", 5, true},
		{0xffffffff81000024, "helper", 4, true},
		{0xffffffff81000100, "vfs_read", 0, true},
		{0xffffffff81000180, "vfs_read", 0x80, true},
		{0xffffffff81000300, "helper", 0x100, true}, // data symbols are not candidates
		{0xffffffffc0201008, "mod_fn_a", 8, true},   // unsorted module symbols
		{0xffffffffc0202001, "mod_fn_b", 1, true},
		{0xffffffffc0300010, "bpf_prog_6deef7357e7b4530_sd_fw_egress", 0x10, true},
	}
	for _, tt := range tests {
		sym, off, ok := tab.Lookup(tt.addr)
		if ok != tt.ok || sym.Name != tt.name || off != tt.offset {
			t.Errorf("Lookup(%#x): have %q+%#x %v, want %q+%#x %v", tt.addr, sym.Name, off, ok, tt.name, tt.offset, tt.ok)
		}
	}
}

func TestAddr(t *testing.T) {
	tab := loadTestdata(t)
	// Run past the scanning calls so the map path is exercised too.
	for range 3 {
		for _, tt := range []struct {
			name string
			addr uint64
			ok   bool
		}{
			{"helper", 0xffffffff81000020, true}, // first of two
			{"some_data", 0xffffffff81000300, true},
			{"mod_fn_b", 0xffffffffc0202000, true},
			{"nope", 0, false},
		} {
			addr, ok := tab.Addr(tt.name)
			if addr != tt.addr || ok != tt.ok {
				t.Errorf("Addr(%q): have %#x %v, want %#x %v", tt.name, addr, ok, tt.addr, tt.ok)
			}
		}
	}
}

func TestHiddenAddrs(t *testing.T) {
	tab, err := Parse(strings.NewReader("0000000000000000 T _stext\n0000000000000000 T vfs_read\n"))
	if err != nil {
		t.Fatal(err)
	}
	if tab.HasAddrs() {
		t.Error("HasAddrs: true for zero addresses")
	}
	if _, _, ok := tab.Lookup(0xffffffff81000000); ok {
		t.Error("Lookup succeeded without addresses")
	}
	if _, ok := tab.Addr("vfs_read"); ok {
		t.Error("Addr succeeded without addresses")
	}
	if n := len(tab.Functions()); n != 2 {
		t.Errorf("Functions: %d, want 2", n)
	}
}

func TestKernelKallsyms(t *testing.T) {
	testutil.RequireRoot(t)
	tab, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	if !tab.HasAddrs() {
		t.Skip("kallsyms addresses hidden (kptr_restrict)")
	}
	addr, ok := tab.Addr("vfs_read")
	if !ok {
		t.Fatal("no vfs_read")
	}
	sym, off, ok := tab.Lookup(addr + 3)
	if !ok || sym.Name != "vfs_read" || off != 3 {
		t.Errorf("Lookup(vfs_read+3): %+v %d %v", sym, off, ok)
	}
	if len(tab.Functions()) < 1000 {
		t.Errorf("only %d functions", len(tab.Functions()))
	}
}

// BenchmarkLoad reads and parses the live /proc/kallsyms (uncached).
func BenchmarkLoad(b *testing.B) {
	if _, err := os.Stat(Path); err != nil {
		b.Skip(err)
	}
	for b.Loop() {
		f, err := os.Open(Path)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Parse(f); err != nil {
			b.Fatal(err)
		}
		f.Close()
	}
}

// BenchmarkRead measures only the kernel's cost of producing /proc/kallsyms.
func BenchmarkRead(b *testing.B) {
	if _, err := os.Stat(Path); err != nil {
		b.Skip(err)
	}
	buf := make([]byte, 8<<20)
	for b.Loop() {
		f, err := os.Open(Path)
		if err != nil {
			b.Fatal(err)
		}
		for {
			n, _ := f.Read(buf)
			if n == 0 {
				break
			}
		}
		f.Close()
	}
}

func BenchmarkParse(b *testing.B) {
	data, err := os.ReadFile(Path)
	if err != nil {
		b.Skip(err)
	}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Parse(strings.NewReader(string(data))); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLookup(b *testing.B) {
	tab, err := Load()
	if err != nil || !tab.HasAddrs() {
		b.Skip("no kallsyms addresses")
	}
	addr, _ := tab.Addr("vfs_read")
	tab.Lookup(addr)
	for b.Loop() {
		tab.Lookup(addr + 5)
	}
}

// TestParseChunks checks lines split across read chunks.
func TestParseChunks(t *testing.T) {
	var sb strings.Builder
	for i := range 20000 {
		sb.WriteString("ffffffff81000000 t some_function_")
		sb.WriteString(strings.Repeat("y", i%50))
		if i%7 == 0 {
			sb.WriteString("\t[mod]")
		}
		sb.WriteByte('\n')
	}
	sb.WriteString("ffffffff81000001 T last") // no final newline
	tab, err := Parse(strings.NewReader(sb.String()))
	if err != nil {
		t.Fatal(err)
	}
	var syms []Symbol
	for _, s := range tab.All() {
		syms = append(syms, s)
	}
	if len(syms) != 20001 {
		t.Fatalf("have %d symbols, want 20001", len(syms))
	}
	for i, s := range syms[:20000] {
		want := "some_function_" + strings.Repeat("y", i%50)
		if s.Name != want || (s.Module == "mod") != (i%7 == 0) {
			t.Fatalf("symbol %d: %+v, want %s", i, s, want)
		}
	}
	if last := syms[20000]; last.Name != "last" || last.Addr != 0xffffffff81000001 {
		t.Errorf("last: %+v", last)
	}
}
