package symbolize

import (
	"flag"
	"testing"

	"github.com/btool/btool/internal/testutil"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata")

// golden compares got with testdata/name, or rewrites the file with
// -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	testutil.Golden(t, name, got)
}

// fakeSym is a Symbolizer with a few fixed symbols.
type fakeSym struct{}

const (
	fakeVfsRead  = 0xffffffff81234560
	fakeOpenat   = 0xffffffff81300000
	fakeMain     = 0x401000
	fakeLibc     = 0x7f0000001000
	fakeNoModule = 0x9000
)

func (fakeSym) Kernel(addr uint64) (string, uint64, bool) {
	switch {
	case addr >= fakeVfsRead && addr < fakeVfsRead+0x100:
		return "vfs_read", addr - fakeVfsRead, true
	case addr >= fakeOpenat && addr < fakeOpenat+0x100:
		return "do_sys_openat2", addr - fakeOpenat, true
	}
	return "", 0, false
}

func (fakeSym) User(pid uint32, addr uint64) (string, uint64, string, bool) {
	if pid != 42 {
		return "", 0, "", false
	}
	switch {
	case addr >= fakeMain && addr < fakeMain+0x100:
		return "main", addr - fakeMain, "/usr/bin/app", true
	case addr >= fakeMain+0x100 && addr < fakeMain+0x200:
		return "ns::Foo::bar(int)", addr - fakeMain - 0x100, "/usr/lib/libfoo.so.1", true
	case addr >= fakeLibc && addr < fakeLibc+0x1000:
		return "", 0, "/lib/x86_64-linux-gnu/libc.so.6", false
	case addr >= 0x7fff0000 && addr < 0x7fff1000:
		return "", 0, "[vdso]", false
	}
	return "", 0, "", false
}
