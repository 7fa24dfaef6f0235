package btf

import (
	"testing"

	ebtf "github.com/cilium/ebpf/btf"
)

func TestParseCType(t *testing.T) {
	file := &ebtf.Struct{Name: "file", Size: 8}
	lookup := func(name string) (ebtf.Type, error) {
		if name == "struct file" {
			return file, nil
		}
		return nil, ErrNotFound
	}
	for _, tc := range []struct {
		have   string
		size   int
		signed bool
		want   string
	}{
		{"int", 4, true, "int"},
		{"unsigned long", 8, false, "unsigned long"},
		{"const char *", 8, false, "const char *"},
		{"char[16]", 16, true, "char[16]"},
		{"__data_loc char[]", 4, false, "char[0]"},
		{"struct file *", 8, false, "struct file *"},
		{"pid_t", 4, true, "pid_t"},
		{"const char *const *", 8, false, "const char **"},
		{"mystery_t", 2, false, "mystery_t"},
	} {
		typ, err := ParseCType(tc.have, tc.size, tc.signed, lookup)
		if err != nil {
			t.Errorf("%q: %v", tc.have, err)
			continue
		}
		if got := TypeString(typ); got != tc.want {
			t.Errorf("%q: got %q, want %q", tc.have, got, tc.want)
		}
		if tc.size > 0 && tc.size <= 8 && !isArray(typ) {
			if sz, err := ebtf.Sizeof(typ); err != nil || sz != tc.size {
				t.Errorf("%q: size %d (%v), want %d", tc.have, sz, err, tc.size)
			}
		}
	}
	if _, err := ParseCType("mystery_t", 0, false, nil); err == nil {
		t.Errorf("unknown type without size should fail")
	}
}

func isArray(t ebtf.Type) bool { _, ok := t.(*ebtf.Array); return ok }
