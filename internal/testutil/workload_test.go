package testutil

import (
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

func TestWorkload(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string // last line of stdout
	}{
		{"getpid", []string{"-n", "3"}, "done 3"},
		{"readfiles", []string{"-n", "2", "-path", "/proc/self/stat"}, "done 2"},
		{"spin", []string{"-n", "4"}, "sum 174"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := exec.Command(Workload(t, tt.name), tt.args...).Output()
			if err != nil {
				t.Fatalf("%s %v: %v", tt.name, tt.args, err)
			}
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			if _, err := strconv.Atoi(lines[0]); err != nil {
				t.Errorf("first line = %q, want the pid", lines[0])
			}
			if have := lines[len(lines)-1]; have != tt.want {
				t.Errorf("last line = %q, want %q", have, tt.want)
			}
		})
	}
}
