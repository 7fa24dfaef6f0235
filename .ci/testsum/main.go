// Command testsum reads `go test -json` output on stdin and prints a readable
// report: one line per package, the output of every failed test, the reason
// of every skipped test, and the totals. Lines that are not JSON (go's own
// errors) are passed through. It exits 1 when a test, a package or a build
// failed.
//
// Usage: go test -json ./... | go run .ci/testsum/main.go [-v] [-title NAME]
//
// With -v it also streams every output line, like go test -v.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"
	"time"
)

type event struct {
	Action     string
	Package    string
	ImportPath string
	Test       string
	Elapsed    float64
	Output     string
}

type pkgState struct {
	pass, fail, skip int
	output           []string            // package-level output
	tests            map[string][]string // test -> its output lines
	done             bool
}

var (
	framing  = regexp.MustCompile(`^\s*(=== (RUN|PAUSE|CONT|NAME)|--- (PASS|FAIL|SKIP):)`)
	fileLine = regexp.MustCompile(`^\S+\.go:\d+: `)
)

func main() {
	verbose := flag.Bool("v", false, "stream all test output")
	title := flag.String("title", "go test", "name of this run in the totals line")
	flag.Parse()

	start := time.Now()
	pkgs := map[string]*pkgState{}
	running := map[string]bool{} // "pkg test" of tests that started and have no verdict yet
	get := func(name string) *pkgState {
		p := pkgs[name]
		if p == nil {
			p = &pkgState{tests: map[string][]string{}}
			pkgs[name] = p
		}
		return p
	}
	var failedTests, failedPkgs []string
	skipped := map[string][]string{} // reason -> tests
	var pass, fail, skip int
	bad := false

	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		line := sc.Text()
		var ev event
		if !strings.HasPrefix(line, "{") || json.Unmarshal([]byte(line), &ev) != nil {
			fmt.Println(line)
			continue
		}
		switch ev.Action {
		case "build-output":
			fmt.Print(ev.Output)
			continue
		case "build-fail":
			bad = true
			continue
		}
		p := get(ev.Package)
		if ev.Test == "" {
			switch ev.Action {
			case "output":
				p.output = append(p.output, ev.Output)
				if *verbose {
					fmt.Print(ev.Output)
				}
			case "pass", "fail", "skip":
				p.done = true
				status := "ok  "
				if ev.Action == "fail" {
					status = "FAIL"
					bad = true
					failedPkgs = append(failedPkgs, ev.Package)
					if p.fail == 0 {
						// No test failed: a build failure, a panic outside a test, a timeout.
						fmt.Print(strings.Join(p.output, ""))
					}
				}
				if ev.Action == "skip" || p.pass+p.fail+p.skip == 0 {
					if ev.Action != "fail" {
						fmt.Printf("?    %s [no tests]\n", ev.Package)
						continue
					}
				}
				fmt.Printf("%s %-55s %6.1fs  %d passed, %d failed, %d skipped\n",
					status, ev.Package, ev.Elapsed, p.pass, p.fail, p.skip)
			}
			continue
		}
		key := short(ev.Package) + " " + ev.Test
		switch ev.Action {
		case "run":
			running[key] = true
		case "pass", "fail", "skip":
			delete(running, key)
		}
		switch ev.Action {
		case "output":
			p.tests[ev.Test] = append(p.tests[ev.Test], ev.Output)
			if *verbose {
				fmt.Print(ev.Output)
			}
		case "pass":
			p.pass++
			pass++
			delete(p.tests, ev.Test)
		case "skip":
			p.skip++
			skip++
			r := reason(p.tests[ev.Test])
			skipped[r] = append(skipped[r], short(ev.Package)+" "+ev.Test)
			delete(p.tests, ev.Test)
		case "fail":
			p.fail++
			fail++
			failedTests = append(failedTests, short(ev.Package)+" "+ev.Test)
			if !*verbose {
				fmt.Printf("--- FAIL: %s %s\n", ev.Package, ev.Test)
				fmt.Print(strings.Join(p.tests[ev.Test], ""))
			}
			delete(p.tests, ev.Test)
		}
	}
	if err := sc.Err(); err != nil {
		fmt.Fprintln(os.Stderr, "testsum:", err)
		bad = true
	}
	for name, p := range pkgs {
		if !p.done && name != "" {
			bad = true
			fmt.Printf("FAIL %s: no result (the test binary was killed?)\n", name)
			failedPkgs = append(failedPkgs, name)
		}
	}

	if len(running) > 0 {
		bad = true
		unfinished := make([]string, 0, len(running))
		for k := range running {
			unfinished = append(unfinished, k)
		}
		sort.Strings(unfinished)
		fmt.Printf("\nStarted but never finished (%d; the test binary was killed or timed out?):\n  %s\n",
			len(unfinished), strings.Join(unfinished, "\n  "))
	}
	if skip > 0 {
		fmt.Printf("\nSkipped (%d):\n", skip)
		reasons := make([]string, 0, len(skipped))
		for r := range skipped {
			reasons = append(reasons, r)
		}
		sort.Strings(reasons)
		for _, r := range reasons {
			if ts := skipped[r]; len(ts) > 3 {
				fmt.Printf("  %d tests (%s, ...): %s\n", len(ts), strings.Join(ts[:2], ", "), r)
			} else {
				for _, t := range ts {
					fmt.Printf("  %s: %s\n", t, r)
				}
			}
		}
	}
	if len(failedTests) > 0 || len(failedPkgs) > 0 {
		sort.Strings(failedPkgs)
		fmt.Printf("\nFailed tests (%d):\n", len(failedTests))
		for _, s := range failedTests {
			fmt.Println("  " + s)
		}
		fmt.Printf("Failed packages (%d): %s\n", len(failedPkgs), strings.Join(failedPkgs, " "))
	}
	verdict := "PASS"
	if bad || fail > 0 {
		verdict = "FAIL"
	}
	fmt.Printf("\n=== %s %s: %d passed, %d failed, %d skipped (tests and subtests) in %d packages, %.0fs\n",
		*title, verdict, pass, fail, skip, len(pkgs), time.Since(start).Seconds())
	if verdict == "FAIL" {
		os.Exit(1)
	}
}

// short drops the module path from a package path.
func short(pkg string) string {
	return strings.TrimPrefix(pkg, "github.com/btool/btool/")
}

// reason returns the skip message of a test from its output lines.
func reason(lines []string) string {
	var msg []string
	for _, l := range lines {
		if framing.MatchString(l) {
			continue
		}
		if l = fileLine.ReplaceAllString(strings.TrimSpace(l), ""); l != "" {
			msg = append(msg, l)
		}
	}
	r := strings.Join(msg, " | ")
	if len(r) > 300 {
		r = r[:300] + "..."
	}
	return r
}
