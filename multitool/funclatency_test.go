package multitool

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/btool/btool/bpf/compile"
)

// hist returns Log2Slots slots with the given counts.
func testSlots(counts map[int]uint64) []uint64 {
	s := make([]uint64, compile.Log2Slots)
	for i, c := range counts {
		s[i] = c
	}
	return s
}

var latNow = time.Date(2026, 12, 2, 14, 5, 6, 0, time.UTC)

// A summary of 10 calls of 5.5 ms (usecs slot 13: 4096 -> 8191) and 10 of
// 22 ms (slot 15: 16384 -> 32767): bcc's histogram and its avg line, where
// avg and total are in the unit, truncated.
func latencyFixture() *latencySummary {
	a := latencyHist{Func: "lat_sleep_a", Slots: testSlots(map[int]uint64{13: 9, 14: 1}), TotalNS: 10*5_600_000 + 3_000_000, Count: 10}
	b := latencyHist{Func: "lat_sleep_b", Slots: testSlots(map[int]uint64{15: 10}), TotalNS: 10 * 22_100_000, Count: 10}
	total := latencyHist{Slots: make([]uint64, compile.Log2Slots), TotalNS: a.TotalNS + b.TotalNS, Count: 20}
	for i := range total.Slots {
		total.Slots[i] = a.Slots[i] + b.Slots[i]
	}
	return &latencySummary{unit: latencyUnit{"usecs", 1000}, total: total, funcs: []latencyHist{a, b}}
}

func TestFunclatencyPrint(t *testing.T) {
	s := latencyFixture()
	perFunc := *s
	s.funcs = nil
	var b bytes.Buffer
	if err := s.print(&b, false, latNow); err != nil {
		t.Fatal(err)
	}
	golden(t, "funclatency/usecs.txt", b.String())

	b.Reset()
	if err := perFunc.print(&b, true, latNow); err != nil {
		t.Fatal(err)
	}
	golden(t, "funclatency/per_function_T.txt", b.String())

	b.Reset()
	if err := perFunc.writeJSON(&b, latNow); err != nil {
		t.Fatal(err)
	}
	golden(t, "funclatency/per_function.json", b.String())
	var v struct {
		Unit      string
		Count     uint64
		Total     uint64
		Avg       uint64
		Functions []struct {
			Func    string
			Count   uint64
			Buckets []Log2Bucket
		}
	}
	if err := json.Unmarshal(b.Bytes(), &v); err != nil {
		t.Fatal(err)
	}
	// 56+3+221 ms over 20 calls.
	if v.Unit != "usecs" || v.Count != 20 || v.Total != 280000 || v.Avg != 14000 || len(v.Functions) != 2 ||
		v.Functions[1].Buckets[0] != (Log2Bucket{Min: 16384, Max: 32767, Count: 10}) {
		t.Errorf("JSON: %+v", v)
	}
}

// Nothing timed: bcc prints the blank line and nothing else (no header, no
// avg line); JSON has an empty bucket list.
func TestFunclatencyPrintEmpty(t *testing.T) {
	s := &latencySummary{unit: latencyUnit{"nsecs", 1}, total: latencyHist{Slots: make([]uint64, compile.Log2Slots)}}
	var b bytes.Buffer
	s.print(&b, false, latNow)
	if b.String() != "\n" {
		t.Errorf("empty summary printed %q", b.String())
	}
	b.Reset()
	s.writeJSON(&b, latNow)
	if want := `{"time":"2026-12-02T14:05:06Z","unit":"nsecs","buckets":[],"count":0,"total":0,"avg":0,"total_ns":0}` + "\n"; b.String() != want {
		t.Errorf("empty JSON %s, want %s", b.String(), want)
	}
}

func TestAlignReturnTargets(t *testing.T) {
	entry := &Plan{Head: &ProbeHead{Spec: "x"}, Targets: []compile.Target{{Name: "a", Path: "/b", Slot: 0}, {Name: "b", Path: "/b", Slot: 1}}}
	// A Go return: b has three RETs, a one.
	ret := &Plan{Targets: []compile.Target{{Name: "b", Path: "/b", Slot: 0}, {Name: "b", Path: "/b", Slot: 1}, {Name: "a", Path: "/b", Slot: 2}, {Name: "b", Path: "/b", Slot: 3}}}
	if err := alignReturnTargets(entry, ret); err != nil {
		t.Fatal(err)
	}
	for i, want := range []uint32{1, 1, 0, 1} {
		if ret.Targets[i].Slot != want {
			t.Errorf("return target %d slot %d, want %d", i, ret.Targets[i].Slot, want)
		}
	}
	bad := &Plan{Targets: []compile.Target{{Name: "c", Path: "/b"}}}
	if err := alignReturnTargets(entry, bad); err == nil {
		t.Error("a return without an entry target was accepted")
	}
}

func TestFunclatencyUsage(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    FunclatencyOptions
	}{
		{"u and m", FunclatencyOptions{Pattern: "vfs_read", Micro: true, Milli: true}},
		{"three parts", FunclatencyOptions{Pattern: "a:b:c"}},
		{"empty", FunclatencyOptions{Pattern: ""}},
		{"negative level", FunclatencyOptions{Pattern: "vfs_read", Levels: -1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Funclatency(context.Background(), tc.o, Env{})
			var ue *UsageError
			if !errors.As(err, &ue) {
				t.Fatalf("error %v is not a usage error", err)
			}
		})
	}
}
