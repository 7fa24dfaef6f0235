package multitool

import (
	"fmt"

	"github.com/btool/btool/dwarfinfo"
	"github.com/btool/btool/specparse"
)

// Helpers for tools that work on a pattern directly (list).

func patternErr(p *specparse.Pattern, pos specparse.Pos, end specparse.Pos, format string, args ...any) error {
	return usageErr(p.Raw, &specparse.Error{Pos: pos, End: end, Msg: fmt.Sprintf(format, args...)})
}

func funcSpan(p *specparse.Pattern) (specparse.Pos, specparse.Pos) {
	return p.FuncPos, p.FuncPos + specparse.Pos(len(p.Func))
}

// openTarget resolves and opens the binary a user pattern names. Errors
// are UsageErrors pointing at the library in the pattern.
func openTarget(p *specparse.Pattern) (*dwarfinfo.Binary, error) {
	at := specSpan{p.Raw, p.TargetPos, p.TargetPos + specparse.Pos(len(p.Target))}
	path, err := dwarfinfo.FindBinary(p.Target)
	if err != nil {
		return nil, at.errorf("%v", err)
	}
	b, err := dwarfinfo.Open(path)
	if err != nil {
		return nil, at.errorf("%v", err)
	}
	return b, nil
}
