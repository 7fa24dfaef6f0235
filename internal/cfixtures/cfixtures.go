// Package cfixtures builds the C and C++ test programs under testdata/c
// (uprobe, demangling and USDT fixtures) the same way for every test tier:
// dynamically linked on the host at test time, and statically linked ahead
// of time into the VM's initramfs, where there is no compiler.
package cfixtures

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
)

// Fixture is one build of a source file in testdata/c.
type Fixture struct {
	Src   string   // file name in testdata/c: calls.c, widget.cc, usdt.c
	Flags []string // extra compiler flags after the defaults, e.g. -O0
}

// Name is the fixture's binary name: the source's base name plus its extra
// flags ("calls", "calls-O0"). In the VM it is $BTOOL_WORKLOADS/c-<Name>.
func (f Fixture) Name() string {
	name := strings.TrimSuffix(f.Src, filepath.Ext(f.Src))
	for _, fl := range f.Flags {
		name += strings.TrimLeft(fl, " ")
	}
	return name
}

// All lists the builds the end-to-end tests use.
var All = []Fixture{
	{Src: "calls.c"},
	{Src: "calls.c", Flags: []string{"-O0"}},
	{Src: "calls.c", Flags: []string{"-g0"}}, // no DWARF: untyped arguments
	{Src: "widget.cc"},
	{Src: "usdt.c"},
	{Src: "usdt_sites.c"},
	{Src: "untouched.c"},
	{Src: "latency.c"},
	{Src: "stash.c"},
	{Src: "inlined.c"},
	{Src: "stacks.c"},
}

// Build compiles f from root/testdata/c into dir/<prefix><Name> with debug
// info and frame pointers (and -static when static is set), and returns the
// binary's path. A missing compiler is an error wrapping exec.ErrNotFound.
func Build(root, dir, prefix string, f Fixture, static bool) (string, error) {
	cc := "gcc"
	if strings.HasSuffix(f.Src, ".cc") {
		cc = "g++"
	}
	if _, err := exec.LookPath(cc); err != nil {
		return "", fmt.Errorf("%s to build %s: %w", cc, f.Src, err)
	}
	out := filepath.Join(dir, prefix+f.Name())
	args := []string{"-O1", "-g", "-fno-omit-frame-pointer", "-I", filepath.Join(root, "dwarfinfo", "testdata")}
	if static {
		args = append(args, "-static")
	}
	args = append(args, f.Flags...)
	args = append(args, "-o", out, filepath.Join(root, "testdata", "c", f.Src))
	if b, err := exec.Command(cc, args...).CombinedOutput(); err != nil {
		return "", fmt.Errorf("%s %s: %v\n%s", cc, strings.Join(args, " "), err, b)
	}
	return out, nil
}
