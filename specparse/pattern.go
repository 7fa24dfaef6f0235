package specparse

import (
	"fmt"
	"regexp"
	"regexp/syntax"
	"strings"
	"unicode"
	"unicode/utf8"
)

// PatternKind says what a funccount/stackcount/funclatency pattern matches.
type PatternKind int

const (
	KernelFunc PatternKind = iota // kernel function (kprobe, fentry)
	UserFunc                      // function in a user library or binary (uprobe)
	Tracepoint                    // kernel tracepoint category:event
	USDT                          // USDT probe in a user library or binary
)

func (k PatternKind) String() string {
	switch k {
	case KernelFunc:
		return "kernel function"
	case UserFunc:
		return "user function"
	case Tracepoint:
		return "tracepoint"
	case USDT:
		return "USDT probe"
	}
	return fmt.Sprintf("PatternKind(%d)", int(k))
}

// Pattern is a parsed funccount/stackcount/funclatency pattern:
//
//	func | lib:func | /path/bin:func | p::func | p:lib:func | t:category:event | u:lib:probe
type Pattern struct {
	Raw       string      // the pattern as typed
	Kind      PatternKind //
	Target    string      // library or binary (UserFunc, USDT), category (Tracepoint), "" (KernelFunc)
	TargetPos Pos         // position of Target (or of where it would be)
	Func      string      // function, event or probe pattern
	FuncPos   Pos         // position of Func
	Regex     bool        // Func (and Target for tracepoints) is a regular expression, not a glob
}

// ParsePattern parses a funccount/stackcount pattern (see Pattern). An
// empty type ("::func", "::lib:func") means p, as in trace. With
// regex set, the function part is a Go regular expression (for tracepoints,
// "category:event" is); otherwise it is a glob (see Glob). On failure it
// returns a nil Pattern and an ErrorList.
func ParsePattern(s string, regex bool) (*Pattern, error) {
	p := &Pattern{Raw: s, Regex: regex}
	var errs ErrorList
	if s == "" {
		errs.Add(0, 0, "empty pattern")
		return nil, errs.Err()
	}
	parts, offs := splitColon(s)
	switch len(parts) {
	case 1:
		p.Kind, p.TargetPos, p.Func, p.FuncPos = KernelFunc, 0, parts[0], 0
	case 2:
		p.Target, p.TargetPos, p.Func, p.FuncPos = parts[0], offs[0], parts[1], offs[1]
		p.Kind = UserFunc
		if p.Target == "" {
			p.Kind = KernelFunc
		}
	case 3:
		p.Target, p.TargetPos, p.Func, p.FuncPos = parts[1], offs[1], parts[2], offs[2]
		switch parts[0] {
		case "p", "":
			p.Kind = UserFunc
			if p.Target == "" {
				p.Kind = KernelFunc
			}
		case "t":
			p.Kind = Tracepoint
		case "u":
			p.Kind = USDT
		default:
			errs.Add(0, Pos(len(parts[0])), fmt.Sprintf("type must be 'p', 't', or 'u', but got '%s'", parts[0]))
			return nil, errs.Err()
		}
	default:
		errs.Add(offs[3]-1, Pos(len(s)), fmt.Sprintf("too many ':'-separated components in pattern %q", s))
		return nil, errs.Err()
	}
	p.check(&errs)
	if err := errs.Err(); err != nil {
		return nil, err
	}
	return p, nil
}

// ParseLatencyPattern parses a funclatency pattern: "func" (kernel) or
// "lib:func" (user; an empty lib means the kernel). Wildcards and regex work
// as for ParsePattern. Other forms are rejected with an ErrorList.
func ParseLatencyPattern(s string, regex bool) (*Pattern, error) {
	var errs ErrorList
	if s == "" {
		errs.Add(0, 0, "empty pattern")
		return nil, errs.Err()
	}
	parts, offs := splitColon(s)
	p := &Pattern{Raw: s, Regex: regex}
	switch len(parts) {
	case 1:
		p.Kind, p.Func = KernelFunc, s
	case 2:
		p.Target, p.TargetPos, p.Func, p.FuncPos = parts[0], offs[0], parts[1], offs[1]
		p.Kind = UserFunc
		if p.Target == "" {
			p.Kind = KernelFunc
		}
	default:
		errs.Add(0, Pos(len(s)), fmt.Sprintf("unrecognized pattern format '%s': want func or lib:func", s))
		return nil, errs.Err()
	}
	p.check(&errs)
	if err := errs.Err(); err != nil {
		return nil, err
	}
	return p, nil
}

// splitColon splits s on ':' and returns the parts and their offsets.
func splitColon(s string) ([]string, []Pos) {
	parts := strings.Split(s, ":")
	offs := make([]Pos, len(parts))
	off := 0
	for i, part := range parts {
		offs[i] = Pos(off)
		off += len(part) + 1
	}
	return parts, offs
}

// check validates the parts of a pattern whose kind is known.
func (p *Pattern) check(errs *ErrorList) {
	funcEnd := p.FuncPos + Pos(len(p.Func))
	switch p.Kind {
	case Tracepoint:
		if p.Target == "" || p.Func == "" {
			at := p.TargetPos
			if p.Target != "" {
				at = p.FuncPos
			}
			errs.Add(at, at, "tracepoint pattern needs a category and an event: t:category:event")
			return
		}
	case USDT:
		if p.Target == "" {
			errs.Add(p.TargetPos, p.TargetPos, "USDT pattern needs a library or binary: u:lib:probe")
		}
		if p.Func == "" {
			errs.Add(p.FuncPos, p.FuncPos, "empty probe name in USDT pattern")
		}
	default:
		if p.Func == "" {
			errs.Add(p.FuncPos, p.FuncPos, "empty function name in pattern")
		}
	}
	if len(*errs) > 0 {
		return
	}
	// Names never contain white space or control characters; they usually
	// come from shell quoting mistakes.
	for i, r := range p.Func {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			n := utf8.RuneLen(r)
			errs.Add(p.FuncPos+Pos(i), p.FuncPos+Pos(i+n), fmt.Sprintf("invalid character %q in pattern", p.Func[i:i+n]))
			return
		}
	}
	if _, err := p.Matcher(); err != nil {
		switch {
		case p.Kind == Tracepoint && p.Regex:
			errs.Add(p.TargetPos, funcEnd, err.Error())
		case p.Kind == Tracepoint:
			if _, err := Glob(p.Target); err != nil {
				errs.Add(p.TargetPos, p.TargetPos+Pos(len(p.Target)), err.Error())
			} else {
				errs.Add(p.FuncPos, funcEnd, err.Error())
			}
		default:
			errs.Add(p.FuncPos, funcEnd, err.Error())
		}
	}
}

// String returns the canonical form of the pattern: "p::func" (kernel),
// "p:lib:func", "t:category:event" or "u:lib:probe".
func (p *Pattern) String() string {
	switch p.Kind {
	case KernelFunc:
		return "p::" + p.Func
	case UserFunc:
		return "p:" + p.Target + ":" + p.Func
	case Tracepoint:
		return "t:" + p.Target + ":" + p.Func
	case USDT:
		return "u:" + p.Target + ":" + p.Func
	}
	return p.Raw
}

// IsLiteral reports whether the pattern names exactly one thing: it is not a
// regex and has no glob metacharacters, so callers can skip listing
// candidates.
func (p *Pattern) IsLiteral() bool {
	if p.Regex || hasGlobMeta(p.Func) {
		return false
	}
	return p.Kind != Tracepoint || !hasGlobMeta(p.Target)
}

func hasGlobMeta(s string) bool { return strings.ContainsAny(s, "*?[\\") }

// Matcher matches names against a Pattern.
type Matcher struct {
	kind PatternKind
	re   *regexp.Regexp // regex, or glob of Func
	cat  *regexp.Regexp // glob of the tracepoint category (nil with regex)
}

// Matcher compiles the pattern. It fails only for an invalid regex or glob,
// which ParsePattern has already rejected.
func (p *Pattern) Matcher() (*Matcher, error) {
	m := &Matcher{kind: p.Kind}
	var err error
	switch {
	case p.Regex && p.Kind == Tracepoint:
		m.re, err = compileRegex(p.Target + ":" + p.Func)
	case p.Regex:
		m.re, err = compileRegex(p.Func)
	default:
		if m.re, err = Glob(p.Func); err == nil && p.Kind == Tracepoint {
			m.cat, err = Glob(p.Target)
		}
	}
	if err != nil {
		return nil, err
	}
	return m, nil
}

// compileRegex compiles a user regex anchored at the start only, like
// Python's re.match used by bcc.
func compileRegex(expr string) (*regexp.Regexp, error) {
	if _, err := regexp.Compile(expr); err != nil {
		return nil, fmt.Errorf("invalid regular expression %q: %v", expr, regexErrMsg(err, false))
	}
	return regexp.Compile("^(?:" + expr + ")")
}

// regexErrMsg strips the "error parsing regexp: " prefix Go puts on its
// errors.
// With withExpr, the offending fragment is appended.
func regexErrMsg(err error, withExpr bool) string {
	if e, ok := err.(*syntax.Error); ok {
		if withExpr {
			return string(e.Code) + " `" + e.Expr + "`"
		}
		return string(e.Code)
	}
	return err.Error()
}

// Match reports whether name matches. For a tracepoint pattern name is
// "category:event".
func (m *Matcher) Match(name string) bool {
	if m.kind == Tracepoint {
		cat, ev, _ := strings.Cut(name, ":")
		return m.MatchEvent(cat, ev)
	}
	return m.re.MatchString(name)
}

// MatchEvent reports whether the tracepoint category:event matches. With a
// regex the regex is matched against "category:event"; with globs the
// category and event are matched separately.
func (m *Matcher) MatchEvent(category, event string) bool {
	if m.cat == nil {
		return m.re.MatchString(category + ":" + event)
	}
	return m.cat.MatchString(category) && m.re.MatchString(event)
}

// Glob converts a shell-style glob into a regular expression anchored at
// both ends: '*' matches any string, '?' any single character, "[...]" a
// character class ("[!...]" or "[^...]" negated), and '\' makes the next
// character literal. Every other character is literal, including regex
// metacharacters such as '.' and '+'. (bcc only rewrites '*' to ".*" and
// leaves other metacharacters active, so "vfs_r.ad" matches "vfs_read" there;
// btool deliberately escapes them.) An unterminated '[' is literal. It fails
// only for an invalid class such as "[z-a]".
func Glob(pattern string) (*regexp.Regexp, error) {
	var b strings.Builder
	b.WriteString("^(?s:")
	rs := []rune(pattern)
	for i := 0; i < len(rs); i++ {
		switch r := rs[i]; r {
		case '*':
			b.WriteString(".*")
		case '?':
			b.WriteString(".")
		case '\\':
			if i+1 < len(rs) {
				i++
			}
			b.WriteString(regexp.QuoteMeta(string(rs[i])))
		case '[':
			end := classEnd(rs, i)
			if end < 0 {
				b.WriteString(`\[`)
				continue
			}
			b.WriteByte('[')
			j := i + 1
			if rs[j] == '!' || rs[j] == '^' {
				b.WriteByte('^')
				j++
			}
			for k := j; k < end; k++ {
				if rs[k] == '-' && k > j && k < end-1 {
					b.WriteByte('-')
				} else {
					b.WriteString(quoteClassRune(rs[k]))
				}
			}
			b.WriteByte(']')
			i = end
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	b.WriteString(")$")
	re, err := regexp.Compile(b.String())
	if err != nil {
		return nil, fmt.Errorf("invalid glob %q: %v", pattern, regexErrMsg(err, true))
	}
	return re, nil
}

// classEnd returns the index of the ']' closing the class that starts at
// rs[i] == '[', or -1. A ']' right after "[" or "[!" is part of the class.
func classEnd(rs []rune, i int) int {
	j := i + 1
	if j < len(rs) && (rs[j] == '!' || rs[j] == '^') {
		j++
	}
	if j < len(rs) && rs[j] == ']' {
		j++
	}
	for ; j < len(rs); j++ {
		if rs[j] == ']' {
			return j
		}
	}
	return -1
}

// quoteClassRune escapes r for use inside a regexp character class: ASCII
// punctuation and spaces get a backslash, letters and digits stay as they are
// (a backslash would turn them into escapes such as \d).
func quoteClassRune(r rune) string {
	if r < 0x80 && !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9') {
		return `\` + string(r)
	}
	return string(r)
}
