package multitool

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/btool/btool/bpf/compile"
)

func log2Slots(set map[int]uint64) []uint64 {
	s := make([]uint64, compile.Log2Slots)
	for i, n := range set {
		s[i] = n
	}
	return s
}

// TestPrintLog2Hist checks bcc's rows: 0 and 1 share the first row, rows
// run from it to the highest non-empty one, bars scale to 40.
func TestPrintLog2Hist(t *testing.T) {
	var b strings.Builder
	// 2 zeros and 3 ones in "0 -> 1", 10 values in 8..15, 5 in 16..31.
	if err := PrintLog2Hist(&b, "usecs", log2Slots(map[int]uint64{0: 2, 1: 3, 4: 10, 5: 5})); err != nil {
		t.Fatal(err)
	}
	want := `     usecs               : count     distribution
         0 -> 1          : 5        |********************                    |
         2 -> 3          : 0        |                                        |
         4 -> 7          : 0        |                                        |
         8 -> 15         : 10       |****************************************|
        16 -> 31         : 5        |********************                    |
`
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}

func TestPrintLog2HistEmpty(t *testing.T) {
	var b strings.Builder
	if err := PrintLog2Hist(&b, "x", log2Slots(nil)); err != nil || b.Len() != 0 {
		t.Errorf("empty histogram printed %q, %v", b.String(), err)
	}
}

// TestPrintLog2HistWide is the layout for values of 2^32 and up, and the
// negative values' line.
func TestPrintLog2HistWide(t *testing.T) {
	var b strings.Builder
	PrintLog2Hist(&b, "retval", log2Slots(map[int]uint64{1: 1, 34: 4, 64: 2, compile.Log2Negative: 3}))
	golden(t, "hist/log2_wide.txt", b.String())
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	// header, rows 1..64, the negative line
	if len(lines) != 1+64+1 {
		t.Fatalf("%d lines, want 66", len(lines))
	}
	if !strings.Contains(lines[64], "9223372036854775808 -> 18446744073709551615 : 2 ") {
		t.Errorf("top row %q", lines[64])
	}
	if !strings.Contains(lines[34], "|********************|") {
		t.Errorf("peak row %q has no full 20-wide bar", lines[34])
	}
}

func TestPrintLinearHist(t *testing.T) {
	lin := compile.Linear{Min: 0, Max: 100, Step: 25} // 4 buckets + under + over
	var b strings.Builder
	PrintLinearHist(&b, "bytes", lin, []uint64{0, 4, 0, 2, 0, 0})
	want := `     bytes               : count     distribution
         0 -> 24         : 4        |****************************************|
        25 -> 49         : 0        |                                        |
        50 -> 74         : 2        |********************                    |
`
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
	b.Reset()
	PrintLinearHist(&b, "bytes", compile.Linear{Min: -10, Max: 10, Step: 10}, []uint64{1, 0, 2, 3})
	golden(t, "hist/linear_under_over.txt", b.String())
	for _, s := range []string{"      -inf -> -11", "         0 -> 9 ", "        10 -> inf"} {
		if !strings.Contains(b.String(), s) {
			t.Errorf("no row %q in\n%s", s, b.String())
		}
	}
}

func TestHistBucketsJSON(t *testing.T) {
	got, _ := json.Marshal(Log2Buckets(log2Slots(map[int]uint64{0: 1, 3: 2, 64: 1, compile.Log2Negative: 5})))
	want := `[{"min":0,"max":1,"count":1},{"min":4,"max":7,"count":2},{"min":9223372036854775808,"max":18446744073709551615,"count":1},{"min":0,"max":0,"count":5,"negative":true}]`
	if string(got) != want {
		t.Errorf("log2 buckets\n got %s\nwant %s", got, want)
	}
	got, _ = json.Marshal(LinearBuckets(compile.Linear{Min: 0, Max: 20, Step: 10}, []uint64{1, 2, 0, 3}))
	want = `[{"max":0,"count":1},{"min":0,"max":10,"count":2},{"min":20,"count":3}]`
	if string(got) != want {
		t.Errorf("linear buckets\n got %s\nwant %s", got, want)
	}
	if n := len(Log2Buckets(log2Slots(nil))); n != 0 {
		t.Errorf("%d buckets of an empty histogram", n)
	}
}
