package specparse

import "testing"

func TestCaretLine(t *testing.T) {
	for _, tc := range []struct {
		spec     string
		pos, end int
		want     string
	}{
		{"vfs_raed", 0, 8, "^~~~~~~~"},
		{"p:c:mallc", 4, 9, "    ^~~~~"},
		{"abc", 3, 3, "   ^"},
		{"abc", -1, 0, "^"},
		{"abc", 2, 10, "  ^"},
		// Multi-byte characters take one column each.
		{`t "héllo" é, arg1`, 11, 13, "          ^"},
		{`"ü" ünknown`, 5, 14, "    ^~~~~~~"},
		{"a\tb", 2, 3, " \t^"},
	} {
		if got := CaretLine(tc.spec, tc.pos, tc.end); got != tc.want {
			t.Errorf("CaretLine(%q, %d, %d) = %q, want %q", tc.spec, tc.pos, tc.end, got, tc.want)
		}
	}
}

func FuzzCaretLine(f *testing.F) {
	f.Add("vfs_read", 0, 3)
	f.Add("é", 1, 2)
	f.Fuzz(func(t *testing.T, spec string, pos, end int) {
		_ = CaretLine(spec, pos, end)
	})
}
