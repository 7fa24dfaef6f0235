package compile

import (
	"fmt"
	"sort"
	"strings"

	ebtf "github.com/cilium/ebpf/btf"
)

// This file holds the C type helpers of the trace checker: stripping
// qualifier and typedef chains, integer properties, builtin type names,
// printing types and suggesting names.

// AddrSpace is the memory a pointer points into, or where an object lives.
type AddrSpace uint8

// The address spaces of trace expressions.
const (
	SpaceNone   AddrSpace = iota // not a pointer or memory object
	SpaceKernel                  // read with bpf_probe_read_kernel
	SpaceUser                    // read with bpf_probe_read_user
)

func (s AddrSpace) String() string {
	switch s {
	case SpaceKernel:
		return "kernel"
	case SpaceUser:
		return "user"
	}
	return "none"
}

// intType is the register-level view of a scalar C type: its size in bytes
// (1, 2, 4 or 8) and signedness. Values of an intType are kept in 64-bit
// registers sign- or zero-extended from size.
type intType struct {
	size   int
	signed bool
}

var (
	tInt    = intType{4, true}
	tUint   = intType{4, false}
	tLong   = intType{8, true}
	tULong  = intType{8, false}
	tChar   = intType{1, true}
	tShort  = intType{2, true}
	tUShort = intType{2, false}
)

// bits returns the width in bits.
func (t intType) bits() int { return 8 * t.size }

// normalize truncates v to t and sign- or zero-extends it back to 64 bits.
func (t intType) normalize(v uint64) uint64 {
	if t.size >= 8 {
		return v
	}
	shift := uint(64 - t.bits())
	if t.signed {
		return uint64(int64(v<<shift) >> shift)
	}
	return v << shift >> shift
}

// promote applies the C integer promotions: types narrower than int become
// int.
func (t intType) promote() intType {
	if t.size < 4 {
		return tInt
	}
	return t
}

// commonType is the C usual arithmetic conversion of two integer types.
func commonType(a, b intType) intType {
	a, b = a.promote(), b.promote()
	if a == b {
		return a
	}
	if a.signed == b.signed {
		if a.size >= b.size {
			return a
		}
		return b
	}
	u, s := a, b
	if !b.signed {
		u, s = b, a
	}
	if u.size >= s.size {
		return u
	}
	return s // the signed type is wider and holds every unsigned value
}

// Builtin C types (as gcc names them in BTF).
var (
	btfVoid      = &ebtf.Void{}
	btfChar      = &ebtf.Int{Name: "char", Size: 1, Encoding: ebtf.Signed | ebtf.Char}
	btfSChar     = &ebtf.Int{Name: "signed char", Size: 1, Encoding: ebtf.Signed}
	btfUChar     = &ebtf.Int{Name: "unsigned char", Size: 1}
	btfShort     = &ebtf.Int{Name: "short int", Size: 2, Encoding: ebtf.Signed}
	btfUShort    = &ebtf.Int{Name: "short unsigned int", Size: 2}
	btfInt       = &ebtf.Int{Name: "int", Size: 4, Encoding: ebtf.Signed}
	btfUInt      = &ebtf.Int{Name: "unsigned int", Size: 4}
	btfLong      = &ebtf.Int{Name: "long int", Size: 8, Encoding: ebtf.Signed}
	btfULong     = &ebtf.Int{Name: "long unsigned int", Size: 8}
	btfLongLong  = &ebtf.Int{Name: "long long int", Size: 8, Encoding: ebtf.Signed}
	btfULongLong = &ebtf.Int{Name: "long long unsigned int", Size: 8}
	btfBool      = &ebtf.Int{Name: "_Bool", Size: 1, Encoding: ebtf.Bool}
)

// kernelTypedefs are the kernel's fixed-width typedefs, used for casts
// when no TypeSource knows them.
var kernelTypedefs = map[string]ebtf.Type{}

func init() {
	def := func(name string, t ebtf.Type) { kernelTypedefs[name] = &ebtf.Typedef{Name: name, Type: t} }
	for _, p := range []string{"", "__"} {
		def(p+"u8", btfUChar)
		def(p+"s8", btfSChar)
		def(p+"u16", btfUShort)
		def(p+"s16", btfShort)
		def(p+"u32", btfUInt)
		def(p+"s32", btfInt)
		def(p+"u64", btfULongLong)
		def(p+"s64", btfLongLong)
	}
	def("size_t", btfULong)
	def("ssize_t", btfLong)
	def("uintptr_t", btfULong)
	def("intptr_t", btfLong)
	def("uint8_t", btfUChar)
	def("int8_t", btfSChar)
	def("uint16_t", btfUShort)
	def("int16_t", btfShort)
	def("uint32_t", btfUInt)
	def("int32_t", btfInt)
	def("uint64_t", btfULong)
	def("int64_t", btfLong)
	def("pid_t", btfInt)
	def("uid_t", btfUInt)
	def("gid_t", btfUInt)
	def("loff_t", btfLongLong)
	def("off_t", btfLong)
	def("__be16", btfUShort)
	def("__be32", btfUInt)
	def("__be64", btfULongLong)
	def("__le16", btfUShort)
	def("__le32", btfUInt)
	def("__le64", btfULongLong)
}

// builtinType resolves C builtin type words ("unsigned long", "long
// unsigned int", "char", "_Bool", "void"). ok is false for other names.
func builtinType(name string) (ebtf.Type, bool) {
	words := strings.Fields(name)
	if len(words) == 0 {
		return nil, false
	}
	n := map[string]int{}
	for _, w := range words {
		switch w {
		case "void", "char", "short", "int", "long", "signed", "unsigned", "_Bool", "bool":
			n[w]++
		default:
			return nil, false
		}
	}
	switch {
	case n["void"] > 0:
		return btfVoid, len(words) == 1
	case n["_Bool"] > 0 || n["bool"] > 0:
		return btfBool, len(words) == 1
	case n["char"] > 0:
		switch {
		case n["unsigned"] > 0:
			return btfUChar, true
		case n["signed"] > 0:
			return btfSChar, true
		}
		return btfChar, true
	case n["short"] > 0:
		if n["unsigned"] > 0 {
			return btfUShort, true
		}
		return btfShort, true
	case n["long"] == 1:
		if n["unsigned"] > 0 {
			return btfULong, true
		}
		return btfLong, true
	case n["long"] >= 2:
		if n["unsigned"] > 0 {
			return btfULongLong, true
		}
		return btfLongLong, true
	}
	if n["unsigned"] > 0 {
		return btfUInt, true
	}
	return btfInt, true
}

// synthInt is the type of a value whose C type is unknown: an integer of
// size bytes.
func synthInt(size int, signed bool) ebtf.Type {
	switch {
	case size == 1 && signed:
		return btfSChar
	case size == 1:
		return btfUChar
	case size == 2 && signed:
		return btfShort
	case size == 2:
		return btfUShort
	case size == 4 && signed:
		return btfInt
	case size == 4:
		return btfUInt
	case signed:
		return btfLong
	}
	return btfULong
}

// peel walks t's chain of typedefs and qualifiers (const, volatile,
// restrict, type tags), calling visit on each link until it returns true,
// and returns the type the chain ends in.
func peel(t ebtf.Type, visit func(ebtf.Type) bool) ebtf.Type {
	for range 64 {
		if visit != nil && visit(t) {
			return t
		}
		switch u := t.(type) {
		case *ebtf.Typedef:
			t = u.Type
		case *ebtf.Const:
			t = u.Type
		case *ebtf.Volatile:
			t = u.Type
		case *ebtf.Restrict:
			t = u.Type
		case *ebtf.TypeTag:
			t = u.Type
		default:
			return t
		}
	}
	return t
}

// underlying strips typedefs and qualifiers (const, volatile, restrict,
// type tags).
func underlying(t ebtf.Type) ebtf.Type { return peel(t, nil) }

// userTagged reports whether t's qualifier or typedef chain carries the BTF
// type tag "user" (the kernel's __user).
func userTagged(t ebtf.Type) bool {
	found := false
	peel(t, func(l ebtf.Type) bool {
		tag, ok := l.(*ebtf.TypeTag)
		found = ok && tag.Value == "user"
		return found
	})
	return found
}

var bigEndianTypedefs = map[string]int{"__be16": 2, "__be32": 4, "__be64": 8}

// bigEndianSize returns 2, 4 or 8 when t is (a typedef chain through)
// __be16, __be32 or __be64, else 0.
func bigEndianSize(t ebtf.Type) int {
	size := 0
	peel(t, func(l ebtf.Type) bool {
		if td, ok := l.(*ebtf.Typedef); ok {
			size = bigEndianTypedefs[td.Name]
		}
		return size != 0
	})
	return size
}

// scalarInfo returns the register view of a scalar type: integers, enums,
// bools and pointers. ok is false for other types (structs, arrays, void,
// floats, functions).
func scalarInfo(t ebtf.Type) (intType, bool) {
	switch u := underlying(t).(type) {
	case *ebtf.Int:
		switch u.Size {
		case 1, 2, 4, 8:
			return intType{int(u.Size), u.Encoding&ebtf.Signed != 0}, true
		}
	case *ebtf.Enum:
		switch u.Size {
		case 1, 2, 4, 8:
			return intType{int(u.Size), u.Signed}, true
		}
	case *ebtf.Pointer:
		return tULong, true
	}
	return intType{}, false
}

func isPointer(t ebtf.Type) bool {
	_, ok := underlying(t).(*ebtf.Pointer)
	return ok
}

func isBool(t ebtf.Type) bool {
	i, ok := underlying(t).(*ebtf.Int)
	return ok && i.Encoding&ebtf.Bool != 0
}

// isCharType reports whether t is a one-byte integer (char, signed char,
// unsigned char, u8), the element type of strings.
func isCharType(t ebtf.Type) bool {
	i, ok := underlying(t).(*ebtf.Int)
	return ok && i.Size == 1 && i.Encoding&ebtf.Bool == 0
}

// pointee returns the target of a pointer type (qualifiers kept).
func pointee(t ebtf.Type) ebtf.Type {
	if p, ok := underlying(t).(*ebtf.Pointer); ok {
		return p.Target
	}
	return nil
}

// sizeOf returns the size of t in bytes, 0 when unknown.
func sizeOf(t ebtf.Type) int {
	n, err := ebtf.Sizeof(t)
	if err != nil {
		return 0
	}
	return n
}

// intTypeOf returns the builtin BTF type for an intType, for typing
// results of arithmetic.
func intTypeOf(t intType) ebtf.Type {
	switch t {
	case tInt:
		return btfInt
	case tUint:
		return btfUInt
	case tLong:
		return btfLong
	case tULong:
		return btfULong
	}
	return synthInt(t.size, t.signed)
}

// cType renders t in C syntax for messages: "struct file *", "char[16]",
// "const char __user *".
func cType(t ebtf.Type) string {
	return strings.TrimSpace(cTypeDepth(t, 0))
}

func cTypeDepth(t ebtf.Type, depth int) string {
	if depth > 16 {
		return "..."
	}
	switch u := t.(type) {
	case nil:
		return "?"
	case *ebtf.Void:
		return "void"
	case *ebtf.Int:
		return u.Name
	case *ebtf.Pointer:
		inner := cTypeDepth(u.Target, depth+1)
		if strings.HasSuffix(inner, "*") {
			return inner + "*"
		}
		return inner + " *"
	case *ebtf.Array:
		return fmt.Sprintf("%s[%d]", cTypeDepth(u.Type, depth+1), u.Nelems)
	case *ebtf.Struct:
		return "struct " + anonName(u.Name)
	case *ebtf.Union:
		return "union " + anonName(u.Name)
	case *ebtf.Enum:
		return "enum " + anonName(u.Name)
	case *ebtf.Fwd:
		return u.Kind.String() + " " + u.Name
	case *ebtf.Typedef:
		return u.Name
	case *ebtf.Const:
		return "const " + cTypeDepth(u.Type, depth+1)
	case *ebtf.Volatile:
		return "volatile " + cTypeDepth(u.Type, depth+1)
	case *ebtf.Restrict:
		return cTypeDepth(u.Type, depth+1)
	case *ebtf.TypeTag:
		if u.Value == "user" {
			return cTypeDepth(u.Type, depth+1) + " __user"
		}
		return cTypeDepth(u.Type, depth+1)
	case *ebtf.FuncProto:
		return "function"
	case *ebtf.Float:
		return u.Name
	}
	return fmt.Sprintf("%T", t)
}

func anonName(n string) string {
	if n == "" {
		return "<anon>"
	}
	return n
}

// levenshtein is the edit distance between a and b.
func levenshtein(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// candidate is a name to suggest: key is compared with what the user
// typed, show is what the message prints.
type candidate struct{ key, show string }

// suggest returns "; did you mean x?" naming the closest candidates (at
// most three), or "" when none is close: the edit distance must be at most
// half the longer name, rounded up.
func suggest(name string, cands []candidate) string {
	best := -1
	var names []string
	seen := map[string]bool{}
	for _, c := range cands {
		if c.key == "" || seen[c.show] {
			continue
		}
		d := levenshtein(name, c.key)
		if d > (max(len(name), len(c.key))+1)/2 {
			continue
		}
		switch {
		case best < 0 || d < best:
			best, names = d, []string{c.show}
		case d == best:
			names = append(names, c.show)
		default:
			continue
		}
		seen[c.show] = true
	}
	if len(names) == 0 {
		return ""
	}
	// Among equally close names prefer those the name abbreviates
	// ("cnt" for count, not ctx).
	var abbrev []string
	for _, n := range names {
		if isSubsequence(name, strings.TrimPrefix(n, "args->")) {
			abbrev = append(abbrev, n)
		}
	}
	if len(abbrev) > 0 {
		names = abbrev
	}
	sort.Strings(names)
	if len(names) > 3 {
		names = names[:3]
	}
	switch len(names) {
	case 1:
		return "; did you mean " + names[0] + "?"
	default:
		return "; did you mean " + strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1] + "?"
	}
}

// isSubsequence reports whether the bytes of a appear in b in order.
func isSubsequence(a, b string) bool {
	i := 0
	for j := 0; j < len(b) && i < len(a); j++ {
		if a[i] == b[j] {
			i++
		}
	}
	return i == len(a)
}
