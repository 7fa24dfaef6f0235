package dwarfinfo

import (
	"encoding/binary"
	"testing"
)

func FuzzParseUSDTArgs(f *testing.F) {
	for _, s := range []string{"-4@%edi 8@-16(%rbp) 4@$5", "8@16(%rsp,%rbx,8)", "8@[sp, 16]", "-4@counter(%rip)", "%", "[", "8@()", "4@x0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		args, err := ParseUSDTArgs(s)
		if err != nil {
			return
		}
		for _, a := range args {
			if a.Size != 1 && a.Size != 2 && a.Size != 4 && a.Size != 8 {
				t.Fatalf("%q: size %d", s, a.Size)
			}
			if a.Kind < ArgReg || a.Kind > ArgConst {
				t.Fatalf("%q: kind %v", s, a.Kind)
			}
		}
	})
}

func FuzzParseLDCache(f *testing.F) {
	entries := []ldEntry{{flags: 0x0303, name: "libc.so.6", path: "/lib/libc.so.6"}}
	f.Add(newFormatCache(entries))
	f.Add(oldFormatCache(entries, nil))
	f.Add(oldFormatCache(entries, newFormatCache(entries)))
	f.Fuzz(func(t *testing.T, data []byte) {
		parseLDCache(data) // must not panic
	})
}

// FuzzUnitHeaders feeds .debug_info and .debug_aranges parsing arbitrary
// bytes: they must not panic, and every unit must lie inside the data.
func FuzzUnitHeaders(f *testing.F) {
	f.Add([]byte{7, 0, 0, 0, 4, 0, 0, 0, 0, 0, 8})
	f.Add([]byte{8, 0, 0, 0, 5, 0, 1, 8, 0, 0, 0, 0})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 11, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 8})
	f.Add([]byte{28, 0, 0, 0, 2, 0, 0, 0, 0, 0, 8, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		units, _ := parseUnitHeaders(data, binary.LittleEndian)
		for _, u := range units {
			if u.start >= u.end || int(u.end) > len(data) {
				t.Fatalf("unit %+v outside %d bytes", u, len(data))
			}
		}
		for _, r := range parseAranges(data, binary.LittleEndian) {
			unitAt([]arange{r}, r.lo)
		}
	})
}
