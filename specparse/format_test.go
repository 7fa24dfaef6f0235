package specparse

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// dumpVerbs renders verbs as "text" or "%conv[flags,width]@pos-end".
func dumpVerbs(vs []Verb) string {
	var parts []string
	for _, v := range vs {
		if v.IsText() {
			parts = append(parts, fmt.Sprintf("%q@%d-%d", v.Text, v.Pos, v.End))
			continue
		}
		parts = append(parts, fmt.Sprintf("%s[%q,%d]@%d-%d", v.Conv, v.Flags, v.Width, v.Pos, v.End))
	}
	return strings.Join(parts, " ")
}

func TestParseFormat(t *testing.T) {
	tests := []struct{ have, want string }{
		{"", ""},
		{"plain", `"plain"@0-5`},
		{"%d", `d["",0]@0-2`},
		{"read %d bytes", `"read "@0-5 d["",0]@5-7 " bytes"@7-13`},
		{"%s%s", `s["",0]@0-2 s["",0]@2-4`},
		{"%i %u %x %X", `i["",0]@0-2 " "@2-3 u["",0]@3-5 " "@5-6 x["",0]@6-8 " "@8-9 X["",0]@9-11`},
		{"%lx%llx%lu%llu%ld%lld%hd%hu", `lx["",0]@0-3 llx["",0]@3-7 lu["",0]@7-10 llu["",0]@10-14 ld["",0]@14-17 lld["",0]@17-21 hd["",0]@21-24 hu["",0]@24-27`},
		{"%c %p %K %U", `c["",0]@0-2 " "@2-3 p["",0]@3-5 " "@5-6 K["",0]@6-8 " "@8-9 U["",0]@9-11`},
		{"100%%", `"100"@0-3 %["",0]@3-5`},
		{"%-10s|%5d|%08x", `s["-",10]@0-5 "|"@5-6 d["",5]@6-9 "|"@9-10 x["0",8]@10-14`},
		{"%+d % d %#x", `d["+",0]@0-3 " "@3-4 d[" ",0]@4-7 " "@7-8 x["#",0]@8-11`},
	}
	for _, tt := range tests {
		t.Run(tt.have, func(t *testing.T) {
			vs, err := ParseFormat(tt.have)
			if err != nil {
				t.Fatal(err)
			}
			if got := dumpVerbs(vs); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
			var b strings.Builder
			for _, v := range vs {
				b.WriteString(v.Text)
			}
			if b.String() != tt.have {
				t.Errorf("texts join to %q", b.String())
			}
		})
	}
}

func TestVerbMethods(t *testing.T) {
	vs, err := ParseFormat("a%lld%%")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, v := range vs {
		got = append(got, fmt.Sprintf("%v/%v/%q", v.IsText(), v.TakesArg(), v.Base()))
	}
	want := []string{`true/false/""`, `false/true/"d"`, `false/false/"%"`}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestParseFormatErrors(t *testing.T) {
	tests := []struct {
		have string
		want []string
	}{
		{"%q", []string{`0-2: unknown format verb "%q"`}},
		{"%o", []string{`0-2: unknown format verb "%o"`}},
		{"%f", []string{`0-2: unknown format verb "%f"`}},
		{"abc %", []string{`4-5: unknown format verb "%"`}},
		{"%l", []string{`0-2: unknown format verb "%l"`}},
		{"%ls", []string{`0-3: unknown format verb "%ls"`}},
		{"%hhd", []string{`0-3: unknown format verb "%hh"`}},
		{"%5%", []string{`0-3: unknown format verb "%5%"`}},
		{"%.3s", []string{`0-2: unknown format verb "%."`}},
		{"%é", []string{`0-3: unknown format verb "%é"`}},
		{"%99999999999d", []string{`0-13: field width in "%99999999999d" is too large`}},
		{"%q and %w and %d", []string{`0-2: unknown format verb "%q"`, `7-9: unknown format verb "%w"`}},
	}
	for _, tt := range tests {
		t.Run(tt.have, func(t *testing.T) {
			vs, err := ParseFormat(tt.have)
			if err == nil {
				t.Fatalf("ParseFormat(%q) = %s, want error", tt.have, dumpVerbs(vs))
			}
			if vs != nil {
				t.Error("verbs not nil on error")
			}
			if g := errStrings(err); !slices.Equal(g, tt.want) {
				t.Errorf("errors\n got  %q\n want %q", g, tt.want)
			}
		})
	}
}

func TestStringLitVerbs(t *testing.T) {
	src := `f "\t%d\x41%s", a, b`
	pr, err := ParseTrace(src)
	if err != nil {
		t.Fatal(err)
	}
	vs, err := pr.Format.Verbs()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, v := range vs {
		got = append(got, src[v.Pos:v.End])
	}
	want := []string{`\t`, "%d", `\x41`, "%s"}
	if !slices.Equal(got, want) {
		t.Errorf("spans %q, want %q", got, want)
	}

	src = `f "a\n%q"`
	pr, err = ParseTrace(src)
	if err != nil {
		t.Fatal(err)
	}
	_, err = pr.Format.Verbs()
	if g := errStrings(err); !slices.Equal(g, []string{`6-8: unknown format verb "%q"`}) {
		t.Errorf("errors %q", g)
	}
	if got := Caret(src, err); got != "error: unknown format verb \"%q\"\n  f \"a\\n%q\"\n        ^~\n" {
		t.Errorf("Caret:\n%s", got)
	}
}
