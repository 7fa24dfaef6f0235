package main

import (
	"encoding/json"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/btool/btool/internal/testutil"
)

// latencyOut is one funclatency summary: histogram rows by section
// ("" without -F, else the function) and by the low bound of the row's
// bucket, and the avg line.
type latencyOut struct {
	unit                string
	rows                map[string]map[uint64]uint64
	avg, total, count   uint64
	hasAvg              bool
	sections            []string
	bannerTargets       int
	bannerPattern, text string
}

var (
	latRowRE    = regexp.MustCompile(`^\s*(\d+) -> (\d+)\s+: (\d+)\s+\|[* ]*\|$`)
	latHeadRE   = regexp.MustCompile(`^\s+(\w+)\s+: count\s+distribution$`)
	latAvgRE    = regexp.MustCompile(`^avg = (\d+) (\w+), total: (\d+) (\w+), count: (\d+)$`)
	latBannerRE = regexp.MustCompile(`^Tracing (\d+) functions for "(.*)"\.\.\. Hit Ctrl-C to end\.$`)
)

// parseLatency parses funclatency's text output (one summary, as without
// -i), failing on any line it does not expect.
func parseLatency(t *testing.T, out string) *latencyOut {
	t.Helper()
	l := &latencyOut{rows: map[string]map[uint64]uint64{}, text: out}
	sec := ""
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) < 2 || lines[len(lines)-1] != "Detaching..." {
		t.Fatalf("output does not end with Detaching...:\n%s", out)
	}
	for i, line := range lines[:len(lines)-1] {
		switch m := latBannerRE.FindStringSubmatch(line); {
		case i == 0 && m != nil:
			l.bannerTargets, _ = strconv.Atoi(m[1])
			l.bannerPattern = m[2]
			continue
		case i == 0:
			t.Fatalf("no banner:\n%s", out)
		}
		if line == "" {
			continue
		}
		if f, ok := strings.CutPrefix(line, "Function = "); ok {
			sec = f
			l.sections = append(l.sections, f)
			continue
		}
		if m := latHeadRE.FindStringSubmatch(line); m != nil {
			l.unit = m[1]
			continue
		}
		if m := latRowRE.FindStringSubmatch(line); m != nil {
			lo, _ := strconv.ParseUint(m[1], 10, 64)
			n, _ := strconv.ParseUint(m[3], 10, 64)
			if l.rows[sec] == nil {
				l.rows[sec] = map[uint64]uint64{}
			}
			l.rows[sec][lo] = n
			continue
		}
		if m := latAvgRE.FindStringSubmatch(line); m != nil {
			l.avg, _ = strconv.ParseUint(m[1], 10, 64)
			l.total, _ = strconv.ParseUint(m[3], 10, 64)
			l.count, _ = strconv.ParseUint(m[5], 10, 64)
			l.hasAvg = true
			if m[2] != l.unit || m[4] != l.unit {
				t.Errorf("avg line unit %s/%s, histogram in %s", m[2], m[4], l.unit)
			}
			continue
		}
		t.Fatalf("unexpected line %q in:\n%s", line, out)
	}
	return l
}

// sum is the number of calls in section sec.
func (l *latencyOut) sum(sec string) uint64 {
	var n uint64
	for _, c := range l.rows[sec] {
		n += c
	}
	return n
}

// expectBucket checks that section sec has n calls, and that they are in
// the bucket starting at lo or, for at most slack of them, in a higher
// bucket (a loaded machine only makes a sleep longer, never shorter).
func (l *latencyOut) expectBucket(t *testing.T, sec string, lo, n, slack uint64) {
	t.Helper()
	var in, above uint64
	for b, c := range l.rows[sec] {
		switch {
		case b == lo:
			in += c
		case b > lo:
			above += c
		case c > 0:
			t.Errorf("%q: %d calls in the bucket from %d, below the expected %d", sec, c, b, lo)
		}
	}
	if in+above != n || above > slack {
		t.Errorf("%q: %d calls in the bucket from %d and %d above it, want %d (at most %d above)", sec, in, lo, above, n, slack)
	}
}

// checkAvg checks the avg line against the histogram: count is the calls
// in the histogram, total/count is avg, and avg lies within [lo, hi].
func (l *latencyOut) checkAvg(t *testing.T, count, lo, hi uint64) {
	t.Helper()
	if !l.hasAvg {
		t.Fatalf("no avg line:\n%s", l.text)
	}
	if l.count != count || l.total/l.count != l.avg || l.avg < lo || l.avg > hi {
		t.Errorf("avg = %d, total %d, count %d: want count %d and avg in [%d, %d]", l.avg, l.total, l.count, count, lo, hi)
	}
}

// runLatency runs funclatency on the latency fixture (n rounds) with args
// before the pattern, and returns its parsed output and stderr.
func runLatency(t *testing.T, bin string, n int, pattern string, args ...string) (*latencyOut, string) {
	t.Helper()
	w := startWorkload(t, bin, strconv.Itoa(n))
	all := append([]string{"funclatency", "-v", "-p", strconv.Itoa(w.pid)}, args...)
	tr := startBtool(t, append(all, pattern)...)
	w.run(t)
	// The -p process exited: btool ends the run by itself.
	out := tr.wait()
	t.Logf("stdout:\n%s\nstderr:\n%s", out, tr.err.String())
	return parseLatency(t, out), tr.err.String()
}

// latSlack is how many of n calls may land in a higher bucket than their
// sleep's: a loaded 2-CPU machine can delay a wake-up by a few ms now and
// then; under QEMU's software emulation (the test VMs) timers overshoot
// often, and only a majority is required.
func latSlack(n uint64) uint64 {
	if testutil.InVM() {
		return n / 2
	}
	return 2
}

// TestKernelFunclatencyUserSleep times a C function that sleeps 5.5 ms,
// n times: every call is in the 4096 -> 8191 usecs bucket, the avg line
// counts them, and its average is at least 5.5 ms.
func TestKernelFunclatencyUserSleep(t *testing.T) {
	requireRoot(t)
	bin := buildC(t, "latency.c")
	const n = 10
	l, stderr := runLatency(t, bin, n, bin+":lat_sleep_a", "-u")
	if l.bannerTargets != 1 || l.bannerPattern != bin+":lat_sleep_a" || l.unit != "usecs" {
		t.Errorf("banner or unit: %d %q %q", l.bannerTargets, l.bannerPattern, l.unit)
	}
	l.expectBucket(t, "", 4096, n, latSlack(n))
	l.checkAvg(t, n, 5500, 16383)
	if strings.Contains(stderr, "not timed") {
		t.Errorf("calls not timed:\n%s", stderr)
	}
}

// TestKernelFunclatencyPerFunction: -F on a wildcard gives each function
// its own section, each in its own bucket, and one avg line over both.
func TestKernelFunclatencyPerFunction(t *testing.T) {
	requireRoot(t)
	bin := buildC(t, "latency.c")
	const n = 8
	l, _ := runLatency(t, bin, n, bin+":lat_sleep_*", "-F", "-m")
	if l.bannerTargets != 2 || l.unit != "msecs" {
		t.Errorf("banner %d targets, unit %q", l.bannerTargets, l.unit)
	}
	if len(l.sections) != 2 || l.sections[0] != "lat_sleep_a" || l.sections[1] != "lat_sleep_b" {
		t.Errorf("sections %q, want lat_sleep_a and lat_sleep_b", l.sections)
	}
	l.expectBucket(t, "lat_sleep_a", 4, n, latSlack(n))  // 5.5 ms
	l.expectBucket(t, "lat_sleep_b", 16, n, latSlack(n)) // 22 ms
	// (5.5 + 22) / 2 ms, truncated to whole ms.
	l.checkAvg(t, 2*n, 13, 20)
}

// TestKernelFunclatencyRecursive times a recursive function whose three
// levels take 2.5, 5.5 and 11 ms: each level lands in its own bucket.
// With one start time per thread the inner call would overwrite the outer
// ones and only the innermost would be timed.
func TestKernelFunclatencyRecursive(t *testing.T) {
	requireRoot(t)
	bin := buildC(t, "latency.c")
	const n = 6
	l, stderr := runLatency(t, bin, n, bin+":lat_recurse", "-u")
	rows := l.rows[""]
	// A late timer only makes a call longer (the VMs' emulated timers
	// overshoot by tens of milliseconds under load): no call may land
	// below its level, and each level has most of its calls in its bucket.
	var total, below, outer uint64
	for b, c := range rows {
		total += c
		if b < 2048 {
			below += c
		}
		if b >= 8192 {
			outer += c
		}
	}
	if total != 3*n || below != 0 || rows[2048] < n-latSlack(n) || rows[2048]+rows[4096] < 2*n-latSlack(n) || outer < n {
		t.Errorf("levels not timed right: want %d calls each in 2048, 4096 and 8192 usecs, have %v", n, rows)
	}
	l.checkAvg(t, 3*n, (2500+5500+11000)/3, 16383)
	if strings.Contains(stderr, "not timed") {
		t.Errorf("calls not timed:\n%s", stderr)
	}
}

// TestKernelFunclatencySyscall times clock_nanosleep by its syscall name:
// on a kernel without kprobes (this host) between its sys_enter and
// sys_exit tracepoints. The fixture sleeps 5n times: 2n in 2048 -> 4095
// usecs, 2n in 4096 -> 8191 and n in 16384 -> 32767.
func TestKernelFunclatencySyscall(t *testing.T) {
	requireRoot(t)
	bin := buildC(t, "latency.c")
	const n = 6
	l, stderr := runLatency(t, bin, n, "sys_clock_nanosleep", "-u")
	rows := l.rows[""]
	if rows[2048]+rows[4096]+rows[8192]+rows[16384]+rows[32768] != 5*n ||
		rows[2048] < 2*n-latSlack(2*n) || rows[16384] < n-latSlack(n) {
		t.Errorf("want %d, %d and %d sleeps in 2048, 4096 and 16384 usecs, have %v", 2*n, 2*n, n, rows)
	}
	l.checkAvg(t, 5*n, (2*2500+2*5500+22000)/5, 16383)
	if !haveKprobes(t) && !strings.Contains(stderr, "between the syscalls:sys_enter_clock_nanosleep and syscalls:sys_exit_clock_nanosleep tracepoints") {
		t.Errorf("-v does not say the syscall is timed by its tracepoints:\n%s", stderr)
	}
}

// haveKprobes says whether btool sees kprobes on this kernel.
func haveKprobes(t *testing.T) bool {
	out, _, _ := runBtool(t, "features")
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "kprobe" {
			return f[1] == "yes"
		}
	}
	return false
}

// TestKernelFunclatencyGo times a Go function that sleeps 4.5 ms, called
// by 4 goroutines, through an entry uprobe and uprobes on its RET
// instructions (no uretprobes): the program survives with its output
// complete, every call is timed, most in the 4096 -> 8191 usecs bucket
// and none below it.
// time.Sleep parks the goroutine, which often resumes on another thread,
// so a start time keyed by thread would lose those calls.
func TestKernelFunclatencyGo(t *testing.T) {
	requireRoot(t)
	bin := testutil.Workload(t, "gosleep")
	const n, g = 10, 4
	// 4.5 ms: Go's timers and 4 goroutines on a small machine overshoot
	// by up to several ms, which must not cross 8192 us often.
	w := startWorkload(t, bin, "-n", strconv.Itoa(n), "-g", strconv.Itoa(g), "-d", "4.5ms", "-wait")
	tr := startBtool(t, "funclatency", "-v", "-u", "-p", strconv.Itoa(w.pid), bin+":main.sleepTarget")
	w.stdin.Write([]byte("go\n"))
	w.stdin.Close()
	rest, _ := readAll(w)
	if err := w.cmd.Wait(); err != nil {
		t.Fatalf("Go workload failed under funclatency: %v\n%s", err, rest)
	}
	if !strings.Contains(rest, "done "+strconv.Itoa(n*g)) {
		t.Errorf("Go workload output incomplete: %q", rest)
	}
	out := tr.wait()
	t.Logf("stdout:\n%s\nstderr:\n%s", out, tr.err.String())
	if !strings.Contains(tr.err.String(), "RET instructions") {
		t.Errorf("-v does not say returns are probed at RET instructions:\n%s", tr.err.String())
	}
	l := parseLatency(t, out)
	l.expectBucket(t, "", 4096, n*g, max(latSlack(n*g), n*g/4))
	l.checkAvg(t, n*g, 4500, 16383)
}

// readAll reads the rest of a workload's stdout.
func readAll(w *workload) (string, error) {
	var b strings.Builder
	_, err := w.out.WriteTo(&b)
	return b.String(), err
}

// TestKernelFunclatencyJSON: one object with the buckets, count and
// average.
func TestKernelFunclatencyJSON(t *testing.T) {
	requireRoot(t)
	bin := buildC(t, "latency.c")
	const n = 5
	w := startWorkload(t, bin, strconv.Itoa(n))
	tr := startBtool(t, "funclatency", "--json", "-u", "-F", "-p", strconv.Itoa(w.pid), bin+":lat_sleep_b")
	w.run(t)
	out := tr.wait()
	var v struct {
		Unit      string
		Count     uint64
		Avg       uint64
		Functions []struct {
			Func    string
			Count   uint64
			Buckets []struct{ Min, Max, Count uint64 }
		}
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 1 {
		t.Fatalf("want one JSON line, have:\n%s", out)
	}
	if err := json.Unmarshal([]byte(lines[0]), &v); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if v.Unit != "usecs" || v.Count != n || v.Avg < 22000 || len(v.Functions) != 1 || v.Functions[0].Func != "lat_sleep_b" ||
		v.Functions[0].Count != n || v.Functions[0].Buckets[0].Min != 16384 || v.Functions[0].Buckets[0].Count < n-latSlack(n) {
		t.Errorf("JSON: %+v\n%s", v, out)
	}
	if !strings.Contains(tr.err.String(), `Tracing 1 functions for "`) {
		t.Errorf("banner not on stderr with --json:\n%s", tr.err.String())
	}
}

// TestKernelFunclatencyVFSRead times vfs_read by fentry and by kprobe
// (kprobe_multi and fentry turned off) on the same workload: both see
// every read, and the distributions have the same shape: the same fastest
// bucket and the same median bucket, each within a factor of two. (The
// workload's reads are bimodal: each file read generates /proc/self/stat
// and then finds EOF.) It needs kprobes and fentry: the 6.12 VM.
func TestKernelFunclatencyVFSRead(t *testing.T) {
	requireRoot(t)
	const n = 200
	type shape struct{ count, lowest, median uint64 }
	shapes := map[string]shape{}
	for _, tc := range []kernelFuncMode{{"fentry", "kprobe_multi", "fentry"}, {"kprobe", "kprobe_multi,fentry", "kprobe"}} {
		t.Run(tc.mode, func(t *testing.T) {
			if !haveFeature(t, tc.feature) {
				return
			}
			w := startWorkload(t, testutil.Workload(t, "readfiles"), "-n", strconv.Itoa(n), "-wait")
			tr := startBtool(t, "funclatency", "-v", "-p", strconv.Itoa(w.pid), "--no-feature", tc.noFeature, "vfs_read")
			w.run(t)
			out := tr.wait()
			t.Logf("stdout:\n%s\nstderr:\n%s", out, tr.err.String())
			if !strings.Contains(tr.err.String(), "attached with "+tc.mode) {
				t.Fatalf("not attached with %s", tc.mode)
			}
			l := parseLatency(t, out)
			if l.count < n {
				t.Errorf("%d vfs_read calls timed, want at least %d", l.count, n)
			}
			var s shape
			var bounds []uint64
			for b, c := range l.rows[""] {
				if c > 0 {
					bounds = append(bounds, b)
				}
			}
			sort.Slice(bounds, func(i, j int) bool { return bounds[i] < bounds[j] })
			s.count, s.lowest = l.count, bounds[0]
			var cum uint64
			for _, b := range bounds {
				if cum += l.rows[""][b]; 2*cum >= l.count {
					s.median = b
					break
				}
			}
			shapes[tc.mode] = s
		})
	}
	if len(shapes) == 2 {
		f, k := shapes["fentry"], shapes["kprobe"]
		if f.count != k.count {
			t.Errorf("fentry timed %d reads, kprobe %d", f.count, k.count)
		}
		// Within two buckets: in the software-emulated VMs a kretprobe's
		// trampoline adds to every call it times (on 5.10 the kprobe
		// shape sat one to two buckets above fentry's).
		near := func(a, b uint64) bool { return a <= 4*b+1 && b <= 4*a+1 }
		if !near(f.lowest, k.lowest) || !near(f.median, k.median) {
			t.Errorf("shapes differ: fentry %+v, kprobe %+v (buckets by their low bound, ns)", f, k)
		}
	}
}

// TestKernelFunclatencyUsage: -u with -m, and bcc's three-part patterns,
// are usage errors (exit 2).
func TestKernelFunclatencyUsage(t *testing.T) {
	for _, args := range [][]string{
		{"funclatency", "-u", "-m", "vfs_read"},
		{"funclatency", "p:c:malloc"},
		{"funclatency", "-l", "0", "vfs_read"},
	} {
		_, stderr, code := runBtool(t, args...)
		if code != 2 {
			t.Errorf("%q: exit %d, want 2:\n%s", args, code, stderr)
		}
	}
	_, stderr, _ := runBtool(t, "funclatency", "-u", "-m", "vfs_read")
	if !strings.Contains(stderr, "only set one of -m or -u") {
		t.Errorf("-u -m: %s", stderr)
	}
}

// TestKernelFunclatencyPair times lat_begin to lat_end, two probes matched
// by thread: n pairs 5.5 ms apart, all in 4096 -> 8191 usecs.
func TestKernelFunclatencyPair(t *testing.T) {
	requireRoot(t)
	bin := buildC(t, "latency.c")
	const n = 10
	w := startWorkload(t, bin, strconv.Itoa(n), "pairs")
	tr := startBtool(t, "funclatency", "-v", "-u", "-p", strconv.Itoa(w.pid),
		"--from", "p:"+bin+":lat_begin()", "--to", "p:"+bin+":lat_end()")
	w.run(t)
	out := tr.wait()
	t.Logf("stdout:\n%s\nstderr:\n%s", out, tr.err.String())
	if !strings.HasPrefix(out, `Tracing latency from "p:`+bin+`:lat_begin()" to "p:`+bin+`:lat_end()"... Hit Ctrl-C to end.`) {
		t.Errorf("banner:\n%s", out)
	}
	out = strings.Replace(out, "Tracing latency from", "Tracing 1 functions for", 1)
	l := parseLatency(t, strings.Replace(out, `" to "`, ` `, 1))
	l.expectBucket(t, "", 4096, n, latSlack(n))
	l.checkAvg(t, n, 5500, 16383)
}

// TestKernelFunclatencyPairEvictions times lat_begin(id) to lat_end(id)
// keyed by id, after 64 starts that never end, with room for 16 pending
// starts: the n real pairs are timed, in 4096 -> 8191 usecs, and at least
// 64 - 16 evictions are reported.
func TestKernelFunclatencyPairEvictions(t *testing.T) {
	requireRoot(t)
	bin := buildC(t, "latency.c")
	const n, leaked, room = 10, 64, 16
	w := startWorkload(t, bin, strconv.Itoa(n), "pairs", strconv.Itoa(leaked))
	tr := startBtool(t, "funclatency", "-v", "-u", "-p", strconv.Itoa(w.pid), "--max-pending", strconv.Itoa(room),
		"--from", "p:"+bin+":lat_begin(long id):u64:id", "--to", "p:"+bin+":lat_end(long id):u64:id")
	w.run(t)
	out := tr.wait()
	t.Logf("stdout:\n%s\nstderr:\n%s", out, tr.err.String())
	out = strings.Replace(out, "Tracing latency from", "Tracing 1 functions for", 1)
	l := parseLatency(t, strings.Replace(out, `" to "`, ` `, 1))
	l.expectBucket(t, "", 4096, n, latSlack(n))
	m := regexp.MustCompile(`(\d+) starts evicted`).FindStringSubmatch(tr.err.String())
	if m == nil {
		t.Fatalf("no evictions reported:\n%s", tr.err.String())
	}
	if ev, _ := strconv.Atoi(m[1]); ev < leaked-room || ev > leaked {
		t.Errorf("%d evictions reported, want %d to %d", ev, leaked-room, leaked)
	}
}

// TestKernelFunclatencyPairFilters: a filter on --from times only the
// starts it passes (the even ids: half the pairs), the other ends are
// reported as not timed, and $latency in a --to filter drops the fast
// ones (none of 5.5 ms passes > 1 s).
func TestKernelFunclatencyPairFilters(t *testing.T) {
	requireRoot(t)
	bin := buildC(t, "latency.c")
	const n = 10
	for _, tc := range []struct {
		from, to    string
		timed       uint64
		notTimedMsg string
	}{
		{"id % 2 == 0", "", n / 2, "5 ends not timed"},
		{"", "$latency > 1000000000", 0, ""},
	} {
		t.Run(tc.from+tc.to, func(t *testing.T) {
			from, to := "p:"+bin+":lat_begin(long id):u64:id", "p:"+bin+":lat_end(long id):u64:id"
			if tc.from != "" {
				from += ":" + tc.from
			}
			if tc.to != "" {
				to += ":" + tc.to
			}
			w := startWorkload(t, bin, strconv.Itoa(n), "pairs")
			tr := startBtool(t, "funclatency", "-u", "-p", strconv.Itoa(w.pid), "--from", from, "--to", to)
			w.run(t)
			out := tr.wait()
			t.Logf("stdout:\n%s\nstderr:\n%s", out, tr.err.String())
			out = strings.Replace(out, "Tracing latency from", "Tracing 1 functions for", 1)
			l := parseLatency(t, strings.Replace(out, `" to "`, ` `, 1))
			if l.sum("") != tc.timed || (tc.timed > 0 && l.count != tc.timed) || (tc.timed == 0 && l.hasAvg) {
				t.Errorf("%d latencies timed (avg line count %d), want %d", l.sum(""), l.count, tc.timed)
			}
			if tc.notTimedMsg != "" && !strings.Contains(tr.err.String(), tc.notTimedMsg) {
				t.Errorf("stderr lacks %q", tc.notTimedMsg)
			}
		})
	}
}
