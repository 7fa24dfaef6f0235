package main

import (
	"debug/elf"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/btool/btool/internal/flamegraph"
	"github.com/btool/btool/internal/testutil"
)

// foldedStacks parses folded output, failing the test when it is not
// valid folded format.
func foldedStacks(t *testing.T, out string) []flamegraph.Stack {
	t.Helper()
	stacks, err := flamegraph.ParseFolded(strings.NewReader(out))
	if err != nil {
		t.Fatalf("folded output does not parse: %v\n%s", err, out)
	}
	return stacks
}

// sumEnding returns the total count of the stacks whose frames, after the
// comm, contain want in order, root first, as consecutive frames.
func sumWith(stacks []flamegraph.Stack, want ...string) uint64 {
	var n uint64
	for _, s := range stacks {
		if strings.Contains(";"+strings.Join(s.Frames, ";")+";", ";"+strings.Join(want, ";")+";") {
			n += s.Count
		}
	}
	return n
}

// TestKernelStackcountUserC: stackcount on a user function of a C program
// finds every call (N) with its callers, leaf <- mid <- main, in folded,
// listing and SVG form. Kernels before 6.11 may miss the caller of a
// function probed at its entry (mid).
func TestKernelStackcountUserC(t *testing.T) {
	requireRoot(t)
	bin := buildC(t, "stacks.c")
	const n = 300
	w := startWorkload(t, bin, "calls", strconv.Itoa(n))
	svg := filepath.Join(t.TempDir(), "out.svg")
	tr := startBtool(t, "stackcount", "-f", "-U", "--svg", svg, "-p", strconv.Itoa(w.pid), bin+":leaf")
	w.run(t)
	out := tr.stop(syscall.SIGINT)
	stacks := foldedStacks(t, out)
	if got := sumWith(stacks, commOf(bin)); got != n {
		t.Errorf("%d calls counted, want %d:\n%s", got, n, out)
	}
	// From 6.11 the kernel also walks the caller of a function probed at
	// its entry (mid); before, it may not (5.10 doesn't, Debian's 6.1
	// does), so there a stack may go main;leaf.
	got := sumWith(stacks, "main", "mid", "leaf")
	if !kernelAtLeast(t, 6, 11) {
		got += sumWith(stacks, "main", "leaf")
	}
	if got != n {
		t.Errorf("%d calls with the stack main;mid;leaf (or main;leaf before 6.11), want %d:\n%s", got, n, out)
	}
	checkSVG(t, svg, stacks)
}

// TestKernelStackcountListing: the default listing shows the user frames
// leaf first and the count.
func TestKernelStackcountListing(t *testing.T) {
	requireRoot(t)
	if !kernelAtLeast(t, 6, 11) {
		t.Skip("the caller of a function probed at its entry is found from 6.11")
	}
	bin := buildC(t, "stacks.c")
	const n = 77
	w := startWorkload(t, bin, "calls", strconv.Itoa(n))
	tr := startBtool(t, "stackcount", "-U", "-p", strconv.Itoa(w.pid), bin+":leaf")
	w.run(t)
	out := tr.stop(syscall.SIGINT)
	if !strings.Contains(out, "  leaf\n  mid\n  main\n") || !strings.Contains(out, "\n    77\n") {
		t.Errorf("no leaf, mid, main stack counted 77:\n%s", out)
	}
	if !strings.HasSuffix(out, "Detaching...\n") {
		t.Errorf("no Detaching... at the end:\n%s", out)
	}
}

// TestKernelStackcountExited: a process that exits before the report is
// still symbolized (its map is captured when its first stacks appear).
func TestKernelStackcountExited(t *testing.T) {
	requireRoot(t)
	bin := buildC(t, "stacks.c")
	const n = 50
	tr := startBtool(t, "stackcount", "-f", "-U", bin+":leaf")
	// The program exits 20 ms after its calls (the notice of a new
	// process reaches btool in well under that), long before the report.
	w := startWorkload(t, bin, "calls", strconv.Itoa(n), strconv.Itoa(20*int(timeScale())))
	w.run(t)
	out := tr.stop(syscall.SIGINT)
	stacks := foldedStacks(t, out)
	if got := sumWith(stacks, "main"); got != n {
		t.Errorf("%d calls symbolized with main, want %d:\n%s", got, n, out)
	}
}

// TestKernelStackcountTracepointKernel: kernel stacks on a tracepoint: the
// one nanosleep system call of the program, with its syscall entry path.
func TestKernelStackcountTracepointKernel(t *testing.T) {
	requireRoot(t)
	bin := buildC(t, "stacks.c")
	w := startWorkload(t, bin, "calls", "1", "10")
	tr := startBtool(t, "stackcount", "-f", "-K", "--verbose", "-p", strconv.Itoa(w.pid), "t:syscalls:sys_enter_nanosleep")
	w.run(t)
	out := tr.stop(syscall.SIGINT)
	stacks := foldedStacks(t, out)
	if got := sumWith(stacks, commOf(bin)); got != 1 {
		t.Errorf("%d nanosleep calls, want 1:\n%s\nstderr:\n%s", got, out, tr.err.String())
	}
	if got := sumWith(stacks, "do_syscall_64"); got != 1 {
		t.Errorf("no do_syscall_64 in the kernel stack:\n%s", out)
	}
}

// TestKernelStackcountKprobe: kernel stacks on a kernel function (a
// kprobe, kprobe_multi or fentry, whichever the kernel has): the program's
// nanosleep reaches hrtimer_nanosleep through the syscall entry path.
func TestKernelStackcountKprobe(t *testing.T) {
	requireRoot(t)
	if !haveFeature(t, "kprobe") {
		return
	}
	bin := buildC(t, "stacks.c")
	w := startWorkload(t, bin, "calls", "1", "10")
	tr := startBtool(t, "stackcount", "-f", "-K", "-p", strconv.Itoa(w.pid), "hrtimer_nanosleep")
	w.run(t)
	out := tr.stop(syscall.SIGINT)
	stacks := foldedStacks(t, out)
	if got := sumWith(stacks, commOf(bin)); got != 1 {
		t.Errorf("%d hrtimer_nanosleep calls, want 1:\n%s", got, out)
	}
	var found bool
	for _, s := range stacks {
		j := strings.Join(s.Frames, ";")
		i, k := strings.Index(j, "do_syscall_64"), strings.Index(j, "hrtimer_nanosleep")
		found = found || i >= 0 && k > i
	}
	if !found {
		t.Errorf("no stack with do_syscall_64 then hrtimer_nanosleep:\n%s", out)
	}
}

// commOf is the comm of a process running bin: its base name cut to 15
// bytes ("c-stacks" in the VM).
func commOf(bin string) string {
	c := filepath.Base(bin)
	if len(c) > 15 {
		c = c[:15]
	}
	return c
}

// kernelAtLeast reports whether the running kernel is major.minor or
// later.
func kernelAtLeast(t *testing.T, major, minor int) bool {
	var u syscall.Utsname
	if err := syscall.Uname(&u); err != nil {
		t.Fatal(err)
	}
	var b []byte
	for _, c := range u.Release {
		if c == 0 {
			break
		}
		b = append(b, byte(c))
	}
	parts := strings.SplitN(string(b), ".", 3)
	if len(parts) < 2 {
		return false
	}
	ma, _ := strconv.Atoi(parts[0])
	mi, _ := strconv.Atoi(strings.TrimRightFunc(parts[1], func(r rune) bool { return r < '0' || r > '9' }))
	return ma > major || ma == major && mi >= minor
}

// checkSVG checks that the SVG at path is well-formed XML and holds every
// path of the folded stacks with its total (the sum of the counts of the
// stacks through it): the data-count of its box; paths too narrow to draw
// (under 0.2 pixel) may be missing.
func checkSVG(t *testing.T, path string, stacks []flamegraph.Stack) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("--svg: %v", err)
	}
	defer f.Close()
	got := map[string]uint64{}
	var stack []string // names by depth
	dec := xml.NewDecoder(f)
	var depth int
	var count uint64
	inBox := false
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("SVG is not well-formed XML: %v", err)
		}
		switch e := tok.(type) {
		case xml.StartElement:
			if e.Name.Local == "g" {
				for _, a := range e.Attr {
					if a.Name.Local == "class" && a.Value == "f" {
						inBox = true
					}
					if a.Name.Local == "data-depth" {
						depth, _ = strconv.Atoi(a.Value)
					}
					if a.Name.Local == "data-count" {
						count, _ = strconv.ParseUint(a.Value, 10, 64)
					}
				}
			}
			if e.Name.Local == "title" && inBox {
				var title string
				if err := dec.DecodeElement(&title, &e); err != nil {
					t.Fatal(err)
				}
				name := title
				if i := strings.LastIndex(title, " ("); i >= 0 {
					name = title[:i]
				}
				inBox = false
				if depth == 0 {
					continue // "all"
				}
				stack = append(stack[:depth-1], name)
				got[strings.Join(stack, ";")] = count
			}
		}
	}
	want := map[string]uint64{}
	for _, s := range stacks {
		var fr []string
		for i, f := range s.Frames {
			if (i == 0 && f == "") || f == flamegraph.Delimiter {
				continue
			}
			fr = append(fr, f)
			want[strings.Join(fr, ";")] += s.Count
		}
	}
	if len(want) == 0 {
		t.Fatal("no stacks to check the SVG against")
	}
	var total uint64
	for _, s := range stacks {
		total += s.Count
	}
	for p, n := range want {
		// The tools draw with flamegraph.Options' default MinWidth:
		// boxes under 0.1 pixel of the 1,180 drawn are left out, their
		// counts kept in their parent's.
		if float64(n)/float64(total)*1180 < 0.2 {
			continue
		}
		if got[p] != n {
			t.Errorf("SVG box %q has count %d, want %d", p, got[p], n)
		}
	}
}

// TestKernelProfileBusyLoop: profile of a program spinning in spin() for
// 1.5 s: the hottest folded stack holds spin (called from main), and the
// samples add up to about the time on CPU times the frequency; the SVG
// holds every stack.
func TestKernelProfileBusyLoop(t *testing.T) {
	requireRoot(t)
	bin := buildC(t, "stacks.c")
	const ms, hz = 1500, 99
	w := startWorkload(t, bin, "spin", strconv.Itoa(ms))
	svg := filepath.Join(t.TempDir(), "cpu.svg")
	tr := startBtool(t, "profile", "-f", "-F", strconv.Itoa(hz), "--svg", svg, "-p", strconv.Itoa(w.pid))
	w.run(t)
	out := tr.stop(syscall.SIGINT)
	stacks := foldedStacks(t, out)
	var hot flamegraph.Stack
	var total uint64
	for _, s := range stacks {
		total += s.Count
		if s.Count > hot.Count {
			hot = s
		}
	}
	if !strings.Contains(";"+strings.Join(hot.Frames, ";")+";", ";main;spin;") {
		t.Errorf("hottest stack %q (%d samples) does not hold main;spin:\n%s", hot.Frames, hot.Count, out)
	}
	// ~148 samples when spin has a CPU to itself; fewer on a busy
	// machine (only time on CPU is sampled), never many more.
	if want := uint64(ms * hz / 1000); total < 10 || total > want*3/2 {
		t.Errorf("%d samples, want about %d:\n%s", total, want, out)
	}
	checkSVG(t, svg, stacks)
}

// TestKernelOffcputimeNap: offcputime on a program that sleeps 5 times
// 100 ms in nap() reports the stack main;nap (user) with the nanosleep
// path (kernel) and about 500,000 us; the SVG holds every stack with
// those totals.
//
// It runs on the raw tracepoint (BTF-typed next->pid) where the kernel has
// one, and again on the perf tracepoint (args->next_pid from the format).
func TestKernelOffcputimeNap(t *testing.T) {
	requireRoot(t)
	for _, mode := range []string{"raw_tracepoint", "tracepoint"} {
		t.Run(mode, func(t *testing.T) {
			var extra []string
			if mode == "tracepoint" {
				extra = []string{"--no-feature", "raw_tracepoint"}
			}
			testOffcputimeNap(t, mode, extra)
		})
	}
}

func testOffcputimeNap(t *testing.T, mode string, extra []string) {
	bin := buildC(t, "stacks.c")
	const ms, naps = 100, 5
	w := startWorkload(t, bin, "sleep", strconv.Itoa(ms), strconv.Itoa(naps))
	svg := filepath.Join(t.TempDir(), "offcpu.svg")
	tr := startBtool(t, append([]string{"offcputime", "--verbose", "-f", "--svg", svg, "-p", strconv.Itoa(w.pid)}, extra...)...)
	w.run(t)
	out := tr.stop(syscall.SIGINT)
	stacks := foldedStacks(t, out)
	got := sumWith(stacks, "main", "nap")
	// Each nap is off CPU at least its 100 ms; wake-up latency adds a
	// little (more under QEMU).
	lo, hi := uint64(naps*ms*1000*98/100), uint64(naps*ms*1000*130/100)*uint64(timeScale())
	if got < lo || got > hi {
		t.Errorf("main;nap off CPU %d us, want %d to %d:\n%s", got, lo, hi, out)
	}
	if k := sumWith(stacks, "nap", "-"); k != got {
		t.Errorf("nap's blocks with a kernel stack: %d us of %d:\n%s", k, got, out)
	}
	if want := "attached with " + mode; !strings.Contains(tr.err.String(), want) {
		t.Errorf("stderr does not say %q:\n%s", want, tr.err.String())
	}
	checkSVG(t, svg, stacks)
}

// TestKernelStackcountCxxDemangled: the frames of a C++ program are
// demangled in the listing and the folded form.
func TestKernelStackcountCxxDemangled(t *testing.T) {
	requireRoot(t)
	bin := buildC(t, "widget.cc")
	const n = 40
	w := startWorkload(t, bin, strconv.Itoa(n))
	tr := startBtool(t, "stackcount", "-f", "-U", "-p", strconv.Itoa(w.pid), "p:"+bin+":*area*")
	w.run(t)
	out := tr.stop(syscall.SIGINT)
	stacks := foldedStacks(t, out)
	var got uint64
	for _, s := range stacks {
		if s.Frames[len(s.Frames)-1] == "shapes::area(double, double)" {
			got += s.Count
		}
	}
	if got != 2*n {
		t.Errorf("%d stacks ending in shapes::area(double, double), want %d:\n%s", got, 2*n, out)
	}
	if strings.Contains(out, "_ZN") {
		t.Errorf("mangled name in output:\n%s", out)
	}
}

// TestKernelProfileStrippedGo: profile of a Go program built with
// -ldflags='-s -w' (no symbol table) names its Go functions from
// .gopclntab: the hottest stack holds main.main. Host only (the VM has no
// Go toolchain to build the stripped copy).
func TestKernelProfileStrippedGo(t *testing.T) {
	requireRoot(t)
	if testutil.InVM() {
		t.Skip("needs the Go toolchain to build a stripped workload")
	}
	bin := filepath.Join(t.TempDir(), "spin-stripped")
	cmd := exec.Command("go", "build", "-ldflags=-s -w", "-o", bin, "./internal/workloads/spin")
	cmd.Dir = testutil.RepoRoot()
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, b)
	}
	if f, err := elf.Open(bin); err != nil || f.Section(".symtab") != nil {
		t.Fatalf("%s is not stripped (err %v)", bin, err)
	} else {
		f.Close()
	}
	w := startWorkload(t, bin, "-n", "400000000", "-wait")
	tr := startBtool(t, "profile", "-f", "-U", "-F", "99", "-p", strconv.Itoa(w.pid))
	w.run(t)
	out := tr.stop(syscall.SIGINT)
	stacks := foldedStacks(t, out)
	var hot flamegraph.Stack
	for _, s := range stacks {
		if s.Count > hot.Count {
			hot = s
		}
	}
	if !strings.Contains(";"+strings.Join(hot.Frames, ";")+";", ";main.main;") {
		t.Errorf("hottest stack %q (%d samples) has no main.main:\n%s", hot.Frames, hot.Count, out)
	}
}

// TestKernelStackcountIntervals: with -i, each summary holds the events
// since the previous one and none is lost: the calls of a program that
// calls leaf in three bursts add up to its total over the summaries, and
// the banner, timestamps and Detaching are bcc's.
func TestKernelStackcountIntervals(t *testing.T) {
	requireRoot(t)
	bin := buildC(t, "stacks.c")
	const n = 200
	tr := startBtool(t, "stackcount", "-T", "-U", "-i", "0.2", bin+":leaf")
	for range 3 {
		w := startWorkload(t, bin, "calls", strconv.Itoa(n))
		w.run(t)
		time.Sleep(250 * time.Millisecond)
	}
	out := tr.stop(syscall.SIGINT)
	var total uint64
	summaries := 0
	lines := strings.Split(out, "\n")
	for i, l := range lines {
		if regexp.MustCompile(`^\d\d:\d\d:\d\d$`).MatchString(l) {
			summaries++
		}
		if c, err := strconv.ParseUint(strings.TrimPrefix(l, "    "), 10, 64); err == nil && strings.HasPrefix(l, "    ") && i > 0 {
			total += c
		}
	}
	if total != 3*n {
		t.Errorf("counts add up to %d over the summaries, want %d:\n%s", total, 3*n, out)
	}
	if summaries < 3 || !strings.HasSuffix(out, "Detaching...\n") {
		t.Errorf("%d timestamped summaries:\n%s", summaries, out)
	}
}

// TestKernelStackcountJSON: --json prints one object per summary with the
// stacks leaf first and their counts; -p gives pid and comm.
func TestKernelStackcountJSON(t *testing.T) {
	requireRoot(t)
	bin := buildC(t, "stacks.c")
	const n = 33
	w := startWorkload(t, bin, "calls", strconv.Itoa(n))
	tr := startBtool(t, "stackcount", "--json", "-U", "-p", strconv.Itoa(w.pid), bin+":leaf")
	w.run(t)
	out := tr.stop(syscall.SIGINT)
	var got uint64
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var s struct {
			Time   string `json:"time"`
			Stacks []struct {
				PID   *int     `json:"pid"`
				Comm  string   `json:"comm"`
				User  []string `json:"user"`
				Count uint64   `json:"count"`
			} `json:"stacks"`
		}
		if err := json.Unmarshal([]byte(line), &s); err != nil {
			t.Fatalf("not JSON: %v\n%s", err, out)
		}
		for _, st := range s.Stacks {
			if st.PID == nil || *st.PID != w.pid || st.Comm != commOf(bin) || len(st.User) == 0 || st.User[0] != "leaf" {
				t.Errorf("stack %+v", st)
			}
			got += st.Count
		}
	}
	if got != n {
		t.Errorf("%d calls, want %d:\n%s", got, n, out)
	}
}

// TestKernelStackcountCPU: -c counts only the events on that CPU: a
// program pinned to CPU 0 makes one nanosleep call, seen with -c 0 and not
// with -c 1.
func TestKernelStackcountCPU(t *testing.T) {
	requireRoot(t)
	if runtime.NumCPU() < 2 {
		t.Skip("needs 2 CPUs")
	}
	taskset, err := exec.LookPath("taskset")
	if err != nil {
		t.Skip("no taskset")
	}
	bin := buildC(t, "stacks.c")
	for _, tc := range []struct {
		cpu  string
		want uint64
	}{{"0", 1}, {"1", 0}} {
		w := startWorkload(t, taskset, "-c", "0", bin, "calls", "1", "5")
		tr := startBtool(t, "stackcount", "-f", "-K", "-c", tc.cpu, "-p", strconv.Itoa(w.pid), "t:syscalls:sys_enter_nanosleep")
		w.run(t)
		out := tr.stop(syscall.SIGINT)
		if got := sumWith(foldedStacks(t, out), commOf(bin)); got != tc.want {
			t.Errorf("-c %s: %d calls, want %d:\n%s", tc.cpu, got, tc.want, out)
		}
	}
}

// TestKernelProfileIdle: the idle task (pid 0) is left out unless -I.
func TestKernelProfileIdle(t *testing.T) {
	requireRoot(t)
	for _, idle := range []bool{false, true} {
		args := []string{"profile", "--json", "-K", "-F", "199", "-d", "1"}
		if idle {
			args = append(args, "-I")
		}
		tr := startBtool(t, args...)
		out := tr.wait()
		var zero uint64
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			var s struct {
				Stacks []struct {
					PID   *int   `json:"pid"`
					Count uint64 `json:"count"`
				} `json:"stacks"`
			}
			if err := json.Unmarshal([]byte(line), &s); err != nil {
				t.Fatalf("not JSON: %v\n%s", err, out)
			}
			for _, st := range s.Stacks {
				if st.PID == nil {
					t.Fatalf("stack without pid:\n%s", out)
				}
				if *st.PID == 0 {
					zero += st.Count
				}
			}
		}
		switch {
		case !idle && zero > 0:
			t.Errorf("%d idle samples without -I", zero)
		case idle && zero == 0:
			t.Logf("no idle samples with -I: both CPUs were busy for the whole second")
		}
	}
}
