package specparse

import (
	"slices"
	"strings"
)

// ArgdistProbe is a parsed argdist specifier:
//
//	{p,r,t,u}:{[library],category}:function(signature)[:type[,type...]:expr[,expr...][:filter]][#label]
//	s:[software]:event([period])[:type[,type...]:expr[,expr...][:filter]][#label]
//
// A probe of type s is a perf software event (see SoftwareEvents): the
// category is "software" or empty, and the parentheses hold the sample
// period, one sample every period events (nanoseconds for cpu-clock and
// task-clock), or nothing for the event's default (EventPeriod).
//
// USDT probes may name a provider: u:library:provider:probe(). Unlike bcc,
// expressions are parsed, not split on ':' and ',', so they may contain
// "?:" and calls with several arguments; and types may be left out where
// the expression's type is known: "_" for one, or an empty types part
// for all ("p::vfs_read()::count").
type ArgdistProbe struct {
	Pos, End   Pos
	Kind       ProbeKind
	Period     uint64 // s: the sample period given in the parentheses; 0 if none (see EventPeriod)
	Library    string // library or binary (p, r, u); category (t, s: "software" or ""); "" for kernel functions
	LibraryPos Pos
	Provider   string // USDT provider; "" if not given
	Func       string // function, tracepoint event, USDT probe or software event (as typed: a name or an alias)
	FuncPos    Pos
	Params     []*Param // the signature; never nil (empty for "()")
	// Types has one entry per expression; nil when no types and
	// expressions were given (the tool's default applies). A nil entry
	// means the expression's own type (BTF, DWARF or the tracepoint
	// format): written "_", or every entry when the types part is empty
	// ("p::vfs_read()::count").
	Types    []*TypeName
	Exprs    []Expr // same length as Types
	Filter   Expr   // nil means no filter
	Label    string // text after '#', trimmed; "" if none
	LabelPos Pos    // position of '#' if a label was given
}

// ParseArgdist parses one argdist specifier (see ArgdistProbe). On failure
// it returns nil and an ErrorList. Whether a histogram specifier has exactly
// one expression is for the caller to check.
func ParseArgdist(spec string) (*ArgdistProbe, error) {
	p := newParser(spec)
	pr := p.parseArgdist()
	if err := p.finish(); err != nil {
		return nil, err
	}
	return pr, nil
}

func (p *parser) parseArgdist() *ArgdistProbe {
	start := 0
	for start < len(p.src) && isSpace(p.src[start]) {
		start++
	}
	if start == len(p.src) {
		p.errorf(Pos(start), Pos(start), "empty specifier")
		return nil
	}
	pr := &ArgdistProbe{Pos: Pos(start)}
	end := start
	for end < len(p.src) && !isSpace(p.src[end]) && strings.IndexByte("(\"#", p.src[end]) < 0 {
		end++
	}
	if !p.parseArgdistHead(pr, start, end) {
		return nil
	}
	if end == len(p.src) || p.src[end] != '(' {
		p.errorf(Pos(end), Pos(end), "expected '(' and a signature after the function name, as in p::vfs_read(size_t count) or t:sched:sched_switch()")
		return nil
	}
	p.seek(end)
	close := p.matchParen()
	if close < 0 {
		p.errorf(p.tok.pos, Pos(len(p.src)), "unmatched '(' in signature: missing ')'")
		return nil
	}
	if pr.Kind == SoftwareEventProbe {
		pr.Params = []*Param{}
		p.parseSoftwarePeriod(pr, end, close)
		p.seek(close + 1)
	} else if pr.Kind == TracepointProbe || pr.Kind == USDTProbe {
		pr.Params = []*Param{}
		if strings.TrimSpace(p.src[end+1:close]) != "" {
			p.errorf(Pos(end), Pos(close+1), "%s", sigOnEventMsg)
		}
		p.seek(close + 1)
	} else if !p.try(func() { pr.Params = p.parseParams() }) {
		p.seek(close + 1)
	}

	if p.tok.is(":") {
		colon := p.tok
		p.next()
		inferAll := p.tok.is(":")
		if !inferAll && !p.try(func() { pr.Types = p.parseTypeList() }) {
			return nil
		}
		if !p.tok.is(":") {
			if p.tok.kind != tIllegal {
				p.errorf(p.tok.pos, p.tok.end, "expected ':' and expressions after the types, found %s", p.tok.describe())
			}
			return nil
		}
		p.next()
		pr.Exprs = p.parseArgs([]string{":", "#"})
		if inferAll {
			pr.Types = make([]*TypeName, len(pr.Exprs))
		}
		if len(pr.Exprs) != len(pr.Types) && len(p.errs) == 0 {
			p.errorf(colon.pos, p.lastEnd, "%d types but %d expressions: each expression needs a type", len(pr.Types), len(pr.Exprs))
		}
		if p.tok.is(":") {
			p.next()
			p.try(func() {
				pr.Filter = p.parseExpr()
				if !p.tok.is("#") && p.tok.kind != tEOF {
					p.unexpected("'#label' or end of specifier after the filter")
				}
			})
		}
	}
	if p.tok.is("#") {
		pr.LabelPos = p.tok.pos
		pr.Label = strings.TrimSpace(p.src[p.tok.end:])
		p.lastEnd = Pos(len(p.src))
		p.sc.off = len(p.src)
		p.tok = token{kind: tEOF, pos: Pos(len(p.src)), end: Pos(len(p.src))}
	}
	if p.tok.kind != tEOF && p.tok.kind != tIllegal && len(p.errs) == 0 {
		p.errorf(p.tok.pos, p.tok.end, "unexpected %s: expected ':types:exprs[:filter]', '#label' or end of specifier", p.tok.describe())
	}
	pr.End = p.lastEnd
	return pr
}

// parseArgdistHead parses "type:library:function" (or
// "u:library:provider:probe") in p.src[start:end]. It reports false when
// the rest cannot be parsed sensibly.
func (p *parser) parseArgdistHead(pr *ArgdistProbe, start, end int) bool {
	head := p.src[start:end]
	parts, offs := splitColon(head)
	for i := range offs {
		offs[i] += Pos(start)
	}
	n := len(parts)
	if n < 3 {
		p.errorf(Pos(start), Pos(end), "expected probe type, library and function, as in p::vfs_read(size_t count) or p:c:malloc(size_t size)")
		return false
	}
	switch parts[0] {
	case "p":
		pr.Kind = Entry
	case "r":
		pr.Kind = Return
	case "t":
		pr.Kind = TracepointProbe
	case "u":
		pr.Kind = USDTProbe
	case "s":
		pr.Kind = SoftwareEventProbe
	default:
		p.errorf(offs[0], offs[0]+Pos(len(parts[0])), "probe type must be 'p', 'r', 't', 'u', or 's', but got '%s'", parts[0])
	}
	pr.Library, pr.LibraryPos = parts[1], offs[1]
	pr.Func, pr.FuncPos = parts[n-1], offs[n-1]
	switch {
	case n == 4 && pr.Kind == USDTProbe:
		pr.Provider = parts[2]
		p.checkName(pr.Provider, offs[2], "USDT provider", eventNameOK)
	case n > 3:
		p.errorf(offs[3]-1, Pos(end), "too many ':'-separated parts before the signature")
		return false
	}
	switch pr.Kind {
	case Entry, Return:
		p.checkName(pr.Func, pr.FuncPos, "function name", argdistFuncOK)
	case TracepointProbe:
		p.checkName(pr.Library, pr.LibraryPos, "tracepoint category", eventNameOK)
		p.checkName(pr.Func, pr.FuncPos, "tracepoint event", eventNameOK)
	case USDTProbe:
		if pr.Library == "" {
			p.errorf(pr.LibraryPos, pr.LibraryPos, "missing library or binary for USDT probe")
		}
		p.checkName(pr.Func, pr.FuncPos, "USDT probe name", eventNameOK)
	case SoftwareEventProbe:
		p.checkSoftwareHead(pr)
	}
	return true
}

// argdistFuncOK is funcNameOK without '+' (argdist has no offsets) and
// without the glob characters (argdist attaches to exact names).
func argdistFuncOK(r rune) bool {
	return funcNameOK(r) && !strings.ContainsRune("+*?[]", r)
}

// parseTypeList parses "type[,type...]", where a type may be "_" (the
// expression's own type, a nil entry).
func (p *parser) parseTypeList() []*TypeName {
	one := func() *TypeName {
		if p.tok.kind == tIdent && p.tok.lit == "_" {
			p.next()
			return nil
		}
		return p.parseType()
	}
	types := []*TypeName{one()}
	for p.tok.is(",") {
		p.next()
		types = append(types, one())
	}
	return types
}

// String returns the specifier in canonical form, which ParseArgdist
// parses back into an equal probe.
func (pr *ArgdistProbe) String() string {
	var b strings.Builder
	b.WriteString(pr.Kind.String())
	b.WriteByte(':')
	b.WriteString(pr.Library)
	b.WriteByte(':')
	if pr.Provider != "" {
		b.WriteString(pr.Provider)
		b.WriteByte(':')
	}
	b.WriteString(pr.Func)
	if pr.Kind == SoftwareEventProbe {
		b.WriteString(pr.periodString())
	} else {
		writeParams(&b, pr.Params)
	}
	if pr.Types != nil || pr.Exprs != nil {
		b.WriteByte(':')
		if slices.ContainsFunc(pr.Types, func(t *TypeName) bool { return t != nil }) {
			for i, t := range pr.Types {
				if i > 0 {
					b.WriteByte(',')
				}
				if t == nil {
					b.WriteByte('_')
				} else {
					b.WriteString(t.String())
				}
			}
		}
		b.WriteByte(':')
		for i, e := range pr.Exprs {
			if i > 0 {
				b.WriteByte(',')
			}
			writeExpr(&b, e)
		}
		if pr.Filter != nil {
			b.WriteByte(':')
			writeExpr(&b, pr.Filter)
		}
	}
	if pr.Label != "" {
		b.WriteString("#")
		b.WriteString(pr.Label)
	}
	return b.String()
}
