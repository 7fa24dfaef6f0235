package symbolize

import (
	"os"
	"path/filepath"
	"testing"
)

// TestSymbolizerCachesFailedMaps checks that a process whose
// /proc/PID/maps can't be read (it exited before its events were printed)
// is looked up once, not once per event, and that pid 0 (the idle task
// and kernel threads) is never looked up: one busy run opened
// /proc/0/maps 835,878 times.
func TestSymbolizerCachesFailedMaps(t *testing.T) {
	s := New(Options{})
	s.procRoot = t.TempDir() // no PID directories at all
	defer s.Close()
	for range 1000 {
		if err := s.Snapshot(4242); err == nil {
			t.Fatal("Snapshot of a missing pid succeeded")
		}
		if _, _, _, ok := s.User(4242, 0x401000); ok {
			t.Fatal("User of a missing pid succeeded")
		}
		if err := s.Snapshot(0); err == nil {
			t.Fatal("Snapshot of pid 0 succeeded")
		}
		if _, _, _, ok := s.User(0, 0xffffffff81000000); ok {
			t.Fatal("User of pid 0 succeeded")
		}
	}
	if s.mapsReads != 1 {
		t.Errorf("read /proc/PID/maps %d times for 4000 lookups of a missing pid and pid 0, want 1", s.mapsReads)
	}
	// Forget drops the cached failure: a pid can be reused.
	pidDir := filepath.Join(s.procRoot, "4242")
	if err := os.MkdirAll(pidDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(pidDir, "maps"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := s.Snapshot(4242); err == nil {
		t.Error("Snapshot before Forget read the map again")
	}
	s.Forget(4242)
	if err := s.Snapshot(4242); err != nil {
		t.Errorf("Snapshot after Forget: %v", err)
	}
	if s.mapsReads != 2 {
		t.Errorf("maps read %d times, want 2", s.mapsReads)
	}
}

// TestSymbolizerKeepsMapOfExitedProcess checks that a failed re-read (on
// a miss, after the process exited) keeps the map read before and is not
// retried per address.
func TestSymbolizerKeepsMapOfExitedProcess(t *testing.T) {
	s := New(Options{})
	s.procRoot = t.TempDir()
	defer s.Close()
	pidDir := filepath.Join(s.procRoot, "99")
	if err := os.MkdirAll(pidDir, 0o755); err != nil {
		t.Fatal(err)
	}
	const maps = "00400000-00401000 r-xp 00000000 00:00 0 /nonexistent/btool-test-binary\n"
	if err := os.WriteFile(filepath.Join(pidDir, "maps"), []byte(maps), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := s.Snapshot(99); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(pidDir); err != nil {
		t.Fatal(err)
	}
	s.procs[99].Value.(*symProc).at = s.procs[99].Value.(*symProc).at.Add(-2 * symRefresh) // make a miss re-read
	for range 100 {
		s.User(99, 0x900000) // in no mapping
	}
	if s.mapsReads != 2 {
		t.Errorf("maps read %d times, want 2 (the snapshot and one re-read)", s.mapsReads)
	}
	if _, _, module, _ := s.User(99, 0x400010); module != "/nonexistent/btool-test-binary" {
		t.Errorf("module after the process exited = %q; the old map should be kept", module)
	}
}
