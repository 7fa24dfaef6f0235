package compile

import (
	"bytes"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	ebtf "github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/perf"
	"github.com/cilium/ebpf/ringbuf"
	"golang.org/x/sys/unix"

	"github.com/btool/btool/bpf/feature"
	"github.com/btool/btool/btf"
	"github.com/btool/btool/internal/testutil"
	"github.com/btool/btool/specparse"
)

var update = flag.Bool("update", false, "update golden files in testdata/trace")

// traceMaps are the maps a trace program references.
type traceMaps struct {
	events, lost, stacks, scratch *ebpf.Map
	rd                            *ringbuf.Reader
}

func newTraceMaps(t *testing.T, perf bool, scratchSize int) *traceMaps {
	t.Helper()
	m := &traceMaps{}
	mk := func(spec *ebpf.MapSpec) *ebpf.Map {
		t.Helper()
		mp, err := ebpf.NewMap(spec)
		if err != nil {
			t.Fatalf("create %s map: %v", spec.Name, err)
		}
		t.Cleanup(func() { mp.Close() })
		return mp
	}
	if perf {
		m.events = mk(&ebpf.MapSpec{Name: MapEvents, Type: ebpf.PerfEventArray})
		m.scratch = mk(&ebpf.MapSpec{Name: MapScratch, Type: ebpf.PerCPUArray, KeySize: 4, ValueSize: uint32(max(scratchSize, 8)), MaxEntries: 1})
	} else {
		m.events = mk(&ebpf.MapSpec{Name: MapEvents, Type: ebpf.RingBuf, MaxEntries: 1 << 16})
	}
	m.lost = mk(&ebpf.MapSpec{Name: MapLost, Type: ebpf.PerCPUArray, KeySize: 4, ValueSize: 8, MaxEntries: 1})
	m.stacks = mk(&ebpf.MapSpec{Name: MapStacks, Type: ebpf.StackTrace, KeySize: 4, ValueSize: 127 * 8, MaxEntries: 1024})
	return m
}

// load associates the maps and loads insns as a program of type typ.
func (m *traceMaps) load(t *testing.T, insns asm.Instructions, typ ebpf.ProgramType, at ebpf.AttachType, attachTo string) (*ebpf.Program, error) {
	t.Helper()
	insns = append(asm.Instructions(nil), insns...)
	for name, mp := range map[string]*ebpf.Map{MapEvents: m.events, MapLost: m.lost, MapStacks: m.stacks, MapScratch: m.scratch} {
		if mp == nil {
			continue
		}
		if err := insns.AssociateMap(name, mp); err != nil && !errors.Is(err, asm.ErrUnreferencedSymbol) {
			t.Fatal(err)
		}
	}
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Name: "trace_test", Type: typ, AttachType: at, AttachTo: attachTo,
		License: "GPL", Instructions: insns,
	})
	if err == nil {
		t.Cleanup(func() { prog.Close() })
	}
	return prog, err
}

// rawCtx is a raw tracepoint context: u64 args[].
func rawArgs(args []Arg) *ProbeContext {
	return &ProbeContext{Mode: ModeRawTracepoint, Args: args, Types: fixtureTypes.src, Kernel: fixtureTypes.src}
}

// u64 is a raw tracepoint argument slot i of 8 bytes.
func u64Arg(name string, i int, typ ebtf.Type) Arg {
	return Arg{Name: name, Type: typ, Kind: ArgCtx, Off: int16(8 * i), Size: 8, Signed: btf.IsSigned(typ)}
}

// decode renders each field of rec for comparison: integers in decimal,
// addresses in hex, chars quoted, strings quoted with "+" appended when
// truncated, " fault" when the read failed and " null" for NULL.
func decode(t *testing.T, l *EventLayout, rec []byte) []string {
	t.Helper()
	if len(rec) < l.Size {
		t.Fatalf("record of %d bytes, layout says %d", len(rec), l.Size)
	}
	var out []string
	for _, f := range l.Fields {
		b := rec[f.Offset : f.Offset+f.Size]
		switch f.Kind {
		case FieldInt:
			out = append(out, fmt.Sprint(int64(binary.LittleEndian.Uint64(b))))
		case FieldUint:
			out = append(out, fmt.Sprint(binary.LittleEndian.Uint64(b)))
		case FieldAddr:
			out = append(out, fmt.Sprintf("%#x", binary.LittleEndian.Uint64(b)))
		case FieldChar:
			out = append(out, fmt.Sprintf("%q", rune(b[0])))
		case FieldStr:
			s := b[:len(b)-1]
			if i := bytes.IndexByte(s, 0); i >= 0 {
				s = s[:i]
			}
			v := fmt.Sprintf("%q", s)
			switch b[len(b)-1] {
			case StrTruncated:
				v += "+"
			case StrFault:
				v += " fault"
			case StrNull:
				v += " null"
			}
			out = append(out, v)
		}
	}
	return out
}

// ptr returns the address of b's first byte, as a BPF program sees it.
func ptr(b []byte) uint64 { return uint64(uintptr(unsafe.Pointer(&b[0]))) }

// execCase runs spec as a raw tracepoint program with BPF_PROG_RUN on the
// given args and returns the decoded record, or nil when none was emitted.
type execRunner struct {
	t    *testing.T
	maps *traceMaps
}

func newExecRunner(t *testing.T) *execRunner {
	testutil.RequireRoot(t)
	m := newTraceMaps(t, false, 0)
	rd, err := ringbuf.NewReader(m.events)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rd.Close() })
	m.rd = rd
	return &execRunner{t: t, maps: m}
}

func (r *execRunner) run(t *testing.T, spec string, pc *ProbeContext, o CheckOptions, args ...uint64) ([]string, *EventLayout, []byte) {
	t.Helper()
	return r.runOpts(t, spec, pc, o, TraceOptions{UID: -1, ProbeIndex: 3, Target: 7}, args...)
}

func (r *execRunner) runOpts(t *testing.T, spec string, pc *ProbeContext, o CheckOptions, to TraceOptions, args ...uint64) ([]string, *EventLayout, []byte) {
	t.Helper()
	ct, err := CheckTrace(mustParse(t, spec), pc, o)
	if err != nil {
		t.Fatalf("check %q: %v", spec, specparse.Caret(spec, err))
	}
	insns, layout, err := CompileTrace(ct, to)
	if err != nil {
		t.Fatal(err)
	}
	prog, err := r.maps.load(t, insns, ebpf.RawTracepoint, ebpf.AttachNone, "")
	if err != nil {
		t.Fatalf("load %q: %+v\n%v", spec, err, insns)
	}
	if len(args) == 0 {
		args = []uint64{0}
	}
	if _, err := prog.Run(&ebpf.RunOptions{Context: args}); err != nil {
		t.Fatalf("run: %v", err)
	}
	r.maps.rd.SetDeadline(time.Now().Add(50 * time.Millisecond))
	rec, err := r.maps.rd.Read()
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return nil, layout, nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return decode(t, layout, rec.RawSample), layout, rec.RawSample
}

// execArgs is the default context of the execution tests: raw
// tracepoint arguments args[0..7].
func execArgs(user bool) *ProbeContext {
	pc := rawArgs([]Arg{
		u64Arg("a", 0, tyInt),
		u64Arg("b", 1, tyULong),
		u64Arg("c", 2, btfUInt),
		u64Arg("file", 3, ftype(nil, "struct file *")),
		u64Arg("s", 4, ftype(nil, "struct sample *")),
		u64Arg("msg", 5, tyCharPtr),
		u64Arg("n", 6, tyInt),
		{Name: "x", Kind: ArgCtx, Off: 7 * 8, Size: 4, Signed: true}, // untyped, 4-byte signed load
	})
	pc.UserMemory = user
	return pc
}

// userObjects are structs in this process's memory laid out like the
// fixture types, for probe_read_user.
type userObjects struct {
	name, dentry, file, ubuf, sample, msg []byte
}

func newUserObjects() *userObjects {
	o := &userObjects{
		name:   []byte("passwd\x00"),
		dentry: make([]byte, 24),
		file:   make([]byte, 40),
		ubuf:   []byte("from user\x00"),
		sample: make([]byte, 40),
		msg:    []byte("hello\x00"),
	}
	le := binary.LittleEndian
	// struct dentry: d_flags 0x10, d_name.hash 0xdeadbeef, len 6, name.
	le.PutUint32(o.dentry[0:], 0x10)
	le.PutUint32(o.dentry[8:], 0xdeadbeef)
	le.PutUint32(o.dentry[12:], 6)
	le.PutUint64(o.dentry[16:], ptr(o.name))
	// struct file: f_mode 0x1f, f_count -3, f_path.dentry, f_pos -1, f_ubuf.
	le.PutUint32(o.file[0:], 0x1f)
	le.PutUint32(o.file[4:], uint32(0xfffffffd))
	le.PutUint64(o.file[16:], ptr(o.dentry))
	le.PutUint64(o.file[24:], ^uint64(0))
	le.PutUint64(o.file[32:], ptr(o.ubuf))
	// struct sample: a=5 (3 bits), b=17 (5 bits), c=-3 (4 bits, signed),
	// port 0x1234 big endian, vals {1, -2, 300, -400}, st ST_NEG,
	// tag "tagvalue" (no NUL), big 0x8000000000000001.
	bits := uint32(5) | 17<<3 | uint32(0xd)<<8
	le.PutUint32(o.sample[0:], bits|0xfffff000) // garbage above the fields
	binary.BigEndian.PutUint16(o.sample[4:], 0x1234)
	for i, v := range []int16{1, -2, 300, -400} {
		le.PutUint16(o.sample[6+2*i:], uint16(v))
	}
	le.PutUint32(o.sample[16:], 0xffffffff)
	copy(o.sample[20:28], "tagvalue")
	le.PutUint64(o.sample[32:], 0x8000000000000001)
	return o
}

func (o *userObjects) keepAlive() {
	runtime.KeepAlive(o)
}

// TestKernelExecTrace runs generated programs in the kernel with
// BPF_PROG_RUN (raw tracepoint programs; their ctx is the u64 argument
// array) and checks the values in the emitted records. It covers integer
// semantics (sign extension, signedness of compares, 32-bit compares,
// large constants, every operator), printf conversions, member chains
// through user memory, bitfields, arrays, enums, big-endian fields,
// strings and their truncation flag, exact string comparison, specials,
// and predicates that drop the event.
func TestKernelExecTrace(t *testing.T) {
	r := newExecRunner(t)
	obj := newUserObjects()
	defer obj.keepAlive()
	comm, err := os.ReadFile("/proc/thread-self/comm")
	if err != nil {
		t.Fatal(err)
	}
	myComm := strings.TrimSpace(string(comm))
	pid, uid := unix.Getpid(), unix.Getuid()

	// Default argument values: a, b, c, file, s, msg, n, x.
	def := func(overrides map[int]uint64) []uint64 {
		args := []uint64{0, 0, 0, ptr(obj.file), ptr(obj.sample), ptr(obj.msg), 2, 0}
		for i, v := range overrides {
			args[i] = v
		}
		return args
	}
	neg := func(v int64) uint64 { return uint64(v) }
	long := []byte("abcdefghijkl\x00")
	exact7 := []byte("abcdefg\x00")
	hellWorld := []byte("hello world\x00")
	hell := []byte("hell\x00")
	tagShort := append([]byte(nil), obj.sample...)
	copy(tagShort[20:28], "tag\x00zzzz")
	defer runtime.KeepAlive(long)
	defer runtime.KeepAlive(exact7)
	defer runtime.KeepAlive(hellWorld)
	defer runtime.KeepAlive(hell)
	defer runtime.KeepAlive(tagShort)

	for _, tc := range []struct {
		name string
		spec string
		args map[int]uint64
		kern bool // pointers default to kernel memory (UserMemory off)
		ss   int
		want []string // nil: no record
	}{
		// Integer semantics.
		{"sign-extend int", `f (a < 0) "%d", a`, map[int]uint64{0: 0xffffffff}, false, 0, []string{"-1"}},
		{"sign-extend int false", `f (a < 0) "%d", a`, map[int]uint64{0: 5}, false, 0, nil},
		{"int from 64-bit slot truncates", `f (a == 7) "%d", a`, map[int]uint64{0: 0x500000007}, false, 0, []string{"7"}},
		{"raw 4-byte signed load", `f (x < 0) "%d %lld", x, x`, map[int]uint64{7: 0x1fffffffe}, false, 0, []string{"-2", "-2"}},
		{"unsigned compare", `f (c > 100) "%u", c`, map[int]uint64{2: 0xffffffff}, false, 0, []string{"4294967295"}},
		{"signed compare of same bits", `f (a > 100) "%d", a`, map[int]uint64{0: 0xffffffff}, false, 0, nil},
		{"mixed int/unsigned compare is unsigned", `f (a > c) "%d", a`, map[int]uint64{0: neg(-1), 2: 5}, false, 0, []string{"-1"}},
		{"int vs long compare is signed", `f (a < (long)1) "%d", a`, map[int]uint64{0: neg(-1)}, false, 0, []string{"-1"}},
		{"32-bit compare with high bits", `f (c == 0xffffffff) "%x", c`, map[int]uint64{2: 0x1ffffffff}, false, 0, []string{"4294967295"}},
		{"64-bit constant", `f (b == 0x123456789) "%lx", b`, map[int]uint64{1: 0x123456789}, false, 0, []string{"4886718345"}},
		{"64-bit constant false", `f (b == 0x123456789) "%lx", b`, map[int]uint64{1: 0x23456789}, false, 0, nil},
		{"64-bit constant greater", `f (b > 0xffffffff) "%lu", b`, map[int]uint64{1: 0x100000000}, false, 0, []string{"4294967296"}},
		{"negative constant unsigned long", `f (b == -1) "%lu", b`, map[int]uint64{1: neg(-1)}, false, 0, []string{"18446744073709551615"}},
		{"arith unsigned long", `f "%ld %ld %ld %ld %ld", b + 1, b - 2, b * 3, b / 4, b % 5`, map[int]uint64{1: 103}, false, 0, []string{"104", "101", "309", "25", "3"}},
		{"arith signed", `f "%d %d %d %d %d", a / 3, a % 3, -a, ~a, a >> 1`, map[int]uint64{0: neg(-7)}, false, 0, []string{"-2", "-1", "7", "6", "-4"}},
		{"signed div by negative", `f "%d %d %d", a / -2, a % -4, 7 / a`, map[int]uint64{0: neg(-7)}, false, 0, []string{"3", "-3", "-1"}},
		{"div by zero", `f "%d %d %lu %lu", a / n, a % n, b / c, b % c`, map[int]uint64{0: neg(-7), 6: 0, 1: 9, 2: 0}, false, 0, []string{"0", "-7", "0", "9"}},
		{"bitwise", `f "%x %x %x %x %x", c & 0xf0, c | 1, c ^ 0xff, c << 4, c >> 2`, map[int]uint64{2: 0x1234}, false, 0, []string{"48", "4661", "4811", "74560", "1165"}},
		{"u32 wraps", `f "%u %u", c + 1, c << 4`, map[int]uint64{2: 0xffffffff}, false, 0, []string{"0", "4294967280"}},
		{"int overflow wraps", `f "%d", a + 1`, map[int]uint64{0: 0x7fffffff}, false, 0, []string{"-2147483648"}},
		{"long constant add", `f "%llx", b + 0x100000000`, map[int]uint64{1: 1}, false, 0, []string{"4294967297"}},
		{"variable shift", `f "%lu %ld", b << n, (long)a >> n`, map[int]uint64{0: neg(-64), 1: 3, 6: 4}, false, 0, []string{"48", "-4"}},
		{"ternary", `f "%d %d", a > 0 ? 10 : 20, a ? b : c`, map[int]uint64{0: 5, 1: 1, 2: 2}, false, 0, []string{"10", "1"}},
		{"ternary else", `f "%d %d", a > 0 ? 10 : 20, a ? b : c`, map[int]uint64{0: 0, 1: 1, 2: 2}, false, 0, []string{"20", "2"}},
		{"logical", `f "%d %d %d %d %d", a && b, a || c, !a, a < b && b < c, a > b || c`, map[int]uint64{0: 1, 1: 0, 2: 3}, false, 0, []string{"0", "1", "0", "0", "1"}},
		{"logical predicate", `f (a > 0 && (b == 2 || c == 3)) "%d", a`, map[int]uint64{0: 1, 1: 0, 2: 3}, false, 0, []string{"1"}},
		{"logical predicate false", `f (a > 0 && (b == 2 || c == 3)) "%d", a`, map[int]uint64{0: 1, 1: 0, 2: 4}, false, 0, nil},
		{"not predicate", `f (!(a == 1)) "%d", a`, map[int]uint64{0: 1}, false, 0, nil},
		{"comparison value", `f "%d %d %d", a == 1, a != 1, (a < 2) + (b >= 0)`, map[int]uint64{0: 1}, false, 0, []string{"1", "0", "2"}},
		{"constant folding", `f "%d %u %d", 2 * 3 + 1, -1, 'A'`, nil, false, 0, []string{"7", "4294967295", "65"}},
		// C conversions: a-b is unsigned long, c-n unsigned int, so this is
		// 60 - (2^64-1)*0xfffffffe + (6 - 35) modulo 2^64.
		{"deep expression spills", `f "%ld", ((a + b) * (c + n)) - ((a - b) * (c - n)) + ((a * b) - (c * n))`, map[int]uint64{0: 2, 1: 3, 2: 5, 6: 7}, false, 0, []string{"4294967325"}},
		{"deeply nested spills", `f "%d %d", ` + strings.Repeat("a - (", 20) + "a" + strings.Repeat(")", 20) + `, ` + strings.Repeat("(", 20) + "a" + strings.Repeat(" - a)", 20), map[int]uint64{0: 3}, false, 0, []string{"3", "-57"}},
		{"deep expression signed", `f "%ld", ((a + (long)b) * (long)(c + n)) - ((a - (long)b) * ((long)c - n)) + ((a * (long)b) - (long)(c * n))`, map[int]uint64{0: 2, 1: 3, 2: 5, 6: 7}, false, 0, []string{"29"}},

		// printf conversions (bcc semantics: convert to the verb's C type).
		{"%d of 0xffffffff", `f "%d %u %x %X", b, b, a, a`, map[int]uint64{1: 0xffffffff, 0: neg(-1)}, false, 0, []string{"-1", "4294967295", "4294967295", "4294967295"}},
		{"%h and %c", `f "%hd %hu %hx %c %c", b, b, b, b, a`, map[int]uint64{1: 0x18041, 0: 'z'}, false, 0, []string{"-32703", "32833", "32833", "'A'", "'z'"}},
		{"%ll and %p", `f "%lld %llu %llx %p %K %U", a, a, a, b, b, b`, map[int]uint64{0: neg(-1), 1: 0xffffffff81000000}, false, 0, []string{"-1", "18446744073709551615", "18446744073709551615", "0xffffffff81000000", "0xffffffff81000000", "0xffffffff81000000"}},

		// Memory: member chains through user memory.
		{"member chain", `f "%s %u %x %d", file->f_path.dentry->d_name.name, file->f_path.dentry->d_name.len, file->f_path.dentry->d_name.hash, file->f_count`, nil, false, 0, []string{`"passwd"`, "6", "3735928559", "-3"}},
		{"member predicate", `f (file->f_count < 0 && file->f_path.dentry->d_flags & 0x10) "%lld", file->f_pos`, nil, false, 0, []string{"-1"}},
		{"hash_len through anonymous union", `f "%llx", file->f_path.dentry->d_name.hash_len`, nil, false, 0, []string{"29505732335"}},
		{"bitfields", `f "%u %u %d", s->a, s->b, s->c`, nil, false, 0, []string{"5", "17", "-3"}},
		{"bitfield compare", `f (s->c < 0 && s->b == 17) "%d", s->c + 1`, nil, false, 0, []string{"-2"}},
		{"big endian", `f "%u %x", s->port, s->port`, nil, false, 0, []string{"4660", "4660"}},
		{"array const index", `f "%d %d %d %d", s->vals[0], s->vals[1], s->vals[2], s->vals[3]`, nil, false, 0, []string{"1", "-2", "300", "-400"}},
		{"array computed index", `f "%d %d", s->vals[n], s->vals[n + 1]`, map[int]uint64{6: 1}, false, 0, []string{"-2", "300"}},
		{"pointer arithmetic", `f "%d %d %ld", *(s->vals + 2), (&s->vals[0])[3], &s->vals[3] - &s->vals[0]`, nil, false, 0, []string{"300", "-400", "3"}},
		{"address of member", `f "%ld", (long)&file->f_pos - (long)file`, nil, false, 0, []string{"24"}},
		{"enum", `f (s->st == ST_NEG) "%d %d", s->st, ST_STOP`, nil, false, 0, []string{"-1", "2"}},
		{"u64 member", `f "%llu %d", s->big, s->big > 0`, nil, false, 0, []string{"9223372036854775809", "1"}},
		{"deref", `f "%d", *msg`, nil, false, 0, []string{"104"}},
		{"cast to struct pointer", `f "%d", ((struct file *)b)->f_count`, map[int]uint64{1: ptr(obj.file)}, false, 0, []string{"-3"}},
		{"NULL reads are 0", `f "%d %s %s", file->f_count, msg, file->f_path.dentry->d_name.name`, map[int]uint64{3: 0, 5: 0}, false, 0, []string{"0", `"" null`, `"" null`}},

		// Address spaces: in a kernel-memory probe, user pointers need
		// @user (or a __user tag) to be read.
		{"kernel read of user pointer fails", `f "%d", file->f_count`, nil, true, 0, []string{"0"}},
		{"kernel-space char * at a user address reads user memory", `f (msg == "hello") "%s %s", msg, file@user->f_path.dentry->d_name.name`, nil, true, 0, []string{`"hello"`, `"passwd"`}},
		{"@user", `f "%d %s %s", file@user->f_count, msg@user, file@user->f_path.dentry->d_name.name`, nil, true, 0, []string{"-3", `"hello"`, `"passwd"`}}, // pointers loaded from user memory are user pointers
		{"@user on member", `f "%s", file@user->f_path.dentry@user->d_name.name@user`, nil, true, 0, []string{`"passwd"`}},
		{"__user tag", `f "%s", file@user->f_ubuf`, nil, true, 0, []string{`"from user"`}},
		{"cast to __user pointer", `f "%d", ((struct file __user *)b)->f_count`, map[int]uint64{1: ptr(obj.file)}, true, 0, []string{"-3"}},

		// Strings.
		{"%s", `f "%s", msg`, nil, false, 0, []string{`"hello"`}},
		{"%s truncated", `f "%s", msg`, map[int]uint64{5: ptr(long)}, false, 8, []string{`"abcdefg"+`}},
		{"%s filling the buffer", `f "%s", msg`, map[int]uint64{5: ptr(exact7)}, false, 8, []string{`"abcdefg"+`}},
		{"%s short", `f "%s", msg`, map[int]uint64{5: ptr(hell)}, false, 8, []string{`"hell"`}},
		{"%s char array without NUL", `f "%s", s->tag`, nil, false, 0, []string{`"tagvalue"`}},
		{"%s char array larger than the string size", `f "%s", s->tag`, nil, false, 4, []string{`"tag"+`}},
		{"%s two strings", `f "%s|%s|%c", msg, file->f_path.dentry->d_name.name, 'x'`, nil, false, 0, []string{`"hello"`, `"passwd"`, "'x'"}},
		{"STRCMP equal", `f (STRCMP("hello", msg)) "%s", msg`, nil, false, 0, []string{`"hello"`}},
		{"STRCMP is exact, not prefix", `f (STRCMP("hello", msg)) "%s", msg`, map[int]uint64{5: ptr(hellWorld)}, false, 0, nil},
		{"STRCMP shorter", `f (STRCMP("hello", msg)) "%s", msg`, map[int]uint64{5: ptr(hell)}, false, 0, nil},
		{"STRCMP either order", `f (STRCMP(msg, "hello world")) "%s", msg`, map[int]uint64{5: ptr(hellWorld)}, false, 0, []string{`"hello world"`}},
		{"== string", `f (msg == "hello") "%d", msg == "hello"`, nil, false, 0, []string{"1"}},
		{"!= string", `f ("hello" != msg) "%d", 1`, map[int]uint64{5: ptr(hell)}, false, 0, []string{"1"}},
		{"!= string false", `f ("hello" != msg) "%d", 1`, nil, false, 0, nil},
		{"empty string", `f (msg == "") "%d", msg != ""`, map[int]uint64{5: ptr([]byte{0})}, false, 0, []string{"0"}},
		{"NULL string is not empty", `f (msg == "") "%d", 1`, map[int]uint64{5: 0}, false, 0, nil},
		{"char array compare full", `f (s->tag == "tagvalue") "%d", s->tag == "tagvalu"`, nil, false, 0, []string{"0"}},
		{"char array compare short", `f (s->tag == "tag") "%d", s->tag != "ta"`, map[int]uint64{4: ptr(tagShort)}, false, 0, []string{"1"}},
		{"char array literal too long", `f (s->tag == "tagvalue!") "%d", 1`, nil, false, 0, nil},
		{"long literal", `f (msg == "hello world") "%s", msg`, map[int]uint64{5: ptr(hellWorld)}, false, 0, []string{`"hello world"`}},

		// Specials.
		{"$pid $tgid $uid", `f "%u %u %u %d", $pid, $tgid, $uid, $cpu >= 0`, nil, false, 0, []string{"$TID", fmt.Sprint(pid), fmt.Sprint(uid), "1"}},
		{"$comm", `f ($comm == "` + myComm + `") "%s", $comm`, nil, false, 0, []string{fmt.Sprintf("%q", myComm)}},
		{"$comm mismatch", `f ($comm == "nosuchcomm") "%s", $comm`, nil, false, 0, nil},
		{"$comm short string size", `f "%s", $comm`, nil, false, 4, []string{fmt.Sprintf("%q", myComm[:3])}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			runtime.LockOSThread() // $pid is the thread running BPF_PROG_RUN
			defer runtime.UnlockOSThread()
			for i, w := range tc.want {
				tc.want[i] = strings.ReplaceAll(w, "$TID", fmt.Sprint(unix.Gettid()))
			}
			pc := execArgs(!tc.kern)
			got, _, _ := r.run(t, tc.spec, pc, CheckOptions{StringSize: tc.ss}, def(tc.args)...)
			if tc.want == nil {
				if got != nil {
					t.Fatalf("%s: got record %q, want none", tc.spec, got)
				}
				return
			}
			if got == nil {
				t.Fatalf("%s: no record, want %q", tc.spec, tc.want)
			}
			if strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Fatalf("%s:\n got %q\nwant %q", tc.spec, got, tc.want)
			}
		})
	}
}

// shape is one way CompileTrace can be asked to build a program.
type shape struct {
	name string
	o    TraceOptions
}

var shapes = []shape{
	{"ringbuf", TraceOptions{UID: -1}},
	{"filters", TraceOptions{UID: 0, PID: 0x80000001, TID: 42, SkipTGID: 7, ProbeIndex: 0xffffffff, Target: 0x80000000}},
	{"pid-only", TraceOptions{UID: -1, PID: 1}},
	{"stacks", TraceOptions{UID: -1, KernelStack: true, UserStack: true}},
	{"perf", TraceOptions{UID: -1, PerfBuffer: true}},
	{"perf-filters-stacks", TraceOptions{UID: 1000, TID: 1, PerfBuffer: true, KernelStack: true, UserStack: true}},
	{"cookie", TraceOptions{UID: -1, TargetFrom: TargetCookie}},
	{"perf-cookie", TraceOptions{UID: -1, TargetFrom: TargetCookie, PerfBuffer: true}},
}

// progKind is a program type with the probe contexts and specs the
// verifier tests load into it.
type progKind struct {
	name     string
	typ      ebpf.ProgramType
	at       ebpf.AttachType
	attachTo string
	need     feature.Feature // skip when missing (kprobe-type programs need only uprobes: the program type exists without CONFIG_KPROBES)
	cookie   bool            // bpf_get_attach_cookie is available to this type
	pc       func(t testing.TB) *ProbeContext
	specs    []string
	// intPtrArgs: the specs read fentry arguments that point to integers
	// (5.17+); older kernels' refusal skips.
	intPtrArgs bool
}

func verifierKinds() []progKind {
	kprobeSpecs := []string{
		`vfs_read`,
		`vfs_read (0) "never"`,
		`vfs_read (1) "always %d", flags`,
		`vfs_read (file->f_count > 0 && STRCMP("x", name) && ($comm == "bash" || buf == "y")) "%d %s %s %s %u %c %llx %p %ld %s %lx %u", file->f_count / -3, name, buf, file->f_path.dentry->d_name.name, file->f_path.dentry->d_name.len, flags, count, &file->f_pos, *pos, $task->comm, ctx->di, $pid`,
		`vfs_read ($task->comm == "systemd" || file->f_path.dentry->d_name.name == "passwd") "%d %d %d %s", $task->pid, flags % count, flags ? (int)count : -flags, file->f_ubuf`,
		`vfs_read "%d %d %d %d %d %d", ((flags + 1) * (flags - 2)) / ((flags * 3) % (flags ^ 4) + 1), flags << count, flags >> 3, count > 0xffffffff, (u32)count < 5, !name`,
		`vfs_read "%s %s", name, $comm`,
	}
	uprobeSpecs := []string{
		`p:/bin/x:f (s->c < 0 && s->a == 5 && msg == "hello") "%u %u %d %u %d %d %s %llu %s %d", s->a, s->b, s->c, s->port, s->vals[n], s->st, s->tag, s->big, msg, s->st == ST_NEG`,
		`p:/bin/x:f (s->tag == "tag" || STRCMP("tagvalue", s->tag)) "%s %c %hd", file->f_path.dentry->d_name.name, *msg, *(s->vals + n)`,
	}
	wrapper := func(t testing.TB) *ProbeContext {
		pc := &ProbeContext{Mode: ModeKprobe, Regs: true, Types: fixtureTypes.src, Kernel: fixtureTypes.src}
		pc.Args = SyscallWrapperArgs([]ParamType{{"fd", btfUInt}, {"buf", &ebtf.Pointer{Target: btfChar}}, {"count", ftype(t, "size_t")}}, 112)
		return pc
	}
	usdt := func(t testing.TB) *ProbeContext {
		return &ProbeContext{Mode: ModeUprobe, Regs: true, UserMemory: true, Args: []Arg{
			{Kind: ArgMem, Off: 32, Disp: -8, Size: 4, Signed: true},
			{Kind: ArgConst, Const: -5, Size: 8, Signed: true},
			{Kind: ArgCtx, Off: 80, Size: 8},
			{Kind: ArgMem, Off: 152, Disp: 16, Size: 8, Type: tyCharPtr},
		}}
	}
	return []progKind{
		{name: "kprobe", typ: ebpf.Kprobe, need: feature.FeatUprobe, cookie: true, pc: kprobeCtx, specs: kprobeSpecs},
		{name: "kretprobe", typ: ebpf.Kprobe, need: feature.FeatUprobe, cookie: true, pc: kretprobeCtx, specs: []string{
			`r::vfs_read (retval < 0 || $retval > 4096) "%ld %d", retval, retval == -14`}},
		{name: "syscall-wrapper", typ: ebpf.Kprobe, need: feature.FeatUprobe, cookie: true, pc: wrapper, specs: []string{
			`__x64_sys_read (fd == 3 && count > 10) "%u %s %lu", fd, buf, count`}},
		{name: "uprobe", typ: ebpf.Kprobe, need: feature.FeatUprobe, cookie: true, pc: uprobeCtx, specs: uprobeSpecs},
		{name: "usdt", typ: ebpf.Kprobe, need: feature.FeatUprobe, cookie: true, pc: usdt, specs: []string{
			`u:/bin/x:p (arg1 < 0 && arg2 == -5) "%d %d %lu %s", arg1, arg2, arg3, arg4`}},
		{name: "tracepoint", typ: ebpf.TracePoint, need: feature.FeatTracepoint, cookie: true, pc: tracepointCtx, specs: []string{
			`t:syscalls:sys_enter_read (args->count > 20000 && args->filename == "foo") "%d %s %s %s %d %u", args->fd, args->buf, args->filename, args->comm, args->delta, args->sport`,
			`t:syscalls:sys_enter_read (args->comm == "bash" || STRCMP("/etc", args->filename)) "%c %d", args->comm[1], args->__syscall_nr`,
		}},
		{name: "raw_tracepoint", typ: ebpf.RawTracepoint, need: feature.FeatRawTracepoint, pc: func(testing.TB) *ProbeContext { return execArgs(true) }, specs: []string{
			`f (a < 0 && c == 0xffffffff) "%d %u %s %d %s", a / n, c, msg, s->c, s->tag`,
			`f (b > 0x123456789) "%llx %s", b, $comm`,
		}},
		{name: "perf_event", typ: ebpf.PerfEvent, need: feature.FeatPerfEvent, pc: perfEventCtx, specs: []string{
			`f ($pid > 1 && $comm == "bash" || $cpu == 1) "%d %d %u %s %lx %lx %d", $pid, $tgid, $uid, $comm, ctx->ip, ctx->sp, $task->pid`,
		}},
		{name: "fentry", typ: ebpf.Tracing, at: ebpf.AttachTraceFEntry, attachTo: "vfs_read", need: feature.FeatFentry, pc: fentryCtx, specs: []string{
			`vfs_read (file->f_count > 0 && buf == "x") "%u %s %s %lu", file->f_mode, buf, file->f_path.dentry->d_name.name, count`,
		}},
		// Before 5.17 ("bpf: Allow access to int pointer arguments in
		// tracing programs"), fentry programs can't load an argument that
		// points to an integer: the mode fails to load and the ladder
		// falls back to a kprobe (see TestKernelTraceVFSReadChain).
		{name: "fentry-int-pointer", typ: ebpf.Tracing, at: ebpf.AttachTraceFEntry, attachTo: "vfs_read", need: feature.FeatFentry, pc: fentryCtx, intPtrArgs: true, specs: []string{
			`vfs_read "%ld", *pos`,
		}},
	}
}

// TestKernelVerifierTrace loads every program shape the trace generator
// emits (ring and perf buffer, filters, stacks, cookies, each kind of
// argument) into the running kernel's verifier, for each program type the
// attach modes use. Program types the kernel lacks skip.
func TestKernelVerifierTrace(t *testing.T) {
	testutil.RequireRoot(t)
	f, err := feature.NewFeatures()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range verifierKinds() {
		t.Run(k.name, func(t *testing.T) {
			testutil.RequireFeature(t, string(k.need), f.Have(k.need))
			for si, spec := range k.specs {
				ct, err := CheckTrace(mustParse(t, spec), k.pc(t), CheckOptions{})
				if err != nil {
					t.Fatalf("%s:\n%s", spec, specparse.Caret(spec, err))
				}
				for _, sh := range shapes {
					if sh.o.TargetFrom == TargetCookie && (!k.cookie || f.Have(feature.FeatCookie) != nil) {
						continue
					}
					t.Run(fmt.Sprintf("%d/%s", si, sh.name), func(t *testing.T) {
						insns, layout, err := CompileTrace(ct, sh.o)
						if err != nil {
							t.Fatal(err)
						}
						m := newTraceMaps(t, sh.o.PerfBuffer, layout.Size)
						if _, err := m.load(t, insns, k.typ, k.at, k.attachTo); err != nil {
							if k.intPtrArgs && strings.Contains(fmt.Sprintf("%+v", err), "is not a struct") {
								t.Skipf("kernel lacks fentry access to int pointer arguments (5.17): %v", err)
							}
							t.Fatalf("verifier rejected %s (%s):\n%+v\n%v", spec, sh.name, err, insns)
						}
					})
				}
			}
		})
	}
}

// TestKernelExecHeader checks the record header and the pid/tid/self/uid
// filters and stack collection.
func TestKernelExecHeader(t *testing.T) {
	r := newExecRunner(t)
	pid, uid := uint32(unix.Getpid()), uint32(unix.Getuid())
	const tid = 0xdead // replaced by the subtest's thread id
	comm, _ := os.ReadFile("/proc/thread-self/comm")
	pc := execArgs(true)
	spec := `f "%d", a`
	for _, tc := range []struct {
		name   string
		o      TraceOptions
		record bool
	}{
		{"plain", TraceOptions{UID: -1, ProbeIndex: 3, Target: 0x80000007}, true},
		{"pid", TraceOptions{UID: -1, PID: pid}, true},
		{"other pid", TraceOptions{UID: -1, PID: pid + 1}, false},
		{"tid", TraceOptions{UID: -1, TID: tid}, true},
		{"other tid", TraceOptions{UID: -1, TID: tid + 1}, false},
		{"skip self", TraceOptions{UID: -1, SkipTGID: pid}, false},
		{"skip other", TraceOptions{UID: -1, SkipTGID: pid + 1, PID: pid, TID: tid}, true},
		{"uid", TraceOptions{UID: int64(uid)}, true},
		{"other uid", TraceOptions{UID: int64(uid) + 12345}, false},
		{"stacks", TraceOptions{UID: -1, KernelStack: true, UserStack: true}, true},
		{"all filters", TraceOptions{UID: int64(uid), PID: pid, TID: tid, SkipTGID: 1, KernelStack: true}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			tid := uint32(unix.Gettid())
			switch tc.o.TID {
			case 0xdead:
				tc.o.TID = tid
			case 0xdead + 1:
				tc.o.TID = tid + 1
			}
			before := time.Now()
			got, _, rec := r.runOpts(t, spec, pc, CheckOptions{}, tc.o, 42)
			if !tc.record {
				if got != nil {
					t.Fatalf("got record %q, want none", got)
				}
				return
			}
			if got == nil {
				t.Fatal("no record")
			}
			le := binary.LittleEndian
			var ts unix.Timespec
			unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
			if ns := le.Uint64(rec[HdrTimestamp:]); ns == 0 || ns > uint64(ts.Nano()) || time.Since(before) < 0 {
				t.Errorf("timestamp %d, now %d", ns, ts.Nano())
			}
			if v := le.Uint64(rec[HdrPidTgid:]); v != uint64(pid)<<32|uint64(tid) {
				t.Errorf("pid_tgid %#x, want %#x", v, uint64(pid)<<32|uint64(tid))
			}
			if v := le.Uint32(rec[HdrCPU:]); int(v) >= runtime.NumCPU()*4 {
				t.Errorf("cpu %d", v)
			}
			if v := le.Uint32(rec[HdrProbe:]); v != tc.o.ProbeIndex {
				t.Errorf("probe %d, want %d", v, tc.o.ProbeIndex)
			}
			if v := le.Uint64(rec[HdrTarget:]); v != uint64(tc.o.Target) {
				t.Errorf("target %#x, want %#x", v, tc.o.Target)
			}
			if c := string(bytes.TrimRight(rec[HdrComm:HdrComm+16], "\x00")); c != strings.TrimSpace(string(comm)) {
				t.Errorf("comm %q, want %q", c, comm)
			}
			for _, st := range []struct {
				off  int
				want bool
			}{{HdrKStack, tc.o.KernelStack}, {HdrUStack, tc.o.UserStack}} {
				id := int32(le.Uint32(rec[st.off:]))
				switch {
				case !st.want && id != -1:
					t.Errorf("stack id at %d = %d, want -1", st.off, id)
				case st.want && id == -1:
					t.Errorf("stack id at %d not collected", st.off)
				case st.want && id >= 0:
					var frames [127]uint64
					if err := r.maps.stacks.Lookup(uint32(id), &frames); err != nil || frames[0] == 0 {
						t.Errorf("stack %d: %v %x", id, err, frames[:2])
					}
				}
			}
			if v := le.Uint32(rec[HdrUID:]); v != uid {
				t.Errorf("uid %d, want %d", v, uid)
			}
			if got[0] != "42" {
				t.Errorf("field %q", got)
			}
		})
	}
}

// kernelTypes is a TypeSource over the running kernel's BTF.
func kernelTypes(t *testing.T) *specSource {
	spec, err := ebtf.LoadKernelSpec()
	if err != nil {
		t.Skipf("no kernel BTF: %v", err)
	}
	return &specSource{spec: spec}
}

// TestKernelExecTask reads the current task_struct through $task with the
// kernel's own BTF.
func TestKernelExecTask(t *testing.T) {
	r := newExecRunner(t)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	comm, _ := os.ReadFile("/proc/thread-self/comm")
	myComm := strings.TrimSpace(string(comm))
	pc := execArgs(true)
	pc.Kernel = kernelTypes(t)
	spec := `f ($task->comm == "` + myComm + `" && $task->pid == $pid) "%d %d %s %d", $task->pid, $task->tgid, $task->comm, $task->real_parent->tgid > 0`
	got, _, _ := r.run(t, spec, pc, CheckOptions{})
	want := []string{fmt.Sprint(unix.Gettid()), fmt.Sprint(unix.Getpid()), fmt.Sprintf("%q", myComm), "1"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("got %q, want %q", got, want)
	}
}

// TestKernelExecArgKinds runs USDT-style memory and constant arguments,
// misaligned context fields and big-endian arguments.
func TestKernelExecArgKinds(t *testing.T) {
	r := newExecRunner(t)
	mem := make([]byte, 32)
	binary.LittleEndian.PutUint32(mem[8:], uint32(0xfffffffb)) // -5 at +8
	binary.LittleEndian.PutUint64(mem[16:], 0x1122334455667788)
	defer runtime.KeepAlive(mem)
	pc := &ProbeContext{Mode: ModeRawTracepoint, Args: []Arg{
		{Kind: ArgMem, Off: 0, Disp: 8, Size: 4, Signed: true},                                               // arg1
		{Kind: ArgMem, Off: 0, Disp: 16, Size: 8},                                                            // arg2
		{Kind: ArgConst, Const: -5, Size: 4, Signed: true},                                                   // arg3
		{Kind: ArgConst, Const: 0xff, Size: 1, Signed: true},                                                 // arg4
		{Kind: ArgCtx, Off: 9, Size: 2},                                                                      // arg5: misaligned
		{Kind: ArgCtx, Off: 16, Size: 2, Type: &ebtf.Typedef{Name: "__be16", Type: btfUShort}},               // arg6
		{Kind: ArgCtx, Off: 24, Size: 8, Type: &ebtf.Typedef{Name: "__be32", Type: btfUInt}},                 // arg7: fentry-like 8-byte slot
		{Kind: ArgCtx, Off: 32, Size: 1, Signed: true, Type: &ebtf.Typedef{Name: "s8", Type: btfSChar}},      // arg8
		{Kind: ArgCtx, Off: 40, Size: 8, Signed: true, Type: &ebtf.Typedef{Name: "s16", Type: btfShort}},     // arg9: truncated to short
		{Kind: ArgCtx, Off: 48, Size: 4, Signed: false, Type: &ebtf.Typedef{Name: "s32", Type: btfInt}},      // arg10: raw unsigned, typed signed
		{Kind: ArgCtx, Off: 56, Size: 4, Signed: true, Type: &ebtf.Typedef{Name: "u64", Type: btfULongLong}}, // arg11: raw signed, widened
	}}
	got, _, _ := r.run(t, `f (arg1 < 0) "%d %llx %d %d %x %x %x %d %d %d %llx", arg1, arg2, arg3, arg4, arg5, arg6, arg7, arg8, arg9, arg10, arg11`, pc, CheckOptions{},
		ptr(mem), 0xabcd00, 0x3412, 0x78563412, 0x80, 0x18000, 0xffffffff, 0xfffffffe)
	want := []string{"-5", "1234605616436508552", "-5", "-1", "43981", "4660", "305419896", "-128", "-32768", "-1", "18446744073709551614"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
}

// TestKernelExecPerfBuffer runs the perf-buffer variant and reads the record
// from the perf event array.
func TestKernelExecPerfBuffer(t *testing.T) {
	testutil.RequireRoot(t)
	obj := newUserObjects()
	defer obj.keepAlive()
	spec := `f (a < 0) "%d %s %s", a, msg, file->f_path.dentry->d_name.name`
	ct, err := CheckTrace(mustParse(t, spec), execArgs(true), CheckOptions{})
	if err != nil {
		t.Fatal(err)
	}
	insns, layout, err := CompileTrace(ct, TraceOptions{UID: -1, PerfBuffer: true, ProbeIndex: 1})
	if err != nil {
		t.Fatal(err)
	}
	m := newTraceMaps(t, true, layout.Size)
	rd, err := perf.NewReader(m.events, 4096)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	prog, err := m.load(t, insns, ebpf.RawTracepoint, ebpf.AttachNone, "")
	if err != nil {
		t.Fatalf("%+v", err)
	}
	args := []uint64{uint64(0xfffffff9), 0, 0, ptr(obj.file), ptr(obj.sample), ptr(obj.msg), 0, 0}
	if _, err := prog.Run(&ebpf.RunOptions{Context: args}); err != nil {
		t.Fatal(err)
	}
	args[0] = 1 // predicate false
	if _, err := prog.Run(&ebpf.RunOptions{Context: args}); err != nil {
		t.Fatal(err)
	}
	rd.SetDeadline(time.Now().Add(time.Second))
	rec, err := rd.Read()
	if err != nil {
		t.Fatal(err)
	}
	got := decode(t, layout, rec.RawSample)
	want := []string{"-7", `"hello"`, `"passwd"`}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("got %q, want %q", got, want)
	}
	rd.SetDeadline(time.Now().Add(50 * time.Millisecond))
	if rec, err := rd.Read(); err == nil {
		t.Fatalf("second record %q", decode(t, layout, rec.RawSample))
	}
}

// TestKernelExecLost fills a one-page ring buffer and checks that every
// event is either in the buffer or counted in the lost map.
func TestKernelExecLost(t *testing.T) {
	testutil.RequireRoot(t)
	ct, err := CheckTrace(mustParse(t, `f "%s", msg`), execArgs(true), CheckOptions{StringSize: 1000})
	if err != nil {
		t.Fatal(err)
	}
	insns, layout, err := CompileTrace(ct, TraceOptions{UID: -1})
	if err != nil {
		t.Fatal(err)
	}
	m := newTraceMaps(t, false, 0)
	small, err := ebpf.NewMap(&ebpf.MapSpec{Name: MapEvents, Type: ebpf.RingBuf, MaxEntries: uint32(os.Getpagesize())})
	if err != nil {
		t.Fatal(err)
	}
	defer small.Close()
	m.events = small
	prog, err := m.load(t, insns, ebpf.RawTracepoint, ebpf.AttachNone, "")
	if err != nil {
		t.Fatalf("%+v", err)
	}
	const runs = 10
	for range runs {
		if _, err := prog.Run(&ebpf.RunOptions{Context: []uint64{0, 0, 0, 0, 0, 0, 0, 0}}); err != nil {
			t.Fatal(err)
		}
	}
	rd, err := ringbuf.NewReader(small)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	n := 0
	for {
		rd.SetDeadline(time.Now().Add(20 * time.Millisecond))
		if _, err := rd.Read(); err != nil {
			break
		}
		n++
	}
	var per []uint64
	if err := m.lost.Lookup(uint32(0), &per); err != nil {
		t.Fatal(err)
	}
	var lost uint64
	for _, v := range per {
		lost += v
	}
	if n == 0 || lost == 0 || n+int(lost) != runs {
		t.Fatalf("%d records of %d bytes, %d lost, want %d in total with some lost", n, layout.Size, lost, runs)
	}
}

// TestTraceGolden pins the generated code of a few probes as readable
// disassembly in testdata/trace (regenerate with -update). Semantics are
// tested by the TestKernelExec tests; these show what the code looks like.
func TestTraceGolden(t *testing.T) {
	sysRead := func(testing.TB) *ProbeContext {
		fields := []Arg{
			{Name: "__syscall_nr", Type: tyInt, Kind: ArgCtx, Off: 8, Size: 4, Signed: true},
			{Name: "fd", Type: btfUInt, Kind: ArgCtx, Off: 16, Size: 8},
			{Name: "buf", Type: &ebtf.Pointer{Target: btfChar}, Kind: ArgCtx, Off: 24, Size: 8},
			{Name: "count", Type: ftype(t, "size_t"), Kind: ArgCtx, Off: 32, Size: 8},
		}
		return &ProbeContext{Mode: ModeTracepoint, Fields: fields, Args: fields[1:], UserMemory: true}
	}
	for _, tc := range []struct {
		file string
		spec string
		pc   func(testing.TB) *ProbeContext
		o    TraceOptions
	}{
		{"sys_read", `sys_read (arg3 > 20000) "read %d bytes", arg3`, sysRead, TraceOptions{UID: -1, SkipTGID: 4242}},
		{"vfs_read_chain", `vfs_read (STRCMP("passwd", file->f_path.dentry->d_name.name)) "%s %d", file->f_path.dentry->d_name.name, file->f_count`,
			kprobeCtx, TraceOptions{UID: -1, PID: 1234, PerfBuffer: true, TargetFrom: TargetCookie}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			ct, err := CheckTrace(mustParse(t, tc.spec), tc.pc(t), CheckOptions{})
			if err != nil {
				t.Fatal(err)
			}
			insns, layout, err := CompileTrace(ct, tc.o)
			if err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			fmt.Fprintf(&b, "; %s\n; options %+v\n; record %d bytes:", tc.spec, tc.o, layout.Size)
			for _, f := range layout.Fields {
				fmt.Fprintf(&b, " %s@%d/%d", f.Verb.Text, f.Offset, f.Size)
			}
			fmt.Fprintf(&b, "\n%v", insns)
			got := b.String()
			checkGolden(t, filepath.Join("testdata", "trace", tc.file+".golden"), got)
		})
	}
}

// TestCompileTraceCode checks properties of the generated code that don't
// need a kernel: the jump classes and immediates chosen for compares,
// folding of constant predicates, and the size limits.
func TestCompileTraceCode(t *testing.T) {
	for _, tc := range []struct {
		have    string
		o       TraceOptions
		want    []string // substrings of the disassembly
		notWant []string
		insns   int // exact instruction count when > 0
	}{
		{have: `vfs_read (flags < 0) "%d", flags`, want: []string{"JSGE32Imm dst: r8 off: -1 imm: 0 <exit>"}},
		{have: `vfs_read (flags < -1) "%d", flags`, want: []string{"JSGE32Imm dst: r8 off: -1 imm: -1 <exit>"}},
		{have: `vfs_read ((u32)flags > 0xfffffff0) "%d", flags`, want: []string{"JLE32Imm dst: r8 off: -1 imm: -16 <exit>"}},
		{have: `vfs_read (count < 5) "%d", flags`, want: []string{"JGEImm dst: r8 off: -1 imm: 5 <exit>"}},
		{have: `vfs_read (count > 0x123456789)`, want: []string{"LdImmDW dst: r1 imm: 4886718345", "JLEReg dst: r8 off: -1 src: r1 <exit>"}},
		{have: `vfs_read ((long)count > -2)`, want: []string{"JSLEImm dst: r8 off: -1 imm: -2 <exit>"}},
		{have: `vfs_read (5 < flags)`, want: []string{"JSLE32Imm dst: r8 off: -1 imm: 5 <exit>"}},
		{have: `vfs_read "%d", flags / 3`, notWant: []string{"SDiv", "SMod"}},
		{have: `vfs_read "%s", $comm`, want: []string{"FnGetCurrentComm"}},
		{have: `vfs_read (0) "never %d", flags`, insns: 2},
		{have: `vfs_read (1 || flags) "%d", flags`, notWant: []string{"r8 off: -1 imm: 0 <exit>"}},
		{have: `vfs_read (flags && 0) "%d", flags`, insns: 2},
		{have: `vfs_read "%d", flags`, o: TraceOptions{UID: -1, KernelStack: true}, want: []string{"<stacks>", "MovImm dst: r3 imm: 0\n"}},
		{have: `vfs_read "%d", flags`, o: TraceOptions{UID: -1, UserStack: true}, want: []string{"<stacks>", "MovImm dst: r3 imm: 256"}},
		{have: `vfs_read "%d", flags`, o: TraceOptions{UID: -1, PerfBuffer: true}, want: []string{"<scratch>", "FnPerfEventOutput", "MovImm32 dst: r3 imm: -1"}, notWant: []string{"Ringbuf"}},
		{have: `vfs_read "%d", flags`, o: TraceOptions{UID: 5}, want: []string{"FnGetCurrentUidGid", "JNE32Imm dst: r0 off: -1 imm: 5 <exit>"}},
		{have: `vfs_read "%d", flags`, o: TraceOptions{UID: -1}, notWant: []string{"StXMemDW dst: rfp src: r0 off: -24"}},
	} {
		t.Run(tc.have, func(t *testing.T) {
			ct, err := CheckTrace(mustParse(t, tc.have), kprobeCtx(t), CheckOptions{})
			if err != nil {
				t.Fatal(err)
			}
			o := tc.o
			if o == (TraceOptions{}) {
				o.UID = -1
			}
			insns, _, err := CompileTrace(ct, o)
			if err != nil {
				t.Fatal(err)
			}
			text := fmt.Sprint(insns)
			for _, w := range tc.want {
				if !strings.Contains(text, w) {
					t.Errorf("missing %q in\n%s", w, text)
				}
			}
			for _, w := range tc.notWant {
				if strings.Contains(text, w) {
					t.Errorf("unexpected %q in\n%s", w, text)
				}
			}
			if tc.insns > 0 && len(insns) != tc.insns {
				t.Errorf("%d instructions, want %d:\n%s", len(insns), tc.insns, text)
			}
		})
	}
}

func TestCompileTraceLimits(t *testing.T) {
	deep := strings.Repeat("flags + (", 80) + "flags" + strings.Repeat(")", 80)
	for _, tc := range []struct {
		have string
		ss   int
	}{
		{`vfs_read "%d", ` + deep, 0},
		{`vfs_read "` + strings.Repeat("%s", 9) + `"` + strings.Repeat(", name", 9), 4096},
	} {
		ct, err := CheckTrace(mustParse(t, tc.have), kprobeCtx(t), CheckOptions{StringSize: tc.ss})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := CompileTrace(ct, TraceOptions{UID: -1}); !errors.Is(err, ErrTooComplex) {
			t.Errorf("%.40s...: error %v, want ErrTooComplex", tc.have, err)
		}
	}
}

// checkGolden compares got with the golden file at path, rewriting the
// file instead with -update.
func checkGolden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the generated code (run with -update after checking):\n%s", path, got)
	}
}
