package vmtest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
)

// Section is one package's part of the results stream.
type Section struct {
	Rel    string // the package, as in Package.Rel
	Output []byte // what its test binary printed (-test.v=test2json format)
	Ended  bool   // the END marker arrived
	RC     int    // the test binary's exit status; -1 when !Ended
}

// Results is the parsed results stream of one VM.
type Results struct {
	VM       string              // the VM marker's text: label and kernel release
	Sections map[string]*Section // by Rel
	Order    []string            // Rels in the order they began
	Warnings []string            // WARN markers (e.g. a file system that did not mount)
	Stray    []string            // other lines outside any section
	Done     bool                // the DONE marker arrived: /init ran to the end
}

// ParseResults splits the VM's results stream (see InitScript) into
// per-package sections. A section still open at the end of the stream has
// Ended false. It fails only on a read error.
func ParseResults(r io.Reader) (*Results, error) {
	res := &Results{Sections: map[string]*Section{}}
	var cur *Section
	br := bufio.NewReader(r)
	for {
		line, err := br.ReadString('\n')
		if line != "" {
			text := strings.TrimRight(line, "\r\n")
			switch {
			case strings.HasPrefix(text, markBegin):
				rel := strings.TrimSpace(strings.TrimPrefix(text, markBegin))
				cur = &Section{Rel: rel, RC: -1}
				res.Sections[rel] = cur
				res.Order = append(res.Order, rel)
			case strings.HasPrefix(text, markEnd):
				f := strings.Fields(strings.TrimPrefix(text, markEnd))
				if cur != nil && len(f) == 2 && f[0] == cur.Rel {
					cur.Ended = true
					cur.RC, _ = strconv.Atoi(strings.TrimPrefix(f[1], "rc="))
					// InitScript starts END with a newline of its own, in
					// case the output did not end in one.
					if bytes.HasSuffix(cur.Output, []byte("\n\n")) || string(cur.Output) == "\n" {
						cur.Output = cur.Output[:len(cur.Output)-1]
					}
				}
				cur = nil
			case strings.HasPrefix(text, markVM):
				res.VM = strings.TrimPrefix(text, markVM)
			case text == markDone:
				res.Done = true
				cur = nil
			case strings.HasPrefix(text, markWarn):
				res.Warnings = append(res.Warnings, strings.TrimPrefix(text, markWarn))
			case cur != nil:
				cur.Output = append(cur.Output, strings.ReplaceAll(line, "\r\n", "\n")...)
			case strings.TrimSpace(text) != "":
				res.Stray = append(res.Stray, text)
			}
		}
		if err == io.EOF {
			return res, nil
		}
		if err != nil {
			return res, err
		}
	}
}

// TestResult is one test (or subtest) reported by a test binary in the VM.
type TestResult struct {
	Name     string        // full name within its package: "TestKernelX/sub"
	Action   string        // "pass", "fail", "skip", or "" when it never finished
	Output   string        // its output, without the === and --- framing lines
	Elapsed  float64       // seconds, as the test binary measured them
	Children []*TestResult // subtests, in the order they started
}

// PackageResult is the parsed output of one test binary.
type PackageResult struct {
	Tests  []*TestResult // top-level tests, in the order they started
	Action string        // the binary's own verdict: "pass", "fail", or "" when it did not finish
	Output string        // output not attributed to any test (panics in init, "PASS", ...)
}

// Failed reports whether any test in the package failed.
func (p *PackageResult) Failed() bool {
	var walk func([]*TestResult) bool
	walk = func(ts []*TestResult) bool {
		for _, t := range ts {
			if t.Action == "fail" || walk(t.Children) {
				return true
			}
		}
		return false
	}
	return walk(p.Tests)
}

var (
	// framingRE matches the lines the testing package frames tests with.
	framingRE = regexp.MustCompile(`^\s*(=== (RUN|PAUSE|CONT|NAME)\s|--- (PASS|FAIL|SKIP): )`)
	// verdictRE matches a verdict line; test2json does not pass on its time.
	verdictRE = regexp.MustCompile(`^\s*--- (PASS|FAIL|SKIP): .* \(([0-9.]+)s\)\s*$`)
)

// testEvent is the part of a test2json event we use.
type testEvent struct {
	Action string
	Test   string
	Output string
}

// ParseTestOutput turns the -test.v=test2json output of a test binary into
// a tree of results, using `go tool test2json` (which needs the go command
// on $PATH). It fails when test2json cannot run or prints something that is
// not JSON.
func ParseTestOutput(ctx context.Context, pkg string, out []byte) (*PackageResult, error) {
	cmd := exec.CommandContext(ctx, "go", "tool", "test2json", "-p", pkg)
	cmd.Stdin = bytes.NewReader(out)
	js, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go tool test2json: %w", err)
	}
	pr := &PackageResult{}
	byName := map[string]*TestResult{}
	var pkgOut strings.Builder
	dec := json.NewDecoder(bytes.NewReader(js))
	for {
		var ev testEvent
		if err := dec.Decode(&ev); err == io.EOF {
			break
		} else if err != nil {
			return nil, fmt.Errorf("decoding test2json output: %w", err)
		}
		if ev.Test == "" {
			switch ev.Action {
			case "output":
				pkgOut.WriteString(ev.Output)
			case "pass", "fail", "skip":
				pr.Action = ev.Action
			}
			continue
		}
		t := byName[ev.Test]
		if t == nil {
			t = &TestResult{Name: ev.Test}
			byName[ev.Test] = t
			if parent := parentOf(byName, ev.Test); parent != nil {
				parent.Children = append(parent.Children, t)
			} else {
				pr.Tests = append(pr.Tests, t)
			}
		}
		switch ev.Action {
		case "output":
			if m := verdictRE.FindStringSubmatch(ev.Output); m != nil {
				t.Elapsed, _ = strconv.ParseFloat(m[2], 64)
			} else if !framingRE.MatchString(ev.Output) {
				t.Output += ev.Output
			}
		case "pass", "fail", "skip":
			t.Action = ev.Action
		}
	}
	pr.Output = pkgOut.String()
	return pr, nil
}

// parentOf returns the test whose name is the longest proper prefix of name
// ending before a slash (a subtest's own name may contain slashes), or nil.
func parentOf(byName map[string]*TestResult, name string) *TestResult {
	for i := strings.LastIndexByte(name, '/'); i > 0; i = strings.LastIndexByte(name[:i], '/') {
		if t := byName[name[:i]]; t != nil {
			return t
		}
	}
	return nil
}
