package specparse

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Pos is a 0-based byte offset into the spec string a node or error refers to.
type Pos int

// ErrSyntax is wrapped by every *Error, so callers can tell a malformed spec
// from other failures with errors.Is(err, ErrSyntax).
var ErrSyntax = errors.New("syntax error")

// Error is a positioned error in a spec. [Pos, End) is the byte range of the
// offending text; End == Pos means a point (for example the end of input).
type Error struct {
	Pos, End Pos
	Msg      string
}

// Error returns "col N: msg" with a 1-based byte column.
func (e *Error) Error() string {
	return fmt.Sprintf("col %d: %s", e.Pos+1, e.Msg)
}

// Is reports whether target is ErrSyntax.
func (e *Error) Is(target error) bool { return target == ErrSyntax }

// ErrorList is a list of *Error, as returned (through Err) by the parsers.
// The zero value is an empty list ready to use.
type ErrorList []*Error

// Add appends an error for the byte range [pos, end).
func (l *ErrorList) Add(pos, end Pos, msg string) {
	if end < pos {
		end = pos
	}
	*l = append(*l, &Error{Pos: pos, End: end, Msg: msg})
}

// Len, Less and Swap implement sort.Interface, ordering by position.
func (l ErrorList) Len() int      { return len(l) }
func (l ErrorList) Swap(i, j int) { l[i], l[j] = l[j], l[i] }
func (l ErrorList) Less(i, j int) bool {
	a, b := l[i], l[j]
	if a.Pos != b.Pos {
		return a.Pos < b.Pos
	}
	if a.End != b.End {
		return a.End < b.End
	}
	return a.Msg < b.Msg
}

// Sort sorts the list by position (stable, so equal positions keep the order
// in which they were found).
func (l ErrorList) Sort() { sort.Stable(l) }

// Err returns l as an error, or nil if l is empty.
func (l ErrorList) Err() error {
	if len(l) == 0 {
		return nil
	}
	return l
}

// Error joins the messages of all errors with "; ".
func (l ErrorList) Error() string {
	switch len(l) {
	case 0:
		return "no errors"
	case 1:
		return l[0].Error()
	}
	parts := make([]string, len(l))
	for i, e := range l {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "; ")
}

// Unwrap returns the errors in the list, so errors.As(err, &e) with e an
// *Error finds the first one and errors.Is(err, ErrSyntax) holds.
func (l ErrorList) Unwrap() []error {
	errs := make([]error, len(l))
	for i, e := range l {
		errs[i] = e
	}
	return errs
}

// SpecError reports the errors of one spec out of several (see
// ParseTraceList). Spec is the text the positions in Err refer to.
type SpecError struct {
	Index int    // index of the spec in the input list
	Spec  string // the spec text
	Err   error  // usually an ErrorList
}

// Error returns "probe N 'spec': <errors>".
func (e *SpecError) Error() string {
	return fmt.Sprintf("probe %d '%s': %v", e.Index+1, e.Spec, e.Err)
}

// Unwrap returns e.Err.
func (e *SpecError) Unwrap() error { return e.Err }

// Caret renders err for a terminal. For every *Error found in err (directly,
// in an ErrorList, or wrapped) it writes a block
//
//	error: <msg>
//	  <spec>
//	  <spaces>^~~~
//
// with the caret under Pos and tildes up to End. *SpecError values found in
// err are rendered against their own Spec instead of spec. An error without
// positions is rendered as a single "error: <text>" line. The result ends in
// a newline; it is "" when err is nil.
func Caret(spec string, err error) string {
	if err == nil {
		return ""
	}
	var b strings.Builder
	if !caretWalk(&b, spec, err) {
		fmt.Fprintf(&b, "error: %v\n", err)
	}
	return b.String()
}

// caretWalk writes the blocks for every positioned error in err and reports
// whether it found any.
func caretWalk(b *strings.Builder, spec string, err error) bool {
	switch e := err.(type) {
	case nil:
		return false
	case *Error:
		caretBlock(b, spec, e)
		return true
	case ErrorList:
		for _, x := range e {
			caretBlock(b, spec, x)
		}
		return len(e) > 0
	case *SpecError:
		if !caretWalk(b, e.Spec, e.Err) {
			fmt.Fprintf(b, "error: %v\n", e)
		}
		return true
	}
	switch u := err.(type) {
	case interface{ Unwrap() []error }:
		found := false
		for _, x := range u.Unwrap() {
			if caretWalk(b, spec, x) {
				found = true
			} else if x != nil {
				fmt.Fprintf(b, "error: %v\n", x)
				found = true
			}
		}
		return found
	case interface{ Unwrap() error }:
		return caretWalk(b, spec, u.Unwrap())
	}
	return false
}

func caretBlock(b *strings.Builder, spec string, e *Error) {
	pos, end := int(e.Pos), int(e.End)
	pos = max(0, min(pos, len(spec)))
	end = max(pos, min(end, len(spec)))
	line, caret := Window(spec, pos, end)
	fmt.Fprintf(b, "error: %s\n  %s\n  %s\n", e.Msg, line, caret)
}

// displayText replaces control characters other than tab with spaces, rune
// for rune, so the caret line stays aligned and the block stays on one line.
func displayText(s string) string {
	return strings.Map(func(r rune) rune {
		if r != '\t' && (r < ' ' || r == 0x7f) {
			return ' '
		}
		return r
	}, s)
}
