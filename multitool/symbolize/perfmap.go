package symbolize

import (
	"bufio"
	"cmp"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// perfMap is a process's JIT symbol file, /tmp/perf-PID.map: one
// "START SIZE name" line (hex, with or without 0x) per compiled function, as
// written by V8 (--perf-basic-prof), the JVM's perf-map-agent, LuaJIT,
// .NET and others. The file only grows; it is read again when it has.
type perfMap struct {
	paths []string // where to look, in order
	path  string   // the one that was read
	size  int64    // its size when read
	syms  []funcSym
}

// maxPerfMap caps how much of a perf map is read.
const maxPerfMap = 256 << 20

// openPerfMap returns pid's JIT map, read now when the file exists: in
// the process's own /tmp (through /proc/PID/root) or in tmpDir. It never
// fails; a process without a map gets an empty one. s.mu is held.
func (s *ProcSymbolizer) openPerfMap(pid uint32) *perfMap {
	name := "perf-" + strconv.FormatUint(uint64(pid), 10) + ".map"
	pm := &perfMap{paths: []string{filepath.Join(s.pidDir(pid), "root", "tmp", name), filepath.Join(s.tmpDir, name)}}
	pm.refresh()
	return pm
}

// refresh reads the map again when the file is larger than when it was
// last read (or appeared), and reports whether it did.
func (pm *perfMap) refresh() bool {
	for _, p := range pm.paths {
		fi, err := os.Stat(p)
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		if p == pm.path && fi.Size() <= pm.size {
			return false
		}
		f, err := os.Open(p)
		if err != nil {
			continue
		}
		pm.path, pm.size, pm.syms = p, fi.Size(), parsePerfMap(io.LimitReader(f, maxPerfMap))
		f.Close()
		return true
	}
	return false
}

// lookup returns the JIT frame of addr, reading the file again once on a
// miss if it grew.
func (pm *perfMap) lookup(addr uint64) (Frame, bool) {
	if pm == nil {
		return Frame{}, false
	}
	s, ok := lookupFunc(pm.syms, addr)
	if !ok && pm.refresh() {
		s, ok = lookupFunc(pm.syms, addr)
	}
	if !ok {
		return Frame{}, false
	}
	return Frame{Name: s.name, Off: addr - s.addr, Module: "[jit]", Kind: KindJIT}, true
}

// parsePerfMap parses perf map text and returns its symbols sorted by
// address (a later line for the same start wins: JITs reuse code memory)
// Malformed lines and a partial last line are skipped.
func parsePerfMap(r io.Reader) []funcSym {
	var syms []funcSym
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			break // a partial last line is read again when the file grows
		}
		if s, ok := parsePerfMapLine(strings.TrimRight(line, "\r\n")); ok {
			syms = append(syms, s)
		}
	}
	// Stable, then keep the last of equal starts.
	slices.SortStableFunc(syms, func(a, b funcSym) int { return cmp.Compare(a.addr, b.addr) })
	out := syms[:0]
	for i, s := range syms {
		if i+1 < len(syms) && syms[i+1].addr == s.addr {
			continue
		}
		out = append(out, s)
	}
	return out
}

func parsePerfMapLine(l string) (funcSym, bool) {
	start, rest, ok1 := strings.Cut(l, " ")
	size, name, ok2 := strings.Cut(rest, " ")
	if !ok1 || !ok2 || name == "" {
		return funcSym{}, false
	}
	a, err1 := strconv.ParseUint(strings.TrimPrefix(start, "0x"), 16, 64)
	z, err2 := strconv.ParseUint(strings.TrimPrefix(size, "0x"), 16, 64)
	if err1 != nil || err2 != nil || z == 0 {
		return funcSym{}, false
	}
	return funcSym{addr: a, size: z, name: Demangle(name)}, true
}
