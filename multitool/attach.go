package multitool

import (
	"fmt"
	"os"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/btool/btool/bpf"
)

// maxSkipReasons is how many skipped targets reportSkipped names.
const maxSkipReasons = 3

// reportSkipped says on stderr, every time and not only with -v, how many
// targets could not be attached and why the first few failed: a count
// that silently covers fewer functions than the user asked for is a wrong
// value.
func reportSkipped(env Env, attached []*bpf.Attached) {
	var skipped []bpf.SkippedTarget
	total := 0
	for _, a := range attached {
		skipped = append(skipped, a.Skipped...)
		total += len(a.Skipped) + len(a.Targets())
	}
	if len(skipped) == 0 {
		return
	}
	var reasons []string
	for i, s := range skipped {
		if i == maxSkipReasons {
			reasons = append(reasons, fmt.Sprintf("and %d more (-v lists them)", len(skipped)-i))
			break
		}
		reasons = append(reasons, fmt.Sprintf("%s: %v", s.Target.Name, s.Err))
	}
	fmt.Fprintf(env.Err, "btool: warning: %d of %d targets could not be attached and are not traced: %s\n",
		len(skipped), total, strings.Join(reasons, "; "))
	if env.Verbose {
		for _, s := range skipped[min(len(skipped), maxSkipReasons):] {
			fmt.Fprintf(env.Err, "  skipped %s: %v\n", s.Target.Name, s.Err)
		}
	}
}

// openCgroup opens path once, for a cgroup filter, and checks that it is a
// directory of the cgroup v2 hierarchy (bpf_current_task_under_cgroup
// knows no other). The caller closes the file.
func openCgroup(path string) (*os.File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	var st unix.Statfs_t
	if err := unix.Fstatfs(int(f.Fd()), &st); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if st.Type != unix.CGROUP2_SUPER_MAGIC {
		f.Close()
		return nil, fmt.Errorf("%s is not a cgroup v2 directory (mounted at /sys/fs/cgroup on most systems)", path)
	}
	return f, nil
}

// DefaultProbeLimit is the most targets a probe attaches where each costs
// its own link, unless --probe-limit says otherwise.
const DefaultProbeLimit = bpf.DefaultProbeLimit

// openSession returns a new session for a tool's probes (pid is -p, 0 for
// none) and the function that closes it, logging under -v how long
// detaching took.
func openSession(pid, probeLimit int, env Env) (*bpf.Session, func()) {
	sess := bpf.NewSession(bpf.SessionOptions{PID: uint32(pid), ProbeLimit: probeLimit, Log: env.verboseLog()})
	return sess, func() {
		start := time.Now()
		sess.Close()
		env.logf("detached in %v", time.Since(start).Round(time.Microsecond))
	}
}
