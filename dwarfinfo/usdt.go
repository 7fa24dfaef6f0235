package dwarfinfo

import (
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// USDTProbe is one USDT (systemtap SDT) probe location from a binary's
// .note.stapsdt notes. A probe name can have several locations (one per
// inlined or repeated DTRACE_PROBE site); each is a separate USDTProbe.
type USDTProbe struct {
	Provider, Name string
	Addr           uint64 // virtual address of the probe's nop (adjusted for prelink)
	Offset         uint64 // file offset of Addr: where to attach the uprobe
	// Semaphore is the virtual address of the probe's enable counter
	// (an unsigned short in section .probes), 0 when the probe has none.
	Semaphore uint64
	// SemaphoreOffset is the file offset of Semaphore, to pass as the
	// uprobe's ref_ctr_offset (kernel 4.20+) so the kernel increments it
	// while the probe is attached; 0 when there is no semaphore.
	SemaphoreOffset uint64
	Args            string // argument spec, e.g. "-4@%edi 8@-16(%rbp)"; see ParseUSDTArgs
}

const (
	stapsdtNoteType  = 3
	stapsdtNoteOwner = "stapsdt"
)

// USDT returns the binary's USDT probes in note order; a binary without a
// .note.stapsdt section has none (nil, nil). Probe and semaphore addresses
// are adjusted by the difference between the .stapsdt.base section address
// and the base address recorded in each note, as systemtap does for
// prelinked binaries. It returns an error naming the binary when the notes
// are malformed or a probe address lies outside every loaded segment.
func (b *Binary) USDT() ([]USDTProbe, error) {
	b.usdtOnce.Do(func() { b.usdt, b.usdtErr = b.loadUSDT() })
	return b.usdt, b.usdtErr
}

func (b *Binary) loadUSDT() ([]USDTProbe, error) {
	sec := b.elf.Section(".note.stapsdt")
	if sec == nil {
		return nil, nil
	}
	data, err := sec.Data()
	if err != nil {
		return nil, fmt.Errorf("read USDT notes of %s: %w", b.path, err)
	}
	var sdtBase uint64
	if bs := b.elf.Section(".stapsdt.base"); bs != nil {
		sdtBase = bs.Addr
	}
	addrSize := 8
	if b.elf.Class == elf.ELFCLASS32 {
		addrSize = 4
	}
	align := uint64(4)
	if sec.Addralign == 8 {
		align = 8
	}
	bo := b.elf.ByteOrder
	readAddr := func(p []byte) uint64 {
		if addrSize == 4 {
			return uint64(bo.Uint32(p))
		}
		return bo.Uint64(p)
	}
	pad := func(n uint64) uint64 { return (n + align - 1) &^ (align - 1) }

	var probes []USDTProbe
	for off := uint64(0); off+12 <= uint64(len(data)); {
		namesz := uint64(bo.Uint32(data[off:]))
		descsz := uint64(bo.Uint32(data[off+4:]))
		typ := bo.Uint32(data[off+8:])
		nameStart := off + 12
		descStart := nameStart + pad(namesz)
		next := descStart + pad(descsz)
		if descStart+descsz > uint64(len(data)) || nameStart+namesz > uint64(len(data)) {
			return nil, fmt.Errorf("USDT notes of %s: truncated note at offset %d", b.path, off)
		}
		owner := string(bytes.TrimRight(data[nameStart:nameStart+namesz], "\x00"))
		desc := data[descStart : descStart+descsz]
		off = next
		if typ != stapsdtNoteType || owner != stapsdtNoteOwner {
			continue
		}
		if len(desc) < 3*addrSize {
			return nil, fmt.Errorf("USDT notes of %s: note too short", b.path)
		}
		p := USDTProbe{
			Addr:      readAddr(desc),
			Semaphore: readAddr(desc[2*addrSize:]),
		}
		noteBase := readAddr(desc[addrSize:])
		strs := strings.Split(string(desc[3*addrSize:]), "\x00")
		if len(strs) < 3 {
			return nil, fmt.Errorf("USDT notes of %s: probe at %#x: missing provider/name/args strings", b.path, p.Addr)
		}
		p.Provider, p.Name, p.Args = strs[0], strs[1], strs[2]
		if noteBase != 0 && sdtBase != 0 {
			p.Addr += sdtBase - noteBase
			if p.Semaphore != 0 {
				p.Semaphore += sdtBase - noteBase
			}
		}
		var ok bool
		if p.Offset, ok = b.fileOffset(p.Addr); !ok {
			return nil, fmt.Errorf("USDT probe %s:%s in %s: address %#x is not in a loaded segment", p.Provider, p.Name, b.path, p.Addr)
		}
		if p.Semaphore != 0 {
			if p.SemaphoreOffset, ok = b.fileOffset(p.Semaphore); !ok {
				return nil, fmt.Errorf("USDT probe %s:%s in %s: semaphore %#x is not in a loaded segment", p.Provider, p.Name, b.path, p.Semaphore)
			}
		}
		probes = append(probes, p)
	}
	return probes, nil
}

// ArgKind says where a USDT argument's value lives.
type ArgKind uint8

const (
	ArgReg   ArgKind = iota + 1 // in register Reg
	ArgMem                      // in memory at Reg + Offset (+ Index*Scale), or at Symbol + Offset
	ArgConst                    // the constant Const
)

func (k ArgKind) String() string {
	switch k {
	case ArgReg:
		return "reg"
	case ArgMem:
		return "mem"
	case ArgConst:
		return "const"
	}
	return "ArgKind(" + strconv.Itoa(int(k)) + ")"
}

// USDTArg is one parsed USDT argument spec.
type USDTArg struct {
	Spec   string // the original text, e.g. "-4@%edi"
	Size   int    // value size in bytes: 1, 2, 4 or 8
	Signed bool   // a negative size in the spec
	Kind   ArgKind
	// Reg is the register as written without '%' ("edi", "rbp", "x1");
	// for ArgMem it is the base register ("" with an absolute Symbol).
	Reg    string
	Offset int64  // ArgMem displacement
	Index  string // ArgMem index register, "" when none
	Scale  int    // ArgMem index scale (1, 2, 4 or 8); 0 when there is no index
	// Symbol is a symbolic displacement ("counter" in "-4@counter(%rip)" or
	// "8@counter+8(%rip)"); the address is the symbol's run-time address plus
	// Offset. Resolving it is left to the caller.
	Symbol string
	Const  int64 // ArgConst value
}

// ParseUSDTArgs parses a USDT argument string as found in USDTProbe.Args:
// space-separated "[-]SIZE@OPERAND" items. Supported operands are, for
// x86-64, "%reg", "$imm", "disp(%base)", "disp(%base,%index,scale)",
// "sym(%rip)" and "sym+N(%rip)"; for arm64, "xN"/"wN"/"sp", "[xN]",
// "[xN, imm]" and a bare immediate. A missing "SIZE@" means 8 unsigned bytes
// (old sdt.h). An empty string has no arguments. Any other form gives an
// error naming the offending spec.
func ParseUSDTArgs(s string) ([]USDTArg, error) {
	var args []USDTArg
	for _, spec := range splitUSDTArgs(s) {
		a, err := parseUSDTArg(spec)
		if err != nil {
			return nil, fmt.Errorf("USDT argument %q: %w", spec, err)
		}
		args = append(args, a)
	}
	return args, nil
}

// splitUSDTArgs splits on blanks outside square brackets (arm64 memory
// operands contain ", ").
func splitUSDTArgs(s string) []string {
	var out []string
	depth, start := 0, -1
	for i, c := range s {
		switch {
		case c == '[':
			depth++
		case c == ']':
			depth--
		case (c == ' ' || c == '\t') && depth <= 0:
			if start >= 0 {
				out = append(out, s[start:i])
				start = -1
			}
			continue
		}
		if start < 0 {
			start = i
		}
	}
	if start >= 0 {
		out = append(out, s[start:])
	}
	return out
}

func parseUSDTArg(spec string) (USDTArg, error) {
	a := USDTArg{Spec: spec, Size: 8}
	op := spec
	if at := strings.IndexByte(spec, '@'); at >= 0 {
		n, err := strconv.Atoi(spec[:at])
		if err != nil {
			return a, fmt.Errorf("bad size %q", spec[:at])
		}
		if n < 0 {
			a.Signed, n = true, -n
		}
		switch n {
		case 1, 2, 4, 8:
		default:
			return a, fmt.Errorf("unsupported size %d", n)
		}
		a.Size = n
		op = spec[at+1:]
	}
	if op == "" {
		return a, errors.New("empty operand")
	}
	switch {
	case op[0] == '%': // x86 register
		reg := op[1:]
		if !isX86Reg(reg) {
			return a, fmt.Errorf("unknown register %q", op)
		}
		a.Kind, a.Reg = ArgReg, reg
	case op[0] == '$': // x86 immediate
		v, err := parseInt(op[1:])
		if err != nil {
			return a, fmt.Errorf("unsupported immediate %q", op)
		}
		a.Kind, a.Const = ArgConst, v
	case op[0] == '[': // arm64 memory
		if !strings.HasSuffix(op, "]") {
			return a, errors.New("unterminated '['")
		}
		parts := strings.Split(op[1:len(op)-1], ",")
		base := strings.TrimSpace(parts[0])
		if !isARM64Reg(base) {
			return a, fmt.Errorf("unknown register %q", base)
		}
		a.Kind, a.Reg = ArgMem, base
		switch len(parts) {
		case 1:
		case 2:
			v, err := parseInt(strings.TrimPrefix(strings.TrimSpace(parts[1]), "#"))
			if err != nil {
				return a, fmt.Errorf("unsupported offset %q", parts[1])
			}
			a.Offset = v
		default:
			return a, errors.New("unsupported arm64 memory operand")
		}
	case strings.HasSuffix(op, ")"): // x86 memory: disp(%base[,%index[,scale]])
		open := strings.IndexByte(op, '(')
		if open < 0 {
			return a, errors.New("unbalanced ')'")
		}
		a.Kind = ArgMem
		if err := parseDisp(op[:open], &a); err != nil {
			return a, err
		}
		parts := strings.Split(op[open+1:len(op)-1], ",")
		if b := strings.TrimSpace(parts[0]); b != "" {
			if !strings.HasPrefix(b, "%") || !isX86Reg(b[1:]) {
				return a, fmt.Errorf("unknown base register %q", b)
			}
			a.Reg = b[1:]
		}
		if len(parts) > 3 {
			return a, errors.New("too many memory operand parts")
		}
		if len(parts) >= 2 {
			idx := strings.TrimSpace(parts[1])
			if !strings.HasPrefix(idx, "%") || !isX86Reg(idx[1:]) {
				return a, fmt.Errorf("unknown index register %q", idx)
			}
			a.Index, a.Scale = idx[1:], 1
			if len(parts) == 3 {
				sc, err := strconv.Atoi(strings.TrimSpace(parts[2]))
				if err != nil || (sc != 1 && sc != 2 && sc != 4 && sc != 8) {
					return a, fmt.Errorf("bad scale %q", parts[2])
				}
				a.Scale = sc
			}
		}
		if a.Reg == "" && a.Index == "" {
			return a, errors.New("memory operand without registers")
		}
	case isARM64Reg(op):
		a.Kind, a.Reg = ArgReg, op
	default:
		v, err := parseInt(op)
		if err != nil {
			return a, errors.New("unsupported operand form")
		}
		a.Kind, a.Const = ArgConst, v // arm64 immediates have no '$'
	}
	return a, nil
}

// parseDisp parses an x86 displacement: "", "-16", "0x10", "sym", "sym+8" or "sym-8".
func parseDisp(d string, a *USDTArg) error {
	if d == "" {
		return nil
	}
	if v, err := parseInt(d); err == nil {
		a.Offset = v
		return nil
	}
	sym, rest := d, ""
	if i := strings.IndexAny(d, "+-"); i > 0 {
		sym, rest = d[:i], d[i:]
	}
	if !isSymbolName(sym) {
		return fmt.Errorf("unsupported displacement %q", d)
	}
	a.Symbol = sym
	if rest != "" {
		v, err := parseInt(strings.TrimPrefix(rest, "+"))
		if err != nil {
			return fmt.Errorf("unsupported displacement %q", d)
		}
		a.Offset = v
	}
	return nil
}

func parseInt(s string) (int64, error) {
	if s == "" {
		return 0, errors.New("empty number")
	}
	v, err := strconv.ParseInt(s, 0, 64)
	if err != nil {
		// Large unsigned constants ($0xffffffffffffffff).
		u, uerr := strconv.ParseUint(s, 0, 64)
		if uerr != nil {
			return 0, err
		}
		v = int64(u)
	}
	return v, nil
}

func isSymbolName(s string) bool {
	if s == "" || (s[0] >= '0' && s[0] <= '9') {
		return false
	}
	for _, c := range s {
		if !(c == '_' || c == '.' || c == '$' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

var x86Regs = func() map[string]bool {
	m := map[string]bool{"rip": true, "eip": true}
	for _, r := range []string{"ax", "bx", "cx", "dx"} {
		for _, n := range []string{"r" + r, "e" + r, r, r[:1] + "l", r[:1] + "h"} {
			m[n] = true
		}
	}
	for _, r := range []string{"si", "di", "bp", "sp"} {
		for _, n := range []string{"r" + r, "e" + r, r, r + "l"} {
			m[n] = true
		}
	}
	for i := 8; i <= 15; i++ {
		r := "r" + strconv.Itoa(i)
		for _, n := range []string{r, r + "d", r + "w", r + "b"} {
			m[n] = true
		}
	}
	return m
}()

func isX86Reg(s string) bool { return x86Regs[s] }

func isARM64Reg(s string) bool {
	switch s {
	case "sp", "wsp", "lr", "fp", "xzr", "wzr":
		return true
	}
	if len(s) < 2 || (s[0] != 'x' && s[0] != 'w') {
		return false
	}
	n, err := strconv.Atoi(s[1:])
	return err == nil && n >= 0 && n <= 30 && strconv.Itoa(n) == s[1:]
}
