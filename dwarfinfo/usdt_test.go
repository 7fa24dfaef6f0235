package dwarfinfo

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"os"
	"os/exec"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

func TestParseUSDTArgs(t *testing.T) {
	for _, tt := range []struct {
		have string
		want []USDTArg
	}{
		{"", nil},
		{"-4@%edi", []USDTArg{{Spec: "-4@%edi", Size: 4, Signed: true, Kind: ArgReg, Reg: "edi"}}},
		{"8@%rax", []USDTArg{{Spec: "8@%rax", Size: 8, Kind: ArgReg, Reg: "rax"}}},
		{"1@%dil", []USDTArg{{Spec: "1@%dil", Size: 1, Kind: ArgReg, Reg: "dil"}}},
		{"-2@%r9w", []USDTArg{{Spec: "-2@%r9w", Size: 2, Signed: true, Kind: ArgReg, Reg: "r9w"}}},
		{"8@-16(%rbp)", []USDTArg{{Spec: "8@-16(%rbp)", Size: 8, Kind: ArgMem, Reg: "rbp", Offset: -16}}},
		{"4@(%rax)", []USDTArg{{Spec: "4@(%rax)", Size: 4, Kind: ArgMem, Reg: "rax"}}},
		{"4@0x10(%rsp)", []USDTArg{{Spec: "4@0x10(%rsp)", Size: 4, Kind: ArgMem, Reg: "rsp", Offset: 16}}},
		{"4@$5", []USDTArg{{Spec: "4@$5", Size: 4, Kind: ArgConst, Const: 5}}},
		{"-8@$-1", []USDTArg{{Spec: "-8@$-1", Size: 8, Signed: true, Kind: ArgConst, Const: -1}}},
		{"8@$0xffffffffffffffff", []USDTArg{{Spec: "8@$0xffffffffffffffff", Size: 8, Kind: ArgConst, Const: -1}}},
		{"8@16(%rsp,%rbx,8)", []USDTArg{{Spec: "8@16(%rsp,%rbx,8)", Size: 8, Kind: ArgMem, Reg: "rsp", Offset: 16, Index: "rbx", Scale: 8}}},
		{"4@(,%rcx,4)", []USDTArg{{Spec: "4@(,%rcx,4)", Size: 4, Kind: ArgMem, Index: "rcx", Scale: 4}}},
		{"-4@counter(%rip)", []USDTArg{{Spec: "-4@counter(%rip)", Size: 4, Signed: true, Kind: ArgMem, Reg: "rip", Symbol: "counter"}}},
		{"8@tab+8(%rip)", []USDTArg{{Spec: "8@tab+8(%rip)", Size: 8, Kind: ArgMem, Reg: "rip", Symbol: "tab", Offset: 8}}},
		{"%rdi", []USDTArg{{Spec: "%rdi", Size: 8, Kind: ArgReg, Reg: "rdi"}}},
		// arm64
		{"-4@x0", []USDTArg{{Spec: "-4@x0", Size: 4, Signed: true, Kind: ArgReg, Reg: "x0"}}},
		{"8@[sp, 16]", []USDTArg{{Spec: "8@[sp, 16]", Size: 8, Kind: ArgMem, Reg: "sp", Offset: 16}}},
		{"4@[x29, #-20]", []USDTArg{{Spec: "4@[x29, #-20]", Size: 4, Kind: ArgMem, Reg: "x29", Offset: -20}}},
		{"4@[x1]", []USDTArg{{Spec: "4@[x1]", Size: 4, Kind: ArgMem, Reg: "x1"}}},
		{"-4@7", []USDTArg{{Spec: "-4@7", Size: 4, Signed: true, Kind: ArgConst, Const: 7}}},
		// several
		{"-4@%edi 8@-16(%rbp)  4@$5", []USDTArg{
			{Spec: "-4@%edi", Size: 4, Signed: true, Kind: ArgReg, Reg: "edi"},
			{Spec: "8@-16(%rbp)", Size: 8, Kind: ArgMem, Reg: "rbp", Offset: -16},
			{Spec: "4@$5", Size: 4, Kind: ArgConst, Const: 5},
		}},
	} {
		got, err := ParseUSDTArgs(tt.have)
		if err != nil {
			t.Errorf("ParseUSDTArgs(%q): %v", tt.have, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseUSDTArgs(%q) =\n  %+v\nwant\n  %+v", tt.have, got, tt.want)
		}
	}
}

func TestParseUSDTArgsErrors(t *testing.T) {
	for _, tt := range []struct{ have, bad string }{
		{"3@%eax", "3@%eax"},
		{"x@%eax", "x@%eax"},
		{"4@%xyz", "4@%xyz"},
		{"4@%fs:8", "4@%fs:8"},
		{"-4@%edi 4@$sym", "4@$sym"},
		{"8@16(%rsp,%rbx,3)", "8@16(%rsp,%rbx,3)"},
		{"8@()", "8@()"},
		{"8@1+(%rax)", "8@1+(%rax)"},
		{"8@[q9]", "8@[q9]"},
		{"8@", "8@"},
		{"8@foo", "8@foo"},
	} {
		_, err := ParseUSDTArgs(tt.have)
		if err == nil {
			t.Errorf("ParseUSDTArgs(%q) succeeded, want an error", tt.have)
			continue
		}
		if !strings.Contains(err.Error(), strconv.Quote(tt.bad)) {
			t.Errorf("ParseUSDTArgs(%q) error %q does not name %q", tt.have, err, tt.bad)
		}
	}
}

// readelfNote is one stapsdt note as printed by readelf -n.
type readelfNote struct {
	provider, name, args string
	pc, sem              uint64
}

func readelfNotes(t *testing.T, path string) ([]readelfNote, bool) {
	re, err := exec.LookPath("readelf")
	if err != nil {
		return nil, false
	}
	out, err := exec.Command(re, "-n", path).Output()
	if err != nil {
		t.Fatalf("readelf -n: %v", err)
	}
	var notes []readelfNote
	sc := bufio.NewScanner(bytes.NewReader(out))
	hex := func(s string) uint64 {
		v, err := strconv.ParseUint(strings.TrimPrefix(strings.TrimSpace(strings.TrimSuffix(s, ",")), "0x"), 16, 64)
		if err != nil {
			t.Fatalf("readelf output: %v", err)
		}
		return v
	}
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(line, "Provider: "):
			notes = append(notes, readelfNote{provider: strings.TrimPrefix(line, "Provider: ")})
		case strings.HasPrefix(line, "Name: ") && len(notes) > 0:
			notes[len(notes)-1].name = strings.TrimPrefix(line, "Name: ")
		case strings.HasPrefix(line, "Location: ") && len(notes) > 0:
			f := strings.Fields(line) // Location: 0x.., Base: 0x.., Semaphore: 0x..
			notes[len(notes)-1].pc = hex(f[1])
			notes[len(notes)-1].sem = hex(f[5])
		case strings.HasPrefix(line, "Arguments:") && len(notes) > 0:
			notes[len(notes)-1].args = strings.TrimSpace(strings.TrimPrefix(line, "Arguments:"))
		}
	}
	return notes, true
}

func TestUSDT(t *testing.T) {
	for _, opt := range []string{"-O0", "-O2"} {
		t.Run(opt, func(t *testing.T) {
			path := build(t, "gcc", "usdt.c", "-g", opt)
			b := open(t, path)
			probes, err := b.USDT()
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, p := range probes {
				names = append(names, p.Provider+":"+p.Name)
			}
			if want := []string{"btool:start", "btool:args", "btool:constant", "btool:guarded"}; !reflect.DeepEqual(names, want) {
				t.Fatalf("probes %v, want %v", names, want)
			}
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			probesSec := b.elf.Section(".probes")
			for _, p := range probes {
				if raw[p.Offset] != 0x90 {
					t.Errorf("%s: byte at Offset %#x is %#x, want a nop", p.Name, p.Offset, raw[p.Offset])
				}
				if _, err := ParseUSDTArgs(p.Args); err != nil {
					t.Errorf("%s: %v", p.Name, err)
				}
				if p.Name != "guarded" {
					if p.Semaphore != 0 || p.SemaphoreOffset != 0 {
						t.Errorf("%s: unexpected semaphore %#x/%#x", p.Name, p.Semaphore, p.SemaphoreOffset)
					}
					continue
				}
				if probesSec == nil || p.Semaphore != probesSec.Addr {
					t.Fatalf("guarded: Semaphore %#x, want the start of .probes", p.Semaphore)
				}
				if p.SemaphoreOffset != probesSec.Offset {
					t.Errorf("guarded: SemaphoreOffset %#x, want .probes file offset %#x", p.SemaphoreOffset, probesSec.Offset)
				}
			}
			if args := probes[2].Args; args != "-4@$5" {
				t.Errorf("constant probe args %q, want -4@$5", args)
			}
			if opt == "-O2" {
				if args := probes[1].Args; args != "-4@%edi -8@%rsi 8@%rdx" {
					t.Errorf("args probe at -O2: %q, want -4@%%edi -8@%%rsi 8@%%rdx", args)
				}
			}

			notes, ok := readelfNotes(t, path)
			if !ok {
				t.Skip("readelf not installed")
			}
			if len(notes) != len(probes) {
				t.Fatalf("readelf shows %d notes, we have %d", len(notes), len(probes))
			}
			for i, n := range notes {
				p := probes[i]
				if n.provider != p.Provider || n.name != p.Name || n.pc != p.Addr || n.sem != p.Semaphore || n.args != p.Args {
					t.Errorf("probe %d = %+v, readelf says %+v", i, p, n)
				}
			}
		})
	}
}

// TestUSDTPrelink rewrites a note's base address as prelink would leave it
// and checks that the probe address is adjusted by the difference.
func TestUSDTPrelink(t *testing.T) {
	path := build(t, "gcc", "usdt.c", "-O0")
	orig := open(t, path)
	want, err := orig.USDT()
	if err != nil {
		t.Fatal(err)
	}
	sec := orig.elf.Section(".note.stapsdt")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// First note: namesz, descsz, type, "stapsdt\0", then pc, base, semaphore.
	baseAt := sec.Offset + 12 + 8 + 8
	base := binary.LittleEndian.Uint64(raw[baseAt:])
	binary.LittleEndian.PutUint64(raw[baseAt:], base-0x10)
	patched := path + ".prelinked"
	if err := os.WriteFile(patched, raw, 0o755); err != nil {
		t.Fatal(err)
	}
	got, err := open(t, patched).USDT()
	if err != nil {
		t.Fatal(err)
	}
	if got[0].Addr != want[0].Addr+0x10 || got[0].Offset != want[0].Offset+0x10 {
		t.Errorf("prelinked probe at %#x (offset %#x), want %#x (offset %#x)", got[0].Addr, got[0].Offset, want[0].Addr+0x10, want[0].Offset+0x10)
	}
	if got[1].Addr != want[1].Addr {
		t.Errorf("unpatched probe moved: %#x, want %#x", got[1].Addr, want[1].Addr)
	}
}

func TestUSDTNone(t *testing.T) {
	b := open(t, build(t, "gcc", "funcs.c", "-O0"))
	if probes, err := b.USDT(); err != nil || len(probes) != 0 {
		t.Errorf("USDT() = %v, %v; want none", probes, err)
	}
}
