package multitool

import (
	"debug/elf"
	"fmt"
	"os"
	"sync"

	ebtf "github.com/cilium/ebpf/btf"

	"github.com/btool/btool/bpf"
	"github.com/btool/btool/btf"
	"github.com/btool/btool/dwarfinfo"
	"github.com/btool/btool/internal/kallsyms"
	"github.com/btool/btool/internal/tracefs"
)

// Sources is everything probe planning reads from the system: tracefs
// event lists and formats, kernel BTF, the kernel's function list and
// text, and ELF/DWARF binaries. The planner reads nothing else, so tests
// plan probes against fixtures (see fixtureSources in plan_test.go) and
// the tools against the running kernel (SystemSources).
type Sources interface {
	// Events lists the tracepoints (available_events), sorted.
	Events() ([]tracefs.Event, error)
	// Format reads one tracepoint's format; the error wraps
	// os.ErrNotExist for an unknown event.
	Format(category, event string) (*tracefs.Format, error)
	// Kernel returns kernel BTF; the error wraps btf.ErrNotSupported when
	// the kernel has none.
	Kernel() (*btf.Kernel, error)
	// KernelFuncs lists the traceable kernel functions (see
	// btf.KernelFuncs).
	KernelFuncs() ([]btf.KernelFunc, error)
	// KernelText returns the first bytes of kernel function sym's code
	// (up to n, fewer at the end of the symbol when its end is known).
	// The error wraps bpf.ErrNotSupported when kernel text cannot be read
	// (no /proc/kcore, hidden addresses).
	KernelText(sym string, n int) ([]byte, error)
	// OpenBinary resolves lib as bcc does (a path, the ld.so cache, $PATH)
	// and opens it.
	OpenBinary(lib string) (Binary, error)
}

// Binary is an ELF binary or library a user probe names: its symbols,
// USDT notes and DWARF. *dwarfinfo.Binary implements it. It keeps the file
// open: File names it for the kernel (uprobes attach through it), Stat
// identifies it and ReadAt reads its code, so that everything a plan
// learns and attaches to comes from the one file opened, whatever
// happens to the path meanwhile.
type Binary interface {
	Path() string
	File() string
	Stat() (os.FileInfo, error)
	ReadAt(p []byte, off int64) (int, error)
	IsGo() bool
	Functions() ([]dwarfinfo.Symbol, error)
	USDT() ([]dwarfinfo.USDTProbe, error)
	Func(name string) (*btf.Func, error)
	ParamLocations(name string) ([]dwarfinfo.Location, error)
	Type(name string) (ebtf.Type, error)
	Close() error
}

var _ Binary = (*dwarfinfo.Binary)(nil)

// SystemSources reads the running system: tracefs, /sys/kernel/btf,
// available_filter_functions or kallsyms, /proc/kcore and binaries on
// disk.
type SystemSources struct{}

var _ Sources = SystemSources{}

func (SystemSources) Events() ([]tracefs.Event, error) { return tracefs.Events() }
func (SystemSources) Format(category, event string) (*tracefs.Format, error) {
	return tracefs.ReadFormat(category, event)
}
func (SystemSources) Kernel() (*btf.Kernel, error)           { return btf.LoadKernel() }
func (SystemSources) KernelFuncs() ([]btf.KernelFunc, error) { return btf.KernelFuncs() }

func (SystemSources) OpenBinary(lib string) (Binary, error) {
	path, err := dwarfinfo.FindBinary(lib)
	if err != nil {
		return nil, err
	}
	b, err := dwarfinfo.Open(path)
	if err != nil {
		return nil, err
	}
	return b, nil
}

// KernelText reads sym's code from /proc/kcore (root, CONFIG_PROC_KCORE),
// locating it through kallsyms. It reads the live text, with alternatives
// and static keys already patched, which is what a kprobe lands on.
func (SystemSources) KernelText(sym string, n int) ([]byte, error) {
	tab, err := kallsyms.Load()
	if err != nil {
		return nil, fmt.Errorf("kallsyms: %w: %w", err, bpf.ErrNotSupported)
	}
	addr, ok := tab.Addr(sym)
	if !ok {
		return nil, fmt.Errorf("no address for %s in kallsyms: %w", sym, bpf.ErrNotSupported)
	}
	// Trim n to the symbol's end: the next text symbol's address.
	for lim := 1; lim < n; lim++ {
		if s, _, ok := tab.Lookup(addr + uint64(lim)); ok && s.Name != sym {
			n = lim
			break
		}
	}
	kc, err := openKcore()
	if err != nil {
		return nil, err
	}
	for _, p := range kc.Progs {
		if p.Type == elf.PT_LOAD && addr >= p.Vaddr && addr < p.Vaddr+p.Memsz {
			if avail := p.Vaddr + p.Memsz - addr; uint64(n) > avail {
				n = int(avail)
			}
			buf := make([]byte, n)
			if _, err := p.ReadAt(buf, int64(addr-p.Vaddr)); err != nil {
				return nil, fmt.Errorf("read %s from /proc/kcore: %w: %w", sym, err, bpf.ErrNotSupported)
			}
			return buf, nil
		}
	}
	return nil, fmt.Errorf("%s (%#x) is in no /proc/kcore segment: %w", sym, addr, bpf.ErrNotSupported)
}

var kcoreOnce = sync.OnceValues(func() (*elf.File, error) {
	f, err := os.Open("/proc/kcore")
	if err != nil {
		return nil, fmt.Errorf("kernel text: %w: %w", err, bpf.ErrNotSupported)
	}
	ef, err := elf.NewFile(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("kernel text: /proc/kcore: %w: %w", err, bpf.ErrNotSupported)
	}
	return ef, nil
})

func openKcore() (*elf.File, error) { return kcoreOnce() }
