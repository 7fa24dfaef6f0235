package dwarfinfo

import (
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
