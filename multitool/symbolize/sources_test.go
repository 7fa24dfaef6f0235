package symbolize

import (
	"bufio"
	"bytes"
	"debug/dwarf"
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/btool/btool/internal/kallsyms"
	"github.com/btool/btool/internal/testutil"
)

// sourcesProgram has a static function (in no .dynsym), an exported one,
// and two always-inlined functions around a call, so that the return
// address of that call lies in code inlined twice into btool_caller.
const sourcesProgram = `
__attribute__((noinline)) int btool_sink(int x) { __asm__ volatile("" : "+r"(x)); return x + 1; }
static inline __attribute__((always_inline)) int btool_inl_inner(int x) {
	return btool_sink(x) * 3;
}
static inline __attribute__((always_inline)) int btool_inl_outer(int x) {
	return btool_inl_inner(x + 2) + 5;
}
__attribute__((noinline)) int btool_caller(int x) { return btool_inl_outer(x) + btool_sink(x); }
static __attribute__((noinline)) int btool_static(int x) { __asm__ volatile("" : "+r"(x)); return x - 1; }
__attribute__((visibility("default"))) int btool_exported(int x) { return btool_static(x) + 2; }
#ifndef LIB
int main(int argc, char **argv) { return btool_caller(argc) + btool_exported(argc) == 0; }
#endif
`

// buildC compiles src with compiler cc (gcc or g++), or skips when it is
// missing. ext names the source file's extension.
func buildC(t testing.TB, cc, ext, src string, flags ...string) string {
	t.Helper()
	path, err := exec.LookPath(cc)
	if err != nil {
		t.Skipf("%s is not installed", cc)
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "prog"+ext)
	if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "prog")
	args := append(append([]string{}, flags...), "-o", bin, file)
	if out, err := exec.Command(path, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", cc, strings.Join(args, " "), err, out)
	}
	return bin
}

func run(t testing.TB, name string, args ...string) string {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		t.Skipf("%s is not installed", name)
	}
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// nmSyms returns the defined text symbols of bin as nm prints them
// (an independent reader of the symbol table), name to address and size.
func nmSyms(t testing.TB, bin string, extra ...string) map[string][2]uint64 {
	t.Helper()
	out := run(t, "nm", append([]string{"-S", "--defined-only"}, append(extra, bin)...)...)
	m := map[string][2]uint64{}
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) != 4 || (f[2] != "T" && f[2] != "t") {
			continue
		}
		a, _ := strconv.ParseUint(f[0], 16, 64)
		z, _ := strconv.ParseUint(f[1], 16, 64)
		m[f[3]] = [2]uint64{a, z}
	}
	return m
}

// openTestBin opens path as the symbolizer would a mapped file.
func openTestBin(t testing.TB, path string) *symBin {
	t.Helper()
	b := openBin([]string{path}, 1<<16)
	if b.b == nil || b.elf == nil {
		t.Fatalf("open %s: %v", path, b.err)
	}
	t.Cleanup(func() { b.close() })
	return b
}

// frameAt symbolizes virtual address va of the file (translated to the
// file offset a mapping would give).
func frameAt(t testing.TB, b *symBin, va uint64, lines bool) []Frame {
	t.Helper()
	for _, p := range b.elf.Progs {
		if p.Type == elf.PT_LOAD && va >= p.Vaddr && va < p.Vaddr+p.Filesz {
			return b.frames(nil, va-p.Vaddr+p.Off, lines)
		}
	}
	t.Fatalf("%#x in no PT_LOAD segment", va)
	return nil
}

func hasSection(t testing.TB, path, name string) bool {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return f.Section(name) != nil
}

// makeMiniDebugInfo does what Fedora's find-debuginfo does: it keeps the
// function symbols that .dynsym lacks in a symbols-only ELF, xz-compresses
// it, strips bin and adds the result as .gnu_debugdata.
func makeMiniDebugInfo(t *testing.T, bin string) string {
	t.Helper()
	for _, tool := range []string{"objcopy", "strip", "xz", "nm"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed", tool)
		}
	}
	dir := t.TempDir()
	dyn := nmSyms(t, bin, "-D")
	var keep []string
	for name := range nmSyms(t, bin) {
		if _, ok := dyn[name]; !ok {
			keep = append(keep, name)
		}
	}
	keepFile := filepath.Join(dir, "keep_symbols")
	if err := os.WriteFile(keepFile, []byte(strings.Join(keep, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	debug := filepath.Join(dir, "prog.debug")
	mini := filepath.Join(dir, "mini_debuginfo")
	run(t, "objcopy", "--only-keep-debug", bin, debug)
	run(t, "objcopy", "-S", "--remove-section", ".gdb_index", "--remove-section", ".comment",
		"--keep-symbols="+keepFile, debug, mini)
	run(t, "xz", "-f", mini)
	stripped := filepath.Join(dir, "prog")
	run(t, "strip", "--strip-all", "-o", stripped, bin)
	run(t, "objcopy", "--add-section", ".gnu_debugdata="+mini+".xz", stripped)
	return stripped
}

// TestUserSources symbolizes one function per source, each binary built
// so that only that source can name it; addresses and sizes come from nm.
func TestUserSources(t *testing.T) {
	plain := buildC(t, "gcc", ".c", sourcesProgram, "-O2")
	truth := nmSyms(t, plain)
	lib := buildC(t, "gcc", ".c", sourcesProgram, "-O2", "-DLIB", "-shared", "-fPIC")
	libTruth := nmSyms(t, lib)
	libStripped := filepath.Join(t.TempDir(), "libprog.so")
	run(t, "strip", "--strip-all", "-o", libStripped, lib)
	mini := makeMiniDebugInfo(t, plain)
	cxx := buildC(t, "g++", ".cc", "namespace ns { struct Widget { __attribute__((noinline)) int poke(int x); };\n"+
		"int Widget::poke(int x) { __asm__ volatile(\"\" : \"+r\"(x)); return x + 1; } }\n"+
		"int main(int argc, char **) { ns::Widget w; return w.poke(argc); }\n", "-O1")
	cxxTruth := nmSyms(t, cxx) // mangled names

	if hasSection(t, libStripped, ".symtab") || hasSection(t, mini, ".symtab") {
		t.Fatal("strip left a .symtab")
	}
	if !hasSection(t, mini, ".gnu_debugdata") {
		t.Fatal("no .gnu_debugdata added")
	}
	tests := []struct {
		name     string
		bin      string
		addr     [2]uint64
		off      uint64
		want     string
		wantKind Kind
	}{
		{"symtab static", plain, truth["btool_static"], 1, "btool_static", KindSymtab},
		{"symtab global", plain, truth["btool_caller"], 0, "btool_caller", KindSymtab},
		{"dynsym only", libStripped, libTruth["btool_exported"], 2, "btool_exported", KindSymtab},
		{"MiniDebugInfo static", mini, truth["btool_static"], 1, "btool_static", KindMiniDebug},
		{"MiniDebugInfo global", mini, truth["btool_sink"], 3, "btool_sink", KindMiniDebug},
		{"C++ demangled", cxx, cxxTruth["_ZN2ns6Widget4pokeEi"], 1, "ns::Widget::poke(int)", KindSymtab},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.addr[0] == 0 {
				t.Fatalf("nm did not list the function")
			}
			b := openTestBin(t, tc.bin)
			fs := frameAt(t, b, tc.addr[0]+tc.off, false)
			if len(fs) != 1 || fs[0].Name != tc.want || fs[0].Off != tc.off || fs[0].Kind != tc.wantKind {
				t.Errorf("frames = %+v; want one %s frame %s+%#x", fs, tc.wantKind, tc.want, tc.off)
			}
			// Past the end of the function (nm's size) is not the function.
			if fs := frameAt(t, b, tc.addr[0]+tc.addr[1], false); fs[0].Name == tc.want {
				t.Errorf("the address after %s (size %#x) resolved to it", tc.want, tc.addr[1])
			}
		})
	}
	t.Run("Rust demangled", func(t *testing.T) {
		if testing.Short() {
			t.Skip("runs rustc")
		}
		bin := buildC(t, "rustc", ".rs", "#[inline(never)]\npub fn leaf(x: u64) -> u64 { std::hint::black_box(x) * 3 + 1 }\n"+
			"fn main() { println!(\"{}\", leaf(std::env::args().count() as u64)); }\n", "-C", "opt-level=1")
		var leaf [2]uint64
		for name, a := range nmSyms(t, bin) {
			if strings.HasPrefix(name, "_ZN4prog4leaf17h") || strings.HasPrefix(name, "_RNvCs") && strings.HasSuffix(name, "4prog4leaf") {
				leaf = a
			}
		}
		if leaf[0] == 0 {
			t.Fatal("nm lists no mangled prog::leaf")
		}
		fs := frameAt(t, openTestBin(t, bin), leaf[0]+2, false)
		if len(fs) == 0 || fs[len(fs)-1].Name != "prog::leaf" || fs[len(fs)-1].Off != 2 {
			t.Errorf("frames = %+v; want prog::leaf+0x2", fs)
		}
	})
	t.Run("MiniDebugInfo only", func(t *testing.T) {
		b := openTestBin(t, mini)
		if name, _, ok := b.b.Symbolize(0); ok {
			t.Errorf("the stripped binary's own tables name %q", name)
		}
		if len(b.miniSyms()) == 0 {
			t.Fatal("no MiniDebugInfo symbols")
		}
	})
}

// a2lFrame is one frame as addr2line prints it.
type a2lFrame struct {
	name string
	file string // base name
	line int
}

// addr2line runs binutils' addr2line -a -f -i on addrs (an independent
// DWARF reader) and returns the frames of each address, innermost first.
func addr2line(t *testing.T, bin string, addrs []uint64) map[uint64][]a2lFrame {
	t.Helper()
	if _, err := exec.LookPath("addr2line"); err != nil {
		t.Skip("addr2line is not installed")
	}
	var in strings.Builder
	for _, a := range addrs {
		fmt.Fprintf(&in, "%#x\n", a)
	}
	cmd := exec.Command("addr2line", "-a", "-f", "-i", "-e", bin)
	cmd.Stdin = strings.NewReader(in.String())
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("addr2line: %v", err)
	}
	res := map[uint64][]a2lFrame{}
	var cur uint64
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		l := sc.Text()
		if strings.HasPrefix(l, "0x") {
			cur, _ = strconv.ParseUint(l[2:], 16, 64)
			continue
		}
		if !sc.Scan() {
			break
		}
		loc, _, _ := strings.Cut(sc.Text(), " (discriminator")
		file, line, _ := strings.Cut(loc, ":")
		n, _ := strconv.Atoi(line)
		res[cur] = append(res[cur], a2lFrame{l, filepath.Base(file), n})
	}
	return res
}

// TestDWARFInlineFrames checks inlined frames and file:line of every
// address of btool_caller against addr2line, and that the return address
// of the call inlined twice yields inner, outer and caller.
func TestDWARFInlineFrames(t *testing.T) {
	bin := buildC(t, "gcc", ".c", sourcesProgram, "-O2", "-g")
	caller := nmSyms(t, bin)["btool_caller"]
	var addrs []uint64
	for a := caller[0]; a < caller[0]+caller[1]; a++ {
		addrs = append(addrs, a)
	}
	truth := addr2line(t, bin, addrs)
	b := openTestBin(t, bin)
	deepest, compared := 0, 0
	for _, a := range addrs {
		want := truth[a]
		if len(want) == 0 || want[0].name == "??" || want[0].line == 0 {
			continue // padding: addr2line knows no line
		}
		compared++
		fs := frameAt(t, b, a, true)
		var have []a2lFrame
		for _, f := range fs {
			have = append(have, a2lFrame{f.Name, f.File, f.Line})
		}
		if fmt.Sprint(have) != fmt.Sprint(want) {
			t.Errorf("%#x (btool_caller+%#x): have %v, addr2line says %v", a, a-caller[0], have, want)
		}
		if len(fs) > 0 && (fs[len(fs)-1].Inlined || fs[len(fs)-1].Off != a-caller[0]) {
			t.Errorf("%#x: outermost frame %+v is not btool_caller+%#x", a, fs[len(fs)-1], a-caller[0])
		}
		for _, f := range fs[:len(fs)-1] {
			if !f.Inlined || f.Kind != KindDWARF {
				t.Errorf("%#x: inner frame %+v not marked inlined", a, f)
			}
		}
		deepest = max(deepest, len(fs))
	}
	if compared < len(addrs)/2 {
		t.Errorf("addr2line knew only %d of %d addresses", compared, len(addrs))
	}
	if deepest < 3 {
		t.Errorf("no address of btool_caller had inner, outer and caller frames (deepest %d)", deepest)
	}
	// Without lines the frames are the same, without File and Line.
	for _, a := range addrs {
		for _, f := range frameAt(t, b, a, false) {
			if f.File != "" || f.Line != 0 {
				t.Fatalf("%#x: line without Options.Lines: %+v", a, f)
			}
		}
	}
}

// TestGoPclntabStripped symbolizes a Go workload built with -s -w (no
// .symtab, no DWARF) through .gopclntab, at the address the unstripped
// build's symbol table gives for main.spinTarget.
func TestGoPclntabStripped(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a Go program twice")
	}
	dir := t.TempDir()
	build := func(out string, ldflags string) {
		cmd := exec.Command("go", "build", "-ldflags="+ldflags, "-o", out, "./internal/workloads/spin")
		cmd.Dir = testutil.RepoRoot()
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if o, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build: %v\n%s", err, o)
		}
	}
	full, stripped := filepath.Join(dir, "spin"), filepath.Join(dir, "spin-stripped")
	build(full, "")
	build(stripped, "-s -w")
	if hasSection(t, stripped, ".symtab") || hasSection(t, stripped, ".debug_info") {
		t.Fatal("-s -w left .symtab or DWARF")
	}
	ef, err := elf.Open(full)
	if err != nil {
		t.Fatal(err)
	}
	defer ef.Close()
	syms, err := ef.Symbols()
	if err != nil {
		t.Fatal(err)
	}
	var target elf.Symbol
	for _, s := range syms {
		if s.Name == "main.spinTarget" {
			target = s
		}
	}
	if target.Value == 0 {
		t.Fatal("main.spinTarget not in the unstripped build")
	}
	// The line from the unstripped build's DWARF line table (not pclntab).
	dw, err := ef.DWARF()
	if err != nil {
		t.Fatal(err)
	}
	cu, err := dw.Reader().SeekPC(target.Value)
	if err != nil {
		t.Fatal(err)
	}
	lr, err := dw.LineReader(cu)
	if err != nil {
		t.Fatal(err)
	}
	var le dwarf.LineEntry
	if err := lr.SeekPC(target.Value, &le); err != nil || filepath.Base(le.File.Name) != "main.go" {
		t.Fatalf("DWARF line of main.spinTarget: %v %+v", err, le)
	}
	funcLine := le.Line
	b := openTestBin(t, stripped)
	fs := frameAt(t, b, target.Value, true)
	if len(fs) != 1 || fs[0].Name != "main.spinTarget" || fs[0].Off != 0 || fs[0].Kind != KindGo ||
		fs[0].File != "main.go" || fs[0].Line != funcLine {
		t.Errorf("frames = %+v; want main.spinTarget+0x0 (go) main.go:%d", fs, funcLine)
	}
	fs = frameAt(t, b, target.Value+1, false)
	if fs[0].Name != "main.spinTarget" || fs[0].Off != 1 {
		t.Errorf("frames at +1 = %+v", fs)
	}
}

// TestPerfMap symbolizes JIT addresses through /tmp/perf-PID.map, and
// reads the file again when it grows.
func TestPerfMap(t *testing.T) {
	s := New(Options{})
	s.procRoot, s.tmpDir = t.TempDir(), t.TempDir()
	defer s.Close()
	pidDir := filepath.Join(s.procRoot, "777")
	if err := os.MkdirAll(pidDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(pidDir, "maps"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	mapPath := filepath.Join(s.tmpDir, "perf-777.map")
	text := "7f0000001000 40 LazyCompile:~foo file.js:1\n" +
		"0x7f0000001040 0x20 _ZN2ns6Widget4pokeEi\n" +
		"garbage line\n" +
		"7f0000001080 0 zero-sized\n"
	if err := os.WriteFile(mapPath, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		addr uint64
		name string
		off  uint64
	}{
		{0x7f0000001000, "LazyCompile:~foo file.js:1", 0},
		{0x7f000000103f, "LazyCompile:~foo file.js:1", 0x3f},
		{0x7f0000001048, "ns::Widget::poke(int)", 8},
		{0x7f0000001060, "", 0},
		{0x7f0000001080, "", 0},
	}
	for _, tc := range tests {
		name, off, module, ok := s.User(777, tc.addr)
		if name != tc.name || off != tc.off || ok != (tc.name != "") || (ok && module != "[jit]") {
			t.Errorf("User(%#x) = %q+%#x %q %v; want %q+%#x [jit]", tc.addr, name, off, module, ok, tc.name, tc.off)
		}
	}
	f, err := os.OpenFile(mapPath, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, "7f0000002000 10 grown\n")
	f.Close()
	if name, off, _, ok := s.User(777, 0x7f0000002004); !ok || name != "grown" || off != 4 {
		t.Errorf("after the map grew: %q+%#x %v", name, off, ok)
	}
	var b strings.Builder
	FormatStack(&b, []uint64{0x7f0000002004, 0x7f0000009000}, true, 777, false, s)
	if want := "        grown+0x4 [jit]\n        [unknown]\n"; b.String() != want {
		t.Errorf("FormatStack = %q, want %q", b.String(), want)
	}
}

func TestDemangle(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"_ZN2ns6Widget4pokeEi", "ns::Widget::poke(int)"},
		{"_ZNSt6vectorIiSaIiEE9push_backERKi", "std::vector<int, std::allocator<int> >::push_back(int const&)"},
		{"_ZN4core3ptr13drop_in_place17h1234567890abcdefE", "core::ptr::drop_in_place"}, // Rust legacy: hash dropped
		{"_RNvCs1234_5rtest4leaf", "rtest::leaf"},                                       // Rust v0
		{"main", "main"},
		{"_Znotmangled", "_Znotmangled"},
	} {
		if have := Demangle(tc.in); have != tc.want {
			t.Errorf("Demangle(%q) = %q, want %q", tc.in, have, tc.want)
		}
	}
}

// TestKernelModules parses a kallsyms text with module symbols (unsorted,
// as the kernel prints them) and checks frames and their listing.
func TestKernelModules(t *testing.T) {
	const text = "ffffffff81000000 T _stext\n" +
		"ffffffff81234560 T vfs_read\n" +
		"ffffffff81234600 t vfs_write\n" +
		"ffffffff81300000 D some_data\n" +
		"ffffffffc0205000 t ext4_lookup\t[ext4]\n" +
		"ffffffffc0201000 t ext4_read\t[ext4]\n" +
		"ffffffffc0300000 t bpf_prog_abc_handler\t[bpf]\n"
	tab, err := kallsyms.Parse(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	s := New(Options{})
	s.kern = tab
	defer s.Close()
	tests := []struct {
		addr   uint64
		name   string
		off    uint64
		module string
		ok     bool
	}{
		{0xffffffff81234563, "vfs_read", 3, "", true},
		{0xffffffff81234600, "vfs_write", 0, "", true},
		{0xffffffff81300010, "vfs_write", 0xcba10, "", true}, // data is no function: sizes are unknown
		{0xffffffffc0201010, "ext4_read", 0x10, "ext4", true},
		{0xffffffffc0205001, "ext4_lookup", 1, "ext4", true},
		{0xffffffffc0300008, "bpf_prog_abc_handler", 8, "bpf", true},
		{0xfff, "", 0, "", false},
	}
	for _, tc := range tests {
		f, ok := s.KernelFrame(tc.addr)
		if ok != tc.ok || f.Name != tc.name || f.Off != tc.off || f.Module != tc.module {
			t.Errorf("KernelFrame(%#x) = %+v, %v; want %s+%#x [%s]", tc.addr, f, ok, tc.name, tc.off, tc.module)
		}
	}
	var b strings.Builder
	FormatStack(&b, []uint64{0xffffffffc0201010, 0xffffffff81234563, 0xfff}, false, 0, false, s)
	want := "        ext4_read+0x10 [ext4]\n        vfs_read+0x3 [kernel]\n        [unknown]\n"
	if b.String() != want {
		t.Errorf("FormatStack = %q, want %q", b.String(), want)
	}
	if have := FoldedStack([]uint64{0xffffffffc0201010, 0xffffffff81234563}, false, 0, s); have != "vfs_read;ext4_read" {
		t.Errorf("FoldedStack = %q", have)
	}
}

func TestStackErrors(t *testing.T) {
	var c StackErrors
	for _, id := range []int32{5, -17, -12, -17, -14, 0, -17} {
		c.Add(id)
	}
	if c.Total() != 5 || c.Count("stack map hash collision") != 3 || c.Count("stack map full") != 1 || c.Count("empty") != 1 {
		t.Errorf("counts: total %d, %q", c.Total(), c.String())
	}
	if have, want := c.String(), "5 stacks not shown: 3 stack map hash collision, 1 stack map full, 1 empty"; have != want {
		t.Errorf("String() = %q, want %q", have, want)
	}
	var zero StackErrors
	if zero.String() != "" || zero.Add(3) {
		t.Error("a zero StackErrors reports something")
	}
}

// fakeProc writes a /proc/PID/maps under a temporary root that maps the
// executable segment of bin at base, and returns a symbolizer reading it.
func fakeProc(t testing.TB, bin string, pid int, base uint64, opt Options) *ProcSymbolizer {
	t.Helper()
	ef, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer ef.Close()
	var maps string
	for _, p := range ef.Progs {
		if p.Type == elf.PT_LOAD && p.Flags&elf.PF_X != 0 {
			start, end := base+p.Vaddr&^0xfff, base+(p.Vaddr+p.Memsz+0xfff)&^0xfff
			maps += fmt.Sprintf("%x-%x r-xp %08x 00:00 0 %s\n", start, end, p.Off&^0xfff, bin)
		}
	}
	s := New(opt)
	s.procRoot = t.TempDir()
	dir := filepath.Join(s.procRoot, strconv.Itoa(pid))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "maps"), []byte(maps), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestCallerFramesAtCall checks that the caller frames of a stack are
// looked up at the call instruction (return address - 1), against
// addr2line -i at that address, with the offset of the return address, in
// FormatStack and FoldedStack.
func TestCallerFramesAtCall(t *testing.T) {
	bin := buildC(t, "gcc", ".c", sourcesProgram, "-O2", "-g", "-pie", "-fPIE")
	syms := nmSyms(t, bin)
	caller, sink := syms["btool_caller"], syms["btool_sink"]
	var calls []uint64
	for a := caller[0] + 1; a <= caller[0]+caller[1]; a++ {
		calls = append(calls, a-1)
	}
	truth := addr2line(t, bin, calls)
	const base = 0x555555554000
	s := fakeProc(t, bin, 4242, base, Options{Lines: true})
	checked := 0
	for _, call := range calls {
		want := truth[call]
		if len(want) == 0 || want[0].name == "??" || want[0].line == 0 {
			continue
		}
		ret := call + 1
		var b strings.Builder
		FormatStack(&b, []uint64{base + sink[0], base + ret}, true, 4242, false, s)
		lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
		var wantLines []string
		wantLines = append(wantLines, fmt.Sprintf("        btool_sink+0x0 [prog] %s", lines[0][strings.LastIndexByte(lines[0], ' ')+1:]))
		var folded []string
		for i, f := range want {
			if i == len(want)-1 {
				wantLines = append(wantLines, fmt.Sprintf("        %s+%#x [prog] %s:%d", f.name, ret-caller[0], f.file, f.line))
			} else {
				wantLines = append(wantLines, fmt.Sprintf("        %s (inlined) [prog] %s:%d", f.name, f.file, f.line))
			}
			folded = append([]string{f.name}, folded...)
		}
		if fmt.Sprint(lines) != fmt.Sprint(wantLines) {
			t.Errorf("return address btool_caller+%#x:\nhave %q\nwant %q", ret-caller[0], lines, wantLines)
		}
		if have, want := FoldedStack([]uint64{base + sink[0], base + ret}, true, 4242, s), strings.Join(folded, ";")+";btool_sink"; have != want {
			t.Errorf("FoldedStack at btool_caller+%#x = %q, want %q", ret-caller[0], have, want)
		}
		checked++
	}
	if checked < len(calls)/2 {
		t.Errorf("checked %d of %d return addresses", checked, len(calls))
	}
}
