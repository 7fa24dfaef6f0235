package multitool

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/btool/btool/bpf/compile"
	"github.com/btool/btool/specparse"
)

// adTime is the fixed time of the golden outputs.
var adTime = time.Date(2026, 12, 2, 15, 4, 5, 0, time.UTC)

func intKey(name string, v int64) keyPart {
	return keyPart{Name: name, Kind: compile.FieldInt, Uint: uint64(v)}
}

func uintKey(name string, v uint64) keyPart {
	return keyPart{Name: name, Kind: compile.FieldUint, Uint: v}
}

// neg is -v's two's complement bits, as the maps hold a signed value.
func neg(v int64) uint64 { return uint64(-v) }

func strKey(name, s string) keyPart { return keyPart{Name: name, Kind: compile.FieldStr, Str: s} }

// adTables are one interval of each kind of probe.
func adTables() []argdistTable {
	spec := "t:syscalls:sys_enter_read():u64:args->count"
	return []argdistTable{
		{Kind: argCount, Spec: spec, Title: spec, Rows: []argdistRow{
			{Key: keyParts{uintKey("args->count", 12345)}, Count: 77},
			{Key: keyParts{uintKey("args->count", 0)}, Count: 5},
			{Key: keyParts{uintKey("args->count", 4096)}, Count: 300},
		}},
		{Kind: argCount, Spec: "p:c:malloc()", Title: "p:c:malloc()", Calls: true, Rows: []argdistRow{{Count: 42}}},
		{Kind: argCount, Spec: "r:c:read()", Title: "r:c:read()", Rows: []argdistRow{
			{Key: keyParts{intKey("retval", -11)}, Count: 2},
			{Key: keyParts{intKey("retval", 3)}, Count: 1},
		}},
		{Kind: argCount, Spec: "t:syscalls:sys_enter_openat():char*,u32:args->filename,$PID#opens", Label: "opens", Title: "opens", Rows: []argdistRow{
			{Key: keyParts{strKey("args->filename", "/etc/passwd"), uintKey("$PID", 812)}, Count: 3},
			{Key: keyParts{strKey("args->filename", "/etc/hosts"), uintKey("$PID", 812)}, Count: 5},
			{Key: keyParts{{Name: "ptr", Kind: compile.FieldAddr, Uint: 0xffff8880}, uintKey("$PID", 1)}, Count: 1},
		}},
	}
}

func adHists() []argdistTable {
	return []argdistTable{
		{Kind: argHist, Spec: "t:syscalls:sys_exit_read()::args->ret", Value: "args->ret", Expr: "args->ret", Rows: []argdistRow{
			{Slots: log2Slots(map[int]uint64{0: 5, 1: 4, 2: 1, 7: 33, 14: 77}), Count: 120},
		}},
		{Kind: argHist, Spec: "t:syscalls:sys_enter_read()::args->count,$COMM", Value: "args->count", Expr: "args->count", Rows: []argdistRow{
			{Key: keyParts{strKey("$COMM", "cat")}, Slots: log2Slots(map[int]uint64{13: 10}), Count: 10},
			{Key: keyParts{strKey("$COMM", "dd")}, Slots: log2Slots(map[int]uint64{10: 3, 14: 77}), Count: 80},
		}},
		{Kind: argLinear, Spec: "t:syscalls:sys_enter_read()::args->count", Value: "args->count", Expr: "args->count", Linear: compile.Linear{Min: 0, Max: 1000, Step: 250},
			Rows: []argdistRow{{Slots: []uint64{0, 2, 0, 7, 0, 4}, Count: 13}}},
		{Kind: argHist, Spec: "t:a:b()::args->x#empty", Label: "empty", Value: "empty", Expr: "args->x"}, // nothing printed
	}
}

func adStats() []argdistTable {
	return []argdistTable{
		{Kind: argStats, Spec: "t:syscalls:sys_exit_read():s64,char*:args->ret,$COMM#bytes read", Label: "bytes read", Title: "bytes read", Value: "bytes read", Expr: "args->ret", Rows: []argdistRow{
			{Key: keyParts{strKey("$COMM", "dd")}, Count: 77, Sum: 950565, Min: 12345, Max: 12345, Signed: true},
			{Key: keyParts{strKey("$COMM", "sshd")}, Count: 3, Sum: neg(3), Min: neg(11), Max: 52, Signed: true},
			{Key: keyParts{strKey("$COMM", "cat")}, Count: 13, Sum: 25000, Min: 1000, Max: 5000, Signed: true},
		}},
	}
}

// TestArgdistTextGolden pins the text layouts: bcc's -C table (rows
// ascending, "total calls", "retval = N", strings plain), bcc's log2
// histogram, per-key histograms under "expr = value" lines, the linear
// histogram and the -S table.
func TestArgdistTextGolden(t *testing.T) {
	for _, tc := range []struct {
		name   string
		tables []argdistTable
		top    int
	}{
		{"count.txt", adTables(), 0},
		{"count_top2.txt", adTables(), 2},
		{"hist.txt", adHists(), 0},
		{"hist_top1.txt", adHists(), 1},
		{"stats.txt", adStats(), 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			writeArgdistText(&b, adTime, tc.tables, tc.top)
			golden(t, "argdist/"+tc.name, b.String())
		})
	}
}

// TestArgdistJSONGolden pins --json: one object per interval, keys as
// objects of expression names (numbers, strings, pointers in hex), log2
// and linear buckets, statistics signed where the value is.
func TestArgdistJSONGolden(t *testing.T) {
	var b bytes.Buffer
	all := append(append(adTables(), adHists()...), adStats()...)
	if err := writeArgdistJSON(&b, adTime, all, 0); err != nil {
		t.Fatal(err)
	}
	if strings.Count(b.String(), "\n") != 1 || !json.Valid(b.Bytes()) || strings.Contains(b.String(), `\u003e`) {
		t.Fatalf("not one JSON line: %s", b.String())
	}
	var pretty bytes.Buffer
	json.Indent(&pretty, b.Bytes(), "", " ")
	golden(t, "argdist/all.json", pretty.String())
}

// TestArgdistSpecErrors: spec errors are usage errors pointing into the
// spec (a caret under the part at fault).
func TestArgdistSpecErrors(t *testing.T) {
	for _, tc := range []struct {
		o    ArgdistOptions
		want string // Caret rendering
	}{
		{ArgdistOptions{}, "at least one specifier is required"},
		{ArgdistOptions{Hists: []string{"p:c:malloc()"}},
			"error: -H needs an expression to aggregate, as in p:c:malloc():u64:arg1\n  p:c:malloc()\n  ^~~~~~~~~~~~\n"},
		{ArgdistOptions{Stats: []string{"t:a:b()"}}, "-S needs an expression"},
		{ArgdistOptions{Counts: []string{"p:c:malloc(size_t n):u64:$latency"}},
			"error: $latency and $entry() need a return probe (r:), whose entry btool probes too\n  p:c:malloc(size_t n):u64:$latency\n                           ^~~~~~~~\n"},
		{ArgdistOptions{Counts: []string{"t:a:b():u64:args->x:$entry(x) > 1"}}, "  t:a:b():u64:args->x:$entry(x) > 1\n                      ^~~~~~~~~\n"},
		{ArgdistOptions{Linears: []string{"0,10:t:a:b()::args->x"}}, "-L: expected MIN,MAX,STEP before the spec, got \"0,10\"\n  0,10:t:a:b()::args->x\n  ^~~~\n"},
		{ArgdistOptions{Linears: []string{"t:a:b()::args->x"}}, "-L: expected MIN,MAX,STEP before the spec, got \"t\""},
		{ArgdistOptions{Linears: []string{"0,1,1"}}, "-L: expected MIN,MAX,STEP:SPEC"},
		{ArgdistOptions{Linears: []string{"10,0,1:t:a:b()::args->x"}}, "MIN 10 must be below MAX 0"},
		{ArgdistOptions{Linears: []string{"0,10,0:t:a:b()::args->x"}}, `STEP "0" is not a positive integer`},
		{ArgdistOptions{Linears: []string{"0,100000000,1:t:a:b()::args->x"}}, "100000000 buckets, more than 65536"},
		{ArgdistOptions{Linears: []string{"a,10,1:t:a:b()::args->x"}}, `MIN "a" is not an integer`},
		{ArgdistOptions{Counts: []string{"x:c:f()"}}, "probe type must be 'p', 'r', 't', 'u', or 's'"},
		{ArgdistOptions{Counts: []string{"p::f():u64,u64:a"}}, "2 types but 1 expressions"},
	} {
		_, err := parseArgdistSpecs(tc.o)
		if err == nil {
			t.Errorf("%+v: no error", tc.o)
			continue
		}
		var ue *UsageError
		if !IsUsage(err) || !errors.As(err, &ue) {
			t.Errorf("%+v: %v is not a UsageError", tc.o, err)
			continue
		}
		got := err.Error()
		if ue.Spec != "" {
			got = specparse.Caret(ue.Spec, ue.Err)
		}
		if !strings.Contains(got, tc.want) {
			t.Errorf("%+v:\n got %q\nwant %q", tc.o, got, tc.want)
		}
	}
}

// TestHeadOfArgdist: exact names only; a "()" signature leaves the
// prototype to BTF/DWARF.
func TestHeadOfArgdist(t *testing.T) {
	for _, tc := range []struct {
		spec string
		want string
	}{
		{"p::vfs_read()", "kind=1 ret=false lib= func=vfs_read sig=false"},
		{"r::vfs_read(struct file *f)", "kind=1 ret=true lib= func=vfs_read sig=true"},
		{"t:sched:sched_switch()", "kind=2 ret=false lib=sched func=sched_switch sig=false"},
		{"p:c:malloc()", "kind=3 ret=false lib=c func=malloc sig=false"},
		{"u:/bin/node:gc__start()", "kind=4 ret=false lib=/bin/node func=gc__start sig=false"},
		{"t:sched:sched_*()", "argdist probes name one function or event: no wildcards"},
		{"t:s*:x()", "no wildcards"},
		{"s:software:page-faults()", "kind=5 ret=false lib=software func=page-faults sig=false"},
	} {
		p, err := specparse.ParseArgdist(tc.spec)
		if err != nil {
			t.Fatalf("%s: %v", tc.spec, err)
		}
		h, err := HeadOfArgdist(p, tc.spec)
		got := ""
		if err != nil {
			got = err.Error()
		} else {
			got = strings.Join([]string{"kind=" + string(rune('0'+h.Kind)), "ret=" + map[bool]string{true: "true", false: "false"}[h.Return],
				"lib=" + h.Library, "func=" + h.Func, "sig=" + map[bool]string{true: "true", false: "false"}[h.Signature != nil]}, " ")
			if !h.match(h.Func) || h.match(h.Func+"x") {
				t.Errorf("%s: match is not exact", tc.spec)
			}
		}
		if !strings.Contains(got, tc.want) {
			t.Errorf("%s: %q, want %q", tc.spec, got, tc.want)
		}
	}
}

// TestArgdistStash: the stash of $latency and $entry(x): a Go frame key on
// Go code, else a depth stack as deep as 16 levels fit in the stash's
// value.
func TestArgdistStash(t *testing.T) {
	fields := func(n int) []*compile.Value { return make([]*compile.Value, n) }
	for _, tc := range []struct {
		ts     bool
		fields int
		goCode bool
		depth  int
		key    compile.StashKey
	}{
		{true, 0, false, 16, compile.StashKeyThread},
		{true, 1, false, 15, compile.StashKeyThread}, // (256-8)/16
		{false, 2, false, 15, compile.StashKeyThread},
		{true, 5, false, 5, compile.StashKeyThread},
		{true, 31, false, 0, compile.StashKeyThread}, // no room for a stack: bcc's one slot
		{true, 2, true, 0, compile.StashKeyGoFrame},
	} {
		st := argdistStash("s", tc.ts, fields(tc.fields), tc.goCode)
		if st.Depth != tc.depth || st.Key != tc.key || st.Timestamp != tc.ts || len(st.Fields) != tc.fields {
			t.Errorf("%+v: depth %d key %s", tc, st.Depth, st.Key)
		}
		if st.Depth > 0 && st.Layout().ValueSize > compile.MaxStashValue {
			t.Errorf("%+v: value of %d bytes", tc, st.Layout().ValueSize)
		}
	}
}
