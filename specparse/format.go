package specparse

import (
	"fmt"
	"strings"
)

// Verb is one piece of a printf format string: either literal text (Conv
// is "") or a conversion such as "%-10s".
type Verb struct {
	Pos, End Pos    // byte range in the format string
	Text     string // the source text: the literal text, or the whole verb "%-10s"
	Conv     string // conversion with length modifier: "d", "lu", "llx", "s", "K", "%"; "" for text
	Flags    string // flags as written, any of "-+ #0"
	Width    int    // field width; 0 if none
}

// IsText reports whether v is literal text.
func (v Verb) IsText() bool { return v.Conv == "" }

// TakesArg reports whether v consumes an argument (every verb except %%).
func (v Verb) TakesArg() bool { return v.Conv != "" && v.Conv != "%" }

// Base returns the conversion letter without length modifier: "d" for
// "lld", "%" for "%%", "" for text.
func (v Verb) Base() string {
	if v.Conv == "" {
		return ""
	}
	return v.Conv[len(v.Conv)-1:]
}

// maxWidth bounds field widths; a wider field is surely a typo.
const maxWidth = 4096

// ParseFormat splits a printf format string into literal text and verbs.
// Accepted verbs: %d %i %u %x %X with an optional h, l or ll length
// modifier (%hd, %lu, %llx, ...), %c %s %p %K %U, and %%; flags "-+ #0"
// and a decimal width may precede the conversion (%-10s, %5d, %08x), but
// not for %%. Positions are byte offsets into s. On failure it returns nil
// and an ErrorList with one error per unknown verb ("unknown format verb
// \"%q\"").
func ParseFormat(s string) ([]Verb, error) {
	var verbs []Verb
	var errs ErrorList
	text := 0 // start of the pending literal text
	flushText := func(end int) {
		if end > text {
			verbs = append(verbs, Verb{Pos: Pos(text), End: Pos(end), Text: s[text:end]})
		}
	}
	for i := 0; i < len(s); {
		if s[i] != '%' {
			i++
			continue
		}
		flushText(i)
		start := i
		i++
		v := Verb{Pos: Pos(start)}
		for i < len(s) && strings.IndexByte("-+ #0", s[i]) >= 0 {
			i++
		}
		v.Flags = s[start+1 : i]
		for i < len(s) && isDigit(s[i]) {
			if v.Width <= maxWidth {
				v.Width = v.Width*10 + int(s[i]-'0')
			}
			i++
		}
		convStart := i
		if strings.HasPrefix(s[i:], "ll") {
			i += 2
		} else if i < len(s) && (s[i] == 'l' || s[i] == 'h') {
			i++
		}
		length := s[convStart:i]
		ok := false
		if i < len(s) {
			c := s[i]
			i++
			switch {
			case strings.IndexByte("diuxX", c) >= 0:
				ok = true
			case strings.IndexByte("cspKU", c) >= 0:
				ok = length == ""
			case c == '%':
				ok = length == "" && v.Flags == "" && i-start == 2
			}
		}
		// Include the rest of a multi-byte character in the verb text.
		for !ok && i < len(s) && s[i]&0xc0 == 0x80 {
			i++
		}
		v.End, v.Text, v.Conv = Pos(i), s[start:i], s[convStart:i]
		switch {
		case !ok:
			errs.Add(v.Pos, v.End, fmt.Sprintf("unknown format verb %q", v.Text))
		case v.Width > maxWidth:
			errs.Add(v.Pos, v.End, fmt.Sprintf("field width in %q is too large", v.Text))
		}
		verbs = append(verbs, v)
		text = i
	}
	flushText(len(s))
	if err := errs.Err(); err != nil {
		return nil, err
	}
	return verbs, nil
}

// Verbs parses the literal as a printf format (see ParseFormat), with
// positions and errors mapped back to the spec the literal came from
// (escape sequences make the two differ). It needs Lit (set by the parser).
func (s *StringLit) Verbs() ([]Verb, error) {
	_, offs, _, _, msg := unquote(s.Lit)
	if msg != "" || len(offs) != len(s.Value)+1 {
		return nil, fmt.Errorf("string literal %s: cannot map positions: %w", s.Lit, ErrSyntax)
	}
	at := func(p Pos) Pos { return s.Start + Pos(offs[p]) }
	verbs, err := ParseFormat(s.Value)
	if err != nil {
		list := err.(ErrorList)
		for _, e := range list {
			e.Pos, e.End = at(e.Pos), at(e.End)
		}
		return nil, list
	}
	for i := range verbs {
		verbs[i].Pos, verbs[i].End = at(verbs[i].Pos), at(verbs[i].End)
	}
	return verbs, nil
}
