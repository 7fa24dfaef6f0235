package multitool

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/btool/btool/bpf/feature"
	"github.com/btool/btool/internal/testutil"
)

// TestKernelArgdistMapFull: keys that don't fit a full map are counted
// and reported on stderr at the end, never silently lost: a map of 4
// keys and a process reading 10 distinct sizes once each loses 6 events.
func TestKernelArgdistMapFull(t *testing.T) {
	testutil.RequireRoot(t)
	old := argdistMapEntries
	argdistMapEntries = 4
	t.Cleanup(func() { argdistMapEntries = old })

	var reads []string
	for i := 1; i <= 10; i++ {
		reads = append(reads, "1x"+strconv.Itoa(100*i))
	}
	cmd := exec.Command(testutil.Workload(t, "readsizes"), "-reads", strings.Join(reads, ","), "-wait")
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(line))

	f, err := feature.NewFeatures()
	if err != nil {
		t.Fatal(err)
	}
	var out, errb lockedBuffer
	ready := filepath.Join(t.TempDir(), "ready")
	env := Env{Out: &out, Err: &errb, Features: f, ReadyFile: ready}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- Argdist(ctx, ArgdistOptions{PID: pid, Interval: time.Hour, Counts: []string{"t:syscalls:sys_enter_read()::args->count"}}, env)
	}()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if _, err := os.Stat(ready); err == nil {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("argdist ended before attaching: %v\n%s", err, errb.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("argdist did not attach")
		}
	}
	stdin.Write([]byte("go\n"))
	stdin.Close()
	cmd.Wait()
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if want := "6 events not counted: the map of 4 keys was full"; !strings.Contains(errb.String(), want) {
		t.Errorf("stderr %q, want %q\nstdout:\n%s", errb.String(), want, out.String())
	}
	if n := strings.Count(out.String(), "\t1          args->count = "); n != 4 {
		t.Errorf("%d rows of one read, want 4:\n%s", n, out.String())
	}
}
