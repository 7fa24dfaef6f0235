package specparse

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestWindow(t *testing.T) {
	short := "vfs_read (arg1 > 5)"
	if l, c := Window(short, 10, 14); l != short || c != CaretLine(short, 10, 14) {
		t.Errorf("short spec windowed: %q %q", l, c)
	}
	big := strings.Repeat("a", 100000) + "BAD" + strings.Repeat("b", 100000)
	pos := 100000
	l, c := Window(big, pos, pos+3)
	if n := utf8.RuneCountInString(l); n > WindowColumns+2 {
		t.Errorf("window line has %d characters, want at most %d", n, WindowColumns+2)
	}
	if !strings.HasPrefix(l, "…") || !strings.HasSuffix(l, "…") {
		t.Errorf("window line %q lacks … marks", l)
	}
	// The caret lands under BAD.
	ci := strings.Index(c, "^")
	lr := []rune(l)
	if ci < 0 || ci+3 > len(lr) || string(lr[ci:ci+3]) != "BAD" || !strings.HasSuffix(c, "^~~") {
		t.Errorf("caret %q not under BAD in %q", c, l)
	}
	// Start and end of a big spec: one … only.
	if l, _ := Window(big, 0, 1); strings.HasPrefix(l, "…") || !strings.HasSuffix(l, "…") {
		t.Errorf("window at start: %q", l)
	}
	if l, c := Window(big, len(big), len(big)); !strings.HasPrefix(l, "…") || strings.HasSuffix(l, "…") || utf8.RuneCountInString(c) != utf8.RuneCountInString(l)+1 {
		t.Errorf("window at end: %q %q", l, c)
	}
}

func FuzzWindow(f *testing.F) {
	f.Add(strings.Repeat("é", 200), 50, 70)
	f.Fuzz(func(t *testing.T, spec string, pos, end int) {
		l, c := Window(spec, pos, end)
		if utf8.RuneCountInString(spec) > WindowColumns && (utf8.RuneCountInString(l) > WindowColumns+2 || utf8.RuneCountInString(c) > WindowColumns+2) {
			t.Fatalf("window too wide: %q %q", l, c)
		}
	})
}
