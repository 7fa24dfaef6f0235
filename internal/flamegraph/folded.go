package flamegraph

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Stack is one line of folded-stack text: frames root first, and how many
// times (samples, events, or microseconds off CPU) that stack was seen.
type Stack struct {
	Frames []string
	Count  uint64
}

// Delimiter is the frame that separates user frames (before it) from
// kernel frames (after it) in btool's folded form
// "comm;user frames;-;kernel frames count". Write draws no box for it.
const Delimiter = "-"

// ParseFolded reads folded-stack text, one stack a line: frames separated
// by ';', root first, then whitespace and a decimal count ("a;b;c 123").
// The count is the last whitespace-separated field, so frames may contain
// spaces; a trailing '\r' and trailing blanks are ignored, blank lines are
// skipped, and frames are kept byte for byte (Write sanitizes them).
// Lines with the same frames are returned separately (Write merges them).
// It fails on the first line without a count, with a count that is not an
// unsigned 64-bit decimal, or with no frames before the count, naming the
// line number; or on a read error.
func ParseFolded(r io.Reader) ([]Stack, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	var stacks []Stack
	for n := 1; ; n++ {
		line, err := br.ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("flamegraph: folded stacks: line %d: %w", n, err)
		}
		if err != nil && line == "" {
			return stacks, nil
		}
		s, ok, perr := parseLine(line)
		if perr != nil {
			return nil, fmt.Errorf("flamegraph: folded stacks: line %d: %w", n, perr)
		}
		if ok {
			stacks = append(stacks, s)
		}
		if err != nil {
			return stacks, nil
		}
	}
}

// parseLine parses one line; ok is false for a blank line.
func parseLine(line string) (s Stack, ok bool, err error) {
	line = strings.TrimRight(line, " \t\r\n")
	if line == "" {
		return Stack{}, false, nil
	}
	i := strings.LastIndexAny(line, " \t")
	if i < 0 {
		return Stack{}, false, fmt.Errorf("no count after the frames (want \"frame;frame;... count\")")
	}
	field := line[i+1:]
	count, err := strconv.ParseUint(field, 10, 64)
	if err != nil {
		if errors.Is(err, strconv.ErrRange) {
			return Stack{}, false, fmt.Errorf("count %q does not fit in 64 bits", clip(field))
		}
		return Stack{}, false, fmt.Errorf("count %q is not an unsigned decimal integer", clip(field))
	}
	stack := strings.TrimRight(line[:i], " \t")
	if stack == "" {
		return Stack{}, false, fmt.Errorf("no frames before the count")
	}
	return Stack{Frames: strings.Split(stack, ";"), Count: count}, true, nil
}

// clip shortens s for an error message.
func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}
