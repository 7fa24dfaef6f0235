package multitool

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/btool/btool/specparse"
)

// MaxPID is the largest PID or TID Linux can hand out (PID_MAX_LIMIT on
// 64-bit kernels); larger values would wrap when truncated to 32 bits.
const MaxPID = 1 << 22

// MaxUID is the largest user ID: (uid_t)-1 is reserved as "no user".
const MaxUID = 1<<32 - 2

// CheckPID validates a -p or -L value (flag names it): 0 means "all", and
// anything else must be a PID of a running process or thread. Errors are
// UsageErrors naming the value.
func CheckPID(flag string, pid int64) error {
	if pid == 0 {
		return nil
	}
	if pid < 0 || pid > MaxPID {
		return usageErr("", fmt.Errorf("%s: %d is not a process ID (1 to %d)", flag, pid, MaxPID))
	}
	if !processAlive(int(pid)) {
		return usageErr("", fmt.Errorf("%s: no such process: %d", flag, pid))
	}
	return nil
}

// CheckUID validates a --uid value; -1 means "all users".
func CheckUID(flag string, uid int64) error {
	if uid < -1 || uid > MaxUID {
		return usageErr("", fmt.Errorf("%s: %d is not a user ID (0 to %d)", flag, uid, int64(MaxUID)))
	}
	return nil
}

// processAlive reports whether pid names a task that has not exited (a
// zombie has exited).
func processAlive(pid int) bool {
	if err := unix.Kill(pid, 0); errors.Is(err, unix.ESRCH) {
		return false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		// No procfs, or the task went away between the checks.
		return !errors.Is(err, os.ErrNotExist) || !procMounted()
	}
	// pid (comm) STATE ...: comm may contain anything, so look after the
	// last ')'.
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] != 'Z' && s[i+2] != 'X'
	}
	return true
}

func procMounted() bool {
	_, err := os.Stat("/proc/self/stat")
	return err == nil
}

// CheckCPU validates a -c CPU against the CPUs the kernel considers
// possible and those online.
func CheckCPU(flag string, cpu int64) error {
	if cpu < 0 {
		return usageErr("", fmt.Errorf("%s: invalid CPU %d", flag, cpu))
	}
	possible, err := readCPUList("/sys/devices/system/cpu/possible")
	if err != nil {
		// No sysfs: let the kernel decide.
		return nil
	}
	if !possible.has(cpu) {
		return usageErr("", fmt.Errorf("%s: no CPU %d (possible CPUs: %s)", flag, cpu, possible))
	}
	if online, err := readCPUList("/sys/devices/system/cpu/online"); err == nil && !online.has(cpu) {
		return usageErr("", fmt.Errorf("%s: CPU %d is offline (online CPUs: %s)", flag, cpu, online))
	}
	return nil
}

// cpuList is a kernel CPU list such as "0-3,8".
type cpuList struct {
	text   string
	ranges [][2]int64
}

func (l cpuList) String() string { return l.text }

func (l cpuList) has(cpu int64) bool {
	for _, r := range l.ranges {
		if cpu >= r[0] && cpu <= r[1] {
			return true
		}
	}
	return false
}

func readCPUList(path string) (cpuList, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return cpuList{}, err
	}
	return parseCPUList(strings.TrimSpace(string(b)))
}

func parseCPUList(s string) (cpuList, error) {
	l := cpuList{text: s}
	for _, part := range strings.Split(s, ",") {
		if part == "" {
			continue
		}
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.ParseInt(lo, 10, 64)
		if err != nil {
			return cpuList{}, fmt.Errorf("CPU list %q: %w", s, err)
		}
		b := a
		if isRange {
			if b, err = strconv.ParseInt(hi, 10, 64); err != nil {
				return cpuList{}, fmt.Errorf("CPU list %q: %w", s, err)
			}
		}
		l.ranges = append(l.ranges, [2]int64{a, b})
	}
	return l, nil
}

// pidfdOpen is unix.PidfdOpen; tests replace it to exercise polling.
var pidfdOpen = unix.PidfdOpen

// pidPollInterval is how often watchPID checks a process where the
// kernel has no pidfd_open (before 5.3).
var pidPollInterval = 250 * time.Millisecond

// watchPID returns a context that is cancelled, as Ctrl-C cancels a run,
// when process (or thread) pid exits, so a run with -p or -L ends when
// its target does, as bcc's tools do. It waits on a pidfd where the kernel
// has pidfd_open (5.3; threads other than a group leader need 6.9's
// PIDFD_THREAD), else polls. pid 0 watches nothing. what ("process",
// "thread") names pid in the line saying it exited. The returned function
// stops watching. Callers start watching once attached, so an exit during
// attach is caught by the pidfd (or poll) seeing it at once.
func watchPID(ctx context.Context, pid int, what string, env Env) (context.Context, func()) {
	if pid <= 0 {
		return ctx, func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	exited := func() {
		if ctx.Err() == nil {
			fmt.Fprintf(env.Err, "%s %d exited: ending the run\n", what, pid)
			cancel()
		}
	}
	fd, err := pidfdOpen(pid, 0)
	if err != nil {
		fd, err = pidfdOpen(pid, unix.PIDFD_THREAD)
	}
	if err == nil {
		go func() {
			defer unix.Close(fd)
			fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
			for ctx.Err() == nil {
				n, err := unix.Poll(fds, 200)
				if err == unix.EINTR {
					continue
				}
				if err != nil {
					break
				}
				if n > 0 {
					exited()
					return
				}
			}
		}()
		return ctx, cancel
	}
	env.logf("pidfd_open(%d): %v: polling for the process's exit every %v", pid, err, pidPollInterval)
	go func() {
		t := time.NewTicker(pidPollInterval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if !processAlive(pid) {
					exited()
					return
				}
			}
		}
	}()
	return ctx, cancel
}

// watchTarget is watchPID for trace's -p PID or -L TID.
func watchTarget(ctx context.Context, pid, tid int, env Env) (context.Context, func()) {
	if tid != 0 {
		return watchPID(ctx, tid, "thread", env)
	}
	return watchPID(ctx, pid, "process", env)
}

// ShortSpec is spec cut to WindowColumns characters with a "…" for names
// and messages that quote a spec whole (a 100 KB spec would otherwise be
// repeated in every line naming its probe).
func ShortSpec(spec string) string {
	r := []rune(spec)
	if len(r) <= specparse.WindowColumns {
		return spec
	}
	return string(r[:specparse.WindowColumns-1]) + "…"
}
