package flamegraph

import (
	"bytes"
	"encoding/xml"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// svgFrame is one box read back from an SVG.
type svgFrame struct {
	depth int
	count uint64
	name  string // from the <title>
	title string
	label string
	x, y  float64
	w     float64
	fill  string
}

// svgGraph is what readSVG found.
type svgGraph struct {
	root   map[string]string // attributes of <svg>
	frames []svgFrame        // in document order
	texts  map[string]string // text of elements with an id
}

// readSVG parses an SVG with encoding/xml in strict mode, failing the test
// if it is not well-formed, and returns its frames.
func readSVG(t testing.TB, data []byte) svgGraph {
	t.Helper()
	g, err := decodeSVG(data)
	if err != nil {
		t.Fatalf("SVG: %v", err)
	}
	return g
}

func decodeSVG(data []byte) (svgGraph, error) {
	g := svgGraph{root: map[string]string{}, texts: map[string]string{}}
	d := xml.NewDecoder(bytes.NewReader(data))
	d.Strict = true
	var cur *svgFrame
	var stack []string // open element names
	var text strings.Builder
	var id string
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return g, err
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			attr := map[string]string{}
			for _, a := range tok.Attr {
				attr[a.Name.Local] = a.Value
			}
			stack = append(stack, tok.Name.Local)
			text.Reset()
			id = attr["id"]
			switch tok.Name.Local {
			case "svg":
				if len(stack) != 1 || tok.Name.Space != "http://www.w3.org/2000/svg" {
					return g, fmt.Errorf("misplaced <svg> in %s", tok.Name.Space)
				}
				g.root = attr
			case "g":
				if attr["class"] != "f" {
					break
				}
				if cur != nil {
					return g, errors.New("nested frames")
				}
				cur = &svgFrame{}
				if cur.depth, err = strconv.Atoi(attr["data-depth"]); err != nil {
					return g, err
				}
				if cur.count, err = strconv.ParseUint(attr["data-count"], 10, 64); err != nil {
					return g, err
				}
			case "rect":
				if cur != nil {
					cur.x, _ = strconv.ParseFloat(attr["x"], 64)
					cur.y, _ = strconv.ParseFloat(attr["y"], 64)
					cur.w, _ = strconv.ParseFloat(attr["width"], 64)
					cur.fill = attr["fill"]
				}
			}
		case xml.CharData:
			text.Write(tok)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
			switch tok.Name.Local {
			case "title":
				if cur != nil {
					cur.title = text.String()
				}
			case "text":
				if cur != nil {
					cur.label = text.String()
				} else if id != "" {
					g.texts[id] = text.String()
				}
			case "g":
				if cur != nil && len(stack) == 2 { // svg > g#frames > g.f
					suffix := " (" + string(appendCommas(nil, cur.count)) + " " + g.root["data-unit"] + ", "
					k := strings.LastIndex(cur.title, suffix)
					if k < 0 {
						return g, fmt.Errorf("title %q lacks %q", cur.title, suffix)
					}
					cur.name = cur.title[:k]
					g.frames = append(g.frames, *cur)
					cur = nil
				}
			}
		}
	}
	return g, nil
}

// totals returns the count of each path drawn, by names joined with "\x00"
// ("all" is the empty path); boxes with the same path (a kernel and a user
// frame of the same name) add up. It checks that depths nest.
func (g svgGraph) totals(t testing.TB) map[string]uint64 {
	t.Helper()
	m := map[string]uint64{}
	var path []string
	for i, f := range g.frames {
		if i == 0 && f.depth != 0 || i > 0 && (f.depth < 1 || f.depth > len(path)+1) {
			t.Fatalf("frame %d (%q) at depth %d after a path of %d", i, f.name, f.depth, len(path))
		}
		if f.depth == 0 {
			if f.name != "all" {
				t.Fatalf("root frame %q", f.name)
			}
			m[""] += f.count
			continue
		}
		path = append(path[:f.depth-1], f.name)
		m[strings.Join(path, "\x00")] += f.count
	}
	return m
}

// wantTotals computes, independently of Write, the total of every path
// prefix of the stacks: the count of the stacks through it, names
// sanitized, the delimiter dropped.
func wantTotals(stacks []Stack) map[string]uint64 {
	m := map[string]uint64{}
	for _, s := range stacks {
		if s.Count == 0 {
			continue
		}
		m[""] += s.Count
		var path []string
		for _, f := range s.Frames {
			if f == "-" {
				continue
			}
			path = append(path, sanitize(f))
			m[strings.Join(path, "\x00")] += s.Count
		}
	}
	return m
}

func render(t testing.TB, stacks []Stack, o Options) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := Write(&b, stacks, o); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// randomStacks returns n distinct stacks, 2 to 30 frames deep, drawn from
// a few hundred names so that prefixes are shared, with counts from 1 to
// maxCount.
func randomStacks(seed uint64, n int, maxCount uint64) []Stack {
	r := rand.New(rand.NewPCG(seed, 1))
	names := make([]string, 300)
	for i := range names {
		switch i % 4 {
		case 0:
			names[i] = fmt.Sprintf("c_function_%d", i)
		case 1:
			names[i] = fmt.Sprintf("github.com/x/pkg%d.(*T).Method%d", i%7, i)
		case 2:
			names[i] = fmt.Sprintf("main.f%d", i)
		default:
			names[i] = fmt.Sprintf("std::vector<int>::op%d(int, long)", i)
		}
	}
	seen := map[string]bool{}
	var stacks []Stack
	for len(stacks) < n {
		depth := 2 + r.IntN(29)
		frames := []string{fmt.Sprintf("comm%d", r.IntN(3))}
		for len(frames) < depth {
			frames = append(frames, names[r.IntN(8+len(frames)*10)])
		}
		if r.IntN(2) == 0 {
			frames = append(frames, "-", "entry_SYSCALL_64", "do_syscall_64", fmt.Sprintf("__x64_sys_%d", r.IntN(20)))
		}
		k := strings.Join(frames, ";")
		if seen[k] {
			continue
		}
		seen[k] = true
		stacks = append(stacks, Stack{Frames: frames, Count: 1 + r.Uint64N(maxCount)})
	}
	return stacks
}

func readFolded(t testing.TB, path string) []Stack {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s, err := ParseFolded(f)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestWriteRoundTrip is the check issue 9 asks for: folded text in, SVG
// out, SVG parsed back as XML; every stack of the input is in it with the
// right total, and nothing else is.
func TestWriteRoundTrip(t *testing.T) {
	inputs := map[string][]Stack{
		"small":  readFolded(t, "testdata/small.folded"),
		"random": randomStacks(1, 500, 1000),
		"merged": { // the same path on several lines, in any order
			{[]string{"p", "b", "c"}, 1}, {[]string{"p", "a"}, 2}, {[]string{"p", "b", "c"}, 3},
			{[]string{"p", "b"}, 4}, {[]string{"p", "a"}, 0}, {[]string{"q"}, 5},
		},
	}
	for name, stacks := range inputs {
		t.Run(name, func(t *testing.T) {
			for _, inverted := range []bool{false, true} {
				o := Options{MinWidth: -1, Inverted: inverted}
				g := readSVG(t, render(t, stacks, o))
				want := wantTotals(stacks)
				have := g.totals(t)
				for path, n := range want {
					if have[path] != n {
						t.Errorf("path %q: have %d, want %d", path, have[path], n)
					}
				}
				for path, n := range have {
					if _, ok := want[path]; !ok {
						t.Errorf("path %q (%d) is not in the input", path, n)
					}
				}
				var sum uint64
				for _, s := range stacks {
					sum += s.Count
				}
				if g.frames[0].count != sum {
					t.Errorf("root total %d, want the input's sum %d", g.frames[0].count, sum)
				}
				checkGeometry(t, g, o)
			}
		})
	}
}

// checkGeometry checks that boxes are as wide as their counts, children
// lie side by side over their parent sorted by name, and rows stack up (or
// down when inverted) from the root.
func checkGeometry(t *testing.T, g svgGraph, o Options) {
	t.Helper()
	width, _ := strconv.Atoi(g.root["width"])
	total := float64(g.frames[0].count)
	scale := float64(width-2*xpad) / total
	var parents []int // index of the open frame at each depth
	next := map[int]float64{}
	for i, f := range g.frames {
		if want := float64(f.count) * scale; math.Abs(f.w-want) > 0.006 {
			t.Fatalf("%q: width %.2f, want %.2f (count %d of %.0f)", f.name, f.w, want, f.count, total)
		}
		parents = append(parents[:f.depth], i)
		if f.depth == 0 {
			if f.x != xpad {
				t.Fatalf("root at x=%v", f.x)
			}
			continue
		}
		p := g.frames[parents[f.depth-1]]
		start, ok := next[parents[f.depth-1]]
		if !ok {
			start = p.x
		}
		if f.x < start-0.011 || f.x+f.w > p.x+p.w+0.011 {
			t.Fatalf("%q at [%.2f, %.2f] is not within its parent %q at [%.2f, %.2f] after its siblings (%.2f)",
				f.name, f.x, f.x+f.w, p.name, p.x, p.x+p.w, start)
		}
		next[parents[f.depth-1]] = f.x + f.w
		dy := p.y - f.y
		if o.Inverted {
			dy = -dy
		}
		if dy != 16 {
			t.Fatalf("%q is %v pixels from its parent's row", f.name, dy)
		}
	}
	// Siblings in name order.
	for i := 1; i < len(g.frames); i++ {
		a, b := g.frames[i-1], g.frames[i]
		for j := i - 1; j >= 0 && g.frames[j].depth >= b.depth; j-- {
			if g.frames[j].depth == b.depth {
				a = g.frames[j]
				if a.name > b.name {
					t.Fatalf("sibling %q before %q", a.name, b.name)
				}
				break
			}
		}
	}
}

// TestWriteMinWidth checks that boxes narrower than MinWidth are left out
// with their children, while every total, the root's included, still
// counts them.
func TestWriteMinWidth(t *testing.T) {
	// 10,000 counts over 1180 pixels: 0.118 pixels per count.
	stacks := []Stack{
		{[]string{"p", "big"}, 9000},
		{[]string{"p", "big", "wide"}, 500},
		{[]string{"p", "big", "narrow", "child"}, 40}, // 4.72 px
		{[]string{"p", "mid"}, 45},                    // 5.31 px
		{[]string{"p", "tiny"}, 1},                    // 0.118 px
		{[]string{"p", "tiny2", "x"}, 1},
		{[]string{"q"}, 413},
	}
	want := wantTotals(stacks)
	for _, tt := range []struct {
		min     float64
		omitted []string
	}{
		{-1, nil},
		{0, nil}, // 0.1 pixels
		{0.2, []string{"p\x00tiny", "p\x00tiny2", "p\x00tiny2\x00x"}},
		{5, []string{"p\x00tiny", "p\x00tiny2", "p\x00tiny2\x00x", "p\x00big\x00narrow", "p\x00big\x00narrow\x00child"}},
	} {
		g := readSVG(t, render(t, stacks, Options{MinWidth: tt.min}))
		have := g.totals(t)
		omitted := map[string]bool{}
		for _, p := range tt.omitted {
			omitted[p] = true
		}
		for path, n := range want {
			switch h, ok := have[path]; {
			case omitted[path] && ok:
				t.Errorf("MinWidth %v: %q (%d counts) drawn", tt.min, path, n)
			case !omitted[path] && h != n:
				t.Errorf("MinWidth %v: %q: have %d, want %d", tt.min, path, h, n)
			}
		}
		if len(have)+len(tt.omitted) != len(want) {
			t.Errorf("MinWidth %v: %d paths drawn, want %d", tt.min, len(have), len(want)-len(tt.omitted))
		}
	}
}

// TestWriteNames checks that names with XML metacharacters, invalid UTF-8
// and control characters come back from an XML parser as the same text,
// with U+FFFD for what XML cannot hold, and that names that become equal
// are merged.
func TestWriteNames(t *testing.T) {
	stacks := []Stack{
		{[]string{`<script>alert("x")</script>`, `a&b;c`}, 1},
		{[]string{`q'"]]>`, "\xff\xfeok"}, 2},
		{[]string{"ctl", "a\x01b", "tab\there"}, 3},
		{[]string{"ctl", "a\x02b", "tab\there"}, 4}, // merges with the line above
		{[]string{"nonchars", "x\uFFFEy\uFFFF\u0085z\x7f"}, 5},
		{[]string{"\xed\xa0\x80surrogate", "日本語"}, 6},
		{[]string{"-", "kernel<only>"}, 7},
	}
	g := readSVG(t, render(t, stacks, Options{Title: "<&>\x00", CountName: `"us"`}))
	have := g.totals(t)
	for path, n := range map[string]uint64{
		`<script>alert("x")</script>`:             1,
		"<script>alert(\"x\")</script>\x00a&b;c":  1, // ';' is only special in folded text
		`q'"]]>`:                                  2,
		"q'\"]]>\x00\uFFFD\uFFFDok":               2,
		"ctl\x00a\uFFFDb":                         7,
		"ctl\x00a\uFFFDb\x00tab\uFFFDhere":        7,
		"nonchars\x00x\uFFFDy\uFFFD\uFFFDz\uFFFD": 5,
		"\uFFFD\uFFFD\uFFFDsurrogate\x00日本語":      6,
		"kernel<only>":                            7,
	} {
		if have[path] != n {
			t.Errorf("%q: have %d, want %d", path, have[path], n)
		}
	}
	if g.texts["title"] != "<&>\uFFFD" {
		t.Errorf("title %q", g.texts["title"])
	}
	if g.root["data-unit"] != `"us"` {
		t.Errorf("unit %q", g.root["data-unit"])
	}
	for _, f := range g.frames {
		if f.name == "-" {
			t.Errorf("the delimiter is drawn")
		}
	}
}

// TestWriteColours checks that a function's colour depends on its kind and
// its name only, so it is the same in two graphs of different stacks, and
// that each kind's colours keep to the kind's hue range.
func TestWriteColours(t *testing.T) {
	a := []Stack{
		{[]string{"prog", "main", "runtime.mallocgc", "jitted_[j]"}, 3},
		{[]string{"prog", "main", "read", "-", "vfs_read", "main"}, 5},
		{[]string{"prog", "c_helper"}, 1},
	}
	b := []Stack{
		{[]string{"other", "runtime.mallocgc"}, 100},
		{[]string{"other", "x", "vfs_read"}, 1},
		{[]string{"other", "-", "vfs_read"}, 1},
		{[]string{"other", "main"}, 1},
	}
	type fk struct {
		name string
		kind FrameKind
	}
	fills := map[fk]string{}
	for _, stacks := range [][]Stack{a, b, a} {
		out := render(t, stacks, Options{})
		g := readSVG(t, out)
		for i, f := range g.frames {
			if f.depth < 2 {
				continue
			}
			kind := User
			switch {
			case strings.HasSuffix(f.name, "_[j]"):
				kind = JIT
			case strings.HasPrefix(f.name, "runtime."):
				kind = Go
			case f.name == "vfs_read" && g.frames[i-1].name != "x" || f.name == "main" && f.depth == 5:
				kind = Kernel
			}
			if old, ok := fills[fk{f.name, kind}]; ok && old != f.fill {
				t.Errorf("%s %q: fill %s, earlier %s", kind, f.name, f.fill, old)
			}
			fills[fk{f.name, kind}] = f.fill
			hue := hueOf(t, f.fill)
			h := hues[kind]
			if d := math.Abs(math.Mod(hue-h.hue+540, 360) - 180); d > h.spread+1 {
				t.Errorf("%s %q: hue %.1f, want %v±%v", kind, f.name, hue, h.hue, h.spread)
			}
		}
	}
	if fills[fk{"main", User}] == fills[fk{"main", Kernel}] || fills[fk{"vfs_read", User}] == fills[fk{"vfs_read", Kernel}] {
		t.Errorf("a kernel and a user function of the same name have the same colour: %v", fills)
	}
	// The kinds' hue ranges don't overlap.
	for k1 := Kernel; k1 <= JIT; k1++ {
		for k2 := k1 + 1; k2 <= JIT; k2++ {
			a, b := hues[k1], hues[k2]
			if d := math.Abs(math.Mod(a.hue-b.hue+540, 360) - 180); d <= a.spread+b.spread+10 {
				t.Errorf("hues of %v and %v are %v degrees apart", k1, k2, d)
			}
		}
	}
	// Two runs give the same bytes.
	if !bytes.Equal(render(t, a, Options{}), render(t, a, Options{})) {
		t.Error("two runs differ")
	}
}

func hueOf(t *testing.T, fill string) float64 {
	t.Helper()
	var r, g, b float64
	if _, err := fmt.Sscanf(fill, "rgb(%g,%g,%g)", &r, &g, &b); err != nil {
		t.Fatalf("fill %q: %v", fill, err)
	}
	mx, mn := max(r, g, b), min(r, g, b)
	if mx == mn {
		t.Fatalf("fill %q is grey", fill)
	}
	var h float64
	switch mx {
	case r:
		h = math.Mod((g-b)/(mx-mn), 6)
	case g:
		h = (b-r)/(mx-mn) + 2
	default:
		h = (r-g)/(mx-mn) + 4
	}
	return math.Mod(h*60+360, 360)
}

// TestWriteKind checks what Options.Kind is called with.
func TestWriteKind(t *testing.T) {
	type call struct {
		frame string
		depth int
		after bool
	}
	var calls []call
	stacks := []Stack{{[]string{"comm", "u1", "u2", "-", "k1", "k2"}, 1}, {[]string{"comm", "u1", "-"}, 1}}
	out := render(t, stacks, Options{Kind: func(frame string, depth int, after bool) FrameKind {
		calls = append(calls, call{frame, depth, after})
		return JIT
	}})
	want := []call{{"comm", 0, false}, {"u1", 1, false}, {"u2", 2, false}, {"k1", 3, true}, {"k2", 4, true}}
	if fmt.Sprint(calls) != fmt.Sprint(want) {
		t.Errorf("calls %v, want %v", calls, want)
	}
	for _, f := range readSVG(t, out).frames[1:] {
		if h := hueOf(t, f.fill); math.Abs(h-hues[JIT].hue) > hues[JIT].spread+1 {
			t.Errorf("%q: hue %v, want JIT's", f.name, h)
		}
	}
}

func TestWriteInverted(t *testing.T) {
	stacks := []Stack{{[]string{"a", "b"}, 1}}
	for _, inv := range []bool{false, true} {
		g := readSVG(t, render(t, stacks, Options{Inverted: inv}))
		if root, leaf := g.frames[0].y, g.frames[2].y; (root < leaf) != inv {
			t.Errorf("Inverted %v: root at y=%v, leaf at y=%v", inv, root, leaf)
		}
		if want := map[bool]string{false: "Flame Graph", true: "Icicle Graph"}[inv]; g.texts["title"] != want {
			t.Errorf("title %q, want %q", g.texts["title"], want)
		}
	}
}

func TestWriteCounts(t *testing.T) {
	max := uint64(math.MaxUint64)
	stacks := []Stack{{[]string{"a"}, max - 1}, {[]string{"b"}, 1}}
	g := readSVG(t, render(t, stacks, Options{}))
	if len(g.frames) != 2 || g.frames[0].count != max || g.frames[0].title != "all (18,446,744,073,709,551,615 samples, 100.00%)" {
		t.Errorf("root %q count %d, %d frames (b is 1 in 2^64, far under 0.1 pixels)", g.frames[0].title, g.frames[0].count, len(g.frames))
	}
	g = readSVG(t, render(t, stacks, Options{MinWidth: -1}))
	if len(g.frames) != 3 || g.frames[2].title != "b (1 samples, 0.00%)" || g.frames[2].w != 0 {
		t.Errorf("MinWidth -1: frames %+v", g.frames)
	}
	var b bytes.Buffer
	err := Write(&b, []Stack{{[]string{"a"}, max}, {[]string{"b"}, 1}}, Options{})
	if err == nil || !strings.Contains(err.Error(), "more than 2^64-1") {
		t.Errorf("overflow: have %v", err)
	}
	g = readSVG(t, render(t, []Stack{{[]string{"off"}, 1234567}}, Options{CountName: "us"}))
	if g.frames[1].title != "off (1,234,567 us, 100.00%)" {
		t.Errorf("title %q", g.frames[1].title)
	}
}

func TestWriteEmpty(t *testing.T) {
	for _, stacks := range [][]Stack{nil, {{[]string{"a"}, 0}}} {
		g := readSVG(t, render(t, stacks, Options{}))
		if len(g.frames) != 0 || g.texts["empty"] != "no stacks" {
			t.Errorf("%v: frames %v, texts %v", stacks, g.frames, g.texts)
		}
	}
}

func TestWriteErrors(t *testing.T) {
	for _, tt := range []struct {
		o   Options
		err string
	}{
		{Options{Width: 50}, "width 50 pixels out of range"},
		{Options{Width: -1}, "width -1 pixels out of range"},
		{Options{FrameHeight: 2}, "frame height 2 pixels out of range"},
		{Options{MinWidth: math.NaN()}, "minimum width is NaN"},
	} {
		if err := Write(io.Discard, nil, tt.o); err == nil || !strings.Contains(err.Error(), tt.err) {
			t.Errorf("%+v: have %v, want %q", tt.o, err, tt.err)
		}
	}
	boom := errors.New("boom")
	if err := Write(errWriter{boom}, randomStacks(2, 10, 10), Options{}); !errors.Is(err, boom) {
		t.Errorf("failing writer: have %v", err)
	}
}

type errWriter struct{ err error }

func (w errWriter) Write([]byte) (int, error) { return 0, w.err }

func TestLabel(t *testing.T) {
	for _, tt := range []struct {
		name string
		w    float64
		want string
	}{
		{"function", 200, "function"},
		{"function", 6.01 + 8*7.08, "function"},
		{"function", 6.01 + 7*7.08, "funct.."},
		{"function", 6.01 + 3*7.08, "f.."},
		{"function", 6 + 2.9*7.08, ""},
		{"日本語テキスト", 6.01 + 5*7.08, "日本語.."},
	} {
		if have := label(tt.name, tt.w, 12); have != tt.want {
			t.Errorf("label(%q, %v) = %q, want %q", tt.name, tt.w, have, tt.want)
		}
	}
}

func TestScriptEmbeddable(t *testing.T) {
	if strings.Contains(script, "]]>") || !strings.Contains(script, "function zoom") {
		t.Error("flamegraph.js must be non-empty and must not contain ]]>, which ends its CDATA section")
	}
}

// TestGolden pins the SVG of a small graph, for review (go test -update
// rewrites it; open testdata/small.svg in a browser).
func TestGolden(t *testing.T) {
	stacks := readFolded(t, "testdata/small.folded")
	have := render(t, stacks, Options{Title: "btool golden flame graph"})
	path := filepath.Join("testdata", "small.svg")
	if *update {
		if err := os.WriteFile(path, have, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(have, want) {
		t.Errorf("%s differs from Write's output; if the change is intended, run go test -update and review it", path)
	}
}

// BenchmarkWrite10000 draws 10,000 distinct stacks (issue 9: a graph of
// 10,000 stacks should take well under 100 ms). Skewed: counts follow a
// Zipf law, as in profiles, so most stacks are under MinWidth and left out.
// Uniform: every stack is 0.12 pixels wide and drawn, the worst case.
func BenchmarkWrite10000(b *testing.B) {
	b.Run("skewed", func(b *testing.B) {
		stacks := randomStacks(3, 10000, 1000)
		z := rand.NewZipf(rand.New(rand.NewPCG(4, 4)), 1.2, 1, 1e6)
		for i := range stacks {
			stacks[i].Count = 1 + z.Uint64()
		}
		benchmarkWrite(b, stacks)
	})
	b.Run("uniform", func(b *testing.B) {
		stacks := randomStacks(3, 10000, 1000)
		benchmarkWrite(b, stacks)
	})
}

func benchmarkWrite(b *testing.B, stacks []Stack) {
	var buf bytes.Buffer
	b.ReportAllocs()
	for b.Loop() {
		buf.Reset()
		if err := Write(&buf, stacks, Options{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(buf.Len()), "SVG-bytes")
}

// TestAppendFixed checks that appendFixed writes prec decimals within half
// a unit in the last place of v (strconv's rounding of exact halves may
// differ).
func TestAppendFixed(t *testing.T) {
	for _, v := range []float64{0, 0.004, 0.005, 0.126, 1, 9.99999, 12.3456789, 1179.99996, 1e6 + 0.25, 1e20} {
		for _, prec := range []int{1, 2, 4} {
			have := string(appendFixed(nil, v, prec))
			hv, err := strconv.ParseFloat(have, 64)
			dot := strings.IndexByte(have, '.')
			if err != nil || dot < 0 || len(have)-dot-1 != prec || math.Abs(hv-v) > 0.5*math.Pow(10, -float64(prec))*(1+1e-9)+v*1e-15 {
				t.Errorf("appendFixed(%v, %d) = %q, want %q", v, prec, have, strconv.FormatFloat(v, 'f', prec, 64))
			}
		}
	}
}
