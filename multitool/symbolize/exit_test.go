package symbolize

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestExitedProcessDeletedBinary snapshots a running process, lets it
// exit and deletes its binary before symbolizing: the map captured at
// Snapshot and the descriptor opened then still resolve its addresses.
func TestExitedProcessDeletedBinary(t *testing.T) {
	built := buildSymTestProgram(t, "-pie", "-fPIE")
	bin := filepath.Join(t.TempDir(), "exits")
	data, err := os.ReadFile(built)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Fields(line)
	if len(parts) != 2 {
		t.Fatalf("program printed %q", line)
	}
	target, _ := strconv.ParseUint(strings.TrimPrefix(parts[0], "0x"), 16, 64)
	pid := uint32(cmd.Process.Pid)

	s := New(Options{})
	defer s.Close()
	if err := s.Snapshot(pid); err != nil {
		t.Fatal(err)
	}
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(bin); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err == nil {
		t.Fatal("the process is still there")
	}
	name, off, module, ok := s.User(pid, target+1)
	if !ok || name != "btool_symtest_target" || off != 1 || module != bin {
		t.Errorf("User after exit and delete = %q+%#x %q %v; want btool_symtest_target+0x1 %s", name, off, module, ok, bin)
	}
	if have, want := FoldedStack([]uint64{target + 1}, true, pid, s), "btool_symtest_target"; have != want {
		t.Errorf("FoldedStack = %q, want %q", have, want)
	}
}

// TestCacheBounds checks the LRU of processes, the bound on idle open
// files and the per-file address cache.
func TestCacheBounds(t *testing.T) {
	built := buildSymTestProgram(t, "-pie", "-fPIE")
	s := New(Options{MaxProcs: 2, MaxBinaries: 1, MaxFrames: 4})
	s.procRoot = t.TempDir()
	defer s.Close()
	// Three processes, each mapping a different file (inode 0: keyed by path).
	for pid := 1; pid <= 3; pid++ {
		dir := filepath.Join(s.procRoot, strconv.Itoa(pid))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		bin := filepath.Join(dir, "prog")
		data, _ := os.ReadFile(built)
		if err := os.WriteFile(bin, data, 0o755); err != nil {
			t.Fatal(err)
		}
		maps := fmt.Sprintf("555555554000-555555580000 r-xp 00000000 00:00 0 %s\n", bin)
		if err := os.WriteFile(filepath.Join(dir, "maps"), []byte(maps), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	check := func(when string, want Stats) {
		t.Helper()
		if have := s.Stats(); have != want {
			t.Errorf("%s: stats %+v, want %+v", when, have, want)
		}
	}
	for pid := uint32(1); pid <= 3; pid++ {
		if err := s.Snapshot(pid); err != nil {
			t.Fatal(err)
		}
	}
	check("3 snapshots", Stats{Procs: 2, Binaries: 3, Idle: 1}) // pid 1 evicted, its file idle
	reads := s.mapsReads
	s.Snapshot(3)
	s.Snapshot(2)
	if s.mapsReads != reads {
		t.Error("cached processes were read again")
	}
	s.Forget(2)
	check("forget 2", Stats{Procs: 1, Binaries: 2, Idle: 1}) // pid 1's file closed
	s.Snapshot(1)                                            // evicted: read again, its file reopened
	if s.mapsReads != reads+1 {
		t.Errorf("evicted pid 1: %d reads, want %d", s.mapsReads, reads+1)
	}
	check("snapshot 1 again", Stats{Procs: 2, Binaries: 3, Idle: 1})

	// The address cache of a file holds at most MaxFrames entries.
	e := s.bins[symBinKey{path: filepath.Join(s.procRoot, "3", "prog")}]
	for a := uint64(0); a < 10; a++ {
		s.User(3, 0x555555554000+0x1000+a)
	}
	if n := len(e.cache); n > 4 || n == 0 {
		t.Errorf("address cache holds %d entries, bound 4", n)
	}
}
