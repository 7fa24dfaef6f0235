package tracefs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

// Format is a parsed tracepoint format file
// (<tracefs>/events/<category>/<name>/format): the event ID to attach with
// and the layout of the record a tracepoint program receives as its context.
type Format struct {
	Category, Name string
	ID             uint32
	Fields         []Field // in file order: common fields first
}

// Field is one "field:" line of a format file.
type Field struct {
	Name string
	// Type is the C type without the field name, with array bounds kept:
	// "const char *", "char[16]", "__data_loc char[]". A "__user" marker is
	// removed from Type and reported in User.
	Type   string
	Offset int
	Size   int
	Signed bool
	// Common is set for the common_* header fields every event has.
	Common bool
	// ArrayLen is -1 when the field is not an array, 0 for a [] array (and for
	// __data_loc fields) and the declared length otherwise.
	ArrayLen int
	// DataLoc is set for "__data_loc T[] name" fields: the 4 bytes hold a u32
	// whose low 16 bits are the offset of the data from the record start and
	// whose high 16 bits are its length.
	DataLoc bool
	// RelLoc is set for "__rel_loc T[] name" fields (Linux 5.19+): like
	// DataLoc, but the offset is relative to the end of the field.
	RelLoc bool
	// User is set when the declaration carries a visible __user marker.
	User bool
}

// Field returns the field called name, or nil.
func (f *Format) Field(name string) *Field {
	for i := range f.Fields {
		if f.Fields[i].Name == name {
			return &f.Fields[i]
		}
	}
	return nil
}

var formats sync.Map // "cat/name" -> *Format

// ReadFormat reads and parses the format file of tracepoint category:name.
// Successful results are cached per process; the returned Format is shared
// and must not be modified.
//
// Returns an error wrapping [os.ErrNotExist] with the message
// "tracepoint category:name not found" when the kernel has no such event
// (or no tracefs), or only an ftrace-internal event without an id, and a
// parse error for a malformed file.
func ReadFormat(category, name string) (*Format, error) {
	key := category + "/" + name
	if f, ok := formats.Load(key); ok {
		return f.(*Format), nil
	}
	if !validEventPart(category) || !validEventPart(name) {
		return nil, notFoundError("tracepoint " + category + ":" + name + " not found")
	}
	dir, err := Path(filepath.Join("events", category, name))
	if err != nil {
		return nil, fmt.Errorf("tracepoint %s:%s not found: %w", category, name, err)
	}
	data, err := readFile(filepath.Join(dir, "format"), 8<<10)
	if errors.Is(err, os.ErrNotExist) {
		return nil, notFoundError("tracepoint " + category + ":" + name + " not found")
	}
	if err != nil {
		return nil, fmt.Errorf("tracepoint %s:%s: %w", category, name, err)
	}
	// ftrace's own events (ftrace:bprint, ftrace:function) have a format
	// but no id: they are not tracepoints and can't be attached, so they
	// are not found like any other name the kernel doesn't trace.
	if _, err := os.Stat(filepath.Join(dir, "id")); errors.Is(err, os.ErrNotExist) {
		return nil, notFoundError("tracepoint " + category + ":" + name + " not found")
	}
	f, err := ParseFormat(string(data))
	if err != nil {
		return nil, fmt.Errorf("tracepoint %s:%s: %w", category, name, err)
	}
	f.Category = category
	if f.Name == "" {
		f.Name = name
	}
	formats.Store(key, f)
	return f, nil
}

// notFoundError is an error with a fixed message that wraps os.ErrNotExist.
type notFoundError string

func (e notFoundError) Error() string { return string(e) }
func (e notFoundError) Unwrap() error { return os.ErrNotExist }

// ParseFormat parses the text of a tracepoint format file. Category is left
// empty; Name comes from the "name:" line.
func ParseFormat(text string) (*Format, error) {
	f := &Format{}
	sawID := false
	for n, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "name:"):
			f.Name = strings.TrimSpace(line[len("name:"):])
		case strings.HasPrefix(line, "ID:"):
			id, err := strconv.ParseUint(strings.TrimSpace(line[len("ID:"):]), 10, 32)
			if err != nil {
				return nil, fmt.Errorf("format line %d: bad ID: %w", n+1, err)
			}
			f.ID, sawID = uint32(id), true
		case strings.HasPrefix(line, "field:"):
			fld, err := parseField(line)
			if err != nil {
				return nil, fmt.Errorf("format line %d: %w", n+1, err)
			}
			f.Fields = append(f.Fields, fld)
		case strings.HasPrefix(line, "print fmt:"):
			// The print format is an arbitrary C expression; nothing after it
			// describes the layout.
			if !sawID {
				return nil, fmt.Errorf("format has no ID line")
			}
			return f, nil
		}
	}
	if !sawID {
		return nil, fmt.Errorf("format has no ID line")
	}
	return f, nil
}

// parseField parses
//
//	field:<C declaration>;	offset:N;	size:N;	signed:N;
//
// ("signed:" is missing on kernels before 2.6.32).
func parseField(line string) (Field, error) {
	fld := Field{ArrayLen: -1}
	haveOffset, haveSize := false, false
	for _, part := range strings.Split(line, ";") {
		part = strings.TrimSpace(part)
		key, val, ok := strings.Cut(part, ":")
		if !ok {
			continue
		}
		var err error
		switch key {
		case "field":
			err = parseDecl(val, &fld)
		case "offset":
			fld.Offset, err = strconv.Atoi(val)
			haveOffset = true
		case "size":
			fld.Size, err = strconv.Atoi(val)
			haveSize = true
		case "signed":
			var s int
			s, err = strconv.Atoi(val)
			fld.Signed = s != 0
		}
		if err != nil {
			return fld, fmt.Errorf("field %q: %w", line, err)
		}
	}
	if fld.Name == "" || !haveOffset || !haveSize {
		return fld, fmt.Errorf("malformed field line %q", line)
	}
	return fld, nil
}

// parseDecl splits a C declaration like "const char * filename",
// "char prev_comm[16]" or "__data_loc char[] name" into name and type.
func parseDecl(decl string, fld *Field) error {
	decl = strings.TrimSpace(decl)
	words := strings.Fields(decl)
	// Drop the __user marker.
	kept := words[:0]
	for _, w := range words {
		if w == "__user" {
			fld.User = true
			continue
		}
		kept = append(kept, w)
	}
	words = kept
	if len(words) == 0 {
		return errors.New("empty declaration")
	}
	switch words[0] {
	case "__data_loc":
		fld.DataLoc = true
	case "__rel_loc":
		fld.RelLoc = true
	}
	decl = strings.Join(words, " ")

	// Array bound after the name: "char comm[16]", "unsigned long caller[]".
	bound := ""
	if strings.HasSuffix(decl, "]") {
		open := strings.LastIndexByte(decl, '[')
		if open < 0 {
			return fmt.Errorf("unbalanced ] in %q", decl)
		}
		bound = decl[open:]
		decl = strings.TrimSpace(decl[:open])
	}
	// The name is the trailing identifier.
	i := len(decl)
	for i > 0 && isIdentByte(decl[i-1]) {
		i--
	}
	name := decl[i:]
	typ := strings.TrimSpace(decl[:i])
	if name == "" || typ == "" {
		return fmt.Errorf("no name in declaration %q", decl)
	}
	fld.Name = name
	fld.Common = strings.HasPrefix(name, "common_")

	if bound != "" {
		typ += bound
		n := strings.TrimSpace(bound[1 : len(bound)-1])
		if n == "" {
			fld.ArrayLen = 0
		} else if v, err := strconv.Atoi(n); err == nil && v >= 0 {
			fld.ArrayLen = v
		} else {
			// A symbolic bound (not seen on recent kernels, which print
			// the evaluated number). The length is unknown.
			fld.ArrayLen = 0
		}
	} else if strings.HasSuffix(typ, "[]") {
		// "__data_loc char[] name": the bound belongs to the type.
		fld.ArrayLen = 0
	}
	if (fld.DataLoc || fld.RelLoc) && fld.ArrayLen < 0 {
		// "__data_loc cpumask_t mask": dynamic data without [].
		fld.ArrayLen = 0
	}
	fld.Type = typ
	return nil
}

func isIdentByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}
