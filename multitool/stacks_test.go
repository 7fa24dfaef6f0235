package multitool

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/btool/btool/internal/flamegraph"
	"github.com/btool/btool/multitool/symbolize"
)

// stackSamples are samples over fakeSym's symbols: two processes with the
// same user stack (merged without -P), a kernel thread, and a sample with
// an unknown frame.
func stackSamples() []StackSample {
	return []StackSample{
		{PID: 42, Comm: "app", Kernel: []uint64{fakeVfsRead + 0x10, fakeOpenat + 4}, User: []uint64{fakeMain + 0x120, fakeMain + 8}, Value: 5},
		{PID: 42, Comm: "app", Kernel: []uint64{fakeOpenat + 4}, User: []uint64{fakeMain + 0x120, fakeMain + 8}, Value: 7},
		{PID: 0, Comm: "kworker/0:1", Kernel: []uint64{fakeVfsRead}, Value: 2},
		{PID: 42, Comm: "app2", User: []uint64{fakeLibc + 0x10, fakeMain + 8}, Value: 3},
	}
}

// TestStackListing checks bcc stackcount's listing layout (golden files):
// kernel then user frames leaf first, two spaces in; "--" with -d; the
// "comm [pid]" line with -P; counts four spaces in, ascending.
func TestStackListing(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    stackPrint
	}{
		{"listing.txt", stackPrint{Kernel: true, User: true}},
		{"listing_P_d_s.txt", stackPrint{Kernel: true, User: true, PerProcess: true, PIDLine: true, Delimiter: true, Offsets: true}},
		{"listing_v_K.txt", stackPrint{Kernel: true, Addrs: true}},
	} {
		var b bytes.Buffer
		samples := stackSamples()
		if !tc.p.User {
			for i := range samples {
				samples[i].User = nil
			}
		}
		writeListing(&b, render(samples, tc.p, fakeSym{}), tc.p)
		golden(t, "stacks/"+tc.name, b.String())
	}
}

// TestStackFolded checks the folded form (golden) and that it parses back
// with flamegraph.ParseFolded with the counts summed right: without -P the
// two processes' identical stacks merge and the comm is empty.
func TestStackFolded(t *testing.T) {
	for _, tc := range []struct {
		name  string
		p     stackPrint
		total uint64
	}{
		{"folded.txt", stackPrint{Kernel: true, User: true, Folded: true}, 17},
		{"folded_P.txt", stackPrint{Kernel: true, User: true, PerProcess: true, Folded: true}, 17},
	} {
		var b bytes.Buffer
		writeFolded(&b, render(stackSamples(), tc.p, fakeSym{}), tc.p)
		golden(t, "stacks/"+tc.name, b.String())
		stacks, err := flamegraph.ParseFolded(strings.NewReader(b.String()))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		var total uint64
		for _, s := range stacks {
			total += s.Count
		}
		if total != tc.total {
			t.Errorf("%s: total %d, want %d", tc.name, total, tc.total)
		}
	}
}

func TestStackJSON(t *testing.T) {
	var b bytes.Buffer
	p := stackPrint{Kernel: true, User: true, PerProcess: true, JSON: true}
	if err := writeStacksJSON(&b, time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), render(stackSamples(), p, fakeSym{}), p); err != nil {
		t.Fatal(err)
	}
	golden(t, "stacks/stacks.json", b.String())
}

// TestStackRenderMerge: samples printing alike merge; sorted ascending;
// samples without frames are left out.
func TestStackRenderMerge(t *testing.T) {
	s := stackSamples()
	s = append(s, StackSample{PID: 43, Comm: "other", Kernel: []uint64{fakeVfsRead}, Value: 1})
	texts := render(s, stackPrint{Kernel: true, User: true, Folded: true}, fakeSym{})
	var vals []uint64
	for _, t := range texts {
		vals = append(vals, t.value)
	}
	// pid 43's kernel-only stack prints as the kernel thread's: 2+1.
	want := []uint64{3, 3, 5, 7}
	if len(vals) != len(want) {
		t.Fatalf("values %v, want %v", vals, want)
	}
	for i := range want {
		if vals[i] != want[i] {
			t.Fatalf("values %v, want %v", vals, want)
		}
	}
}

// TestStackChoice: -K with -U is a usage error.
func TestStackChoice(t *testing.T) {
	if _, _, err := stackChoice(true, true); err == nil || !IsUsage(err) {
		t.Errorf("-K -U: %v, want a usage error", err)
	}
	if k, u, err := stackChoice(false, false); !k || !u || err != nil {
		t.Errorf("default: %v %v %v", k, u, err)
	}
}

// TestStackShowEmpty: profile shows a -K sample taken in user mode (no
// kernel frames) under "[in user mode]"; stackcount leaves it out.
func TestStackShowEmpty(t *testing.T) {
	s := []StackSample{{PID: 42, Comm: "app", Value: 9}, {PID: 42, Comm: "app", Kernel: []uint64{fakeVfsRead}, Value: 1}}
	p := stackPrint{Kernel: true, PerProcess: true, Folded: true, ShowEmpty: true}
	var b bytes.Buffer
	writeFolded(&b, render(s, p, fakeSym{}), p)
	if want := "app;vfs_read 1\napp;[in user mode] 9\n"; b.String() != want {
		t.Errorf("folded:\n%s\nwant:\n%s", b.String(), want)
	}
	p.ShowEmpty = false
	if got := render(s, p, fakeSym{}); len(got) != 1 {
		t.Errorf("without ShowEmpty: %d stacks, want 1", len(got))
	}
}

// jitSym is fakeSym plus frames of kinds: a JIT frame at 0x5000 and a Go
// frame at 0x6000.
type jitSym struct{ fakeSym }

func (jitSym) KernelFrame(addr uint64) (symbolize.Frame, bool) {
	name, off, ok := fakeSym{}.Kernel(addr)
	return symbolize.Frame{Name: name, Off: off, Kind: symbolize.KindKernel}, ok
}

func (jitSym) UserFrames(pid uint32, addr uint64, dst []symbolize.Frame) []symbolize.Frame {
	switch {
	case addr >= 0x5000 && addr < 0x5100:
		return append(dst, symbolize.Frame{Name: "LazyCompile:*hot", Kind: symbolize.KindJIT})
	case addr >= 0x6000 && addr < 0x6100:
		return append(dst, symbolize.Frame{Name: "main.work", Kind: symbolize.KindGo})
	}
	name, off, _, _ := fakeSym{}.User(pid, addr)
	return append(dst, symbolize.Frame{Name: name, Off: off, Kind: symbolize.KindSymtab})
}

// TestStackSVGKinds: frames the symbolizer knows as JIT or Go code get
// those colours in the SVG, kernel frames after the delimiter the
// kernel's, the comm none; kernel-only stacks are all kernel.
func TestStackSVGKinds(t *testing.T) {
	svg := &svgStacks{kinds: map[string]symbolize.Kind{}}
	p := stackPrint{Kernel: true, User: true, PerProcess: true, Folded: true, Kinds: svg.kinds}
	s := []StackSample{{PID: 42, Comm: "node", Kernel: []uint64{fakeVfsRead}, User: []uint64{0x5010, 0x6010, fakeMain + 8}, Value: 3}}
	svg.add(render(s, p, jitSym{}), p)
	if len(svg.stacks) != 1 {
		t.Fatalf("stacks %v", svg.stacks)
	}
	kind := svg.kindFunc(p)
	want := []flamegraph.FrameKind{flamegraph.Other, flamegraph.User, flamegraph.Go, flamegraph.JIT, flamegraph.Other, flamegraph.Kernel}
	after := false
	for i, f := range svg.stacks[0].Frames {
		if f == flamegraph.Delimiter {
			after = true
			continue
		}
		if got := kind(f, i, after); got != want[i] {
			t.Errorf("frame %d %q: %v, want %v (frames %q)", i, f, got, want[i], svg.stacks[0].Frames)
		}
	}
	k := svg.kindFunc(stackPrint{Kernel: true})
	if got := k("vfs_read", 0, false); got != flamegraph.Kernel {
		t.Errorf("kernel-only stack frame: %v", got)
	}
}
