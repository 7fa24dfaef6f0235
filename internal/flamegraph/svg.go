package flamegraph

import (
	"bufio"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Options control Write. The zero value draws a 1200-pixel-wide classic
// flame graph of samples.
type Options struct {
	// Title is drawn at the top; "" means "Flame Graph" ("Icicle Graph"
	// when Inverted).
	Title string
	// Width is the image width in pixels; 0 means 1200.
	Width int
	// FrameHeight is the height of one row in pixels; 0 means 16. The font
	// is 12 pixels, smaller for rows under 16 pixels.
	FrameHeight int
	// MinWidth omits frames narrower than this many pixels (with their
	// children); their counts stay in their parent's total. 0 means 0.1
	// pixels, as flamegraph.pl; a negative value keeps every frame.
	MinWidth float64
	// CountName names what the counts are in the tooltips: "" means
	// "samples"; offcputime passes "us".
	CountName string
	// Inverted draws an icicle graph: the root at the top, stacks growing
	// down. The default is the classic flame graph, root at the bottom.
	Inverted bool
	// Kind classifies a frame, which picks its hue; nil means DefaultKind.
	// It is called once per drawn box with the name as drawn, its depth
	// (0 is the first frame of a stack) and whether it comes after the
	// "-" delimiter.
	Kind func(frame string, depth int, afterDelimiter bool) FrameKind
}

// Layout in pixels, as flamegraph.pl.
const (
	xpad        = 10  // left and right margins
	maxFontSize = 12  // frame labels
	charWidth   = .59 // average glyph width, in font sizes
)

//go:embed flamegraph.js
var script string

// Write draws stacks as a self-contained interactive SVG flame graph on w:
// one box per distinct path from the root (identical paths merged, whatever
// their order in stacks), as wide as the sum of the counts of the stacks
// through it, children sorted by name left to right over their parent, an
// "all" box at the root. The "-" delimiter frame is not drawn, and the
// frames after it are kernel frames. Names are drawn with invalid UTF-8,
// control characters and characters XML cannot hold replaced by U+FFFD
// (names that become equal are merged). Stacks with a zero count are
// ignored. See the package documentation for the SVG's structure and its
// interactivity. Write fails on options out of range, when the counts add
// up to more than 2^64-1, or when w fails.
func Write(w io.Writer, stacks []Stack, o Options) error {
	o, fontSize, err := o.check()
	if err != nil {
		return err
	}
	t, err := buildTree(stacks)
	if err != nil {
		return err
	}
	g := newGraph(t, o, fontSize)
	bw := bufio.NewWriterSize(w, 64<<10)
	g.write(bw)
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("flamegraph: write SVG: %w", err)
	}
	return nil
}

// check applies the defaults and validates o.
func (o Options) check() (Options, float64, error) {
	if o.Width == 0 {
		o.Width = 1200
	}
	if o.FrameHeight == 0 {
		o.FrameHeight = 16
	}
	if o.Width < 2*xpad+100 || o.Width > 1<<20 {
		return o, 0, fmt.Errorf("flamegraph: width %d pixels out of range [%d, %d]", o.Width, 2*xpad+100, 1<<20)
	}
	if o.FrameHeight < 4 || o.FrameHeight > 1000 {
		return o, 0, fmt.Errorf("flamegraph: frame height %d pixels out of range [4, 1000]", o.FrameHeight)
	}
	if math.IsNaN(o.MinWidth) {
		return o, 0, errors.New("flamegraph: minimum width is NaN")
	}
	if o.MinWidth == 0 {
		o.MinWidth = 0.1
	}
	if o.Title == "" {
		o.Title = "Flame Graph"
		if o.Inverted {
			o.Title = "Icicle Graph"
		}
	}
	if o.CountName == "" {
		o.CountName = "samples"
	}
	if o.Kind == nil {
		o.Kind = DefaultKind
	}
	fontSize := float64(maxFontSize)
	if o.FrameHeight < 16 {
		fontSize = float64(o.FrameHeight) * 0.75
	}
	return o, fontSize, nil
}

// key identifies a box among its siblings: frames of the same name merge
// unless one is a kernel frame (after the delimiter) and the other not.
type key struct {
	name   string // sanitized
	kernel bool
}

func compareKeys(a, b key) int {
	if c := strings.Compare(a.name, b.name); c != 0 {
		return c
	}
	switch {
	case a.kernel == b.kernel:
		return 0
	case b.kernel:
		return -1
	}
	return 1
}

// node is one box of the tree. Nodes are stored in preorder, so the
// subtree of node i is nodes[i+1 : nodes[i].end].
type node struct {
	key
	depth int32 // 0 is "all"
	end   int32
	count uint64
}

// buildTree merges stacks into a tree in preorder, children sorted by key.
func buildTree(stacks []Stack) ([]node, error) {
	var total uint64
	frames, n := 0, 0
	for _, s := range stacks {
		if s.Count == 0 {
			continue
		}
		var carry uint64
		total, carry = bits.Add64(total, s.Count, 0)
		if carry != 0 {
			return nil, errors.New("flamegraph: the counts add up to more than 2^64-1")
		}
		frames += len(s.Frames)
		n++
	}
	all := make([]key, 0, frames) // the keys of every path, back to back
	paths := make([][]key, 0, n)
	counts := make([]uint64, 0, n)
	for _, s := range stacks {
		if s.Count == 0 {
			continue
		}
		start := len(all)
		kernel := false
		for _, f := range s.Frames {
			if f == Delimiter {
				kernel = true
				continue
			}
			all = append(all, key{sanitize(f), kernel})
		}
		paths = append(paths, all[start:len(all):len(all)])
		counts = append(counts, s.Count)
	}
	order := make([]int, len(paths))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int {
		return slices.CompareFunc(paths[a], paths[b], compareKeys)
	})
	nodes := make([]node, 1, 1+len(all))
	nodes[0] = node{key: key{name: "all"}, count: total}
	open := []int32{0} // the path of the last stack, as node indexes
	for _, i := range order {
		p := paths[i]
		c := 0 // common prefix with the open path
		for c < len(p) && c+1 < len(open) && nodes[open[c+1]].key == p[c] {
			c++
		}
		for _, j := range open[c+1:] {
			nodes[j].end = int32(len(nodes))
		}
		open = open[:c+1]
		for _, k := range p[c:] {
			open = append(open, int32(len(nodes)))
			nodes = append(nodes, node{key: k, depth: int32(len(open) - 1)})
		}
		for _, j := range open[1:] {
			nodes[j].count += counts[i]
		}
	}
	for _, j := range open {
		nodes[j].end = int32(len(nodes))
	}
	return nodes, nil
}

// graph is a tree laid out for drawing.
type graph struct {
	o        Options
	nodes    []node
	fontSize float64
	scale    float64     // pixels per count
	x        []float64   // left edge of each drawn node, in pixels
	kinds    []FrameKind // of each drawn node
	drawn    []bool
	maxDepth int32
	colours  map[colourKey]string // fills, cached
	height   int
	top      int // height of the title area
	present  [JIT + 1]bool
}

func newGraph(nodes []node, o Options, fontSize float64) *graph {
	g := &graph{o: o, nodes: nodes, fontSize: fontSize, top: 4*maxFontSize + 6, colours: map[colourKey]string{}}
	g.x = make([]float64, len(nodes))
	g.kinds = make([]FrameKind, len(nodes))
	g.drawn = make([]bool, len(nodes))
	total := nodes[0].count
	if total > 0 {
		g.scale = float64(o.Width-2*xpad) / float64(total)
	}
	var next []uint64 // per depth, the offset in counts of the next box
	for i := 0; i < len(nodes); {
		n := &nodes[i]
		d := int(n.depth)
		if d >= len(next) {
			next = append(next, make([]uint64, d+1-len(next))...)
		}
		off := next[d]
		next[d] += n.count
		if total == 0 || float64(n.count)*g.scale < o.MinWidth {
			i = int(n.end)
			continue
		}
		if d+1 >= len(next) {
			next = append(next, 0)
		}
		next[d+1] = off
		g.drawn[i] = true
		g.x[i] = xpad + float64(off)*g.scale
		if d > 0 {
			g.kinds[i] = o.Kind(n.name, d-1, n.kernel)
			if g.kinds[i] > JIT {
				g.kinds[i] = Other
			}
			g.present[g.kinds[i]] = true
		}
		g.maxDepth = max(g.maxDepth, n.depth)
		i++
	}
	rows := int(g.maxDepth) + 1
	if total == 0 {
		rows = 2
	}
	g.height = g.top + rows*o.FrameHeight + 2*maxFontSize + 10
	return g
}

// rowY returns the top of the boxes at depth d.
func (g *graph) rowY(d int32) int {
	if g.o.Inverted {
		return g.top + int(d)*g.o.FrameHeight
	}
	return g.top + int(g.maxDepth-d)*g.o.FrameHeight
}

// write writes the SVG; errors stick in bw.
func (g *graph) write(bw *bufio.Writer) {
	o := g.o
	b := make([]byte, 0, 1024)
	b = append(b, `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>`+"\n"...)
	b = fmt.Appendf(b, `<svg version="1.1" xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d"`,
		o.Width, g.height, o.Width, g.height)
	b = append(b, ` data-unit="`...)
	b = appendEscaped(b, sanitize(o.CountName))
	b = fmt.Appendf(b, `" data-xpad="%d" data-fontsize="%s">`+"\n", xpad, ftoa(g.fontSize))
	b = append(b, `<defs><linearGradient id="background" y1="0" y2="1" x1="0" x2="0">`+
		`<stop stop-color="#eeeeee" offset="5%"/><stop stop-color="#eeeeb0" offset="95%"/></linearGradient></defs>`+"\n"...)
	b = fmt.Appendf(b, `<style type="text/css"><![CDATA[
text { font-family: Verdana, "DejaVu Sans", sans-serif; font-size: %spx; fill: #000; }
#title { text-anchor: middle; font-size: %dpx; }
#search, #matched { text-anchor: end; }
#search, #unzoom { cursor: pointer; fill: #335; }
#search:hover, #unzoom:hover { fill: #a00; text-decoration: underline; }
#frames g.f { cursor: pointer; }
#frames g.f:hover > rect { stroke: #000; stroke-width: 0.5; }
#frames text, #legend { pointer-events: none; }
.hide { display: none; }
g.parent > rect { opacity: 0.5; }
#frames rect { rx: 2px; ry: 2px; }
]]></style>
`, ftoa(g.fontSize), maxFontSize+5)
	b = append(b, `<rect x="0" y="0" width="100%" height="100%" fill="url(#background)"/>`+"\n"...)
	b = fmt.Appendf(b, `<text id="title" x="%d" y="%d">`, o.Width/2, 2*maxFontSize)
	b = appendEscaped(b, sanitize(o.Title))
	b = append(b, "</text>\n"...)
	row2 := int(3.5 * maxFontSize)
	b = fmt.Appendf(b, `<text id="unzoom" class="hide" x="%d" y="%d">Reset Zoom</text>`+"\n", xpad, row2)
	b = fmt.Appendf(b, `<text id="search" x="%d" y="%d">Search</text>`+"\n", o.Width-xpad, row2)
	b = g.appendLegend(b, row2)
	bottom := g.height - maxFontSize + 2
	b = fmt.Appendf(b, `<text id="details" x="%d" y="%d"> </text>`+"\n", xpad, bottom)
	b = fmt.Appendf(b, `<text id="matched" class="hide" x="%d" y="%d"> </text>`+"\n", o.Width-xpad, bottom)
	if g.nodes[0].count == 0 {
		b = fmt.Appendf(b, `<text id="empty" x="%d" y="%d" text-anchor="middle">no stacks</text>`+"\n",
			o.Width/2, g.top+o.FrameHeight)
	}
	b = append(b, `<g id="frames">`+"\n"...)
	bw.Write(b)
	total := g.nodes[0].count
	for i := range g.nodes {
		if !g.drawn[i] {
			continue
		}
		b = g.appendFrame(b[:0], i, total)
		bw.Write(b)
	}
	b = append(b[:0], "</g>\n<script type=\"text/ecmascript\"><![CDATA[\n"...)
	b = append(b, script...)
	b = append(b, "]]></script>\n</svg>\n"...)
	bw.Write(b)
}

// appendLegend draws a coloured square and a name per kind of frame drawn,
// centred in the second row.
func (g *graph) appendLegend(b []byte, y int) []byte {
	var kinds []FrameKind
	width := 0.0
	for _, k := range []FrameKind{Kernel, User, Go, JIT} {
		if g.present[k] {
			kinds = append(kinds, k)
			width += maxFontSize + 4 + float64(len(k.String()))*charWidth*maxFontSize + 16
		}
	}
	if len(kinds) == 0 {
		return b
	}
	x := float64(g.o.Width)/2 - width/2
	b = append(b, `<g id="legend">`...)
	for _, k := range kinds {
		r, gr, bl := baseColour(k)
		b = fmt.Appendf(b, `<rect x="%s" y="%d" width="%d" height="%d" fill="rgb(%d,%d,%d)"/><text x="%s" y="%d">%s</text>`,
			ftoa(x), y-maxFontSize+2, maxFontSize, maxFontSize, r, gr, bl, ftoa(x+maxFontSize+4), y, k)
		x += maxFontSize + 4 + float64(len(k.String()))*charWidth*maxFontSize + 16
	}
	return append(b, "</g>\n"...)
}

// appendFrame appends node i as
//
//	<g class="f" data-depth="D" data-count="N"><title>NAME (N UNIT, P%)</title><rect .../><text ...>LABEL</text></g>
func (g *graph) appendFrame(b []byte, i int, total uint64) []byte {
	n := &g.nodes[i]
	o := g.o
	w := float64(n.count) * g.scale
	y := g.rowY(n.depth)
	b = append(b, `<g class="f" data-depth="`...)
	b = strconv.AppendInt(b, int64(n.depth), 10)
	b = append(b, `" data-count="`...)
	b = strconv.AppendUint(b, n.count, 10)
	b = append(b, `"><title>`...)
	b = appendEscaped(b, n.name)
	b = append(b, " ("...)
	b = appendCommas(b, n.count)
	b = append(b, ' ')
	b = appendEscaped(b, sanitize(o.CountName))
	b = append(b, ", "...)
	b = appendFixed(b, 100*float64(n.count)/float64(total), 2)
	// x and width have four decimals: the script zooms from them, and a
	// box of 0.1 pixels grows 11,800 times when it fills the graph.
	b = append(b, `%)</title><rect x="`...)
	b = appendFixed(b, g.x[i], 4)
	b = append(b, `" y="`...)
	b = strconv.AppendInt(b, int64(y), 10)
	b = append(b, `" width="`...)
	b = appendFixed(b, w, 4)
	b = append(b, `" height="`...)
	b = strconv.AppendInt(b, int64(o.FrameHeight-1), 10)
	b = append(b, `" fill="`...)
	b = append(b, g.fill(g.kinds[i], n.name)...)
	b = append(b, `"/>`...)
	if l := label(n.name, w, g.fontSize); l != "" {
		// Narrow boxes get no <text>: the script adds one when zooming
		// makes room.
		b = append(b, `<text x="`...)
		b = appendFixed(b, g.x[i]+3, 2)
		b = append(b, `" y="`...)
		b = appendFixed(b, g.textY(y), 1)
		b = append(b, `">`...)
		b = appendEscaped(b, l)
		b = append(b, "</text>"...)
	}
	return append(b, "</g>\n"...)
}

// textY returns the baseline of the labels of boxes whose top is y (the
// script computes it the same way).
func (g *graph) textY(y int) float64 {
	return float64(y) + float64(g.o.FrameHeight-1)/2 + g.fontSize/3
}

// fill returns the fill attribute of a box, "rgb(r,g,b)"; see colour.
func (g *graph) fill(k FrameKind, name string) string {
	ck := colourKey{name, k}
	if f, ok := g.colours[ck]; ok {
		return f
	}
	r, gr, bl := colour(k, name)
	f := fmt.Sprintf("rgb(%d,%d,%d)", r, gr, bl)
	g.colours[ck] = f
	return f
}

type colourKey struct {
	name string
	kind FrameKind
}

// appendFixed appends v >= 0 with prec decimals (0 < prec < 10), as
// strconv.AppendFloat(b, v, 'f', prec, 64) but faster.
func appendFixed(b []byte, v float64, prec int) []byte {
	scale := uint64(1)
	for range prec {
		scale *= 10
	}
	if !(v >= 0 && v*float64(scale) < 1<<53) {
		return strconv.AppendFloat(b, v, 'f', prec, 64)
	}
	n := uint64(math.Round(v * float64(scale)))
	b = strconv.AppendUint(b, n/scale, 10)
	b = append(b, '.')
	for f := n % scale; scale > 1; {
		scale /= 10
		b = append(b, byte('0'+f/scale))
		f %= scale
	}
	return b
}

// label fits name into w pixels: whole, cut to "abc..", or "" when not
// even three characters fit. The embedded script does the same on zoom.
func label(name string, w, fontSize float64) string {
	fit := int(math.Floor((w - 6) / (charWidth * fontSize)))
	if fit < 3 {
		return ""
	}
	if utf8.RuneCountInString(name) <= fit {
		return name
	}
	i, r := 0, 0
	for r < fit-2 {
		_, size := utf8.DecodeRuneInString(name[i:])
		i += size
		r++
	}
	return name[:i] + ".."
}

// appendCommas appends n in decimal with thousands separated by commas.
func appendCommas(b []byte, n uint64) []byte {
	var d [20]byte
	s := strconv.AppendUint(d[:0], n, 10)
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b = append(b, ',')
		}
		b = append(b, c)
	}
	return b
}

func ftoa(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// sanitize replaces invalid UTF-8, control characters (C0, DEL and C1,
// tabs and newlines included) and the characters XML 1.0 cannot hold
// (U+FFFE, U+FFFF) by U+FFFD.
func sanitize(s string) string {
	clean := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		if r < 0x20 || r >= 0x7f && r <= 0x9f || r == 0xfffe || r == 0xffff || r == utf8.RuneError && size == 1 {
			r = utf8.RuneError
		}
		b.WriteRune(r)
	}
	return b.String()
}

// appendEscaped appends s (sanitized) escaped for XML text and attribute
// values.
func appendEscaped(b []byte, s string) []byte {
	last := 0
	for i := 0; i < len(s); i++ {
		var esc string
		switch s[i] {
		case '&':
			esc = "&amp;"
		case '<':
			esc = "&lt;"
		case '>':
			esc = "&gt;"
		case '"':
			esc = "&quot;"
		case '\'':
			esc = "&#39;"
		default:
			continue
		}
		b = append(b, s[last:i]...)
		b = append(b, esc...)
		last = i + 1
	}
	return append(b, s[last:]...)
}

// Hues per kind, in degrees, and how far the name's hash moves them.
var hues = [...]struct{ hue, spread, sat, light float64 }{
	Other:  {0, 0, 0, 62},
	Kernel: {38, 8, 85, 52},
	User:   {2, 8, 75, 58},
	Go:     {188, 10, 65, 52},
	JIT:    {110, 12, 55, 50},
}

// baseColour is the legend colour of a kind: its hue with no shade.
func baseColour(k FrameKind) (r, g, b uint8) {
	h := hues[k]
	return hsl(h.hue, h.sat, h.light+5)
}

// colour returns the fill of a box: the hue of its kind, shifted within
// the kind's spread, and saturation and lightness varied, by a hash of
// the name (without a "+0x1f" offset or a perf "_[k]" annotation), so a
// function has the same colour in every graph.
func colour(k FrameKind, name string) (r, g, b uint8) {
	if i := strings.LastIndex(name, "+0x"); i > 0 && isHex(name[i+3:]) {
		name = name[:i]
	}
	if len(name) > 4 && strings.HasPrefix(name[len(name)-4:], "_[") && name[len(name)-1] == ']' {
		name = name[:len(name)-4]
	}
	hash := uint32(2166136261) // FNV-1a
	for i := 0; i < len(name); i++ {
		hash ^= uint32(name[i])
		hash *= 16777619
	}
	v1 := float64(hash&0xff) / 255
	v2 := float64(hash>>8&0xff) / 255
	v3 := float64(hash>>16&0xff) / 255
	h := hues[k]
	hue := h.hue + (v1-0.5)*2*h.spread
	sat := h.sat
	if sat > 0 {
		sat += (v2 - 0.5) * 20
	}
	return hsl(hue, sat, h.light+v3*12)
}

// hsl converts hue (degrees), saturation and lightness (percent) to RGB.
func hsl(h, s, l float64) (r, g, b uint8) {
	h = math.Mod(h, 360)
	if h < 0 {
		h += 360
	}
	s, l = s/100, l/100
	c := (1 - math.Abs(2*l-1)) * s
	x := c * (1 - math.Abs(math.Mod(h/60, 2)-1))
	m := l - c/2
	var rf, gf, bf float64
	switch {
	case h < 60:
		rf, gf = c, x
	case h < 120:
		rf, gf = x, c
	case h < 180:
		gf, bf = c, x
	case h < 240:
		gf, bf = x, c
	case h < 300:
		rf, bf = x, c
	default:
		rf, bf = c, x
	}
	conv := func(v float64) uint8 { return uint8(math.Round(255 * min(1, max(0, v+m)))) }
	return conv(rf), conv(gf), conv(bf)
}
