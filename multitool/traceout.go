package multitool

// The output side of `btool trace`: decoding the records the trace programs
// emit (layout: bpf.Hdr* and compile.EventLayout) into neutral values, then
// rendering them as bcc's trace prints them, or as JSON lines.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/sys/unix"

	"github.com/btool/btool/bpf/compile"
	"github.com/btool/btool/multitool/symbolize"
	"github.com/btool/btool/specparse"
)

// ErrBadTraceRecord is wrapped by the errors of DecodeTrace: the record is
// shorter than its layout says, or the layout itself is malformed.
var ErrBadTraceRecord = errors.New("bad trace record")

// TraceEvent is one decoded trace record.
type TraceEvent struct {
	Time   uint64 // bpf_ktime_get_ns() (CLOCK_MONOTONIC) when the probe fired
	PID    uint32 // tgid (bcc's PID column)
	TID    uint32 // thread id (bcc's TID column)
	CPU    uint32
	Probe  uint32 // index of the probe spec on the command line
	Target uint64 // index of the attach target within the probe (wildcard probes)
	Comm   string // raw bytes of the task's comm, up to the first NUL (may be invalid UTF-8)
	UID    uint32
	// KStack and UStack are stack ids in the stacks map, -errno when
	// bpf_get_stackid failed, or -1 when the stack was not collected.
	KStack, UStack int32
	Values         []TraceValue // one per printf argument
	// KAddrs and UAddrs are the stack addresses (leaf first) the caller
	// looked up in the stacks map under KStack and UStack. DecodeTrace
	// empties them (keeping their capacity); TraceJSON prints them.
	KAddrs, UAddrs []uint64
}

// TraceValue is one decoded printf argument.
type TraceValue struct {
	Kind compile.FieldKind
	// Int is the value sign-extended from its record size (FieldInt,
	// FieldChar); for other kinds it is int64(Uint).
	Int int64
	// Uint is the value's raw bits zero-extended from its record size: the
	// value itself for FieldUint, FieldChar and FieldAddr, the two's
	// complement bits for FieldInt (what C's %x prints for a negative int).
	Uint      uint64
	Str       string // FieldStr: raw bytes up to the first NUL (may be invalid UTF-8)
	Truncated bool   // FieldStr: the string did not fit its buffer
	// Fault says the FieldStr could not be read (its page was not
	// present, or the address was bad): Str is empty and prints as
	// "(fault)". Null says the string pointer was NULL ("(null)").
	Fault, Null bool
	Verb        specparse.Verb
	Expr        string
}

// TraceRecordProbe returns the probe index of a raw record (compile.HdrProbe),
// which selects the EventLayout to decode it with. It fails with
// ErrBadTraceRecord when rec is shorter than the header.
func TraceRecordProbe(rec []byte) (uint32, error) {
	if len(rec) < compile.HdrSize {
		return 0, fmt.Errorf("%w: %d bytes, shorter than the %d-byte header", ErrBadTraceRecord, len(rec), compile.HdrSize)
	}
	return binary.LittleEndian.Uint32(rec[compile.HdrProbe:]), nil
}

// DecodeTrace decodes one record emitted by a program compiled with layout
// l. It allocates; use a TraceDecoder in read loops. Errors wrap
// ErrBadTraceRecord.
func DecodeTrace(rec []byte, l *compile.EventLayout) (TraceEvent, error) {
	var d TraceDecoder
	var ev TraceEvent
	err := d.Decode(rec, l, &ev)
	return ev, err
}

// TraceDecoder decodes trace records with few allocations: it reuses the
// event's Values slice and interns comm strings. The only allocation per
// event in the steady state is one per %s string. The zero value is ready
// to use; a TraceDecoder is not safe for concurrent use.
type TraceDecoder struct {
	comms map[string]string
	// Faults counts the %s values that could not be read (TraceValue.Fault)
	// in the records decoded so far; trace -v reports it at the end.
	Faults uint64
}

// trMaxComms bounds the comm cache of a TraceDecoder.
const trMaxComms = 4096

// Decode decodes rec, emitted by a program compiled with layout l, into ev,
// overwriting all of it (Values and the stack address slices keep their
// capacity). It fails with an error wrapping ErrBadTraceRecord, leaving ev
// in an unspecified state, when rec is shorter than the header or than
// l.Size, or when a field of l lies outside the record or has a size its
// kind does not allow. It never panics on malformed input.
func (d *TraceDecoder) Decode(rec []byte, l *compile.EventLayout, ev *TraceEvent) error {
	if l == nil {
		return fmt.Errorf("%w: no layout", ErrBadTraceRecord)
	}
	if len(rec) < compile.HdrSize || len(rec) < l.Size {
		return fmt.Errorf("%w: %d bytes, layout needs %d", ErrBadTraceRecord, len(rec), max(l.Size, compile.HdrSize))
	}
	le := binary.LittleEndian
	ev.Time = le.Uint64(rec[compile.HdrTimestamp:])
	pt := le.Uint64(rec[compile.HdrPidTgid:])
	ev.PID, ev.TID = uint32(pt>>32), uint32(pt)
	ev.CPU = le.Uint32(rec[compile.HdrCPU:])
	ev.Probe = le.Uint32(rec[compile.HdrProbe:])
	ev.Target = le.Uint64(rec[compile.HdrTarget:])
	ev.Comm = d.comm(rec[compile.HdrComm : compile.HdrComm+16])
	ev.KStack = int32(le.Uint32(rec[compile.HdrKStack:]))
	ev.UStack = int32(le.Uint32(rec[compile.HdrUStack:]))
	ev.UID = le.Uint32(rec[compile.HdrUID:])
	ev.KAddrs, ev.UAddrs = ev.KAddrs[:0], ev.UAddrs[:0]
	ev.Values = ev.Values[:0]
	for i := range l.Fields {
		f := &l.Fields[i]
		if f.Offset < 0 || f.Size <= 0 || f.Offset > len(rec)-f.Size {
			return fmt.Errorf("%w: field %d (%q) at %d+%d lies outside the %d-byte record", ErrBadTraceRecord, i, f.Expr, f.Offset, f.Size, len(rec))
		}
		b := rec[f.Offset : f.Offset+f.Size]
		v := TraceValue{Kind: f.Kind, Verb: f.Verb, Expr: f.Expr}
		switch f.Kind {
		case compile.FieldInt, compile.FieldUint:
			u, ok := trLEUint(b)
			if !ok {
				return fmt.Errorf("%w: integer field %d (%q) has size %d", ErrBadTraceRecord, i, f.Expr, f.Size)
			}
			v.Uint, v.Int = u, int64(u)
			if f.Kind == compile.FieldInt {
				shift := 64 - 8*uint(f.Size)
				v.Int = int64(u<<shift) >> shift
			}
		case compile.FieldChar:
			v.Uint, v.Int = uint64(b[0]), int64(int8(b[0]))
		case compile.FieldAddr:
			u, ok := trLEUint(b)
			if !ok || f.Size < 4 {
				return fmt.Errorf("%w: address field %d (%q) has size %d", ErrBadTraceRecord, i, f.Expr, f.Size)
			}
			v.Uint, v.Int = u, int64(u)
		case compile.FieldStr:
			buf := b[:len(b)-1]
			n := 0
			for n < len(buf) && buf[n] != 0 {
				n++
			}
			v.Str = string(buf[:n])
			switch b[len(b)-1] {
			case compile.StrOK:
			case compile.StrFault:
				v.Fault = true
				d.Faults++
			case compile.StrNull:
				v.Null = true
			default: // StrTruncated; records before the status byte had only 0 and 1
				v.Truncated = true
			}
		default:
			return fmt.Errorf("%w: field %d (%q) has unknown kind %d", ErrBadTraceRecord, i, f.Expr, f.Kind)
		}
		ev.Values = append(ev.Values, v)
	}
	return nil
}

// trLEUint reads a 1, 2, 4 or 8-byte little-endian integer.
func trLEUint(b []byte) (uint64, bool) {
	switch len(b) {
	case 1:
		return uint64(b[0]), true
	case 2:
		return uint64(binary.LittleEndian.Uint16(b)), true
	case 4:
		return uint64(binary.LittleEndian.Uint32(b)), true
	case 8:
		return binary.LittleEndian.Uint64(b), true
	}
	return 0, false
}

// comm returns the NUL-terminated string in b, interned.
func (d *TraceDecoder) comm(b []byte) string {
	n := 0
	for n < len(b) && b[n] != 0 {
		n++
	}
	b = b[:n]
	if s, ok := d.comms[string(b)]; ok { // no allocation for the lookup
		return s
	}
	if d.comms == nil || len(d.comms) >= trMaxComms {
		d.comms = make(map[string]string)
	}
	s := string(b)
	d.comms[s] = s
	return s
}

// FormatMessage renders a trace message: verbs is the probe's parsed format
// string and vals the event's values, consumed in order by the verbs that
// take an argument. pid (the event's tgid) is used to symbolize %U; sym may
// be nil (%K and %U then print addresses). See AppendMessage.
func FormatMessage(verbs []specparse.Verb, vals []TraceValue, sym symbolize.Symbolizer, pid uint32) string {
	return string(AppendMessage(nil, verbs, vals, sym, pid))
}

// AppendMessage appends the message FormatMessage renders to dst.
//
// Rendering follows bcc's trace, which formats with Python's % operator, and
// C printf for what bcc does not support (flags and widths):
//   - literal text as is, %% as %;
//   - %d %i (signed) and %u in decimal, %x %X in lower/upper case hex, each
//     from the value already converted to the verb's C type in BPF, with
//     flags "-+ #0" and width as in C (%-10d, %+d, %5u, %08x, %#x);
//   - %c the character (a byte b prints as rune b, like Python's chr);
//   - %s the string, invalid UTF-8 bytes replaced by U+FFFD; a string that
//     did not fit its buffer (-Z) ends in "...", an improvement over bcc,
//     which cuts strings silently; one that could not be read (its page
//     was not present) prints "(fault)" and a NULL pointer "(null)", where
//     bcc prints an empty string for both;
//   - %p 0x-hex; %K the kernel symbol "vfs_read+0x0", unknown addresses as
//     0x-hex (bcc prints "[unknown]"); %U "name+0xoff [module]" with the
//     module's base name, "[unknown] [module]" or "[unknown]".
//
// Widths of non-integer verbs pad by characters. A verb without a value
// (the checker prevents this) prints its own text.
func AppendMessage(dst []byte, verbs []specparse.Verb, vals []TraceValue, sym symbolize.Symbolizer, pid uint32) []byte {
	next := 0
	for i := range verbs {
		v := &verbs[i]
		switch {
		case v.IsText():
			dst = append(dst, v.Text...)
		case v.Conv == "%":
			dst = append(dst, '%')
		case next >= len(vals):
			dst = append(dst, v.Text...)
		default:
			dst = trAppendValue(dst, v, &vals[next], sym, pid)
			next++
		}
	}
	return dst
}

// trAppendValue renders one value for verb v.
func trAppendValue(dst []byte, v *specparse.Verb, val *TraceValue, sym symbolize.Symbolizer, pid uint32) []byte {
	base := v.Base()
	if val.Kind == compile.FieldStr && base != "s" {
		base = "s" // a mismatch the checker prevents; print the string
	}
	switch base {
	case "d", "i":
		if val.Kind == compile.FieldInt || val.Kind == compile.FieldChar {
			if val.Int < 0 {
				return trAppendInt(dst, v, true, uint64(-val.Int), 10, true)
			}
			return trAppendInt(dst, v, false, uint64(val.Int), 10, true)
		}
		return trAppendInt(dst, v, false, val.Uint, 10, true)
	case "u":
		return trAppendInt(dst, v, false, val.Uint, 10, false)
	case "x", "X":
		return trAppendInt(dst, v, false, val.Uint, 16, false)
	}
	start := len(dst)
	switch base {
	case "c":
		dst = utf8.AppendRune(dst, rune(byte(val.Uint)))
	case "s":
		if val.Kind == compile.FieldInt {
			dst = strconv.AppendInt(dst, val.Int, 10)
			break
		}
		if val.Kind != compile.FieldStr {
			dst = strconv.AppendUint(dst, val.Uint, 10)
			break
		}
		switch {
		case val.Fault:
			dst = append(dst, "(fault)"...)
		case val.Null:
			dst = append(dst, "(null)"...)
		}
		dst = trValidUTF8(dst, val.Str)
		if val.Truncated {
			dst = append(dst, "..."...)
		}
	case "p":
		dst = trHex(dst, val.Uint)
	case "K":
		dst = symbolize.AppendKernel(dst, val.Uint, sym)
	case "U":
		dst = symbolize.AppendUser(dst, val.Uint, pid, sym)
	default:
		dst = append(dst, v.Text...)
	}
	return trPad(dst, start, v.Width, strings.IndexByte(v.Flags, '-') >= 0)
}

// trAppendInt renders an integer like C printf: neg and mag are the sign
// and magnitude, signed says the conversion is %d/%i (so "+" and " " flags
// apply).
func trAppendInt(dst []byte, v *specparse.Verb, neg bool, mag uint64, base int, signed bool) []byte {
	var prefix string
	switch {
	case neg:
		prefix = "-"
	case signed && strings.IndexByte(v.Flags, '+') >= 0:
		prefix = "+"
	case signed && strings.IndexByte(v.Flags, ' ') >= 0:
		prefix = " "
	}
	upper := v.Base() == "X"
	if base == 16 && mag != 0 && strings.IndexByte(v.Flags, '#') >= 0 {
		prefix = "0x"
		if upper {
			prefix = "0X"
		}
	}
	var buf [24]byte
	digits := strconv.AppendUint(buf[:0], mag, base)
	if upper {
		for i, c := range digits {
			if c >= 'a' && c <= 'f' {
				digits[i] = c - 'a' + 'A'
			}
		}
	}
	pad := v.Width - len(prefix) - len(digits)
	left := strings.IndexByte(v.Flags, '-') >= 0
	zero := !left && strings.IndexByte(v.Flags, '0') >= 0
	if pad > 0 && !left && !zero {
		dst = trSpaces(dst, pad)
	}
	dst = append(dst, prefix...)
	if pad > 0 && zero {
		for range pad {
			dst = append(dst, '0')
		}
	}
	dst = append(dst, digits...)
	if pad > 0 && left {
		dst = trSpaces(dst, pad)
	}
	return dst
}

// trPad pads dst[start:] with spaces to width characters (runes), on the
// right when left is set, else on the left.
func trPad(dst []byte, start, width int, left bool) []byte {
	if width <= 0 {
		return dst
	}
	pad := width - utf8.RuneCount(dst[start:])
	if pad <= 0 {
		return dst
	}
	if left {
		return trSpaces(dst, pad)
	}
	n := len(dst)
	dst = trSpaces(dst, pad)
	copy(dst[start+pad:], dst[start:n])
	for i := start; i < start+pad; i++ {
		dst[i] = ' '
	}
	return dst
}

func trSpaces(dst []byte, n int) []byte {
	for range n {
		dst = append(dst, ' ')
	}
	return dst
}

func trHex(dst []byte, u uint64) []byte {
	return strconv.AppendUint(append(dst, "0x"...), u, 16)
}

// trValidUTF8 appends s with every byte that is not part of a valid
// UTF-8 sequence replaced by U+FFFD (Python's decode("utf-8", "replace")
// replaces maximal invalid subsequences instead, which can differ for
// truncated multi-byte sequences).
func trValidUTF8(dst []byte, s string) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			dst = append(dst, c)
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			dst = append(dst, "\uFFFD"...)
		} else {
			dst = append(dst, s[i:i+n]...)
		}
		i += n
	}
	return dst
}

// TimeMode selects trace's TIME column.
type TimeMode uint8

// The TIME column modes.
const (
	TimeNone     TimeMode = iota // no TIME column
	TimeRelative                 // -t: seconds since the trace started, "%.6f" cut to 8 characters
	TimeUnix                     // -t -u: UNIX time in seconds, "%.6f" cut to 17 characters, in a 17-wide column
	TimeClock                    // -T: wall-clock time of the event, HH:MM:SS
)

// Clock converts bpf_ktime_get_ns() timestamps (CLOCK_MONOTONIC, which
// stops during suspend) to wall-clock time. It is a pair of readings of
// both clocks taken at the same moment, normally when tracing starts
// (NewClock); -t prints times relative to BootNS.
type Clock struct {
	BootNS uint64    // CLOCK_MONOTONIC in ns (despite the name, not CLOCK_BOOTTIME)
	Wall   time.Time // time.Now() at the same moment; its Location is used for -T
}

// NewClock reads CLOCK_MONOTONIC and the wall clock at (nearly) the same
// moment. clock_gettime(2) cannot fail for CLOCK_MONOTONIC on Linux; if it
// did, BootNS would be 0 and times would be off by the system's uptime.
func NewClock() Clock {
	var t1, t2 unix.Timespec
	err1 := unix.ClockGettime(unix.CLOCK_MONOTONIC, &t1)
	wall := time.Now()
	err2 := unix.ClockGettime(unix.CLOCK_MONOTONIC, &t2)
	if err1 != nil || err2 != nil {
		return Clock{Wall: wall}
	}
	m1, m2 := uint64(t1.Nano()), uint64(t2.Nano())
	return Clock{BootNS: m1 + (m2-m1)/2, Wall: wall}
}

// Time returns the wall-clock time of the ktime timestamp ns.
func (c Clock) Time(ns uint64) time.Time {
	return c.Wall.Add(time.Duration(int64(ns - c.BootNS)))
}

// TraceColumns selects the optional columns of trace's output.
type TraceColumns struct {
	Time TimeMode
	CPU  bool // -C
	// HasFormat says some probe has a format string: the last header
	// column is "-" then, else empty.
	HasFormat bool
}

// Header returns trace's header line (without newline), exactly as bcc
// prints it: "TIME     CPU PID     TID     COMM            FUNC             -".
// Without a format string it ends in a space, as bcc's does.
func (c TraceColumns) Header() string {
	var b []byte
	switch c.Time {
	case TimeUnix:
		b = trPadded(b, "TIME", 17)
		b = append(b, ' ')
	case TimeRelative, TimeClock:
		b = trPadded(b, "TIME", 8)
		b = append(b, ' ')
	}
	if c.CPU {
		b = append(b, "CPU "...)
	}
	b = append(b, "PID     TID     COMM            FUNC             "...)
	if c.HasFormat {
		b = append(b, '-')
	}
	return string(b)
}

// Line returns one event line (without newline) in bcc's layout: optional
// TIME and CPU columns, then "%-7d %-7d %-15s %-16s %s" of tgid, tid,
// comm, funcName and msg. Times are computed from the event timestamp with
// start: -t prints the seconds since start.BootNS, -t -u the UNIX time and
// -T the local time of the event in start.Wall's location (bcc prints the
// time at which the line is printed instead).
func (c TraceColumns) Line(ev *TraceEvent, funcName, msg string, start Clock) string {
	return string(c.AppendLine(nil, ev, funcName, msg, start))
}

// AppendLine appends the line Line returns to dst.
func (c TraceColumns) AppendLine(dst []byte, ev *TraceEvent, funcName, msg string, start Clock) []byte {
	switch c.Time {
	case TimeRelative:
		s := len(dst)
		dst = strconv.AppendFloat(dst, 1e-9*float64(int64(ev.Time-start.BootNS)), 'f', 6, 64)
		dst = dst[:min(len(dst), s+8)]
		dst = trPad(dst, s, 8, true)
		dst = append(dst, ' ')
	case TimeUnix:
		s := len(dst)
		ns := start.Wall.UnixNano() + int64(ev.Time-start.BootNS)
		us := (ns + 500) / 1000
		if ns < 0 {
			us = (ns - 500) / 1000
			dst = append(dst, '-')
			us = -us
		}
		dst = strconv.AppendInt(dst, us/1e6, 10)
		dst = append(dst, '.')
		frac := us % 1e6
		for d := int64(100000); d > 1 && frac < d; d /= 10 {
			dst = append(dst, '0')
		}
		dst = strconv.AppendInt(dst, frac, 10)
		dst = dst[:min(len(dst), s+17)]
		dst = trPad(dst, s, 17, true)
		dst = append(dst, ' ')
	case TimeClock:
		dst = start.Time(ev.Time).AppendFormat(dst, "15:04:05")
		dst = append(dst, ' ')
	}
	if c.CPU {
		s := len(dst)
		dst = strconv.AppendUint(dst, uint64(ev.CPU), 10)
		dst = trPad(dst, s, 3, true)
		dst = append(dst, ' ')
	}
	s := len(dst)
	dst = strconv.AppendUint(dst, uint64(ev.PID), 10)
	dst = trPad(dst, s, 7, true)
	dst = append(dst, ' ')
	s = len(dst)
	dst = strconv.AppendUint(dst, uint64(ev.TID), 10)
	dst = trPad(dst, s, 7, true)
	dst = append(dst, ' ')
	s = len(dst)
	dst = trValidUTF8(dst, ev.Comm)
	dst = trPad(dst, s, 15, true)
	dst = append(dst, ' ')
	dst = trPadded(dst, funcName, 16)
	dst = append(dst, ' ')
	return append(dst, msg...)
}

func trPadded(dst []byte, s string, width int) []byte {
	start := len(dst)
	return trPad(append(dst, s...), start, width, true)
}

// LostMessage returns bcc's message for n events lost because the ring
// buffer was full: "Possibly lost N samples". Callers print it on stderr.
func LostMessage(n uint64) string {
	return "Possibly lost " + strconv.FormatUint(n, 10) + " samples"
}

// TraceJSON renders ev as one JSON object (without newline) with typed,
// named fields, in this order:
//
//	time       RFC 3339 UTC time with ns (from clk, see Clock)
//	ts_ns      the raw bpf_ktime_get_ns() timestamp
//	cpu, pid (tgid), tid, uid    numbers
//	comm, func strings
//	args       object keyed by each argument's source text (Expr; a repeated
//	           name gets "#2", "#3", ...; an empty one is "argN"): integers
//	           as numbers, %s and %c as strings, %K/%U/%p as
//	           {"addr":"0x..","sym":"name+0xoff","module":"/path"} (sym
//	           only when known, module for %U and for kernel module
//	           functions, e.g. "ext4")
//	           (a string that could not be read, or a NULL one, is null)
//	truncated  names of the string arguments that did not fit, only if any
//	faults     names of the string arguments that could not be read, only
//	           if any
//	message    the formatted message
//	kstack, ustack  frames leaf first, [{"addr":"0x..","sym":"name+0xoff",
//	           "module":...}], only when collected (stack id >= 0) from
//	           ev.KAddrs and ev.UAddrs; an empty stack (-EFAULT) is [];
//	           kstack_error, ustack_error: why collecting failed otherwise
//	           (see symbolize.StackError), as a string
//
// Invalid UTF-8 is replaced by U+FFFD. sym may be nil. It fails only when
// ev is nil.
func TraceJSON(ev *TraceEvent, funcName string, msg string, clk Clock, sym symbolize.Symbolizer) ([]byte, error) {
	if ev == nil {
		return nil, errors.New("trace JSON: nil event")
	}
	b := make([]byte, 0, 256)
	b = append(b, `{"time":"`...)
	b = clk.Time(ev.Time).UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","ts_ns":`...)
	b = strconv.AppendUint(b, ev.Time, 10)
	b = append(b, `,"cpu":`...)
	b = strconv.AppendUint(b, uint64(ev.CPU), 10)
	b = append(b, `,"pid":`...)
	b = strconv.AppendUint(b, uint64(ev.PID), 10)
	b = append(b, `,"tid":`...)
	b = strconv.AppendUint(b, uint64(ev.TID), 10)
	b = append(b, `,"uid":`...)
	b = strconv.AppendUint(b, uint64(ev.UID), 10)
	b = append(b, `,"comm":`...)
	b = trJSONString(b, ev.Comm)
	b = append(b, `,"func":`...)
	b = trJSONString(b, funcName)
	b = append(b, `,"args":{`...)
	names := trArgNames(ev.Values)
	var truncated, faults []string
	for i := range ev.Values {
		v := &ev.Values[i]
		if i > 0 {
			b = append(b, ',')
		}
		b = trJSONString(b, names[i])
		b = append(b, ':')
		b = trJSONValue(b, v, sym, ev.PID)
		if v.Truncated {
			truncated = append(truncated, names[i])
		}
		if v.Fault {
			faults = append(faults, names[i])
		}
	}
	b = append(b, '}')
	b = trJSONNames(b, "truncated", truncated)
	b = trJSONNames(b, "faults", faults)
	b = append(b, `,"message":`...)
	b = trJSONString(b, msg)
	b = trJSONStack(b, "kstack", ev.KStack, ev.KAddrs, false, ev.PID, sym)
	b = trJSONStack(b, "ustack", ev.UStack, ev.UAddrs, true, ev.PID, sym)
	return append(b, '}'), nil
}

// trJSONNames appends ,"key":[names...] when names is not empty.
func trJSONNames(b []byte, key string, names []string) []byte {
	if len(names) == 0 {
		return b
	}
	b = append(b, `,"`...)
	b = append(b, key...)
	b = append(b, `":[`...)
	for i, n := range names {
		if i > 0 {
			b = append(b, ',')
		}
		b = trJSONString(b, n)
	}
	return append(b, ']')
}

// trArgNames returns the JSON key of each value: its Expr, made unique.
func trArgNames(vals []TraceValue) []string {
	names := make([]string, len(vals))
	for i := range vals {
		base := vals[i].Expr
		if base == "" {
			base = "arg" + strconv.Itoa(i+1)
		}
		name := base
		for n := 2; trContains(names[:i], name); n++ {
			name = base + "#" + strconv.Itoa(n)
		}
		names[i] = name
	}
	return names
}

func trContains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func trJSONValue(b []byte, v *TraceValue, sym symbolize.Symbolizer, pid uint32) []byte {
	base := v.Verb.Base()
	switch {
	case v.Kind == compile.FieldStr && (v.Fault || v.Null):
		return append(b, "null"...)
	case v.Kind == compile.FieldStr:
		return trJSONString(b, v.Str)
	case base == "c":
		var buf [4]byte
		return trJSONString(b, string(utf8.AppendRune(buf[:0], rune(byte(v.Uint)))))
	case base == "K":
		return trJSONFrame(b, v.Uint, false, pid, sym)
	case base == "U":
		return trJSONFrame(b, v.Uint, true, pid, sym)
	case base == "p" || v.Kind == compile.FieldAddr:
		b = append(b, `{"addr":"`...)
		b = trHex(b, v.Uint)
		return append(b, `"}`...)
	case v.Kind == compile.FieldInt || (v.Kind == compile.FieldChar && (base == "d" || base == "i")):
		return strconv.AppendInt(b, v.Int, 10)
	default:
		return strconv.AppendUint(b, v.Uint, 10)
	}
}

// trJSONFrame appends {"addr":..,"sym":..,"module":..} for a kernel or
// user address.
func trJSONFrame(b []byte, addr uint64, user bool, pid uint32, sym symbolize.Symbolizer) []byte {
	b = append(b, `{"addr":"`...)
	b = trHex(b, addr)
	b = append(b, '"')
	var name, module string
	var off uint64
	var ok bool
	fsym, _ := sym.(symbolize.FrameSymbolizer)
	switch {
	case sym != nil && user:
		name, off, module, ok = sym.User(pid, addr)
	case fsym != nil:
		// Kernel module functions name their module ("ext4"); the core
		// kernel's have none.
		var f symbolize.Frame
		f, ok = fsym.KernelFrame(addr)
		name, off, module = f.Name, f.Off, f.Module
	case sym != nil:
		name, off, ok = sym.Kernel(addr)
	}
	if ok {
		b = append(b, `,"sym":"`...)
		b = trJSONStringBody(b, name)
		b = append(b, "+0x"...)
		b = strconv.AppendUint(b, off, 16)
		b = append(b, '"')
	}
	if module != "" {
		b = append(b, `,"module":`...)
		b = trJSONString(b, module)
	}
	return append(b, '}')
}

func trJSONStack(b []byte, key string, id int32, addrs []uint64, user bool, pid uint32, sym symbolize.Symbolizer) []byte {
	switch reason, empty := symbolize.StackError(id); {
	case id == -1:
		return b
	case empty:
		addrs = nil
	case id < 0:
		b = append(b, `,"`...)
		b = append(b, key...)
		b = append(b, `_error":`...)
		return trJSONString(b, reason)
	}
	b = append(b, `,"`...)
	b = append(b, key...)
	b = append(b, `":[`...)
	for i, a := range addrs {
		if i > 0 {
			b = append(b, ',')
		}
		b = trJSONFrame(b, a, user, pid, sym)
	}
	return append(b, ']')
}

func trJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	b = trJSONStringBody(b, s)
	return append(b, '"')
}

// trJSONStringBody appends s escaped for a JSON string, with invalid
// UTF-8 replaced by U+FFFD. Unlike encoding/json it does not escape <, >
// and &.
func trJSONStringBody(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, `\n`...)
			case c == '\r':
				b = append(b, `\r`...)
			case c == '\t':
				b = append(b, `\t`...)
			case c < 0x20 || c == 0x7f:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, `\u202`...)
			b = append(b, hex[r&0xf])
		default:
			b = append(b, s[i:i+n]...)
		}
		i += n
	}
	return b
}
