package specparse

import (
	"fmt"
	"strings"
)

// tokKind classifies tokens of the C-like part of a spec (signatures,
// predicates, arguments, argdist types and expressions).
type tokKind int

const (
	tEOF     tokKind = iota
	tIllegal         // bad character or unterminated literal; already reported
	tIdent           // arg1, $retval, struct
	tInt             // 42, 0x2a, 7ul, also malformed numbers such as 09 or 1.5
	tChar            // 'a'
	tString          // "fmt"
	tPunct           // operators and punctuation; the text is in lit
)

type token struct {
	kind     tokKind
	pos, end Pos
	lit      string // source text
}

// is reports whether t is the punctuation p.
func (t token) is(p string) bool { return t.kind == tPunct && t.lit == p }

// describe names the token for error messages.
func (t token) describe() string {
	switch t.kind {
	case tEOF:
		return "end of input"
	case tString:
		return "string " + t.lit
	}
	return "'" + t.lit + "'"
}

// puncts lists the punctuation tokens, longest first for maximal munch.
// There is deliberately no "--", "++" or "=" compound: "--x" scans as two
// minus signs, and "=" is a token of its own so the parser can complain
// about assignment.
var puncts = []string{
	"->", "<<", ">>", "<=", ">=", "==", "!=", "&&", "||",
	"(", ")", "[", "]", ",", ".", "?", ":", "+", "-", "*", "/", "%",
	"<", ">", "&", "^", "|", "!", "~", "@", "=", "#",
}

// scanner splits spec text into tokens. Errors (bad characters,
// unterminated literals) go to errs; a nil errs makes it silent, which the
// parser uses for look-ahead.
type scanner struct {
	src  string
	off  int
	errs *ErrorList
}

func (s *scanner) errorf(pos, end int, format string, args ...any) {
	if s.errs != nil {
		s.errs.Add(Pos(pos), Pos(end), fmt.Sprintf(format, args...))
	}
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}
func isLetter(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_' || c == '$'
}
func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// next returns the next token.
func (s *scanner) next() token {
	for s.off < len(s.src) && isSpace(s.src[s.off]) {
		s.off++
	}
	start := s.off
	if start >= len(s.src) {
		return token{kind: tEOF, pos: Pos(start), end: Pos(start)}
	}
	c := s.src[start]
	tok := func(k tokKind) token {
		return token{kind: k, pos: Pos(start), end: Pos(s.off), lit: s.src[start:s.off]}
	}
	switch {
	case isLetter(c):
		for s.off < len(s.src) && (isLetter(s.src[s.off]) || isDigit(s.src[s.off])) {
			s.off++
		}
		return tok(tIdent)
	case isDigit(c):
		// Take the whole alphanumeric run (including '.') so that "09",
		// "0x" or "1.5" become one token the parser can reject as a unit.
		for s.off < len(s.src) && (isLetter(s.src[s.off]) || isDigit(s.src[s.off]) || s.src[s.off] == '.') {
			s.off++
		}
		return tok(tInt)
	case c == '"' || c == '\'':
		return s.quoted(c)
	}
	for _, p := range puncts {
		if strings.HasPrefix(s.src[start:], p) {
			s.off += len(p)
			return tok(tPunct)
		}
	}
	// A bad character: report the whole UTF-8 sequence.
	s.off++
	for s.off < len(s.src) && s.src[s.off]&0xc0 == 0x80 {
		s.off++
	}
	s.errorf(start, s.off, "invalid character %q", s.src[start:s.off])
	return tok(tIllegal)
}

// quoted scans a string or character literal starting at the quote q.
// Escapes are validated later, by the parser; here a backslash only protects
// the next byte.
func (s *scanner) quoted(q byte) token {
	start := s.off
	s.off++
	for s.off < len(s.src) {
		switch s.src[s.off] {
		case q:
			s.off++
			k := tString
			if q == '\'' {
				k = tChar
			}
			return token{kind: k, pos: Pos(start), end: Pos(s.off), lit: s.src[start:s.off]}
		case '\\':
			s.off++
		case '\n':
			s.errorf(start, s.off, "newline in %s literal", litName(q))
			return token{kind: tIllegal, pos: Pos(start), end: Pos(s.off), lit: s.src[start:s.off]}
		}
		s.off++
	}
	s.off = len(s.src)
	s.errorf(start, s.off, "unterminated %s literal", litName(q))
	return token{kind: tIllegal, pos: Pos(start), end: Pos(s.off), lit: s.src[start:s.off]}
}

func litName(q byte) string {
	if q == '"' {
		return "string"
	}
	return "character"
}

// unquote decodes the body of a string or character literal (lit includes
// the quotes) with C escapes: \n \t \r \a \b \f \v \\ \' \" \? \ooo (one to
// three octal digits) and \xHH (one or two hex digits). It returns the value
// and, for each value byte plus one past the end, the offset in lit it came
// from. On a bad escape it returns the offset and length of the escape and a
// message.
func unquote(lit string) (val string, offs []int, errOff, errLen int, msg string) {
	body := lit[1 : len(lit)-1]
	var b strings.Builder
	offs = make([]int, 0, len(body)+1)
	for i := 0; i < len(body); {
		c := body[i]
		if c != '\\' {
			b.WriteByte(c)
			offs = append(offs, 1+i)
			i++
			continue
		}
		start := i
		i++
		if i >= len(body) {
			return "", nil, 1 + start, 1, "unterminated escape sequence"
		}
		e := body[i]
		i++
		var v byte
		switch e {
		case 'n':
			v = '\n'
		case 't':
			v = '\t'
		case 'r':
			v = '\r'
		case 'a':
			v = '\a'
		case 'b':
			v = '\b'
		case 'f':
			v = '\f'
		case 'v':
			v = '\v'
		case '\\', '\'', '"', '?':
			v = e
		case '0', '1', '2', '3', '4', '5', '6', '7':
			n := int(e - '0')
			for k := 0; k < 2 && i < len(body) && '0' <= body[i] && body[i] <= '7'; k++ {
				n = n*8 + int(body[i]-'0')
				i++
			}
			if n > 0xff {
				return "", nil, 1 + start, i - start, fmt.Sprintf("octal escape '%s' is out of range", body[start:i])
			}
			v = byte(n)
		case 'x':
			n, k := 0, 0
			for ; k < 2 && i < len(body) && hexVal(body[i]) >= 0; k++ {
				n = n*16 + hexVal(body[i])
				i++
			}
			if k == 0 {
				return "", nil, 1 + start, i - start, "\\x escape needs hexadecimal digits"
			}
			v = byte(n)
		default:
			// Report the whole (possibly multi-byte) character.
			for i < len(body) && body[i]&0xc0 == 0x80 {
				i++
			}
			return "", nil, 1 + start, i - start, fmt.Sprintf("unknown escape sequence '%s'", body[start:i])
		}
		b.WriteByte(v)
		offs = append(offs, 1+start)
	}
	offs = append(offs, len(lit)-1)
	return b.String(), offs, 0, 0, ""
}

func hexVal(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c-'a') + 10
	case 'A' <= c && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// quoteC returns s as a C string literal, escaping quotes, backslashes and
// control characters (as 3-digit octal, so a following digit cannot extend
// the escape). Bytes >= 0x80 are kept as they are.
func quoteC(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '"', '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case '\n':
			b.WriteString(`\n`)
		case '\t':
			b.WriteString(`\t`)
		case '\r':
			b.WriteString(`\r`)
		default:
			if c < ' ' || c == 0x7f {
				fmt.Fprintf(&b, "\\%03o", c)
			} else {
				b.WriteByte(c)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}

// quoteChar returns c as a C character literal.
func quoteChar(c byte) string {
	switch c {
	case '\'':
		return `'\''`
	case '"':
		return `'"'`
	}
	q := quoteC(string([]byte{c}))
	return "'" + q[1:len(q)-1] + "'"
}
