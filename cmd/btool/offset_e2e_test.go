package main

import (
	"bufio"
	"bytes"
	"debug/elf"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/btool/btool/internal/testutil"
)

// kernelBytes reads n bytes of kernel function sym's live code: its address
// from /proc/kallsyms, its bytes from /proc/kcore. It skips when either is
// unavailable.
func kernelBytes(t *testing.T, sym string, n int) []byte {
	t.Helper()
	f, err := os.Open("/proc/kallsyms")
	if err != nil {
		t.Skipf("no /proc/kallsyms: %v", err)
	}
	defer f.Close()
	var addr uint64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) >= 3 && fs[2] == sym && (fs[1] == "T" || fs[1] == "t") {
			addr, _ = strconv.ParseUint(fs[0], 16, 64)
			break
		}
	}
	if addr == 0 {
		t.Skipf("no address for %s in /proc/kallsyms", sym)
	}
	core, err := elf.Open("/proc/kcore")
	if err != nil {
		t.Skipf("kernel text unreadable (/proc/kcore: %v)", err)
	}
	defer core.Close()
	for _, p := range core.Progs {
		if p.Type == elf.PT_LOAD && addr >= p.Vaddr && addr+uint64(n) <= p.Vaddr+p.Memsz {
			b := make([]byte, n)
			if _, err := p.ReadAt(b, int64(addr-p.Vaddr)); err != nil {
				t.Fatalf("read %s from /proc/kcore: %v", sym, err)
			}
			return b
		}
	}
	t.Skipf("%s at %#x is in no /proc/kcore segment", sym, addr)
	return nil
}

// TestKernelTraceKprobeOffset probes vfs_read at an instruction inside it,
// past the ftrace call every traceable function starts with, and checks
// that the kernel stack's first frame is exactly that offset (an entry
// probe would show +0x0 or +0x4). An offset inside an instruction is
// refused with a caret under it.
func TestKernelTraceKprobeOffset(t *testing.T) {
	requireRoot(t)
	if !haveFeature(t, "kprobe") {
		return
	}
	code := kernelBytes(t, "vfs_read", 16)
	off := 0
	// IBT kernels start functions with endbr64, which the kernel turns
	// into a 4-byte nop where IBT is off or the function is sealed.
	if bytes.HasPrefix(code, []byte{0xf3, 0x0f, 0x1e, 0xfa}) || bytes.HasPrefix(code, []byte{0x66, 0x0f, 0x1f, 0x00}) {
		off = 4
	}
	// The ftrace site: call __fentry__, or a 5-byte nop it is patched to
	// (the encoding depends on the kernel and CPU: 5.10 uses 66 66 66 66 90).
	nop5 := [][]byte{{0x0f, 0x1f, 0x44, 0x00, 0x00}, {0x66, 0x66, 0x66, 0x66, 0x90}, {0x3e, 0x0f, 0x1f, 0x44, 0x00}}
	site := code[off : off+5]
	isSite := site[0] == 0xe8
	for _, n := range nop5 {
		isSite = isSite || bytes.Equal(site, n)
	}
	if !isSite {
		t.Fatalf("vfs_read does not start with an ftrace site: % x", code)
	}
	off += 5
	path := filepath.Join(t.TempDir(), "btool-offset-target")
	os.WriteFile(path, []byte("hello"), 0o644)
	w := startWorkload(t, testutil.Workload(t, "readfiles"), "-n", "2", "-path", path, "-wait")
	spec := "vfs_read+" + strconv.Itoa(off)
	tr := startBtool(t, "trace", "-v", "-K", "-p", strconv.Itoa(w.pid), spec)
	w.run(t)
	out := tr.stop(syscall.SIGINT)
	// An int3 kprobe reports the address after the breakpoint byte on
	// x86 (regs->ip is off+1 while the handler runs); either way the frame
	// is inside the function, past the entry.
	want := "        vfs_read+0x" + strconv.FormatInt(int64(off), 16) + " [kernel]"
	wantInt3 := "        vfs_read+0x" + strconv.FormatInt(int64(off+1), 16) + " [kernel]"
	lines := strings.Split(out, "\n")
	n := 0
	for i, l := range lines {
		if strings.Contains(l, " vfs_read") && !strings.HasPrefix(l, " ") && i+1 < len(lines) {
			if lines[i+1] != want && lines[i+1] != wantInt3 {
				t.Fatalf("first stack frame %q, want %q or %q:\n%s\nstderr:\n%s", lines[i+1], want, wantInt3, out, tr.err.String())
			}
			n++
		}
	}
	if n == 0 {
		t.Fatalf("no vfs_read events:\n%s\nstderr:\n%s", out, tr.err.String())
	}
	// Inside the first instruction: refused before anything is attached.
	_, errs, code2 := runBtool(t, "trace", "vfs_read+1")
	if code2 == 0 || !strings.Contains(errs, "inside an instruction") || !strings.Contains(errs, "^") {
		t.Errorf("vfs_read+1: exit %d, stderr:\n%s", code2, errs)
	}
	// fentry can't probe at an offset: the plan uses a kprobe even where
	// fentry and kprobe_multi exist.
	if !regexp.MustCompile(`(?m)attached with kprobe$`).MatchString(tr.err.String()) {
		t.Errorf("offset probe not attached as a kprobe:\n%s", tr.err.String())
	}
}

// TestKernelTraceWildcardStructTypes: security_unix_may_send's sock is a
// struct socket *, security_unix_stream_connect's a struct sock *. Typed
// by the first match, sock->type read 2 bytes of a struct sock at
// socket.type's offset for stream connects: a wrong number, silently.
// Each match now has its own context, so the spec is refused, naming the
// match it doesn't fit, with a caret under the member.
func TestKernelTraceWildcardStructTypes(t *testing.T) {
	requireRoot(t)
	if !haveFeature(t, "kprobe") {
		return
	}
	_, errs, code := runBtool(t, "trace", `security_unix_* "%d", sock->type`)
	if code != exitUsage || !strings.Contains(errs, "security_unix_stream_connect") || !strings.Contains(errs, "type") || !strings.Contains(errs, "^") {
		t.Fatalf("exit %d, stderr:\n%s\nwant a usage error naming security_unix_stream_connect, with a caret", code, errs)
	}
}
