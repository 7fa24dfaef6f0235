package btf

import (
	"fmt"
	"strconv"
	"strings"

	ebtf "github.com/cilium/ebpf/btf"
)

// TypeLookup resolves a named type ("struct file", "pid_t"). *Kernel's
// Type method is one; nil means only C builtin types are known.
type TypeLookup func(name string) (ebtf.Type, error)

// builtinInts are the C and kernel integer type names btool knows without
// BTF, with their size in bytes and signedness.
var builtinInts = map[string]struct {
	size   uint32
	signed bool
}{
	"char": {1, true}, "signed char": {1, true}, "unsigned char": {1, false},
	"short": {2, true}, "short int": {2, true}, "signed short": {2, true}, "unsigned short": {2, false}, "short unsigned int": {2, false}, "unsigned short int": {2, false},
	"int": {4, true}, "signed int": {4, true}, "signed": {4, true}, "unsigned int": {4, false}, "unsigned": {4, false},
	"long": {8, true}, "long int": {8, true}, "signed long": {8, true}, "unsigned long": {8, false}, "long unsigned int": {8, false}, "unsigned long int": {8, false},
	"long long": {8, true}, "long long int": {8, true}, "unsigned long long": {8, false}, "long long unsigned int": {8, false}, "unsigned long long int": {8, false},
	"bool": {1, false}, "_Bool": {1, false},
	"u8": {1, false}, "u16": {2, false}, "u32": {4, false}, "u64": {8, false},
	"s8": {1, true}, "s16": {2, true}, "s32": {4, true}, "s64": {8, true},
	"__u8": {1, false}, "__u16": {2, false}, "__u32": {4, false}, "__u64": {8, false},
	"__s8": {1, true}, "__s16": {2, true}, "__s32": {4, true}, "__s64": {8, true},
	"uint8_t": {1, false}, "uint16_t": {2, false}, "uint32_t": {4, false}, "uint64_t": {8, false},
	"int8_t": {1, true}, "int16_t": {2, true}, "int32_t": {4, true}, "int64_t": {8, true},
	"size_t": {8, false}, "ssize_t": {8, true}, "loff_t": {8, true}, "off_t": {8, true},
	"pid_t": {4, true}, "uid_t": {4, false}, "gid_t": {4, false}, "umode_t": {2, false},
	"uintptr_t": {8, false}, "intptr_t": {8, true},
}

// BuiltinInt returns the integer type for a C builtin or common kernel
// integer typedef name ("unsigned long", "u32", "pid_t"), or nil.
func BuiltinInt(name string) ebtf.Type {
	bi, ok := builtinInts[strings.Join(strings.Fields(name), " ")]
	if !ok {
		return nil
	}
	enc := ebtf.Unsigned
	if bi.signed {
		enc = ebtf.Signed
	}
	if name == "bool" || name == "_Bool" {
		enc = ebtf.Bool
	}
	if strings.Contains(name, "char") {
		enc |= ebtf.Char
		if enc&ebtf.Signed != 0 {
			enc = ebtf.Signed
		}
	}
	return &ebtf.Int{Name: name, Size: bi.size, Encoding: enc}
}

// ParseCType parses a C type as tracefs format files and signatures write
// it ("const char *", "char[16]", "struct file *", "unsigned long",
// "__data_loc char[]") into a type. Named types come from lookup, then
// the builtin integer table. size and signed describe the field (as the
// format file does) and stand in for a base type that can't be resolved;
// size 0 means unknown. The __user annotation is dropped (callers track
// address spaces themselves).
func ParseCType(s string, size int, signed bool, lookup TypeLookup) (ebtf.Type, error) {
	s = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(s), "__data_loc"))
	// Arrays: "char[16]", "char[]", "u8 x[4]" (name already stripped).
	arrLen := -1
	if i := strings.IndexByte(s, '['); i >= 0 {
		j := strings.IndexByte(s[i:], ']')
		if j < 0 {
			return nil, fmt.Errorf("bad array type %q", s)
		}
		if n := strings.TrimSpace(s[i+1 : i+j]); n != "" {
			v, err := strconv.Atoi(n)
			if err != nil {
				return nil, fmt.Errorf("bad array length in %q", s)
			}
			arrLen = v
		} else {
			arrLen = 0
		}
		s = strings.TrimSpace(s[:i])
	}
	ptrs := strings.Count(s, "*")
	var words []string
	isConst := false
	for _, w := range strings.Fields(strings.ReplaceAll(s, "*", " ")) {
		switch w {
		case "const":
			isConst = true
		case "volatile", "__user", "__kernel", "__iomem", "__rcu", "__force":
		default:
			words = append(words, w)
		}
	}
	base := strings.Join(words, " ")
	var t ebtf.Type
	switch {
	case base == "void":
		t = &ebtf.Void{}
	case BuiltinInt(base) != nil:
		t = BuiltinInt(base) // no BTF needed: keeps tracepoint probes fast to start
	}
	if t == nil && lookup != nil {
		if lt, err := lookup(base); err == nil {
			t = lt
		}
	}
	if t == nil {
		t = BuiltinInt(base)
	}
	if t == nil {
		if ptrs > 0 || arrLen >= 0 {
			t = &ebtf.Void{}
			if arrLen >= 0 {
				t = &ebtf.Int{Name: base, Size: 1}
			}
		} else {
			if size <= 0 || size > 8 {
				return nil, fmt.Errorf("unknown type %q", base)
			}
			enc := ebtf.Unsigned
			if signed {
				enc = ebtf.Signed
			}
			t = &ebtf.Int{Name: base, Size: uint32(size), Encoding: enc}
		}
	}
	if isConst {
		t = &ebtf.Const{Type: t}
	}
	for i := 0; i < ptrs; i++ {
		t = &ebtf.Pointer{Target: t}
	}
	if arrLen >= 0 {
		t = &ebtf.Array{Type: t, Index: &ebtf.Int{Name: "__ARRAY_SIZE_TYPE__", Size: 4}, Nelems: uint32(arrLen)}
	}
	return t, nil
}

// IsSigned reports whether t, after typedefs and qualifiers, is a signed
// integer or a signed enum. nil (an unknown type) is unsigned.
func IsSigned(t ebtf.Type) bool {
	if t == nil {
		return false
	}
	switch u := ebtf.UnderlyingType(t).(type) {
	case *ebtf.Int:
		return u.Encoding&ebtf.Signed != 0
	case *ebtf.Enum:
		return u.Signed
	}
	return false
}
