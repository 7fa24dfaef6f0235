package specparse

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ParseTrace parses one trace probe (see Probe for the grammar and the
// package documentation for the details). On failure it returns a nil
// Probe and an ErrorList holding every error it could find, sorted by
// position.
func ParseTrace(spec string) (*Probe, error) {
	p := newParser(spec)
	pr := p.parseTraceProbe()
	if err := p.finish(); err != nil {
		return nil, err
	}
	return pr, nil
}

// ParseTraceList parses several trace probes. On failure it returns nil and
// an error joining one *SpecError per bad spec (Caret renders each against
// its own spec).
func ParseTraceList(specs []string) ([]*Probe, error) {
	probes := make([]*Probe, 0, len(specs))
	var errs []error
	for i, s := range specs {
		pr, err := ParseTrace(s)
		if err != nil {
			errs = append(errs, &SpecError{Index: i, Spec: s, Err: err})
			continue
		}
		probes = append(probes, pr)
	}
	switch len(errs) {
	case 0:
		return probes, nil
	case 1:
		return nil, errs[0]
	}
	return nil, joinedErrors(errs)
}

// joinedErrors is like errors.Join but separates messages with "; " so the
// result stays on one line.
type joinedErrors []error

func (j joinedErrors) Error() string {
	parts := make([]string, len(j))
	for i, e := range j {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "; ")
}

func (j joinedErrors) Unwrap() []error { return j }

// finish sorts the collected errors, drops exact duplicates and returns
// them as an error, or nil.
func (p *parser) finish() error {
	p.errs.Sort()
	out := p.errs[:0]
	for _, e := range p.errs {
		if len(out) > 0 && *e == *out[len(out)-1] {
			continue
		}
		out = append(out, e)
	}
	p.errs = out
	return p.errs.Err()
}

// headEnd returns the end of the probe head that starts at off: the first
// space, '(' or '"'.
func headEnd(s string, off int) int {
	for off < len(s) && !isSpace(s[off]) && s[off] != '(' && s[off] != '"' {
		off++
	}
	return off
}

func (p *parser) parseTraceProbe() *Probe {
	start := 0
	for start < len(p.src) && isSpace(p.src[start]) {
		start++
	}
	if start == len(p.src) {
		p.errorf(Pos(start), Pos(start), "empty probe")
		return nil
	}
	end := headEnd(p.src, start)
	pr := &Probe{Pos: Pos(start)}
	p.parseTraceHead(pr, start, end)

	// A '(' right after the head is a signature; after a space it is the
	// predicate.
	p.seek(end)
	if end < len(p.src) && p.src[end] == '(' {
		p.parseSignature(pr)
	}
	if p.tok.is("(") {
		p.parsePredicate(pr)
	}
	p.parseAction(pr)
	pr.End = p.lastEnd
	return pr
}

// parseTraceHead parses "[type:][library:]function[+offset]" in
// p.src[start:end].
func (p *parser) parseTraceHead(pr *Probe, start, end int) {
	head := p.src[start:end]
	pr.LibraryPos, pr.FuncPos = Pos(start), Pos(start)
	if head == "" {
		p.errorf(Pos(start), Pos(start), "missing probe: expected [p:|r:][library:]function, t:category:event or u:library:probe")
		return
	}
	parts, offs := splitColon(head)
	for i := range offs {
		offs[i] += Pos(start)
	}
	n := len(parts)
	last := n - 1
	switch n {
	case 1:
		pr.Kind = Entry
	case 2:
		pr.Kind = Entry
		pr.Library, pr.LibraryPos = parts[0], offs[0]
		// "lib:func" with a one-letter library that is also a probe type
		// is almost certainly a mistake.
		switch parts[0] {
		case "p", "r":
			p.errorf(Pos(start), Pos(end), "ambiguous probe '%s': write '%s::%s' for a kernel function or '%s:LIBRARY:%s' for a library function",
				head, parts[0], parts[1], parts[0], parts[1])
		case "t":
			p.errorf(Pos(start), Pos(end), "incomplete probe '%s': tracepoints are t:category:event", head)
		case "u":
			p.errorf(Pos(start), Pos(end), "incomplete probe '%s': USDT probes are u:library:probe", head)
		}
	default:
		switch parts[0] {
		case "", "p":
			pr.Kind = Entry
		case "r":
			pr.Kind = Return
		case "t":
			pr.Kind = TracepointProbe
		case "u":
			pr.Kind = USDTProbe
		default:
			p.errorf(offs[0], offs[0]+Pos(len(parts[0])), "probe type must be '', 'p', 'r', 't', or 'u', but got '%s'", parts[0])
		}
		pr.Library, pr.LibraryPos = strings.Join(parts[1:last], ":"), offs[1]
		switch {
		case pr.Kind == TracepointProbe && n != 3:
			p.errorf(offs[0], Pos(end), "tracepoint probe must be t:category:event")
			return
		case pr.Kind == USDTProbe && n == 4:
			pr.Library, pr.Provider = parts[1], parts[2]
		case pr.Kind == USDTProbe && n > 4:
			p.errorf(offs[0], Pos(end), "USDT probe must be u:library:probe or u:library:provider:probe")
			return
		}
	}
	fn, fnPos := parts[last], offs[last]
	if i := strings.IndexByte(fn, '+'); i >= 0 {
		off := fn[i+1:]
		offPos := fnPos + Pos(i)
		fn = fn[:i]
		if pr.Kind == TracepointProbe || pr.Kind == USDTProbe {
			p.errorf(offPos, offPos+1+Pos(len(off)), "an offset is only allowed on p and r probes")
		} else if v, ok := parseOffset(off); ok {
			pr.Offset = v
		} else {
			p.errorf(offPos+1, offPos+1+Pos(len(off)), "invalid offset '%s': must be decimal or hexadecimal", off)
		}
	}
	pr.Func, pr.FuncPos = fn, fnPos

	switch pr.Kind {
	case Entry, Return:
		p.checkName(fn, fnPos, "function name", funcNameOK)
	case TracepointProbe:
		p.checkName(pr.Library, pr.LibraryPos, "tracepoint category", eventNameOK)
		p.checkName(fn, fnPos, "tracepoint event", eventNameOK)
	case USDTProbe:
		if pr.Library == "" {
			p.errorf(pr.LibraryPos, pr.LibraryPos, "missing library or binary for USDT probe")
		}
		if n == 4 {
			p.checkName(pr.Provider, offs[2], "USDT provider", eventNameOK)
		}
		p.checkName(fn, fnPos, "USDT probe name", eventNameOK)
	}
}

// parseOffset parses a decimal or 0x-prefixed hexadecimal offset.
func parseOffset(s string) (uint64, bool) {
	var v uint64
	var err error
	if h, ok := strings.CutPrefix(strings.ToLower(s), "0x"); ok {
		v, err = strconv.ParseUint(h, 16, 64)
	} else {
		v, err = strconv.ParseUint(s, 10, 64)
	}
	return v, err == nil
}

// funcNameOK reports whether r may appear in a function name. Names are
// symbol names, possibly with glob wildcards, so almost anything goes, but
// not white space (including Unicode spaces, usually a copy-and-paste
// accident), control characters, quotes, parentheses or the like.
func funcNameOK(r rune) bool {
	return r > ' ' && r != utf8.RuneError && !unicode.IsSpace(r) && !unicode.IsControl(r) &&
		!strings.ContainsRune("()\"',;{}\\#`", r)
}

// eventNameOK reports whether r may appear in a tracepoint category or
// event, or a USDT provider or probe name (identifier characters, '-', '.'
// and glob wildcards).
func eventNameOK(r rune) bool {
	return r < utf8.RuneSelf && (isLetter(byte(r)) && r != '$' || isDigit(byte(r)) || strings.ContainsRune("*?[]-.", r))
}

// checkName reports a missing name or its first invalid character.
func (p *parser) checkName(s string, pos Pos, what string, ok func(rune) bool) {
	if s == "" {
		p.errorf(pos, pos, "missing %s", what)
		return
	}
	for i, r := range s {
		if !ok(r) {
			_, n := utf8.DecodeRuneInString(s[i:])
			p.errorf(pos+Pos(i), pos+Pos(i+n), "invalid character %q in %s", s[i:i+n], what)
			return
		}
	}
}

const sigOnEventMsg = "tracepoint and USDT probes take no signature; use args->field (tracepoints) or arg1..argN (USDT)"

// parseSignature parses the signature at the current '('.
func (p *parser) parseSignature(pr *Probe) {
	open := p.tok
	close := p.matchParen()
	if pr.Kind == TracepointProbe || pr.Kind == USDTProbe {
		if close < 0 {
			p.errorf(open.pos, Pos(len(p.src)), "%s", sigOnEventMsg)
			p.seek(len(p.src))
			return
		}
		p.errorf(open.pos, Pos(close+1), "%s", sigOnEventMsg)
		p.seek(close + 1)
		return
	}
	if close < 0 {
		p.errorf(open.pos, Pos(len(p.src)), "unmatched '(' in signature: missing ')'")
		p.seek(len(p.src))
		return
	}
	n := len(p.errs)
	if !p.try(func() { pr.Params = p.parseParams() }) {
		pr.Params = nil
		if len(p.errs) > n {
			p.errs[len(p.errs)-1].Msg += " (a predicate must be separated from the function by a space)"
		}
		p.seek(close + 1)
	}
}

// parsePredicate parses "(expr)" at the current '('.
func (p *parser) parsePredicate(pr *Probe) {
	open := p.tok
	close := p.matchParen()
	if close >= 0 && p.castAhead() {
		s := scanner{src: p.src, off: close + 1}
		if after := s.next(); after.kind == tIdent || after.kind == tInt || after.kind == tChar || after.is("(") {
			p.errorf(open.pos, Pos(close+1), "'%s' is a cast, not a predicate; wrap the whole predicate in parentheses, as in ((int)retval < 0)",
				p.src[open.pos:close+1])
			p.seek(len(p.src))
			return
		}
	}
	p.next()
	if p.tok.is(")") {
		p.errorf(open.pos, p.tok.end, "empty predicate")
		p.next()
		return
	}
	var filter Expr
	ok := p.try(func() {
		filter = p.parseExpr()
		if !p.tok.is(")") {
			if close < 0 && p.tok.kind == tEOF {
				p.fail(open.pos, Pos(len(p.src)), "unmatched '(' in predicate: missing ')'")
			}
			p.unexpected("')' to close the predicate")
		}
		p.next()
	})
	switch {
	case ok:
		pr.Filter = filter
	case close < 0:
		p.seek(len(p.src))
	default:
		p.seek(close + 1)
	}
}

// parseAction parses `"format"[, arg...]`, or nothing.
func (p *parser) parseAction(pr *Probe) {
	switch p.tok.kind {
	case tEOF:
		return
	case tIllegal:
		p.seek(len(p.src)) // already reported, e.g. an unterminated string
		return
	case tString:
		pr.Format = p.stringLit(p.tok)
		p.next()
	default:
		what := "expected a format string in double quotes"
		if pr.Filter != nil {
			what += " after the predicate"
		}
		p.errorf(p.tok.pos, p.tok.end, "%s, found %s", what, p.tok.describe())
		p.seek(len(p.src))
		return
	}
	if p.tok.kind == tEOF {
		return
	}
	if !p.tok.is(",") {
		if p.tok.kind != tIllegal {
			p.errorf(p.tok.pos, p.tok.end, "expected ',' or end of probe after the format string, found %s", p.tok.describe())
		}
		p.seek(len(p.src))
		return
	}
	p.next()
	pr.Args = p.parseArgs(nil)
}

// parseArgs parses a comma-separated expression list up to the end of input
// or, at nesting level 0, one of the stop punctuations (which is left as
// the current token). After an error it resumes at the next top-level
// comma.
func (p *parser) parseArgs(stop []string) []Expr {
	var args []Expr
	atStop := func() bool {
		if p.tok.kind == tEOF {
			return true
		}
		for _, s := range stop {
			if p.tok.is(s) {
				return true
			}
		}
		return false
	}
	for {
		comma := p.nextComma(stop...)
		var e Expr
		ok := p.try(func() {
			e = p.parseExpr()
			if !p.tok.is(",") && !atStop() {
				want := "',' or end of input"
				if len(stop) > 0 {
					want = "',', '" + strings.Join(stop, "', '") + "' or end of input"
				}
				p.unexpected(want)
			}
		})
		if ok {
			args = append(args, e)
		} else {
			if comma < 0 {
				p.seek(len(p.src))
				return args
			}
			p.seek(comma)
		}
		if !p.tok.is(",") {
			return args
		}
		p.next()
	}
}

// String returns the probe in canonical form, which ParseTrace parses back
// into an equal probe: "p::do_sys_open(int dfd) (dfd > 0) \"fd %d\", dfd".
func (pr *Probe) String() string {
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
	if pr.Offset != 0 {
		fmt.Fprintf(&b, "+0x%x", pr.Offset)
	}
	if pr.Params != nil {
		writeParams(&b, pr.Params)
	}
	if pr.Filter != nil {
		b.WriteString(" (")
		writeExpr(&b, pr.Filter)
		b.WriteByte(')')
	}
	if pr.Format != nil {
		b.WriteByte(' ')
		writeExpr(&b, pr.Format)
		for _, a := range pr.Args {
			b.WriteString(", ")
			writeExpr(&b, a)
		}
	}
	return b.String()
}

func writeParams(b *strings.Builder, params []*Param) {
	b.WriteByte('(')
	for i, prm := range params {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(prm.String())
	}
	b.WriteByte(')')
}
