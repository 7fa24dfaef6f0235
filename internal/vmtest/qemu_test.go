package vmtest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestConsoleReport(t *testing.T) {
	var lines []string
	for i := 0; i < 100; i++ {
		lines = append(lines, fmt.Sprintf("[    %d.000000] line %d", i, i))
	}
	lines[20] = "[   20.000000] BUG: kernel NULL pointer dereference, address: 0000000000000000"
	p := filepath.Join(t.TempDir(), "console.log")
	if err := os.WriteFile(p, []byte(strings.Join(lines, "\r\n")+"\r\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := ConsoleReport(p, 10)
	for _, want := range []string{
		"first kernel trouble (line 21):\n[   20.000000] BUG: kernel NULL pointer dereference",
		"line 29\n...\n",
		"last 10 lines",
		"line 99",
	} {
		if !strings.Contains(r, want) {
			t.Errorf("report lacks %q:\n%s", want, r)
		}
	}
	if strings.Contains(r, "line 30\n") || strings.Contains(r, "\r") {
		t.Errorf("report has more than asked for:\n%s", r)
	}

	// Trouble inside the tail is shown once, in the tail.
	if r := ConsoleReport(p, 90); strings.Contains(r, "first kernel trouble") {
		t.Errorf("trouble in the tail reported twice:\n%s", r)
	}
	if r := ConsoleReport(filepath.Join(t.TempDir(), "missing"), 5); !strings.Contains(r, "cannot read") {
		t.Errorf("missing log: %s", r)
	}
}
