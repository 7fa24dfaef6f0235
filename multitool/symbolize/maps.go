package symbolize

import (
	"bufio"
	"io"
	"slices"
	"strconv"
	"strings"
)

// symMapping is one executable line of /proc/PID/maps.
type symMapping struct {
	start, end, off uint64
	dev             string
	ino             uint64
	path            string // as printed, without " (deleted)"
	deleted         bool
}

// symBinKey identifies a mapped file: by device and inode when known (the
// same path can name different files in different mount namespaces).
type symBinKey struct {
	dev  string
	ino  uint64
	path string
}

func (m *symMapping) key() symBinKey {
	if m.ino != 0 {
		return symBinKey{dev: m.dev, ino: m.ino}
	}
	return symBinKey{path: m.path}
}

// parseSymMaps parses /proc/PID/maps text and returns its executable file
// mappings (and the [vdso]) sorted by start address. Lines it cannot parse
// are skipped; it fails only when reading fails.
func parseSymMaps(r io.Reader) ([]symMapping, error) {
	var maps []symMapping
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		if m, ok := parseSymMapsLine(sc.Text()); ok {
			maps = append(maps, m)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	slices.SortFunc(maps, func(a, b symMapping) int {
		switch {
		case a.start < b.start:
			return -1
		case a.start > b.start:
			return 1
		}
		return 0
	})
	return maps, nil
}

// parseSymMapsLine parses one maps line,
// "start-end perms offset dev inode   path", keeping only executable
// mappings with a path.
func parseSymMapsLine(line string) (symMapping, bool) {
	var fields [5]string
	rest := line
	for i := range fields {
		rest = strings.TrimLeft(rest, " \t")
		j := strings.IndexAny(rest, " \t")
		if j < 0 {
			j = len(rest)
		}
		fields[i], rest = rest[:j], rest[j:]
	}
	path := strings.TrimLeft(rest, " \t")
	if path == "" || len(fields[1]) < 3 || fields[1][2] != 'x' {
		return symMapping{}, false
	}
	lo, hi, ok := strings.Cut(fields[0], "-")
	if !ok {
		return symMapping{}, false
	}
	start, err1 := strconv.ParseUint(lo, 16, 64)
	end, err2 := strconv.ParseUint(hi, 16, 64)
	off, err3 := strconv.ParseUint(fields[2], 16, 64)
	ino, err4 := strconv.ParseUint(fields[4], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil || err4 != nil || end <= start {
		return symMapping{}, false
	}
	m := symMapping{start: start, end: end, off: off, dev: fields[3], ino: ino, path: path}
	if p, ok := strings.CutSuffix(path, " (deleted)"); ok {
		m.path, m.deleted = p, true
	}
	return m, true
}
