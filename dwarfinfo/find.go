package dwarfinfo

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
)

// ldCachePath is the ld.so cache FindBinary reads. Tests may point it elsewhere.
var ldCachePath = "/etc/ld.so.cache"

// FindBinary resolves the library or binary part of a probe spec to an
// absolute file path, with bcc's semantics:
//
//   - A name containing '/' must name an existing regular file; it is made
//     absolute (symlinks are kept, as the kernel resolves them on attach).
//   - Otherwise "lib<name>.so*" is looked up in the ld.so cache
//     (/etc/ld.so.cache, parsed here; ldconfig is never run), preferring the
//     entry built for this machine's architecture, so "c" gives
//     /lib/x86_64-linux-gnu/libc.so.6 on x86-64. As an extension, a name that
//     is itself a cached soname ("libc.so.6") also resolves.
//   - Otherwise $PATH is searched for an executable regular file called name
//     ("bash" gives /usr/bin/bash).
//
// The cache is parsed once per process. FindBinary returns an error wrapping
// [ErrNotFound] when nothing matches, worded
// `can't resolve library "name" (not in the ld.so cache or $PATH)`, or naming
// the path and the reason when a name with '/' is not a regular file.
func FindBinary(name string) (string, error) {
	if name == "" {
		return "", fmt.Errorf("can't resolve library \"\": empty name: %w", ErrNotFound)
	}
	if strings.ContainsRune(name, '/') {
		fi, err := os.Stat(name)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return "", fmt.Errorf("can't resolve library %q: no such file: %w", name, ErrNotFound)
			}
			return "", fmt.Errorf("can't resolve library %q: %v: %w", name, err, ErrNotFound)
		}
		if !fi.Mode().IsRegular() {
			return "", fmt.Errorf("can't resolve library %q: not a regular file: %w", name, ErrNotFound)
		}
		abs, err := filepath.Abs(name)
		if err != nil {
			return "", fmt.Errorf("can't resolve library %q: %v: %w", name, err, ErrNotFound)
		}
		return abs, nil
	}

	if entries, err := loadLDCache(); err == nil {
		if p := lookupLDCache(entries, name, nativeLDFlags()); p != "" {
			return p, nil
		}
	}
	if p := lookPath(name); p != "" {
		return p, nil
	}
	return "", notFoundError(fmt.Sprintf("can't resolve library %q (not in the ld.so cache or $PATH)", name))
}

// notFoundError is an error with an exact user-facing message that wraps
// ErrNotFound.
type notFoundError string

func (e notFoundError) Error() string { return string(e) }
func (e notFoundError) Unwrap() error { return ErrNotFound }

// lookPath searches $PATH for an executable regular file called name and
// returns its absolute path, or "" when there is none.
func lookPath(name string) string {
	for _, dir := range filepath.SplitList(os.Getenv("PATH")) {
		if dir == "" {
			dir = "."
		}
		p := filepath.Join(dir, name)
		fi, err := os.Stat(p)
		if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
			continue
		}
		if abs, err := filepath.Abs(p); err == nil {
			return abs
		}
	}
	return ""
}

// ldEntry is one library entry of the ld.so cache.
type ldEntry struct {
	flags int32
	name  string // soname, e.g. "libc.so.6"
	path  string // e.g. "/lib/x86_64-linux-gnu/libc.so.6"
	hwcap uint64 // non-zero for glibc-hwcaps subdirectory variants (new format only)
}

// Flag bits of an ld.so cache entry (glibc sysdeps/generic/dl-cache.h).
const (
	ldFlagTypeMask     = 0x00ff
	ldFlagELFLibc6     = 0x0003
	ldFlagRequiredMask = 0xff00
	ldFlagX8664Lib64   = 0x0300
	ldFlagS390Lib64    = 0x0400
	ldFlagPowerPCLib64 = 0x0500
	ldFlagAArch64Lib64 = 0x0a00
	ldFlagRISCVDouble  = 0x1000
)

// nativeLDFlags returns the "required" flag bits of cache entries built for
// the architecture this program runs on.
func nativeLDFlags() int32 {
	switch runtime.GOARCH {
	case "amd64":
		return ldFlagX8664Lib64
	case "arm64":
		return ldFlagAArch64Lib64
	case "s390x":
		return ldFlagS390Lib64
	case "ppc64", "ppc64le":
		return ldFlagPowerPCLib64
	case "riscv64":
		return ldFlagRISCVDouble
	}
	return 0
}

var (
	ldCacheOnce    sync.Once
	ldCacheEntries []ldEntry
	ldCacheErr     error
)

// loadLDCache reads and parses ldCachePath once per process.
func loadLDCache() ([]ldEntry, error) {
	ldCacheOnce.Do(func() {
		data, err := os.ReadFile(ldCachePath)
		if err != nil {
			ldCacheErr = err
			return
		}
		ldCacheEntries, ldCacheErr = parseLDCache(data)
	})
	return ldCacheEntries, ldCacheErr
}

// lookupLDCache returns the path of the best entry whose soname starts with
// "lib<name>.so" (or equals name), or "" when none does. Entries are tried
// in cache order (ldconfig sorts them so that newer versions come first).
// An entry with the native flags and no hwcap wins over a native hwcap
// variant, which wins over an entry for another ABI.
func lookupLDCache(entries []ldEntry, name string, native int32) string {
	prefix := "lib" + name + ".so"
	best, bestRank := "", 4
	for _, e := range entries {
		if !strings.HasPrefix(e.name, prefix) && e.name != name {
			continue
		}
		if e.flags&ldFlagTypeMask != ldFlagELFLibc6 && e.flags&ldFlagTypeMask != 0x0001 /* FLAG_ELF */ {
			continue
		}
		rank := 3
		switch {
		case e.flags&ldFlagRequiredMask == native && e.hwcap == 0:
			rank = 0
		case e.flags&ldFlagRequiredMask == native:
			rank = 1
		case native == 0 && e.flags&ldFlagRequiredMask == 0:
			rank = 0
		}
		if rank < bestRank {
			best, bestRank = e.path, rank
		}
	}
	return best
}

const (
	ldMagicOld     = "ld.so-1.7.0"
	ldMagicNew     = "glibc-ld.so.cache"
	ldVersionNew   = "1.1"
	ldOldHeaderLen = 16 // magic[11], pad, nlibs uint32
	ldOldEntryLen  = 12 // flags int32, key, value uint32
	ldNewHeaderLen = 48 // magic[17], version[3], nlibs, len_strings, flags, pad[3], extension_offset, unused[3]
	ldNewEntryLen  = 24 // flags, key, value, osversion uint32, hwcap uint64
)

// parseLDCache parses an ld.so cache image: the new format
// ("glibc-ld.so.cache1.1"), the old format ("ld.so-1.7.0"), or an old-format
// header followed by an embedded new-format cache (which is then used).
// String offsets of new-format entries are relative to the new header; those
// of old-format entries to the end of the old entry table.
func parseLDCache(data []byte) ([]ldEntry, error) {
	le := binary.LittleEndian // the cache uses host byte order; btool's targets are little endian.
	switch {
	case bytes.HasPrefix(data, []byte(ldMagicNew)):
		return parseLDCacheNew(data, le)
	case bytes.HasPrefix(data, []byte(ldMagicOld)):
		if len(data) < ldOldHeaderLen {
			return nil, errors.New("ld.so cache: truncated old header")
		}
		n := uint64(le.Uint32(data[12:]))
		end := uint64(ldOldHeaderLen) + n*ldOldEntryLen
		if end > uint64(len(data)) {
			return nil, errors.New("ld.so cache: truncated old entry table")
		}
		// An embedded new-format cache follows, aligned to 8 bytes.
		if newOff := (end + 7) &^ 7; newOff < uint64(len(data)) && bytes.HasPrefix(data[newOff:], []byte(ldMagicNew)) {
			if entries, err := parseLDCacheNew(data[newOff:], le); err == nil {
				return entries, nil
			}
		}
		strs := data[end:]
		entries := make([]ldEntry, 0, n)
		for i := uint64(0); i < n; i++ {
			rec := data[ldOldHeaderLen+i*ldOldEntryLen:]
			key, ok1 := cString(strs, le.Uint32(rec[4:]))
			val, ok2 := cString(strs, le.Uint32(rec[8:]))
			if !ok1 || !ok2 {
				return nil, fmt.Errorf("ld.so cache: entry %d: string offset out of range", i)
			}
			entries = append(entries, ldEntry{flags: int32(le.Uint32(rec)), name: key, path: val})
		}
		return entries, nil
	}
	return nil, errors.New("ld.so cache: unknown format")
}

func parseLDCacheNew(data []byte, bo binary.ByteOrder) ([]ldEntry, error) {
	if len(data) < ldNewHeaderLen {
		return nil, errors.New("ld.so cache: truncated header")
	}
	if string(data[len(ldMagicNew):len(ldMagicNew)+len(ldVersionNew)]) != ldVersionNew {
		return nil, fmt.Errorf("ld.so cache: unsupported version %q", data[len(ldMagicNew):len(ldMagicNew)+len(ldVersionNew)])
	}
	n := uint64(bo.Uint32(data[20:]))
	if uint64(ldNewHeaderLen)+n*ldNewEntryLen > uint64(len(data)) {
		return nil, errors.New("ld.so cache: truncated entry table")
	}
	entries := make([]ldEntry, 0, n)
	for i := uint64(0); i < n; i++ {
		rec := data[ldNewHeaderLen+i*ldNewEntryLen:]
		key, ok1 := cString(data, bo.Uint32(rec[4:]))
		val, ok2 := cString(data, bo.Uint32(rec[8:]))
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("ld.so cache: entry %d: string offset out of range", i)
		}
		entries = append(entries, ldEntry{
			flags: int32(bo.Uint32(rec)),
			name:  key,
			path:  val,
			hwcap: bo.Uint64(rec[16:]),
		})
	}
	return entries, nil
}

// cString returns the NUL-terminated string at off in b.
func cString(b []byte, off uint32) (string, bool) {
	if uint64(off) >= uint64(len(b)) {
		return "", false
	}
	s := b[off:]
	i := bytes.IndexByte(s, 0)
	if i < 0 {
		return "", false
	}
	return string(s[:i]), true
}
