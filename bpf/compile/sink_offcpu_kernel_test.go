package compile

import (
	"encoding/binary"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/btool/btool/internal/testutil"
	"github.com/btool/btool/internal/tracefs"
)

func offCPUAgg() *AggSink {
	return &AggSink{Map: "offcpu", Agg: AggSum, Key: []KeyPart{{Kind: KeyTgid}, {Kind: KeyComm}, {Kind: KeyKernelStack}, {Kind: KeyUserStack}}}
}

// TestKernelOffCPUSink runs the off-CPU program (as a raw tracepoint, arg
// 0 standing for next_pid) twice on one thread: first as the thread
// leaving the CPU, then, 30 ms later, as the thread coming back. The sum
// is one block of about 30,000 us for this process; a minimum above it
// (or a maximum below it) drops the block; a filter on another process
// records nothing.
func TestKernelOffCPUSink(t *testing.T) {
	testutil.RequireRoot(t)
	const nap = 30 * time.Millisecond
	for _, tc := range []struct {
		name     string
		min, max uint64
		pid      uint32
		want     uint64 // blocks counted
	}{
		{"plain", 0, 0, 0, 1},
		{"pid", 0, 0, uint32(os.Getpid()), 1},
		{"other pid", 0, 0, uint32(os.Getpid()) + 1, 0},
		{"min above", 200000, 0, 0, 0},
		{"max below", 0, 1000, 0, 0},
		{"within", 1000, 200000, 0, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			runtime.LockOSThread() // one thread: off, then on again
			defer runtime.UnlockOSThread()
			next := sinkValues(t, execArgs(false), ValueOptions{}, "a")[0]
			s := &OffCPUSink{Agg: offCPUAgg(), NextPID: next, PID: tc.pid, MinUs: tc.min, MaxUs: tc.max}
			m := sinkMaps{}
			prog := m.rawProg(t, &Build{Filters: NoFilters, Sink: s})
			start := time.Now() // before the off timestamp, so took bounds the time off
			runProg(t, prog, 0) // off: no thread coming on
			time.Sleep(nap)
			runProg(t, prog, uint64(unix.Gettid())) // on: this thread again
			took := time.Since(start)
			got := readAgg(t, m["offcpu"], s.Agg)
			var n, sum uint64
			l := s.Agg.Layout()
			for _, e := range got {
				if tg := binary.LittleEndian.Uint32(e.key[l.Key[0].Offset:]); int(tg) != os.Getpid() {
					t.Errorf("tgid %d, want %d", tg, os.Getpid())
				}
				n += e.count
				sum += e.val
			}
			if n != tc.want {
				t.Fatalf("%d blocks counted, want %d: %v", n, tc.want, got)
			}
			if n == 1 && (sum < uint64(nap.Microseconds()) || sum > uint64(took.Microseconds())) {
				t.Errorf("off CPU %d us, want %d to %d", sum, nap.Microseconds(), took.Microseconds())
			}
		})
	}
}

// TestKernelOffCPUSinkTracepoint loads the sink for sched:sched_switch (a
// perf tracepoint program, next_pid from the event's format) under the
// verifier.
func TestKernelOffCPUSinkTracepoint(t *testing.T) {
	testutil.RequireRoot(t)
	f, err := tracefs.ReadFormat("sched", "sched_switch")
	if err != nil {
		t.Skipf("sched_switch format: %v", err)
	}
	fl := f.Field("next_pid")
	if fl == nil {
		t.Fatal("sched_switch has no next_pid")
	}
	pc := &ProbeContext{Mode: ModeTracepoint, Fields: []Arg{{Name: "next_pid", Type: tyInt, Kind: ArgCtx, Off: int16(fl.Offset), Size: fl.Size, Signed: true}}}
	next := sinkValues(t, pc, ValueOptions{}, "args->next_pid")[0]
	for _, pid := range []uint32{0, 1} {
		s := &OffCPUSink{Agg: offCPUAgg(), NextPID: next, PID: pid, MinUs: 1, MaxUs: 1 << 40}
		m := sinkMaps{}
		if _, err := m.load(t, &Build{Mode: ModeTracepoint, Filters: NoFilters, Sink: s}, ebpf.TracePoint, ebpf.AttachNone, ""); err != nil {
			t.Fatalf("pid %d: verifier: %+v", pid, err)
		}
	}
}

// TestOffCPUSinkErrors: the sink refuses what it can't record per thread.
func TestOffCPUSinkErrors(t *testing.T) {
	next := sinkValues(t, execArgs(false), ValueOptions{}, "a")[0]
	for _, s := range []*OffCPUSink{
		{Agg: &AggSink{Agg: AggCount}, NextPID: next},
		{Agg: &AggSink{Agg: AggSum, Key: []KeyPart{{Kind: KeyPid}}}, NextPID: next},
		{Agg: offCPUAgg()},
		{Agg: offCPUAgg(), NextPID: next, MinUs: 10, MaxUs: 5},
	} {
		if _, err := Compile(&Build{Mode: ModeRawTracepoint, Filters: NoFilters, Sink: s}); err == nil {
			t.Errorf("%+v compiled", s)
		}
	}
}
