package tracefs

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
)

// FilterFunc is one line of available_filter_functions: a kernel function
// that ftrace (and therefore kprobe_multi and fentry) can attach to.
type FilterFunc struct {
	Name   string
	Module string // "" for the core kernel
}

var filterOnce = sync.OnceValues(func() ([]FilterFunc, error) {
	path, err := Path("available_filter_functions")
	if err != nil {
		return nil, err
	}
	data, err := readFile(path, 4<<20)
	if err != nil {
		return nil, fmt.Errorf("read available_filter_functions: %w", err)
	}
	return parseFilterFunctions(data), nil
})

// AvailableFilterFunctions returns the functions listed in
// <tracefs>/available_filter_functions, in file order and with duplicates
// (static functions of the same name) kept. The result is parsed once and
// cached; the slice is shared and must not be modified.
//
// Returns an error wrapping [os.ErrNotExist] without tracefs and an error
// wrapping [os.ErrPermission] when the file is not readable (it needs
// CAP_SYS_ADMIN, and some sandboxes refuse it even to root). Needs a kernel
// with CONFIG_DYNAMIC_FTRACE.
func AvailableFilterFunctions() ([]FilterFunc, error) { return filterOnce() }

// parseFilterFunctions parses lines of the form "name" or "name [module]".
// Names and modules are substrings of one string copy of data, so the parse
// allocates no memory per line.
func parseFilterFunctions(data []byte) []FilterFunc {
	s := string(data)
	out := make([]FilterFunc, 0, bytes.Count(data, []byte{'\n'})+1)
	for len(s) > 0 {
		var line string
		if i := strings.IndexByte(s, '\n'); i >= 0 {
			line, s = s[:i], s[i+1:]
		} else {
			line, s = s, ""
		}
		sep := strings.IndexByte(line, ' ')
		if sep < 0 {
			sep = strings.IndexByte(line, '\t')
		}
		if sep < 0 {
			if line != "" {
				out = append(out, FilterFunc{Name: line})
			}
			continue
		}
		name, rest := line[:sep], strings.TrimSpace(line[sep+1:])
		if name == "" {
			continue
		}
		var mod string
		if len(rest) > 2 && rest[0] == '[' {
			if j := strings.IndexByte(rest, ']'); j > 0 {
				mod = rest[1:j]
			}
		}
		out = append(out, FilterFunc{Name: name, Module: mod})
	}
	return out
}

// BlacklistPath is the debugfs file listing functions kprobes refuse.
const BlacklistPath = "/sys/kernel/debug/kprobes/blacklist"

var blacklistOnce = sync.OnceValues(func() (map[string]bool, error) {
	return readBlacklist(BlacklistPath)
})

// KprobeBlacklist returns the names of the functions listed in the kprobe
// blacklist (/sys/kernel/debug/kprobes/blacklist). The result is cached and
// shared; it must not be modified.
//
// The blacklist is optional: it needs debugfs mounted (this function never
// mounts it) and CONFIG_KPROBES. When the file is missing or unreadable,
// KprobeBlacklist returns an empty, non-nil map together with an error
// wrapping [os.ErrNotExist]; callers normally ignore that error.
func KprobeBlacklist() (map[string]bool, error) { return blacklistOnce() }

func readBlacklist(path string) (map[string]bool, error) {
	data, err := readFile(path, 64<<10)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return map[string]bool{}, fmt.Errorf("kprobe blacklist (is debugfs mounted and CONFIG_KPROBES on?): %w", err)
		}
		return map[string]bool{}, fmt.Errorf("kprobe blacklist: %v: %w", err, os.ErrNotExist)
	}
	return parseBlacklist(data), nil
}

// parseBlacklist parses lines "0xstart-0xend\tname" (newer kernels may add
// " [module]" after the name).
func parseBlacklist(data []byte) map[string]bool {
	m := make(map[string]bool, bytes.Count(data, []byte{'\n'}))
	for line := range bytes.Lines(data) {
		fields := bytes.Fields(line)
		if len(fields) < 2 {
			continue
		}
		m[string(fields[1])] = true
	}
	return m
}

// Event names one tracepoint: Category:Name, e.g. sched:sched_switch.
type Event struct {
	Category, Name string
}

// String returns "category:name".
func (e Event) String() string { return e.Category + ":" + e.Name }

var eventsOnce = sync.OnceValues(func() ([]Event, error) {
	path, err := Path("available_events")
	if err != nil {
		return nil, err
	}
	data, err := readFile(path, 128<<10)
	if err != nil {
		return nil, fmt.Errorf("read available_events: %w", err)
	}
	return parseEvents(data), nil
})

// Events returns the tracepoints listed in <tracefs>/available_events, sorted
// by category, then name. The result is cached and shared; it must not be
// modified.
//
// Returns an error wrapping [os.ErrNotExist] without tracefs.
func Events() ([]Event, error) { return eventsOnce() }

func parseEvents(data []byte) []Event {
	s := string(data)
	out := make([]Event, 0, strings.Count(s, "\n")+1)
	for line := range strings.Lines(s) {
		cat, name, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok || cat == "" || name == "" {
			continue
		}
		out = append(out, Event{Category: cat, Name: name})
	}
	slices.SortFunc(out, func(a, b Event) int {
		return cmp.Or(strings.Compare(a.Category, b.Category), strings.Compare(a.Name, b.Name))
	})
	return out
}

// validEventPart reports whether s can be a tracepoint category or name
// (and cannot escape the events directory).
func validEventPart(s string) bool {
	return s != "" && s != "." && s != ".." && !strings.ContainsAny(s, "/\x00")
}
