package multitool

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/btool/btool/bpf/compile"
)

// This file prints histograms: bcc's log2 layout (print_log2_hist), a
// linear layout in the same style, and both as JSON buckets.

// bcc's log2 rows: row i (1..64) holds [2^(i-1), 2^i - 1], row 1 printed
// as "0 -> 1" because bcc counts 0 with the 1s. btool's slots (see
// compile.Log2Slots) keep 0 apart in slot 0; it is printed in row 1.

// log2Rows returns the counts by bcc row (index 0 unused) and the highest
// non-empty row, 0 when all are empty.
func log2Rows(slots []uint64) (rows [65]uint64, top int) {
	for s, n := range slots {
		if n == 0 || s > 64 {
			continue
		}
		r := max(s, 1)
		rows[r] += n
		top = max(top, r)
	}
	return rows, top
}

// PrintLog2Hist prints a log2 histogram of slots (compile.Log2Slots of
// them, by compile slot) as bcc's print_log2_hist does: a header naming
// label, then rows from "0 -> 1" up to the highest non-empty one, bars 40
// characters wide for the largest count (the wide layout, 20 wide, when
// a value reaches 2^32). It prints nothing when every slot is empty.
// Negative values of a signed expression, which bcc would count in its
// top row, get a last line of their own. It returns the first write
// error.
func PrintLog2Hist(w io.Writer, label string, slots []uint64) error {
	rows, top := log2Rows(slots)
	var neg uint64
	if len(slots) > compile.Log2Negative {
		neg = slots[compile.Log2Negative]
	}
	if top == 0 && neg == 0 {
		return nil
	}
	var peak uint64
	for _, n := range rows {
		peak = max(peak, n)
	}
	width, wide := 40, top > 32
	var b strings.Builder
	if wide {
		width = 20
		fmt.Fprintf(&b, "               %-29s : count     distribution\n", label)
	} else {
		fmt.Fprintf(&b, "     %-19s : count     distribution\n", label)
	}
	for r := 1; r <= top; r++ {
		lo, hi := uint64(1)<<(r-1), uint64(1)<<r-1
		if r == 1 {
			lo = 0
		}
		if r == 64 {
			hi = math.MaxUint64
		}
		bar := stars(rows[r], peak, width)
		if wide {
			fmt.Fprintf(&b, "%20d -> %-20d : %-8d |%-20s|\n", lo, hi, rows[r], bar)
		} else {
			fmt.Fprintf(&b, "%10d -> %-10d : %-8d |%-40s|\n", lo, hi, rows[r], bar)
		}
	}
	if neg > 0 {
		prefix := 24 // the width of "lo -> hi"
		if wide {
			prefix = 44
		}
		fmt.Fprintf(&b, "%*s : %-8d\n", prefix, "negative", neg)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// stars is bcc's bar: width × n / peak stars (floor), width for the peak.
func stars(n, peak uint64, width int) string {
	if peak == 0 || n == 0 {
		return ""
	}
	k := int(float64(width) * float64(n) / float64(peak))
	return strings.Repeat("*", min(k, width))
}

// PrintLinearHist prints a linear histogram of slots (compile.Linear's:
// below Min, N buckets, at or above Max) in the style of bcc's log2 rows:
// "lo -> hi" inclusive bounds from Min up to the highest non-empty bucket,
// with "-inf -> Min-1" and "Max -> inf" rows only when they are not
// empty. It prints nothing when every slot is empty and returns the
// first write error.
func PrintLinearHist(w io.Writer, label string, lin compile.Linear, slots []uint64) error {
	top, peak := -1, uint64(0)
	for s, n := range slots {
		if n > 0 {
			top = s
			peak = max(peak, n)
		}
	}
	if top < 0 {
		return nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "     %-19s : count     distribution\n", label)
	row := func(lo, hi string, n uint64) {
		fmt.Fprintf(&b, "%10s -> %-10s : %-8d |%-40s|\n", lo, hi, n, stars(n, peak, 40))
	}
	last := len(slots) - 1
	if slots[0] > 0 {
		row("-inf", strconv.FormatInt(lin.Min-1, 10), slots[0])
	}
	for s := 1; s <= min(top, last-1); s++ {
		lo, hi, _, _ := lin.Range(s)
		row(strconv.FormatInt(lo, 10), strconv.FormatInt(hi-1, 10), slots[s])
	}
	if top == last {
		row(strconv.FormatInt(lin.Max, 10), "inf", slots[last])
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// Log2Bucket is one non-empty row of a log2 histogram for --json: values
// Min..Max inclusive (bcc's rows: the first is 0..1), or the negative
// values of a signed expression.
type Log2Bucket struct {
	Min      uint64 `json:"min"`
	Max      uint64 `json:"max"`
	Count    uint64 `json:"count"`
	Negative bool   `json:"negative,omitempty"`
}

// Log2Buckets returns the non-empty rows of slots, in bcc's rows, lowest
// first, then the negative values.
func Log2Buckets(slots []uint64) []Log2Bucket {
	rows, top := log2Rows(slots)
	out := []Log2Bucket{}
	for r := 1; r <= top; r++ {
		if rows[r] == 0 {
			continue
		}
		lo, hi := uint64(1)<<(r-1), uint64(1)<<r-1
		if r == 1 {
			lo = 0
		}
		if r == 64 {
			hi = math.MaxUint64
		}
		out = append(out, Log2Bucket{Min: lo, Max: hi, Count: rows[r]})
	}
	if len(slots) > compile.Log2Negative && slots[compile.Log2Negative] > 0 {
		out = append(out, Log2Bucket{Count: slots[compile.Log2Negative], Negative: true})
	}
	return out
}

// LinearBucket is one non-empty bucket of a linear histogram for --json:
// Min <= v < Max; the underflow bucket has no Min and the overflow
// bucket no Max.
type LinearBucket struct {
	Min   *int64 `json:"min,omitempty"`
	Max   *int64 `json:"max,omitempty"`
	Count uint64 `json:"count"`
}

// LinearBuckets returns the non-empty buckets of slots, lowest first.
func LinearBuckets(lin compile.Linear, slots []uint64) []LinearBucket {
	out := []LinearBucket{}
	for s, n := range slots {
		if n == 0 {
			continue
		}
		lo, hi, under, over := lin.Range(s)
		b := LinearBucket{Count: n}
		if !under {
			b.Min = &lo
		}
		if !over {
			b.Max = &hi
		}
		out = append(out, b)
	}
	return out
}
