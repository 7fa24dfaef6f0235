package dwarfinfo

import (
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// newFormatCache builds a "glibc-ld.so.cache1.1" image.
func newFormatCache(entries []ldEntry) []byte {
	le := binary.LittleEndian
	hdr := make([]byte, ldNewHeaderLen)
	copy(hdr, ldMagicNew+ldVersionNew)
	le.PutUint32(hdr[20:], uint32(len(entries)))
	hdr[28] = 2 // little endian
	tab := make([]byte, len(entries)*ldNewEntryLen)
	var strs []byte
	strBase := uint32(ldNewHeaderLen + len(tab))
	for i, e := range entries {
		rec := tab[i*ldNewEntryLen:]
		le.PutUint32(rec, uint32(e.flags))
		le.PutUint32(rec[4:], strBase+uint32(len(strs)))
		strs = append(append(strs, e.name...), 0)
		le.PutUint32(rec[8:], strBase+uint32(len(strs)))
		strs = append(append(strs, e.path...), 0)
		le.PutUint64(rec[16:], e.hwcap)
	}
	le.PutUint32(hdr[24:], uint32(len(strs)))
	return append(append(hdr, tab...), strs...)
}

// oldFormatCache builds an "ld.so-1.7.0" image, optionally followed by an
// embedded new-format cache.
func oldFormatCache(entries []ldEntry, embedded []byte) []byte {
	le := binary.LittleEndian
	hdr := make([]byte, ldOldHeaderLen)
	copy(hdr, ldMagicOld)
	le.PutUint32(hdr[12:], uint32(len(entries)))
	tab := make([]byte, len(entries)*ldOldEntryLen)
	var strs []byte
	for i, e := range entries {
		rec := tab[i*ldOldEntryLen:]
		le.PutUint32(rec, uint32(e.flags))
		le.PutUint32(rec[4:], uint32(len(strs)))
		strs = append(append(strs, e.name...), 0)
		le.PutUint32(rec[8:], uint32(len(strs)))
		strs = append(append(strs, e.path...), 0)
	}
	img := append(hdr, tab...)
	if embedded != nil {
		for len(img)%8 != 0 {
			img = append(img, 0)
		}
		return append(img, embedded...)
	}
	return append(img, strs...)
}

func TestParseLDCache(t *testing.T) {
	x64 := []ldEntry{
		{flags: 0x0303, name: "libc.so.6", path: "/lib/x86_64-linux-gnu/libc.so.6"},
		{flags: 0x0303, name: "libm.so.6", path: "/lib/x86_64-linux-gnu/glibc-hwcaps/x86-64-v3/libm.so.6", hwcap: 1 << 62},
	}
	old := []ldEntry{{flags: 0x0003, name: "libold.so.1", path: "/lib/libold.so.1"}}
	for _, tt := range []struct {
		name string
		have []byte
		want []ldEntry
	}{
		{"new", newFormatCache(x64), x64},
		{"old", oldFormatCache(old, nil), old},
		{"old+new", oldFormatCache(old, newFormatCache(x64)), x64},
		{"empty new", newFormatCache(nil), []ldEntry{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseLDCache(tt.have)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d entries %+v, want %+v", len(got), got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("entry %d = %+v, want %+v", i, got[i], tt.want[i])
				}
			}
		})
	}

	for _, tt := range []struct {
		name string
		have []byte
	}{
		{"garbage", []byte("hello world, not a cache at all......................................")},
		{"truncated", newFormatCache(x64)[:60]},
		{"bad string offset", func() []byte {
			b := newFormatCache(x64)
			binary.LittleEndian.PutUint32(b[ldNewHeaderLen+4:], 1<<30)
			return b
		}()},
		{"short", []byte("ld.so-1.7")},
	} {
		t.Run("error/"+tt.name, func(t *testing.T) {
			if got, err := parseLDCache(tt.have); err == nil {
				t.Fatalf("parseLDCache = %+v, want an error", got)
			}
		})
	}
}

func TestLookupLDCache(t *testing.T) {
	entries := []ldEntry{
		{flags: 0x0303, name: "libcrypt.so.1", path: "/x64/libcrypt.so.1"},
		{flags: 0x0003, name: "libc.so.6", path: "/i386/libc.so.6"},
		{flags: 0x0303, name: "libc.so.6", path: "/x64/libc.so.6"},
		{flags: 0x0303, name: "libm.so.6", path: "/x64/glibc-hwcaps/x86-64-v3/libm.so.6", hwcap: 1 << 62},
		{flags: 0x0303, name: "libm.so.6", path: "/x64/libm.so.6"},
		{flags: 0x0003, name: "libold.so.1", path: "/i386/libold.so.1"},
		{flags: 0x0303, name: "libpthread.so.0", path: "/x64/libpthread.so.0"},
	}
	for _, tt := range []struct {
		have, want string
	}{
		{"c", "/x64/libc.so.6"},         // native wins over i386 listed first
		{"crypt", "/x64/libcrypt.so.1"}, // "libc.so" is not a prefix of libcrypt
		{"m", "/x64/libm.so.6"},         // baseline wins over a hwcaps variant
		{"old", "/i386/libold.so.1"},    // another ABI only as a last resort
		{"pthread", "/x64/libpthread.so.0"},
		{"libc.so.6", "/x64/libc.so.6"}, // exact soname
		{"cry", ""},
		{"nosuchlib", ""},
	} {
		if got := lookupLDCache(entries, tt.have, ldFlagX8664Lib64); got != tt.want {
			t.Errorf("lookupLDCache(%q) = %q, want %q", tt.have, got, tt.want)
		}
	}
}

func TestFindBinary(t *testing.T) {
	if _, err := os.Stat(ldCachePath); err != nil {
		t.Skipf("no %s: %v", ldCachePath, err)
	}
	for _, tt := range []struct{ have, wantBase string }{
		{"c", "libc.so.6"},
		{"pthread", "libpthread.so.0"},
	} {
		got, err := FindBinary(tt.have)
		if err != nil {
			t.Errorf("FindBinary(%q): %v", tt.have, err)
			continue
		}
		if filepath.Base(got) != tt.wantBase || !filepath.IsAbs(got) {
			t.Errorf("FindBinary(%q) = %q, want an absolute path to %s", tt.have, got, tt.wantBase)
		}
	}
	if runtime.GOARCH == "amd64" {
		if _, err := os.Stat("/lib/x86_64-linux-gnu/libc.so.6"); err == nil {
			if got, _ := FindBinary("c"); got != "/lib/x86_64-linux-gnu/libc.so.6" {
				t.Errorf(`FindBinary("c") = %q, want /lib/x86_64-linux-gnu/libc.so.6`, got)
			}
		}
	}
	if want, err := exec.LookPath("bash"); err == nil {
		want, _ = filepath.Abs(want)
		if got, err := FindBinary("bash"); err != nil || got != want {
			t.Errorf(`FindBinary("bash") = %q, %v; want %q`, got, err, want)
		}
	}
}

func TestFindBinaryErrors(t *testing.T) {
	_, err := FindBinary("nosuchlib")
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf(`FindBinary("nosuchlib") error = %v, want ErrNotFound`, err)
	}
	if want := `can't resolve library "nosuchlib" (not in the ld.so cache or $PATH)`; err.Error() != want {
		t.Errorf("message = %q, want %q", err, want)
	}
	for _, name := range []string{"./testdata/nosuchfile", "./testdata", ""} {
		if got, err := FindBinary(name); !errors.Is(err, ErrNotFound) {
			t.Errorf("FindBinary(%q) = %q, %v; want ErrNotFound", name, got, err)
		}
	}
}

func TestFindBinaryPath(t *testing.T) {
	got, err := FindBinary("./testdata/funcs.c")
	if err != nil {
		t.Fatal(err)
	}
	want, _ := filepath.Abs("testdata/funcs.c")
	if got != want {
		t.Errorf("FindBinary = %q, want %q", got, want)
	}
}
