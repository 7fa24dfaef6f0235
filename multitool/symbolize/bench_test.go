package symbolize

import (
	"bytes"
	"debug/elf"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
)

// cpuTime returns the process's user and system CPU time in ns.
func cpuTime() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// benchProgram returns C source with n functions that call each other
// through always-inlined helpers, so that DWARF has inlined frames.
func benchProgram(n int) string {
	var b strings.Builder
	b.WriteString("volatile int sink;\n")
	b.WriteString("static inline __attribute__((always_inline)) int helper(int x) { sink += x; return sink * 3; }\n")
	for i := range n {
		fmt.Fprintf(&b, "__attribute__((noinline)) int fn_%d(int x) {\n", i)
		fmt.Fprintf(&b, "\tint r = helper(x + %d);\n", i)
		if i > 0 {
			fmt.Fprintf(&b, "\tif (x > %d) r += fn_%d(x - 1);\n", i%7, i-1)
		}
		if i > 2 {
			fmt.Fprintf(&b, "\tif (x & %d) r += fn_%d(x >> 1);\n", 1<<(i%5), i/2)
		}
		b.WriteString("\treturn r + helper(r);\n}\n")
	}
	fmt.Fprintf(&b, "int main(int argc, char **argv) { return fn_%d(argc); }\n", n-1)
	return b.String()
}

// BenchmarkSymbolize10kStacks symbolizes and prints (FormatStack, as
// trace -U and stackcount print) 10,000 distinct user stacks of 16 frames
// of one process and one binary (300 functions, -O2 -g, so DWARF inlined
// frames are looked up too), with a cold symbolizer every iteration: the
// file is opened, its symbol table and DWARF read. Frames are drawn from
// 4,096 distinct addresses, like return addresses of real stacks. The
// issue's target is 200 ms per op; cpu-ms/op is the CPU time of an op. Sub-benchmark "lines" adds file:line
// (-v); "fresh" draws every frame at a new random address (no repeats:
// the worst case for the address cache).
func BenchmarkSymbolize10kStacks(b *testing.B) {
	bin := buildC(b, "gcc", ".c", benchProgram(300), "-O2", "-g", "-pie", "-fPIE")
	ef, err := elf.Open(bin)
	if err != nil {
		b.Fatal(err)
	}
	defer ef.Close()
	const base = 0x555555554000
	var maps string
	for _, p := range ef.Progs {
		if p.Type == elf.PT_LOAD && p.Flags&elf.PF_X != 0 {
			start, end := base+p.Vaddr&^0xfff, base+(p.Vaddr+p.Memsz+0xfff)&^0xfff
			maps = fmt.Sprintf("%x-%x r-xp %08x 00:00 0 %s\n", start, end, p.Off&^0xfff, bin)
		}
	}
	var funcs [][2]uint64
	for name, s := range nmSyms(b, bin) {
		if strings.HasPrefix(name, "fn_") && s[1] > 1 {
			funcs = append(funcs, s)
		}
	}
	slices.SortFunc(funcs, func(x, y [2]uint64) int { return int(x[0]>>1) - int(y[0]>>1) })
	root := b.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "4242"), 0o755); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "4242", "maps"), []byte(maps), 0o644); err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	// Return addresses: never a function's first byte, since frames after
	// the leaf are looked up at the call instruction (addr-1), which for
	// a first byte is in the function before.
	addr := func() uint64 {
		f := funcs[rng.IntN(len(funcs))]
		return base + f[0] + 1 + rng.Uint64N(f[1]-1)
	}
	pool := make([]uint64, 4096)
	for i := range pool {
		pool[i] = addr()
	}
	stacks := func(fresh bool) [][]uint64 {
		seen := map[string]bool{}
		var out [][]uint64
		for len(out) < 10000 {
			st := make([]uint64, 16)
			for i := range st {
				if fresh {
					st[i] = addr()
				} else {
					st[i] = pool[rng.IntN(len(pool))]
				}
			}
			if k := fmt.Sprint(st); !seen[k] {
				seen[k] = true
				out = append(out, st)
			}
		}
		return out
	}
	pooled, fresh := stacks(false), stacks(true)
	for _, bc := range []struct {
		name   string
		stacks [][]uint64
		lines  bool
	}{{"pooled", pooled, false}, {"lines", pooled, true}, {"fresh", fresh, false}} {
		b.Run(bc.name, func(b *testing.B) {
			var out bytes.Buffer
			unknown, n := 0, 0
			cpu0 := cpuTime()
			for b.Loop() {
				n++
				s := New(Options{Lines: bc.lines})
				s.procRoot = root
				out.Reset()
				for _, st := range bc.stacks {
					if err := FormatStack(&out, st, true, 4242, false, s); err != nil {
						b.Fatal(err)
					}
					out.WriteByte('\n')
				}
				s.Close()
				unknown = bytes.Count(out.Bytes(), []byte("[unknown]"))
			}
			if unknown > 0 {
				b.Fatalf("%d unknown frames", unknown)
			}
			b.ReportMetric(float64(out.Len())/1e6, "MB-printed")
			// CPU time (user+system, all threads, GC included) is what a
			// loaded shared host does not inflate the way it does wall time.
			b.ReportMetric(float64(cpuTime()-cpu0)/1e6/float64(n), "cpu-ms/op")
		})
	}
}
