package multitool

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestReadyFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ready")
	if err := writeReadyFile(path, []byte("1\n")); err != nil {
		t.Fatal(err)
	}
	if err := writeReadyFile(path, []byte("2\n")); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != "2\n" {
		t.Errorf("ready file = %q", b)
	}
	target := filepath.Join(dir, "target")
	os.WriteFile(target, []byte("precious"), 0o600)
	link := filepath.Join(dir, "link")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	err := writeReadyFile(link, []byte("3\n"))
	if err == nil || !strings.Contains(err.Error(), "symlink") {
		t.Errorf("writing through a symlink: err = %v", err)
	}
	if b, _ := os.ReadFile(target); string(b) != "precious" {
		t.Errorf("symlink target overwritten: %q", b)
	}
	// No temporary files left behind.
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".tmp") {
			t.Errorf("left %s", e.Name())
		}
	}
}

func TestCheckValues(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want string // "" for no error
	}{
		{"pid 0", CheckPID("-p", 0), ""},
		{"own pid", CheckPID("-p", int64(os.Getpid())), ""},
		{"pid wraps", CheckPID("-p", 4294967296+int64(os.Getpid())), "is not a process ID"},
		{"negative pid", CheckPID("-p", -5), "-5"},
		{"no such pid", CheckPID("-p", MaxPID), "no such process"},
		{"uid all", CheckUID("--uid", -1), ""},
		{"uid", CheckUID("--uid", 1000), ""},
		{"uid wraps", CheckUID("--uid", 4294967296), "4294967296"},
		{"uid -1 as u32", CheckUID("--uid", 4294967295), "4294967295"},
		{"cpu 0", CheckCPU("-c", 0), ""},
		{"cpu huge", CheckCPU("-c", 1<<40), "1099511627776"},
		{"cpu negative", CheckCPU("-c", -1), "-1"},
	} {
		if tc.want == "" {
			if tc.err != nil {
				t.Errorf("%s: %v", tc.name, tc.err)
			}
			continue
		}
		if tc.err == nil || !IsUsage(tc.err) || !strings.Contains(tc.err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want a usage error containing %q", tc.name, tc.err, tc.want)
		}
	}
}

func TestParseCPUList(t *testing.T) {
	l, err := parseCPUList("0-3,8,10-11")
	if err != nil {
		t.Fatal(err)
	}
	for cpu, want := range map[int64]bool{0: true, 3: true, 4: false, 8: true, 9: false, 11: true, 12: false} {
		if l.has(cpu) != want {
			t.Errorf("has(%d) = %v", cpu, !want)
		}
	}
	if _, err := parseCPUList("x"); err == nil {
		t.Error("parseCPUList(x) succeeded")
	}
}

// TestWatchPID: the context ends when the watched process exits, through a
// pidfd and through polling.
func TestWatchPID(t *testing.T) {
	for _, mode := range []string{"pidfd", "poll"} {
		t.Run(mode, func(t *testing.T) {
			if mode == "poll" {
				old, oldInterval := pidfdOpen, pidPollInterval
				pidfdOpen = func(int, int) (int, error) { return -1, unix.ENOSYS }
				pidPollInterval = 10 * time.Millisecond
				defer func() { pidfdOpen, pidPollInterval = old, oldInterval }()
			}
			cmd := exec.Command("sleep", "0.2")
			if err := cmd.Start(); err != nil {
				t.Skip(err)
			}
			var errb strings.Builder
			ctx, stop := watchPID(context.Background(), cmd.Process.Pid, "process", Env{Err: &errb, Out: io.Discard})
			defer stop()
			go cmd.Wait()
			select {
			case <-ctx.Done():
			case <-time.After(10 * time.Second):
				t.Fatal("the context outlived the process")
			}
			if !strings.Contains(errb.String(), "exited") {
				t.Errorf("no exit message: %q", errb.String())
			}
			// Stopping the watch ends the context without a message.
			ctx2, stop2 := watchPID(context.Background(), os.Getpid(), "process", Env{Err: &errb, Out: io.Discard})
			stop2()
			<-ctx2.Done()
		})
	}
}

func TestShortSpec(t *testing.T) {
	if s := ShortSpec("vfs_read"); s != "vfs_read" {
		t.Errorf("ShortSpec(vfs_read) = %q", s)
	}
	long := strings.Repeat("é", 1000)
	if s := ShortSpec(long); len([]rune(s)) != 60 || !strings.HasSuffix(s, "…") {
		t.Errorf("ShortSpec(long) = %q", s)
	}
}
