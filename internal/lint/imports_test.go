package lint

import (
	"go/build"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

const module = "github.com/btool/btool/"

// allowed lists, per package, the project packages it may import (besides
// internal/ plumbing where noted) and the third-party prefixes it must not.
// It is the README's Layout section as data: parse → check → compile →
// attach → decode → print, with no back edges.
var rules = map[string]struct {
	project  []string // project packages it may import; "internal/" allows every internal package
	denyRefs []string // import path prefixes it must not use
}{
	"specparse":    {nil, []string{"github.com/", "golang.org/"}}, // stdlib only: hermetic parser and fuzzing
	"btf":          {[]string{"internal/"}, nil},
	"dwarfinfo":    {[]string{"btf", "internal/"}, nil},
	"bpf/compile":  {[]string{"btf", "specparse"}, []string{"github.com/cilium/ebpf/link", "github.com/cilium/ebpf/ringbuf", "github.com/cilium/ebpf/perf", "github.com/cilium/ebpf/features", "github.com/cilium/ebpf/rlimit", "golang.org/x/sys"}},
	"bpf/feature":  {[]string{"btf", "internal/"}, nil},
	"bpf":          {[]string{"bpf/compile", "bpf/feature", "btf", "specparse", "internal/"}, []string{"github.com/go-delve/", "github.com/urfave/"}},
	"multitool":    {[]string{"bpf", "bpf/compile", "bpf/feature", "btf", "dwarfinfo", "multitool/symbolize", "specparse", "internal/"}, []string{"github.com/urfave/"}},
	"cmd/btool":    {[]string{"multitool", "specparse", "bpf/feature"}, nil},
	"internal/...": {[]string{"internal/"}, nil},

	// Stdlib only: SVG flame graphs from folded stacks, imported by multitool.
	"internal/flamegraph": {nil, []string{"github.com/", "golang.org/"}},
	// Symbolization: kallsyms, ELF/DWARF/pclntab/perf maps; no BPF, no CLI.
	"multitool/symbolize": {[]string{"dwarfinfo", "btf", "internal/kallsyms"}, []string{"github.com/cilium/", "github.com/urfave/", "golang.org/"}},
}

func root(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Skip("not in the source tree (no go.mod above the test)")
		}
		dir = parent
	}
}

// TestImportGraph fails when a package imports one the layout forbids
// (production files only; tests may reach further).
func TestImportGraph(t *testing.T) {
	top := root(t)
	seen := map[string]bool{}
	err := filepath.WalkDir(top, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		name := d.Name()
		if path != top && (strings.HasPrefix(name, ".") || name == "testdata" || name == "docs") {
			return filepath.SkipDir
		}
		pkg, err := build.ImportDir(path, 0)
		if err != nil {
			return nil // no Go files
		}
		rel, _ := filepath.Rel(top, path)
		rel = filepath.ToSlash(rel)
		if strings.HasPrefix(rel, "internal/workloads") {
			return nil // test programs
		}
		rule, ok := rules[rel]
		if !ok && strings.HasPrefix(rel, "internal/") {
			rule, ok = rules["internal/..."]
		}
		if !ok {
			t.Errorf("package %s has no import rule: add it to the table and to the README's Layout section", rel)
			return nil
		}
		seen[rel] = true
		for _, imp := range pkg.Imports {
			for _, deny := range rule.denyRefs {
				if strings.HasPrefix(imp, deny) {
					t.Errorf("%s imports %s, which it must not", rel, imp)
				}
			}
			if !strings.HasPrefix(imp, module) {
				continue
			}
			dep := strings.TrimPrefix(imp, module)
			okDep := false
			for _, a := range rule.project {
				if dep == a || a == "internal/" && strings.HasPrefix(dep, "internal/") {
					okDep = true
				}
			}
			if !okDep {
				t.Errorf("%s imports %s: not allowed (may import %v)", rel, dep, rule.project)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var missing []string
	for p := range rules {
		if p != "internal/..." && !seen[p] {
			missing = append(missing, p)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("rules for packages that don't exist: %v", missing)
	}
}
