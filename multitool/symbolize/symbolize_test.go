package symbolize

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/btool/btool/dwarfinfo"
	"github.com/btool/btool/internal/kallsyms"
	"github.com/btool/btool/internal/testutil"
)

func TestParseSymMapsLine(t *testing.T) {
	tests := []struct {
		line string
		want symMapping
		ok   bool
	}{
		{
			"55d0c8a02000-55d0c8a06000 r-xp 00002000 08:01 1234567                    /usr/bin/cat",
			symMapping{start: 0x55d0c8a02000, end: 0x55d0c8a06000, off: 0x2000, dev: "08:01", ino: 1234567, path: "/usr/bin/cat"}, true,
		},
		{
			"7f0000000000-7f0000001000 r-xp 00000000 fd:00 42 /tmp/my lib.so (deleted)",
			symMapping{start: 0x7f0000000000, end: 0x7f0000001000, dev: "fd:00", ino: 42, path: "/tmp/my lib.so", deleted: true}, true,
		},
		{
			"7ffd1e5f2000-7ffd1e5f4000 r-xp 00000000 00:00 0                          [vdso]",
			symMapping{start: 0x7ffd1e5f2000, end: 0x7ffd1e5f4000, dev: "00:00", path: "[vdso]"}, true,
		},
		{"55d0c8a00000-55d0c8a02000 r--p 00000000 08:01 1234567 /usr/bin/cat", symMapping{}, false}, // not executable
		{"7f0000000000-7f0000001000 rwxp 00000000 00:00 0 ", symMapping{}, false},                   // anonymous
		{"7f0000000000-7f0000001000 r-xp 00000000 00:00 0", symMapping{}, false},
		{"garbage", symMapping{}, false},
		{"", symMapping{}, false},
		{"zz-7f0000001000 r-xp 00000000 00:00 0 /x", symMapping{}, false},
		{"2000-1000 r-xp 00000000 00:00 0 /x", symMapping{}, false},
	}
	for _, tc := range tests {
		have, ok := parseSymMapsLine(tc.line)
		if ok != tc.ok || have != tc.want {
			t.Errorf("parseSymMapsLine(%q) = %+v, %v; want %+v, %v", tc.line, have, ok, tc.want, tc.ok)
		}
	}
}

func TestParseSymMapsSorted(t *testing.T) {
	text := "3000-4000 r-xp 0 08:01 3 /c\n1000-2000 r-xp 0 08:01 1 /a\n2000-3000 rw-p 0 08:01 2 /b\n"
	maps, err := parseSymMaps(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	if len(maps) != 2 || maps[0].path != "/a" || maps[1].path != "/c" {
		t.Fatalf("have %+v", maps)
	}
	p := &symProc{maps: maps}
	for _, tc := range []struct {
		addr uint64
		want string
	}{{0xfff, ""}, {0x1000, "/a"}, {0x1fff, "/a"}, {0x2000, ""}, {0x3abc, "/c"}, {0x4000, ""}} {
		have := ""
		if i := p.find(tc.addr); i >= 0 {
			have = p.maps[i].path
		}
		if have != tc.want {
			t.Errorf("find(%#x) = %q, want %q", tc.addr, have, tc.want)
		}
	}
}

func TestFormatStackGolden(t *testing.T) {
	var b strings.Builder
	kstack := []uint64{fakeVfsRead + 0x15, fakeOpenat + 0x1c, 0xffffffff90000000}
	ustack := []uint64{fakeMain + 0x104, fakeMain + 0x2a, fakeLibc + 0x9d0, 0x7fff0010, fakeNoModule}
	for _, showAddr := range []bool{false, true} {
		fmt.Fprintf(&b, "## kernel, -a=%v\n", showAddr)
		if err := FormatStack(&b, kstack, false, 42, showAddr, fakeSym{}); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "## user, -a=%v\n", showAddr)
		if err := FormatStack(&b, ustack, true, 42, showAddr, fakeSym{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range []int32{-14, -17, -12, -22} {
		fmt.Fprintf(&b, "## stack id %d\n", id)
		if err := FormatStackError(&b, id); err != nil {
			t.Fatal(err)
		}
	}
	b.WriteString("## nil symbolizer\n")
	FormatStack(&b, kstack[:1], false, 42, true, nil)
	FormatStack(&b, ustack[:1], true, 42, false, nil)
	b.WriteString("## folded\n")
	fmt.Fprintf(&b, "%s\n", FoldedStack(kstack, false, 42, fakeSym{}))
	fmt.Fprintf(&b, "%s\n", FoldedStack(ustack, true, 42, fakeSym{}))
	fmt.Fprintf(&b, "%q\n", FoldedStack(nil, true, 42, fakeSym{}))
	golden(t, "stacks.golden", b.String())
}

// TestKernelSymbolize checks kernel symbolization against /proc/kallsyms.
func TestKernelSymbolize(t *testing.T) {
	testutil.RequireRoot(t)
	tab, err := kallsyms.Load()
	if err != nil {
		t.Skipf("no kallsyms: %v", err)
	}
	addr, ok := tab.Addr("vfs_read")
	if !ok {
		t.Skip("vfs_read not in kallsyms (or addresses hidden)")
	}
	s := New(Options{})
	defer s.Close()
	name, off, ok := s.Kernel(addr + 3)
	if !ok || name != "vfs_read" || off != 3 {
		t.Errorf("Kernel(vfs_read+3) = %q, %#x, %v; want vfs_read, 0x3", name, off, ok)
	}
	if _, _, ok := s.Kernel(0x1000); ok {
		t.Error("Kernel(0x1000) resolved a user address")
	}
	var b strings.Builder
	FormatStack(&b, []uint64{addr}, false, 0, false, s)
	if have, want := b.String(), "        vfs_read+0x0 [kernel]\n"; have != want {
		t.Errorf("FormatStack: have %q, want %q", have, want)
	}
	// A module function (a loaded module, or the [bpf] and
	// [__builtin__ftrace] pseudo-modules) lists its module.
	for _, f := range tab.Functions() {
		if f.Module == "" || f.Addr == 0 {
			continue
		}
		if fr, ok := s.KernelFrame(f.Addr); ok && fr.Off == 0 && fr.Name != f.Name {
			continue // an alias at the same address listed first
		}
		fr, ok := s.KernelFrame(f.Addr + 1)
		if !ok || fr.Module != f.Module || fr.Off != 1 {
			t.Errorf("KernelFrame(%s+1 [%s]) = %+v, %v", f.Name, f.Module, fr, ok)
		}
		b.Reset()
		FormatStack(&b, []uint64{f.Addr + 1}, false, 0, false, s)
		if want := "        " + fr.Name + "+0x1 [" + f.Module + "]\n"; b.String() != want {
			t.Errorf("FormatStack: have %q, want %q", b.String(), want)
		}
		return
	}
	t.Log("no module symbols in kallsyms: module names not checked")
}

const symTestProgram = `#include <stdio.h>
#include <unistd.h>

__attribute__((noinline)) int btool_symtest_target(int x) { return x * 3 + 1; }

int main(void) {
	printf("%p %p\n", (void *)btool_symtest_target, (void *)main);
	fflush(stdout);
	char c;
	while (read(0, &c, 1) > 0) {}
	return btool_symtest_target(0) == 1 ? 0 : 1;
}
`

// buildSymTestProgram compiles symTestProgram with gcc, or skips.
func buildSymTestProgram(t *testing.T, flags ...string) string {
	t.Helper()
	cc, err := exec.LookPath("gcc")
	if err != nil {
		t.Skip("gcc is not installed: cannot build the test program")
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "symtest.c")
	if err := os.WriteFile(src, []byte(symTestProgram), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "symtest")
	args := append(append([]string{}, flags...), "-O1", "-o", bin, src)
	if out, err := exec.Command(cc, args...).CombinedOutput(); err != nil {
		t.Fatalf("gcc %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return bin
}

// TestProcSymbolizerUser runs a small C program and symbolizes its function
// addresses through /proc/PID/maps, also after the process exited.
func TestProcSymbolizerUser(t *testing.T) {
	for _, flags := range [][]string{{"-pie", "-fPIE"}, {"-no-pie", "-fno-PIE"}} {
		t.Run(flags[0], func(t *testing.T) {
			bin := buildSymTestProgram(t, flags...)
			cmd := exec.Command(bin)
			stdin, err := cmd.StdinPipe()
			if err != nil {
				t.Fatal(err)
			}
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer cmd.Wait()
			defer stdin.Close()
			line, err := bufio.NewReader(stdout).ReadString('\n')
			if err != nil {
				t.Fatal(err)
			}
			var target, mainAddr uint64
			parts := strings.Fields(line)
			if len(parts) != 2 {
				t.Fatalf("program printed %q", line)
			}
			target, err1 := strconv.ParseUint(strings.TrimPrefix(parts[0], "0x"), 16, 64)
			mainAddr, err2 := strconv.ParseUint(strings.TrimPrefix(parts[1], "0x"), 16, 64)
			if err1 != nil || err2 != nil {
				t.Fatalf("program printed %q", line)
			}
			pid := uint32(cmd.Process.Pid)

			s := New(Options{})
			defer s.Close()
			if err := s.Snapshot(pid); err != nil {
				t.Fatal(err)
			}
			check := func(when string) {
				t.Helper()
				name, off, module, ok := s.User(pid, target+2)
				if !ok || name != "btool_symtest_target" || off != 2 || module != bin {
					t.Errorf("%s: User(target+2) = %q, %#x, %q, %v; want btool_symtest_target, 0x2, %s", when, name, off, module, ok, bin)
				}
				name, off, _, ok = s.User(pid, mainAddr)
				if !ok || name != "main" || off != 0 {
					t.Errorf("%s: User(main) = %q, %#x, %v", when, name, off, ok)
				}
				var b strings.Builder
				FormatStack(&b, []uint64{target + 2, mainAddr + 5}, true, pid, false, s)
				want := "        btool_symtest_target+0x2 [symtest]\n        main+0x5 [symtest]\n"
				if b.String() != want {
					t.Errorf("%s: FormatStack: have %q, want %q", when, b.String(), want)
				}
				if have, want := FoldedStack([]uint64{target + 2, mainAddr + 5}, true, pid, s), "main;btool_symtest_target"; have != want {
					t.Errorf("%s: FoldedStack: have %q, want %q", when, have, want)
				}
			}
			check("running")
			stdin.Close()
			if err := cmd.Wait(); err != nil {
				t.Fatal(err)
			}
			check("exited")

			// A fresh symbolizer cannot read the exited process's map.
			s2 := New(Options{})
			defer s2.Close()
			if err := s2.Snapshot(pid); err == nil {
				t.Error("Snapshot of an exited process succeeded")
			}
			if _, _, _, ok := s2.User(pid, target); ok {
				t.Error("User resolved an address of an exited, unknown process")
			}
		})
	}
}

// TestProcSymbolizerFakeProc symbolizes through a hand-written maps file
// that maps the text segment at an unusual address and file offset.
func TestProcSymbolizerFakeProc(t *testing.T) {
	bin := buildSymTestProgram(t, "-pie", "-fPIE")
	b, err := dwarfinfo.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	syms, err := b.Lookup("btool_symtest_target")
	if err != nil {
		t.Fatal(err)
	}
	fileOff := syms[0].Offset // file offset of the function
	const mapStart, mapOff = 0x7f1234560000, 0x1000
	if fileOff < mapOff || fileOff >= mapOff+0x10000 {
		t.Skipf("function at unexpected file offset %#x", fileOff)
	}
	root := t.TempDir()
	pidDir := filepath.Join(root, "777")
	if err := os.MkdirAll(pidDir, 0o755); err != nil {
		t.Fatal(err)
	}
	maps := fmt.Sprintf("%x-%x r-xp %08x 00:00 0 %s\n", uint64(mapStart), uint64(mapStart+0x10000), mapOff, bin)
	if err := os.WriteFile(filepath.Join(pidDir, "maps"), []byte(maps), 0o644); err != nil {
		t.Fatal(err)
	}
	s := New(Options{})
	s.procRoot = root
	defer s.Close()
	addr := mapStart + fileOff - mapOff + 4
	name, off, module, ok := s.User(777, addr)
	if !ok || name != "btool_symtest_target" || off != 4 || module != bin {
		t.Errorf("User = %q, %#x, %q, %v; want btool_symtest_target, 0x4, %s", name, off, module, ok, bin)
	}
	if _, _, module, ok := s.User(777, mapStart-1); ok || module != "" {
		t.Errorf("User below the mapping = %q, %v", module, ok)
	}
	if _, _, _, ok := s.User(778, addr); ok {
		t.Error("User of a pid without maps succeeded")
	}
}
