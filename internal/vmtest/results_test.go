package vmtest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// sampleStream returns a results stream as a VM writes it: the recorded test
// binary output of testdata/test2json.out for package "pkg/a", then a
// package "pkg/b" whose binary never finished. Line ends are \r\n, as a tty
// not in raw mode would send them.
func sampleStream(t *testing.T) (stream, sample string) {
	t.Helper()
	b, err := os.ReadFile("testdata/test2json.out")
	if err != nil {
		t.Fatal(err)
	}
	sample = string(b)
	stream = "@@BTOOL VM 6.12 6.12.117+deb12-amd64\n" +
		"@@BTOOL WARN cannot mount bpf on /sys/fs/bpf\n" +
		"stray line\n" +
		"@@BTOOL BEGIN pkg/a\n" + sample + "\n@@BTOOL END pkg/a rc=1\n" +
		"@@BTOOL BEGIN pkg/b\n\x16=== RUN   TestKernelHang\n"
	return strings.ReplaceAll(stream, "\n", "\r\n"), sample
}

func TestParseResults(t *testing.T) {
	stream, sample := sampleStream(t)
	res, err := ParseResults(strings.NewReader(stream))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		have, want any
	}{
		{"VM", res.VM, "6.12 6.12.117+deb12-amd64"},
		{"Warnings", res.Warnings, []string{"cannot mount bpf on /sys/fs/bpf"}},
		{"Stray", res.Stray, []string{"stray line"}},
		{"Order", res.Order, []string{"pkg/a", "pkg/b"}},
		{"Done", res.Done, false},
		{"a.Ended", res.Sections["pkg/a"].Ended, true},
		{"a.RC", res.Sections["pkg/a"].RC, 1},
		{"a.Output", string(res.Sections["pkg/a"].Output), sample},
		{"b.Ended", res.Sections["pkg/b"].Ended, false},
		{"b.RC", res.Sections["pkg/b"].RC, -1},
		{"b.Output", string(res.Sections["pkg/b"].Output), "\x16=== RUN   TestKernelHang\n"},
	}
	for _, tt := range tests {
		if fmt.Sprintf("%q", tt.have) != fmt.Sprintf("%q", tt.want) {
			t.Errorf("%s = %q, want %q", tt.name, tt.have, tt.want)
		}
	}
}

func TestParseTestOutput(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("needs the go command for go tool test2json")
	}
	_, sample := sampleStream(t)
	pr, err := ParseTestOutput(context.Background(), "example.com/sample", []byte(sample))
	if err != nil {
		t.Fatal(err)
	}
	// Flatten the tree as "name action output" lines.
	var have []string
	var walk func(ts []*TestResult, depth int)
	walk = func(ts []*TestResult, depth int) {
		for _, tr := range ts {
			have = append(have, fmt.Sprintf("%s%s %s %q", strings.Repeat(" ", depth), tr.Name, tr.Action, tr.Output))
			walk(tr.Children, depth+1)
		}
	}
	walk(pr.Tests, 0)
	want := []string{
		`TestKernelPass pass "    sample_test.go:6: hello from the VM\n"`,
		` TestKernelPass/sub pass ""`,
		`  TestKernelPass/sub/deeper pass "    sample_test.go:8: deep\n"`,
		`TestKernelFail fail ""`,
		` TestKernelFail/ok pass ""`,
		` TestKernelFail/bad fail "    sample_test.go:14: boom\n        second line\n"`,
		`TestKernelSkip skip "    sample_test.go:17: kernel lacks feature kprobe_multi\n"`,
	}
	if strings.Join(have, "\n") != strings.Join(want, "\n") {
		t.Errorf("tests:\n%s\nwant:\n%s", strings.Join(have, "\n"), strings.Join(want, "\n"))
	}
	if pr.Action != "fail" || !pr.Failed() {
		t.Errorf("package action %q, Failed() %v; want fail, true", pr.Action, pr.Failed())
	}

	if e := pr.Tests[0].Elapsed; e != 0.5 {
		t.Errorf("TestKernelPass took %vs, want 0.5s", e)
	}

	// A binary that died in the middle of a test: the test has no verdict.
	pr, err = ParseTestOutput(context.Background(), "p", []byte("\x16=== RUN   TestKernelHang\nlast words\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(pr.Tests) != 1 || pr.Tests[0].Action != "" || pr.Tests[0].Output != "last words\n" {
		t.Errorf("truncated output parsed as %+v", pr.Tests)
	}
}

func TestDedent(t *testing.T) {
	tests := []struct{ have, want string }{
		{"    a.go:1: x\n        more\n", "a.go:1: x\n    more"},
		{"  a\n\n  b\n", "a\n\nb"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := dedent(tt.have); got != tt.want {
			t.Errorf("dedent(%q) = %q, want %q", tt.have, got, tt.want)
		}
	}
}
