package btf

import (
	"fmt"
	"strings"

	ebtf "github.com/cilium/ebpf/btf"
)

// TypeString renders t the way C declares it, without a name: "int",
// "unsigned long", "size_t", "struct file *", "const char *", "char[16]",
// "void *", "enum foo", "char *const". BTF's integer names are shown in their
// usual C spelling ("long unsigned int" becomes "unsigned long", "_Bool"
// becomes "bool"). Function pointers are written out in full, e.g.
// "void (*)(int, char *)"; a bare function prototype is "int (long)".
// Type tags (__user, __rcu, ...) are dropped. nil and Void are "void".
func TypeString(t ebtf.Type) string { return declare(t, "") }

// Signature renders the function as a C prototype with parameter names:
// "ssize_t vfs_read(struct file *file, char *buf, size_t count, loff_t *pos)".
// Parameters without a name show only their type; parameters of unknown
// type show "?".
func (f *Func) Signature() string {
	var b strings.Builder
	b.WriteString(f.Name)
	b.WriteByte('(')
	for i, p := range f.Params {
		if i > 0 {
			b.WriteString(", ")
		}
		if p.Type == nil {
			b.WriteString("?")
			if p.Name != "" {
				b.WriteString(" " + p.Name)
			}
			continue
		}
		b.WriteString(declare(p.Type, p.Name))
	}
	if f.Variadic {
		if len(f.Params) > 0 {
			b.WriteString(", ")
		}
		b.WriteString("...")
	} else if len(f.Params) == 0 {
		b.WriteString("void")
	}
	b.WriteByte(')')
	return declare(f.Ret, b.String())
}

// declare returns the C declaration of d (a declarator: a name, possibly
// with pointer, array and function parts already applied) with type t.
func declare(t ebtf.Type, d string) string {
	for depth := 0; depth < 64; depth++ {
		switch v := t.(type) {
		case nil, *ebtf.Void:
			return join("void", d)
		case *ebtf.TypeTag:
			t = v.Type
			continue
		case *ebtf.Pointer:
			switch skipTags(v.Target).(type) {
			case *ebtf.Array, *ebtf.FuncProto:
				d = "(*" + d + ")"
			default:
				d = "*" + d
			}
			t = v.Target
			continue
		case *ebtf.Const:
			if isPointer(v.Type) {
				d = "const " + d
			} else {
				return "const " + declare(v.Type, d)
			}
			t = v.Type
			continue
		case *ebtf.Volatile:
			if isPointer(v.Type) {
				d = "volatile " + d
			} else {
				return "volatile " + declare(v.Type, d)
			}
			t = v.Type
			continue
		case *ebtf.Restrict:
			if isPointer(v.Type) {
				d = "restrict " + d
			} else {
				return "restrict " + declare(v.Type, d)
			}
			t = v.Type
			continue
		case *ebtf.Array:
			d = fmt.Sprintf("%s[%d]", d, v.Nelems)
			t = v.Type
			continue
		case *ebtf.FuncProto:
			d += "(" + protoParams(v) + ")"
			t = v.Return
			continue
		case *ebtf.Func:
			if fp, ok := v.Type.(*ebtf.FuncProto); ok {
				d = v.Name + d
				d += "(" + protoParams(fp) + ")"
				t = fp.Return
				continue
			}
			return join(v.Name, d)
		default:
			return join(baseName(t), d)
		}
	}
	return join("...", d) // a qualifier/pointer cycle; cannot happen in valid BTF
}

// join puts a base type and a declarator together: "char" + "*buf" is
// "char *buf", "char" + "[16]" is "char[16]".
func join(base, d string) string {
	d = strings.TrimRight(d, " ")
	switch {
	case d == "":
		return base
	case d[0] == '[':
		return base + d
	default:
		return base + " " + d
	}
}

func protoParams(fp *ebtf.FuncProto) string {
	var parts []string
	for i, p := range fp.Params {
		if i == len(fp.Params)-1 && p.Name == "" && isVoid(p.Type) {
			parts = append(parts, "...")
			continue
		}
		parts = append(parts, declare(p.Type, ""))
	}
	if len(parts) == 0 {
		return "void"
	}
	return strings.Join(parts, ", ")
}

func skipTags(t ebtf.Type) ebtf.Type {
	for {
		tt, ok := t.(*ebtf.TypeTag)
		if !ok {
			return t
		}
		t = tt.Type
	}
}

func isPointer(t ebtf.Type) bool {
	_, ok := skipTags(t).(*ebtf.Pointer)
	return ok
}

func isVoid(t ebtf.Type) bool {
	switch t.(type) {
	case nil, *ebtf.Void:
		return true
	}
	return false
}

// cNames maps BTF (gcc DWARF) integer names to the usual C spelling.
var cNames = map[string]string{
	"long int":               "long",
	"long unsigned int":      "unsigned long",
	"long long int":          "long long",
	"long long unsigned int": "unsigned long long",
	"short int":              "short",
	"short unsigned int":     "unsigned short",
	"_Bool":                  "bool",
}

// baseName names a type that has no inner declarator: integers, floats,
// typedefs, structs, unions, enums and forward declarations.
func baseName(t ebtf.Type) string {
	switch v := t.(type) {
	case *ebtf.Int:
		if v.Name == "" {
			if v.Encoding&ebtf.Signed != 0 {
				return fmt.Sprintf("s%d", v.Size*8)
			}
			return fmt.Sprintf("u%d", v.Size*8)
		}
		if c, ok := cNames[v.Name]; ok {
			return c
		}
		return v.Name
	case *ebtf.Struct:
		return tagged("struct", v.Name)
	case *ebtf.Union:
		return tagged("union", v.Name)
	case *ebtf.Enum:
		return tagged("enum", v.Name)
	case *ebtf.Fwd:
		switch v.Kind {
		case ebtf.FwdUnion:
			return tagged("union", v.Name)
		default:
			return tagged("struct", v.Name)
		}
	case *ebtf.Typedef, *ebtf.Float, *ebtf.Var, *ebtf.Datasec:
		return t.TypeName()
	}
	if n := t.TypeName(); n != "" {
		return n
	}
	return fmt.Sprintf("%T", t)
}

func tagged(kind, name string) string {
	if name == "" {
		return kind + " {...}"
	}
	return kind + " " + name
}
