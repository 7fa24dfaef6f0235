package multitool

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/btool/btool/bpf/feature"
	"github.com/btool/btool/internal/testutil"
)

// lockedBuffer is a bytes.Buffer safe for a writer and a reader.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestKernelTraceUprobeSymlinkSwap switches the symlink a probe names to
// another binary after the planner has opened it but before the session
// attaches: the probe must still land in the binary that was parsed (it
// attaches through the open file), so running that binary produces the
// events, and messages name the link, not /proc/self/fd.
func TestKernelTraceUprobeSymlinkSwap(t *testing.T) {
	testutil.RequireRoot(t)
	for _, mode := range []string{"uprobe_multi", "uprobe"} {
		t.Run(mode, func(t *testing.T) {
			var disabled []string
			if mode == "uprobe" {
				disabled = []string{"uprobe_multi"}
			}
			f, err := feature.NewFeatures(disabled...)
			if err != nil {
				t.Fatal(err)
			}
			if mode == "uprobe_multi" {
				testutil.RequireFeature(t, "uprobe_multi", f.Have(feature.FeatUprobeMulti))
			}
			testUprobeSymlinkSwap(t, f)
		})
	}
}

func testUprobeSymlinkSwap(t *testing.T, f *feature.Features) {
	cc, err := exec.LookPath("gcc")
	if err != nil {
		t.Skip("gcc is not installed (the host tier builds the two binaries)")
	}
	dir := t.TempDir()
	build := func(name, src string) string {
		c := filepath.Join(dir, name+".c")
		if err := os.WriteFile(c, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		bin := filepath.Join(dir, name)
		if out, err := exec.Command(cc, "-O1", "-o", bin, c).CombinedOutput(); err != nil {
			t.Fatalf("gcc: %v\n%s", err, out)
		}
		return bin
	}
	const n = 7
	// target sits at different offsets in the two binaries; b never runs
	// a's target offset as a function entry.
	a := build("a", `#include <stdlib.h>
__attribute__((noinline)) int target(int x) { __asm__ volatile(""); return x + 1; }
int main(int argc, char **argv) { int s = 0; for (int i = 0; i < atoi(argv[1]); i++) s = target(s); return s == 0; }
`)
	b := build("b", `static volatile int sink;
__attribute__((noinline)) void pad(void) { for (int i = 0; i < 100; i++) sink += i * 3; sink ^= 5; sink *= 7; }
__attribute__((noinline)) int target(int x) { pad(); return x - 1; }
int main(void) { return target(0); }
`)
	link := filepath.Join(dir, "prog")
	if err := os.Symlink(a, link); err != nil {
		t.Fatal(err)
	}
	// Switch the link atomically to b, as a package upgrade would, right
	// after the planner opened it.
	afterOpen = func() {
		tmp := link + ".new"
		if err := os.Symlink(b, tmp); err == nil {
			os.Rename(tmp, link)
		}
	}
	defer func() { afterOpen = func() {} }()

	ready := filepath.Join(dir, "ready")
	var out, errb lockedBuffer
	env := Env{Out: &out, Err: &errb, Features: f, Verbose: true, ReadyFile: ready}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- Trace(ctx, TraceOptions{Specs: []string{link + `:target "x=%d", arg1`}, MaxEvents: n, UID: -1}, env)
	}()
	for {
		if _, err := os.Stat(ready); err == nil {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("trace ended before attaching: %v\n%s", err, errb.String())
		case <-ctx.Done():
			t.Fatalf("trace did not attach:\n%s", errb.String())
		case <-time.After(5 * time.Millisecond):
		}
	}
	if target, _ := os.Readlink(link); target != b {
		t.Fatalf("the link was not switched (it points to %s)", target)
	}
	if o, err := exec.Command(b).CombinedOutput(); err != nil && !strings.Contains(err.Error(), "exit status") {
		t.Fatalf("b: %v %s", err, o)
	}
	if o, err := exec.Command(a, fmt.Sprint(n)).CombinedOutput(); err != nil {
		t.Fatalf("a: %v %s", err, o)
	}
	if err := <-done; err != nil {
		t.Fatalf("trace: %v\n%s", err, errb.String())
	}
	if got := strings.Count(out.String(), "x="); got != n {
		t.Fatalf("%d events, want %d (the probe must be in %s, the binary parsed):\n%s\n%s", got, n, a, out.String(), errb.String())
	}
	if strings.Contains(out.String()+errb.String(), "/proc/self/fd") {
		t.Errorf("output names the attach path, not the binary:\n%s\n%s", out.String(), errb.String())
	}
}
