package compile

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"golang.org/x/arch/x86/x86asm"

	"github.com/btool/btool/bpf/feature"
	"github.com/btool/btool/internal/cfixtures"
	"github.com/btool/btool/internal/testutil"
)

// stashFixture is a run of testdata/c/stash.c: started, its pid read,
// waiting for a line on stdin to begin.
type stashFixture struct {
	bin   string
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Reader
	pid   int
}

// startStashFixture starts the fixture with args: built now with the
// host's compiler, or inside the VM the static build in
// $BTOOL_WORKLOADS. It skips when neither is available.
func startStashFixture(t *testing.T, args ...string) *stashFixture {
	t.Helper()
	fx := cfixtures.Fixture{Src: "stash.c"}
	var bin string
	if dir := os.Getenv("BTOOL_WORKLOADS"); dir != "" {
		bin = filepath.Join(dir, "c-"+fx.Name())
		if _, err := os.Stat(bin); err != nil {
			t.Skipf("fixture %s was not prebuilt for the VM (no static toolchain on the host?)", fx.Name())
		}
	} else {
		p, err := cfixtures.Build(testutil.RepoRoot(), t.TempDir(), "", fx, false)
		if errors.Is(err, exec.ErrNotFound) {
			t.Skipf("no compiler: %v", err)
		}
		if err != nil {
			t.Fatal(err)
		}
		bin = p
	}
	f := &stashFixture{bin: bin, cmd: exec.Command(bin, args...)}
	var err error
	if f.stdin, err = f.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := f.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := f.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.cmd.Process.Kill(); f.cmd.Wait() })
	f.out = bufio.NewReader(stdout)
	line, err := f.out.ReadString('\n')
	if err != nil {
		t.Fatalf("fixture pid: %v", err)
	}
	if f.pid, err = strconv.Atoi(strings.TrimSpace(line)); err != nil {
		t.Fatalf("fixture pid %q: %v", line, err)
	}
	return f
}

// run lets the fixture go, waits for it to finish and returns how long
// that took.
func (f *stashFixture) run(t *testing.T) time.Duration {
	t.Helper()
	start := time.Now()
	if _, err := io.WriteString(f.stdin, "go\n"); err != nil {
		t.Fatal(err)
	}
	line, err := f.out.ReadString('\n')
	elapsed := time.Since(start)
	if err != nil || !strings.HasPrefix(line, "done") {
		t.Fatalf("fixture: %q, %v", line, err)
	}
	if err := f.cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	return elapsed
}

// uprobeAttach attaches prog to sym in ex, in process pid only; with no
// sym, off is the file offset.
func uprobeAttach(t *testing.T, ex *link.Executable, sym string, off uint64, pid int, ret bool, prog *ebpf.Program) {
	t.Helper()
	opts := &link.UprobeOptions{PID: pid, Offset: off}
	if sym == "" {
		opts = &link.UprobeOptions{PID: pid, Address: off}
	}
	attach := ex.Uprobe
	if ret {
		attach = ex.Uretprobe
	}
	lk, err := attach(sym, prog, opts)
	if err != nil {
		t.Fatalf("attach %s+%d (return %v): %v", sym, off, ret, err)
	}
	t.Cleanup(func() { lk.Close() })
}

func requireUprobes(t *testing.T) {
	t.Helper()
	testutil.RequireRoot(t)
	f, err := feature.NewFeatures()
	if err != nil {
		t.Fatal(err)
	}
	testutil.RequireFeature(t, string(feature.FeatUprobe), f.Have(feature.FeatUprobe))
}

// uprobeLatency is a uprobe program context whose arguments are a C
// function's first two long parameters.
func uprobeLatency(names ...string) *ProbeContext {
	var params []ParamType
	for _, n := range names {
		params = append(params, ParamType{n, tyLong})
	}
	return &ProbeContext{Mode: ModeUprobe, Regs: true, UserMemory: true, Args: RegArgs(params, true)}
}

// TestKernelStashRecursiveUprobe times a recursive C function with a
// uprobe and a uretprobe: recurse(d) calls recurse(d-1) and then sleeps,
// six levels deep, five runs. With a depth-4 stash the four outer levels
// are timed: every call counted under its own level, each level taking
// at least a sleep more than the one it contains, the two deepest
// levels counted as too deep, nothing missing, one thread entry created
// and deleted per run. With depth 0 (one slot per thread, as bcc), each
// inner call overwrites its caller's entry: only the innermost level is
// timed and every outer return is missing.
func TestKernelStashRecursiveUprobe(t *testing.T) {
	requireUprobes(t)
	const runs, levels, usec = 5, 6, 2000
	sleep := time.Duration(usec) * time.Microsecond
	for _, depth := range []int{4, 0} {
		t.Run(fmt.Sprintf("depth=%d", depth), func(t *testing.T) {
			w := startStashFixture(t, "recurse", strconv.Itoa(runs), strconv.Itoa(levels), strconv.Itoa(usec))
			pc := uprobeLatency("d", "usec")
			st := &Stash{Timestamp: true, Fields: sinkValues(t, pc, ValueOptions{}, "d"), Depth: depth}
			s := &AggSink{Agg: AggSum, Value: st.Latency(), Key: []KeyPart{{Kind: KeyValue, Value: st.Entry(0)}}}
			filters := Filters{PID: uint32(w.pid), UID: -1, CPU: -1}
			m := sinkMaps{}
			entry, err := m.load(t, &Build{Mode: ModeUprobe, Filters: filters, Sink: &EntrySink{Stash: st}}, ebpf.Kprobe, ebpf.AttachNone, "")
			if err != nil {
				t.Fatalf("entry: %+v", err)
			}
			ret, err := m.load(t, &Build{Mode: ModeUprobe, Return: true, Filters: filters, Stash: st, Sink: s}, ebpf.Kprobe, ebpf.AttachNone, "")
			if err != nil {
				t.Fatalf("return: %+v", err)
			}
			ex, err := link.OpenExecutable(w.bin)
			if err != nil {
				t.Fatal(err)
			}
			uprobeAttach(t, ex, "recurse", 0, w.pid, true, ret) // the return first (see Stash)
			uprobeAttach(t, ex, "recurse", 0, w.pid, false, entry)
			elapsed := w.run(t)
			got := readAgg(t, m[s.name()], s)
			c := readDrops(t, m[st.DropsMap()], StashDrops)
			live := stashLive(t, m[st.name()])
			if depth == 0 {
				e := got["1"]
				if len(got) != 1 || e.count != runs || c[StashDropMissing] != runs*(levels-1) || c[StashStored] != runs*levels || c[StashMatched] != runs {
					t.Fatalf("levels %v, counters %v; want only level 1, %d times, and %d missing", got, c, runs, runs*(levels-1))
				}
				return
			}
			var prev uint64
			for d := levels - depth + 1; d <= levels; d++ {
				e, ok := got[fmt.Sprint(d)]
				if !ok || e.count != runs {
					t.Fatalf("level %d: %+v; want %d calls (levels %v)", d, e, runs, sortedKeys(got))
				}
				// A call at d sleeps d times; it contains the call at
				// d-1 and one more sleep.
				if time.Duration(e.val) < runs*time.Duration(d)*sleep || (prev != 0 && time.Duration(e.val-prev) < runs*sleep) || time.Duration(e.val) > runs*elapsed {
					t.Errorf("level %d: %v in %d calls; want at least %v and %v more than level %d, at most %v", d, time.Duration(e.val), runs, runs*time.Duration(d)*sleep, runs*sleep, d-1, elapsed)
				}
				prev = e.val
			}
			if len(got) != depth {
				t.Errorf("levels %v, want %d..%d", sortedKeys(got), levels-depth+1, levels)
			}
			want := make([]uint64, StashDrops)
			want[StashDropDeep], want[StashStored], want[StashMatched] = runs*(levels-uint64(depth)), runs, runs
			if fmt.Sprint(c) != fmt.Sprint(want) || live != 0 || st.Evicted(c, live) != 0 {
				t.Errorf("counters %v, want %v; %d entries left", c, want, live)
			}
		})
	}
}

// TestKernelStashTwoProbes is the biolatency pattern on uprobes: the
// fixture starts requests 1..8 (req_start(id)), finishes them in reverse
// order a sleep apart (req_finish(id), a plain uprobe, not a return), so
// request id takes at least 9-id sleeps, and then starts 200 requests that
// never finish. With a large stash every latency is right and the
// unfinished requests are all still in the map; with a 64-entry stash
// the LRU evicts most of them, and Evicted (from the stored and matched
// counters) equals the unfinished requests missing from the map plus the
// finishes that found nothing.
func TestKernelStashTwoProbes(t *testing.T) {
	requireUprobes(t)
	const n, lost, usec = 8, 200, 2000
	sleep := time.Duration(usec) * time.Microsecond
	for _, size := range []uint32{0, 64} {
		t.Run(fmt.Sprintf("entries=%d", size), func(t *testing.T) {
			w := startStashFixture(t, "requests", strconv.Itoa(n), strconv.Itoa(lost), strconv.Itoa(usec))
			pc := uprobeLatency("id")
			id := sinkValues(t, pc, ValueOptions{}, "id")
			st := &Stash{Timestamp: true, Key: StashKeyExpr, KeyValues: 1, MaxEntries: size}
			s := &AggSink{Agg: AggSum, Value: st.Latency(), Key: []KeyPart{{Kind: KeyValue, Value: id[0]}}}
			filters := Filters{PID: uint32(w.pid), UID: -1, CPU: -1}
			m := sinkMaps{}
			start, err := m.load(t, &Build{Mode: ModeUprobe, Filters: filters, Sink: &EntrySink{Stash: st, Key: id}}, ebpf.Kprobe, ebpf.AttachNone, "")
			if err != nil {
				t.Fatalf("start: %+v", err)
			}
			end, err := m.load(t, &Build{Mode: ModeUprobe, Filters: filters, Stash: st, StashKey: id, Sink: s}, ebpf.Kprobe, ebpf.AttachNone, "")
			if err != nil {
				t.Fatalf("end: %+v", err)
			}
			ex, err := link.OpenExecutable(w.bin)
			if err != nil {
				t.Fatal(err)
			}
			uprobeAttach(t, ex, "req_finish", 0, w.pid, false, end)
			uprobeAttach(t, ex, "req_start", 0, w.pid, false, start)
			elapsed := w.run(t)
			got := readAgg(t, m[s.name()], s)
			c := readDrops(t, m[st.DropsMap()], StashDrops)
			// A small LRU may evict a request in flight (the kernel's
			// LRU evicts in batches when a CPU's free list runs dry,
			// e.g. after a migration): its finish is then missing.
			// With the default size nothing in flight is evicted.
			for i := 1; i <= n; i++ {
				e, ok := got[fmt.Sprint(i)]
				if min := time.Duration(n-i+1) * sleep; ok && (e.count != 1 || time.Duration(e.val) < min || time.Duration(e.val) > elapsed) {
					t.Errorf("request %d: %v (%d), want one latency in [%v, %v]", i, time.Duration(e.val), e.count, min, elapsed)
				}
			}
			if uint64(len(got)) != c[StashMatched] || c[StashMatched]+c[StashDropMissing] != n || size == 0 && len(got) != n {
				t.Errorf("requests %v, counters %v; want every finish matched or missing (all matched in a large map)", sortedKeys(got), c)
			}
			// The keys left must be unfinished requests.
			var key []byte
			var val []byte
			left := 0
			it := m[st.name()].Iterate()
			for it.Next(&key, &val) {
				if k := le64(key); k < 1001 || k >= 1001+lost {
					t.Errorf("key %d left in the stash", k)
				}
				left++
			}
			evicted := st.Evicted(c, left)
			t.Logf("%d unfinished requests left, %d evicted; counters %v", left, evicted, c)
			if c[StashStored] != n+lost || c[StashReplaced] != 0 || c[StashDropFull] != 0 {
				t.Errorf("counters %v, want %d stored, nothing replaced or dropped", c, n+lost)
			}
			// Evicted, from the counters, against what the map and the
			// finishes show: unfinished requests gone from the map, and
			// requests whose finish found nothing.
			if want := uint64(lost-left) + c[StashDropMissing]; evicted != want {
				t.Errorf("Evicted %d, want %d: %d unfinished requests not in the map, %d finishes missing", evicted, want, lost-left, c[StashDropMissing])
			}
			if size == 0 && left != lost || size != 0 && (left > int(size) || evicted == 0) {
				t.Errorf("%d unfinished requests left in a map of %d", left, size)
			}
		})
	}
}

func le64(b []byte) uint64 {
	var v uint64
	for i := 7; i >= 0; i-- {
		v = v<<8 | uint64(b[i])
	}
	return v
}

// stashGoRecurse is the Go test function of TestKernelStashGoFrame: a
// call at d calls the one at d-1, then sleeps (parking the goroutine, so
// it may resume on another thread). Its large frame makes a new
// goroutine's stack grow, and move, while outer calls are pending.
//
//go:noinline
func stashGoRecurse(d int, sleep time.Duration) int {
	var pad [3000]byte
	stashTouch(&pad, d)
	r := 0
	if d > 1 {
		r = stashGoRecurse(d-1, sleep)
	}
	time.Sleep(sleep)
	return r + int(pad[d])
}

//go:noinline
func stashTouch(p *[3000]byte, d int) { p[d] = byte(d) }

// goFuncSites returns the file offset of the Go function fn of this test
// binary and the offsets of its RET instructions from its start, from the
// runtime's function table and the code in memory (go test strips the
// ELF symbol table).
func goFuncSites(t *testing.T, fn any) (uint64, []uint64) {
	t.Helper()
	f := runtime.FuncForPC(reflect.ValueOf(fn).Pointer())
	if f == nil {
		t.Fatal("no function")
	}
	entry := f.Entry()
	end := entry
	for end-entry < 1<<16 {
		if g := runtime.FuncForPC(end); g == nil || g.Entry() != entry {
			break
		}
		end++
	}
	mem, err := os.Open("/proc/self/mem")
	if err != nil {
		t.Fatal(err)
	}
	defer mem.Close()
	code := make([]byte, end-entry)
	if _, err := mem.ReadAt(code, int64(entry)); err != nil {
		t.Fatal(err)
	}
	var rets []uint64
	for i := 0; i < len(code); {
		inst, err := x86asm.Decode(code[i:], 64)
		if err != nil || inst.Len == 0 {
			i++
			continue
		}
		if inst.Op == x86asm.RET {
			rets = append(rets, uint64(i))
		}
		i += inst.Len
	}
	if len(rets) == 0 {
		t.Fatalf("%s: no RET", f.Name())
	}
	maps, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(maps), "\n") {
		var lo, hi, off uint64
		var perms string
		if _, err := fmt.Sscanf(line, "%x-%x %s %x", &lo, &hi, &perms, &off); err == nil && uint64(entry) >= lo && uint64(entry) < hi {
			return uint64(entry) - lo + off, rets
		}
	}
	t.Fatalf("%s at %#x is in no mapping", f.Name(), entry)
	return 0, nil
}

// TestKernelStashGoFrame times a recursive Go function of this test
// binary as funclatency does on Go: an entry uprobe and uprobes on its
// RET instructions (never uretprobes, which crash Go), keyed by the Go
// frame. Four goroutines each make three fresh five-level recursions
// that sleep at every level, so goroutines move between threads and
// stacks grow and move under pending calls. Every call must be timed
// under its own level (each at least one sleep longer than the one it
// contains), none missing, and the stash empty at the end.
func TestKernelStashGoFrame(t *testing.T) {
	requireUprobes(t)
	if stashGoArch != "amd64" {
		t.Skipf("the Go frame key is amd64 only, not %s", stashGoArch)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	at, rets := goFuncSites(t, stashGoRecurse)
	// Go's ABIInternal passes d in RAX.
	pc := &ProbeContext{Mode: ModeUprobe, Regs: true, UserMemory: true, Args: []Arg{{Name: "d", Type: tyLong, Kind: ArgCtx, Off: ptRegs["ax"], Size: 8, Signed: true}}}
	st := &Stash{Timestamp: true, Fields: sinkValues(t, pc, ValueOptions{}, "d"), Key: StashKeyGoFrame}
	s := &AggSink{Agg: AggSum, Value: st.Latency(), Key: []KeyPart{{Kind: KeyValue, Value: st.Entry(0)}}}
	filters := Filters{PID: uint32(os.Getpid()), UID: -1, CPU: -1}
	m := sinkMaps{}
	entry, err := m.load(t, &Build{Mode: ModeUprobe, Filters: filters, Sink: &EntrySink{Stash: st}}, ebpf.Kprobe, ebpf.AttachNone, "")
	if err != nil {
		t.Fatalf("entry: %+v", err)
	}
	ret, err := m.load(t, &Build{Mode: ModeUprobe, Filters: filters, Stash: st, Sink: s}, ebpf.Kprobe, ebpf.AttachNone, "")
	if err != nil {
		t.Fatalf("return: %+v", err)
	}
	ex, err := link.OpenExecutable(exe)
	if err != nil {
		t.Fatal(err)
	}
	for _, off := range rets {
		uprobeAttach(t, ex, "", at+off, os.Getpid(), false, ret)
	}
	uprobeAttach(t, ex, "", at, os.Getpid(), false, entry)

	const goroutines, runs, levels, sleep = 4, 3, 5, 2 * time.Millisecond
	start := time.Now()
	var wg sync.WaitGroup
	for range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range runs {
				done := make(chan struct{})
				go func() { stashGoRecurse(levels, sleep); close(done) }() // a new goroutine: a small stack
				<-done
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	got := readAgg(t, m[s.name()], s)
	c := readDrops(t, m[st.DropsMap()], StashDrops)
	live := stashLive(t, m[st.name()])
	t.Logf("levels %v, counters %v (morestack re-entries replace their own entry)", got, c)
	const calls = goroutines * runs
	var prev uint64
	for d := 1; d <= levels; d++ {
		e := got[fmt.Sprint(d)]
		if e.count != calls || time.Duration(e.val) < calls*time.Duration(d)*sleep || time.Duration(e.val-prev) < calls*sleep || time.Duration(e.val) > calls*elapsed {
			t.Errorf("level %d: %v in %d calls; want %d calls, at least %v and %v more than level %d", d, time.Duration(e.val), e.count, calls, calls*time.Duration(d)*sleep, calls*sleep, d-1)
		}
		prev = e.val
	}
	if len(got) != levels || c[StashDropMissing] != 0 || c[StashDropFull] != 0 || c[StashMatched] != calls*levels || c[StashStored] != calls*levels || live != 0 {
		t.Errorf("levels %v, counters %v, %d entries left; want %d levels, %d stored and matched, none missing or left", sortedKeys(got), c, live, levels, calls*levels)
	}
}
