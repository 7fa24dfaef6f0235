package flamegraph

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

var fuzzSeeds = []string{
	"a;b;c 123\n",
	"comm;main;-;do_syscall_64 3\nx 0\n\n",
	"my prog;operator new(unsigned long) 9\r\n",
	"a 18446744073709551615\nb 1\n",
	"\xff\x01<&>\"' 4\n",
	"a;;b; 2\n",
	"a\n",
	"  5\n",
	"a 1.5\n",
}

// FuzzParseFolded checks that ParseFolded never panics, and that what it
// accepts prints back to folded text that parses to the same stacks.
func FuzzParseFolded(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		stacks, err := ParseFolded(bytes.NewReader(data))
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error spans lines: %q", err)
			}
			return
		}
		var b strings.Builder
		for _, s := range stacks {
			if len(s.Frames) == 0 {
				t.Fatalf("stack without frames")
			}
			fmt.Fprintf(&b, "%s %d\n", strings.Join(s.Frames, ";"), s.Count)
		}
		again, err := ParseFolded(strings.NewReader(b.String()))
		if err != nil {
			t.Fatalf("reparse %q: %v", b.String(), err)
		}
		if !reflect.DeepEqual(again, stacks) {
			t.Fatalf("reparse: have %#v, want %#v", again, stacks)
		}
	})
}

// FuzzWrite checks that whatever folded text ParseFolded accepts, Write
// either fails on an overflowing total or draws well-formed XML whose
// paths and totals are the input's.
func FuzzWrite(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s), false)
	}
	f.Fuzz(func(t *testing.T, data []byte, inverted bool) {
		stacks, err := ParseFolded(bytes.NewReader(data))
		if err != nil {
			return
		}
		var b bytes.Buffer
		if err := Write(&b, stacks, Options{MinWidth: -1, Inverted: inverted, Title: string(data)}); err != nil {
			if !strings.Contains(err.Error(), "more than 2^64-1") {
				t.Fatal(err)
			}
			return
		}
		g, err := decodeSVG(b.Bytes())
		if err != nil {
			t.Fatalf("not well-formed: %v\n%s", err, b.Bytes())
		}
		want := wantTotals(stacks)
		if len(want) == 0 {
			if len(g.frames) != 0 {
				t.Fatalf("frames drawn for no counts")
			}
			return
		}
		have := g.totals(t)
		if !reflect.DeepEqual(have, want) {
			t.Fatalf("totals: have %v, want %v", have, want)
		}
	})
}
