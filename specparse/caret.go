package specparse

import (
	"strings"
	"unicode/utf8"
)

// CaretLine returns the line to print under spec so that a caret marks the
// bytes [pos, end) of it: "^" under the first character and "~" under the
// rest. Columns count characters, not bytes, so the caret lands right
// under multi-byte UTF-8; a tab in the spec stays a tab, so the caret
// lines up however the terminal expands it. Positions out of range are
// clamped; an empty range marks one column (the end of the spec, for
// "expected more" errors).
func CaretLine(spec string, pos, end int) string {
	pos = min(max(pos, 0), len(spec))
	end = min(max(end, pos), len(spec))
	var b strings.Builder
	for _, r := range spec[:pos] {
		if r == '\t' {
			b.WriteByte('\t')
		} else {
			b.WriteByte(' ')
		}
	}
	b.WriteByte('^')
	if n := utf8.RuneCountInString(spec[pos:end]); n > 1 {
		b.WriteString(strings.Repeat("~", n-1))
	}
	return b.String()
}

// DisplaySpec is spec as printed above its CaretLine: control characters
// other than tab become spaces, character for character, so the caret
// stays aligned and the spec stays on one line.
func DisplaySpec(spec string) string { return displayText(spec) }
