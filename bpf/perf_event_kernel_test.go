package bpf

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/btool/btool/bpf/compile"
	"github.com/btool/btool/bpf/feature"
	"github.com/btool/btool/internal/testutil"
)

// bpfFDs counts this process's open perf events, BPF programs, maps and
// links, by the anon inode each file descriptor names.
func bpfFDs(t *testing.T) map[string]int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	n := map[string]int{}
	for _, e := range ents {
		target, err := os.Readlink(filepath.Join("/proc/self/fd", e.Name()))
		if err != nil {
			continue // the directory's own fd, closed by now
		}
		switch {
		case strings.Contains(target, "perf_event"):
			n["perf_event"]++
		case strings.Contains(target, "bpf-prog"):
			n["prog"]++
		case strings.Contains(target, "bpf_link") || strings.Contains(target, "bpf-link"):
			n["link"]++
		case strings.Contains(target, "bpf-map"):
			n["map"]++
		}
	}
	return n
}

// TestKernelPerfEventSoftware counts software events by tgid and tid while
// the swevents workload makes a known number of them: N page faults (it
// writes to N fresh pages) or K context switches (its main thread blocks
// in nanosleep K times). The counts for the workload's process (faults)
// or main thread (switches; the process's other threads switch as the Go
// runtime hands its scheduler around) must be at least the known number,
// plus at most what the Go runtime adds. It runs with a perf link and,
// with perf links turned off, through PERF_EVENT_IOC_SET_BPF (the path of
// kernels before 5.15), with and without the -p filter, and checks that
// Close leaves no perf event, program, map or link open.
func TestKernelPerfEventSoftware(t *testing.T) {
	testutil.RequireRoot(t)
	f, err := feature.NewFeatures()
	if err != nil {
		t.Fatal(err)
	}
	testutil.RequireFeature(t, string(feature.FeatPerfEvent), f.Have(feature.FeatPerfEvent))
	bin := testutil.Workload(t, "swevents")
	cpus, err := onlineCPUs()
	if err != nil {
		t.Fatal(err)
	}
	const pages, sleeps = 3000, 200
	for _, tc := range []struct {
		name    string
		event   string
		args    []string
		want    uint64
		slack   uint64 // the workload's own runtime adds this many at most
		pidOnly bool   // filter with -p (Filters.PID) instead of keying every process
		noLink  bool   // attach with PERF_EVENT_IOC_SET_BPF
		thread  bool   // the count to check is the main thread's
	}{
		{name: "page-faults", event: "page-faults", args: []string{"-pages", fmt.Sprint(pages)}, want: pages, slack: 200},
		{name: "faults/-p", event: "faults", args: []string{"-pages", fmt.Sprint(pages)}, want: pages, slack: 200, pidOnly: true},
		{name: "minor-faults/ioctl", event: "minor-faults", args: []string{"-pages", fmt.Sprint(pages)}, want: pages, slack: 200, noLink: true},
		{name: "cs", event: "cs", args: []string{"-sleeps", fmt.Sprint(sleeps)}, want: sleeps, slack: 100, thread: true},
		{name: "context-switches/-p/ioctl", event: "context-switches", args: []string{"-sleeps", fmt.Sprint(sleeps)}, want: sleeps, slack: 100, pidOnly: true, noLink: true, thread: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.noLink {
				tryPerfLink = false
				defer func() { tryPerfLink = true }()
			}
			before := bpfFDs(t)
			cmd := exec.Command(bin, append(tc.args, "-wait")...)
			stdin, err := cmd.StdinPipe()
			if err != nil {
				t.Fatal(err)
			}
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer cmd.Process.Kill()
			out := bufio.NewScanner(stdout)
			if !out.Scan() {
				t.Fatal("workload printed no pid")
			}
			pid, err := strconv.Atoi(strings.TrimSpace(out.Text()))
			if err != nil {
				t.Fatalf("workload pid: %v", err)
			}

			target, err := compile.SoftwareEventTarget(tc.event, 0)
			if err != nil {
				t.Fatal(err)
			}
			sink := &compile.AggSink{Map: "swev", Agg: compile.AggCount, Key: []compile.KeyPart{{Kind: compile.KeyTgid}, {Kind: compile.KeyPid}}}
			filters := compile.Filters{UID: -1, CPU: -1, SkipTGID: uint32(os.Getpid())}
			if tc.pidOnly {
				filters.PID = uint32(pid)
			}
			modes, err := UsableModes(compile.PerfEvent, f)
			if err != nil {
				t.Fatal(err)
			}
			s := NewSession(SessionOptions{Log: testLog{t}})
			defer s.Close()
			p := &Probe{Name: "s::" + tc.event + "()", Kind: compile.PerfEvent, Targets: []compile.Target{target}, Modes: modes,
				Build: func(m compile.Mode, ts []compile.Target) (*compile.Object, error) {
					return compile.Assemble(compile.Build{Name: "swev", Mode: m, Filters: filters, Sink: sink}, compile.PerfEvent, ts, false, 0)
				}}
			a, err := s.Attach(context.Background(), p)
			if err != nil {
				t.Fatal(err)
			}
			if a.Mode() != compile.ModePerfEvent || len(a.Skipped) != 0 || len(a.Targets()) != 1 {
				t.Fatalf("attached %+v", a)
			}
			during := bpfFDs(t)
			if got := during["perf_event"] - before["perf_event"]; got != len(cpus) {
				t.Errorf("%d perf events open, want one per online CPU (%d)", got, len(cpus))
			}
			wantLinks := len(cpus)
			if tc.noLink {
				wantLinks = 0
			}
			if got := during["link"] - before["link"]; got != wantLinks && !(got == 0 && !tc.noLink) {
				t.Errorf("%d BPF links open, want %d", got, wantLinks)
			} else if got == 0 && !tc.noLink {
				t.Logf("no perf links (kernel before 5.15): attached by ioctl")
			}

			stdin.Write([]byte("go\n"))
			for out.Scan() {
			}
			if err := cmd.Wait(); err != nil {
				t.Fatalf("workload: %v", err)
			}
			s.Detach()

			counts := map[uint32]uint64{} // by tgid
			var mainThread uint64         // tid == tgid == pid
			l := sink.Layout()
			var key []byte
			var per [][]byte
			it := s.Map(sink.Map).Iterate()
			for it.Next(&key, &per) {
				tgid, tid := binary.LittleEndian.Uint32(key[l.Key[0].Offset:]), binary.LittleEndian.Uint32(key[l.Key[1].Offset:])
				n := l.Merge(per).Count
				counts[tgid] += n
				if tgid == uint32(pid) && tid == uint32(pid) {
					mainThread += n
				}
			}
			if err := it.Err(); err != nil {
				t.Fatal(err)
			}
			got := counts[uint32(pid)]
			t.Logf("%s: %d for the workload, %d for its main thread (%d processes counted)", tc.event, got, mainThread, len(counts))
			if tc.thread {
				if got < tc.want {
					t.Errorf("%s of pid %d = %d, want at least %d", tc.event, pid, got, tc.want)
				}
				got = mainThread
			}
			if got < tc.want || got >= tc.want+tc.slack {
				t.Errorf("%s of pid %d = %d, want %d to %d", tc.event, pid, got, tc.want, tc.want+tc.slack-1)
			}
			if tc.pidOnly && len(counts) != 1 {
				t.Errorf("-p %d counted %d processes: %v", pid, len(counts), counts)
			}
			if counts[uint32(os.Getpid())] != 0 {
				t.Errorf("the test process was counted despite SkipTGID")
			}

			s.Close()
			after := bpfFDs(t)
			for _, k := range []string{"perf_event", "prog", "map", "link"} {
				if after[k] != before[k] {
					t.Errorf("after Close: %d %s fds, before attaching %d", after[k], k, before[k])
				}
			}
		})
	}
}

func TestParseCPUList(t *testing.T) {
	for _, tc := range []struct {
		have string
		want string
	}{
		{"0\n", "[0]"},
		{"0-1\n", "[0 1]"},
		{"0-3,5,7-8", "[0 1 2 3 5 7 8]"},
		{"", "error"},
		{"a-b", "error"},
		{"3-1", "error"},
		{"-1", "error"},
		{"0,,1", "error"},
	} {
		got, err := parseCPUList(tc.have)
		s := fmt.Sprint(got)
		if err != nil {
			s = "error"
		}
		if s != tc.want {
			t.Errorf("parseCPUList(%q) = %s (%v), want %s", tc.have, s, err, tc.want)
		}
	}
}

func TestPerfEventAttr(t *testing.T) {
	a, err := perfEventAttr(compile.PerfAttr{Type: compile.PerfTypeSoftware, Config: 2, Period: 100})
	if err != nil || a.Sample != 100 || a.Bits&unix.PerfBitFreq != 0 || a.Bits&unix.PerfBitDisabled == 0 || a.Config != 2 || a.Type != 1 {
		t.Errorf("period: %+v, %v", a, err)
	}
	a, err = perfEventAttr(compile.PerfAttr{Type: compile.PerfTypeSoftware, Freq: 49})
	if err != nil || a.Sample != 49 || a.Bits&unix.PerfBitFreq == 0 {
		t.Errorf("freq: %+v, %v", a, err)
	}
	for _, bad := range []compile.PerfAttr{{}, {Period: 1, Freq: 1}, {Period: 1 << 63}} {
		if _, err := perfEventAttr(bad); err == nil {
			t.Errorf("perfEventAttr(%+v) accepted", bad)
		}
	}
}

// TestKernelPerfEventClock samples this process with cpu-clock, by period
// (the default 1 ms) and by frequency (1000 Hz), while one of its threads
// spins for 250 ms of CPU time: the samples must match the process's CPU time in milliseconds
// (getrusage, measured independently) within 25% (inside the test VMs,
// whose timers are late, at least a tenth).
func TestKernelPerfEventClock(t *testing.T) {
	testutil.RequireRoot(t)
	f, err := feature.NewFeatures()
	if err != nil {
		t.Fatal(err)
	}
	testutil.RequireFeature(t, string(feature.FeatPerfEvent), f.Have(feature.FeatPerfEvent))
	period, err := compile.SoftwareEventTarget("cpu-clock", 0)
	if err != nil {
		t.Fatal(err)
	}
	freq := period
	freq.Perf.Period, freq.Perf.Freq = 0, 1000
	for name, target := range map[string]compile.Target{"period": period, "freq": freq} {
		t.Run(name, func(t *testing.T) {
			sink := &compile.AggSink{Map: "clock", Agg: compile.AggCount, Key: []compile.KeyPart{{Kind: compile.KeyTgid}}}
			s := NewSession(SessionOptions{Log: testLog{t}})
			defer s.Close()
			filters := compile.Filters{PID: uint32(os.Getpid()), UID: -1, CPU: -1}
			p := &Probe{Name: "s::cpu()", Kind: compile.PerfEvent, Targets: []compile.Target{target}, Modes: []compile.Mode{compile.ModePerfEvent},
				Build: func(m compile.Mode, ts []compile.Target) (*compile.Object, error) {
					return compile.Assemble(compile.Build{Name: "clock", Mode: m, Filters: filters, Sink: sink}, compile.PerfEvent, ts, false, 0)
				}}
			var before, after unix.Rusage
			unix.Getrusage(unix.RUSAGE_SELF, &before)
			if _, err := s.Attach(context.Background(), p); err != nil {
				t.Fatal(err)
			}
			spinCPU(250*time.Millisecond, 5*time.Second)
			s.Detach()
			unix.Getrusage(unix.RUSAGE_SELF, &after)
			cpu := time.Duration(after.Utime.Nano()+after.Stime.Nano()-before.Utime.Nano()-before.Stime.Nano()) / time.Millisecond
			var samples uint64
			var key []byte
			var per [][]byte
			it := s.Map(sink.Map).Iterate()
			for it.Next(&key, &per) {
				samples += sink.Layout().Merge(per).Count
			}
			t.Logf("%d samples for %d ms of CPU time", samples, cpu)
			if cpu < 100 {
				t.Skipf("the spinning thread got only %d ms of CPU in 5 s", cpu)
			}
			lo, hi := uint64(cpu)*3/4, uint64(cpu)*5/4+5
			if os.Getenv("BTOOL_VM") != "" {
				// Under QEMU's emulation the timer interrupts come late, and
				// the kernel's cpu-clock timer takes one sample for all the
				// periods that passed (121 samples in 319 ms on 5.10, 161 in
				// 554 ms on 6.1).
				lo = uint64(cpu) / 10
			}
			if samples < lo || samples > hi {
				t.Errorf("%d samples for %d ms of CPU time, want %d to %d", samples, cpu, lo, hi)
			}
		})
	}
}

// spinCPU keeps a CPU busy until the process has used d of CPU time
// more, or for max of wall time.
func spinCPU(d, max time.Duration) {
	cpuTime := func() time.Duration {
		var ru unix.Rusage
		unix.Getrusage(unix.RUSAGE_SELF, &ru)
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	start, end := cpuTime(), time.Now().Add(max)
	for cpuTime()-start < d && time.Now().Before(end) {
		for i := 0; i < 100000; i++ {
		}
	}
}

// TestKernelPerfEventRefused: an event the kernel refuses fails the
// probe with an error naming the event and CPU, and leaves nothing open.
func TestKernelPerfEventRefused(t *testing.T) {
	testutil.RequireRoot(t)
	f, err := feature.NewFeatures()
	if err != nil {
		t.Fatal(err)
	}
	testutil.RequireFeature(t, string(feature.FeatPerfEvent), f.Have(feature.FeatPerfEvent))
	before := bpfFDs(t)
	bad := compile.Target{Name: "software:nosuch", Perf: compile.PerfAttr{Type: compile.PerfTypeSoftware, Config: 999, Period: 1}}
	sink := &compile.AggSink{Map: "bad", Agg: compile.AggCount, Key: []compile.KeyPart{{Kind: compile.KeyTgid}}}
	s := NewSession(SessionOptions{})
	p := &Probe{Name: "s::nosuch()", Kind: compile.PerfEvent, Targets: []compile.Target{bad}, Modes: []compile.Mode{compile.ModePerfEvent},
		Build: func(m compile.Mode, ts []compile.Target) (*compile.Object, error) {
			return compile.Assemble(compile.Build{Name: "bad", Mode: m, Filters: compile.NoFilters, Sink: sink}, compile.PerfEvent, ts, false, 0)
		}}
	_, err = s.Attach(context.Background(), p)
	t.Log(err)
	if err == nil || !strings.Contains(err.Error(), "perf_event_open software:nosuch on CPU") {
		t.Errorf("Attach: %v, want perf_event_open's refusal", err)
	}
	s.Close()
	after := bpfFDs(t)
	for _, k := range []string{"perf_event", "prog", "map", "link"} {
		if after[k] != before[k] {
			t.Errorf("after Close: %d %s fds, before attaching %d", after[k], k, before[k])
		}
	}
}
