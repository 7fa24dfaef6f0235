package vmtest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// cpioEntry is one record of a newc archive, as readCPIO decodes it.
type cpioEntry struct {
	name         string
	mode         uint32
	data         string
	rmaj, rminor uint32
}

// readCPIO decodes a newc archive up to its trailer.
func readCPIO(t *testing.T, b []byte) []cpioEntry {
	t.Helper()
	var out []cpioEntry
	off := 0
	align := func(n int) int { return (n + 3) &^ 3 }
	for {
		if off+110 > len(b) || string(b[off:off+6]) != "070701" {
			t.Fatalf("bad header at offset %d", off)
		}
		field := func(i int) uint32 {
			v, err := strconv.ParseUint(string(b[off+6+8*i:off+14+8*i]), 16, 32)
			if err != nil {
				t.Fatal(err)
			}
			return uint32(v)
		}
		mode, size, rmaj, rmin, nsize := field(1), field(6), field(9), field(10), field(11)
		name := string(b[off+110 : off+110+int(nsize)-1])
		off = align(off + 110 + int(nsize))
		data := string(b[off : off+int(size)])
		off = align(off + int(size))
		if name == "TRAILER!!!" {
			if off != len(b) {
				t.Errorf("%d bytes after the trailer", len(b)-off)
			}
			return out
		}
		out = append(out, cpioEntry{name, mode, data, rmaj, rmin})
	}
}

func TestCPIOWriter(t *testing.T) {
	var buf bytes.Buffer
	c := NewCPIOWriter(&buf)
	c.Dir("bin")
	c.Bytes("/bin/hello", 0o755, []byte("hi\n"))
	c.Symlink("bin/sh", "busybox")
	c.CharDev("dev/console", 0o600, 5, 1)
	c.Bytes("a/b/c", 0o644, []byte("12345"))
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	want := []cpioEntry{
		{"bin", cpioDir | 0o755, "", 0, 0},
		{"bin/hello", cpioRegular | 0o755, "hi\n", 0, 0},
		{"bin/sh", cpioSymlink | 0o777, "busybox", 0, 0},
		{"dev", cpioDir | 0o755, "", 0, 0},
		{"dev/console", cpioCharDev | 0o600, "", 5, 1},
		{"a", cpioDir | 0o755, "", 0, 0},
		{"a/b", cpioDir | 0o755, "", 0, 0},
		{"a/b/c", cpioRegular | 0o644, "12345", 0, 0},
	}
	have := readCPIO(t, buf.Bytes())
	if fmt.Sprint(have) != fmt.Sprint(want) {
		t.Errorf("archive:\nhave %v\nwant %v", have, want)
	}

	// The system's cpio reads it too, when there is one.
	if _, err := exec.LookPath("cpio"); err == nil {
		cmd := exec.Command("cpio", "-it", "--quiet")
		cmd.Stdin = bytes.NewReader(buf.Bytes())
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("cpio -it: %v", err)
		}
		if have, want := strings.Fields(string(out)), "[bin bin/hello bin/sh dev dev/console a a/b a/b/c]"; fmt.Sprint(have) != want {
			t.Errorf("cpio -it lists %v, want %s", have, want)
		}
	}
}

func TestCPIOWriterErrors(t *testing.T) {
	tests := []struct {
		name  string
		write func(c *CPIOWriter)
	}{
		{"escaping name", func(c *CPIOWriter) { c.Bytes("../etc/passwd", 0o644, nil) }},
		{"short reader", func(c *CPIOWriter) { c.File("f", 0o644, 10, strings.NewReader("abc")) }},
		{"missing file", func(c *CPIOWriter) { c.CopyFile("f", "/nonexistent/file") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := NewCPIOWriter(io.Discard)
			tt.write(c)
			if err := c.Close(); !errors.Is(err, ErrCPIO) {
				t.Errorf("Close() = %v, want an error wrapping ErrCPIO", err)
			}
		})
	}
}

func TestCPIOCopyTree(t *testing.T) {
	src := t.TempDir()
	if err := os.MkdirAll(filepath.Join(src, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "sub", "f.txt"), []byte("data"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("sub/f.txt", filepath.Join(src, "link")); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	c := NewCPIOWriter(&buf)
	c.CopyTree("src/pkg/testdata", src)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	var have []string
	for _, e := range readCPIO(t, buf.Bytes()) {
		have = append(have, fmt.Sprintf("%s %o %q", e.name, e.mode, e.data))
	}
	want := []string{
		`src 40755 ""`,
		`src/pkg 40755 ""`,
		`src/pkg/testdata 40755 ""`,
		`src/pkg/testdata/link 120777 "sub/f.txt"`,
		`src/pkg/testdata/sub 40755 ""`,
		`src/pkg/testdata/sub/f.txt 100600 "data"`,
	}
	if strings.Join(have, "\n") != strings.Join(want, "\n") {
		t.Errorf("tree:\nhave %s\nwant %s", strings.Join(have, "\n"), strings.Join(want, "\n"))
	}
}
