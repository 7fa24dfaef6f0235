package multitool

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"time"

	"github.com/btool/btool/bpf/compile"
)

// This file turns argdist's maps into tables (decode) and prints them
// (text as bcc's argdist, or JSON). The tables hold plain values, so the
// printers are tested without a kernel.

// argdistTable is one probe's data for one interval.
type argdistTable struct {
	Kind   argdistKind
	Spec   string
	Label  string
	Title  string // -C, -S: the line above the table (label or spec)
	Value  string // -H, -L, -S: the value's name (label or expression), the histograms' header
	Expr   string // -H, -L, -S: the value's expression
	Linear compile.Linear
	// Calls says the probe has no expression: its one row counts calls.
	Calls bool
	Rows  []argdistRow
}

// argdistRow is one key's aggregate: a count (-C), a histogram (-H, -L)
// or statistics (-S).
type argdistRow struct {
	Key   keyParts
	Count uint64
	Slots []uint64 // -H, -L: counts by slot
	// -S: the sum, minimum and maximum, as int64 when Signed.
	Sum, Min, Max uint64
	Signed        bool
}

// keyPart is one part of a key: the expression's name and its value.
type keyPart struct {
	Name string
	Kind compile.FieldKind
	Uint uint64 // FieldUint, FieldAddr, and FieldInt's bits
	Str  string // FieldStr
}

// text is the value as argdist prints it: integers in decimal, pointers
// in hex, strings as they are (no b'...' quoting, unlike bcc on Python 3).
func (k keyPart) text() string {
	switch k.Kind {
	case compile.FieldStr:
		return k.Str
	case compile.FieldInt:
		return strconv.FormatInt(int64(k.Uint), 10)
	case compile.FieldAddr:
		return "0x" + strconv.FormatUint(k.Uint, 16)
	}
	return strconv.FormatUint(k.Uint, 10)
}

// value is the value for JSON: a number, or a string for strings and
// pointers.
func (k keyPart) value() any {
	switch k.Kind {
	case compile.FieldStr, compile.FieldAddr:
		return k.text()
	case compile.FieldInt:
		return int64(k.Uint)
	}
	return k.Uint
}

// keyParts is a whole key.
type keyParts []keyPart

// text is bcc's key text: "expr = value" joined by ", ".
func (ks keyParts) text() string {
	var b bytes.Buffer
	for i, k := range ks {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(k.Name)
		b.WriteString(" = ")
		b.WriteString(k.text())
	}
	return b.String()
}

// MarshalJSON writes the key as an object of its parts, in key order.
func (ks keyParts) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range ks {
		if i > 0 {
			b.WriteByte(',')
		}
		if err := writeJSON(&b, k.Name); err != nil {
			return nil, err
		}
		b.WriteByte(':')
		if err := writeJSON(&b, k.value()); err != nil {
			return nil, err
		}
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// writeJSON writes v as JSON without escaping <, > and & (expressions
// are full of "->"), and without the encoder's newline.
func writeJSON(b *bytes.Buffer, v any) error {
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return err
	}
	b.Truncate(b.Len() - 1)
	return nil
}

// decodeKey decodes the key parts of key laid out as l, named names.
func decodeKey(l compile.AggLayout, names []string, key []byte) keyParts {
	var ks keyParts
	for i, f := range l.Key {
		k := keyPart{Kind: f.Kind}
		if i < len(names) {
			k.Name = names[i]
		} else {
			k.Name = f.Expr
		}
		switch f.Kind {
		case compile.FieldStr:
			s, st := f.String(key)
			switch st {
			case compile.StrFault:
				s = "(fault)"
			case compile.StrNull:
				s = "(null)"
			}
			k.Str = s
		default:
			k.Uint = f.Uint(key)
			if f.Kind == compile.FieldInt {
				k.Uint = uint64(f.Int(key))
			}
		}
		ks = append(ks, k)
	}
	return ks
}

// readArgdist reads every probe's maps: the change since the last read,
// or the totals when cumulative.
func readArgdist(probes []*argdistProbe, cumulative bool) ([]argdistTable, error) {
	var out []argdistTable
	for _, a := range probes {
		t := argdistTable{Kind: a.kind, Spec: a.spec, Label: a.p.Label, Title: a.title(), Linear: a.lin, Calls: a.defaultCalls}
		if a.kind != argCount {
			t.Value, t.Expr = a.valueName(), a.names[0]
		}
		var rows [][]AggRow
		for _, r := range a.readers {
			rs, err := r.Read(cumulative)
			if err != nil {
				return nil, fmt.Errorf("%s %s: %w", a.kind.flag(), ShortSpec(a.spec), err)
			}
			rows = append(rows, rs)
		}
		l, names := a.layouts[0], a.keyNames()
		switch a.kind {
		case argCount:
			for _, r := range rows[0] {
				t.Rows = append(t.Rows, argdistRow{Key: decodeKey(l, names, r.Key), Count: r.Value.Count})
			}
		case argHist, argLinear:
			for _, h := range GroupHists(l, rows[0]) {
				t.Rows = append(t.Rows, argdistRow{Key: decodeKey(l, names, h.Key), Count: h.Count, Slots: h.Slots})
			}
		case argStats:
			mins, maxs := map[string]compile.AggValue{}, map[string]compile.AggValue{}
			for _, r := range rows[1] {
				mins[string(r.Key)] = r.Value
			}
			for _, r := range rows[2] {
				maxs[string(r.Key)] = r.Value
			}
			for _, r := range rows[0] {
				t.Rows = append(t.Rows, argdistRow{Key: decodeKey(l, names, r.Key), Count: r.Value.Count, Sum: r.Value.Value,
					Min: mins[string(r.Key)].Value, Max: maxs[string(r.Key)].Value, Signed: l.ValueSigned})
			}
		}
		out = append(out, t)
	}
	return out, nil
}

// sorted returns t's rows in printing order: -C by count and -S by sum,
// ascending (biggest last, as bcc), keeping the last top when top > 0;
// histograms in key order, keeping the top keys with the most events.
func (t *argdistTable) sorted(top int) []argdistRow {
	rows := append([]argdistRow(nil), t.Rows...)
	switch t.Kind {
	case argCount:
		sort.SliceStable(rows, func(i, j int) bool { return rows[i].Count < rows[j].Count })
	case argStats:
		sort.SliceStable(rows, func(i, j int) bool {
			if rows[i].Signed {
				return int64(rows[i].Sum) < int64(rows[j].Sum)
			}
			return rows[i].Sum < rows[j].Sum
		})
	default:
		if top > 0 && len(rows) > top {
			// The top keys by events, still in key order.
			idx := make([]int, len(rows))
			for i := range idx {
				idx[i] = i
			}
			sort.SliceStable(idx, func(i, j int) bool { return rows[idx[i]].Count > rows[idx[j]].Count })
			keep := make([]bool, len(rows))
			for _, i := range idx[:top] {
				keep[i] = true
			}
			out := rows[:0]
			for i, r := range rows {
				if keep[i] {
					out = append(out, r)
				}
			}
			rows = out
		}
		return rows
	}
	if top > 0 && len(rows) > top {
		rows = rows[len(rows)-top:]
	}
	return rows
}

// num formats a -S statistic.
func (r *argdistRow) num(v uint64) string {
	if r.Signed {
		return strconv.FormatInt(int64(v), 10)
	}
	return strconv.FormatUint(v, 10)
}

// avg is the -S average, truncated toward zero as bpftrace's avg().
func (r *argdistRow) avg() uint64 {
	if r.Count == 0 {
		return 0
	}
	if r.Signed {
		return uint64(int64(r.Sum) / int64(r.Count))
	}
	return r.Sum / r.Count
}

// keyText is the EVENT column of -C and -S.
func (t *argdistTable) keyText(r *argdistRow) string {
	if t.Calls {
		return "total calls"
	}
	return r.Key.text()
}

// writeArgdistText prints one interval as bcc's argdist: "[HH:MM:SS]",
// then each table. -C: the title, "\tCOUNT      EVENT" and a row per key,
// even when there are none. -H, -L: the histogram headed by the value's
// name (nothing when empty), and with key expressions one histogram per
// key under a blank line and its "expr = value" line. -S: the title, a
// COUNT SUM AVG MIN MAX EVENT header and a row per key.
func writeArgdistText(w io.Writer, now time.Time, tables []argdistTable, top int) {
	fmt.Fprintf(w, "[%s]\n", now.Format("15:04:05"))
	for i := range tables {
		t := &tables[i]
		switch t.Kind {
		case argCount:
			fmt.Fprintln(w, t.Title)
			fmt.Fprintf(w, "\t%-10s %s\n", "COUNT", "EVENT")
			for _, r := range t.sorted(top) {
				fmt.Fprintf(w, "\t%-10d %s\n", r.Count, t.keyText(&r))
			}
		case argHist, argLinear:
			for _, r := range t.sorted(top) {
				if len(r.Key) > 0 {
					fmt.Fprintf(w, "\n%s\n", r.Key.text())
				}
				if t.Kind == argHist {
					PrintLog2Hist(w, t.Value, r.Slots)
				} else {
					PrintLinearHist(w, t.Value, t.Linear, r.Slots)
				}
			}
		case argStats:
			fmt.Fprintln(w, t.Title)
			fmt.Fprintf(w, "\t%-10s %-14s %-12s %-12s %-12s %s\n", "COUNT", "SUM", "AVG", "MIN", "MAX", "EVENT")
			for _, r := range t.sorted(top) {
				fmt.Fprintf(w, "\t%-10d %-14s %-12s %-12s %-12s %s\n", r.Count, r.num(r.Sum), r.num(r.avg()), r.num(r.Min), r.num(r.Max), t.keyText(&r))
			}
		}
	}
}

// The JSON form of one interval.
type (
	argdistJSON struct {
		Time   string             `json:"time"`
		Probes []argdistTableJSON `json:"probes"`
	}
	argdistTableJSON struct {
		Type  string           `json:"type"` // count, hist, linear, stats
		Spec  string           `json:"spec"`
		Label string           `json:"label,omitempty"`
		Value string           `json:"value,omitempty"` // the aggregated expression (hist, linear, stats)
		Rows  []argdistRowJSON `json:"rows"`
	}
	argdistRowJSON struct {
		Key     keyParts `json:"key"`
		Count   uint64   `json:"count"`
		Buckets any      `json:"buckets,omitempty"` // []Log2Bucket or []LinearBucket
		Sum     any      `json:"sum,omitempty"`
		Avg     any      `json:"avg,omitempty"`
		Min     any      `json:"min,omitempty"`
		Max     any      `json:"max,omitempty"`
	}
)

// writeArgdistJSON prints one interval as one JSON object: the time, and
// per probe its rows, each with its key as an object of expression names
// to values (an empty object for "total calls").
func writeArgdistJSON(w io.Writer, now time.Time, tables []argdistTable, top int) error {
	out := argdistJSON{Time: now.Format(time.RFC3339Nano), Probes: []argdistTableJSON{}}
	for i := range tables {
		t := &tables[i]
		tj := argdistTableJSON{Spec: t.Spec, Label: t.Label, Value: t.Expr, Rows: []argdistRowJSON{}}
		tj.Type = map[argdistKind]string{argCount: "count", argHist: "hist", argLinear: "linear", argStats: "stats"}[t.Kind]
		for _, r := range t.sorted(top) {
			rj := argdistRowJSON{Key: r.Key, Count: r.Count}
			if rj.Key == nil {
				rj.Key = keyParts{}
			}
			num := func(v uint64) any {
				if r.Signed {
					return int64(v)
				}
				return v
			}
			switch t.Kind {
			case argHist:
				rj.Buckets = Log2Buckets(r.Slots)
			case argLinear:
				rj.Buckets = LinearBuckets(t.Linear, r.Slots)
			case argStats:
				rj.Sum, rj.Avg, rj.Min, rj.Max = num(r.Sum), num(r.avg()), num(r.Min), num(r.Max)
			}
			tj.Rows = append(tj.Rows, rj)
		}
		out.Probes = append(out.Probes, tj)
	}
	var b bytes.Buffer
	if err := writeJSON(&b, out); err != nil {
		return err
	}
	b.WriteByte('\n')
	_, err := w.Write(b.Bytes())
	return err
}
