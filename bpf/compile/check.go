package compile

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	ebtf "github.com/cilium/ebpf/btf"

	"github.com/btool/btool/specparse"
)

// The trace expression language, as CheckTrace types it and CompileTrace
// generates it:
//
// Names. arg1..argN are pc.Args in order and parameters are found by name;
// retval and $retval only in return probes; args->field in tracepoints;
// ctx->reg (x86_64 struct pt_regs: di, rdi, ax, orig_ax, ...) in kprobes
// and uprobes. $pid is the thread id (the low half of pid_tgid, as in
// bcc), $tgid the process id, $uid, $gid, $cpu; $task is the current
// struct task_struct * (kernel BTF needed); $comm the current comm, usable
// only as a string. Enumerators resolve through a TypeSource with an
// EnumValue method.
//
// Types and arithmetic. An argument without a type is an integer of its
// size. C's integer promotions and usual arithmetic conversions apply and
// every result is truncated to its C type, so int arithmetic wraps at 32
// bits and unsigned int compares are unsigned. Pointer arithmetic scales by
// the pointee's size (void * by 1). Where C leaves behaviour undefined the
// generated code follows BPF: x/0 is 0, x%0 is x, shift counts are taken
// modulo 64. Signed division is emulated with unsigned division (no cpu v4
// needed).
//
// Memory. Every dereference (->, *, [], a member of a struct in memory) is
// a bpf_probe_read_kernel or bpf_probe_read_user, chosen by the address
// space of the pointer: probe arguments point to user memory when the
// argument or context says so (Arg.User, ProbeContext.UserMemory), a
// pointer annotated @user or whose BTF type carries the "user" type tag
// points to user memory, and a pointer loaded from memory points into the
// same space as the memory it was loaded from. A failed read yields 0 (or
// a string marked as a fault). __be16/32/64 values are byte-swapped after
// loading; bitfields are extracted and sign-extended when signed. A char *
// string in kernel space is the exception: it is read from user or kernel
// memory by its address at run time (the __user tag is missing from the
// BTF of kernels built without type tags).
//
// Strings. char pointers, char arrays, $comm and __data_loc char[] fields
// are strings: they print with %s (at most StringSize bytes, with a status
// byte: read, truncated, fault or NULL) and compare with string literals
// using == and != or STRCMP("lit", s) (either order). Unlike bcc, whose
// STRCMP is a prefix match, the comparison is exact: "test" does not equal
// "test.txt", and $comm == "cat" does not match "catalina". A char array
// equals a literal when its bytes up to the first NUL (or all of them) are
// the literal. The kernel keeps 15 characters of a task's name, so $comm
// compares with the first 15 bytes of a longer literal.//
// Untyped arguments (no BTF or DWARF: Arg.Type nil, or the bare u64 of
// UntypedU64) print with %s as the string they point to, as bcc does.

//
// printf. As in bcc, an argument is converted to the verb's C type before
// it is stored (%d to int, %u and %x to unsigned int, %ld to long, %llx to
// unsigned long long, %hd to short, %c to char; %p %K %U to unsigned long
// long), so records hold 8-byte sign- or zero-extended integers, one byte
// for %c and a string buffer for %s.

// DefaultStringSize is the number of bytes captured for %s arguments when
// CheckOptions.StringSize is 0, as in bcc's trace.
const DefaultStringSize = 80

// maxStringSize bounds CheckOptions.StringSize so records stay far below
// the ring buffer's limits.
const maxStringSize = 4096

// TypeInfo is what CheckTrace found out about one expression.
type TypeInfo struct {
	// Type is the expression's C type, typedef names kept. For member
	// and index expressions it is the type of the object named (an
	// array or struct type for aggregates).
	Type ebtf.Type
	// Space is, for pointers, the memory they point into; for other
	// objects (members, array elements, strings) the memory they live
	// in; SpaceNone for other values.
	Space AddrSpace
	// Const says the value is a compile-time constant, Value.
	Const bool
	Value int64
	// String says the expression can be printed with %s and compared
	// with string literals.
	String bool
}

// CheckedTrace is a probe typed against its ProbeContext, ready for
// CompileTrace. It does not modify the probe's AST; what CheckTrace learnt
// is kept in side tables.
type CheckedTrace struct {
	Probe   *specparse.Probe
	Context *ProbeContext
	// Types records every expression of the filter and the arguments
	// that checked, keyed by AST node.
	Types map[specparse.Expr]TypeInfo
	// StringSize is the number of string bytes captured for %s.
	StringSize int

	filter irNode // nil: no predicate
	fields []traceField
	layout EventLayout
}

// traceField is one printf argument: the value (or string) to store and
// where.
type traceField struct {
	FieldLayout
	val irNode     // FieldInt, FieldUint, FieldChar, FieldAddr: already converted to the verb's type
	str *strSource // FieldStr
}

// ReadsUserStrings reports whether the probe prints a string from user
// memory (%s of a user char pointer, char array or Go string): what a
// sleepable program reads better (see Build.Sleepable).
func (ct *CheckedTrace) ReadsUserStrings() bool {
	for _, f := range ct.fields {
		if f.Kind == FieldStr && f.str != nil && (f.str.kind == strGo || (f.str.kind == strPtr || f.str.kind == strArray) && f.str.space == SpaceUser) {
			return true
		}
	}
	return false
}

// Layout returns the layout of the records the probe's program emits.
func (ct *CheckedTrace) Layout() *EventLayout {
	l := ct.layout
	l.Fields = append([]FieldLayout(nil), ct.layout.Fields...)
	return &l
}

// CheckTrace types p's filter and printf arguments against pc: it resolves
// names (argN, parameters, retval, args->field, ctx->reg, $pid and the
// other specials, enumerators), walks member chains through BTF, applies
// C's conversions, tracks which address space every pointer points into,
// and matches arguments to the format's verbs.
//
// Every error is a *specparse.Error at the offending node, all of them
// collected into a specparse.ErrorList (unknown names and members suggest
// the closest ones). It needs no kernel.
func CheckTrace(p *specparse.Probe, pc *ProbeContext, o CheckOptions) (*CheckedTrace, error) {
	if p == nil || pc == nil {
		return nil, fmt.Errorf("check trace: nil probe or context")
	}
	ss := o.StringSize
	if ss == 0 {
		ss = DefaultStringSize
	}
	if ss < 1 || ss > maxStringSize {
		return nil, fmt.Errorf("string size %d out of range 1..%d", o.StringSize, maxStringSize)
	}
	c := &checker{pc: pc, types: map[specparse.Expr]TypeInfo{}}
	ct := &CheckedTrace{Probe: p, Context: pc, Types: c.types, StringSize: ss}
	if p.Filter != nil {
		ct.filter = c.condition(p.Filter)
	}
	c.printf(ct, p)
	if len(c.errs) > 0 {
		c.errs.Sort()
		return nil, c.errs
	}
	return ct, nil
}

// checker holds the state of one CheckTrace.
type checker struct {
	pc    *ProbeContext
	errs  specparse.ErrorList
	types map[specparse.Expr]TypeInfo
	stash *Stash // CheckValues, CheckFilter: $latency and $entry(x) read it
	// argdist: $PID and $COMM (ValueOptions.Argdist)
	argdist bool
}

func (c *checker) errorf(pos, end specparse.Pos, format string, args ...any) {
	c.errs.Add(pos, end, fmt.Sprintf(format, args...))
}

func (c *checker) errAt(e specparse.Expr, format string, args ...any) {
	c.errorf(e.Pos(), e.End(), format, args...)
}

// opKind is the kind of an operand.
type opKind uint8

const (
	opInvalid opKind = iota // an error was reported
	opValue                 // a scalar in a register: node
	opLvalue                // an object in memory at address node
	opString                // usable only as a string: $comm, __data_loc fields
	opCtx                   // the name ctx (only ctx->reg is valid)
	opArgs                  // the name args (only args->field is valid)
)

// operand is the checker's view of an expression.
type operand struct {
	kind          opKind
	typ           ebtf.Type
	space         AddrSpace // see TypeInfo.Space; for scalar values where a pointer made from it points
	node          irNode    // opValue: the value; opLvalue: the address
	bitOff, bitSz int
	str           *strSource // opString
	// untyped says the value is a probe argument whose type nobody knows
	// (see IsUntyped): it may be a char *, so %s reads a string from it.
	untyped bool
}

var invalid = operand{}

func (op operand) ok() bool { return op.kind != opInvalid }

// condition checks a predicate: any scalar or string comparison.
func (c *checker) condition(e specparse.Expr) irNode {
	op := c.rvalue(e, c.expr(e))
	if !op.ok() {
		return nil
	}
	if _, ok := scalarInfo(op.typ); !ok {
		c.errAt(e, "the predicate must be a number or pointer, have %s", cType(op.typ))
		return nil
	}
	return op.node
}

// printf checks the format and its arguments and lays out the record.
func (c *checker) printf(ct *CheckedTrace, p *specparse.Probe) {
	ct.layout.Size = HdrSize
	off := HdrSize
	if p.Format == nil {
		for _, a := range p.Args {
			c.errAt(a, "argument without a format string")
		}
		return
	}
	verbs, err := p.Format.Verbs()
	if err != nil {
		if list, ok := err.(specparse.ErrorList); ok {
			c.errs = append(c.errs, list...)
		} else {
			c.errAt(p.Format, "%v", err)
		}
		return
	}
	var takes []specparse.Verb
	for _, v := range verbs {
		if v.TakesArg() {
			takes = append(takes, v)
		}
	}
	for i, v := range takes {
		if i >= len(p.Args) {
			c.errorf(v.Pos, v.End, "no argument for %s", v.Text)
		}
	}
	for i := len(takes); i < len(p.Args); i++ {
		c.errAt(p.Args[i], "extra argument: the format string takes %s", plural(len(takes), "argument"))
	}
	for i, a := range p.Args {
		if i >= len(takes) {
			c.expr(a) // still report errors inside
			continue
		}
		v := takes[i]
		f := traceField{FieldLayout: FieldLayout{Verb: v, Expr: specparse.ExprString(a)}}
		if v.Conv == "s" {
			op := c.expr(a)
			if !op.ok() {
				continue
			}
			src, ok := c.asString(a, op)
			if !ok {
				c.errAt(a, "%s needs a string (char *, char array or $comm), have %s", v.Text, describe(op))
				continue
			}
			f.Kind, f.Size, f.str = FieldStr, ct.StringSize+1, src
		} else {
			op := c.expr(a)
			if op.kind == opString || (op.kind == opLvalue && isComposite(op.typ)) {
				c.errAt(a, "%s needs an integer or pointer, have %s", v.Text, describe(op))
				continue
			}
			op = c.rvalue(a, op)
			if !op.ok() {
				continue
			}
			if _, ok := scalarInfo(op.typ); !ok {
				c.errAt(a, "%s needs an integer or pointer, have %s", v.Text, describe(op))
				continue
			}
			kind, t := verbType(v.Conv)
			f.Kind, f.Size, f.val = kind, 8, conv(op.node, t)
			if kind == FieldChar {
				f.Size = 1
			}
		}
		if f.Size == 8 {
			off = (off + 7) &^ 7
		}
		f.Offset = off
		off += f.Size
		ct.fields = append(ct.fields, f)
		ct.layout.Fields = append(ct.layout.Fields, f.FieldLayout)
	}
	ct.layout.Size = (off + 7) &^ 7
}

// verbType returns the record field kind of a printf conversion and the C
// type bcc converts the argument to before storing it.
func verbType(conv string) (FieldKind, intType) {
	switch conv {
	case "c":
		return FieldChar, tChar
	case "p", "K", "U":
		return FieldAddr, tULong
	}
	var t intType
	switch {
	case strings.HasPrefix(conv, "ll"), strings.HasPrefix(conv, "l"):
		t = intType{8, true}
	case strings.HasPrefix(conv, "h"):
		t = intType{2, true}
	default:
		t = intType{4, true}
	}
	switch conv[len(conv)-1] {
	case 'u', 'x', 'X':
		t.signed = false
		return FieldUint, t
	}
	return FieldInt, t
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// describe names an operand's type for messages.
func describe(op operand) string {
	switch op.kind {
	case opCtx:
		return "ctx"
	case opArgs:
		return "args"
	}
	return cType(op.typ)
}

// record stores what is known about e in the side table.
func (c *checker) record(e specparse.Expr, op operand) {
	ti := TypeInfo{Type: op.typ}
	if op.kind == opLvalue || op.kind == opString || isPointer(op.typ) || op.untyped {
		ti.Space = op.space
		if op.kind == opLvalue && isPointer(op.typ) && userTagged(pointee(op.typ)) {
			ti.Space = SpaceUser
		}
	}
	if op.kind == opValue {
		if v, ok := isConst(op.node); ok {
			ti.Const, ti.Value = true, int64(v)
		}
	}
	ti.String = stringy(op)
	c.types[e] = ti
}

// stringy reports whether asString accepts op.
func stringy(op operand) bool {
	switch op.kind {
	case opString:
		return true
	case opLvalue, opValue:
		if a, ok := underlying(op.typ).(*ebtf.Array); ok && op.kind == opLvalue {
			return isCharType(a.Type)
		}
		return (isPointer(op.typ) && isCharType(pointee(op.typ))) || op.untyped
	}
	return false
}

// asString returns op (the operand of e) as a string source when it is
// one: char pointers, char arrays, $comm and __data_loc strings.
func (c *checker) asString(e specparse.Expr, op operand) (*strSource, bool) {
	if op.kind == opLvalue && isPointer(op.typ) {
		op = c.rvalue(e, op) // a char * member: load the pointer
	}
	switch op.kind {
	case opString:
		return op.str, true
	case opLvalue:
		if a, ok := underlying(op.typ).(*ebtf.Array); ok && isCharType(a.Type) {
			return &strSource{kind: strArray, addr: op.node, space: op.space, n: int(a.Nelems)}, true
		}
	case opValue:
		if (isPointer(op.typ) && isCharType(pointee(op.typ))) || op.untyped {
			return &strSource{kind: strPtr, addr: op.node, space: op.space}, true
		}
	}
	return nil, false
}

// UntypedU64 is the type to give a probe argument or return value whose
// type is unknown (no BTF or DWARF for it): an 8-byte integer that %s
// also accepts as a pointer to a string, as bcc does for readline's
// retval. A nil Arg.Type means the same.
var UntypedU64 ebtf.Type = &ebtf.Int{Name: "u64", Size: 8}

// IsUntyped reports whether t stands for an unknown type: nil,
// UntypedU64, or an integer of its shape (a bare "u64" Int, not a typedef:
// BTF and DWARF describe u64 and uint64_t as typedefs, so only btool's own
// defaults and signatures naming u64 look like this).
func IsUntyped(t ebtf.Type) bool {
	if t == nil || t == UntypedU64 {
		return true
	}
	i, ok := t.(*ebtf.Int)
	return ok && i.Name == "u64" && i.Size == 8 && i.Encoding == 0
}

// expr checks e and records its type.
func (c *checker) expr(e specparse.Expr) operand {
	op := c.expr1(e)
	if op.ok() {
		c.record(e, op)
	}
	return op
}

func (c *checker) expr1(e specparse.Expr) operand {
	switch n := e.(type) {
	case *specparse.Ident:
		return c.user(n.User, c.ident(n))
	case *specparse.IntLit:
		return c.intLit(n)
	case *specparse.CharLit:
		return constOp(btfInt, tInt, uint64(int64(int8(n.Value))))
	case *specparse.StringLit:
		c.errAt(n, "a string literal is only valid as the format, in == and != comparisons and in STRCMP")
		return invalid
	case *specparse.Unary:
		return c.unary(n)
	case *specparse.Binary:
		return c.binary(n)
	case *specparse.Cond:
		return c.cond(n)
	case *specparse.Cast:
		return c.cast(n)
	case *specparse.Member:
		return c.user(n.User, c.member(n))
	case *specparse.Index:
		return c.user(n.User, c.index(n))
	case *specparse.Call:
		return c.user(n.User, c.call(n))
	}
	c.errAt(e, "unsupported expression")
	return invalid
}

// user applies an @user annotation: the value points to (or the object
// lives in) user memory.
func (c *checker) user(user bool, op operand) operand {
	if !user || !op.ok() {
		return op
	}
	op.space = SpaceUser
	if op.str != nil {
		s := *op.str
		s.space = SpaceUser
		op.str = &s
	}
	return op
}

func constOp(t ebtf.Type, it intType, v uint64) operand {
	return operand{kind: opValue, typ: t, node: &irConst{t: it, v: it.normalize(v)}}
}

// defaultSpace is where a pointer made up from a constant or an
// untracked integer points.
func (c *checker) defaultSpace() AddrSpace {
	if c.pc.UserMemory {
		return SpaceUser
	}
	return SpaceKernel
}

// specials are the $names every probe has.
var specials = []string{"$pid", "$tgid", "$uid", "$gid", "$cpu", "$task", "$comm"}

func (c *checker) ident(n *specparse.Ident) operand {
	name := n.Name
	if c.argdist {
		switch name {
		case "$PID":
			name = "$tgid"
		case "$COMM":
			name = "$comm"
		}
	}
	switch name {
	case "$pid", "$tgid", "$uid", "$gid", "$cpu":
		return operand{kind: opValue, typ: btfUInt, space: c.defaultSpace(), node: &irSpecial{name: name, t: tUint}}
	case "$task":
		if c.pc.Kernel == nil {
			c.errAt(n, "$task needs kernel BTF (struct task_struct)")
			return invalid
		}
		t, err := c.pc.Kernel.Type("struct task_struct")
		if err != nil {
			c.errAt(n, "$task: %v", err)
			return invalid
		}
		return operand{kind: opValue, typ: &ebtf.Pointer{Target: t}, space: SpaceKernel, node: &irSpecial{name: name, t: tULong}}
	case "$comm":
		return operand{kind: opString, typ: &ebtf.Array{Type: btfChar, Nelems: 16, Index: btfUInt}, space: SpaceKernel, str: &strSource{kind: strComm, n: 16}}
	case "$latency":
		if c.stash != nil {
			return c.stashOperand(n)
		}
		c.errAt(n, "$latency is only valid in argdist")
		return invalid
	case "$entry":
		c.errAt(n, "$entry() is only valid in argdist")
		return invalid
	case "retval", "$retval":
		if !c.pc.Return {
			c.errAt(n, "%s is only valid in return probes (r:)", name)
			return invalid
		}
		if c.pc.Ret == nil {
			c.errAt(n, "%s is not available for this probe", name)
			return invalid
		}
		return c.argOperand(n, c.pc.Ret)
	case "ctx":
		if !c.pc.Regs {
			c.errAt(n, "ctx->register is only valid in kprobes, uprobes and perf events")
			return invalid
		}
		return operand{kind: opCtx}
	case "args":
		if c.pc.Fields == nil {
			c.errAt(n, "args->field is only valid in tracepoints (t:)")
			return invalid
		}
		return operand{kind: opArgs}
	}
	for i := range c.pc.Args {
		if c.pc.Args[i].Name == name {
			return c.argOperand(n, &c.pc.Args[i])
		}
	}
	if num, ok := argNumber(name); ok {
		if c.pc.Mode == ModePerfEvent && len(c.pc.Args) == 0 {
			c.errAt(n, "%s is unavailable: a perf event interrupts a task anywhere, not a function; use $pid, $tgid, $comm, $cpu, $uid or ctx->ip", name)
			return invalid
		}
		if num < 1 || num > len(c.pc.Args) {
			c.errAt(n, "%s: probe has %s", name, plural(len(c.pc.Args), "argument"))
			return invalid
		}
		return c.argOperand(n, &c.pc.Args[num-1])
	}
	for _, src := range []TypeSource{c.pc.Types, c.pc.Kernel} {
		if ev, ok := src.(interface {
			EnumValue(name string) (int64, bool)
		}); ok && src != nil {
			if v, ok := ev.EnumValue(name); ok {
				if v < math.MinInt32 || v > math.MaxInt32 {
					return constOp(btfLong, tLong, uint64(v))
				}
				return constOp(btfInt, tInt, uint64(v))
			}
		}
	}
	c.errAt(n, "unknown name '%s'%s", name, suggest(name, c.nameCandidates()))
	return invalid
}

// nameCandidates lists the names valid in this probe, for suggestions.
func (c *checker) nameCandidates() []candidate {
	var cands []candidate
	add := func(s string) { cands = append(cands, candidate{s, s}) }
	for _, a := range c.pc.Args {
		add(a.Name)
	}
	for i := range c.pc.Args {
		add(fmt.Sprintf("arg%d", i+1))
	}
	for _, s := range specials {
		add(s)
	}
	if c.pc.Return && c.pc.Ret != nil {
		add("retval")
	}
	if c.pc.Regs {
		add("ctx")
	}
	if c.pc.Fields != nil {
		add("args")
		for _, f := range c.pc.Fields {
			cands = append(cands, candidate{f.Name, "args->" + f.Name})
		}
	}
	return cands
}

// argNumber parses "argN".
func argNumber(name string) (int, bool) {
	rest, ok := strings.CutPrefix(name, "arg")
	if !ok || rest == "" || rest[0] == '0' {
		return 0, false
	}
	n, err := strconv.Atoi(rest)
	if err != nil {
		return 0, false
	}
	return n, true
}

// argOperand is the operand of a probe argument or tracepoint field.
func (c *checker) argOperand(at specparse.Expr, a *Arg) operand {
	t := a.Type
	if t == nil {
		t = synthInt(a.Size, a.Signed)
	}
	space := SpaceKernel
	if a.User || c.pc.UserMemory || userTagged(t) || (isPointer(t) && userTagged(pointee(t))) {
		space = SpaceUser
	}
	if a.Kind == ArgUnavailable {
		c.errAt(at, "%s can't be read: %s", specparse.ExprString(at), a.Reason)
		return invalid
	}
	if a.Kind == ArgDataLoc {
		return operand{kind: opString, typ: t, space: SpaceKernel, str: &strSource{kind: strDataLoc, arg: a}}
	}
	if a.Kind == ArgGoString {
		return operand{kind: opString, typ: t, space: SpaceUser, str: &strSource{kind: strGo, arg: a}}
	}
	if it, ok := scalarInfo(t); ok {
		switch a.Size {
		case 1, 2, 4, 8:
		default:
			c.errAt(at, "%s: unsupported argument size %d", describeArg(a), a.Size)
			return invalid
		}
		untyped := IsUntyped(a.Type) && a.Size == 8 && a.Kind != ArgConst
		return operand{kind: opValue, typ: t, space: space, node: c.argNode(a, it, t), untyped: untyped}
	}
	switch underlying(t).(type) {
	case *ebtf.Struct, *ebtf.Union, *ebtf.Array:
		if a.Kind == ArgCtx {
			// The object lives in the context, which is kernel memory.
			return operand{kind: opLvalue, typ: t, space: SpaceKernel, node: &irCtxAddr{off: int64(a.Off)}}
		}
	}
	c.errAt(at, "%s of type %s cannot be read", describeArg(a), cType(t))
	return invalid
}

func (c *checker) argNode(a *Arg, it intType, t ebtf.Type) irNode {
	if a.Kind == ArgConst {
		raw := intType{a.Size, a.Signed}
		return &irConst{t: it, v: it.normalize(raw.normalize(uint64(a.Const)))}
	}
	return &irArg{arg: a, t: it, be: bigEndianSize(t)}
}

func describeArg(a *Arg) string {
	if a.Name != "" {
		return a.Name
	}
	return "argument"
}

func (c *checker) intLit(n *specparse.IntLit) operand {
	v := n.Value
	lit := strings.ToLower(n.Lit)
	decimal := !(strings.HasPrefix(lit, "0x") || (len(lit) > 1 && lit[0] == '0' && lit[1] >= '0' && lit[1] <= '9'))
	var order []ebtf.Type
	switch {
	case n.Unsigned && n.Long:
		order = []ebtf.Type{btfULong}
	case n.Unsigned:
		order = []ebtf.Type{btfUInt, btfULong}
	case n.Long && decimal:
		order = []ebtf.Type{btfLong, btfULong}
	case n.Long:
		order = []ebtf.Type{btfLong, btfULong}
	case decimal:
		order = []ebtf.Type{btfInt, btfLong, btfULong}
	default:
		order = []ebtf.Type{btfInt, btfUInt, btfLong, btfULong}
	}
	for _, t := range order {
		it, _ := scalarInfo(t)
		var limit uint64
		switch it {
		case tInt:
			limit = math.MaxInt32
		case tUint:
			limit = math.MaxUint32
		case tLong:
			limit = math.MaxInt64
		default:
			limit = math.MaxUint64
		}
		if v <= limit {
			return constOp(t, it, v)
		}
	}
	return constOp(btfULong, tULong, v)
}

// rvalue turns an operand into a scalar value: lvalues are loaded, arrays
// decay to pointers. Aggregates and string-only operands are errors.
func (c *checker) rvalue(e specparse.Expr, op operand) operand {
	switch op.kind {
	case opInvalid, opValue:
		return op
	case opString:
		c.errAt(e, "%s can only be used as a string (with %%s, == or != against a string literal, or STRCMP)", specparse.ExprString(e))
		return invalid
	case opCtx:
		c.errAt(e, "ctx is only usable as ctx->register")
		return invalid
	case opArgs:
		c.errAt(e, "args is only usable as args->field")
		return invalid
	}
	// opLvalue
	switch u := underlying(op.typ).(type) {
	case *ebtf.Array:
		return operand{kind: opValue, typ: &ebtf.Pointer{Target: u.Type}, space: op.space, node: op.node}
	case *ebtf.Struct, *ebtf.Union:
		c.errAt(e, "%s is a %s, not a value (use . or -> to read a member)", specparse.ExprString(e), cType(op.typ))
		return invalid
	}
	it, ok := scalarInfo(op.typ)
	if !ok {
		c.errAt(e, "cannot read a value of type %s", cType(op.typ))
		return invalid
	}
	ld := &irLoad{addr: op.node, space: op.space, size: it.size, t: it, be: bigEndianSize(op.typ)}
	if op.bitSz > 0 {
		start, shift := op.bitOff/8, op.bitOff%8
		total := shift + op.bitSz
		nb := 1
		for nb*8 < total {
			nb *= 2
		}
		if nb > 8 {
			c.errAt(e, "bitfield %s spans more than 8 bytes", specparse.ExprString(e))
			return invalid
		}
		ld.addr, ld.size, ld.bitOff, ld.bitSz, ld.be = addOff(op.node, int64(start)), nb, shift, op.bitSz, 0
	}
	space := op.space
	if isPointer(op.typ) && userTagged(pointee(op.typ)) {
		space = SpaceUser
	}
	return operand{kind: opValue, typ: op.typ, space: space, node: ld}
}

// addOff returns the address n+off, folding constant offsets.
func addOff(n irNode, off int64) irNode {
	if off == 0 {
		return n
	}
	switch a := n.(type) {
	case *irCtxAddr:
		return &irCtxAddr{off: a.off + off}
	case *irConst:
		return &irConst{t: tULong, v: a.v + uint64(off)}
	case *irBinary:
		if a.op == specparse.OpAdd {
			if v, ok := isConst(a.y); ok {
				return &irBinary{op: specparse.OpAdd, x: a.x, y: &irConst{t: tULong, v: v + uint64(off)}, t: tULong}
			}
		}
	}
	return &irBinary{op: specparse.OpAdd, x: n, y: &irConst{t: tULong, v: uint64(off)}, t: tULong}
}

// conv converts n to t, folding constants.
func conv(n irNode, t intType) irNode {
	from := n.irType()
	if from == t {
		return n
	}
	if v, ok := isConst(n); ok {
		return &irConst{t: t, v: t.normalize(v)}
	}
	return &irConv{x: n, t: t}
}

// complete resolves a forward declaration through the probe's type
// sources.
func (c *checker) complete(t ebtf.Type) ebtf.Type {
	f, ok := underlying(t).(*ebtf.Fwd)
	if !ok {
		return t
	}
	name := "struct " + f.Name
	if f.Kind == ebtf.FwdUnion {
		name = "union " + f.Name
	}
	for _, src := range []TypeSource{c.pc.Types, c.pc.Kernel} {
		if src == nil {
			continue
		}
		if r, err := src.Type(name); err == nil {
			return r
		}
	}
	return t
}

func (c *checker) member(n *specparse.Member) operand {
	x := c.expr(n.X)
	nameEnd := n.NamePos + specparse.Pos(len(n.Name))
	switch x.kind {
	case opInvalid:
		return invalid
	case opCtx:
		if !n.Arrow {
			c.errAt(n, "ctx is a pointer; write ctx->%s", n.Name)
			return invalid
		}
		off, ok := PtRegsOffset(n.Name)
		if !ok {
			var cands []candidate
			for r := range ptRegs {
				cands = append(cands, candidate{r, r})
			}
			c.errorf(n.NamePos, nameEnd, "unknown register '%s' in struct pt_regs%s", n.Name, suggest(n.Name, cands))
			return invalid
		}
		a := &Arg{Name: "ctx->" + n.Name, Kind: ArgCtx, Off: off, Size: 8}
		return operand{kind: opValue, typ: btfULong, space: c.defaultSpace(), node: &irArg{arg: a, t: tULong}}
	case opArgs:
		if !n.Arrow {
			c.errAt(n, "args is a pointer; write args->%s", n.Name)
			return invalid
		}
		for i := range c.pc.Fields {
			if c.pc.Fields[i].Name == n.Name {
				return c.argOperand(n, &c.pc.Fields[i])
			}
		}
		var cands []candidate
		for _, f := range c.pc.Fields {
			cands = append(cands, candidate{f.Name, f.Name})
		}
		c.errorf(n.NamePos, nameEnd, "the tracepoint has no field '%s'%s", n.Name, suggest(n.Name, cands))
		return invalid
	}
	var obj operand
	if n.Arrow {
		if x.kind == opLvalue {
			if _, ok := underlying(x.typ).(*ebtf.Array); !ok {
				if isComposite(x.typ) {
					c.errAt(n, "%s is a %s, not a pointer; use . to access member %s", specparse.ExprString(n.X), cType(x.typ), n.Name)
					return invalid
				}
			}
		}
		xv := c.rvalue(n.X, x)
		if !xv.ok() {
			return invalid
		}
		if !isPointer(xv.typ) {
			c.errAt(n, "-> needs a pointer to a struct or union, have %s", cType(xv.typ))
			return invalid
		}
		target := c.complete(pointee(xv.typ))
		space := xv.space
		if userTagged(pointee(xv.typ)) {
			space = SpaceUser
		}
		obj = operand{kind: opLvalue, typ: target, space: space, node: xv.node}
	} else {
		if x.kind == opValue && isPointer(x.typ) && isComposite(c.complete(pointee(x.typ))) {
			c.errAt(n, "%s is a pointer; use -> to access member %s", specparse.ExprString(n.X), n.Name)
			return invalid
		}
		if x.kind != opLvalue || !isComposite(x.typ) {
			c.errAt(n, ". needs a struct or union, have %s", describe(x))
			return invalid
		}
		obj = x
	}
	if !isComposite(obj.typ) {
		c.errAt(n, "%s has no members (not a struct or union)", cType(obj.typ))
		return invalid
	}
	m, bitOff, found := findMember(obj.typ, n.Name)
	if !found {
		var cands []candidate
		for _, name := range memberNames(obj.typ) {
			cands = append(cands, candidate{name, name})
		}
		c.errorf(n.NamePos, nameEnd, "%s has no member '%s'%s", cType(underlying(obj.typ)), n.Name, suggest(n.Name, cands))
		return invalid
	}
	res := operand{kind: opLvalue, typ: m.Type, space: obj.space}
	if m.BitfieldSize > 0 {
		res.node = addOff(obj.node, int64(bitOff/8))
		res.bitOff, res.bitSz = int(bitOff%8), int(m.BitfieldSize)
	} else {
		res.node = addOff(obj.node, int64(bitOff/8))
	}
	return res
}

func isComposite(t ebtf.Type) bool {
	switch underlying(t).(type) {
	case *ebtf.Struct, *ebtf.Union:
		return true
	}
	return false
}

func members(t ebtf.Type) []ebtf.Member {
	switch u := underlying(t).(type) {
	case *ebtf.Struct:
		return u.Members
	case *ebtf.Union:
		return u.Members
	}
	return nil
}

// findMember finds a member by name, searching anonymous struct and union
// members recursively. It returns the member and its bit offset from the
// start of t.
func findMember(t ebtf.Type, name string) (ebtf.Member, uint32, bool) {
	return findMemberDepth(t, name, 0)
}

func findMemberDepth(t ebtf.Type, name string, depth int) (ebtf.Member, uint32, bool) {
	if depth > 32 {
		return ebtf.Member{}, 0, false
	}
	for _, m := range members(t) {
		if m.Name == name {
			return m, uint32(m.Offset), true
		}
	}
	for _, m := range members(t) {
		if m.Name == "" && isComposite(m.Type) {
			if f, off, ok := findMemberDepth(m.Type, name, depth+1); ok {
				return f, uint32(m.Offset) + off, true
			}
		}
	}
	return ebtf.Member{}, 0, false
}

// memberNames lists the member names of t, including those of anonymous
// members.
func memberNames(t ebtf.Type) []string {
	var names []string
	var walk func(t ebtf.Type, depth int)
	walk = func(t ebtf.Type, depth int) {
		if depth > 32 {
			return
		}
		for _, m := range members(t) {
			if m.Name != "" {
				names = append(names, m.Name)
			} else {
				walk(m.Type, depth+1)
			}
		}
	}
	walk(t, 0)
	return names
}

func (c *checker) index(n *specparse.Index) operand {
	x := c.expr(n.X)
	i := c.rvalue(n.I, c.expr(n.I))
	if !x.ok() || !i.ok() {
		return invalid
	}
	it, ok := scalarInfo(i.typ)
	if !ok || isPointer(i.typ) {
		c.errAt(n.I, "array index must be an integer, have %s", cType(i.typ))
		return invalid
	}
	var elem ebtf.Type
	var base operand
	if arr, isArr := underlying(x.typ).(*ebtf.Array); isArr && x.kind == opLvalue {
		elem, base = arr.Type, x
		if v, ok := isConst(i.node); ok && arr.Nelems > 0 {
			idx := int64(v) // normalized: an unsigned huge index is negative here, and out of range too
			if idx < 0 || idx >= int64(arr.Nelems) {
				c.errAt(n.I, "index %d out of range for %s", idx, cType(x.typ))
				return invalid
			}
		}
	} else {
		xv := c.rvalue(n.X, x)
		if !xv.ok() {
			return invalid
		}
		if !isPointer(xv.typ) {
			c.errAt(n.X, "subscripted value is not an array or pointer (have %s)", cType(xv.typ))
			return invalid
		}
		elem, base = pointee(xv.typ), xv
		if userTagged(elem) {
			base.space = SpaceUser
		}
	}
	elem = c.complete(elem)
	esz := sizeOf(elem)
	if esz == 0 {
		c.errAt(n, "cannot index %s: element type %s has no size", cType(x.typ), cType(elem))
		return invalid
	}
	return operand{kind: opLvalue, typ: elem, space: base.space, node: scaledAdd(base.node, i.node, it, int64(esz), specparse.OpAdd)}
}

// scaledAdd returns ptr ± idx*scale as a 64-bit address.
func scaledAdd(ptr, idx irNode, it intType, scale int64, op specparse.Operator) irNode {
	wide := tULong
	if it.signed {
		wide = tLong
	}
	idx = conv(idx, wide)
	if v, ok := isConst(idx); ok {
		off := int64(v) * scale
		if op == specparse.OpSub {
			off = -off
		}
		return addOff(ptr, off)
	}
	if scale != 1 {
		idx = &irBinary{op: specparse.OpMul, x: idx, y: &irConst{t: wide, v: uint64(scale)}, t: wide}
	}
	return &irBinary{op: op, x: ptr, y: conv(idx, tULong), t: tULong}
}

func (c *checker) unary(n *specparse.Unary) operand {
	x := c.expr(n.X)
	if !x.ok() {
		return invalid
	}
	switch n.Op {
	case specparse.OpAddrOf:
		if x.kind != opLvalue {
			c.errAt(n, "cannot take the address of %s", specparse.ExprString(n.X))
			return invalid
		}
		if x.bitSz > 0 {
			c.errAt(n, "cannot take the address of bitfield %s", specparse.ExprString(n.X))
			return invalid
		}
		return operand{kind: opValue, typ: &ebtf.Pointer{Target: x.typ}, space: x.space, node: x.node}
	case specparse.OpDeref:
		xv := c.rvalue(n.X, x)
		if !xv.ok() {
			return invalid
		}
		if !isPointer(xv.typ) {
			c.errAt(n, "cannot dereference %s (not a pointer)", cType(xv.typ))
			return invalid
		}
		target := c.complete(pointee(xv.typ))
		switch underlying(target).(type) {
		case *ebtf.Void, *ebtf.FuncProto, *ebtf.Fwd:
			c.errAt(n, "cannot dereference %s", cType(xv.typ))
			return invalid
		}
		space := xv.space
		if userTagged(pointee(xv.typ)) {
			space = SpaceUser
		}
		return operand{kind: opLvalue, typ: target, space: space, node: xv.node}
	}
	xv := c.rvalue(n.X, x)
	if !xv.ok() {
		return invalid
	}
	it, ok := scalarInfo(xv.typ)
	if !ok {
		c.errAt(n, "invalid operand to unary %s (have %s)", n.Op, cType(xv.typ))
		return invalid
	}
	if n.Op == specparse.OpNot {
		return c.valueOp(btfInt, xv.space, foldNot(xv.node))
	}
	if isPointer(xv.typ) {
		c.errAt(n, "invalid operand to unary %s (have %s)", n.Op, cType(xv.typ))
		return invalid
	}
	t := it.promote()
	x1 := conv(xv.node, t)
	resT := intTypeOf(t)
	if t == it {
		resT = xv.typ
	}
	switch n.Op {
	case specparse.OpPlus:
		return c.valueOp(resT, xv.space, x1)
	case specparse.OpNeg, specparse.OpCompl:
		if v, ok := isConst(x1); ok {
			if n.Op == specparse.OpNeg {
				v = -v
			} else {
				v = ^v
			}
			return c.valueOp(resT, xv.space, &irConst{t: t, v: t.normalize(v)})
		}
		return c.valueOp(resT, xv.space, &irUnary{op: n.Op, x: x1, t: t})
	}
	c.errAt(n, "unsupported operator %s", n.Op)
	return invalid
}

func (c *checker) valueOp(t ebtf.Type, space AddrSpace, node irNode) operand {
	return operand{kind: opValue, typ: t, space: space, node: node}
}

// truth returns a node that is 0 or 1: x != 0.
func truth(x irNode) irNode {
	switch x.(type) {
	case *irCompare, *irLogical, *irNot, *irStrEq:
		return x
	}
	if v, ok := isConst(x); ok {
		return &irConst{t: tInt, v: b2u(v != 0)}
	}
	return &irCompare{op: specparse.OpNe, x: x, y: &irConst{t: x.irType(), v: 0}, ct: x.irType().promote()}
}

func foldNot(x irNode) irNode {
	if v, ok := isConst(x); ok {
		return &irConst{t: tInt, v: b2u(v == 0)}
	}
	return &irNot{x: x}
}

func b2u(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

func isStringLit(e specparse.Expr) (*specparse.StringLit, bool) {
	s, ok := e.(*specparse.StringLit)
	return s, ok
}

func (c *checker) binary(n *specparse.Binary) operand {
	if lx, ok := isStringLit(n.X); ok {
		return c.strCompare(n, n.Y, lx, n.Op)
	}
	if ly, ok := isStringLit(n.Y); ok {
		return c.strCompare(n, n.X, ly, n.Op)
	}
	x := c.rvalue(n.X, c.expr(n.X))
	y := c.rvalue(n.Y, c.expr(n.Y))
	if !x.ok() || !y.ok() {
		return invalid
	}
	xt, okx := scalarInfo(x.typ)
	yt, oky := scalarInfo(y.typ)
	if !okx || !oky {
		c.errAt(n, "invalid operands to %s (have %s and %s)", n.Op, cType(x.typ), cType(y.typ))
		return invalid
	}
	xp, yp := isPointer(x.typ), isPointer(y.typ)
	space := x.space
	if !xp && yp {
		space = y.space
	}
	switch n.Op {
	case specparse.OpLogAnd, specparse.OpLogOr:
		return c.valueOp(btfInt, SpaceNone, logical(n.Op, x.node, y.node))
	case specparse.OpLt, specparse.OpLe, specparse.OpGt, specparse.OpGe, specparse.OpEq, specparse.OpNe:
		ct := tULong
		if !xp && !yp {
			ct = commonType(xt, yt)
		}
		return c.valueOp(btfInt, SpaceNone, compare(n.Op, conv(x.node, ct), conv(y.node, ct), ct))
	case specparse.OpAdd, specparse.OpSub:
		switch {
		case xp && yp && n.Op == specparse.OpSub:
			scale := c.ptrScale(n, x.typ)
			diff := fold(specparse.OpSub, x.node, y.node, tLong)
			if scale != 1 {
				diff = fold(specparse.OpDiv, diff, &irConst{t: tLong, v: uint64(scale)}, tLong)
			}
			return c.valueOp(btfLong, SpaceNone, diff)
		case xp && !yp:
			return c.valueOp(x.typ, x.space, scaledAdd(x.node, y.node, yt, c.ptrScale(n, x.typ), n.Op))
		case yp && !xp && n.Op == specparse.OpAdd:
			return c.valueOp(y.typ, y.space, scaledAdd(y.node, x.node, xt, c.ptrScale(n, y.typ), n.Op))
		case xp || yp:
			c.errAt(n, "invalid operands to %s (have %s and %s)", n.Op, cType(x.typ), cType(y.typ))
			return invalid
		}
	}
	if xp || yp {
		c.errAt(n, "invalid operands to %s (have %s and %s)", n.Op, cType(x.typ), cType(y.typ))
		return invalid
	}
	switch n.Op {
	case specparse.OpShl, specparse.OpShr:
		t := xt.promote()
		return c.valueOp(intTypeOf(t), space, fold(n.Op, conv(x.node, t), y.node, t))
	}
	ct := commonType(xt, yt)
	return c.valueOp(intTypeOf(ct), space, fold(n.Op, conv(x.node, ct), conv(y.node, ct), ct))
}

// ptrScale is the size of what pointer type t points to (1 for void).
func (c *checker) ptrScale(n specparse.Expr, t ebtf.Type) int64 {
	target := c.complete(pointee(t))
	switch underlying(target).(type) {
	case *ebtf.Void, *ebtf.FuncProto:
		return 1
	}
	if s := sizeOf(target); s > 0 {
		return int64(s)
	}
	c.errAt(n, "arithmetic on a pointer to an incomplete type (%s)", cType(t))
	return 1
}

// logical builds x && y or x || y, folding constant operands so that no
// branch on a constant is ever generated.
func logical(op specparse.Operator, x, y irNode) irNode {
	xv, xc := isConst(x)
	yv, yc := isConst(y)
	switch {
	case xc && yc:
		if op == specparse.OpLogAnd {
			return &irConst{t: tInt, v: b2u(xv != 0 && yv != 0)}
		}
		return &irConst{t: tInt, v: b2u(xv != 0 || yv != 0)}
	case xc:
		if (op == specparse.OpLogAnd) == (xv != 0) {
			return truth(y)
		}
		return &irConst{t: tInt, v: b2u(xv != 0)}
	case yc:
		// Expressions have no side effects, so x need not be evaluated
		// when y decides.
		if (op == specparse.OpLogAnd) == (yv != 0) {
			return truth(x)
		}
		return &irConst{t: tInt, v: b2u(yv != 0)}
	}
	return &irLogical{op: op, x: x, y: y}
}

// compare builds x op y in ct, folding constants.
func compare(op specparse.Operator, x, y irNode, ct intType) irNode {
	xv, xc := isConst(x)
	yv, yc := isConst(y)
	if xc && yc {
		var r bool
		if ct.signed {
			a, b := int64(xv), int64(yv)
			r = cmpOp(op, a < b, a == b)
		} else {
			r = cmpOp(op, xv < yv, xv == yv)
		}
		return &irConst{t: tInt, v: b2u(r)}
	}
	return &irCompare{op: op, x: x, y: y, ct: ct}
}

func cmpOp(op specparse.Operator, lt, eq bool) bool {
	switch op {
	case specparse.OpLt:
		return lt
	case specparse.OpLe:
		return lt || eq
	case specparse.OpGt:
		return !lt && !eq
	case specparse.OpGe:
		return !lt
	case specparse.OpEq:
		return eq
	}
	return !eq
}

// fold builds x op y in t (x and y converted to t, except shift counts),
// computing constants at compile time with the generated code's semantics:
// division by zero gives 0, modulo by zero the dividend (BPF's rules);
// shift counts are taken modulo 64.
func fold(op specparse.Operator, x, y irNode, t intType) irNode {
	xv, xc := isConst(x)
	yv, yc := isConst(y)
	if xc && yc {
		return &irConst{t: t, v: t.normalize(foldOp(op, xv, yv, t.signed))}
	}
	return &irBinary{op: op, x: x, y: y, t: t}
}

func foldOp(op specparse.Operator, x, y uint64, signed bool) uint64 {
	switch op {
	case specparse.OpAdd:
		return x + y
	case specparse.OpSub:
		return x - y
	case specparse.OpMul:
		return x * y
	case specparse.OpDiv:
		switch {
		case y == 0:
			return 0
		case signed:
			return uint64(int64(x) / int64(y))
		}
		return x / y
	case specparse.OpRem:
		switch {
		case y == 0:
			return x
		case signed:
			return uint64(int64(x) % int64(y))
		}
		return x % y
	case specparse.OpAnd:
		return x & y
	case specparse.OpOr:
		return x | y
	case specparse.OpXor:
		return x ^ y
	case specparse.OpShl:
		return x << (y & 63)
	case specparse.OpShr:
		if signed {
			return uint64(int64(x) >> (y & 63))
		}
		return x >> (y & 63)
	}
	return 0
}

// strCompare checks `other op "lit"` (or the mirror) and STRCMP.
func (c *checker) strCompare(n specparse.Expr, other specparse.Expr, lit *specparse.StringLit, op specparse.Operator) operand {
	if op != specparse.OpEq && op != specparse.OpNe {
		c.errAt(n, "a string literal can only be compared with == or !=")
		c.expr(other)
		return invalid
	}
	if l2, ok := isStringLit(other); ok {
		return constOp(btfInt, tInt, b2u((l2.Value == lit.Value) == (op == specparse.OpEq)))
	}
	if strings.IndexByte(lit.Value, 0) >= 0 {
		c.errAt(lit, "a string literal in a comparison cannot contain NUL bytes")
		return invalid
	}
	o := c.expr(other)
	if !o.ok() {
		return invalid
	}
	src, ok := c.asString(other, o)
	if !ok {
		c.errAt(other, "cannot compare %s with a string literal (need char *, a char array or $comm)", describe(o))
		return invalid
	}
	if len(lit.Value) > maxStrCompare {
		c.errAt(lit, "string literal too long for a comparison (%d bytes, at most %d)", len(lit.Value), maxStrCompare)
		return invalid
	}
	var node irNode = &irStrEq{src: src, lit: lit.Value}
	if bound := strBound(src); bound > 0 && len(lit.Value) > bound {
		// Never equal: the string is shorter than the literal.
		node = &irConst{t: tInt, v: 0}
	}
	if op == specparse.OpNe {
		node = foldNot(node)
	}
	return c.valueOp(btfInt, SpaceNone, node)
}

// maxStrCompare bounds literals in string comparisons: the string is read
// into a stack buffer of the literal's length plus two.
const maxStrCompare = 256

// strBound is the most bytes a string source can hold, 0 if unbounded
// or, for $comm, not a reason to fold: a literal longer than a comm is
// compared as the kernel would cut the name (see strEq).
func strBound(s *strSource) int {
	if s.kind == strArray {
		return s.n
	}
	return 0
}

func (c *checker) cond(n *specparse.Cond) operand {
	cv := c.rvalue(n.Cond, c.expr(n.Cond))
	x := c.rvalue(n.X, c.expr(n.X))
	y := c.rvalue(n.Y, c.expr(n.Y))
	if !cv.ok() || !x.ok() || !y.ok() {
		return invalid
	}
	if _, ok := scalarInfo(cv.typ); !ok {
		c.errAt(n.Cond, "the condition must be a number or pointer, have %s", cType(cv.typ))
		return invalid
	}
	xt, okx := scalarInfo(x.typ)
	yt, oky := scalarInfo(y.typ)
	if !okx || !oky {
		c.errAt(n, "invalid operands to ?: (have %s and %s)", cType(x.typ), cType(y.typ))
		return invalid
	}
	var t intType
	var typ ebtf.Type
	space := x.space
	switch {
	case isPointer(x.typ):
		t, typ = tULong, x.typ
	case isPointer(y.typ):
		t, typ, space = tULong, y.typ, y.space
	default:
		t = commonType(xt, yt)
		typ = intTypeOf(t)
	}
	xn, yn := conv(x.node, t), conv(y.node, t)
	if v, ok := isConst(cv.node); ok {
		if v != 0 {
			return c.valueOp(typ, space, xn)
		}
		return c.valueOp(typ, space, yn)
	}
	return c.valueOp(typ, space, &irCond{c: cv.node, x: xn, y: yn, t: t})
}

// resolveType resolves a cast's type name: C builtins, then the probe's
// type sources, then the kernel's fixed-width typedefs.
func (c *checker) resolveType(tn *specparse.TypeName) (ebtf.Type, error) {
	var t ebtf.Type
	if b, ok := builtinType(tn.Name); ok {
		t = b
	} else {
		for _, src := range []TypeSource{c.pc.Types, c.pc.Kernel} {
			if src == nil {
				continue
			}
			if r, err := src.Type(tn.Name); err == nil && r != nil {
				t = r
				break
			}
		}
		if t == nil {
			t = kernelTypedefs[tn.Name]
		}
	}
	if t == nil {
		return nil, fmt.Errorf("unknown type '%s'", tn.Name)
	}
	if tn.Const {
		t = &ebtf.Const{Type: t}
	}
	for range tn.Ptr {
		t = &ebtf.Pointer{Target: t}
	}
	return t, nil
}

func (c *checker) cast(n *specparse.Cast) operand {
	x := c.expr(n.X)
	t, err := c.resolveType(n.Type)
	if err != nil {
		c.errorf(n.Type.Pos, n.Type.End, "%v", err)
		return invalid
	}
	xv := c.rvalue(n.X, x)
	if !xv.ok() {
		return invalid
	}
	it, ok := scalarInfo(t)
	if !ok {
		c.errorf(n.Type.Pos, n.Type.End, "cannot cast to %s: only integer, enum and pointer types", cType(t))
		return invalid
	}
	if _, ok := scalarInfo(xv.typ); !ok {
		c.errAt(n.X, "cannot cast %s to %s", cType(xv.typ), cType(t))
		return invalid
	}
	space := xv.space
	if space == SpaceNone {
		space = c.defaultSpace()
	}
	if n.Type.User || (isPointer(t) && userTagged(pointee(t))) {
		space = SpaceUser
	}
	var node irNode
	if isBool(t) {
		node = conv(truth(xv.node), it)
	} else {
		node = conv(xv.node, it)
	}
	return c.valueOp(t, space, node)
}

func (c *checker) call(n *specparse.Call) operand {
	switch n.Fun {
	case "STRCMP":
		if len(n.Args) != 2 {
			c.errAt(n, "STRCMP takes 2 arguments, a string literal and a string")
			for _, a := range n.Args {
				c.expr(a)
			}
			return invalid
		}
		if l, ok := isStringLit(n.Args[0]); ok {
			return c.strCompare(n, n.Args[1], l, specparse.OpEq)
		}
		if l, ok := isStringLit(n.Args[1]); ok {
			return c.strCompare(n, n.Args[0], l, specparse.OpEq)
		}
		c.errAt(n, "STRCMP needs a string literal argument")
		return invalid
	case "$entry":
		if c.stash != nil {
			return c.stashOperand(n)
		}
		c.errorf(n.FunPos, n.FunPos+specparse.Pos(len(n.Fun)), "$entry() is only valid in argdist")
		return invalid
	}
	c.errorf(n.FunPos, n.FunPos+specparse.Pos(len(n.Fun)), "unknown function '%s' (only STRCMP is supported)", n.Fun)
	for _, a := range n.Args {
		if _, ok := isStringLit(a); !ok {
			c.expr(a)
		}
	}
	return invalid
}
