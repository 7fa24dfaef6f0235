package multitool

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	ebtf "github.com/cilium/ebpf/btf"

	"github.com/btool/btool/bpf"
	"github.com/btool/btool/bpf/compile"
	"github.com/btool/btool/bpf/feature"
	"github.com/btool/btool/btf"
	"github.com/btool/btool/dwarfinfo"
	"github.com/btool/btool/internal/tracefs"
	"github.com/btool/btool/specparse"
)

// fixtureSources serves testdata/plan: tracefs event lists and formats
// copied from a 6.18 kernel, a synthetic kernel BTF, kernel text bytes and
// fake binaries.
type fixtureSources struct {
	t        *testing.T
	kernel   *btf.Kernel
	text     map[string][]byte
	binaries map[string]*fixtureBinary
}

func (s *fixtureSources) Events() ([]tracefs.Event, error) {
	data, err := os.ReadFile("testdata/plan/available_events")
	if err != nil {
		return nil, err
	}
	var evs []tracefs.Event
	for _, l := range strings.Fields(string(data)) {
		c, n, _ := strings.Cut(l, ":")
		evs = append(evs, tracefs.Event{Category: c, Name: n})
	}
	return evs, nil
}

func (s *fixtureSources) Format(category, event string) (*tracefs.Format, error) {
	data, err := os.ReadFile(filepath.Join("testdata/plan/events", category, event, "format"))
	if err != nil {
		return nil, err
	}
	f, err := tracefs.ParseFormat(string(data))
	if err != nil {
		return nil, err
	}
	f.Category = category
	return f, nil
}

func (s *fixtureSources) Kernel() (*btf.Kernel, error) { return s.kernel, nil }

func (s *fixtureSources) KernelFuncs() ([]btf.KernelFunc, error) {
	data, err := os.ReadFile("testdata/plan/available_filter_functions")
	if err != nil {
		return nil, err
	}
	var fs []btf.KernelFunc
	for _, n := range strings.Fields(string(data)) {
		fs = append(fs, btf.KernelFunc{Name: n})
	}
	return fs, nil
}

func (s *fixtureSources) KernelText(sym string, n int) ([]byte, error) {
	code, ok := s.text[sym]
	if !ok {
		return nil, fmt.Errorf("no text for %s in the fixture: %w", sym, bpf.ErrNotSupported)
	}
	if n < len(code) {
		code = code[:n]
	}
	return code, nil
}

func (s *fixtureSources) OpenBinary(lib string) (Binary, error) {
	b, ok := s.binaries[lib]
	if !ok {
		return nil, fmt.Errorf("%s: %w", lib, dwarfinfo.ErrNotFound)
	}
	return b, nil
}

// fixtureBinary is a binary with symbols and USDT notes but no DWARF.
type fixtureBinary struct {
	path  string
	funcs []dwarfinfo.Symbol
	usdt  []dwarfinfo.USDTProbe
}

func (b *fixtureBinary) Path() string                           { return b.path }
func (b *fixtureBinary) IsGo() bool                             { return false }
func (b *fixtureBinary) Functions() ([]dwarfinfo.Symbol, error) { return b.funcs, nil }
func (b *fixtureBinary) USDT() ([]dwarfinfo.USDTProbe, error)   { return b.usdt, nil }
func (b *fixtureBinary) Func(name string) (*btf.Func, error) {
	return nil, fmt.Errorf("%s: %w", name, dwarfinfo.ErrNoDebugInfo)
}
func (b *fixtureBinary) ParamLocations(name string) ([]dwarfinfo.Location, error) {
	return nil, dwarfinfo.ErrNoDebugInfo
}
func (b *fixtureBinary) Type(name string) (ebtf.Type, error) { return nil, dwarfinfo.ErrNoDebugInfo }
func (b *fixtureBinary) Close() error                        { return nil }

// File is empty: fixture targets attach by Path. Stat fails, so fixture
// binaries are told apart by library name only.
func (b *fixtureBinary) File() string               { return "" }
func (b *fixtureBinary) Stat() (os.FileInfo, error) { return nil, os.ErrNotExist }
func (b *fixtureBinary) ReadAt(p []byte, off int64) (int, error) {
	return 0, fmt.Errorf("%s: no code: %w", b.path, os.ErrNotExist)
}

// vfsReadText is the start of an x86-64 vfs_read: endbr64 (+0), call
// __fentry__ (+4), push %rbp (+9), mov %rsp,%rbp (+0xa), push %r15
// (+0xd), push %r14 (+0xf), push %r13 (+0x11), push %r12 (+0x13), push
// %rbx (+0x15), sub $0x10,%rsp (+0x16), ret (+0x1a); 27 bytes.
var vfsReadText = []byte{
	0xf3, 0x0f, 0x1e, 0xfa,
	0xe8, 0x00, 0x00, 0x00, 0x00,
	0x55,
	0x48, 0x89, 0xe5,
	0x41, 0x57,
	0x41, 0x56,
	0x41, 0x55,
	0x41, 0x54,
	0x53,
	0x48, 0x83, 0xec, 0x10,
	0xc3,
}

func newFixtureSources(t *testing.T) *fixtureSources {
	t.Helper()
	char := &ebtf.Int{Name: "char", Size: 1, Encoding: ebtf.Signed}
	ulong := &ebtf.Int{Name: "unsigned long", Size: 8}
	sizeT := &ebtf.Typedef{Name: "size_t", Type: ulong}
	ssizeT := &ebtf.Typedef{Name: "ssize_t", Type: &ebtf.Int{Name: "long", Size: 8, Encoding: ebtf.Signed}}
	intT := &ebtf.Int{Name: "int", Size: 4, Encoding: ebtf.Signed}
	// struct file and struct path both start with a pointer, so a
	// name-and-size comparison of `struct X *f` cannot tell them apart;
	// their second members are at different offsets.
	file := &ebtf.Struct{Name: "file", Size: 24, Members: []ebtf.Member{
		{Name: "f_op", Type: &ebtf.Pointer{Target: &ebtf.Void{}}, Offset: 0},
		{Name: "f_flags", Type: intT, Offset: 64},
		{Name: "f_pos", Type: intT, Offset: 128},
	}}
	path := &ebtf.Struct{Name: "path", Size: 16, Members: []ebtf.Member{
		{Name: "mnt", Type: &ebtf.Pointer{Target: &ebtf.Void{}}, Offset: 0},
		{Name: "f_flags", Type: intT, Offset: 96},
	}}
	fn := func(name string, ret ebtf.Type, params ...ebtf.FuncParam) *ebtf.Func {
		return &ebtf.Func{Name: name, Linkage: ebtf.GlobalFunc, Type: &ebtf.FuncProto{Return: ret, Params: params}}
	}
	b, err := ebtf.NewBuilder([]ebtf.Type{
		fn("vfs_read", ssizeT, ebtf.FuncParam{Name: "f", Type: &ebtf.Pointer{Target: file}},
			ebtf.FuncParam{Name: "buf", Type: &ebtf.Pointer{Target: char}}, ebtf.FuncParam{Name: "count", Type: sizeT}),
		fn("vfs_write", ssizeT, ebtf.FuncParam{Name: "f", Type: &ebtf.Pointer{Target: file}},
			ebtf.FuncParam{Name: "buf", Type: &ebtf.Pointer{Target: &ebtf.Const{Type: char}}}, ebtf.FuncParam{Name: "count", Type: sizeT}),
		fn("vfs_open", intT, ebtf.FuncParam{Name: "f", Type: &ebtf.Pointer{Target: path}},
			ebtf.FuncParam{Name: "buf", Type: &ebtf.Pointer{Target: char}}, ebtf.FuncParam{Name: "count", Type: sizeT}),
		fn("vfs_fsync", intT, ebtf.FuncParam{Name: "f", Type: &ebtf.Pointer{Target: file}}, ebtf.FuncParam{Name: "datasync", Type: intT}),
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	spec, err := b.Spec()
	if err != nil {
		t.Fatal(err)
	}
	s := &fixtureSources{t: t, kernel: btf.NewKernel(spec), text: map[string][]byte{"vfs_read": vfsReadText},
		binaries: map[string]*fixtureBinary{}}
	fx := &fixtureBinary{path: "/fixture/usdt_two_sites"}
	data, err := os.ReadFile("testdata/plan/usdt_sites")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		f := strings.SplitN(line, " ", 4)
		off, err := strconv.ParseUint(f[2], 0, 64)
		if err != nil {
			t.Fatal(err)
		}
		fx.usdt = append(fx.usdt, dwarfinfo.USDTProbe{Provider: f[0], Name: f[1], Offset: off, Args: f[3]})
	}
	s.binaries["usdt_two_sites"] = fx
	return s
}

var allFeatures = []feature.Feature{feature.FeatKprobe, feature.FeatKprobeMulti, feature.FeatFentry, feature.FeatUprobe,
	feature.FeatUprobeMulti, feature.FeatTracepoint, feature.FeatRawTracepoint, feature.FeatRingBuf, feature.FeatCookie}

// planTrace plans a trace spec against the fixtures.
func planTrace(t *testing.T, spec string, feats ...feature.Feature) (*Plan, error) {
	t.Helper()
	if feats == nil {
		feats = allFeatures
	}
	p, err := specparse.ParseTrace(spec)
	if err != nil {
		t.Fatalf("parse %q: %v", spec, err)
	}
	h, err := HeadOfProbe(p, spec)
	if err != nil {
		return nil, err
	}
	pl := &Planner{Src: newFixtureSources(t), Features: feature.NewFakeFeatures(feats...), Contexts: true}
	return pl.Plan(h)
}

func mustPlan(t *testing.T, spec string, feats ...feature.Feature) *Plan {
	t.Helper()
	plan, err := planTrace(t, spec, feats...)
	if err != nil {
		t.Fatalf("plan %q: %v", spec, err)
	}
	if len(plan.LayoutOf) != len(plan.Targets) {
		t.Fatalf("plan %q: %d targets, %d LayoutOf entries", spec, len(plan.Targets), len(plan.LayoutOf))
	}
	for i, tg := range plan.Targets {
		if tg.Slot != uint32(i) {
			t.Errorf("plan %q: target %d has slot %d", spec, i, tg.Slot)
		}
	}
	return plan
}

// layoutOf returns the context of the target named name.
func layoutOf(t *testing.T, plan *Plan, name string) *Context {
	t.Helper()
	for i, tg := range plan.Targets {
		if tg.Name == name {
			return plan.Layouts[plan.LayoutOf[i]]
		}
	}
	t.Fatalf("no target %q in %v", name, plan.Targets)
	return nil
}

func argNamed(t *testing.T, args []compile.Arg, name string) compile.Arg {
	t.Helper()
	for _, a := range args {
		if a.Name == name {
			return a
		}
	}
	t.Fatalf("no argument %q in %+v", name, args)
	return compile.Arg{}
}

// A wildcard over tracepoints with different formats: each event is read
// with its own format (issue 6: sched_process_exit's pid, at offset 24,
// was read at sched_process_exec's offset 12).
func TestPlanTracepointWildcardFormats(t *testing.T) {
	plan := mustPlan(t, `t:sched:sched_process_e* "%d", args->pid`)
	if len(plan.Targets) != 2 || len(plan.Layouts) != 2 {
		t.Fatalf("want 2 targets in 2 layouts, have %d in %d", len(plan.Targets), len(plan.Layouts))
	}
	for name, off := range map[string]int16{"sched_process_exec": 12, "sched_process_exit": 24} {
		pc, err := layoutOf(t, plan, name).Probe(compile.ModeTracepoint)
		if err != nil {
			t.Fatal(err)
		}
		if pid := argNamed(t, pc.Fields, "pid"); pid.Off != off {
			t.Errorf("%s: pid at offset %d, want %d", name, pid.Off, off)
		}
	}
	// The checker runs per layout: comm exists in exit only.
	p, _ := specparse.ParseTrace(`t:sched:sched_process_e* "%s", args->comm`)
	exit, _ := layoutOf(t, plan, "sched_process_exit").Probe(compile.ModeTracepoint)
	exec, _ := layoutOf(t, plan, "sched_process_exec").Probe(compile.ModeTracepoint)
	if _, err := compile.CheckTrace(p, exit, compile.CheckOptions{}); err != nil {
		t.Errorf("exit has comm: %v", err)
	}
	if _, err := compile.CheckTrace(p, exec, compile.CheckOptions{}); err == nil {
		t.Errorf("exec has no comm field, but the check passed")
	}
}

// Events with one format share a layout.
func TestPlanTracepointSameFormat(t *testing.T) {
	plan := mustPlan(t, `t:sched:sched_process_exec`)
	if len(plan.Layouts) != 1 {
		t.Fatalf("one event, %d layouts", len(plan.Layouts))
	}
	// A probe that reads nothing needs no per-target formats.
	plan = mustPlan(t, `t:sched:sched_process_e*`)
	if len(plan.Targets) != 2 || len(plan.Layouts) != 1 {
		t.Errorf("no arguments: %d targets in %d layouts, want 2 in 1", len(plan.Targets), len(plan.Layouts))
	}
	plan = mustPlan(t, `t:syscalls:sys_enter_* "%d", args->fd`)
	if len(plan.Targets) != 2 || plan.Kind != compile.SyscallEnter {
		t.Fatalf("targets %v kind %v", plan.Targets, plan.Kind)
	}
	// read's and write's formats have identical fields but different
	// buf types (char * and const char *): qualifiers don't split.
	if len(plan.Layouts) != 1 {
		t.Errorf("read and write: %d layouts, want 1", len(plan.Layouts))
	}
}

// One USDT probe at two sites whose arguments the compiler placed
// differently: each site is read with its own argument spec (issue 6: the
// first site's spec was used for all).
func TestPlanUSDTPerSite(t *testing.T) {
	plan := mustPlan(t, `u:usdt_two_sites:two_sites "%d %d", arg1, arg2`)
	if len(plan.Targets) != 2 || len(plan.Layouts) != 2 {
		t.Fatalf("want 2 sites in 2 layouts, have %d in %d", len(plan.Targets), len(plan.Layouts))
	}
	pc0, _ := plan.Layouts[plan.LayoutOf[0]].Probe(compile.ModeUprobe)
	pc1, _ := plan.Layouts[plan.LayoutOf[1]].Probe(compile.ModeUprobe)
	di, _ := compile.PtRegsOffset("di")
	bp, _ := compile.PtRegsOffset("bp")
	bx, _ := compile.PtRegsOffset("bx")
	if a := pc0.Args[0]; a.Kind != compile.ArgCtx || a.Off != di {
		t.Errorf("site 1 arg1: %+v, want register di", a)
	}
	if a := pc1.Args[0]; a.Kind != compile.ArgMem || a.Off != bp || a.Disp != -20 || a.Size != 4 {
		t.Errorf("site 2 arg1: %+v, want -20(%%rbp), 4 bytes", a)
	}
	if a := pc1.Args[1]; a.Kind != compile.ArgCtx || a.Off != bx {
		t.Errorf("site 2 arg2: %+v, want register bx", a)
	}
	if plan.Targets[0].Offset != 0x1130 || plan.Targets[1].Offset != 0x1190 {
		t.Errorf("offsets %#x %#x", plan.Targets[0].Offset, plan.Targets[1].Offset)
	}
	// Two probes of the same binary, matched by a wildcard: one layout
	// per distinct site spec.
	plan = mustPlan(t, `u:usdt_two_sites:* "%d", arg1`)
	if len(plan.Targets) != 3 || len(plan.Layouts) != 3 {
		t.Errorf("wildcard: %d targets in %d layouts, want 3 in 3", len(plan.Targets), len(plan.Layouts))
	}
}

// Wildcard kernel functions: parameters of the same names and sizes but
// pointers to different structs are different layouts (issue 6: vfs_open's
// f->f_flags was read at struct file's offset); char * and const char *
// are the same.
func TestPlanKernelWildcardFullTypes(t *testing.T) {
	plan := mustPlan(t, `p::vfs_* "%d", f->f_flags`)
	if len(plan.Targets) != 4 {
		t.Fatalf("targets %v", plan.Targets)
	}
	read, write := layoutOf(t, plan, "vfs_read"), layoutOf(t, plan, "vfs_write")
	open, fsync := layoutOf(t, plan, "vfs_open"), layoutOf(t, plan, "vfs_fsync")
	if read != write {
		t.Errorf("vfs_read and vfs_write have the same prototype up to const: want one layout")
	}
	if open == read {
		t.Errorf("vfs_open's f is a struct path *, vfs_read's a struct file *: want different layouts")
	}
	if fsync == read || fsync == open {
		t.Errorf("vfs_fsync has other parameters: want its own layout")
	}
	if len(plan.Layouts) != 3 {
		t.Errorf("%d layouts, want 3", len(plan.Layouts))
	}
	// The layouts check to different member offsets.
	p, _ := specparse.ParseTrace(`p::vfs_* "%d", f->f_flags`)
	for _, c := range []*Context{read, open} {
		pc, err := c.Probe(compile.ModeKprobe)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := compile.CheckTrace(p, pc, compile.CheckOptions{}); err != nil {
			t.Errorf("%s: %v", c.Target, err)
		}
	}
	// A user signature makes every target one layout.
	plan = mustPlan(t, `p::vfs_*(void *f) "%p", f`)
	if len(plan.Layouts) != 1 {
		t.Errorf("with a signature: %d layouts, want 1", len(plan.Layouts))
	}
}

func TestPlanKernelOffset(t *testing.T) {
	plan := mustPlan(t, `p::vfs_read+0x11 "%d", count`)
	if len(plan.Targets) != 1 || plan.Targets[0].Offset != 0x11 || plan.Targets[0].Symbol != "vfs_read" {
		t.Fatalf("targets %+v", plan.Targets)
	}
	if len(plan.Modes) != 1 || plan.Modes[0] != compile.ModeKprobe {
		t.Errorf("modes %v, want only kprobe (fentry and kprobe_multi attach at entry)", plan.Modes)
	}
	// Without an offset the ladder is whole and the offset 0.
	plan = mustPlan(t, `p::vfs_read`)
	if len(plan.Modes) != 3 || plan.Targets[0].Offset != 0 {
		t.Errorf("no offset: modes %v, offset %d", plan.Modes, plan.Targets[0].Offset)
	}
	// An offset into a function whose text can't be read is accepted.
	plan = mustPlan(t, `p::vfs_write+3`)
	if plan.Targets[0].Offset != 3 {
		t.Errorf("unchecked offset: %+v", plan.Targets[0])
	}

	for _, tc := range []struct {
		spec  string
		feats []feature.Feature
		want  string // the message
		span  string // the text the caret marks; "" not checked
	}{
		{spec: `p::vfs_read+1`, want: "offset 0x1 is inside an instruction of vfs_read: endbr64 spans +0x0 to +0x4; use +0x0 or +0x4", span: "+1"},
		{spec: `p::vfs_read+0x12 "%d", count`, want: "offset 0x12 is inside an instruction of vfs_read: push spans +0x11 to +0x13", span: "+0x12"},
		{spec: `p::vfs_read+0x40`, want: "offset 0x40 is past the end of vfs_read (27 bytes)"},
		{spec: `r::vfs_read+0x11`, want: "a return probe cannot have an offset"},
		{spec: `p::vfs_*+0x11`, want: "an offset needs one function, not a wildcard"},
		{spec: `p::vfs_read+0x11`, feats: []feature.Feature{feature.FeatFentry, feature.FeatKprobeMulti}, want: "this kernel has no kprobes"},
	} {
		_, err := planTrace(t, tc.spec, tc.feats...)
		if err == nil {
			t.Errorf("%s: no error", tc.spec)
			continue
		}
		var ue *UsageError
		var se *specparse.Error
		if !errors.As(err, &ue) || !errors.As(err, &se) || ue.Spec != tc.spec {
			t.Errorf("%s: %v is not a UsageError with a position in the spec", tc.spec, err)
			continue
		}
		if !strings.Contains(se.Msg, tc.want) {
			t.Errorf("%s: %q, want it to contain %q", tc.spec, se.Msg, tc.want)
		}
		if got := tc.spec[se.Pos:se.End]; tc.span != "" && got != tc.span {
			t.Errorf("%s: caret under %q, want %q", tc.spec, got, tc.span)
		}
	}
}

// funccount plans through the same planner: no contexts, and syscall
// tracepoints split into entry and exit groups.
func TestPlanCountGroups(t *testing.T) {
	p, err := specparse.ParsePattern("t:syscalls:sys_*_read", false)
	if err != nil {
		t.Fatal(err)
	}
	h, err := HeadOfPattern(p)
	if err != nil {
		t.Fatal(err)
	}
	pl := &Planner{Src: newFixtureSources(t), Features: feature.NewFakeFeatures(allFeatures...)}
	plan, err := pl.Plan(h)
	if err != nil {
		t.Fatal(err)
	}
	if plan.Layouts != nil {
		t.Errorf("funccount plans carry no contexts")
	}
	groups := plan.CountGroups()
	if len(groups) != 2 || groups[0].Kind != compile.SyscallEnter || groups[1].Kind != compile.SyscallExit {
		t.Fatalf("groups %+v", groups)
	}
	if n := groups[0].Targets[0]; n.Name != "syscalls:sys_enter_read" || n.Syscall != 0 {
		t.Errorf("enter target %+v", n)
	}
	// USDT through the shared lookup: every site of the probe.
	p, _ = specparse.ParsePattern("u:usdt_two_sites:two_sites", false)
	if h, err = HeadOfPattern(p); err != nil {
		t.Fatal(err)
	}
	if plan, err = pl.Plan(h); err != nil {
		t.Fatal(err)
	}
	if len(plan.Targets) != 2 {
		t.Errorf("USDT sites: %+v", plan.Targets)
	}
}

// A spec that checks against one layout of a wildcard but not another
// fails with an error naming a target of the layout it does not fit, at
// the offending expression.
func TestPlanLayoutErrorNamesTarget(t *testing.T) {
	spec := `t:sched:sched_process_e* "%s", args->comm`
	plan := mustPlan(t, spec)
	p, _ := specparse.ParseTrace(spec)
	var err error
	for l, c := range plan.Layouts {
		pc, perr := c.Probe(compile.ModeTracepoint)
		if perr != nil {
			t.Fatal(perr)
		}
		if _, cerr := compile.CheckTrace(p, pc, compile.CheckOptions{}); cerr != nil {
			err = layoutErr(spec, plan, l, compile.ModeTracepoint, cerr)
		}
	}
	var se *specparse.Error
	if !errors.As(err, &se) {
		t.Fatalf("want a positioned error, have %v", err)
	}
	if !strings.HasPrefix(se.Msg, "at sched:sched_process_exec: ") || spec[se.Pos:se.End] != "comm" {
		t.Errorf("error %q at %q, want it to name sched:sched_process_exec and point at comm", se.Msg, spec[se.Pos:se.End])
	}
}
