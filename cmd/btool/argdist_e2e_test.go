package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/btool/btool/internal/testutil"
)

// argdistTable parses the last -C table titled title in argdist's text
// output: the EVENT text of each row to its count.
func argdistTable(t *testing.T, out, title string) map[string]uint64 {
	t.Helper()
	i := strings.LastIndex(out, title+"\n\tCOUNT ")
	if i < 0 {
		t.Fatalf("no table %q in output:\n%s", title, out)
	}
	lines := strings.Split(out[i:], "\n")[2:]
	m := map[string]uint64{}
	for _, l := range lines {
		if !strings.HasPrefix(l, "\t") {
			break
		}
		f := strings.Fields(l)
		n, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil {
			t.Fatalf("bad row %q", l)
		}
		ev := l[strings.Index(l, f[0])+len(f[0]):]
		m[strings.TrimSpace(ev)] = n
	}
	return m
}

var histRowRE = regexp.MustCompile(`^\s*(-?\d+|-inf) -> (\d+|inf)\s+: (\d+)\s+\|`)

// argdistHist parses the histogram rows of text: "lo -> hi" to count.
func argdistHist(text string) map[string]uint64 {
	m := map[string]uint64{}
	for _, l := range strings.Split(text, "\n") {
		if mm := histRowRE.FindStringSubmatch(l); mm != nil {
			n, _ := strconv.ParseUint(mm[3], 10, 64)
			m[mm[1]+" -> "+mm[2]] = n
		}
	}
	return m
}

// checkHist compares a histogram with want; buckets not in want must be 0.
func checkHist(t *testing.T, got, want map[string]uint64, out string) {
	t.Helper()
	for k, v := range want {
		if got[k] != v {
			t.Errorf("bucket %s = %d, want %d", k, got[k], v)
		}
	}
	for k, v := range got {
		if _, ok := want[k]; !ok && v != 0 {
			t.Errorf("bucket %s = %d, want 0", k, v)
		}
	}
	if t.Failed() {
		t.Logf("output:\n%s", out)
	}
}

// TestKernelArgdistCountReadSize: -C on sys_enter_read's count, -p on a
// workload doing exactly 77 reads of 12345 bytes (and 5 of 0), counts 77
// and 5: bcc's table layout, the title line being the spec.
func TestKernelArgdistCountReadSize(t *testing.T) {
	requireRoot(t)
	w := startWorkload(t, testutil.Workload(t, "readsizes"), "-reads", "77x12345,5x0", "-wait")
	spec := "t:syscalls:sys_enter_read():u64:args->count"
	tr := startBtool(t, "argdist", "-i", "3600", "-p", strconv.Itoa(w.pid), "-C", spec)
	w.run(t)
	out := tr.stop(syscall.SIGINT)
	if !regexp.MustCompile(`^\[\d\d:\d\d:\d\d\]\n`).MatchString(out) {
		t.Errorf("no [HH:MM:SS] line first:\n%s", out)
	}
	got := argdistTable(t, out, spec)
	want := map[string]uint64{"args->count = 12345": 77, "args->count = 0": 5}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %d, want %d", k, got[k], v)
		}
	}
	if len(got) != len(want) {
		t.Errorf("rows %v, want %v", got, want)
	}
	if !strings.Contains(out, "\t5          args->count = 0\n\t77         args->count = 12345\n") {
		t.Errorf("rows not in bcc's layout, ascending:\n%s", out)
	}
}

// TestKernelArgdistRetvalHist: -H of a read's return value (the
// sys_exit_read tracepoint's ret, without a declared type) puts reads of
// known sizes in their log2 buckets, 0 in bcc's "0 -> 1" row.
func TestKernelArgdistRetvalHist(t *testing.T) {
	requireRoot(t)
	w := startWorkload(t, testutil.Workload(t, "readsizes"), "-reads", "77x12345,33x100,5x0,4x1", "-wait")
	tr := startBtool(t, "argdist", "-i", "3600", "-p", strconv.Itoa(w.pid), "-H", "t:syscalls:sys_exit_read()::args->ret#bytes")
	w.run(t)
	out := tr.stop(syscall.SIGINT)
	if !strings.Contains(out, "     bytes               : count     distribution\n") {
		t.Errorf("no header with the label:\n%s", out)
	}
	// The workload's wait for "go\n" on stdin returns 3 after attach.
	want := map[string]uint64{"0 -> 1": 9, "2 -> 3": 1, "64 -> 127": 33, "8192 -> 16383": 77}
	for _, r := range []string{"4 -> 7", "8 -> 15", "16 -> 31", "32 -> 63", "128 -> 255", "256 -> 511", "512 -> 1023", "1024 -> 2047", "2048 -> 4095", "4096 -> 8191"} {
		want[r] = 0 // every row up to the top is printed
	}
	got := argdistHist(out)
	checkHist(t, got, want, out)
	if len(got) != len(want) {
		t.Errorf("%d rows, want %d:\n%s", len(got), len(want), out)
	}
}

// TestKernelArgdistFilenameKey counts openat by a string key, the file
// name, for a workload opening two files 3 and 5 times.
func TestKernelArgdistFilenameKey(t *testing.T) {
	requireRoot(t)
	dir := t.TempDir()
	a, b := filepath.Join(dir, "alpha.txt"), filepath.Join(dir, "beta.txt")
	os.WriteFile(a, nil, 0o644)
	os.WriteFile(b, nil, 0o644)
	w := startWorkload(t, testutil.Workload(t, "readsizes"), "-opens", a+":3,"+b+":5", "-wait")
	spec := "t:syscalls:sys_enter_openat():char*:args->filename#opens"
	tr := startBtool(t, "argdist", "-i", "3600", "-p", strconv.Itoa(w.pid), "-C", spec, "-C", "t:syscalls:sys_enter_openat()#calls")
	w.run(t)
	out := tr.stop(syscall.SIGINT)
	got := argdistTable(t, out, "opens")
	want := map[string]uint64{"args->filename = " + a: 3, "args->filename = " + b: 5}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %d, want %d\n%s", k, got[k], v, out)
		}
	}
	if c := argdistTable(t, out, "calls")["total calls"]; c != 8 {
		t.Errorf("total calls = %d, want 8:\n%s", c, out)
	}
}

// argdistJSONOut is argdist's --json output, as tests read it.
type argdistJSONOut struct {
	Time   string `json:"time"`
	Probes []struct {
		Type  string `json:"type"`
		Spec  string `json:"spec"`
		Value string `json:"value"`
		Rows  []struct {
			Key     map[string]any `json:"key"`
			Count   uint64         `json:"count"`
			Buckets []struct {
				Min, Max, Count uint64
			} `json:"buckets"`
			Sum, Avg, Min, Max int64
		} `json:"rows"`
	} `json:"probes"`
}

// TestKernelArgdistPerKeyTwoProcesses: a per-key histogram (-H with a
// key), a linear histogram (-L) and per-key statistics (-S) are exact
// against two processes reading known sizes, keyed by $PID; --json.
func TestKernelArgdistPerKeyTwoProcesses(t *testing.T) {
	requireRoot(t)
	w1 := startWorkload(t, testutil.Workload(t, "readsizes"), "-reads", "10x1000,3x5000", "-wait")
	w2 := startWorkload(t, testutil.Workload(t, "readsizes"), "-reads", "20x300", "-wait")
	filter := "$PID == " + strconv.Itoa(w1.pid) + " || $PID == " + strconv.Itoa(w2.pid)
	tr := startBtool(t, "argdist", "--json", "-i", "3600",
		"-H", "t:syscalls:sys_enter_read()::args->count,$PID:"+filter,
		"-S", "t:syscalls:sys_enter_read():u64,u32:args->count,$PID:"+filter,
		"-L", "0,6000,1000:t:syscalls:sys_enter_read()::args->count:"+filter)
	w1.run(t)
	w2.run(t)
	out := tr.stop(syscall.SIGINT)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var got argdistJSONOut
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &got); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	if len(got.Probes) != 3 || got.Probes[0].Type != "hist" || got.Probes[1].Type != "linear" || got.Probes[2].Type != "stats" || got.Probes[0].Value != "args->count" {
		t.Fatalf("probes:\n%s", out)
	}
	pidOf := func(key map[string]any) int {
		f, _ := key["$PID"].(float64)
		return int(f)
	}
	hists := map[int]map[uint64]uint64{} // pid: bucket min: count
	for _, r := range got.Probes[0].Rows {
		m := map[uint64]uint64{}
		for _, b := range r.Buckets {
			m[b.Min] = b.Count
		}
		hists[pidOf(r.Key)] = m
	}
	wantHist := map[int]map[uint64]uint64{w1.pid: {512: 10, 4096: 3}, w2.pid: {256: 20}}
	for pid, want := range wantHist {
		for b, n := range want {
			if hists[pid][b] != n {
				t.Errorf("pid %d bucket %d: %d, want %d", pid, b, hists[pid][b], n)
			}
		}
		if len(hists[pid]) != len(want) {
			t.Errorf("pid %d buckets %v, want %v", pid, hists[pid], want)
		}
	}
	type stat struct{ count, sum, avg, min, max int64 }
	stats := map[int]stat{}
	for _, r := range got.Probes[2].Rows {
		stats[pidOf(r.Key)] = stat{int64(r.Count), r.Sum, r.Avg, r.Min, r.Max}
	}
	wantStats := map[int]stat{w1.pid: {13, 25000, 1923, 1000, 5000}, w2.pid: {20, 6000, 300, 300, 300}}
	for pid, want := range wantStats {
		if stats[pid] != want {
			t.Errorf("pid %d: %+v, want %+v", pid, stats[pid], want)
		}
	}
	// -L: both processes in one linear histogram.
	lin := map[uint64]uint64{}
	for _, r := range got.Probes[1].Rows {
		for _, b := range r.Buckets {
			lin[b.Min] = b.Count
		}
	}
	if want := map[uint64]uint64{0: 20, 1000: 10, 5000: 3}; len(lin) != 3 || lin[0] != 20 || lin[1000] != 10 || lin[5000] != 3 {
		t.Errorf("linear buckets %v, want %v", lin, want)
	}
	if t.Failed() {
		t.Logf("output:\n%s", out)
	}
}

// TestKernelArgdistUprobeEntryLatency: $entry(param) and $latency on a
// uretprobe of a C fixture: work_alpha(x) returns x + 1 for x in 0..N-1,
// work_beta is called 2N times.
func TestKernelArgdistUprobeEntryLatency(t *testing.T) {
	requireRoot(t)
	bin := buildC(t, "calls.c")
	const n = 50
	w := startWorkload(t, bin, strconv.Itoa(n))
	diff := "r:" + bin + ":work_alpha(int x):int:$retval - $entry(x)"
	entries := "r:" + bin + ":work_alpha()::$entry(x):$entry(x) < 3#entries"
	tr := startBtool(t, "argdist", "-i", "3600", "-p", strconv.Itoa(w.pid), "-C", diff, "-C", entries,
		"-H", "r:"+bin+":work_beta():u64:$latency")
	w.run(t)
	out := tr.stop(syscall.SIGINT)
	if got := argdistTable(t, out, diff); len(got) != 1 || got["$retval - $entry(x) = 1"] != n {
		t.Errorf("retval - entry: %v, want %d of 1:\n%s", got, n, out)
	}
	want := map[string]uint64{"$entry(x) = 0": 1, "$entry(x) = 1": 1, "$entry(x) = 2": 1}
	if got := argdistTable(t, out, "entries"); len(got) != 3 || got["$entry(x) = 0"] != 1 || got["$entry(x) = 1"] != 1 || got["$entry(x) = 2"] != 1 {
		t.Errorf("entries: %v, want %v:\n%s", got, want, out)
	}
	total := uint64(0)
	for _, v := range argdistHist(out) {
		total += v
	}
	if total != 2*n {
		t.Errorf("$latency histogram holds %d calls, want %d:\n%s", total, 2*n, out)
	}
	if !strings.Contains(out, "     $latency            : count     distribution\n") {
		t.Errorf("no $latency header:\n%s", out)
	}
	if strings.Contains(tr.err.String(), "returns skipped") {
		t.Errorf("stash misses reported: %s", tr.err.String())
	}
}

// TestKernelArgdistKernelEntryLatency: $entry(count) and $latency on
// vfs_read's return, with kprobes or fentry (the VM; the host has
// neither): 77 reads of 12345 bytes count as 77.
func TestKernelArgdistKernelEntryLatency(t *testing.T) {
	requireRoot(t)
	for _, tc := range kernelFuncModes {
		t.Run(tc.mode, func(t *testing.T) {
			if !haveFeature(t, tc.feature) {
				return
			}
			w := startWorkload(t, testutil.Workload(t, "readsizes"), "-reads", "77x12345", "-wait")
			spec := "r::vfs_read(struct file *file, char *buf, size_t count):size_t:$entry(count)"
			args := []string{"argdist", "-v", "-i", "3600", "-p", strconv.Itoa(w.pid), "-C", spec, "-H", "r::vfs_read():u64:$latency"}
			if tc.noFeature != "" {
				args = append(args, "--no-feature", tc.noFeature)
			}
			tr := startBtool(t, args...)
			w.run(t)
			out := tr.stop(syscall.SIGINT)
			if !strings.Contains(tr.err.String(), "attached with "+tc.mode) {
				t.Fatalf("not attached with %s:\n%s", tc.mode, tr.err.String())
			}
			// The handshake's read of "go\n" from stdin returns after
			// attach; its entry came before.
			if got := argdistTable(t, out, spec)["$entry(count) = 12345"]; got != 77 {
				t.Errorf("$entry(count) = 12345: %d, want 77:\n%s", got, out)
			}
			total := uint64(0)
			for _, v := range argdistHist(out) {
				total += v
			}
			if total < 77 || total > 78 {
				t.Errorf("$latency histogram holds %d reads, want 77 (or 78 with the stdin read):\n%s", total, out)
			}
		})
	}
}

// TestKernelArgdistIntervals: -n ends the run after that many intervals,
// each headed by [HH:MM:SS]; with -c the counts only grow.
func TestKernelArgdistIntervals(t *testing.T) {
	requireRoot(t)
	w := startWorkload(t, testutil.Workload(t, "getpid"), "-n", "100000000", "-wait")
	spec := "t:syscalls:sys_enter_getpid()#getpid"
	tr := startBtool(t, "argdist", "-i", "0.2", "-n", "3", "-c", "-p", strconv.Itoa(w.pid), "-C", spec)
	w.stdin.Write([]byte("go\n"))
	out := tr.wait()
	stamps := regexp.MustCompile(`(?m)^\[\d\d:\d\d:\d\d\]$`).FindAllString(out, -1)
	if len(stamps) != 3 {
		t.Fatalf("%d intervals, want 3:\n%s", len(stamps), out)
	}
	var prev uint64
	for _, block := range strings.Split(out, "getpid\n")[1:] {
		n := argdistTable(t, "getpid\n"+block, "getpid")["total calls"]
		if n < prev {
			t.Errorf("cumulative count went down: %d after %d:\n%s", n, prev, out)
		}
		prev = n
	}
	if prev == 0 {
		t.Errorf("no calls counted:\n%s", out)
	}
}

// TestKernelArgdistSyscallEntryLatency: $entry(count) and $latency on a
// syscall name's return: through sys_enter_read and sys_exit_read where
// the kernel has no kprobes or fentry (this host), through the syscall
// wrapper elsewhere. The stdin read the workload waits in began before
// attach: through the tracepoints its return is skipped and reported, not
// counted (a kretprobe or fexit never sees that return at all).
func TestKernelArgdistSyscallEntryLatency(t *testing.T) {
	requireRoot(t)
	w := startWorkload(t, testutil.Workload(t, "readsizes"), "-reads", "77x12345,3x10", "-wait")
	spec := "r::sys_read():u64,s64:$entry(count),$retval"
	tr := startBtool(t, "argdist", "-i", "3600", "-p", strconv.Itoa(w.pid), "-C", spec, "-H", "r::sys_read():u64:$latency")
	w.run(t)
	out := tr.stop(syscall.SIGINT)
	got := argdistTable(t, out, spec)
	if got["$entry(count) = 12345, $retval = 12345"] != 77 || got["$entry(count) = 10, $retval = 10"] != 3 || len(got) != 2 {
		t.Errorf("rows %v, want 77 of 12345 and 3 of 10:\n%s", got, out)
	}
	total := uint64(0)
	for _, v := range argdistHist(out) {
		total += v
	}
	if total != 80 {
		t.Errorf("$latency histogram holds %d reads, want 80:\n%s", total, out)
	}
	if e := tr.err.String(); strings.Contains(e, "returns skipped") && !strings.Contains(e, "1 returns skipped") {
		t.Errorf("skipped returns: %q, want the stdin read's only", e)
	}
}

// TestKernelArgdistUSDT: -S on a USDT probe behind a semaphore (raised by
// the kernel, no -p needed): demo:guarded(i, n) fires for i in 0..n-1.
func TestKernelArgdistUSDT(t *testing.T) {
	requireRoot(t)
	bin := buildC(t, "usdt.c")
	const n = 20
	w := startWorkload(t, bin, strconv.Itoa(n))
	spec := "u:" + bin + ":demo:guarded()::arg1,arg2#guarded"
	tr := startBtool(t, "argdist", "-i", "3600", "-S", spec)
	w.run(t)
	out := tr.stop(syscall.SIGINT)
	want := "\t20         190            9            0            19           arg2 = 20\n"
	if !strings.Contains(out, "guarded\n\tCOUNT      SUM            AVG          MIN          MAX          EVENT\n"+want) {
		t.Errorf("want the row %q:\n%s", want, out)
	}
}

// TestKernelArgdistSoftwareEvents: perf software events counted by
// process: a workload writing to 3000 fresh pages takes at least 3000
// page faults (its Go runtime adds a few more), and one sleeping 200
// times switches out at least 200 times; both keyed by $PID.
func TestKernelArgdistSoftwareEvents(t *testing.T) {
	requireRoot(t)
	if !haveFeature(t, "perf_event") {
		return
	}
	wf := startWorkload(t, testutil.Workload(t, "swevents"), "-pages", "3000", "-wait")
	ws := startWorkload(t, testutil.Workload(t, "swevents"), "-sleeps", "200", "-wait")
	tr := startBtool(t, "argdist", "--json", "-i", "3600",
		"-C", "s:software:page-faults():u32:$PID:$PID == "+strconv.Itoa(wf.pid),
		"-C", "s::cs()::$PID:$PID == "+strconv.Itoa(ws.pid))
	wf.run(t)
	ws.run(t)
	out := tr.stop(syscall.SIGINT)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var got argdistJSONOut
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &got); err != nil || len(got.Probes) != 2 {
		t.Fatalf("%v:\n%s", err, out)
	}
	count := func(p int) (uint64, int) {
		if len(got.Probes[p].Rows) != 1 {
			return 0, 0
		}
		r := got.Probes[p].Rows[0]
		f, _ := r.Key["$PID"].(float64)
		return r.Count, int(f)
	}
	if n, pid := count(0); pid != wf.pid || n < 3000 || n > 3000+2000 {
		t.Errorf("page faults of %d: %d (key %d), want 3000 and a little more:\n%s", wf.pid, n, pid, out)
	}
	if n, pid := count(1); pid != ws.pid || n < 200 || n > 200+2000 {
		t.Errorf("context switches of %d: %d (key %d), want 200 and a little more:\n%s", ws.pid, n, pid, out)
	}
}

// TestKernelArgdistRecursion: $entry(x) and $latency of a recursive
// function are right for every level (a per-thread stack of entries, not
// bcc's one slot that inner calls overwrite): recurse(d) returns
// d(d+1)/2 and takes d sleeps of 1 ms.
func TestKernelArgdistRecursion(t *testing.T) {
	requireRoot(t)
	bin := buildC(t, "stash.c")
	const runs, levels = 3, 5
	w := startWorkload(t, bin, "recurse", strconv.Itoa(runs), strconv.Itoa(levels), "1000")
	spec := "r:" + bin + ":recurse():long,long:$entry(d),$retval"
	tr := startBtool(t, "argdist", "--json", "-i", "3600", "-p", strconv.Itoa(w.pid), "-C", spec,
		"-S", "r:"+bin+":recurse():u64,long:$latency,$entry(d)")
	w.run(t)
	out := tr.stop(syscall.SIGINT)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var got argdistJSONOut
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &got); err != nil || len(got.Probes) != 2 {
		t.Fatalf("%v:\n%s", err, out)
	}
	counts := map[[2]int64]uint64{}
	for _, r := range got.Probes[0].Rows {
		d, _ := r.Key["$entry(d)"].(float64)
		rv, _ := r.Key["$retval"].(float64)
		counts[[2]int64{int64(d), int64(rv)}] = r.Count
	}
	for d := int64(1); d <= levels; d++ {
		if n := counts[[2]int64{d, d * (d + 1) / 2}]; n != runs {
			t.Errorf("d = %d: %d returns of %d, want %d", d, n, d*(d+1)/2, runs)
		}
	}
	if len(counts) != levels {
		t.Errorf("rows %v, want %d", counts, levels)
	}
	for _, r := range got.Probes[1].Rows {
		d, _ := r.Key["$entry(d)"].(float64)
		// d sleeps of at least 1 ms each.
		if r.Count != runs || r.Min < int64(d)*1e6 || r.Max > int64(d)*1e6+500e6 {
			t.Errorf("d = %v: %d calls, latency %d..%d ns, want %d calls of at least %v ms", d, r.Count, r.Min, r.Max, runs, d)
		}
	}
	if len(got.Probes[1].Rows) != levels || t.Failed() {
		t.Errorf("output:\n%s\nstderr:\n%s", out, tr.err.String())
	}
}

// TestKernelArgdistDryRun: -D prints each probe's programs (the entry
// probe of $latency too) and exits without attaching; -v prints them on
// stderr and runs.
func TestKernelArgdistDryRun(t *testing.T) {
	requireRoot(t)
	out, errs, code := runBtool(t, "argdist", "-D", "-C", "t:syscalls:sys_enter_read():u64:args->count", "-H", "r::sys_read():u64:$latency")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, want := range []string{"; -C probe 0 (t:syscalls:sys_enter_read():u64:args->count)\n", "; -H probe 1 (r::sys_read():u64:$latency)\n",
		"; -H probe 1 entry (r::sys_read():u64:$latency)\n", "; key: args->count", "; log2 slot", "; load the values stashed at entry"} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in -D output:\n%s", want, out)
		}
	}
	tr := startBtool(t, "argdist", "-v", "-n", "1", "-i", "0.1", "-C", "t:syscalls:sys_enter_getpid()")
	out = tr.wait()
	if !strings.Contains(tr.err.String(), "; -C probe 0 (t:syscalls:sys_enter_getpid())\n") || !strings.HasPrefix(out, "[") {
		t.Errorf("-v: stdout %q, stderr:\n%s", out, tr.err.String())
	}
}
