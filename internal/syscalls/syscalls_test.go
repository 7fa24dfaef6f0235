package syscalls

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/btool/btool/internal/kallsyms"
	"github.com/btool/btool/internal/testutil"
	"github.com/btool/btool/internal/tracefs"
)

func requireTable(t *testing.T) {
	t.Helper()
	if runtime.GOARCH != "amd64" {
		t.Skip("syscall table only for amd64")
	}
}

func TestNames(t *testing.T) {
	requireTable(t)
	tests := []struct {
		nr       int
		name, tp string
	}{
		{0, "read", "read"},
		{5, "fstat", "newfstat"},
		{4, "stat", "newstat"},
		{6, "lstat", "newlstat"},
		{63, "uname", "newuname"},
		{40, "sendfile", "sendfile64"},
		{166, "umount2", "umount"},
		{257, "openat", "openat"},
		{262, "newfstatat", "newfstatat"},
		{321, "bpf", "bpf"},
	}
	for _, tt := range tests {
		if have, ok := Name(tt.nr); !ok || have != tt.name {
			t.Errorf("Name(%d): have %q %v, want %q", tt.nr, have, ok, tt.name)
		}
		if have, ok := TracepointName(tt.nr); !ok || have != tt.tp {
			t.Errorf("TracepointName(%d): have %q %v, want %q", tt.nr, have, ok, tt.tp)
		}
		for _, n := range []string{tt.name, tt.tp} {
			if have, ok := Number(n); !ok || have != tt.nr {
				t.Errorf("Number(%q): have %d %v, want %d", n, have, ok, tt.nr)
			}
		}
		for _, n := range []string{tt.tp, "sys_enter_" + tt.tp, "sys_exit_" + tt.tp} {
			if have, ok := NumberForTracepoint(n); !ok || have != tt.nr {
				t.Errorf("NumberForTracepoint(%q): have %d %v, want %d", n, have, ok, tt.nr)
			}
		}
	}
	for _, nr := range []int{-1, 400, Max(), 100000} { // 400 is unassigned
		if n, ok := Name(nr); ok {
			t.Errorf("Name(%d) = %q, want not found", nr, n)
		}
		if n, ok := TracepointName(nr); ok {
			t.Errorf("TracepointName(%d) = %q, want not found", nr, n)
		}
	}
	if _, ok := Number("no_such_call"); ok {
		t.Error("Number(no_such_call) found")
	}
	if _, ok := NumberForTracepoint("fstat"); ok {
		t.Error("NumberForTracepoint(fstat) found; the tracepoint is newfstat")
	}
	if Max() < 450 {
		t.Errorf("Max() = %d", Max())
	}
}

func TestCanonical(t *testing.T) {
	requireTable(t)
	tests := []struct {
		have string
		want string
		ok   bool
	}{
		{"sys_read", "read", true},
		{"SyS_nanosleep", "nanosleep", true},
		{"__x64_sys_openat", "openat", true},
		{"__ia32_sys_read", "read", true},
		{"__se_sys_read", "read", true},
		{"__do_sys_read", "read", true},
		{"__arm64_sys_read", "read", true},
		{"__s390x_sys_read", "read", true},
		{"__x32_compat_sys_ioctl", "ioctl", true},
		{"__ia32_compat_sys_ioctl", "ioctl", true},
		{"__x64_sys_newfstat", "newfstat", true},
		{"sys_fstat", "fstat", true},
		{"read", "", false},
		{"vfs_read", "", false},
		{"sys_enter_openat", "", false},
		{"sys_ni_syscall", "", false},
		{"__x64_sys_", "", false},
	}
	for _, tt := range tests {
		have, ok := Canonical(tt.have)
		if have != tt.want || ok != tt.ok {
			t.Errorf("Canonical(%q): have %q %v, want %q %v", tt.have, have, ok, tt.want, tt.ok)
		}
	}
}

func TestWrapperSymbol(t *testing.T) {
	requireTable(t)
	for have, want := range map[string]string{
		"read":     "__x64_sys_read",
		"fstat":    "__x64_sys_newfstat",
		"newfstat": "__x64_sys_newfstat",
		"umount2":  "__x64_sys_umount",
		"bogus":    "__x64_sys_bogus",
	} {
		if s := WrapperSymbol(have); s != want {
			t.Errorf("WrapperSymbol(%q) = %q, want %q", have, s, want)
		}
	}
}

// tracepointExceptions lists sys_enter_* events that have no x86_64 syscall
// number. None are known on 6.18, 6.12 or 6.1.
var tracepointExceptions = map[string]string{}

// TestKernelTracepoints checks every syscall tracepoint of the running kernel
// maps to a syscall number and back, and that the entry symbol exists.
func TestKernelTracepoints(t *testing.T) {
	requireTable(t)
	testutil.RequireRoot(t)
	dir, err := tracefs.Path("events/syscalls")
	if err != nil {
		t.Skip(err)
	}
	matches, err := filepath.Glob(filepath.Join(dir, "sys_enter_*"))
	if err != nil || len(matches) == 0 {
		t.Skipf("no syscall tracepoints (CONFIG_FTRACE_SYSCALLS off?): %v", err)
	}
	tab, kerr := kallsyms.Load()
	for _, m := range matches {
		suffix := strings.TrimPrefix(filepath.Base(m), "sys_enter_")
		if why, ok := tracepointExceptions[suffix]; ok {
			t.Logf("%s: known exception: %s", suffix, why)
			continue
		}
		nr, ok := NumberForTracepoint(suffix)
		if !ok {
			t.Errorf("tracepoint sys_enter_%s has no syscall number", suffix)
			continue
		}
		if tp, _ := TracepointName(nr); tp != suffix {
			t.Errorf("TracepointName(%d) = %q, want %q", nr, tp, suffix)
		}
		if kerr == nil {
			sym := WrapperSymbol(suffix)
			if _, ok := tab.Addr(sym); !ok && tab.HasAddrs() {
				t.Errorf("entry symbol %s of tracepoint sys_enter_%s not in kallsyms", sym, suffix)
			}
		}
	}
	t.Logf("%d syscall tracepoints checked", len(matches))
	if _, err := os.Stat(filepath.Join(dir, "sys_enter_newfstat")); err == nil {
		if nr, _ := NumberForTracepoint("newfstat"); nr != 5 {
			t.Errorf("newfstat -> %d", nr)
		}
	}
}
