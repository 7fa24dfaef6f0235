package compile

import (
	"os"
	"runtime"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// setThreadComm renames the calling thread (its comm) and returns a func
// restoring the old name. The caller has locked the OS thread.
func setThreadComm(t *testing.T, name string) func() {
	t.Helper()
	var old [16]byte
	if err := unix.Prctl(unix.PR_GET_NAME, uintptr(unsafe.Pointer(&old[0])), 0, 0, 0); err != nil {
		t.Fatal(err)
	}
	b := append([]byte(name), 0)
	if err := unix.Prctl(unix.PR_SET_NAME, uintptr(unsafe.Pointer(&b[0])), 0, 0, 0); err != nil {
		t.Fatal(err)
	}
	runtime.KeepAlive(b)
	return func() { unix.Prctl(unix.PR_SET_NAME, uintptr(unsafe.Pointer(&old[0])), 0, 0, 0) }
}

// TestKernelExecComm checks that $comm == "lit" is an exact comparison:
// a comm that merely starts with the literal ("catalina" for "cat") does
// not match, and a literal longer than the kernel keeps (15 characters)
// matches the comm the kernel cut it to.
func TestKernelExecComm(t *testing.T) {
	r := newExecRunner(t)
	for _, tc := range []struct {
		comm, lit string
		want      bool
	}{
		{"cat", "cat", true},
		{"catalina", "cat", false},
		{"cat", "catalina", false},
		{"catalina", "catalina", true},
		{"abcdefghijklmno", "abcdefghijklmno", true},   // 15: the longest comm
		{"abcdefghijklmno", "abcdefghijklmn", false},   // a prefix of 14
		{"abcdefghijklmnop", "abcdefghijklmnop", true}, // kernel cuts both to 15
		{"abcdefghijklmno", "abcdefghijklmnopqrst", true},
		{"abcdefghijklmnx", "abcdefghijklmnopqrst", false},
	} {
		t.Run(tc.comm+"=="+tc.lit, func(t *testing.T) {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			defer setThreadComm(t, tc.comm)()
			for _, spec := range []string{
				`f ($comm == "` + tc.lit + `") "%s", $comm`,
				`f (!($comm != "` + tc.lit + `")) "%s", $comm`,
				`f (STRCMP("` + tc.lit + `", $comm)) "%s", $comm`,
			} {
				got, _, _ := r.run(t, spec, execArgs(true), CheckOptions{})
				if (got != nil) != tc.want {
					t.Errorf("comm %q: %s: record %q, want one: %v", tc.comm, spec, got, tc.want)
				}
				if got != nil && got[0] != `"`+tc.comm[:min(15, len(tc.comm))]+`"` {
					t.Errorf("comm %q: printed %s", tc.comm, strings.Join(got, " "))
				}
			}
		})
	}
}

// TestKernelExecStringStatus checks the status byte of %s records: a
// string on a page that is mapped but not faulted in cannot be read by a
// BPF program (it cannot take page faults) and is marked as a fault, as
// is a bad address, while NULL is marked as NULL.
func TestKernelExecStringStatus(t *testing.T) {
	r := newExecRunner(t)
	obj := newUserObjects()
	defer obj.keepAlive()
	untouched, err := unix.Mmap(-1, 0, 4096, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(untouched)
	addr := uint64(uintptr(unsafe.Pointer(unsafe.SliceData(untouched))))
	tagged := append([]byte(nil), obj.sample...)
	defer runtime.KeepAlive(tagged)
	for _, tc := range []struct {
		name string
		spec string
		args map[int]uint64
		want string
	}{
		{"read", `f "%s", msg`, nil, `"hello"`},
		{"page not present", `f "%s", msg`, map[int]uint64{5: addr}, `"" fault`},
		{"bad address", `f "%s", msg`, map[int]uint64{5: 1}, `"" fault`},
		{"NULL", `f "%s", msg`, map[int]uint64{5: 0}, `"" null`},
		{"char array not present", `f "%s", s->tag`, map[int]uint64{4: addr}, `"" fault`},
		{"char array read", `f "%s", s->tag`, nil, `"tagvalue"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := []uint64{0, 0, 0, ptr(obj.file), ptr(obj.sample), ptr(obj.msg), 2, 0}
			for i, v := range tc.args {
				args[i] = v
			}
			got, _, _ := r.run(t, tc.spec, execArgs(true), CheckOptions{}, args...)
			if len(got) != 1 || got[0] != tc.want {
				t.Fatalf("%s: got %q, want %s", tc.spec, got, tc.want)
			}
		})
	}
}

// TestKernelExecGoStringStatus runs Go string arguments (pointer and
// length) through BPF_PROG_RUN: exact bytes, truncation at the string
// size, and a fault marked when the bytes cannot be read.
func TestKernelExecGoStringStatus(t *testing.T) {
	r := newExecRunner(t)
	data := []byte("alphabetagamma")
	defer runtime.KeepAlive(data)
	pc := rawArgs([]Arg{{Name: "name", Kind: ArgGoString, Off: 0, Off2: 8, Size: 8, User: true}})
	for _, tc := range []struct {
		name     string
		ptr, len uint64
		ss       int
		want     string
	}{
		{"exact", ptr(data), 5, 0, `"alpha"`},
		{"empty", 0, 0, 0, `""`},
		{"truncated", ptr(data), 14, 8, `"alphabe"+`},
		{"fault", 1, 5, 0, `"" fault`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, _, _ := r.run(t, `f "%s", name`, pc, CheckOptions{StringSize: tc.ss}, tc.ptr, tc.len)
			if len(got) != 1 || got[0] != tc.want {
				t.Fatalf("got %q, want %s", got, tc.want)
			}
		})
	}
}

// TestKernelExecStringAddressSpace checks how a kernel probe reads a char *
// whose type doesn't say where it points (kernels without BTF type tags
// lose __user): by the address, user memory below the x86-64 split and
// kernel memory above it, for %s and for comparisons.
func TestKernelExecStringAddressSpace(t *testing.T) {
	r := newExecRunner(t)
	obj := newUserObjects()
	defer obj.keepAlive()
	pc := execArgs(false) // a kernel probe: pointers are kernel pointers
	pc.Kernel = kernelTypes(t)
	args := []uint64{0, 0, 0, ptr(obj.file), ptr(obj.sample), ptr(obj.msg), 2, 0}
	for _, tc := range []struct {
		spec string
		want string
	}{
		{`f "%s", msg`, `"hello"`},
		{`f (msg == "hello") "%d", 1`, "1"},
		{`f (STRCMP("hello", msg)) "%d", 1`, "1"},
		// A kernel address: the task's comm, as a char *.
		{`f "%s", (char *)&$task->comm`, `"` + threadComm(t) + `"`},
		{`f ((char *)&$task->comm == "` + threadComm(t) + `") "%d", 1`, "1"},
	} {
		t.Run(tc.spec, func(t *testing.T) {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			got, _, _ := r.run(t, tc.spec, pc, CheckOptions{}, args...)
			if len(got) != 1 || got[0] != tc.want {
				t.Fatalf("got %q, want %s", got, tc.want)
			}
		})
	}
}

// threadComm is the calling thread's comm.
func threadComm(t *testing.T) string {
	b, err := os.ReadFile("/proc/thread-self/comm")
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// TestKernelExecUntypedString reads %s from arguments without a type (a
// user function without DWARF, bcc's `r:bash:readline "%s", retval`): the
// value is taken as a pointer to a string, in user memory for uprobes and
// by its address for kernel probes; %d still prints the number.
func TestKernelExecUntypedString(t *testing.T) {
	r := newExecRunner(t)
	msg := []byte("readline\x00")
	defer runtime.KeepAlive(msg)
	for _, user := range []bool{true, false} {
		pc := rawArgs([]Arg{
			{Kind: ArgCtx, Off: 0, Size: 8},                   // arg1: nil type
			{Kind: ArgCtx, Off: 8, Size: 8, Type: UntypedU64}, // arg2: the retval default
		})
		pc.UserMemory = user
		got, _, _ := r.run(t, `f (arg2 == "readline") "%s %s %d", arg1, arg2, arg1 == 0`, pc, CheckOptions{}, ptr(msg), ptr(msg))
		if want := `"readline"|"readline"|0`; strings.Join(got, "|") != want {
			t.Errorf("user memory %v: got %q, want %s", user, got, want)
		}
	}
}
