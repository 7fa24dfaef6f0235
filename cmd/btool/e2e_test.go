package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"

	"github.com/btool/btool/internal/cfixtures"
	"github.com/btool/btool/internal/testutil"
)

// syncBuffer is a bytes.Buffer safe for a writer goroutine and a reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// tracer is a running btool process.
type tracer struct {
	t        *testing.T
	cmd      *exec.Cmd
	out, err syncBuffer
	done     chan struct{}
	exitCode int
}

// timeScale stretches timeouts under QEMU software emulation.
func timeScale() time.Duration {
	if testutil.InVM() {
		return 10
	}
	return 1
}

// startBtool runs btool with args plus a ready file and waits until every
// probe is attached (the ready file appears) or btool exits.
func startBtool(t *testing.T, args ...string) *tracer {
	t.Helper()
	return startBtoolOut(t, nil, args...)
}

// stop sends sig and waits for btool to exit; it returns stdout.
func (tr *tracer) stop(sig syscall.Signal) string {
	tr.t.Helper()
	tr.cmd.Process.Signal(sig)
	return tr.wait()
}

func (tr *tracer) wait() string {
	tr.t.Helper()
	select {
	case <-tr.done:
	case <-time.After(30 * time.Second * timeScale()):
		tr.t.Fatalf("btool did not exit:\n%s", tr.err.String())
	}
	if tr.exitCode != 0 {
		tr.t.Fatalf("btool exited %d:\nstdout:\n%s\nstderr:\n%s", tr.exitCode, tr.out.String(), tr.err.String())
	}
	return tr.out.String()
}

// workload is a started workload waiting on stdin for the go signal.
type workload struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Reader
	pid   int
}

// startWorkload starts a workload that prints its pid and waits for a line
// on stdin before it starts its loop.
func startWorkload(t *testing.T, path string, args ...string) *workload {
	t.Helper()
	w := &workload{cmd: exec.Command(path, args...)}
	var err error
	if w.stdin, err = w.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := w.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	w.cmd.Stderr = os.Stderr
	if err := w.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.cmd.Process.Kill(); w.cmd.Wait() })
	w.out = bufio.NewReader(stdout)
	line, err := w.out.ReadString('\n')
	if err != nil {
		t.Fatalf("workload %s: %v", path, err)
	}
	if w.pid, err = strconv.Atoi(strings.TrimSpace(line)); err != nil {
		t.Fatalf("workload %s printed %q, want its pid", path, line)
	}
	return w
}

// run releases the workload and waits for it to finish.
func (w *workload) run(t *testing.T) {
	t.Helper()
	w.stdin.Write([]byte("go\n"))
	w.stdin.Close()
	io.Copy(io.Discard, w.out)
	if err := w.cmd.Wait(); err != nil {
		t.Fatalf("workload: %v", err)
	}
}

var rowRE = regexp.MustCompile(`(?m)^(\S.*?)\s+(\d+)$`)

// counts parses the last FUNC/COUNT table in funccount output.
func counts(t *testing.T, out string) map[string]uint64 {
	t.Helper()
	i := strings.LastIndex(out, "FUNC ")
	if i < 0 {
		t.Fatalf("no FUNC/COUNT table in output:\n%s", out)
	}
	m := map[string]uint64{}
	for _, l := range strings.Split(out[i:], "\n")[1:] {
		if mm := rowRE.FindStringSubmatch(l); mm != nil {
			n, _ := strconv.ParseUint(mm[2], 10, 64)
			m[strings.TrimSpace(mm[1])] = n
		}
	}
	return m
}

func requireRoot(t *testing.T) {
	testutil.RequireRoot(t)
}

func TestKernelFunccountSyscallTracepointExact(t *testing.T) {
	requireRoot(t)
	const n = 1000
	w := startWorkload(t, testutil.Workload(t, "getpid"), "-n", strconv.Itoa(n), "-wait")
	tr := startBtool(t, "funccount", "-p", strconv.Itoa(w.pid), "t:syscalls:sys_enter_getpid")
	w.run(t)
	out := tr.stop(syscall.SIGINT)
	if !strings.HasPrefix(out, `Tracing 1 functions for "t:syscalls:sys_enter_getpid"... Hit Ctrl-C to end.`) {
		t.Errorf("banner missing:\n%s", out)
	}
	if !strings.HasSuffix(out, "Detaching...\n") {
		t.Errorf("no Detaching... at the end:\n%s", out)
	}
	if got := counts(t, out)["syscalls:sys_enter_getpid"]; got != n {
		t.Fatalf("count = %d, want exactly %d:\n%s", got, n, out)
	}
}

// TestKernelFunccountSyscallNames checks that sys_getpid, SyS_getpid and
// __x64_sys_getpid all count the getpid syscall: through the syscall
// tracepoint on kernels without kprobes, through the wrapper elsewhere.
func TestKernelFunccountSyscallNames(t *testing.T) {
	requireRoot(t)
	const n = 500
	for _, name := range []string{"sys_getpid", "SyS_getpid", "__x64_sys_getpid"} {
		t.Run(name, func(t *testing.T) {
			w := startWorkload(t, testutil.Workload(t, "getpid"), "-n", strconv.Itoa(n), "-wait")
			tr := startBtool(t, "funccount", "-v", "-p", strconv.Itoa(w.pid), name)
			w.run(t)
			out := tr.stop(syscall.SIGTERM)
			if got := counts(t, out)[name]; got != n {
				t.Fatalf("count = %d, want %d:\n%s\nstderr:\n%s", got, n, out, tr.err.String())
			}
			t.Logf("mechanism: %s", strings.TrimSpace(tr.err.String()))
		})
	}
}

// TestKernelFunccountVFS counts 'vfs_*' with each kernel-function mechanism
// the kernel offers: kprobe_multi, fentry and per-function kprobes.
func TestKernelFunccountVFS(t *testing.T) {
	requireRoot(t)
	const n = 50
	for _, tc := range []struct {
		feature, noFeature, mode string
	}{
		{"kprobe_multi", "", "kprobe_multi"},
		{"fentry", "kprobe_multi", "fentry"},
		{"kprobe", "kprobe_multi,fentry", "kprobe"},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			if !haveFeature(t, tc.feature) {
				return
			}
			w := startWorkload(t, testutil.Workload(t, "readfiles"), "-n", strconv.Itoa(n), "-wait")
			args := []string{"funccount", "-v", "-p", strconv.Itoa(w.pid)}
			if tc.noFeature != "" {
				args = append(args, "--no-feature", tc.noFeature)
			}
			tr := startBtool(t, append(args, "vfs_*")...)
			w.run(t)
			out := tr.stop(syscall.SIGINT)
			if !strings.Contains(tr.err.String(), "attached with "+tc.mode) {
				t.Fatalf("not attached with %s:\n%s", tc.mode, tr.err.String())
			}
			c := counts(t, out)
			if c["vfs_open"] != n {
				t.Errorf("vfs_open = %d, want %d", c["vfs_open"], n)
			}
			if c["vfs_read"] < n {
				t.Errorf("vfs_read = %d, want >= %d", c["vfs_read"], n)
			}
			if t.Failed() {
				t.Logf("output:\n%s\nstderr:\n%s", out, tr.err.String())
			}
		})
	}
}

// haveFeature asks btool's own feature probe, through the CLI's -v listing
// of the attach decision, whether the kernel has a feature; it skips (or
// fails, when the VM expects the feature) otherwise.
func haveFeature(t *testing.T, name string) bool {
	t.Helper()
	out, _ := exec.Command(testutil.BtoolBin(t), "features").CombinedOutput()
	for _, l := range strings.Split(string(out), "\n") {
		f := strings.Fields(l)
		if len(f) >= 2 && f[0] == name {
			if f[1] == "yes" {
				return true
			}
			reason := strings.TrimSuffix(strings.TrimPrefix(strings.Join(f[1:], " "), "no: "), ": not supported")
			testutil.RequireFeature(t, name, fmt.Errorf("%s: %w", reason, ebpf.ErrNotSupported))
			return false
		}
	}
	t.Fatalf("btool features did not report %s:\n%s", name, out)
	return false
}

// buildC returns a C or C++ fixture from testdata/c (see package
// cfixtures): built now with the host's compiler, or, inside the VM, the
// static build the VM harness put in $BTOOL_WORKLOADS. It skips when
// neither is available.
func buildC(t *testing.T, src string, flags ...string) string {
	t.Helper()
	f := cfixtures.Fixture{Src: src, Flags: flags}
	if dir := os.Getenv("BTOOL_WORKLOADS"); dir != "" {
		p := filepath.Join(dir, "c-"+f.Name())
		if _, err := os.Stat(p); err != nil {
			t.Skipf("fixture %s was not prebuilt for the VM (no static toolchain on the host?)", f.Name())
		}
		return p
	}
	p, err := cfixtures.Build(testutil.RepoRoot(), t.TempDir(), "", f, false)
	if errors.Is(err, exec.ErrNotFound) {
		t.Skipf("no compiler: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestKernelFunccountUprobeC(t *testing.T) {
	requireRoot(t)
	bin := buildC(t, "calls.c")
	const n = 40
	w := startWorkload(t, bin, strconv.Itoa(n))
	tr := startBtool(t, "funccount", "-p", strconv.Itoa(w.pid), bin+":work_*")
	w.run(t)
	out := tr.stop(syscall.SIGINT)
	if !strings.HasPrefix(out, `Tracing 3 functions for "`+bin+`:work_*"`) {
		t.Errorf("banner:\n%s", out)
	}
	c := counts(t, out)
	want := map[string]uint64{"work_alpha": n, "work_beta": 2 * n, "work_gamma": 3 * n}
	for k, v := range want {
		if c[k] != v {
			t.Errorf("%s = %d, want %d", k, c[k], v)
		}
	}
	// Rows are sorted ascending by count.
	if a, b := strings.Index(out, "work_alpha"), strings.Index(out, "work_gamma"); a > b {
		t.Errorf("rows not sorted ascending:\n%s", out)
	}
}

func TestKernelFunccountUprobeCxxDemangled(t *testing.T) {
	requireRoot(t)
	bin := buildC(t, "widget.cc")
	const n = 30
	w := startWorkload(t, bin, strconv.Itoa(n))
	tr := startBtool(t, "funccount", "-p", strconv.Itoa(w.pid), "p:"+bin+":*shapes*")
	w.run(t)
	out := tr.stop(syscall.SIGINT)
	c := counts(t, out)
	if c["shapes::Widget::poke(int)"] != n || c["shapes::area(double, double)"] != 2*n {
		t.Fatalf("demangled counts wrong:\n%s", out)
	}
	if strings.Contains(out, "_ZN") {
		t.Fatalf("mangled name in output:\n%s", out)
	}
}

// TestKernelFunccountGoUprobe counts a Go function in a static Go binary: it
// runs in the VMs too, where no C compiler exists.
func TestKernelFunccountGoUprobe(t *testing.T) {
	requireRoot(t)
	const n = 300
	bin := testutil.Workload(t, "spin")
	w := startWorkload(t, bin, "-n", strconv.Itoa(n), "-wait")
	tr := startBtool(t, "funccount", "-p", strconv.Itoa(w.pid), bin+":main.spinTarget")
	w.run(t)
	out := tr.stop(syscall.SIGINT)
	if got := counts(t, out)["main.spinTarget"]; got != n {
		t.Fatalf("main.spinTarget = %d, want %d:\n%s", got, n, out)
	}
}

// TestKernelFunccountIntervals checks -i, -d and -T: summaries at each
// interval with a timestamp line, and a clean exit after the duration.
func TestKernelFunccountIntervals(t *testing.T) {
	requireRoot(t)
	tr := startBtool(t, "funccount", "-T", "-i", "0.3", "-d", "1", "t:syscalls:sys_enter_getpid")
	out := tr.wait()
	if !strings.HasSuffix(out, "Detaching...\n") {
		t.Fatalf("no Detaching...:\n%s", out)
	}
	tables := strings.Count(out, "FUNC                                    COUNT\n")
	stamps := regexp.MustCompile(`(?m)^\d\d:\d\d:\d\d\s*\nFUNC`).FindAllString(out, -1)
	if tables < 3 || tables > 5 || len(stamps) != tables {
		t.Fatalf("want 3-4 timestamped summaries in 1s at 0.3s intervals, got %d tables, %d stamps:\n%s", tables, len(stamps), out)
	}
}

func TestKernelFunccountJSON(t *testing.T) {
	requireRoot(t)
	const n = 200
	w := startWorkload(t, testutil.Workload(t, "getpid"), "-n", strconv.Itoa(n), "-wait")
	tr := startBtool(t, "funccount", "--json", "-p", strconv.Itoa(w.pid), "t:syscalls:sys_enter_getpid")
	w.run(t)
	out := tr.stop(syscall.SIGINT)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var last struct {
		Time   string
		Counts []struct {
			Func  string
			Count uint64
		}
	}
	for _, l := range lines {
		if err := json.Unmarshal([]byte(l), &last); err != nil {
			t.Fatalf("not JSON lines: %v\n%s", err, out)
		}
	}
	if _, err := time.Parse(time.RFC3339Nano, last.Time); err != nil {
		t.Errorf("time %q: %v", last.Time, err)
	}
	if len(last.Counts) != 1 || last.Counts[0].Func != "syscalls:sys_enter_getpid" || last.Counts[0].Count != n {
		t.Fatalf("counts = %+v, want getpid %d", last.Counts, n)
	}
	if !strings.Contains(tr.err.String(), "Tracing 1 functions") {
		t.Errorf("banner should go to stderr with --json, stderr:\n%s", tr.err.String())
	}
}

// bpfObjects returns the IDs of the BPF programs and links process pid holds
// open, read from /proc/PID/fdinfo.
func bpfObjects(t *testing.T, pid int) (progs, links []uint32) {
	t.Helper()
	dir := fmt.Sprintf("/proc/%d/fdinfo", pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			continue
		}
		for _, l := range strings.Split(string(b), "\n") {
			k, v, ok := strings.Cut(l, ":")
			if !ok {
				continue
			}
			id, err := strconv.ParseUint(strings.TrimSpace(v), 10, 32)
			if err != nil {
				continue
			}
			switch k {
			case "prog_id":
				progs = append(progs, uint32(id))
			case "link_id":
				links = append(links, uint32(id))
			}
		}
	}
	return progs, links
}

// assertGone fails if any of the programs or links still exist. The kernel
// frees them after an RCU grace period, so it waits a little.
func assertGone(t *testing.T, progs, links []uint32) {
	t.Helper()
	for deadline := time.Now().Add(3 * time.Second * timeScale()); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if !anyExists(progs, links) {
			return
		}
	}
	for _, id := range progs {
		if p, err := ebpf.NewProgramFromID(ebpf.ProgramID(id)); err == nil {
			p.Close()
			t.Errorf("program %d still loaded after btool exited", id)
		}
	}
	for _, id := range links {
		if l, err := link.NewFromID(link.ID(id)); err == nil {
			l.Close()
			t.Errorf("link %d still exists after btool exited", id)
		}
	}
}

func anyExists(progs, links []uint32) bool {
	for _, id := range progs {
		if p, err := ebpf.NewProgramFromID(ebpf.ProgramID(id)); err == nil {
			p.Close()
			return true
		}
	}
	for _, id := range links {
		if l, err := link.NewFromID(link.ID(id)); err == nil {
			l.Close()
			return true
		}
	}
	return false
}

// TestKernelFunccountDetaches checks that SIGINT, SIGTERM and a closed
// stdout pipe each end btool promptly with exit 0 and nothing left loaded.
func TestKernelFunccountDetaches(t *testing.T) {
	requireRoot(t)
	for _, how := range []string{"SIGINT", "SIGTERM", "closed-pipe"} {
		t.Run(how, func(t *testing.T) {
			var tr *tracer
			var pr *os.File
			if how == "closed-pipe" {
				var pw *os.File
				var err error
				pr, pw, err = os.Pipe()
				if err != nil {
					t.Fatal(err)
				}
				tr = startBtoolOut(t, pw, "funccount", "-i", "60", "t:sched:sched_process_*")
				pw.Close()
			} else {
				tr = startBtool(t, "funccount", "-i", "60", "t:syscalls:sys_enter_*")
			}
			progs, links := bpfObjects(t, tr.cmd.Process.Pid)
			if len(progs) == 0 || len(links) == 0 {
				t.Fatalf("btool holds no BPF programs/links (%v, %v)", progs, links)
			}
			start := time.Now()
			switch how {
			case "SIGINT":
				tr.stop(syscall.SIGINT)
			case "SIGTERM":
				tr.stop(syscall.SIGTERM)
			case "closed-pipe":
				line, _ := bufio.NewReader(pr).ReadString('\n')
				if !strings.HasPrefix(line, "Tracing") {
					t.Fatalf("first line %q", line)
				}
				pr.Close() // like `| head -1`
				tr.wait()
			}
			if d := time.Since(start); d > 3*time.Second*timeScale() {
				t.Errorf("exit took %v", d)
			}
			assertGone(t, progs, links)
		})
	}
}

// startBtoolOut is startBtool with stdout sent to f (nil: captured).
// startProcess starts btool with args, stdout to f (nil: captured), and
// kills it at cleanup; it does not wait for anything.
func startProcess(t *testing.T, f *os.File, args ...string) *tracer {
	t.Helper()
	tr := &tracer{t: t, cmd: exec.Command(testutil.BtoolBin(t), args...), done: make(chan struct{})}
	tr.cmd.Stdout, tr.cmd.Stderr = &tr.out, &tr.err
	if f != nil {
		tr.cmd.Stdout = f
	}
	if err := tr.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		tr.cmd.Wait()
		tr.exitCode = tr.cmd.ProcessState.ExitCode()
		close(tr.done)
	}()
	t.Cleanup(func() { tr.cmd.Process.Kill(); <-tr.done })
	return tr
}

func startBtoolOut(t *testing.T, f *os.File, args ...string) *tracer {
	t.Helper()
	ready := filepath.Join(t.TempDir(), "ready")
	args = append([]string{args[0], "--ready-file", ready}, args[1:]...)
	tr := startProcess(t, f, args...)
	deadline := time.After(30 * time.Second * timeScale())
	for {
		if _, err := os.Stat(ready); err == nil {
			return tr
		}
		select {
		case <-tr.done:
			t.Fatalf("btool %v exited %d before attaching:\nstdout:\n%s\nstderr:\n%s", args, tr.exitCode, tr.out.String(), tr.err.String())
		case <-deadline:
			t.Fatalf("btool did not attach in time")
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// TestKernelFunccountUSDTSemaphore counts USDT probes; demo:guarded fires
// only while its semaphore is raised, which btool does through the
// kernel's uprobe reference counter without needing -p.
func TestKernelFunccountUSDTSemaphore(t *testing.T) {
	requireRoot(t)
	bin := buildC(t, "usdt.c")
	const n = 25
	for _, mode := range []string{"uprobe_multi", "uprobe"} {
		t.Run(mode, func(t *testing.T) {
			args := []string{"funccount", "-v"}
			if mode == "uprobe" {
				args = append(args, "--no-feature", "uprobe_multi")
			} else if !haveFeature(t, "uprobe_multi") {
				return
			}
			w := startWorkload(t, bin, strconv.Itoa(n))
			tr := startBtool(t, append(args, "u:"+bin+":*")...)
			w.run(t)
			out := tr.stop(syscall.SIGINT)
			if !strings.Contains(tr.err.String(), "with "+mode) {
				t.Fatalf("not attached with %s:\n%s", mode, tr.err.String())
			}
			c := counts(t, out)
			if c["tick"] != n || c["guarded"] != n {
				t.Fatalf("tick = %d, guarded = %d, want %d each:\n%s", c["tick"], c["guarded"], n, out)
			}
		})
	}
}

func runBtool(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(testutil.BtoolBin(t), args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.Run()
	return out.String(), errb.String(), cmd.ProcessState.ExitCode()
}

// TestKernelList checks btool list on kernel functions (with BTF
// prototypes), tracepoints (with format fields) and a binary's symbols.
func TestKernelList(t *testing.T) {
	requireRoot(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"list", "-v", "vfs_read"}, "p::vfs_read\n    struct file * file\n    char * buf\n    size_t count\n    loff_t * pos\n    ssize_t retval\n"},
		{[]string{"list", "t:sched:sched_process_fork"}, "t:sched:sched_process_fork\n"},
		{[]string{"list", "-v", "t:sched:sched_process_fork"}, "t:sched:sched_process_fork\n"},
		{[]string{"list", "-r", "t:sched:sched_process_f.*k"}, "t:sched:sched_process_fork\n"},
	} {
		out, errs, code := runBtool(t, tc.args...)
		if code != 0 || !strings.HasPrefix(out, tc.want) {
			t.Errorf("%v: exit %d, stdout:\n%s\nstderr:\n%s\nwant prefix:\n%s", tc.args, code, out, errs, tc.want)
		}
	}
	if out, _, _ := runBtool(t, "list", "-v", "t:sched:sched_process_fork"); !strings.Contains(out, "pid_t child_pid;") {
		t.Errorf("tracepoint fields missing:\n%s", out)
	}
	spin := testutil.Workload(t, "spin")
	if out, errs, code := runBtool(t, "list", spin+":main.spin*"); code != 0 || !strings.Contains(out, "p:"+spin+":main.spinTarget\n") {
		t.Errorf("user symbols: exit %d\n%s%s", code, out, errs)
	}
	_, errs, code := runBtool(t, "list", "t:nosuch:*")
	if code != exitUsage || !strings.Contains(errs, "no tracepoints match nosuch:*") {
		t.Errorf("no match: exit %d, %s", code, errs)
	}
}

// TestKernelFunccountUnknownNames checks the errors for names that do not
// exist: one line naming the problem, suggestions, a caret, exit 2.
func TestKernelFunccountUnknownNames(t *testing.T) {
	requireRoot(t)
	spin := testutil.Workload(t, "spin")
	for _, tc := range []struct {
		pattern string
		want    []string
	}{
		{"t:sched:sched_swtich", []string{"btool: funccount: unknown tracepoint sched:sched_swtich; did you mean sched:sched_switch", "    t:sched:sched_swtich", "      ^~~~~~~~~~~~~~~~~~"}},
		{"nosuchlib:foo", []string{`btool: funccount: can't resolve library "nosuchlib" (not in the ld.so cache or $PATH)`, "    nosuchlib:foo", "    ^~~~~~~~~"}},
		{spin + ":main.spinTargte", []string{`btool: funccount: no function "main.spinTargte" in ` + spin + "; did you mean main.spinTarget?"}},
		{"u:" + spin + ":nosuch", []string{"btool: funccount: " + spin + " has no USDT probes (no .note.stapsdt section)"}},
	} {
		_, errs, code := runBtool(t, "funccount", tc.pattern)
		lines := strings.Split(errs, "\n")
		ok := code == exitUsage && len(lines) >= len(tc.want)
		for i := 0; ok && i < len(tc.want); i++ {
			ok = strings.HasPrefix(lines[i], tc.want[i])
		}
		if !ok {
			t.Errorf("%s: exit %d, stderr:\n%s\nwant:\n%s", tc.pattern, code, errs, strings.Join(tc.want, "\n"))
		}
	}
	// A kernel function: either unknown (kernels with kprobes) or a clear
	// statement that this kernel cannot attach to kernel functions.
	_, errs, code := runBtool(t, "funccount", "vfs_raed")
	if !(code == exitUsage && strings.Contains(errs, `unknown kernel function "vfs_raed"`) && strings.Contains(errs, "did you mean vfs_read")) &&
		!(code == exitRuntime && strings.Contains(errs, "this kernel cannot attach to a kernel function")) {
		t.Errorf("vfs_raed: exit %d, stderr:\n%s", code, errs)
	}
}

// TestKernelNotRoot runs btool as an unprivileged user: a one-line error
// saying root is needed, exit 1 (a runtime failure, not a usage error).
func TestKernelNotRoot(t *testing.T) {
	requireRoot(t) // to switch to nobody
	dir, err := os.MkdirTemp("", "btool-nonroot-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	os.Chmod(dir, 0o755)
	bin, err := os.ReadFile(testutil.BtoolBin(t))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "btool")
	if err := os.WriteFile(path, bin, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"funccount", "t:sched:sched_process_fork"},
		{"trace", "t:sched:sched_process_fork"},
	} {
		cmd := exec.Command(path, args...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		var errb bytes.Buffer
		cmd.Stderr = &errb
		cmd.Run()
		want := "btool: " + args[0] + ": " + args[0] + " needs root (CAP_BPF and CAP_PERFMON) to load BPF programs: run it with sudo\n"
		if code := cmd.ProcessState.ExitCode(); code != exitRuntime || errb.String() != want {
			t.Errorf("%v as nobody: exit %d, stderr %q; want exit %d, %q", args, code, errb.String(), exitRuntime, want)
		}
	}
	// list and -D read tracefs, which is root's: the error says so
	// rather than asking to mount it.
	for _, args := range [][]string{
		{"list", "t:sched:*"},
		{"trace", "-D", "t:sched:sched_process_fork"},
	} {
		cmd := exec.Command(path, args...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		var errb bytes.Buffer
		cmd.Stderr = &errb
		cmd.Run()
		if st, err := os.Stat("/sys/kernel/tracing/events"); err != nil || st.Mode().Perm()&0o001 != 0 {
			continue // tracefs readable by all here
		}
		if s := errb.String(); !strings.Contains(s, "permission denied") || strings.Contains(s, "mount it") {
			t.Errorf("%v as nobody: stderr %q; want a permission error", args, s)
		}
	}
}
