package compile

import (
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
