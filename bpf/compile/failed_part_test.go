package compile

import (
	"fmt"
	"strings"
	"testing"
)

// TestFailedPart maps verifier log lines back to the part of the spec the
// rejected instruction was generated from.
func TestFailedPart(t *testing.T) {
	spec := `t:syscalls:sys_enter_read (args->count > 20000) "read %d bytes from %d", args->count, args->fd`
	p := mustParse(t, spec)
	ct, err := CheckTrace(p, tracepointCtx(t), CheckOptions{})
	if err != nil {
		t.Fatal(err)
	}
	insns, _, err := CompileTrace(ct, TraceOptions{UID: -1})
	if err != nil {
		t.Fatal(err)
	}
	// Find the first instruction of each marked part.
	first := map[string]int{}
	iter := insns.Iterate()
	for iter.Next() {
		if sp, ok := iter.Ins.Source().(SpecPart); ok {
			first[sp.Label] = int(iter.Offset)
		}
	}
	for _, tc := range []struct {
		label string
		want  string // the spec text the part points at
	}{
		{"filter: args->count > 20000", "args->count > 20000"},
		{"arg 2: args->fd", "args->fd"},
	} {
		off, ok := first[tc.label]
		if !ok {
			t.Fatalf("no part %q in %v", tc.label, first)
		}
		log := []string{"func#0 @0", fmt.Sprintf("%d: (79) r8 = *(u64 *)(r6 +32)", off+1), "invalid bpf_context access off=32 size=8", "processed 12 insns"}
		part, ok := FailedPart(insns, log)
		if !ok || part.Label != tc.label || !part.HasSpan || spec[part.Pos:part.End] != tc.want {
			t.Errorf("FailedPart at %d = %+v, %v; want %q covering %q", off+1, part, ok, tc.label, tc.want)
		}
	}
	if _, ok := FailedPart(insns, []string{"no instruction here"}); ok {
		t.Errorf("a log without instruction indexes should not map")
	}
	if part, _ := FailedPart(insns, []string{"0: (bf) r6 = r1"}); !strings.HasPrefix(part.Label, "prologue") || part.HasSpan {
		t.Errorf("instruction 0 is the prologue, got %+v", part)
	}
}
