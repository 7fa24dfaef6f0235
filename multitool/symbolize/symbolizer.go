package symbolize

import (
	"container/list"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

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
	// addr lies in a mapped file. For an address inside inlined code it is
	// the function the code was inlined into (the one the symbol table
	// names).
	User(pid uint32, addr uint64) (name string, off uint64, module string, ok bool)
}

// FrameSymbolizer is a Symbolizer that also knows kernel modules, inlined
// calls and source lines. FormatStack and FoldedStack use it when the
// Symbolizer they are given implements it.
type FrameSymbolizer interface {
	Symbolizer
	// KernelFrame returns the frame of a kernel address; Module is the
	// kernel module's name, "" for the core kernel.
	KernelFrame(addr uint64) (Frame, bool)
	// UserFrames appends the frames of a user address of process pid to
	// dst, innermost first: the functions inlined at addr, then the
	// function containing it. An unknown address appends one frame with
	// an empty Name (and Module set when addr lies in a mapped file).
	UserFrames(pid uint32, addr uint64, dst []Frame) []Frame
}

// Kind says where a frame's name came from.
type Kind uint8

const (
	KindUnknown   Kind = iota
	KindKernel         // kallsyms
	KindSymtab         // ELF .symtab or .dynsym
	KindMiniDebug      // .gnu_debugdata (MiniDebugInfo)
	KindDWARF          // an inlined function, from DWARF
	KindGo             // .gopclntab
	KindJIT            // /tmp/perf-PID.map
)

var kindNames = [...]string{"unknown", "kernel", "symtab", "minidebuginfo", "dwarf", "go", "jit"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "kind" + strconv.Itoa(int(k))
}

// Frame is one symbolized stack frame.
type Frame struct {
	Name    string // demangled function name; "" when unknown
	Off     uint64 // the address's offset into the function; 0 for inlined frames
	Module  string // user: path of the mapped file ("[vdso]", "[jit]"); kernel: module name, "" for the core kernel
	File    string // base name of the source file, with Options.Lines and DWARF or pclntab; else ""
	Line    int    // source line, 0 when unknown
	Inlined bool   // the function was inlined into the next (outer) frame
	Kind    Kind
}

// Options bound a ProcSymbolizer's caches and choose what it computes. Zero
// fields take the defaults.
type Options struct {
	MaxProcs    int  // process maps kept (LRU); default 4096
	MaxBinaries int  // open files no cached process maps; default 256
	MaxFrames   int  // symbolized addresses cached per file; default 65536
	Lines       bool // fill Frame.File and Frame.Line (the -v output)
}

func (o *Options) defaults() {
	if o.MaxProcs <= 0 {
		o.MaxProcs = 4096
	}
	if o.MaxBinaries <= 0 {
		o.MaxBinaries = 256
	}
	if o.MaxFrames <= 0 {
		o.MaxFrames = 1 << 16
	}
}

// ProcSymbolizer is the Symbolizer of a live system (see the package
// documentation for the sources it reads and the bounds of its caches).
//
// The memory map of a process is read once and cached: processes often
// exit before their events are printed, so callers should call Snapshot
// when an event from a pid they have not seen arrives, and Forget when
// they learn that a pid exited or exec'ed. When an address lies in no
// cached mapping, the map is read again (at most every 100 ms per process)
// to catch dlopen and exec. Mapped files are opened at Snapshot time,
// through /proc/PID/root so that processes in other mount namespaces
// resolve, and stay open while the process is cached.
//
// It needs no particular kernel. Not supported: the vDSO (its addresses
// print as "[unknown] [vdso]"); symbols and DWARF in separate debug files
// (.gnu_debuglink, /usr/lib/debug/.build-id); inlined frames of Go code
// (debug/gosym has no inline tree: Go frames are the pclntab function);
// perf maps that a process in another PID namespace named after its pid
// in that namespace (they are looked up by the host pid).
// A ProcSymbolizer is safe for concurrent use.
type ProcSymbolizer struct {
	procRoot string // "/proc"; tests point it elsewhere
	tmpDir   string // where perf-PID.map files are, besides the process's own /tmp
	opt      Options

	kernOnce sync.Once
	kern     *kallsyms.Table

	mu    sync.Mutex
	procs map[uint32]*list.Element // of *symProc
	lru   list.List                // *symProc, most recently used first
	bins  map[symBinKey]*symBin
	idle  list.List // *symBin with no references, most recently used first
	// mapsReads counts attempts to read a /proc/PID/maps, for tests.
	mapsReads int
}

// symRefresh is how old a process's cached map must be before a miss reads
// it again.
const symRefresh = 100 * time.Millisecond

type symProc struct {
	pid  uint32
	maps []symMapping // executable file mappings, sorted by start
	bins []*symBin    // the files of maps, one reference each
	at   time.Time
	// err is why the map could not be read (the process exited before
	// its first event was printed, or pid 0): the failure is cached like
	// a map, since retrying per event opened /proc/PID/maps hundreds of
	// thousands of times in one busy run. Forget clears it.
	err error
	jit *perfMap // nil until an address in no mapped file is looked up
}

// errKernelPID is the map "lookup" of pid 0: events of the idle task and
// of kernel threads carry tgid 0, which has no /proc entry.
var errKernelPID = errors.New("pid 0 is the kernel: no memory map")

// New returns a ProcSymbolizer for this machine. Nothing is read until the
// first lookup or Snapshot.
func New(opt Options) *ProcSymbolizer {
	opt.defaults()
	return &ProcSymbolizer{
		procRoot: "/proc",
		tmpDir:   "/tmp",
		opt:      opt,
		procs:    make(map[uint32]*list.Element),
		bins:     make(map[symBinKey]*symBin),
	}
}

// Kernel implements Symbolizer with /proc/kallsyms. It returns false when
// kallsyms cannot be read, addresses are hidden (not root), or addr lies
// below the kernel's first function.
func (s *ProcSymbolizer) Kernel(addr uint64) (string, uint64, bool) {
	f, ok := s.KernelFrame(addr)
	return f.Name, f.Off, ok
}

// KernelFrame implements FrameSymbolizer with /proc/kallsyms, read once
// (needs root or CAP_SYSLOG for addresses). It fails like Kernel.
func (s *ProcSymbolizer) KernelFrame(addr uint64) (Frame, bool) {
	s.kernOnce.Do(func() {
		if s.kern == nil {
			if t, err := kallsyms.Load(); err == nil {
				s.kern = t
			}
		}
	})
	return kernelFrame(s.kern, addr)
}

func kernelFrame(t *kallsyms.Table, addr uint64) (Frame, bool) {
	if t == nil {
		return Frame{}, false
	}
	sym, off, ok := t.Lookup(addr)
	if !ok {
		return Frame{}, false
	}
	return Frame{Name: sym.Name, Off: off, Module: sym.Module, Kind: KindKernel}, true
}

// Snapshot reads and caches the memory map of process pid (a tgid), opens
// the files it maps executable and reads its JIT map, unless the map is
// cached already. It fails when /proc/PID/maps cannot be read (the process
// exited, or no permission), and for pid 0; a kernel thread has an empty
// map. A failure is cached too: until Forget, the map is not read again and
// the same error is returned.
func (s *ProcSymbolizer) Snapshot(pid uint32) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.proc(pid); p != nil {
		return p.err
	}
	err := s.snapshot(pid)
	if p := s.proc(pid); p != nil && p.err == nil && p.jit == nil {
		p.jit = s.openPerfMap(pid)
	}
	return err
}

// proc returns the cached map of pid, marking it recently used, or nil.
// s.mu is held.
func (s *ProcSymbolizer) proc(pid uint32) *symProc {
	e := s.procs[pid]
	if e == nil {
		return nil
	}
	s.lru.MoveToFront(e)
	return e.Value.(*symProc)
}

// snapshot (re)reads pid's map and caches it, or the failure to read it.
// s.mu is held.
func (s *ProcSymbolizer) snapshot(pid uint32) error {
	maps, err := s.readMaps(pid)
	old := s.proc(pid)
	if err != nil {
		if old != nil && old.err == nil {
			// A re-read failed: the process is gone; keep what it mapped.
			old.at = time.Now()
			return err
		}
		s.setProc(&symProc{pid: pid, at: time.Now(), err: err})
		return err
	}
	dir := s.pidDir(pid)
	p := &symProc{pid: pid, maps: maps, at: time.Now(), bins: make([]*symBin, len(maps))}
	for i := range maps {
		p.bins[i] = s.open(dir, &maps[i])
	}
	if old != nil {
		p.jit = old.jit
	}
	s.setProc(p)
	return nil
}

// setProc caches p, replacing the entry of its pid and evicting the least
// recently used process beyond MaxProcs. s.mu is held.
func (s *ProcSymbolizer) setProc(p *symProc) {
	if e := s.procs[p.pid]; e != nil {
		s.dropProc(e)
	}
	s.procs[p.pid] = s.lru.PushFront(p)
	for s.lru.Len() > s.opt.MaxProcs {
		s.dropProc(s.lru.Back())
	}
}

// dropProc removes a process entry and releases its files. s.mu is held.
func (s *ProcSymbolizer) dropProc(e *list.Element) {
	p := e.Value.(*symProc)
	s.lru.Remove(e)
	delete(s.procs, p.pid)
	for _, b := range p.bins {
		s.release(b)
	}
}

func (s *ProcSymbolizer) pidDir(pid uint32) string {
	return filepath.Join(s.procRoot, strconv.FormatUint(uint64(pid), 10))
}

// readMaps reads and parses /proc/PID/maps. s.mu is held.
func (s *ProcSymbolizer) readMaps(pid uint32) ([]symMapping, error) {
	if pid == 0 {
		return nil, errKernelPID
	}
	s.mapsReads++
	f, err := os.Open(filepath.Join(s.pidDir(pid), "maps"))
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

// open returns the file of mapping m (of the process whose /proc directory
// is dir) with one more reference, opening it unless it is open already;
// nil for [vdso] and the like. s.mu is held.
func (s *ProcSymbolizer) open(dir string, m *symMapping) *symBin {
	if strings.HasPrefix(m.path, "[") {
		return nil // [vdso], [vsyscall]: not files
	}
	key := m.key()
	b, ok := s.bins[key]
	if !ok {
		var paths []string
		if m.deleted {
			paths = append(paths, filepath.Join(dir, "map_files", fmt.Sprintf("%x-%x", m.start, m.end)))
		}
		paths = append(paths, filepath.Join(dir, "root", m.path), m.path)
		b = openBin(paths, s.opt.MaxFrames)
		b.key = key
		s.bins[key] = b
	}
	if b.idle != nil {
		s.idle.Remove(b.idle)
		b.idle = nil
	}
	b.refs++
	return b
}

// release drops a reference to b; a file without references joins the
// idle list, whose least recently used members beyond MaxBinaries are
// closed. s.mu is held.
func (s *ProcSymbolizer) release(b *symBin) {
	if b == nil {
		return
	}
	b.refs--
	if b.refs > 0 {
		return
	}
	b.idle = s.idle.PushFront(b)
	for s.idle.Len() > s.opt.MaxBinaries {
		old := s.idle.Back().Value.(*symBin)
		s.idle.Remove(old.idle)
		old.idle = nil
		delete(s.bins, old.key)
		old.close()
	}
}

// Forget drops the cached memory map of pid, so that the next lookup or
// Snapshot reads it again. Its files stay open while other processes map
// them, and join the bounded idle list otherwise.
func (s *ProcSymbolizer) Forget(pid uint32) {
	s.mu.Lock()
	if e := s.procs[pid]; e != nil {
		s.dropProc(e)
	}
	s.mu.Unlock()
}

// lookup finds the mapping of pid containing addr, reading the map first
// if it is not cached and again on a miss (at most every symRefresh). It
// returns the process (nil when its map can't be read) and the index of
// the mapping (-1 when none). s.mu is held.
func (s *ProcSymbolizer) lookup(pid uint32, addr uint64) (*symProc, int) {
	p := s.proc(pid)
	if p == nil {
		_ = s.snapshot(pid)
		p = s.proc(pid)
	}
	if p == nil || p.err != nil {
		return nil, -1
	}
	i := p.find(addr)
	if i < 0 && time.Since(p.at) > symRefresh {
		// A miss re-reads the map (dlopen, exec), at most every
		// symRefresh; a failed re-read keeps the old map and its time,
		// so a process that is gone isn't retried per address.
		if s.snapshot(pid) == nil {
			p = s.proc(pid)
			i = p.find(addr)
		}
	}
	return p, i
}

// User implements Symbolizer: it finds the executable mapping of pid
// containing addr and symbolizes the file offset addr-start+offset in the
// mapped file. module is the mapped file's path ("[vdso]" for the vDSO,
// "[jit]" for /tmp/perf-PID.map entries).
func (s *ProcSymbolizer) User(pid uint32, addr uint64) (name string, off uint64, module string, ok bool) {
	var buf [4]Frame
	fs := s.UserFrames(pid, addr, buf[:0])
	f := fs[len(fs)-1]
	return f.Name, f.Off, f.Module, f.Name != ""
}

// UserFrames implements FrameSymbolizer (see User for how addresses map
// to files).
func (s *ProcSymbolizer) UserFrames(pid uint32, addr uint64, dst []Frame) []Frame {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, i := s.lookup(pid, addr)
	if p == nil {
		return append(dst, Frame{})
	}
	if i < 0 {
		if p.jit == nil {
			p.jit = s.openPerfMap(pid)
		}
		if f, ok := p.jit.lookup(addr); ok {
			return append(dst, f)
		}
		return append(dst, Frame{})
	}
	m := &p.maps[i]
	b := p.bins[i]
	if b == nil || b.err != nil {
		return append(dst, Frame{Module: m.path})
	}
	n := len(dst)
	dst = b.frames(dst, addr-m.start+m.off, s.opt.Lines)
	for j := n; j < len(dst); j++ {
		dst[j].Module = m.path
	}
	return dst
}

// find returns the index of the mapping containing addr, or -1.
func (p *symProc) find(addr uint64) int {
	lo, hi := 0, len(p.maps)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		switch m := &p.maps[mid]; {
		case m.end <= addr:
			lo = mid + 1
		case m.start > addr:
			hi = mid
		default:
			return mid
		}
	}
	return -1
}

// Close closes the files the symbolizer opened and empties its caches. It
// returns the errors of closing them, joined.
func (s *ProcSymbolizer) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for _, b := range s.bins {
		errs = append(errs, b.close())
	}
	clear(s.bins)
	clear(s.procs)
	s.lru.Init()
	s.idle.Init()
	return errors.Join(errs...)
}

// Stats are the sizes of a ProcSymbolizer's caches, for tests and -v.
type Stats struct {
	Procs    int // cached process maps
	Binaries int // open files
	Idle     int // open files no cached process maps
}

// Stats returns the current cache sizes.
func (s *ProcSymbolizer) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Stats{Procs: s.lru.Len(), Binaries: len(s.bins), Idle: s.idle.Len()}
}
