package compile

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	ebtf "github.com/cilium/ebpf/btf"

	"github.com/btool/btool/specparse"
)

// typeWant is what the checker must find for one expression: its C type,
// address space, constness and string-ness.
type typeWant struct {
	typ    string
	space  AddrSpace
	str    bool
	konst  bool
	value  int64
	filter bool // the predicate rather than an argument
}

func (w typeWant) String() string {
	s := fmt.Sprintf("%s space=%s", w.typ, w.space)
	if w.str {
		s += " string"
	}
	if w.konst {
		s += fmt.Sprintf(" const=%d", w.value)
	}
	return s
}

func infoString(ti TypeInfo) string {
	return typeWant{typ: cType(ti.Type), space: ti.Space, str: ti.String, konst: ti.Const, value: ti.Value}.String()
}

// TestCheckTypes checks the type, address space and string-ness the
// checker gives each printf argument (and the predicate) in kprobe,
// kretprobe, fentry, tracepoint and uprobe contexts.
func TestCheckTypes(t *testing.T) {
	k, kr, fe, tp, up := kprobeCtx(t), kretprobeCtx(t), fentryCtx(t), tracepointCtx(t), uprobeCtx(t)
	noKernel := kprobeCtx(t)
	noKernel.Kernel = nil
	untypedUprobe, untypedKprobe := untypedCtx(true), untypedCtx(false)
	for _, tc := range []struct {
		name string
		pc   *ProbeContext
		have string
		want []typeWant
	}{
		{"member chain", k, `vfs_read "%s", file->f_path.dentry->d_name.name`, []typeWant{
			{typ: "const unsigned char *", space: SpaceKernel, str: true}}},
		{"anonymous members", k, `vfs_read "%u %llu", file->f_path.dentry->d_name.len, file->f_path.dentry->d_name.hash_len`, []typeWant{
			{typ: "u32", space: SpaceKernel}, {typ: "u64", space: SpaceKernel}}},
		{"struct member", k, `vfs_read "%p", &file->f_path`, []typeWant{{typ: "struct path *", space: SpaceKernel}}},
		{"__user tag", k, `vfs_read "%s %s", buf, name`, []typeWant{
			{typ: "const char __user *", space: SpaceUser, str: true}, {typ: "const char *", space: SpaceKernel, str: true}}},
		{"@user", k, `vfs_read "%s %d", name@user, file@user->f_count`, []typeWant{
			{typ: "const char *", space: SpaceUser, str: true}, {typ: "int", space: SpaceUser}}},
		{"tagged member", k, `vfs_read "%s", file->f_ubuf`, []typeWant{{typ: "const char __user *", space: SpaceUser, str: true}}},
		{"untyped user args are strings", untypedUprobe, `r:/bin/x:f "%s %s %s", retval, arg1, arg2`, []typeWant{
			{typ: "u64", space: SpaceUser, str: true}, {typ: "long unsigned int", space: SpaceUser, str: true}, {typ: "u64", space: SpaceUser, str: true}}},
		{"untyped kernel args are strings", untypedKprobe, `vfs_read "%s", arg1`, []typeWant{{typ: "long unsigned int", space: SpaceKernel, str: true}}},
		{"integers", k, `vfs_read "%d %d %d %d", count, flags, count + flags, (char)1 + (short)2`, []typeWant{
			{typ: "size_t"}, {typ: "int"}, {typ: "long unsigned int"}, {typ: "int", konst: true, value: 3}}},
		{"usual conversions", k, `vfs_read "%d %d %d %d", flags + 1u, flags + 1l, (u32)flags + 1l, (u64)flags < 1`, []typeWant{
			{typ: "unsigned int"}, {typ: "long int"}, {typ: "long int"}, {typ: "int"}}},
		{"literals", k, `vfs_read "%d %d %d %d %d", 0x7fffffff, 0x80000000, 2147483648, 1ull, 'a'`, []typeWant{
			{typ: "int", konst: true, value: 0x7fffffff}, {typ: "unsigned int", konst: true, value: 0x80000000},
			{typ: "long int", konst: true, value: 2147483648}, {typ: "long unsigned int", konst: true, value: 1},
			{typ: "int", konst: true, value: 'a'}}},
		{"constant folding", k, `vfs_read "%d %d %d %d", 1 + 2 * 3, -1 >> 1, (u8)300, 7 / 0`, []typeWant{
			{typ: "int", konst: true, value: 7}, {typ: "int", konst: true, value: -1},
			{typ: "u8", konst: true, value: 44}, {typ: "int", konst: true, value: 0}}},
		{"casts", k, `vfs_read "%d %p %p", (u32)count, (struct file *)count, (const char __user *)count`, []typeWant{
			{typ: "u32"}, {typ: "struct file *", space: SpaceKernel}, {typ: "const char *", space: SpaceUser, str: true}}},
		{"ctx registers", k, `vfs_read "%lx %lx %lx", ctx->di, ctx->rdi, ctx->orig_ax`, []typeWant{
			{typ: "long unsigned int"}, {typ: "long unsigned int"}, {typ: "long unsigned int"}}},
		{"specials", k, `vfs_read "%d %d %d %d %d %p %s", $pid, $tgid, $uid, $gid, $cpu, $task, $comm`, []typeWant{
			{typ: "unsigned int"}, {typ: "unsigned int"}, {typ: "unsigned int"}, {typ: "unsigned int"}, {typ: "unsigned int"},
			{typ: "struct task_struct *", space: SpaceKernel}, {typ: "char[16]", space: SpaceKernel, str: true}}},
		{"$task members", k, `vfs_read "%d %s", $task->tgid, $task->comm`, []typeWant{
			{typ: "int", space: SpaceKernel}, {typ: "char[16]", space: SpaceKernel, str: true}}},
		{"enumerators", k, `vfs_read "%d %d", ST_RUN, ST_NEG`, []typeWant{
			{typ: "int", konst: true, value: 1}, {typ: "int", konst: true, value: -1}}},
		{"pointer arithmetic", k, `vfs_read "%p %d %ld", pos + 1, *pos, &file->f_pos - &file->f_pos`, []typeWant{
			{typ: "long int *", space: SpaceKernel}, {typ: "long int", space: SpaceKernel}, {typ: "long int"}}},
		{"address of", k, `vfs_read "%p", &file->f_pos`, []typeWant{{typ: "long long int *", space: SpaceKernel}}},
		{"comparisons", k, `vfs_read (name == "x" && STRCMP("y", buf)) "%d %d", file != 0, !file`, []typeWant{
			{typ: "int", filter: true}, {typ: "int"}, {typ: "int"}}},
		{"ternary", k, `vfs_read "%d %p", flags ? count : flags, flags ? name : 0`, []typeWant{
			{typ: "long unsigned int"}, {typ: "const char *", space: SpaceKernel, str: true}}},
		{"retval", kr, `r::vfs_read (retval < 0) "%ld %ld", retval, $retval`, []typeWant{
			{typ: "int", filter: true}, {typ: "ssize_t"}, {typ: "ssize_t"}}},
		{"fentry", fe, `vfs_read "%u %s", file->f_mode, buf`, []typeWant{
			{typ: "unsigned int", space: SpaceKernel}, {typ: "const char __user *", space: SpaceUser, str: true}}},
		{"tracepoint fields", tp, `t:syscalls:sys_enter_read "%d %s %s %d %s", args->fd, args->buf, args->filename, args->delta, args->comm`, []typeWant{
			{typ: "long unsigned int"}, {typ: "char *", space: SpaceUser, str: true}, {typ: "char[0]", space: SpaceKernel, str: true},
			{typ: "short int"}, {typ: "char[16]", space: SpaceKernel, str: true}}},
		{"uprobe user memory", up, `p:/bin/x:f "%s %s %d %d %u", s->tag, msg, s->vals[1], s->st, s->a`, []typeWant{
			{typ: "char[8]", space: SpaceUser, str: true}, {typ: "const char *", space: SpaceUser, str: true},
			{typ: "short int", space: SpaceUser}, {typ: "enum state", space: SpaceUser}, {typ: "unsigned int", space: SpaceUser}}},
		{"uprobe pointer loaded from user memory", up, `p:/bin/x:f "%s", file->f_path.dentry->d_name.name`, []typeWant{
			{typ: "const unsigned char *", space: SpaceUser, str: true}}},
		{"no kernel BTF, no $task needed", noKernel, `vfs_read "%d", $pid`, []typeWant{{typ: "unsigned int"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := mustParse(t, tc.have)
			ct, err := CheckTrace(p, tc.pc, CheckOptions{})
			if err != nil {
				t.Fatalf("%s:\n%s", tc.have, specparse.Caret(tc.have, err))
			}
			args := p.Args
			if p.Filter != nil {
				args = append([]specparse.Expr{p.Filter}, args...)
			}
			if len(args) != len(tc.want) {
				t.Fatalf("%d expressions, %d wants", len(args), len(tc.want))
			}
			for i, w := range tc.want {
				ti, ok := ct.Types[args[i]]
				if !ok {
					t.Errorf("%s: not recorded", specparse.ExprString(args[i]))
					continue
				}
				w.filter = false
				if got := infoString(ti); got != w.String() {
					t.Errorf("%s:\n got %s\nwant %s", specparse.ExprString(args[i]), got, w)
				}
			}
		})
	}
}

// TestCheckLayout checks record layouts: 8-byte fields aligned, chars one
// byte, strings StringSize+1 bytes, the size a multiple of 8.
func TestCheckLayout(t *testing.T) {
	for _, tc := range []struct {
		have string
		ss   int
		want string
		size int
	}{
		{`vfs_read "%d %c %s %llx", flags, flags, name, count`, 0,
			"64:8:int:%d:flags 72:1:char:%c:flags 73:81:str:%s:name 160:8:uint:%llx:count", 168},
		{`vfs_read "%p %K %U %hu %lu %i %X", name, name, name, flags, flags, flags, flags`, 16,
			"64:8:addr:%p:name 72:8:addr:%K:name 80:8:addr:%U:name 88:8:uint:%hu:flags 96:8:uint:%lu:flags 104:8:int:%i:flags 112:8:uint:%X:flags", 120},
		{`vfs_read "%s%s", $comm, file->f_path.dentry->d_name.name`, 7,
			"64:8:str:%s:$comm 72:8:str:%s:file->f_path.dentry->d_name.name", 80},
		{`vfs_read "%%d %-5d|%08x", flags, count`, 0, "64:8:int:%-5d:flags 72:8:uint:%08x:count", 80},
		{`vfs_read`, 0, "", 64},
	} {
		t.Run(tc.have, func(t *testing.T) {
			ct, err := CheckTrace(mustParse(t, tc.have), kprobeCtx(t), CheckOptions{StringSize: tc.ss})
			if err != nil {
				t.Fatal(err)
			}
			l := ct.Layout()
			var parts []string
			kinds := map[FieldKind]string{FieldInt: "int", FieldUint: "uint", FieldStr: "str", FieldChar: "char", FieldAddr: "addr"}
			for _, f := range l.Fields {
				parts = append(parts, fmt.Sprintf("%d:%d:%s:%s:%s", f.Offset, f.Size, kinds[f.Kind], f.Verb.Text, f.Expr))
			}
			if got := strings.Join(parts, " "); got != tc.want || l.Size != tc.size {
				t.Errorf("got  %s size %d\nwant %s size %d", got, l.Size, tc.want, tc.size)
			}
		})
	}
}

// errWant is one expected error: its message and the text it underlines
// (the n-th occurrence in the spec, n counting from 0).
type errWant struct {
	at  string
	n   int
	msg string
}

// TestCheckErrors checks messages and positions of checker errors, and
// that all errors of a probe are reported.
func TestCheckErrors(t *testing.T) {
	k, kr, fe, tp := kprobeCtx(t), kretprobeCtx(t), fentryCtx(t), tracepointCtx(t)
	noKernel := kprobeCtx(t)
	noKernel.Kernel = nil
	pe := perfEventCtx(t)
	for _, tc := range []struct {
		pc   *ProbeContext
		have string
		want []errWant
	}{
		{k, `vfs_read "%d", file->f_path.dentry->d_nam.len`, []errWant{{"d_nam", 0, "struct dentry has no member 'd_nam'; did you mean d_name?"}}},
		{k, `vfs_read "%d", file->f_path.dentry->d_name.lne`, []errWant{{"lne", 0, "struct qstr has no member 'lne'; did you mean len?"}}},
		{k, `vfs_read "%d", file->mode`, []errWant{{"mode", 0, "struct file has no member 'mode'; did you mean f_mode?"}}},
		{k, `vfs_read "%d", file->xyzzy`, []errWant{{"xyzzy", 0, "struct file has no member 'xyzzy'"}}},
		{k, `vfs_read "%d", cnt`, []errWant{{"cnt", 0, "unknown name 'cnt'; did you mean count?"}}},
		{k, `vfs_read "%d", pid`, []errWant{{"pid", 0, "unknown name 'pid'; did you mean $pid?"}}},
		{k, `vfs_read "%d", retval`, []errWant{{"retval", 0, "retval is only valid in return probes (r:)"}}},
		{k, `vfs_read "%d", $retval`, []errWant{{"$retval", 0, "$retval is only valid in return probes (r:)"}}},
		{k, `vfs_read "%s", flags`, []errWant{{"flags", 0, "%s needs a string (char *, char array or $comm), have int"}}},
		{kr, `r::vfs_read "%s", retval`, []errWant{{"retval", 0, "%s needs a string (char *, char array or $comm), have ssize_t"}}},
		{untypedCtx(true), `p:/bin/x:f "%s", arg3`, []errWant{{"arg3", 0, "%s needs a string (char *, char array or $comm), have int"}}},
		{untypedCtx(true), `p:/bin/x:f "%s", arg4`, []errWant{{"arg4", 0, "%s needs a string (char *, char array or $comm), have u64"}}},
		{k, `vfs_read "%s", file->f_path`, []errWant{{"file->f_path", 0, "%s needs a string (char *, char array or $comm), have struct path"}}},
		{k, `vfs_read "%d", file->f_path`, []errWant{{"file->f_path", 0, "%d needs an integer or pointer, have struct path"}}},
		{k, `vfs_read "%d", $comm`, []errWant{{"$comm", 0, "%d needs an integer or pointer, have char[16]"}}},
		{k, `vfs_read "%d %s", flags`, []errWant{{"%s", 0, "no argument for %s"}}},
		{k, `vfs_read "%d %s %-4u"`, []errWant{{"%d", 0, "no argument for %d"}, {"%s", 0, "no argument for %s"}, {"%-4u", 0, "no argument for %-4u"}}},
		{k, `vfs_read "%d", flags, count, name`, []errWant{
			{"count", 0, "extra argument: the format string takes 1 argument"},
			{"name", 0, "extra argument: the format string takes 1 argument"}}},
		{k, `vfs_read "%%", flags`, []errWant{{"flags", 0, "extra argument: the format string takes 0 arguments"}}},
		{k, `vfs_read "%d", (struct nosuch *)file`, []errWant{{"struct nosuch *", 0, "unknown type 'struct nosuch'"}}},
		{k, `vfs_read "%d", (struct file)flags`, []errWant{{"struct file", 0, "cannot cast to struct file: only integer, enum and pointer types"}}},
		{k, `vfs_read "%d", arg7`, []errWant{{"arg7", 0, "arg7: probe has 6 arguments"}}},
		{kr, `r::vfs_read "%d", arg9`, []errWant{{"arg9", 0, "arg9: probe has 6 arguments"}}},
		{k, `vfs_read (cnt > 0) "%d %s", retval, flags`, []errWant{
			{"cnt", 0, "unknown name 'cnt'; did you mean count?"},
			{"retval", 0, "retval is only valid in return probes (r:)"},
			{"flags", 0, "%s needs a string (char *, char array or $comm), have int"}}},
		{k, `vfs_read "%d", $latency`, []errWant{{"$latency", 0, "$latency is only valid in argdist"}}},
		{k, `vfs_read "%d", $entry(count)`, []errWant{{"$entry", 0, "$entry() is only valid in argdist"}}},
		{k, `vfs_read "%d", file.f_mode`, []errWant{{"file.f_mode", 0, "file is a pointer; use -> to access member f_mode"}}},
		{k, `vfs_read "%d", file->f_path->dentry`, []errWant{{"file->f_path->dentry", 0, "file->f_path is a struct path, not a pointer; use . to access member dentry"}}},
		{k, `vfs_read "%d", flags->x`, []errWant{{"flags->x", 0, "-> needs a pointer to a struct or union, have int"}}},
		{fe, `vfs_read "%d", ctx->di`, []errWant{{"ctx", 0, "ctx->register is only valid in kprobes, uprobes and perf events"}}},
		{k, `vfs_read "%d", ctx->dq`, []errWant{{"dq", 0, "unknown register 'dq' in struct pt_regs; did you mean di or dx?"}}},
		{k, `vfs_read "%d", ctx`, []errWant{{"ctx", 0, "ctx is only usable as ctx->register"}}},
		{k, `vfs_read "%d", args->count`, []errWant{{"args", 0, "args->field is only valid in tracepoints (t:)"}}},
		{tp, `t:syscalls:sys_enter_read "%d", args->cont`, []errWant{{"cont", 0, "the tracepoint has no field 'cont'; did you mean count?"}}},
		{tp, `t:syscalls:sys_enter_read "%d", count`, []errWant{{"count", 0, "unknown name 'count'; did you mean args->count?"}}},
		{tp, `t:syscalls:sys_enter_read "%d", args->filename + 1`, []errWant{{"args->filename", 0, "args->filename can only be used as a string (with %s, == or != against a string literal, or STRCMP)"}}},
		{k, `vfs_read (STRCMP("a", flags)) "%d", 1`, []errWant{{"flags", 0, "cannot compare int with a string literal (need char *, a char array or $comm)"}}},
		{k, `vfs_read (STRCMP(name, buf)) "%d", 1`, []errWant{{`STRCMP(name, buf)`, 0, "STRCMP needs a string literal argument"}}},
		{k, `vfs_read (name < "a") "%d", 1`, []errWant{{`name < "a"`, 0, "a string literal can only be compared with == or !="}}},
		{k, `vfs_read "%d", "x"`, []errWant{{`"x"`, 0, "a string literal is only valid as the format, in == and != comparisons and in STRCMP"}}},
		{k, `vfs_read "%d", $task->comm[16]`, []errWant{{"16", 0, "index 16 out of range for char[16]"}}},
		{k, `vfs_read "%d", *file->f_path.mnt`, []errWant{{"*file->f_path.mnt", 0, "cannot dereference void *"}}},
		{k, `vfs_read "%p", &flags`, []errWant{{"&flags", 0, "cannot take the address of flags"}}},
		{k, `vfs_read "%d", foo(1)`, []errWant{{"foo", 0, "unknown function 'foo' (only STRCMP is supported)"}}},
		{noKernel, `vfs_read "%d", $task->pid`, []errWant{{"$task", 0, "$task needs kernel BTF (struct task_struct)"}}},
		{k, `vfs_read (file->f_path) "%d", 1`, []errWant{{"file->f_path", 0, "file->f_path is a struct path, not a value (use . or -> to read a member)"}}},
		{k, `vfs_read "%d", file * 2`, []errWant{{"file * 2", 0, "invalid operands to * (have struct file * and int)"}}},
		{k, `vfs_read "%d", flags[1]`, []errWant{{"flags", 0, "subscripted value is not an array or pointer (have int)"}}},
		{k, `vfs_read "%d", -file`, []errWant{{"-file", 0, "invalid operand to unary - (have struct file *)"}}},
		{pe, `f "%d", arg1`, []errWant{{"arg1", 0, "arg1 is unavailable: a perf event interrupts a task anywhere, not a function; use $pid, $tgid, $comm, $cpu, $uid or ctx->ip"}}},
		{pe, `f "%d", $retval`, []errWant{{"$retval", 0, "$retval is only valid in return probes (r:)"}}},
		{pe, `f "%d", args->count`, []errWant{{"args", 0, "args->field is only valid in tracepoints (t:)"}}},
		{k, `vfs_read "%d %d", nosuch1, file->nosuch2`, []errWant{
			{"nosuch1", 0, "unknown name 'nosuch1'"}, {"nosuch2", 0, "struct file has no member 'nosuch2'"}}},
	} {
		t.Run(tc.have, func(t *testing.T) {
			ct, err := CheckTrace(mustParse(t, tc.have), tc.pc, CheckOptions{})
			if err == nil {
				t.Fatalf("no error; types %v", ct.Types)
			}
			var list specparse.ErrorList
			if !errors.As(err, &list) {
				t.Fatalf("error %T %v is not an ErrorList", err, err)
			}
			if !errors.Is(err, specparse.ErrSyntax) {
				t.Errorf("error does not match specparse.ErrSyntax")
			}
			var got, want []string
			for _, e := range list {
				got = append(got, fmt.Sprintf("%d-%d %s", e.Pos, e.End, e.Msg))
			}
			for _, w := range tc.want {
				pos := nthIndex(tc.have, w.at, w.n)
				if pos < 0 {
					t.Fatalf("bad test: %q (#%d) not in %q", w.at, w.n, tc.have)
				}
				want = append(want, fmt.Sprintf("%d-%d %s", pos, pos+len(w.at), w.msg))
			}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("got\n%s\nwant\n%s\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"), specparse.Caret(tc.have, err))
			}
		})
	}
}

func nthIndex(s, sub string, n int) int {
	off := 0
	for i := 0; ; i++ {
		j := strings.Index(s[off:], sub)
		if j < 0 {
			return -1
		}
		if i == n {
			return off + j
		}
		off += j + len(sub)
	}
}

// TestCheckBadOptions checks argument validation.
func TestCheckBadOptions(t *testing.T) {
	p := mustParse(t, `vfs_read "%d", flags`)
	if _, err := CheckTrace(p, nil, CheckOptions{}); err == nil {
		t.Error("nil context accepted")
	}
	if _, err := CheckTrace(p, kprobeCtx(t), CheckOptions{StringSize: -1}); err == nil {
		t.Error("negative string size accepted")
	}
	if _, err := CheckTrace(p, kprobeCtx(t), CheckOptions{StringSize: 1 << 20}); err == nil {
		t.Error("huge string size accepted")
	}
}

// TestCheckDoesNotMutate checks that the AST prints the same before and
// after checking.
func TestCheckDoesNotMutate(t *testing.T) {
	spec := `vfs_read (file->f_count > 0 && STRCMP("x", name)) "%d %s", (int)count + 1, file->f_path.dentry->d_name.name`
	p := mustParse(t, spec)
	before := p.String()
	if _, err := CheckTrace(p, kprobeCtx(t), CheckOptions{}); err != nil {
		t.Fatal(err)
	}
	if after := p.String(); after != before {
		t.Errorf("AST changed:\n%s\n%s", before, after)
	}
}

// untypedCtx is a probe whose function has no type information (no DWARF,
// no BTF): padded nil-typed arguments and UntypedU64 as the return type,
// as multitool builds it, plus a typed int (arg3) and a u64 typedef
// (arg4), which stay integers for %s.
func untypedCtx(user bool) *ProbeContext {
	params := []ParamType{{}, {Type: UntypedU64}, {Name: "n", Type: tyInt}, {Type: &ebtf.Typedef{Name: "u64", Type: btfULongLong}}, {}, {}}
	if !user {
		return &ProbeContext{Mode: ModeKprobe, Args: RegArgs(params, false), Regs: true, Return: true, Ret: RetReg(UntypedU64)}
	}
	pc := &ProbeContext{Mode: ModeUprobe, Args: RegArgs(params, true), Regs: true, UserMemory: true, Return: true, Ret: RetReg(UntypedU64)}
	pc.Ret.User = true
	return pc
}
