package vmtest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/btool/btool/internal/cfixtures"
)

// Package is a Go package whose kernel tests run in the VMs.
type Package struct {
	ImportPath string
	Rel        string // directory relative to the module root, slash separated: "internal/testutil"
	Dir        string // absolute directory on the host
}

// BinaryName returns the file name of the package's test binary in the VM.
func (p Package) BinaryName() string {
	if p.Rel == "." {
		return "root.test"
	}
	return strings.ReplaceAll(p.Rel, "/", "_") + ".test"
}

// kernelTestRE matches the declaration of a TestKernel function.
var kernelTestRE = regexp.MustCompile(`(?m)^func TestKernel\w*\(`)

// KernelTestPackages lists the packages matching patterns (go list syntax,
// relative to root; default ./...) whose _test.go files declare a
// func TestKernel..., excluding internal/vmtest itself. Packages that go list
// reports errors for are still listed when their test files match, so that
// their build failure is reported rather than hidden.
func KernelTestPackages(ctx context.Context, root string, patterns ...string) ([]Package, error) {
	if len(patterns) == 0 {
		patterns = []string{"./..."}
	}
	args := append([]string{"list", "-e", "-f",
		"{{.ImportPath}}\t{{.Dir}}\t{{range .TestGoFiles}}{{.}},{{end}}{{range .XTestGoFiles}}{{.}},{{end}}"}, patterns...)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list %s: %w\n%s", strings.Join(patterns, " "), err, stderr.Bytes())
	}
	var pkgs []Package
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Split(sc.Text(), "\t")
		if len(f) != 3 || f[2] == "" {
			continue
		}
		rel, err := filepath.Rel(root, f[1])
		if err != nil || strings.HasPrefix(rel, "..") {
			continue
		}
		rel = filepath.ToSlash(rel)
		if rel == "internal/vmtest" {
			continue
		}
		for _, name := range strings.Split(strings.TrimSuffix(f[2], ","), ",") {
			src, err := os.ReadFile(filepath.Join(f[1], name))
			if err == nil && kernelTestRE.Match(src) {
				pkgs = append(pkgs, Package{ImportPath: f[0], Rel: rel, Dir: f[1]})
				break
			}
		}
	}
	sort.Slice(pkgs, func(i, j int) bool { return pkgs[i].Rel < pkgs[j].Rel })
	return pkgs, nil
}

// Payload is what the host builds once and every VM runs: btool, the
// workloads and one test binary per package, all static.
type Payload struct {
	Dir       string   // host directory holding bin/, workloads/ and tests/
	Btool     string   // bin/btool, or "" when ./cmd/btool does not exist yet or does not build
	BtoolErr  error    // why ./cmd/btool did not build
	Workloads []string // paths under workloads/
	// FixtureErrors are C/C++ fixtures that could not be built statically.
	FixtureErrors []string
	Packages      []Package // packages whose test binary built, in tests/<BinaryName>
	// BuildErrors maps a package's Rel to its build output, for packages
	// whose test binary failed to build.
	BuildErrors map[string]string
}

// BuildPayload builds btool (when ./cmd/btool has Go files), every program
// under internal/workloads and a test binary for each of pkgs into dir, all
// with CGO_ENABLED=0. A package whose test binary does not build is left out
// and recorded in BuildErrors, a btool that does not build in BtoolErr (the
// tests that need it fail on their own); a failing workload build is an error.
func BuildPayload(ctx context.Context, root, dir string, pkgs []Package) (*Payload, error) {
	p := &Payload{Dir: dir, BuildErrors: map[string]string{}}
	for _, d := range []string{"bin", "workloads", "tests"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return nil, err
		}
	}

	if m, _ := filepath.Glob(filepath.Join(root, "cmd", "btool", "*.go")); len(m) > 0 {
		out := filepath.Join(dir, "bin", "btool")
		if err := goCmd(ctx, root, "build", "-trimpath", "-o", out, "./cmd/btool"); err != nil {
			p.BtoolErr = err
		} else {
			p.Btool = out
		}
	}

	wdir := filepath.Join(dir, "workloads")
	if err := goCmd(ctx, root, "build", "-o", wdir+"/", "./internal/workloads/..."); err != nil {
		return nil, err
	}
	ents, err := os.ReadDir(wdir)
	if err != nil {
		return nil, err
	}
	for _, e := range ents {
		p.Workloads = append(p.Workloads, filepath.Join(wdir, e.Name()))
	}
	// The C/C++ fixtures, linked statically: the VM has no libc. Without a
	// compiler or static libraries the tests that need them skip.
	for _, f := range cfixtures.All {
		out, err := cfixtures.Build(root, wdir, "c-", f, true)
		if err != nil {
			p.FixtureErrors = append(p.FixtureErrors, err.Error())
			continue
		}
		p.Workloads = append(p.Workloads, out)
	}

	for _, pkg := range pkgs {
		out := filepath.Join(dir, "tests", pkg.BinaryName())
		err := goCmd(ctx, root, "test", "-c", "-vet=off", "-o", out, "./"+pkg.Rel)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if err != nil {
			p.BuildErrors[pkg.Rel] = err.Error()
			continue
		}
		if _, err := os.Stat(out); errors.Is(err, os.ErrNotExist) {
			// go test -c writes nothing for a package without tests.
			p.BuildErrors[pkg.Rel] = "go test -c wrote no test binary"
			continue
		}
		p.Packages = append(p.Packages, pkg)
	}
	return p, nil
}

// goCmd runs the go command in root with CGO_ENABLED=0 and returns an error
// holding its output when it fails.
func goCmd(ctx context.Context, root string, args ...string) error {
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}
