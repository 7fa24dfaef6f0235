package vmtest

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestInitScript(t *testing.T) {
	pkgs := []Package{{Rel: "bpf"}, {Rel: "internal/testutil"}}
	s := InitScript(pkgs, InitOptions{Run: "^TestKernel(A|B)$", TestTimeout: "10m"})
	for _, want := range []string{
		"#!/bin/sh\n",
		"mount -t devtmpfs devtmpfs /dev\n",
		"fs tracefs /sys/kernel/tracing\n",
		"fs debugfs /sys/kernel/debug\n",
		"exec 3>/dev/ttyS1\n",
		"RUN='^TestKernel(A|B)$'\n",
		"run 'bpf' 'bpf.test'\n",
		"run 'internal/testutil' 'internal_testutil.test'\n",
		"say DONE\npoweroff -f\n",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("init script lacks %q:\n%s", want, s)
		}
	}
	// It is valid shell.
	if sh, err := exec.LookPath("sh"); err == nil {
		if out, err := exec.Command(sh, "-n", "-c", s).CombinedOutput(); err != nil {
			t.Errorf("sh -n: %v\n%s", err, out)
		}
	}
}

func TestShellQuote(t *testing.T) {
	tests := []struct{ have, want string }{
		{"a b", `'a b'`},
		{"it's", `'it'\''s'`},
		{"", `''`},
	}
	for _, tt := range tests {
		if got := shellQuote(tt.have); got != tt.want {
			t.Errorf("shellQuote(%q) = %s, want %s", tt.have, got, tt.want)
		}
	}
}

func TestWriteInitramfs(t *testing.T) {
	dir := t.TempDir()
	write := func(p, data string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	root := filepath.Join(dir, "repo")
	write(filepath.Join(root, "testdata", "shared.txt"), "shared")
	write(filepath.Join(root, "pkg", "testdata", "in.txt"), "input")
	write(filepath.Join(root, "other", "testdata", "x.txt"), "other package's")
	write(filepath.Join(root, ".git", "testdata", "no.txt"), "ignored")
	payload := filepath.Join(dir, "payload")
	write(filepath.Join(payload, "tests", "pkg.test"), "test binary")
	write(filepath.Join(payload, "workloads", "getpid"), "workload")
	busybox := filepath.Join(dir, "busybox")
	write(busybox, "busybox")

	p := &Payload{
		Dir:       payload,
		Workloads: []string{filepath.Join(payload, "workloads", "getpid")},
		Packages:  []Package{{Rel: "pkg", Dir: filepath.Join(root, "pkg")}},
	}
	initrd := filepath.Join(dir, "initramfs.cpio")
	if err := WriteInitramfs(initrd, busybox, root, p, InitOptions{Run: "^TestKernel", TestTimeout: "1m"}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(initrd)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	for _, e := range readCPIO(t, b) {
		files[e.name] = e.data
	}
	for name, want := range map[string]string{
		"bin/busybox":              "busybox",
		"bin/sh":                   "busybox",
		"tests/pkg.test":           "test binary",
		"workloads/getpid":         "workload",
		"src/testdata/shared.txt":  "shared",
		"src/pkg/testdata/in.txt":  "input",
		"src/other/testdata/x.txt": "other package's",
		"dev/console":              "",
	} {
		if have, ok := files[name]; !ok || have != want {
			t.Errorf("%s = %q (present %v), want %q", name, have, ok, want)
		}
	}
	if !bytes.Contains([]byte(files["init"]), []byte("run 'pkg' 'pkg.test'")) {
		t.Errorf("/init does not run pkg:\n%s", files["init"])
	}
	if _, ok := files["src/.git/testdata/no.txt"]; ok {
		t.Errorf(".git was copied")
	}
	if _, ok := files["bin/btool"]; ok {
		t.Errorf("bin/btool is in the initramfs without a btool in the payload")
	}
}
