package multitool

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/cilium/ebpf/rlimit"
	"golang.org/x/sys/unix"

	"github.com/btool/btool/bpf/feature"
)

// Env is what every tool needs from its caller.
type Env struct {
	Out, Err  io.Writer         // standard output and error
	Features  *feature.Features // kernel features, with user overrides
	Verbose   bool              // -v: explain attach decisions on Err
	ReadyFile string            // written once every probe is attached; "" for none
}

func (e Env) logf(format string, args ...any) {
	if e.Verbose {
		fmt.Fprintf(e.Err, format+"\n", args...)
	}
}

// verboseLog returns Err when verbose, else nil.
func (e Env) verboseLog() io.Writer {
	if e.Verbose {
		return e.Err
	}
	return nil
}

// ready writes the ready file, if one was asked for. It never follows a
// symlink at the path (a symlink there is refused, not overwritten through,
// since btool runs as root) and the file appears whole: the PID is written
// to a new file in the same directory, created with O_EXCL|O_NOFOLLOW, and
// renamed into place.
func (e Env) ready() error {
	if e.ReadyFile == "" {
		return nil
	}
	return writeReadyFile(e.ReadyFile, []byte(fmt.Sprintf("%d\n", os.Getpid())))
}

func writeReadyFile(path string, data []byte) error {
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&os.ModeSymlink != 0 {
			return fmt.Errorf("ready file %s is a symlink: refusing to write through it", path)
		}
		if !fi.Mode().IsRegular() {
			return fmt.Errorf("ready file %s exists and is not a regular file", path)
		}
	}
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	var f *os.File
	var tmp string
	for i := 0; ; i++ {
		tmp = filepath.Join(dir, fmt.Sprintf(".%s.%d.%d.tmp", base, os.Getpid(), i))
		fd, err := unix.Open(tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o644)
		if err == nil {
			f = os.NewFile(uintptr(fd), tmp)
			break
		}
		if !errors.Is(err, unix.EEXIST) || i >= 100 {
			return fmt.Errorf("write ready file %s: %w", path, &os.PathError{Op: "open", Path: tmp, Err: err})
		}
	}
	_, err := f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		// rename replaces a symlink planted at path since the check above
		// with the file; it never writes through one.
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write ready file: %w", err)
	}
	return nil
}

// UsageError is an error in what the user typed (a spec, a flag value).
// cmd/btool exits 2 for these and 1 for every other error.
type UsageError struct {
	Spec string // the spec the error points into, "" if none
	Err  error  // a specparse error with positions, or a plain error
}

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

func usageErr(spec string, err error) error {
	if err == nil {
		return nil
	}
	return &UsageError{Spec: spec, Err: err}
}

// SpecError is a runtime failure (exit 1) that belongs to one spec, such
// as a verifier rejection; cmd/btool renders it with a caret like a
// UsageError.
type SpecError struct {
	Spec string
	Err  error
}

func (e *SpecError) Error() string { return e.Err.Error() }
func (e *SpecError) Unwrap() error { return e.Err }

// IsUsage reports whether err is a UsageError.
func IsUsage(err error) bool {
	var ue *UsageError
	return errors.As(err, &ue)
}

// needRoot fails early, with a clear message, when btool can't load BPF.
func needRoot(tool string) error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("%s needs root (CAP_BPF and CAP_PERFMON) to load BPF programs: run it with sudo", tool)
	}
	raiseLimits()
	return nil
}

// raiseLimits lifts the resource limits that make attaching fail on a busy
// machine: RLIMIT_MEMLOCK, which kernels before 5.11 charge BPF maps and
// programs to, and RLIMIT_NOFILE, since every program and per-target link
// is a file descriptor (tens of thousands for funccount '*' without
// kprobe_multi). The open-file limit goes to the kernel's maximum
// (fs.nr_open) where root may raise the hard limit, else to the hard
// limit. Failures are ignored: attaching then reports what ran out.
func raiseLimits() {
	_ = rlimit.RemoveMemlock()
	var lim unix.Rlimit
	if unix.Getrlimit(unix.RLIMIT_NOFILE, &lim) != nil {
		return
	}
	if b, err := os.ReadFile("/proc/sys/fs/nr_open"); err == nil {
		if n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64); err == nil && n > lim.Max {
			if unix.Setrlimit(unix.RLIMIT_NOFILE, &unix.Rlimit{Cur: n, Max: n}) == nil {
				return
			}
		}
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		_ = unix.Setrlimit(unix.RLIMIT_NOFILE, &lim)
	}
}

// PrintFeatures prints one line per kernel feature: its name, then "yes", or
// "no" and the reason.
func PrintFeatures(env Env) error {
	if err := needRoot("features"); err != nil {
		return err
	}
	for _, s := range env.Features.Report() {
		if s.Err == nil {
			fmt.Fprintf(env.Out, "%-16s yes\n", s.Name)
		} else {
			fmt.Fprintf(env.Out, "%-16s no: %v\n", s.Name, s.Err)
		}
	}
	return nil
}
