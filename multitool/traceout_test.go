package multitool

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/btool/btool/bpf/compile"
	"github.com/btool/btool/internal/testutil"
	"github.com/btool/btool/multitool/symbolize"
	"github.com/btool/btool/specparse"
)

// The golden files of these tests are rewritten with `go test -update`.
// The flag is registered in init (after every package-level variable is
// initialized) and only if no other test file registered it already.
func init() {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite golden files in testdata")
	}
}

// trGolden compares got with testdata/trace/name, or rewrites the file with
// -update.
func trGolden(t *testing.T, name, got string) {
	t.Helper()
	golden(t, filepath.Join("trace", name), got)
}

// golden compares got with testdata/path, or rewrites the file with
// -update.
func golden(t *testing.T, path, got string) {
	t.Helper()
	testutil.Golden(t, path, got)
}

// fakeSym is a Symbolizer with a few fixed symbols.
type fakeSym struct{}

const (
	fakeVfsRead  = 0xffffffff81234560
	fakeOpenat   = 0xffffffff81300000
	fakeMain     = 0x401000
	fakeLibc     = 0x7f0000001000
	fakeNoModule = 0x9000
)

func (fakeSym) Kernel(addr uint64) (string, uint64, bool) {
	switch {
	case addr >= fakeVfsRead && addr < fakeVfsRead+0x100:
		return "vfs_read", addr - fakeVfsRead, true
	case addr >= fakeOpenat && addr < fakeOpenat+0x100:
		return "do_sys_openat2", addr - fakeOpenat, true
	}
	return "", 0, false
}

func (fakeSym) User(pid uint32, addr uint64) (string, uint64, string, bool) {
	if pid != 42 {
		return "", 0, "", false
	}
	switch {
	case addr >= fakeMain && addr < fakeMain+0x100:
		return "main", addr - fakeMain, "/usr/bin/app", true
	case addr >= fakeMain+0x100 && addr < fakeMain+0x200:
		return "ns::Foo::bar(int)", addr - fakeMain - 0x100, "/usr/lib/libfoo.so.1", true
	case addr >= fakeLibc && addr < fakeLibc+0x1000:
		return "", 0, "/lib/x86_64-linux-gnu/libc.so.6", false
	case addr >= 0x7fff0000 && addr < 0x7fff1000:
		return "", 0, "[vdso]", false
	}
	return "", 0, "", false
}

// recordBuilder builds trace records and their layout.
type recordBuilder struct {
	rec    []byte
	layout compile.EventLayout
}

func newRecord(ts uint64, tgid, tid, cpu, probe uint32, target uint64, comm string, kstack, ustack int32, uid uint32) *recordBuilder {
	r := &recordBuilder{rec: make([]byte, compile.HdrSize)}
	le := binary.LittleEndian
	le.PutUint64(r.rec[compile.HdrTimestamp:], ts)
	le.PutUint64(r.rec[compile.HdrPidTgid:], uint64(tgid)<<32|uint64(tid))
	le.PutUint32(r.rec[compile.HdrCPU:], cpu)
	le.PutUint32(r.rec[compile.HdrProbe:], probe)
	le.PutUint64(r.rec[compile.HdrTarget:], target)
	copy(r.rec[compile.HdrComm:compile.HdrComm+15], comm)
	le.PutUint32(r.rec[compile.HdrKStack:], uint32(kstack))
	le.PutUint32(r.rec[compile.HdrUStack:], uint32(ustack))
	le.PutUint32(r.rec[compile.HdrUID:], uid)
	return r
}

// add appends a field of kind and size holding raw (integers little endian;
// strings with a truncation flag byte).
func (r *recordBuilder) add(kind compile.FieldKind, size int, verb, expr string, raw []byte) *recordBuilder {
	for len(r.rec)%8 != 0 && size > 1 {
		r.rec = append(r.rec, 0)
	}
	verbs, err := specparse.ParseFormat(verb)
	if err != nil {
		panic(err)
	}
	r.layout.Fields = append(r.layout.Fields, compile.FieldLayout{Offset: len(r.rec), Size: size, Kind: kind, Verb: verbs[0], Expr: expr})
	b := make([]byte, size)
	copy(b, raw)
	r.rec = append(r.rec, b...)
	r.layout.Size = len(r.rec)
	return r
}

func (r *recordBuilder) int(kind compile.FieldKind, size int, verb, expr string, v uint64) *recordBuilder {
	b := binary.LittleEndian.AppendUint64(nil, v)
	return r.add(kind, size, verb, expr, b[:size])
}

func (r *recordBuilder) str(size int, expr, s string, truncated bool) *recordBuilder {
	b := make([]byte, size)
	copy(b[:size-1], s)
	if truncated {
		b[size-1] = 1
	}
	return r.add(compile.FieldStr, size, "%s", expr, b)
}

func TestDecodeTrace(t *testing.T) {
	r := newRecord(123456789, 1000, 1001, 3, 2, 5, "bash", 7, -14, 1500).
		int(compile.FieldInt, 4, "%d", "arg1", uint64(0xfffffffe)). // -2
		int(compile.FieldUint, 2, "%hu", "arg2", 0xfffe).
		str(9, "arg3", "hello", false).
		str(5, "arg4", "abcd", true).
		int(compile.FieldChar, 1, "%c", "arg5", 'A').
		int(compile.FieldAddr, 8, "%K", "arg6", fakeVfsRead).
		int(compile.FieldInt, 1, "%d", "arg7", 0x80). // -128
		int(compile.FieldInt, 8, "%lld", "arg8", 1<<63).
		int(compile.FieldUint, 8, "%llu", "arg9", 1<<63)
	r.rec = append(r.rec, 0, 0, 0, 0) // perf buffers may pad records
	ev, err := DecodeTrace(r.rec, &r.layout)
	if err != nil {
		t.Fatal(err)
	}
	want := TraceEvent{Time: 123456789, PID: 1000, TID: 1001, CPU: 3, Probe: 2, Target: 5, Comm: "bash", UID: 1500, KStack: 7, UStack: -14}
	if ev.Time != want.Time || ev.PID != want.PID || ev.TID != want.TID || ev.CPU != want.CPU || ev.Probe != want.Probe ||
		ev.Target != want.Target || ev.Comm != want.Comm || ev.UID != want.UID || ev.KStack != want.KStack || ev.UStack != want.UStack {
		t.Errorf("header: have %+v, want %+v", ev, want)
	}
	type v struct {
		kind      compile.FieldKind
		i         int64
		u         uint64
		s         string
		truncated bool
		expr      string
	}
	var vfsRead uint64 = fakeVfsRead
	wantVals := []v{
		{compile.FieldInt, -2, 0xfffffffe, "", false, "arg1"},
		{compile.FieldUint, 0xfffe, 0xfffe, "", false, "arg2"},
		{compile.FieldStr, 0, 0, "hello", false, "arg3"},
		{compile.FieldStr, 0, 0, "abcd", true, "arg4"},
		{compile.FieldChar, 'A', 'A', "", false, "arg5"},
		{compile.FieldAddr, int64(vfsRead), vfsRead, "", false, "arg6"},
		{compile.FieldInt, -128, 0x80, "", false, "arg7"},
		{compile.FieldInt, -1 << 63, 1 << 63, "", false, "arg8"},
		{compile.FieldUint, -1 << 63, 1 << 63, "", false, "arg9"},
	}
	if len(ev.Values) != len(wantVals) {
		t.Fatalf("have %d values, want %d", len(ev.Values), len(wantVals))
	}
	for i, w := range wantVals {
		h := ev.Values[i]
		have := v{h.Kind, h.Int, h.Uint, h.Str, h.Truncated, h.Expr}
		if have != w {
			t.Errorf("value %d: have %+v, want %+v", i, have, w)
		}
		if h.Verb != r.layout.Fields[i].Verb {
			t.Errorf("value %d: verb %+v, want %+v", i, h.Verb, r.layout.Fields[i].Verb)
		}
	}
	p, err := TraceRecordProbe(r.rec)
	if err != nil || p != 2 {
		t.Errorf("TraceRecordProbe = %d, %v; want 2", p, err)
	}
}

func TestDecodeTraceFullComm(t *testing.T) {
	r := newRecord(1, 1, 1, 0, 0, 0, "", -1, -1, 0)
	copy(r.rec[compile.HdrComm:], "0123456789abcdef") // no NUL at all
	r.layout.Size = len(r.rec)
	ev, err := DecodeTrace(r.rec, &r.layout)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Comm != "0123456789abcdef" {
		t.Errorf("comm %q", ev.Comm)
	}
}

func TestDecodeTraceErrors(t *testing.T) {
	good := newRecord(1, 2, 3, 0, 0, 0, "x", -1, -1, 0).int(compile.FieldInt, 4, "%d", "a", 1).str(9, "s", "hi", false)
	field := func(f compile.FieldLayout) *compile.EventLayout {
		return &compile.EventLayout{Size: compile.HdrSize, Fields: []compile.FieldLayout{f}}
	}
	hdr := make([]byte, compile.HdrSize)
	tests := []struct {
		name   string
		rec    []byte
		layout *compile.EventLayout
	}{
		{"empty", nil, &good.layout},
		{"short header", good.rec[:compile.HdrSize-1], &compile.EventLayout{Size: 0}},
		{"shorter than layout", good.rec[:len(good.rec)-1], &good.layout},
		{"nil layout", good.rec, nil},
		{"field past end", hdr, field(compile.FieldLayout{Offset: compile.HdrSize, Size: 4, Kind: compile.FieldInt})},
		{"field huge offset", hdr, field(compile.FieldLayout{Offset: 1 << 62, Size: 4, Kind: compile.FieldInt})},
		{"field negative offset", hdr, field(compile.FieldLayout{Offset: -4, Size: 4, Kind: compile.FieldInt})},
		{"field zero size", hdr, field(compile.FieldLayout{Offset: 0, Size: 0, Kind: compile.FieldStr})},
		{"int size 3", hdr, field(compile.FieldLayout{Offset: 0, Size: 3, Kind: compile.FieldInt})},
		{"addr size 2", hdr, field(compile.FieldLayout{Offset: 0, Size: 2, Kind: compile.FieldAddr})},
		{"unknown kind", hdr, field(compile.FieldLayout{Offset: 0, Size: 4, Kind: 99})},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeTrace(tc.rec, tc.layout)
			if !errors.Is(err, ErrBadTraceRecord) {
				t.Errorf("have %v, want an error wrapping ErrBadTraceRecord", err)
			}
		})
	}
	if _, err := TraceRecordProbe(hdr[:10]); !errors.Is(err, ErrBadTraceRecord) {
		t.Errorf("TraceRecordProbe(short): %v", err)
	}
}

// TestDecodeTraceRandom feeds random records and layouts: errors are fine,
// panics are not.
func TestDecodeTraceRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var d TraceDecoder
	var ev TraceEvent
	for range 20000 {
		rec := make([]byte, rng.IntN(160))
		for i := range rec {
			rec[i] = byte(rng.Uint32())
		}
		l := &compile.EventLayout{Size: rng.IntN(200)}
		for range rng.IntN(5) {
			l.Fields = append(l.Fields, compile.FieldLayout{
				Offset: rng.IntN(200) - 20,
				Size:   rng.IntN(20) - 2,
				Kind:   compile.FieldKind(rng.IntN(7)),
			})
		}
		_ = d.Decode(rec, l, &ev)
	}
}

func TestTraceDecoderAllocs(t *testing.T) {
	r := newRecord(1, 2, 3, 0, 0, 0, "comm", -1, -1, 0).
		int(compile.FieldInt, 4, "%d", "a", 1).
		int(compile.FieldAddr, 8, "%p", "b", 2).
		int(compile.FieldChar, 1, "%c", "c", 'x')
	var d TraceDecoder
	var ev TraceEvent
	if err := d.Decode(r.rec, &r.layout, &ev); err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(100, func() {
		if err := d.Decode(r.rec, &r.layout, &ev); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("Decode allocates %v times per record without strings, want 0", allocs)
	}
}

func TestFormatMessage(t *testing.T) {
	i := func(verb string, v int64) TraceValue {
		return TraceValue{Kind: compile.FieldInt, Int: v, Uint: uint64(v)}
	}
	i32 := func(v int32) TraceValue {
		return TraceValue{Kind: compile.FieldInt, Int: int64(v), Uint: uint64(uint32(v))}
	}
	u := func(v uint64) TraceValue { return TraceValue{Kind: compile.FieldUint, Int: int64(v), Uint: v} }
	s := func(v string, trunc bool) TraceValue {
		return TraceValue{Kind: compile.FieldStr, Str: v, Truncated: trunc}
	}
	c := func(b byte) TraceValue {
		return TraceValue{Kind: compile.FieldChar, Int: int64(int8(b)), Uint: uint64(b)}
	}
	a := func(v uint64) TraceValue { return TraceValue{Kind: compile.FieldAddr, Int: int64(v), Uint: v} }
	tests := []struct {
		format string
		vals   []TraceValue
		pid    uint32
		want   string
	}{
		{"no verbs", nil, 0, "no verbs"},
		{"100%% done", nil, 0, "100% done"},
		{"%d", []TraceValue{i("d", -42)}, 0, "-42"},
		{"%i", []TraceValue{i("i", 7)}, 0, "7"},
		{"[%5d]", []TraceValue{i("d", 42)}, 0, "[   42]"},
		{"[%-5d]", []TraceValue{i("d", 42)}, 0, "[42   ]"},
		{"[%05d]", []TraceValue{i("d", -42)}, 0, "[-0042]"},
		{"[%-05d]", []TraceValue{i("d", -42)}, 0, "[-42  ]"},
		{"[%+d] [%+d]", []TraceValue{i("d", 5), i("d", -5)}, 0, "[+5] [-5]"},
		{"[% d]", []TraceValue{i("d", 5)}, 0, "[ 5]"},
		{"%lld", []TraceValue{i("lld", -1<<63)}, 0, "-9223372036854775808"},
		{"%d", []TraceValue{u(3000000000)}, 0, "3000000000"},
		{"%u", []TraceValue{i32(-1)}, 0, "4294967295"},
		{"%+u", []TraceValue{u(5)}, 0, "5"},
		{"%llu", []TraceValue{u(1<<64 - 1)}, 0, "18446744073709551615"},
		{"%hu %hd", []TraceValue{u(65535), i("hd", -1)}, 0, "65535 -1"},
		{"%x", []TraceValue{u(255)}, 0, "ff"},
		{"%X", []TraceValue{u(255)}, 0, "FF"},
		{"%x", []TraceValue{i32(-1)}, 0, "ffffffff"},
		{"%08x", []TraceValue{u(255)}, 0, "000000ff"},
		{"[%-8x]", []TraceValue{u(255)}, 0, "[ff      ]"},
		{"%#x %#X %#x", []TraceValue{u(255), u(255), u(0)}, 0, "0xff 0XFF 0"},
		{"%#08x", []TraceValue{u(255)}, 0, "0x0000ff"},
		{"%llx", []TraceValue{u(0xffff888012345678)}, 0, "ffff888012345678"},
		{"%lx", []TraceValue{u(0xdeadbeef)}, 0, "deadbeef"},
		{"%c%c", []TraceValue{c('o'), c('k')}, 0, "ok"},
		{"[%3c]", []TraceValue{c('x')}, 0, "[  x]"},
		{"%c", []TraceValue{c(0xe9)}, 0, "é"},
		{"%s", []TraceValue{s("hello", false)}, 0, "hello"},
		{"[%8s]", []TraceValue{s("héllo", false)}, 0, "[   héllo]"},
		{"[%-8s]", []TraceValue{s("hi", false)}, 0, "[hi      ]"},
		{"[%2s]", []TraceValue{s("long", false)}, 0, "[long]"},
		{"%s", []TraceValue{s("/very/long/pa", true)}, 0, "/very/long/pa..."},
		{"%s", []TraceValue{s("a\xffb\xe2\x82", false)}, 0, "a\uFFFDb\uFFFD\uFFFD"},
		{"%s", []TraceValue{s("", false)}, 0, ""},
		{"%s", []TraceValue{i("d", -3)}, 0, "-3"},
		{"%p", []TraceValue{a(0xdead)}, 0, "0xdead"},
		{"%p", []TraceValue{a(0)}, 0, "0x0"},
		{"[%10p]", []TraceValue{a(0xbeef)}, 0, "[    0xbeef]"},
		{"%K", []TraceValue{a(fakeVfsRead)}, 0, "vfs_read+0x0"},
		{"%K", []TraceValue{a(fakeOpenat + 0x1c)}, 0, "do_sys_openat2+0x1c"},
		{"%K", []TraceValue{a(0xffffffff90000000)}, 0, "0xffffffff90000000"},
		{"[%-16K]", []TraceValue{a(fakeVfsRead + 3)}, 0, "[vfs_read+0x3    ]"},
		{"%U", []TraceValue{a(fakeMain + 0x10)}, 42, "main+0x10 [app]"},
		{"%U", []TraceValue{a(fakeMain + 0x104)}, 42, "ns::Foo::bar(int)+0x4 [libfoo.so.1]"},
		{"%U", []TraceValue{a(fakeLibc + 5)}, 42, "[unknown] [libc.so.6]"},
		{"%U", []TraceValue{a(0x7fff0010)}, 42, "[unknown] [vdso]"},
		{"%U", []TraceValue{a(fakeNoModule)}, 42, "[unknown]"},
		{"%U", []TraceValue{a(fakeMain)}, 7, "[unknown]"},
		{"read %d bytes from %s (fd %u)", []TraceValue{i("d", 4096), s("/etc/passwd", false), u(3)}, 0, "read 4096 bytes from /etc/passwd (fd 3)"},
		{"%d and %d", []TraceValue{i("d", 1)}, 0, "1 and %d"},
	}
	for _, tc := range tests {
		t.Run(tc.format, func(t *testing.T) {
			verbs, err := specparse.ParseFormat(tc.format)
			if err != nil {
				t.Fatal(err)
			}
			have := FormatMessage(verbs, tc.vals, fakeSym{}, tc.pid)
			if have != tc.want {
				t.Errorf("have %q, want %q", have, tc.want)
			}
		})
	}
}

func TestFormatMessageNilSymbolizer(t *testing.T) {
	verbs, _ := specparse.ParseFormat("%K %U")
	vals := []TraceValue{{Kind: compile.FieldAddr, Uint: fakeVfsRead}, {Kind: compile.FieldAddr, Uint: fakeMain}}
	if have, want := FormatMessage(verbs, vals, nil, 42), "0xffffffff81234560 [unknown]"; have != want {
		t.Errorf("have %q, want %q", have, want)
	}
}

// traceClock is the fixed Clock of the golden tests.
var traceClock = Clock{BootNS: 5_000_000_000, Wall: time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC)}

func traceGoldenEvents() []*TraceEvent {
	return []*TraceEvent{
		{Time: traceClock.BootNS + 1_234_567_891, PID: 4490, TID: 4490, CPU: 3, Comm: "dd"},
		{Time: traceClock.BootNS + 12_345_678_901_234, PID: 1234567, TID: 12345678, CPU: 127, Comm: "0123456789abcde"},
		{Time: traceClock.BootNS - 2_000_000, PID: 1, TID: 1, CPU: 1000, Comm: "bad\xffutf8"},
	}
}

func TestTraceColumnsGolden(t *testing.T) {
	var b strings.Builder
	funcs := []string{"sys_read", "block_rq_complete", "vfs_read"}
	for _, tm := range []TimeMode{TimeNone, TimeRelative, TimeUnix, TimeClock} {
		for _, cpu := range []bool{false, true} {
			for _, hasFmt := range []bool{false, true} {
				cols := TraceColumns{Time: tm, CPU: cpu, HasFormat: hasFmt}
				fmt.Fprintf(&b, "## time=%d cpu=%v format=%v\n", tm, cpu, hasFmt)
				fmt.Fprintf(&b, "%s|\n", cols.Header())
				for i, ev := range traceGoldenEvents() {
					msg := ""
					if hasFmt {
						msg = fmt.Sprintf("read %d bytes", 1<<(10+i))
					}
					fmt.Fprintf(&b, "%s|\n", cols.Line(ev, funcs[i], msg, traceClock))
				}
			}
		}
	}
	trGolden(t, "columns.golden", b.String())
}

// TestTraceColumnsBcc checks lines against bcc's documented example.
func TestTraceColumnsBcc(t *testing.T) {
	cols := TraceColumns{HasFormat: true}
	if have, want := cols.Header(), "PID     TID     COMM            FUNC             -"; have != want {
		t.Errorf("header %q, want %q", have, want)
	}
	cols = TraceColumns{Time: TimeRelative, CPU: true, HasFormat: true}
	if have, want := cols.Header(), "TIME     CPU PID     TID     COMM            FUNC             -"; have != want {
		t.Errorf("header %q, want %q", have, want)
	}
	ev := &TraceEvent{PID: 4490, TID: 4490, Comm: "dd"}
	if have, want := (TraceColumns{}).Line(ev, "sys_read", "read 1048576 bytes", traceClock), "4490    4490    dd              sys_read         read 1048576 bytes"; have != want {
		t.Errorf("line %q, want %q", have, want)
	}
}

func TestClock(t *testing.T) {
	c := NewClock()
	if c.BootNS == 0 || c.Wall.IsZero() {
		t.Fatalf("NewClock() = %+v", c)
	}
	if d := time.Since(c.Time(c.BootNS)); d < 0 || d > time.Minute {
		t.Errorf("Time(BootNS) is %v before now", d)
	}
	if have, want := traceClock.Time(traceClock.BootNS-1e9), traceClock.Wall.Add(-time.Second); !have.Equal(want) {
		t.Errorf("Time before BootNS: have %v, want %v", have, want)
	}
}

func TestLostMessage(t *testing.T) {
	if have, want := LostMessage(17), "Possibly lost 17 samples"; have != want {
		t.Errorf("have %q, want %q", have, want)
	}
}

func traceJSONEvent() *TraceEvent {
	return &TraceEvent{
		Time: traceClock.BootNS + 1_500_000_001, PID: 42, TID: 43, CPU: 2, UID: 1000, Comm: "app\"\x01",
		KStack: 3, UStack: -14,
		KAddrs: []uint64{fakeVfsRead + 5, 0xffffffff90000000},
		Values: []TraceValue{
			{Kind: compile.FieldInt, Int: -5, Uint: 0xfffffffb, Verb: specparse.Verb{Conv: "d"}, Expr: "arg1"},
			{Kind: compile.FieldUint, Int: 7, Uint: 7, Verb: specparse.Verb{Conv: "x"}, Expr: "arg1"},
			{Kind: compile.FieldStr, Str: "/etc/pa", Truncated: true, Verb: specparse.Verb{Conv: "s"}, Expr: "args->filename"},
			{Kind: compile.FieldStr, Str: "bad\xff", Verb: specparse.Verb{Conv: "s"}, Expr: "arg1"},
			{Kind: compile.FieldChar, Int: 'q', Uint: 'q', Verb: specparse.Verb{Conv: "c"}, Expr: "c"},
			{Kind: compile.FieldAddr, Uint: fakeVfsRead + 3, Verb: specparse.Verb{Conv: "K"}, Expr: "$ip"},
			{Kind: compile.FieldAddr, Uint: fakeMain + 1, Verb: specparse.Verb{Conv: "U"}, Expr: "arg2"},
			{Kind: compile.FieldAddr, Uint: fakeLibc, Verb: specparse.Verb{Conv: "U"}, Expr: "arg3"},
			{Kind: compile.FieldAddr, Uint: 0x1000, Verb: specparse.Verb{Conv: "p"}, Expr: ""},
			{Kind: compile.FieldUint, Uint: 1<<64 - 1, Verb: specparse.Verb{Conv: "llu"}, Expr: "big"},
		},
	}
}

func TestTraceJSON(t *testing.T) {
	ev := traceJSONEvent()
	b, err := TraceJSON(ev, "vfs_read", "msg <&> \u2028", traceClock, fakeSym{})
	if err != nil {
		t.Fatal(err)
	}
	trGolden(t, "event.json.golden", string(b)+"\n")
	if !json.Valid(b) {
		t.Fatalf("invalid JSON: %s", b)
	}

	var m map[string]any
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(&m); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"time":    "2024-05-06T07:08:10.62345679Z",
		"ts_ns":   json.Number("6500000001"),
		"cpu":     json.Number("2"),
		"pid":     json.Number("42"),
		"tid":     json.Number("43"),
		"uid":     json.Number("1000"),
		"comm":    "app\"\x01",
		"func":    "vfs_read",
		"message": "msg <&> \u2028",
		"args": map[string]any{
			"arg1":           json.Number("-5"),
			"arg1#2":         json.Number("7"),
			"args->filename": "/etc/pa",
			"arg1#3":         "bad\uFFFD",
			"c":              "q",
			"$ip":            map[string]any{"addr": "0xffffffff81234563", "sym": "vfs_read+0x3"},
			"arg2":           map[string]any{"addr": "0x401001", "sym": "main+0x1", "module": "/usr/bin/app"},
			"arg3":           map[string]any{"addr": "0x7f0000001000", "module": "/lib/x86_64-linux-gnu/libc.so.6"},
			"arg9":           map[string]any{"addr": "0x1000"},
			"big":            json.Number("18446744073709551615"),
		},
		"truncated": []any{"args->filename"},
		"kstack": []any{
			map[string]any{"addr": "0xffffffff81234565", "sym": "vfs_read+0x5"},
			map[string]any{"addr": "0xffffffff90000000"},
		},
		"ustack": []any{},
	}
	for k, w := range want {
		if have := fmt.Sprint(m[k]); have != fmt.Sprint(w) {
			t.Errorf("%s: have %s, want %s", k, have, fmt.Sprint(w))
		}
	}
	for k := range m {
		if _, ok := want[k]; !ok {
			t.Errorf("unexpected key %q", k)
		}
	}
	if _, err := TraceJSON(nil, "", "", traceClock, nil); err == nil {
		t.Error("TraceJSON(nil) did not fail")
	}
}

func TestTraceJSONMinimal(t *testing.T) {
	ev := &TraceEvent{Time: traceClock.BootNS, PID: 1, TID: 1, Comm: "init", KStack: -1, UStack: 0}
	b, err := TraceJSON(ev, "t", "", traceClock, nil)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	if _, ok := m["truncated"]; ok {
		t.Error("truncated present without truncated strings")
	}
	if _, ok := m["kstack"]; ok {
		t.Error("kstack present though not collected")
	}
	if us, ok := m["ustack"].([]any); !ok || len(us) != 0 {
		t.Errorf("ustack = %#v, want []", m["ustack"])
	}
	if args, ok := m["args"].(map[string]any); !ok || len(args) != 0 {
		t.Errorf("args = %#v, want {}", m["args"])
	}
	last := -1
	for _, k := range []string{"time", "ts_ns", "cpu", "pid", "tid", "uid", "comm", "func", "args", "message", "ustack"} {
		i := bytes.Index(b, []byte(`"`+k+`":`))
		if i <= last {
			t.Errorf("key %s missing or out of order: %s", k, b)
		}
		last = i
	}
}

func TestTraceJSONAllocsSmall(t *testing.T) {
	ev := traceJSONEvent()
	allocs := testing.AllocsPerRun(50, func() {
		if _, err := TraceJSON(ev, "f", "m", traceClock, fakeSym{}); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 16 { // about 5 normally, more under -race
		t.Errorf("TraceJSON allocates %v times per event", allocs)
	}
}

// TestTraceJSONStackErrors: an empty stack is [], a failed one names why
// (never a raw errno).
func TestTraceJSONStackErrors(t *testing.T) {
	ev := &TraceEvent{Time: traceClock.BootNS, PID: 1, TID: 1, Comm: "init", KStack: -14, UStack: -17}
	b, err := TraceJSON(ev, "t", "", traceClock, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"kstack":[]`) || !strings.Contains(string(b), `"ustack_error":"stack map hash collision"`) {
		t.Errorf("stacks: %s", b)
	}
}

// TestTraceStringStatusGolden decodes strings with each status byte the
// programs write (read, truncated, fault, NULL), counts the faults in the
// decoder and renders the text and JSON output.
func TestTraceStringStatusGolden(t *testing.T) {
	mk := func(status byte) *recordBuilder {
		r := newRecord(traceClock.BootNS, 42, 43, 0, 0, 0, "cat", -1, -1, 0)
		for i, st := range []byte{compile.StrOK, compile.StrTruncated, compile.StrFault, compile.StrNull} {
			if i == 0 {
				st = status
			}
			b := make([]byte, 9)
			if st == compile.StrOK || st == compile.StrTruncated {
				copy(b, "filename")
			}
			b[8] = st
			r.add(compile.FieldStr, 9, "%s", fmt.Sprintf("arg%d", i+1), b)
		}
		return r
	}
	verbs, err := specparse.ParseFormat("[%s] [%s] [%-9s] [%s]")
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	var d TraceDecoder
	var ev TraceEvent
	for _, st := range []byte{compile.StrOK, compile.StrFault} {
		r := mk(st)
		if err := d.Decode(r.rec, &r.layout, &ev); err != nil {
			t.Fatal(err)
		}
		msg := FormatMessage(verbs, ev.Values, nil, ev.PID)
		fmt.Fprintf(&out, "%s\n", msg)
		j, err := TraceJSON(&ev, "f", msg, traceClock, nil)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&out, "%s\n", j)
	}
	fmt.Fprintf(&out, "faults: %d\n", d.Faults)
	if d.Faults != 3 {
		t.Errorf("Faults = %d, want 3", d.Faults)
	}
	trGolden(t, "strstatus.golden", out.String())
}

// fakeFrameSym adds kernel modules to fakeSym: fakeOpenat is in "ext4".
type fakeFrameSym struct{ fakeSym }

func (f fakeFrameSym) KernelFrame(addr uint64) (symbolize.Frame, bool) {
	name, off, ok := f.Kernel(addr)
	fr := symbolize.Frame{Name: name, Off: off}
	if ok && name == "do_sys_openat2" {
		fr.Module = "ext4"
	}
	return fr, ok
}

func (f fakeFrameSym) UserFrames(pid uint32, addr uint64, dst []symbolize.Frame) []symbolize.Frame {
	name, off, module, _ := f.User(pid, addr)
	return append(dst, symbolize.Frame{Name: name, Off: off, Module: module})
}

// TestTraceJSONKernelModule checks that kernel frames of a module name it
// in JSON, and core kernel frames name no module.
func TestTraceJSONKernelModule(t *testing.T) {
	ev := &TraceEvent{Time: traceClock.BootNS, PID: 42, TID: 42, Comm: "app", KStack: 1, UStack: -1,
		KAddrs: []uint64{fakeOpenat + 4, fakeVfsRead + 1}}
	b, err := TraceJSON(ev, "t", "", traceClock, fakeFrameSym{})
	if err != nil {
		t.Fatal(err)
	}
	want := `"kstack":[{"addr":"0xffffffff81300004","sym":"do_sys_openat2+0x4","module":"ext4"},{"addr":"0xffffffff81234561","sym":"vfs_read+0x1"}]`
	if !strings.Contains(string(b), want) {
		t.Errorf("JSON %s\nlacks %s", b, want)
	}
}
