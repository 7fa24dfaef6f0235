package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/btool/btool/multitool"
)

// TestFunclatencyCLI: funclatency's flags reach its options, and the
// combinations bcc or libbpf-tools refuse are usage errors (exit 2).
func TestFunclatencyCLI(t *testing.T) {
	fakeTools(t)
	var got multitool.FunclatencyOptions
	runFunclat = func(_ context.Context, o multitool.FunclatencyOptions, _ multitool.Env) error { got = o; return nil }
	for _, tc := range []struct {
		args []string
		want multitool.FunclatencyOptions
		err  string // a usage error containing this, or "" for success
	}{
		{args: []string{"vfs_read"}, want: multitool.FunclatencyOptions{Pattern: "vfs_read", Levels: multitool.DefaultLatencyLevels}},
		{args: []string{"-uFTr", "-l", "4", "-i", "0.5", "-d", "2", "c:mall.*"},
			want: multitool.FunclatencyOptions{Pattern: "c:mall.*", Micro: true, PerFunction: true, Timestamp: true, Regex: true, Levels: 4,
				Interval: 500 * time.Millisecond, Duration: 2 * time.Second}},
		{args: []string{"vfs_read", "-m", "--json"}, want: multitool.FunclatencyOptions{Pattern: "vfs_read", Milli: true, JSON: true, Levels: multitool.DefaultLatencyLevels}},
		{args: []string{"--from", "p::a()", "--to", "p::b()", "--max-pending", "8"},
			want: multitool.FunclatencyOptions{From: "p::a()", To: "p::b()", MaxPending: 8, Levels: multitool.DefaultLatencyLevels}},
		{args: []string{"-u", "-m", "vfs_read"}, err: "only set one of -m or -u"},
		{args: []string{"-l", "0", "vfs_read"}, err: "-l: LEVEL must be 1 to 31, got 0"},
		{args: []string{"-l", "32", "vfs_read"}, err: "-l: LEVEL must be 1 to 31, got 32"},
		{args: []string{}, err: "expected exactly one PATTERN, got 0"},
		{args: []string{"a", "b"}, err: "expected exactly one PATTERN, got 2"},
		{args: []string{"--from", "p::a()", "vfs_read"}, err: "give a PATTERN, or --from and --to, not both"},
		{args: []string{"--from", "p::a()", "--to", "p::b()", "--max-pending", "0"}, err: "--max-pending: N must be at least 1"},
		{args: []string{"-i", "0.001", "vfs_read"}, err: "-i: 0.001 is too short"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			got = multitool.FunclatencyOptions{}
			var out, errb bytes.Buffer
			code := run(append([]string{"btool", "funclatency"}, tc.args...), &out, &errb)
			if tc.err != "" {
				if code != exitUsage || !strings.Contains(errb.String(), tc.err) {
					t.Fatalf("exit %d, stderr %q; want exit 2 and %q", code, errb.String(), tc.err)
				}
				return
			}
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errb.String())
			}
			if got != tc.want {
				t.Errorf("options %+v, want %+v", got, tc.want)
			}
		})
	}
}
