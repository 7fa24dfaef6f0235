package specparse

import (
	"strings"
	"unicode/utf8"
)

// WindowColumns is how many characters of a spec Window shows at most.
const WindowColumns = 60

// Window returns the spec line and caret line to print for an error at the
// bytes [pos, end) of spec, as DisplaySpec and CaretLine do, but bounded:
// a spec longer than WindowColumns characters is cut to a window of that
// many characters around the caret, with "…" marking each cut end, so an
// error in a 100 KB spec prints a line, not the spec. A range running past
// the window is marked up to its edge.
func Window(spec string, pos, end int) (line, caret string) {
	pos = min(max(pos, 0), len(spec))
	end = min(max(end, pos), len(spec))
	n := utf8.RuneCountInString(spec)
	if n <= WindowColumns {
		return DisplaySpec(spec), CaretLine(spec, pos, end)
	}
	rp := utf8.RuneCountInString(spec[:pos])
	// Start a third of the window before the caret, clamped to the spec.
	start := max(0, rp-WindowColumns/3)
	stop := min(n, start+WindowColumns)
	if stop == n {
		start = n - WindowColumns
	}
	// Byte offsets of the window's rune range.
	bs, be := runeOffset(spec, start), runeOffset(spec, stop)
	sub := spec[bs:be]
	var lb, cb strings.Builder
	if start > 0 {
		lb.WriteString("…")
		cb.WriteByte(' ')
	}
	lb.WriteString(displayText(sub))
	if stop < n {
		lb.WriteString("…")
	}
	subPos := min(max(pos-bs, 0), len(sub))
	subEnd := min(max(end-bs, subPos), len(sub))
	cb.WriteString(CaretLine(sub, subPos, subEnd))
	return lb.String(), cb.String()
}

// runeOffset returns the byte offset of the i'th rune of s.
func runeOffset(s string, i int) int {
	for off := range s {
		if i == 0 {
			return off
		}
		i--
	}
	return len(s)
}
