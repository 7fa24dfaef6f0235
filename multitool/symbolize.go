package multitool

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/btool/btool/dwarfinfo"
	"github.com/btool/btool/internal/kallsyms"
)

// Symbolizer resolves kernel and user addresses to function symbols, for
// %K and %U and for stack traces.
type Symbolizer interface {
	// Kernel returns the kernel function containing addr and addr's offset
	// into it.
	Kernel(addr uint64) (name string, off uint64, ok bool)
	// User returns the function containing addr in process pid (a tgid),
	// addr's offset into it and the path of the mapped file (module). When
	// the function is unknown ok is false, but module is still set when
	// addr lies in a mapped file.
	User(pid uint32, addr uint64) (name string, off uint64, module string, ok bool)
}

// ProcSymbolizer is the Symbolizer of a live system: kernel addresses
// through /proc/kallsyms (read once, on first use; addresses need root or
// CAP_SYSLOG, see package kallsyms), user addresses through the process's
// /proc/PID/maps and the mapped ELF files' symbol tables (package
// dwarfinfo; C++ and Rust names demangled).
//
// The memory map of a process is read once and cached: processes often
// exit before their events are printed, so callers should call Snapshot
// when an event from a pid they have not seen arrives, and Forget when
// they learn that a pid exited or exec'ed. When an address lies in no
// cached mapping, the map is read again (at most every 100 ms per process)
// to catch dlopen and exec. Mapped files are opened at Snapshot time,
// through /proc/PID/root so that processes in other mount namespaces
// resolve, and stay open (one descriptor per distinct file) until Close.
//
// It needs no particular kernel. Not supported: the vDSO, JIT code and
// /tmp/perf-PID.map files (their addresses print as unknown).
// A ProcSymbolizer is safe for concurrent use.
type ProcSymbolizer struct {
	procRoot string // "/proc"; tests point it elsewhere

	kernOnce sync.Once
	kern     *kallsyms.Table

	mu    sync.Mutex
	procs map[uint32]*symProc
	bins  map[symBinKey]*symBin
	// mapsReads counts attempts to read a /proc/PID/maps, for tests.
	mapsReads int
}

// symRefresh is how old a process's cached map must be before a miss reads
// it again.
const symRefresh = 100 * time.Millisecond

type symProc struct {
	maps []symMapping // executable file mappings, sorted by start
	at   time.Time
	// err is why the map could not be read (the process exited before
	// its first event was printed, or pid 0): the failure is cached like
	// a map, since retrying per event opened /proc/PID/maps hundreds of
	// thousands of times in one busy run. Forget clears it.
	err error
}

// errKernelPID is the map "lookup" of pid 0: events of the idle task and
// of kernel threads carry tgid 0, which has no /proc entry.
var errKernelPID = errors.New("pid 0 is the kernel: no memory map")

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

type symBin struct {
	b   *dwarfinfo.Binary // nil when the file could not be opened
	err error
}

// NewSymbolizer returns a ProcSymbolizer for this machine. Nothing is read
// until the first lookup or Snapshot.
func NewSymbolizer() *ProcSymbolizer {
	return &ProcSymbolizer{
		procRoot: "/proc",
		procs:    make(map[uint32]*symProc),
		bins:     make(map[symBinKey]*symBin),
	}
}

// Kernel implements Symbolizer with /proc/kallsyms. It returns false when
// kallsyms cannot be read, addresses are hidden (not root), or addr lies
// below the kernel's first function.
func (s *ProcSymbolizer) Kernel(addr uint64) (string, uint64, bool) {
	s.kernOnce.Do(func() {
		t, err := kallsyms.Load()
		if err == nil {
			s.kern = t
		}
	})
	if s.kern == nil {
		return "", 0, false
	}
	sym, off, ok := s.kern.Lookup(addr)
	if !ok {
		return "", 0, false
	}
	return sym.Name, off, true
}

// Snapshot reads and caches the memory map of process pid (a tgid) and
// opens the files it maps executable, unless the map is cached already. It
// fails when /proc/PID/maps cannot be read (the process exited, or no
// permission), and for pid 0; a kernel thread has an empty map. A failure
// is cached too: until Forget, the map is not read again and the same
// error is returned.
func (s *ProcSymbolizer) Snapshot(pid uint32) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p, ok := s.procs[pid]; ok {
		return p.err
	}
	return s.snapshot(pid)
}

// snapshot (re)reads pid's map and caches it, or the failure to read it.
// s.mu is held.
func (s *ProcSymbolizer) snapshot(pid uint32) error {
	maps, err := s.readMaps(pid)
	if err != nil {
		if p := s.procs[pid]; p != nil && p.err == nil {
			// A re-read failed: the process is gone; keep what it mapped.
			p.at = time.Now()
			return err
		}
		s.procs[pid] = &symProc{at: time.Now(), err: err}
		return err
	}
	dir := filepath.Join(s.procRoot, strconv.FormatUint(uint64(pid), 10))
	for i := range maps {
		s.open(dir, &maps[i])
	}
	s.procs[pid] = &symProc{maps: maps, at: time.Now()}
	return nil
}

// readMaps reads and parses /proc/PID/maps. s.mu is held.
func (s *ProcSymbolizer) readMaps(pid uint32) ([]symMapping, error) {
	if pid == 0 {
		return nil, errKernelPID
	}
	s.mapsReads++
	f, err := os.Open(filepath.Join(s.procRoot, strconv.FormatUint(uint64(pid), 10), "maps"))
	if err != nil {
		return nil, fmt.Errorf("memory map of pid %d: %w", pid, err)
	}
	defer f.Close()
	maps, err := parseSymMaps(f)
	if err != nil {
		return nil, fmt.Errorf("memory map of pid %d: %w", pid, err)
	}
	return maps, nil
}

// open opens the file of mapping m (of the process whose /proc directory is
// dir) unless it is open already. s.mu is held.
func (s *ProcSymbolizer) open(dir string, m *symMapping) *symBin {
	if strings.HasPrefix(m.path, "[") {
		return nil // [vdso], [vsyscall]: not files
	}
	key := m.key()
	if b, ok := s.bins[key]; ok {
		return b
	}
	var paths []string
	if m.deleted {
		paths = append(paths, filepath.Join(dir, "map_files", fmt.Sprintf("%x-%x", m.start, m.end)))
	}
	paths = append(paths, filepath.Join(dir, "root", m.path), m.path)
	e := &symBin{}
	for _, p := range paths {
		b, err := dwarfinfo.Open(p)
		if err == nil {
			e.b, e.err = b, nil
			break
		}
		if e.err == nil {
			e.err = err
		}
	}
	s.bins[key] = e
	return e
}

func (m *symMapping) key() symBinKey {
	if m.ino != 0 {
		return symBinKey{dev: m.dev, ino: m.ino}
	}
	return symBinKey{path: m.path}
}

// Forget drops the cached memory map of pid, so that the next lookup or
// Snapshot reads it again. Opened files stay cached.
func (s *ProcSymbolizer) Forget(pid uint32) {
	s.mu.Lock()
	delete(s.procs, pid)
	s.mu.Unlock()
}

// User implements Symbolizer: it finds the executable mapping of pid
// containing addr (reading the memory map first if it is not cached) and
// symbolizes the file offset addr-start+offset in the mapped file. module
// is the mapped file's path ("[vdso]" for the vDSO).
func (s *ProcSymbolizer) User(pid uint32, addr uint64) (name string, off uint64, module string, ok bool) {
	s.mu.Lock()
	p := s.procs[pid]
	if p == nil {
		_ = s.snapshot(pid)
		p = s.procs[pid]
	}
	var m *symMapping
	if p != nil && p.err == nil {
		m = p.find(addr)
		if m == nil && time.Since(p.at) > symRefresh {
			// A miss re-reads the map (dlopen, exec), at most every
			// symRefresh; a failed re-read keeps the old map and its
			// time, so a process that is gone isn't retried per address.
			if s.snapshot(pid) == nil {
				p = s.procs[pid]
				m = p.find(addr)
			}
		}
	}
	if m == nil {
		s.mu.Unlock()
		return "", 0, "", false
	}
	mapping := *m
	bin := s.open(filepath.Join(s.procRoot, strconv.FormatUint(uint64(pid), 10)), m)
	s.mu.Unlock()
	if bin == nil || bin.b == nil {
		return "", 0, mapping.path, false
	}
	name, off, ok = bin.b.Symbolize(addr - mapping.start + mapping.off)
	return name, off, mapping.path, ok
}

func (p *symProc) find(addr uint64) *symMapping {
	i, found := slices.BinarySearchFunc(p.maps, addr, func(m symMapping, a uint64) int {
		switch {
		case m.end <= a:
			return -1
		case m.start > a:
			return 1
		}
		return 0
	})
	if !found {
		return nil
	}
	return &p.maps[i]
}

// Close closes the files the symbolizer opened and empties its caches.
func (s *ProcSymbolizer) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for _, b := range s.bins {
		if b.b != nil {
			errs = append(errs, b.b.Close())
		}
	}
	clear(s.bins)
	clear(s.procs)
	return errors.Join(errs...)
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

// FormatStack writes a stack trace (addrs leaf first, as the stack map
// holds them) in bcc trace's layout, one frame per line: 8 spaces, with
// showAddr (-a) the address as "%16x ", then "name+0xoff [module]". Kernel
// frames (user false) have module "[kernel]"; user frames of process pid
// the base name of the mapped file. Unknown frames print "[unknown]", user
// frames in a known file "[unknown] [module]". The caller prints the blank
// line bcc prints after an event's stacks. sym may be nil. It returns the
// first error of w.
func FormatStack(w io.Writer, addrs []uint64, user bool, pid uint32, showAddr bool, sym Symbolizer) error {
	var b []byte
	for _, a := range addrs {
		b = append(b, "        "...)
		if showAddr {
			s := len(b)
			b = strconv.AppendUint(b, a, 16)
			b = trPad(b, s, 16, false)
			b = append(b, ' ')
		}
		if user {
			b = symAppendUser(b, a, pid, sym)
		} else {
			b = symAppendKernel(b, a, sym, true)
		}
		b = append(b, '\n')
	}
	_, err := w.Write(b)
	return err
}

// FormatStackError writes what trace prints for a stack whose id is
// negative (bpf_get_stackid failed): nothing for an empty stack (-EFAULT:
// a kernel stack in a uprobe has no kernel frames), else 8 spaces and
// "[stack unavailable: reason]" (see StackError). bcc prints the raw id
// ("        -14"), which reads like a frame.
func FormatStackError(w io.Writer, id int32) error {
	reason, empty := StackError(id)
	if empty {
		return nil
	}
	_, err := fmt.Fprintf(w, "        [stack unavailable: %s]\n", reason)
	return err
}

// StackError explains a negative stack id of a trace record: empty is
// true for -EFAULT, which bpf_get_stackid returns when the stack has no
// frames (a kernel stack taken in a uprobe, a user stack of a kernel
// thread); otherwise reason says why the stack was not collected.
func StackError(id int32) (reason string, empty bool) {
	switch e := unix.Errno(-id); {
	case id >= 0:
		return "", false
	case e == unix.EFAULT:
		return "empty", true
	case e == unix.EEXIST:
		return "stack map hash collision", false
	case e == unix.ENOMEM:
		return "stack map full", false
	case id == -1:
		return "not collected", false
	default:
		return e.Error(), false
	}
}

// FoldedStack returns a stack (addrs leaf first) as folded-stack text,
// root first: "main;foo;bar". Frames are function names without offsets,
// "[unknown]" when unknown; sym may be nil.
func FoldedStack(addrs []uint64, user bool, pid uint32, sym Symbolizer) string {
	var b strings.Builder
	for i := len(addrs) - 1; i >= 0; i-- {
		if i != len(addrs)-1 {
			b.WriteByte(';')
		}
		var name string
		var ok bool
		if sym != nil {
			if user {
				name, _, _, ok = sym.User(pid, addrs[i])
			} else {
				name, _, ok = sym.Kernel(addrs[i])
			}
		}
		if !ok {
			name = "[unknown]"
		}
		b.WriteString(name)
	}
	return b.String()
}

// symAppendKernel appends "name+0xoff" for a kernel address, plus
// " [kernel]" in stacks. Unknown addresses are "[unknown]" in stacks and
// 0x-hex otherwise.
func symAppendKernel(b []byte, addr uint64, sym Symbolizer, stack bool) []byte {
	var name string
	var off uint64
	var ok bool
	if sym != nil {
		name, off, ok = sym.Kernel(addr)
	}
	switch {
	case ok:
		b = append(b, name...)
		b = trHex(append(b, '+'), off)
		if stack {
			b = append(b, " [kernel]"...)
		}
	case stack:
		b = append(b, "[unknown]"...)
	default:
		b = trHex(b, addr)
	}
	return b
}

// symAppendUser appends "name+0xoff [module]" for a user address of pid,
// "[unknown] [module]" or "[unknown]".
func symAppendUser(b []byte, addr uint64, pid uint32, sym Symbolizer) []byte {
	var name, module string
	var off uint64
	var ok bool
	if sym != nil {
		name, off, module, ok = sym.User(pid, addr)
	}
	if ok {
		b = append(b, name...)
		b = trHex(append(b, '+'), off)
	} else {
		b = append(b, "[unknown]"...)
	}
	if module != "" {
		b = append(b, ' ')
		if strings.HasPrefix(module, "[") {
			b = append(b, module...)
		} else {
			b = append(b, '[')
			b = append(b, filepath.Base(module)...)
			b = append(b, ']')
		}
	}
	return b
}
