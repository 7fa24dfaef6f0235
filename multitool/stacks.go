package multitool

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/perf"

	"github.com/btool/btool/bpf"
	"github.com/btool/btool/bpf/compile"
	"github.com/btool/btool/internal/flamegraph"
	"github.com/btool/btool/multitool/symbolize"
)

// This file is the stack half shared by stackcount, profile and
// offcputime: the AggSink keyed by stack ids, reading it per interval,
// symbolizing, and the printers (bcc's listing, folded, JSON, SVG).

// stackKeys says which parts key a stack aggregate. The tgid is always a
// part: user frames symbolize per process (bcc keys by 0xffffffff without
// -P and then can't resolve per-process libraries, bcc#2748).
type stackKeys struct {
	Kernel, User bool // collect the kernel stack, the user stack
	Comm         bool // key by comm too
}

// stackSink returns the AggSink of a stack tool: agg per (tgid, [comm],
// [kernel stack id], [user stack id]); v is AggSum's value.
func stackSink(name string, k stackKeys, agg compile.AggKind, v *compile.Value) *compile.AggSink {
	key := []compile.KeyPart{{Kind: compile.KeyTgid}}
	if k.Comm {
		key = append(key, compile.KeyPart{Kind: compile.KeyComm})
	}
	if k.Kernel {
		key = append(key, compile.KeyPart{Kind: compile.KeyKernelStack})
	}
	if k.User {
		key = append(key, compile.KeyPart{Kind: compile.KeyUserStack})
	}
	s := &compile.AggSink{Map: name, Key: key, Agg: agg, MaxEntries: stackMapEntries, NewKeys: name + "_new"}
	if agg != compile.AggCount {
		s.Value = v
	}
	return s
}

// stackMapEntries is the size of a stack tool's aggregate map; 0 means
// compile.DefaultAggEntries.
var stackMapEntries uint32

// StackSample is one key of a stack aggregate, decoded, with its frames.
type StackSample struct {
	PID      uint32
	Comm     string
	KernelID int32 // the kernel stack id, or -errno; 0 when not collected
	UserID   int32
	Kernel   []uint64 // kernel addresses, leaf first
	User     []uint64
	Value    uint64 // events (count) or the sum (offcputime's microseconds)
}

// stackLoss counts the events (or the summed value) of keys whose stacks
// could not be shown, by reason.
type stackLoss map[string]uint64

// stackReader reads a stack aggregate per interval (see AggReader: the
// change since the previous read, so nothing counted between a read and
// a clear is lost) and the stacks its keys name.
//
// Clearing the stack map: the aggregate map keeps its keys until the end
// (AggReader never deletes), but the stacks map is cleared of every id
// that no key used during the last interval: after each interval's read,
// the ids read in earlier intervals and not in this one are deleted from
// the kernel's map, so its buckets are free for new stacks (fewer -EEXIST
// collisions in long runs). A stack that comes back is stored again under
// the same id (the id is the hash bucket). The frames of every id read are
// kept here too: an event that took an id in the instant between the read
// and the delete finds its frames in that copy at the next read.
type stackReader struct {
	sess *bpf.Session
	sink *compile.AggSink
	agg  *AggReader
	l    compile.AggLayout
	sum  bool
	keys stackKeys
	// addrs reads a stack from the stacks map (nil when absent); del
	// deletes one. nil del: nothing is deleted.
	addrs func(id int32) []uint64
	del   func(id int32) error
	cache map[int32][]uint64 // frames of every id read
	live  map[int32]bool     // ids the kernel map holds (not deleted by us)
	lost  stackLoss
	// keepEmpty keeps samples whose stacks are all empty (-EFAULT: a
	// profile -K sample taken in user mode): they still say which process
	// was on CPU. render shows them with a pseudo-frame.
	keepEmpty bool
}

func newStackReader(sess *bpf.Session, s *compile.AggSink, k stackKeys) (*stackReader, error) {
	m := sess.Map(s.Map)
	if m == nil {
		return nil, fmt.Errorf("no %s map", s.Map)
	}
	l := s.Layout()
	r := &stackReader{sess: sess, sink: s, agg: NewAggReader(m, l), l: l, sum: s.Agg == compile.AggSum, keys: k,
		addrs: sess.StackAddrs, cache: map[int32][]uint64{}, live: map[int32]bool{}, lost: stackLoss{}}
	if sm := sess.Map(compile.MapStacks); sm != nil {
		r.del = func(id int32) error { return sm.Delete(uint32(id)) }
	}
	return r, nil
}

// read returns the samples changed since the previous read, with their
// frames. Keys whose stacks failed (a hash collision, a full map) are not
// returned: their events are added to r.lost by reason. When clear is set
// (not the last read), ids unused during this interval are deleted from
// the stacks map.
func (r *stackReader) read(clearStacks bool) ([]StackSample, error) {
	rows, err := r.agg.Read(false)
	if err != nil {
		return nil, fmt.Errorf("read stacks: %w", err)
	}
	used := map[int32]bool{}
	var out []StackSample
	for _, row := range rows {
		s := r.decode(row)
		ok := true
		if r.keys.Kernel {
			s.Kernel, ok = r.frames(s.KernelID, "kernel", s.Value, used)
		}
		if r.keys.User && ok {
			s.User, ok = r.frames(s.UserID, "user", s.Value, used)
		}
		if !ok {
			continue
		}
		if len(s.Kernel) == 0 && len(s.User) == 0 && !r.keepEmpty {
			r.lost["no frames (empty stacks)"] += s.Value
			continue
		}
		out = append(out, s)
	}
	if clearStacks && r.del != nil {
		for id := range r.live {
			if !used[id] {
				// A failed delete only leaves a bucket taken.
				_ = r.del(id)
				delete(r.live, id)
			}
		}
	}
	return out, nil
}

// decode reads one key.
func (r *stackReader) decode(row AggRow) StackSample {
	s := StackSample{Value: row.Value.Count}
	if r.sum {
		s.Value = row.Value.Value
	}
	le := binary.LittleEndian
	for _, f := range r.l.Key {
		b := row.Key[f.Offset : f.Offset+f.Size]
		switch f.Part {
		case compile.KeyTgid:
			s.PID = le.Uint32(b)
		case compile.KeyComm:
			if i := bytes.IndexByte(b, 0); i >= 0 {
				b = b[:i]
			}
			s.Comm = string(b)
		case compile.KeyKernelStack:
			s.KernelID = int32(le.Uint32(b))
		case compile.KeyUserStack:
			s.UserID = int32(le.Uint32(b))
		}
	}
	return s
}

// frames returns the addresses of stack id. A negative id is a failed
// bpf_get_stackid: -EFAULT is an empty stack (a kernel stack in a uprobe,
// a user stack of a kernel thread), ok with no frames; any other error
// adds n to the loss of its reason, and ok is false.
func (r *stackReader) frames(id int32, which string, n uint64, used map[int32]bool) ([]uint64, bool) {
	if id < 0 {
		reason, empty := symbolize.StackError(id)
		if empty {
			return nil, true
		}
		r.lost[which+" stack lost: "+reason] += n
		return nil, false
	}
	used[id] = true
	if addrs := r.addrs(id); addrs != nil {
		r.cache[id] = addrs
		r.live[id] = true
		return addrs, true
	}
	if addrs, ok := r.cache[id]; ok {
		return addrs, true // taken just before its delete (see stackReader)
	}
	r.lost[which+" stack lost: not in the stack map"] += n
	return nil, false
}

// report writes the losses on w, one line each, tool naming the tool;
// unit names the values ("events", "us").
func (r *stackReader) report(w io.Writer, tool, unit string) {
	if r == nil {
		return
	}
	reasons := make([]string, 0, len(r.lost))
	for k := range r.lost {
		reasons = append(reasons, k)
	}
	sort.Strings(reasons)
	for _, k := range reasons {
		fmt.Fprintf(w, "btool: %s: %d %s not shown: %s\n", tool, r.lost[k], unit, k)
	}
	if r.sess == nil {
		return
	}
	if d, err := AggDrops(r.sess, r.sink); err == nil && len(d) > compile.AggDropFull && d[compile.AggDropFull] > 0 {
		fmt.Fprintf(w, "btool: %s: %d events not counted: the map of stacks was full\n", tool, d[compile.AggDropFull])
	}
}

// stackPrint says how samples are printed.
type stackPrint struct {
	Kernel, User bool // stacks collected
	PerProcess   bool // a "comm [pid]" line (listing); comm first (folded)
	PIDLine      bool // the listing's "comm [pid]" line (bcc: -P without -p)
	Offsets      bool // -s: name+0xoff
	Addrs        bool // -v: the address before each frame
	Delimiter    bool // -d: "--" between kernel and user frames
	Folded       bool // -f
	JSON         bool
	// ProfileStyle is the listing of bcc's profile and offcputime:
	// frames four spaces in, "    -                comm (pid)", the
	// count eight spaces in; the stacks are always per process.
	ProfileStyle bool
	// ShowEmpty shows samples without frames under a pseudo-frame
	// ("[in user mode]" for a -K sample taken in user mode, "[no user
	// stack]" for a -U sample of a kernel thread) instead of leaving them
	// out: profile and offcputime, where they still say who was on (or
	// off) CPU.
	ShowEmpty bool
	// Kinds, when not nil, collects the kind of every user frame name
	// the symbolizer knows as Go or JIT code, for the flame graph's
	// colours (a name alone can't say it is JIT code).
	Kinds map[string]symbolize.Kind
}

// stackText is a sample rendered: the frames as printed, for merging
// samples that print alike (the same stack in two processes without -P).
type stackText struct {
	comm   string
	pid    uint32
	kernel []string // leaf first
	user   []string
	value  uint64
}

func (t *stackText) key() string {
	return t.comm + "\x00" + strconv.FormatUint(uint64(t.pid), 10) + "\x00" + strings.Join(t.kernel, "\x00") + "\x01" + strings.Join(t.user, "\x00")
}

// render symbolizes and merges samples, sorted ascending by value (then
// by text, so output is stable). Folded text has bare names; the listing
// names with -s offsets and -v addresses.
func render(samples []StackSample, p stackPrint, sym symbolize.Symbolizer) []stackText {
	at := map[string]int{}
	var out []stackText
	for _, s := range samples {
		t := stackText{value: s.Value}
		if len(s.Kernel) == 0 && len(s.User) == 0 {
			if !p.ShowEmpty {
				continue // nothing to show (stackReader counts these as losses)
			}
			// A sample with no frames: say which stack was empty.
			switch {
			case p.Kernel && !p.User:
				t.kernel = []string{"[in user mode]"}
			case p.User && !p.Kernel:
				t.user = []string{"[no user stack]"}
			default:
				t.kernel = []string{"[no stack]"}
			}
		}
		if p.PerProcess {
			t.comm, t.pid = s.Comm, s.PID
		}
		kernel := s.Kernel
		if sym != nil && len(kernel) > 0 {
			kernel = trimTracerFrames(kernel, sym)
		}
		t.kernel = appendFrameNames(t.kernel, kernel, false, s.PID, p, sym)
		t.user = appendFrameNames(t.user, s.User, true, s.PID, p, sym)
		k := t.key()
		if i, ok := at[k]; ok {
			out[i].value += t.value
			continue
		}
		at[k] = len(out)
		out = append(out, t)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].value != out[j].value {
			return out[i].value < out[j].value
		}
		return out[i].key() < out[j].key()
	})
	return out
}

// appendFrameNames appends the frames of addrs (leaf first) as printed:
// with a symbolize.FrameSymbolizer, inlined functions are frames of their
// own before the function they were inlined into, and user frames after
// the leaf (return addresses) are looked up at the call instruction.
// Unknown frames are "[unknown]". The listing adds -s offsets, -v
// addresses and " (inlined)"; folded and JSON names are bare.
func appendFrameNames(dst []string, addrs []uint64, user bool, pid uint32, p stackPrint, sym symbolize.Symbolizer) []string {
	fsym, _ := sym.(symbolize.FrameSymbolizer)
	var frames []symbolize.Frame
	for i, a := range addrs {
		frames = frames[:0]
		switch {
		case fsym != nil && user:
			frames = userFrames(fsym, pid, a, i > 0, frames)
		case fsym != nil:
			f, _ := fsym.KernelFrame(a)
			frames = append(frames, f)
		case sym != nil && user:
			name, off, _, _ := sym.User(pid, a)
			frames = append(frames, symbolize.Frame{Name: name, Off: off})
		case sym != nil:
			name, off, _ := sym.Kernel(a)
			frames = append(frames, symbolize.Frame{Name: name, Off: off})
		default:
			frames = append(frames, symbolize.Frame{})
		}
		for _, f := range frames {
			name := f.Name
			if name == "" {
				name = "[unknown]"
			}
			if p.Kinds != nil && user && (f.Kind == symbolize.KindGo || f.Kind == symbolize.KindJIT) {
				p.Kinds[name] = f.Kind
			}
			if !p.Folded && !p.JSON {
				switch {
				case f.Inlined:
					name += " (inlined)"
				case f.Name != "" && p.Offsets:
					name += "+0x" + strconv.FormatUint(f.Off, 16)
				}
				if p.Addrs {
					name = fmt.Sprintf("%-16x %s", a, name)
				}
			}
			dst = append(dst, name)
		}
	}
	return dst
}

// userFrames returns the frames of user address a; a caller frame's
// (every frame but the leaf) is a return address, looked up at a-1, the
// call, as symbolize.FormatStack does: a function ending in a call would
// otherwise be named after the next one.
func userFrames(fsym symbolize.FrameSymbolizer, pid uint32, a uint64, caller bool, dst []symbolize.Frame) []symbolize.Frame {
	if !caller || a == 0 {
		return fsym.UserFrames(pid, a, dst)
	}
	n := len(dst)
	dst = fsym.UserFrames(pid, a-1, dst)
	if last := &dst[len(dst)-1]; len(dst) > n && last.Name != "" && !last.Inlined {
		last.Off++
	}
	return dst
}

// writeListing writes bcc stackcount's listing of texts: per stack the
// kernel frames then the user frames, leaf first, two spaces in ("--"
// between them with the delimiter), the "comm [pid]" line, the count four
// spaces in, and a blank line.
func writeListing(w io.Writer, texts []stackText, p stackPrint) {
	if p.ProfileStyle {
		writeProfileListing(w, texts, p)
		return
	}
	for _, t := range texts {
		for _, f := range t.kernel {
			fmt.Fprintf(w, "  %s\n", f)
		}
		if p.Delimiter && p.Kernel && p.User {
			fmt.Fprintln(w, "    --")
		}
		for _, f := range t.user {
			fmt.Fprintf(w, "  %s\n", f)
		}
		if p.PIDLine {
			fmt.Fprintf(w, "    %s [%d]\n", t.comm, t.pid)
		}
		fmt.Fprintf(w, "    %d\n\n", t.value)
	}
}

// writeProfileListing writes bcc profile's (and offcputime's) listing:
// kernel frames, "--" with the delimiter when both stacks are there, user
// frames, each leaf first and four spaces in, then "-" and "comm (pid)",
// the count eight spaces in, and a blank line.
func writeProfileListing(w io.Writer, texts []stackText, p stackPrint) {
	for _, t := range texts {
		for _, f := range t.kernel {
			fmt.Fprintf(w, "    %s\n", f)
		}
		if p.Delimiter && len(t.kernel) > 0 && len(t.user) > 0 {
			fmt.Fprintln(w, "    --")
		}
		for _, f := range t.user {
			fmt.Fprintf(w, "    %s\n", f)
		}
		fmt.Fprintf(w, "    %-16s %s (%d)\n", "-", t.comm, t.pid)
		fmt.Fprintf(w, "        %d\n\n", t.value)
	}
}

// foldedFrames returns t as folded frames, root first:
// comm, user frames, "-" when both stacks are collected and the kernel
// stack is not empty, kernel frames.
// comm is "" without -P (bcc's form).
func foldedFrames(t stackText, p stackPrint) []string {
	fr := []string{t.comm}
	for i := len(t.user) - 1; i >= 0; i-- {
		fr = append(fr, t.user[i])
	}
	if p.Kernel && p.User && len(t.kernel) > 0 {
		fr = append(fr, flamegraph.Delimiter)
	}
	for i := len(t.kernel) - 1; i >= 0; i-- {
		fr = append(fr, t.kernel[i])
	}
	return fr
}

// writeFolded writes one "frames count" line per text. A ';' in a frame
// becomes ':' and a line break '_', which would break the format; spaces
// stay ("operator new(unsigned long)"): the count is the last field.
func writeFolded(w io.Writer, texts []stackText, p stackPrint) {
	for _, t := range texts {
		fr := foldedFrames(t, p)
		for i := range fr {
			fr[i] = foldedSafe(fr[i])
		}
		fmt.Fprintf(w, "%s %d\n", strings.Join(fr, ";"), t.value)
	}
}

func foldedSafe(s string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case ';':
			return ':'
		case '\n', '\r':
			return '_'
		}
		return r
	}, s)
}

// StackJSON is one stack of the --json output: frames leaf first. PID and
// Comm are set for stacks per process (stackcount -P or -p, profile,
// offcputime), where pid 0 is the idle task.
type StackJSON struct {
	PID    *uint32  `json:"pid,omitempty"`
	Comm   *string  `json:"comm,omitempty"`
	Kernel []string `json:"kernel,omitempty"`
	User   []string `json:"user,omitempty"`
	Count  uint64   `json:"count"`
}

// writeStacksJSON writes one JSON object: the time and the stacks.
func writeStacksJSON(w io.Writer, now time.Time, texts []stackText, p stackPrint) error {
	st := make([]StackJSON, 0, len(texts))
	for _, t := range texts {
		j := StackJSON{Kernel: t.kernel, User: t.user, Count: t.value}
		if p.PerProcess {
			pid, comm := t.pid, t.comm
			j.PID, j.Comm = &pid, &comm
		}
		st = append(st, j)
	}
	return json.NewEncoder(w).Encode(struct {
		Time   string      `json:"time"`
		Stacks []StackJSON `json:"stacks"`
	}{now.Format(time.RFC3339Nano), st})
}

// svgStacks gathers folded stacks over a run for --svg.
type svgStacks struct {
	mu     sync.Mutex
	stacks []flamegraph.Stack
	kinds  map[string]symbolize.Kind // user frames known as Go or JIT code
}

func (s *svgStacks) add(texts []stackText, p stackPrint) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range texts {
		fr := foldedFrames(t, p)
		if fr[0] == "" {
			fr = fr[1:] // no comm: no empty root box
		}
		s.stacks = append(s.stacks, flamegraph.Stack{Frames: fr, Count: t.value})
	}
}

// writeSVG writes the gathered stacks as a flame graph to path. Frames are
// coloured by kind: the comm first, kernel frames (all of them in
// kernel-only stacks, which have no delimiter), user frames the
// symbolizer found as JIT (perf maps) or Go (pclntab) code, else as
// flamegraph.DefaultKind guesses from the name.
func (s *svgStacks) writeSVG(path, title, countName string, p stackPrint) error {
	if s == nil || path == "" {
		return nil
	}
	o := flamegraph.Options{Title: title, CountName: countName, Kind: s.kindFunc(p)}
	var buf bytes.Buffer
	if err := flamegraph.Write(&buf, s.stacks, o); err != nil {
		return err
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("--svg: %w", err)
	}
	return nil
}

// kindFunc returns the flamegraph.Options.Kind of stacks printed as p.
func (s *svgStacks) kindFunc(p stackPrint) func(frame string, depth int, after bool) flamegraph.FrameKind {
	comm, kernelOnly, kinds := p.PerProcess, p.Kernel && !p.User, s.kinds
	return func(frame string, depth int, after bool) flamegraph.FrameKind {
		switch {
		case comm && depth == 0:
			return flamegraph.Other
		case kernelOnly:
			return flamegraph.Kernel // no delimiter: every frame is the kernel's
		case !after && kinds[frame] == symbolize.KindJIT:
			return flamegraph.JIT
		case !after && kinds[frame] == symbolize.KindGo:
			return flamegraph.Go
		}
		return flamegraph.DefaultKind(frame, depth, after)
	}
}

// pidWatcher snapshots the memory map of every process that appears in a
// stack aggregate as its first key is inserted: the sink copies each new
// key into a perf buffer (compile.AggSink.NewKeys), so a process that
// exits before the report still gets user symbols. Records the perf
// buffer loses only lose that early notice (the report then reads the
// map, if the process still exists).
type pidWatcher struct {
	rd   *perf.Reader
	done chan struct{}
}

// snapshotter is a Symbolizer that can capture a process's map early.
type snapshotter interface {
	Snapshot(pid uint32) error
}

// startPIDWatcher starts reading m, the sink's NewKeys map, laid out as
// l. Without the map, or a Symbolizer that snapshots, it does nothing.
func startPIDWatcher(m *ebpf.Map, l compile.AggLayout, sym symbolize.Symbolizer) (*pidWatcher, error) {
	w := &pidWatcher{done: make(chan struct{})}
	snap, ok := sym.(snapshotter)
	off := -1
	for _, f := range l.Key {
		if f.Part == compile.KeyTgid {
			off = f.Offset
		}
	}
	if !ok || off < 0 || m == nil {
		close(w.done)
		return w, nil
	}
	rd, err := perf.NewReader(m, 16*os.Getpagesize())
	if err != nil {
		return nil, fmt.Errorf("new process notices: %w", err)
	}
	w.rd = rd
	go func() {
		defer close(w.done)
		seen := map[uint32]bool{0: true} // pid 0: the idle task
		var rec perf.Record
		for {
			if err := rd.ReadInto(&rec); err != nil {
				if errors.Is(err, perf.ErrClosed) {
					return
				}
				continue
			}
			if len(rec.RawSample) < off+4 {
				continue
			}
			pid := binary.LittleEndian.Uint32(rec.RawSample[off:])
			if !seen[pid] {
				seen[pid] = true
				_ = snap.Snapshot(pid)
			}
		}
	}()
	return w, nil
}

func (w *pidWatcher) close() {
	if w.rd != nil {
		w.rd.Close()
	}
	<-w.done
}

// errStackBoth is bcc's message for -K with -U.
var errStackBoth = errors.New("-K and -U are mutually exclusive: both stacks are the default")
