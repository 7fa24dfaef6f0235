package multitool

import (
	"fmt"
	"io"

	"golang.org/x/arch/x86/x86asm"

	"github.com/btool/btool/dwarfinfo"
	"github.com/btool/btool/specparse"
)

// specSpan is where in a spec an error about a name points.
type specSpan struct {
	spec     string
	pos, end specparse.Pos
}

func (s specSpan) errorf(format string, args ...any) error {
	return specErr(s.spec, s.pos, s.end, format, args...)
}

func specErr(spec string, pos, end specparse.Pos, format string, args ...any) error {
	return usageErr(spec, &specparse.Error{Pos: pos, End: end, Msg: fmt.Sprintf(format, args...)})
}

// findFunctions returns b's functions whose symbol or demangled name
// matches. When none does, the error at at names the binary and, for a
// literal name, suggests close ones.
func findFunctions(b Binary, match func(string) bool, name string, literal bool, at specSpan) ([]dwarfinfo.Symbol, error) {
	syms, err := b.Functions()
	if err != nil {
		return nil, fmt.Errorf("read symbols of %s: %w", b.Path(), err)
	}
	var matched []dwarfinfo.Symbol
	for _, s := range syms {
		if match(s.Name) || (s.Demangled != s.Name && match(s.Demangled)) {
			matched = append(matched, s)
		}
	}
	if len(matched) > 0 {
		return matched, nil
	}
	if !literal {
		return nil, at.errorf("no functions in %s match %q", b.Path(), name)
	}
	names := make([]string, len(syms))
	for i, s := range syms {
		names[i] = s.Name
	}
	return nil, at.errorf("no function %q in %s%s", name, b.Path(), didYouMean(suggest(name, names, 3)))
}

// findUSDT returns b's USDT probes that match, likewise with an error at at
// when none does. A probe placed at several sites has one entry per site.
func findUSDT(b Binary, match func(dwarfinfo.USDTProbe) bool, name string, literal bool, at specSpan) ([]dwarfinfo.USDTProbe, error) {
	probes, err := b.USDT()
	if err != nil {
		return nil, fmt.Errorf("read USDT notes of %s: %w", b.Path(), err)
	}
	var matched []dwarfinfo.USDTProbe
	for _, u := range probes {
		if match(u) {
			matched = append(matched, u)
		}
	}
	switch {
	case len(matched) > 0:
		return matched, nil
	case len(probes) == 0:
		return nil, at.errorf("%s has no USDT probes (no .note.stapsdt section)", b.Path())
	case !literal:
		return nil, at.errorf("no USDT probes in %s match %q", b.Path(), name)
	}
	names := make([]string, len(probes))
	for i, u := range probes {
		names[i] = u.Name
	}
	return nil, at.errorf("unknown USDT probe %q in %s%s", name, b.Path(), didYouMean(suggest(name, names, 3)))
}

// retSites returns the file offsets of the RET instructions of a function,
// decoded with x86asm.
func retSites(f io.ReaderAt, s dwarfinfo.Symbol) ([]uint64, error) {
	if s.Size == 0 {
		return nil, fmt.Errorf("symbol has no size")
	}
	code := make([]byte, s.Size)
	if _, err := f.ReadAt(code, int64(s.Offset)); err != nil {
		return nil, err
	}
	var offs []uint64
	for i := 0; i < len(code); {
		inst, err := x86asm.Decode(code[i:], 64)
		if err != nil || inst.Len == 0 {
			i++ // padding or data: skip a byte
			continue
		}
		if inst.Op == x86asm.RET {
			offs = append(offs, s.Offset+uint64(i))
		}
		i += inst.Len
	}
	if len(offs) == 0 {
		return nil, fmt.Errorf("no RET instruction found")
	}
	return offs, nil
}
