package tracefs

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	"golang.org/x/sys/unix"
)

// Well-known mount points, in order of preference.
const (
	tracingDir      = "/sys/kernel/tracing"
	debugTracingDir = "/sys/kernel/debug/tracing"
)

var rootOnce = sync.OnceValues(findRoot)

// Root returns the tracefs mount point: /sys/kernel/tracing when tracefs is
// mounted there, else /sys/kernel/debug/tracing. When neither is mounted and
// the process runs as root, Root mounts tracefs on /sys/kernel/tracing and
// returns it. The result, success or failure, is cached for the process.
//
// Returns an error wrapping [os.ErrNotExist] that says what to mount when no
// tracefs can be found or mounted. tracefs exists since Linux 4.1; older
// kernels only have the debugfs path.
func Root() (string, error) { return rootOnce() }

func findRoot() (string, error) {
	var denied error
	for _, dir := range []string{tracingDir, debugTracingDir} {
		ok, err := isTracefs(dir)
		if ok {
			return dir, nil
		}
		if err != nil && denied == nil {
			denied = err
		}
	}
	if denied != nil {
		// Mounted, but not ours to read: mounting won't help,
		// permission will.
		return "", fmt.Errorf("tracefs is not readable: %w (it is root's only by default: run btool as root)", denied)
	}
	var mountErr error
	if os.Geteuid() == 0 {
		mountErr = unix.Mount("nodev", tracingDir, "tracefs", 0, "")
		if ok, _ := isTracefs(tracingDir); mountErr == nil && ok {
			return tracingDir, nil
		}
	}
	msg := fmt.Sprintf("tracefs not found at %s or %s; mount it with 'mount -t tracefs nodev %[1]s'", tracingDir, debugTracingDir)
	if mountErr != nil {
		msg += fmt.Sprintf(" (mounting it failed: %v)", mountErr)
	}
	return "", fmt.Errorf("%s: %w", msg, os.ErrNotExist)
}

// isTracefs reports whether dir holds a mounted tracefs. An empty mount point
// directory exists even when nothing is mounted, so look for known entries.
// A tracefs (or debugfs) that can't be searched (EACCES, EPERM: it is mode
// 0700) is reported as an error wrapping [os.ErrPermission], not as absent.
func isTracefs(dir string) (bool, error) {
	for _, f := range []string{"available_events", "events"} {
		_, err := os.Stat(filepath.Join(dir, f))
		if err == nil {
			return true, nil
		}
		if errors.Is(err, unix.EACCES) || errors.Is(err, unix.EPERM) {
			// statfs needs no permission on dir itself: it says
			// whether a tracefs is mounted there at all.
			var st unix.Statfs_t
			if unix.Statfs(dir, &st) == nil && st.Type != unix.TRACEFS_MAGIC && st.Type != unix.DEBUGFS_MAGIC {
				continue
			}
			return false, err
		}
	}
	return false, nil
}

// Path returns the absolute path of name inside the tracefs mount point.
// It fails like [Root].
func Path(name string) (string, error) {
	root, err := Root()
	if err != nil {
		return "", err
	}
	return filepath.Join(root, name), nil
}

// readFile reads a whole tracefs, debugfs or procfs file. Such files report
// a size of 0, so os.ReadFile would start with a tiny buffer; this reads with
// large buffers instead (seq_file fills the whole buffer in one read call).
func readFile(path string, sizeHint int) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readAll(f, sizeHint)
}

func readAll(r io.Reader, sizeHint int) ([]byte, error) {
	if sizeHint < 4096 {
		sizeHint = 4096
	}
	buf := make([]byte, 0, sizeHint)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)] // grow
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if errors.Is(err, io.EOF) {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}
