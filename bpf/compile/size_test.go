package compile

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/btool/btool/specparse"
)

// TestFilterTooLarge: a filter whose code a jump can't span is refused
// before loading, positioned at the filter, with its size and the limit;
// one that fits compiles.
func TestFilterTooLarge(t *testing.T) {
	filter := func(n int) string {
		terms := make([]string, n)
		for i := range terms {
			terms[i] = fmt.Sprintf("args->count == %d", i)
		}
		return "t:syscalls:sys_enter_read (" + strings.Join(terms, " || ") + ")"
	}
	for _, tc := range []struct {
		terms int
		ok    bool
	}{{1000, true}, {20000, false}} {
		spec := filter(tc.terms)
		p := mustParse(t, spec)
		ct, err := CheckTrace(p, tracepointCtx(t), CheckOptions{})
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = CompileTrace(ct, TraceOptions{UID: -1})
		if tc.ok {
			if err != nil {
				t.Errorf("%d terms: %v", tc.terms, err)
			}
			continue
		}
		var se *specparse.Error
		if !errors.As(err, &se) || !strings.Contains(se.Msg, "the filter is too large") || !strings.Contains(se.Msg, "at most 32767") {
			t.Fatalf("%d terms: err = %v, want a positioned 'filter is too large' error", tc.terms, err)
		}
		if got := spec[se.Pos:se.End]; !strings.HasPrefix(got, "args->count == 0 ||") {
			t.Errorf("error points at %.40q, want the filter", got)
		}
	}
}
