package symbolize

import (
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"syscall"
)

// FormatStack writes a stack trace (addrs leaf first, as the stack map
// holds them) in bcc trace's layout, one frame per line: 8 spaces, with
// showAddr (-a) the address as "%16x ", then "name+0xoff [module]". Kernel
// frames (user false) have module "[kernel]", or the kernel module's name;
// user frames of process pid the base name of the mapped file. Unknown
// frames print "[unknown]", user frames in a known file "[unknown]
// [module]". When sym is a FrameSymbolizer, an address inside inlined
// code prints one "name (inlined) [module]" line per inlined function
// before the line of the function it was inlined into, and frames that
// carry a source line end in " file:line"; user frames after the leaf are
// return addresses, looked up at the call (see callerFrames). The caller prints the blank
// line bcc prints after an event's stacks. sym may be nil. It returns the
// first error of w.
func FormatStack(w io.Writer, addrs []uint64, user bool, pid uint32, showAddr bool, sym Symbolizer) error {
	buf := stackBufs.Get().(*stackBuf)
	defer stackBufs.Put(buf)
	b, frames := buf.b[:0], buf.frames[:0]
	defer func() { buf.b, buf.frames = b[:0], frames[:0] }()
	fsym, _ := sym.(FrameSymbolizer)
	for i, a := range addrs {
		if fsym == nil {
			b = appendAddr(b, a, showAddr)
			if user {
				b = AppendUser(b, a, pid, sym)
			} else {
				b = appendKernel(b, a, sym, true)
			}
			b = append(b, '\n')
			continue
		}
		if user {
			frames = callerFrames(fsym, pid, a, i > 0, frames[:0])
		} else {
			f, _ := fsym.KernelFrame(a)
			frames = append(frames[:0], f)
		}
		for _, f := range frames {
			b = appendAddr(b, a, showAddr)
			b = appendFrame(b, &f, !user)
			b = append(b, '\n')
		}
	}
	_, err := w.Write(b)
	return err
}

// callerFrames returns the frames of user address a. A caller frame
// (every frame but the leaf) holds a return address, which may already lie
// past the inlined code that made the call, or past the end of a function
// that ends in a call: its function, inlined frames and line are those of
// a-1, the call instruction, as perf and addr2line users do; its offset is
// still a's.
func callerFrames(fsym FrameSymbolizer, pid uint32, a uint64, caller bool, dst []Frame) []Frame {
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

// stackBuf is FormatStack's scratch space, reused across calls.
type stackBuf struct {
	b      []byte
	frames []Frame
}

var stackBufs = sync.Pool{New: func() any { return new(stackBuf) }}

func appendAddr(b []byte, a uint64, showAddr bool) []byte {
	b = append(b, "        "...)
	if showAddr {
		var hex [16]byte
		h := strconv.AppendUint(hex[:0], a, 16)
		for range 16 - len(h) {
			b = append(b, ' ')
		}
		b = append(b, h...)
		b = append(b, ' ')
	}
	return b
}

// appendFrame appends one frame of a stack listing.
func appendFrame(b []byte, f *Frame, kernel bool) []byte {
	switch {
	case f.Name == "":
		b = append(b, "[unknown]"...)
	case f.Inlined:
		b = append(b, f.Name...)
		b = append(b, " (inlined)"...)
	default:
		b = append(b, f.Name...)
		b = appendHex(append(b, '+'), f.Off)
	}
	switch {
	case kernel && f.Name == "":
	case kernel && f.Module == "":
		b = append(b, " [kernel]"...)
	case f.Module != "":
		b = appendModule(append(b, ' '), f.Module, kernel)
	}
	if f.File != "" && f.Line > 0 {
		b = append(b, ' ')
		b = append(b, f.File...)
		b = strconv.AppendInt(append(b, ':'), int64(f.Line), 10)
	}
	return b
}

func appendModule(b []byte, module string, kernel bool) []byte {
	if strings.HasPrefix(module, "[") {
		return append(b, module...)
	}
	b = append(b, '[')
	if kernel {
		b = append(b, module...)
	} else {
		b = append(b, filepath.Base(module)...)
	}
	return append(b, ']')
}

func appendHex(dst []byte, u uint64) []byte {
	return strconv.AppendUint(append(dst, "0x"...), u, 16)
}

// FormatStackError writes what trace prints for a stack whose id is
// negative (bpf_get_stackid failed): nothing for an empty stack (-EFAULT:
// a kernel stack in a uprobe has no kernel frames), else 8 spaces and
// "[stack unavailable: reason]" (see StackError). bcc prints the raw id
// ("        -14"), which reads like a frame.
func FormatStackError(w io.Writer, id int32) error {
	reason, empty := StackError(id)
	if empty {
		return nil
	}
	_, err := fmt.Fprintf(w, "        [stack unavailable: %s]\n", reason)
	return err
}

// StackError explains a negative stack id of a trace record: empty is
// true for -EFAULT, which bpf_get_stackid returns when the stack has no
// frames (a kernel stack taken in a uprobe, a user stack of a kernel
// thread); otherwise reason says why the stack was not collected.
func StackError(id int32) (reason string, empty bool) {
	switch e := syscall.Errno(-id); {
	case id >= 0:
		return "", false
	case e == syscall.EFAULT:
		return "empty", true
	case e == syscall.EEXIST:
		return "stack map hash collision", false
	case e == syscall.ENOMEM:
		return "stack map full", false
	case id == -1:
		return "not collected", false
	default:
		return e.Error(), false
	}
}

// StackErrors counts failed stack ids by reason, so that tools report lost
// stacks instead of printing them as empty ones. The zero value is ready;
// it is not safe for concurrent use.
type StackErrors struct {
	counts map[string]uint64
	order  []string // reasons in first-seen order
	total  uint64
}

// Add counts id when it is negative (a failed bpf_get_stackid) and
// reports whether it did; the caller then drops the stack from its
// listing.
func (c *StackErrors) Add(id int32) bool {
	if id >= 0 {
		return false
	}
	reason, _ := StackError(id)
	if c.counts == nil {
		c.counts = make(map[string]uint64)
	}
	if _, ok := c.counts[reason]; !ok {
		c.order = append(c.order, reason)
	}
	c.counts[reason]++
	c.total++
	return true
}

// Total returns the number of failed ids counted.
func (c *StackErrors) Total() uint64 { return c.total }

// Count returns the number of failed ids counted with reason (as
// StackError words it: "empty", "stack map hash collision", "stack map
// full", ...).
func (c *StackErrors) Count(reason string) uint64 { return c.counts[reason] }

// String returns "N stacks not shown: K reason, ..." in first-seen order,
// or "" when nothing was counted.
func (c *StackErrors) String() string {
	if c.total == 0 {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d stacks not shown: ", c.total)
	for i, r := range c.order {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%d %s", c.counts[r], r)
	}
	return b.String()
}

// FoldedStack returns a stack (addrs leaf first) as folded-stack text,
// root first: "main;foo;bar". Frames are function names without offsets,
// "[unknown]" when unknown; with a FrameSymbolizer, inlined functions are
// frames of their own, after the function they were inlined into. sym may
// be nil.
func FoldedStack(addrs []uint64, user bool, pid uint32, sym Symbolizer) string {
	var b strings.Builder
	fsym, _ := sym.(FrameSymbolizer)
	var frames []Frame
	for i := len(addrs) - 1; i >= 0; i-- {
		frames = frames[:0]
		switch {
		case fsym != nil && user:
			frames = callerFrames(fsym, pid, addrs[i], i > 0, frames)
		case fsym != nil:
			f, _ := fsym.KernelFrame(addrs[i])
			frames = append(frames, f)
		case sym != nil && user:
			name, _, _, _ := sym.User(pid, addrs[i])
			frames = append(frames, Frame{Name: name})
		case sym != nil:
			name, _, _ := sym.Kernel(addrs[i])
			frames = append(frames, Frame{Name: name})
		default:
			frames = append(frames, Frame{})
		}
		for j := len(frames) - 1; j >= 0; j-- {
			if b.Len() > 0 {
				b.WriteByte(';')
			}
			if frames[j].Name == "" {
				b.WriteString("[unknown]")
			} else {
				b.WriteString(frames[j].Name)
			}
		}
	}
	return b.String()
}

// AppendKernel appends "name+0xoff" for a kernel address, or 0x-hex when
// it is unknown (the %K of trace's messages). sym may be nil.
func AppendKernel(b []byte, addr uint64, sym Symbolizer) []byte {
	return appendKernel(b, addr, sym, false)
}

// appendKernel appends "name+0xoff" for a kernel address, plus
// " [kernel]" in stacks. Unknown addresses are "[unknown]" in stacks and
// 0x-hex otherwise.
func appendKernel(b []byte, addr uint64, sym Symbolizer, stack bool) []byte {
	var name string
	var off uint64
	var ok bool
	if sym != nil {
		name, off, ok = sym.Kernel(addr)
	}
	switch {
	case ok:
		b = append(b, name...)
		b = appendHex(append(b, '+'), off)
		if stack {
			b = append(b, " [kernel]"...)
		}
	case stack:
		b = append(b, "[unknown]"...)
	default:
		b = appendHex(b, addr)
	}
	return b
}

// AppendUser appends "name+0xoff [module]" for a user address of pid,
// "[unknown] [module]" or "[unknown]" (the %U of trace's messages, and
// stack frames without a FrameSymbolizer). sym may be nil.
func AppendUser(b []byte, addr uint64, pid uint32, sym Symbolizer) []byte {
	var name, module string
	var off uint64
	var ok bool
	if sym != nil {
		name, off, module, ok = sym.User(pid, addr)
	}
	if ok {
		b = append(b, name...)
		b = appendHex(append(b, '+'), off)
	} else {
		b = append(b, "[unknown]"...)
	}
	if module != "" {
		b = appendModule(append(b, ' '), module, false)
	}
	return b
}
