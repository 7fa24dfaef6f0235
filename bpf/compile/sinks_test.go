package compile

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"

	"github.com/btool/btool/specparse"
)

// TestAggLayout pins the key and value layouts the runtime decodes.
func TestAggLayout(t *testing.T) {
	pc := execArgs(true)
	vs := sinkValues(t, pc, ValueOptions{Types: []*specparse.TypeName{nil, {Name: "char", Ptr: 1}, nil}}, "a", "msg", "c")
	for _, tc := range []struct {
		name string
		s    *AggSink
		want string // part@offset/size:kind ... key=size slot=off value=size
	}{
		{"count", &AggSink{Agg: AggCount, StringSize: 16, Key: []KeyPart{
			{Kind: KeyTgid}, {Kind: KeyValue, Value: vs[0]}, {Kind: KeyValue, Value: vs[1]}, {Kind: KeyPid}, {Kind: KeyComm}, {Kind: KeyTarget}, {Kind: KeyKernelStack}, {Kind: KeyUserStack},
		}}, "tgid@0/4:2 value@8/8:1 value@16/17:3 pid@36/4:2 comm@40/16:3 target@56/8:2 kstack@64/4:1 ustack@68/4:1 key=72 slot=-1 slots=0 value=8 signed=false"},
		{"sum signed", &AggSink{Agg: AggSum, Value: vs[0], Key: []KeyPart{{Kind: KeyValue, Value: vs[2]}}},
			"value@0/8:2 key=8 slot=-1 slots=0 value=16 signed=true"},
		{"max unsigned, no key", &AggSink{Agg: AggMax, Value: vs[2]}, "key=8 slot=-1 slots=0 value=16 signed=false"},
		{"log2", &AggSink{Agg: AggLog2, Value: vs[2], Key: []KeyPart{{Kind: KeyTgid}}}, "tgid@0/4:2 key=16 slot=8 slots=66 value=8 signed=false"},
		{"log2 no key", &AggSink{Agg: AggLog2, Value: vs[2]}, "key=8 slot=0 slots=66 value=8 signed=false"},
		{"linear", &AggSink{Agg: AggLinear, Value: vs[0], Linear: Linear{Min: -5, Max: 100, Step: 10}}, "key=8 slot=0 slots=13 value=8 signed=true"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := tc.s.Layout()
			var b strings.Builder
			for _, f := range l.Key {
				fmt.Fprintf(&b, "%s@%d/%d:%d ", f.Part, f.Offset, f.Size, f.Kind)
			}
			fmt.Fprintf(&b, "key=%d slot=%d slots=%d value=%d signed=%v", l.KeySize, l.SlotOffset, l.Slots, l.ValueSize, l.ValueSigned)
			if b.String() != tc.want {
				t.Errorf("layout\n got %s\nwant %s", b.String(), tc.want)
			}
			maps := tc.s.Maps()
			if m := maps[0]; m.Type != ebpf.PerCPUHash || m.KeySize != uint32(l.KeySize) || m.ValueSize != uint32(l.ValueSize) || m.MaxEntries != DefaultAggEntries || m.Name != "agg" {
				t.Errorf("agg map %+v", m)
			}
			if m := maps[1]; m.Type != ebpf.PerCPUArray || m.MaxEntries != AggDrops || m.Name != "agg_drops" {
				t.Errorf("drops map %+v", m)
			}
		})
	}
}

// TestStashLayout pins the stash maps and where the return program finds
// the values.
func TestStashLayout(t *testing.T) {
	vs := sinkValues(t, execArgs(true), ValueOptions{}, "a", "b")
	st := &Stash{Map: "st", Timestamp: true, Fields: vs, MaxEntries: 99}
	l := st.Layout()
	if l.ValueSize != 24 || l.TimestampAt != 0 || fmt.Sprint(l.FieldsAt) != "[8 16]" {
		t.Fatalf("layout %+v", l)
	}
	maps := st.Maps()
	if m := maps[0]; m.Name != "st" || m.Type != ebpf.LRUHash || m.KeySize != 8 || m.ValueSize != 24 || m.MaxEntries != 99 {
		t.Fatalf("stash map %+v", m)
	}
	if m := maps[1]; m.Name != "st_drops" || m.Type != ebpf.PerCPUArray || m.MaxEntries != StashDrops {
		t.Fatalf("drops map %+v", m)
	}
	// The return program declares the stash maps too, identical specs.
	b := &Build{Filters: NoFilters, Stash: st, Sink: &AggSink{Agg: AggLog2, Value: st.Latency()}}
	var names []string
	for _, m := range b.Maps() {
		names = append(names, m.Name)
	}
	if got := strings.Join(names, " "); got != "st st_drops agg agg_drops" {
		t.Fatalf("return maps %s", got)
	}
	noTS := &Stash{Fields: vs[:1]}
	if noTS.Latency() != nil || noTS.Layout().ValueSize != 8 || noTS.Layout().TimestampAt != -1 {
		t.Fatalf("no timestamp: %+v", noTS.Layout())
	}
}

// TestSinkCode checks properties of the generated code: no atomics, no
// loops, the helpers each sink calls, and the stash load before the
// predicate.
func TestSinkCode(t *testing.T) {
	pc := execArgs(true)
	vs := sinkValues(t, pc, ValueOptions{}, "a", "b", "$comm")
	st := &Stash{Timestamp: true, Fields: vs[:2]}
	ret := sinkValues(t, pc, ValueOptions{Stash: st}, "$latency", "$entry(b)")
	ct, err := CheckTrace(mustParse(t, `f (a > 5)`), pc, CheckOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		b       *Build
		want    []string // substrings of the disassembly, in order
		notWant []string
	}{
		{"count", &Build{Sink: &AggSink{Agg: AggCount, Key: []KeyPart{{Kind: KeyValue, Value: vs[0]}}}},
			[]string{"LoadMapPtr dst: r1 fd: 0 <agg>", "FnMapLookupElem", "MovImm dst: r4 imm: 1", "FnMapUpdateElem", "imm: -17", "<agg_drops>"},
			[]string{"Atomic", "XAdd", "FnKtimeGetNs", "FnGetCurrentComm", "FnGetStackid"}},
		{"string key", &Build{Sink: &AggSink{Agg: AggCount, Key: []KeyPart{{Kind: KeyValue, Value: vs[2]}, {Kind: KeyComm}}}},
			[]string{"FnGetCurrentComm", "FnGetCurrentComm"}, nil},
		{"stacks", &Build{Sink: &AggSink{Agg: AggCount, Key: []KeyPart{{Kind: KeyKernelStack}, {Kind: KeyUserStack}}}},
			[]string{"<stacks>", "MovImm dst: r3 imm: 0\n", "FnGetStackid", "<agg_drops>", "<stacks>", "MovImm dst: r3 imm: 256", "FnGetStackid"}, nil},
		{"entry", &Build{Sink: &EntrySink{Stash: st}},
			[]string{"FnGetCurrentPidTgid", "FnKtimeGetNs", "<stash>", "MovImm dst: r4 imm: 0", "FnMapUpdateElem", "<stash_drops>"},
			[]string{"FnMapDeleteElem"}},
		{"return", &Build{Checked: ct, Stash: st, Sink: &AggSink{Agg: AggLog2, Value: ret[0], Key: []KeyPart{{Kind: KeyValue, Value: ret[1]}}}},
			[]string{"FnKtimeGetNs", "FnGetCurrentPidTgid", "FnMapLookupElem", "SubReg", "FnMapDeleteElem", "; filter: a > 5", "<agg>"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.b.Mode, tc.b.Filters = ModeRawTracepoint, NoFilters
			spec, err := Compile(tc.b)
			if err != nil {
				t.Fatal(err)
			}
			text := fmt.Sprint(spec.Instructions)
			rest := text
			for _, w := range tc.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("missing %q (in order) in\n%s", w, text)
				}
				rest = rest[i+len(w):]
			}
			for _, w := range tc.notWant {
				if strings.Contains(text, w) {
					t.Errorf("unexpected %q in\n%s", w, text)
				}
			}
			// No backward jumps but to the exit (from out-of-line
			// blocks after it): no loops, so any kernel's verifier.
			offs := map[string]int{}
			iter := spec.Instructions.Iterate()
			for iter.Next() {
				if sym := iter.Ins.Symbol(); sym != "" {
					offs[sym] = iter.Index
				}
			}
			exit := len(spec.Instructions)
			for i := 0; i+1 < len(spec.Instructions); i++ {
				if spec.Instructions[i+1].OpCode.JumpOp() == asm.Exit && exit == len(spec.Instructions) {
					exit = i
				}
			}
			iter = spec.Instructions.Iterate()
			for iter.Next() {
				if ref := iter.Ins.Reference(); ref != "" && iter.Ins.OpCode.Class().IsJump() {
					if at, ok := offs[ref]; ok && at <= iter.Index && at != exit {
						t.Errorf("backward jump at %d to %s", iter.Index, ref)
					}
				}
			}
			// Every map the code references is declared.
			declared := map[string]bool{}
			for _, m := range tc.b.Maps() {
				declared[m.Name] = true
			}
			for _, ins := range spec.Instructions {
				if ins.IsLoadFromMap() && !declared[ins.Reference()] {
					t.Errorf("map %s referenced but not declared", ins.Reference())
				}
			}
		})
	}
}

// TestSinkErrors checks what the sinks and CheckValues refuse.
func TestSinkErrors(t *testing.T) {
	pc := execArgs(true)
	vs := sinkValues(t, pc, ValueOptions{}, "a", "$comm")
	st := &Stash{Fields: vs[:1]}
	for _, tc := range []struct {
		name string
		b    *Build
		want string
	}{
		{"sum without value", &Build{Sink: &AggSink{Agg: AggSum}}, "sum aggregation needs an integer value"},
		{"sum of a string", &Build{Sink: &AggSink{Agg: AggSum, Value: vs[1]}}, "sum aggregation needs an integer value"},
		{"bad linear", &Build{Sink: &AggSink{Agg: AggLinear, Value: vs[0], Linear: Linear{Min: 5, Max: 5, Step: 1}}}, "min < max"},
		{"linear too big", &Build{Sink: &AggSink{Agg: AggLinear, Value: vs[0], Linear: Linear{Min: 0, Max: 1 << 40, Step: 1}}}, "buckets"},
		{"stash a string", &Build{Sink: &EntrySink{Stash: &Stash{Fields: vs[1:]}}}, "only integers and pointers"},
		{"empty stash", &Build{Sink: &EntrySink{Stash: &Stash{}}}, "nothing to stash"},
		{"key too big", &Build{Sink: &AggSink{Agg: AggCount, StringSize: 200, Key: []KeyPart{{Kind: KeyValue, Value: vs[1]}, {Kind: KeyValue, Value: vs[1]}, {Kind: KeyValue, Value: vs[1]}}}}, "BPF stack"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.b.Filters = NoFilters
			_, err := Compile(tc.b)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			if tc.want == "BPF stack" && !errors.Is(err, ErrTooComplex) {
				t.Fatalf("err = %v, want ErrTooComplex", err)
			}
		})
	}
	for _, tc := range []struct {
		exprs []string
		o     ValueOptions
		want  string
	}{
		{[]string{"$latency"}, ValueOptions{}, "col 9: $latency is only valid in argdist"},
		{[]string{"$latency"}, ValueOptions{Stash: st}, "col 9: $latency needs an entry timestamp"},
		{[]string{"$entry(b)"}, ValueOptions{Stash: st}, "col 16: $entry(b): not stashed at entry; did you mean a?"},
		{[]string{"$entry(a, b)"}, ValueOptions{Stash: st}, "$entry takes 1 argument"},
		{[]string{"$entry(a)"}, ValueOptions{}, "$entry() is only valid in argdist"},
		{[]string{"*s"}, ValueOptions{}, "not an integer, pointer or string"},
		{[]string{"a", "nosuch"}, ValueOptions{}, "unknown name 'nosuch'"},
		{[]string{"$comm"}, ValueOptions{Types: []*specparse.TypeName{{Name: "u64"}}}, "not a value of type"},
		{[]string{"a"}, ValueOptions{Types: []*specparse.TypeName{{Name: "struct file"}}}, "cannot store a struct file"},
	} {
		es := sinkExprs(t, tc.exprs...)
		_, err := CheckValues(es, pc, tc.o)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err = %v, want %q", tc.exprs, err, tc.want)
		}
	}
}

// TestCheckValuesTypes checks the kinds CheckValues gives and that a
// declared type converts.
func TestCheckValuesTypes(t *testing.T) {
	pc := execArgs(true)
	u8 := &specparse.TypeName{Name: "u8"}
	vs := sinkValues(t, pc, ValueOptions{Types: []*specparse.TypeName{nil, nil, nil, nil, u8, nil, nil, {Name: "char", Ptr: 1}}},
		"a", "b", "msg", "$comm", "a", "s->tag", "file->f_path.dentry->d_name.name", "file->f_path.dentry->d_name.name")
	var got []string
	for _, v := range vs {
		got = append(got, fmt.Sprintf("%s:%d", v.Expr, v.Kind))
	}
	want := fmt.Sprintf("a:%d b:%d msg:%d $comm:%d a:%d s->tag:%d file->f_path.dentry->d_name.name:%d file->f_path.dentry->d_name.name:%d",
		FieldInt, FieldUint, FieldAddr, FieldStr, FieldUint, FieldStr, FieldAddr, FieldStr)
	if strings.Join(got, " ") != want {
		t.Fatalf("got %s, want %s", strings.Join(got, " "), want)
	}
	if c, ok := vs[4].node.(*irConv); !ok || c.t != (intType{1, false}) {
		t.Fatalf("declared u8: node %#v", vs[4].node)
	}
}

// TestSinkHelperCalls counts helper calls per event: pid_tgid is fetched
// once per program however many parts need it.
func TestSinkHelperCalls(t *testing.T) {
	pc := execArgs(true)
	st := &Stash{Timestamp: true, Fields: sinkValues(t, pc, ValueOptions{}, "a")}
	for _, tc := range []struct {
		name string
		b    *Build
		want map[string]int
	}{
		{"tgid and pid", &Build{Sink: &AggSink{Agg: AggCount, Key: []KeyPart{{Kind: KeyTgid}, {Kind: KeyPid}}}},
			map[string]int{"FnGetCurrentPidTgid": 1, "FnMapLookupElem": 3, "FnMapUpdateElem": 1}},
		{"filtered", &Build{Filters: Filters{PID: 5, UID: -1, CPU: -1}, Sink: &AggSink{Agg: AggCount, Key: []KeyPart{{Kind: KeyTgid}, {Kind: KeyPid}}}},
			map[string]int{"FnGetCurrentPidTgid": 1}},
		{"funclatency return", &Build{Stash: st, Index: IndexSource{From: IndexCookie}, Sink: &AggSink{Agg: AggLog2, Value: st.Latency(), Key: []KeyPart{{Kind: KeyTarget}, {Kind: KeyTgid}}}},
			map[string]int{"FnGetCurrentPidTgid": 1, "FnKtimeGetNs": 1, "FnMapDeleteElem": 1, "FnGetAttachCookie": 1}},
		{"funclatency entry", &Build{Sink: &EntrySink{Stash: st}},
			map[string]int{"FnGetCurrentPidTgid": 1, "FnKtimeGetNs": 1, "FnMapUpdateElem": 1, "FnMapLookupElem": 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.b.Filters == (Filters{}) {
				tc.b.Filters = NoFilters
			}
			tc.b.Mode = ModeKprobe
			spec, err := Compile(tc.b)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]int{}
			for _, ins := range spec.Instructions {
				if ins.IsBuiltinCall() {
					got[asm.BuiltinFunc(ins.Constant).String()]++
				}
			}
			for fn, n := range tc.want {
				if got[fn] != n {
					t.Errorf("%s called %d times, want %d (all: %v)", fn, got[fn], n, got)
				}
			}
		})
	}
}

// TestAggMerge merges fabricated per-CPU values.
func TestAggMerge(t *testing.T) {
	u := func(vs ...uint64) []byte {
		var b []byte
		for _, v := range vs {
			b = binary.LittleEndian.AppendUint64(b, v)
		}
		return b
	}
	for _, tc := range []struct {
		l    AggLayout
		per  [][]byte
		want AggValue
	}{
		{AggLayout{Agg: AggCount, ValueSize: 8}, [][]byte{u(1), u(0), u(5)}, AggValue{Count: 6}},
		{AggLayout{Agg: AggLog2, ValueSize: 8}, [][]byte{u(2)}, AggValue{Count: 2}},
		{AggLayout{Agg: AggSum, ValueSize: 16}, [][]byte{u(10, 2), u(0, 0), u(s64(-3), 1)}, AggValue{Value: 7, Count: 3}},
		{AggLayout{Agg: AggMin, ValueSize: 16, ValueSigned: true}, [][]byte{u(0, 0), u(5, 1), u(s64(-2), 4)}, AggValue{Value: s64(-2), Count: 5}},
		{AggLayout{Agg: AggMin, ValueSize: 16}, [][]byte{u(0, 0), u(5, 1), u(s64(-2), 4)}, AggValue{Value: 5, Count: 5}},
		{AggLayout{Agg: AggMax, ValueSize: 16, ValueSigned: true}, [][]byte{u(0, 0), u(s64(-5), 1), u(s64(-2), 4)}, AggValue{Value: s64(-2), Count: 5}},
		{AggLayout{Agg: AggMax, ValueSize: 16}, [][]byte{u(9, 0), u(s64(-5), 1), u(3, 4)}, AggValue{Value: s64(-5), Count: 5}},
		{AggLayout{Agg: AggMax, ValueSize: 16}, [][]byte{u(9, 0)}, AggValue{}},
	} {
		if got := tc.l.Merge(tc.per); got != tc.want {
			t.Errorf("%s signed=%v %x: got %+v, want %+v", tc.l.Agg, tc.l.ValueSigned, tc.per, got, tc.want)
		}
	}
}

// TestHistRanges checks the slot ranges printers label histograms with
// against the slot the BPF code computes, modelled by bits.Len64.
func TestHistRanges(t *testing.T) {
	for s := 0; s <= 64; s++ {
		lo, hi, ok := Log2Range(s)
		if !ok || bits.Len64(lo) != s || bits.Len64(hi) != s || (s > 0 && bits.Len64(lo-1) == s) || (hi != math.MaxUint64 && bits.Len64(hi+1) == s) {
			t.Errorf("slot %d: %d..%d %v", s, lo, hi, ok)
		}
	}
	if _, _, ok := Log2Range(Log2Negative); ok {
		t.Error("negative slot has a range")
	}
	lin := Linear{Min: -5, Max: 20, Step: 10}
	var got []string
	for s := 0; s < int(lin.buckets())+2; s++ {
		lo, hi, under, over := lin.Range(s)
		switch {
		case under:
			got = append(got, fmt.Sprintf("<%d", hi))
		case over:
			got = append(got, fmt.Sprintf(">=%d", lo))
		default:
			got = append(got, fmt.Sprintf("[%d,%d)", lo, hi))
		}
	}
	if strings.Join(got, " ") != "<-5 [-5,5) [5,15) [15,20) >=20" {
		t.Errorf("linear ranges %s", got)
	}
}

// TestKeyFieldDecode decodes a fabricated key.
func TestKeyFieldDecode(t *testing.T) {
	vs := sinkValues(t, execArgs(true), ValueOptions{Types: []*specparse.TypeName{nil, {Name: "char", Ptr: 1}}}, "a", "msg")
	s := &AggSink{Agg: AggLog2, Value: vs[0], StringSize: 4, Key: []KeyPart{{Kind: KeyValue, Value: vs[0]}, {Kind: KeyValue, Value: vs[1]}, {Kind: KeyComm}, {Kind: KeyKernelStack}}}
	l := s.Layout()
	key := make([]byte, l.KeySize)
	le := binary.LittleEndian
	le.PutUint64(key[l.Key[0].Offset:], s64(-9))
	copy(key[l.Key[1].Offset:], "abc\x00\x01")
	copy(key[l.Key[2].Offset:], "bash")
	le.PutUint32(key[l.Key[3].Offset:], uint32(0xffffffef)) // -17
	le.PutUint64(key[l.SlotOffset:], 12)
	str, status := l.Key[1].String(key)
	comm, cstatus := l.Key[2].String(key)
	if l.Key[0].Int(key) != -9 || str != "abc" || status != StrTruncated || comm != "bash" || cstatus != StrOK || l.Key[3].Int(key) != -17 || l.Slot(key) != 12 {
		t.Fatalf("decoded %d %q %v %q %v %d %d", l.Key[0].Int(key), str, status, comm, cstatus, l.Key[3].Int(key), l.Slot(key))
	}
}

// TestSinkGolden pins the code of the funclatency and stackcount shapes
// as readable disassembly in testdata/sinks (regenerate with -update).
// Semantics are tested by the TestKernelSink tests.
func TestSinkGolden(t *testing.T) {
	st := &Stash{Timestamp: true, PerTarget: true}
	for _, tc := range []struct {
		file string
		b    *Build
	}{
		{"funclatency_entry", &Build{Mode: ModeKprobeMulti, Filters: Filters{PID: 1234, UID: -1, CPU: -1}, Index: IndexSource{From: IndexCookie}, Sink: &EntrySink{Stash: st}}},
		{"funclatency_return", &Build{Mode: ModeKprobeMulti, Return: true, Filters: Filters{PID: 1234, UID: -1, CPU: -1}, Stash: st, Index: IndexSource{From: IndexCookie},
			Sink: &AggSink{Agg: AggLog2, Value: st.Latency(), Key: []KeyPart{{Kind: KeyTarget}}}}},
		{"stackcount", &Build{Mode: ModeKprobe, Filters: NoFilters, Index: IndexSource{Value: 2},
			Sink: &AggSink{Agg: AggCount, Key: []KeyPart{{Kind: KeyTarget}, {Kind: KeyKernelStack}, {Kind: KeyUserStack}, {Kind: KeyTgid}, {Kind: KeyComm}}}}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			spec, err := Compile(tc.b)
			if err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			fmt.Fprintf(&b, "; %s: %d instructions; maps:", tc.file, len(spec.Instructions))
			for _, m := range tc.b.Maps() {
				fmt.Fprintf(&b, " %s(%s %d/%d/%d)", m.Name, m.Type, m.KeySize, m.ValueSize, m.MaxEntries)
			}
			fmt.Fprintf(&b, "\n%v", spec.Instructions)
			got := b.String()
			checkGolden(t, filepath.Join("testdata", "sinks", tc.file+".golden"), got)
		})
	}
}

// TestCheckValuesArgdist checks argdist's names and typing: $PID is the
// tgid (trace's $pid stays the thread id), $COMM the comm, and an
// undeclared char pointer is a string.
func TestCheckValuesArgdist(t *testing.T) {
	pc := execArgs(true)
	for _, tc := range []struct {
		expr string
		o    ValueOptions
		want string // "kind" or an error
	}{
		{"$PID", ValueOptions{Argdist: true}, fmt.Sprintf("kind %d special $tgid", FieldUint)},
		{"$pid", ValueOptions{Argdist: true}, fmt.Sprintf("kind %d special $pid", FieldUint)},
		{"$COMM", ValueOptions{Argdist: true}, fmt.Sprintf("kind %d", FieldStr)},
		{"file->f_path.dentry->d_name.name", ValueOptions{Argdist: true}, fmt.Sprintf("kind %d", FieldStr)},
		{"file->f_path.dentry->d_name.name", ValueOptions{Argdist: true, Types: []*specparse.TypeName{{Name: "u64"}}}, fmt.Sprintf("kind %d", FieldUint)},
		{"file->f_path.dentry->d_name.name", ValueOptions{}, fmt.Sprintf("kind %d", FieldAddr)},
		{"msg", ValueOptions{Argdist: true}, fmt.Sprintf("kind %d", FieldStr)},
		{"msg", ValueOptions{}, fmt.Sprintf("kind %d", FieldAddr)},
		{"$PID", ValueOptions{}, "unknown name '$PID'"},
		{"$COMM", ValueOptions{}, "unknown name '$COMM'"},
	} {
		t.Run(fmt.Sprintf("%s/%v", tc.expr, tc.o.Argdist), func(t *testing.T) {
			vs, err := CheckValues(sinkExprs(t, tc.expr), pc, tc.o)
			got := ""
			if err != nil {
				got = err.Error()
			} else {
				got = fmt.Sprintf("kind %d", vs[0].Kind)
				if sp, ok := vs[0].node.(*irSpecial); ok {
					got += " special " + sp.name
				}
			}
			if !strings.Contains(got, tc.want) {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
	f := sinkExprs(t, `$COMM == "cat" && $PID != 1`)[0]
	if _, err := CheckFilter(f, pc, ValueOptions{Argdist: true}); err != nil {
		t.Fatalf("filter with $COMM and $PID: %v", err)
	}
}
