package btf

import (
	"cmp"
	"slices"
	"strings"

	ebtf "github.com/cilium/ebpf/btf"
)

// Suggest returns up to n kernel function names close to name, best first,
// for "did you mean" hints. Candidates are the traceable functions
// ([KernelFuncs]), or the BTF functions of vmlinux when that list cannot be
// read. A candidate qualifies when its edit distance to name is at most a
// third of name's length (at least 1), or when one name is a prefix of the
// other; ties are broken by length difference and then alphabetically.
func (k *Kernel) Suggest(name string, n int) []string {
	if n <= 0 || name == "" {
		return nil
	}
	var names []string
	if funcs, err := KernelFuncs(); err == nil {
		names = make([]string, len(funcs))
		for i, f := range funcs {
			names[i] = f.Name
		}
	} else {
		for t, err := range k.spec.All() {
			if err != nil {
				break
			}
			if fn, ok := t.(*ebtf.Func); ok {
				names = append(names, fn.Name)
			}
		}
	}
	return SuggestNames(name, names, n)
}

// SuggestNames returns up to n of names closest to name (small edit distance,
// or a shared prefix), best first, for "did you mean" hints.
func SuggestNames(name string, names []string, n int) []string {
	type cand struct {
		name  string
		score int
	}
	limit := max(1, len(name)/3)
	var cands []cand
	var ed editor
	for _, c := range names {
		if c == name {
			continue
		}
		prefix := strings.HasPrefix(c, name) || strings.HasPrefix(name, c)
		diff := len(c) - len(name)
		if diff < 0 {
			diff = -diff
		}
		if diff > limit && !prefix {
			continue
		}
		d := ed.distance(name, c, limit)
		if d > limit {
			if !prefix {
				continue
			}
			d = diff + limit // rank prefix matches after the close ones
		}
		cands = append(cands, cand{c, d})
	}
	slices.SortFunc(cands, func(a, b cand) int {
		return cmp.Or(cmp.Compare(a.score, b.score),
			cmp.Compare(len(a.name), len(b.name)),
			strings.Compare(a.name, b.name))
	})
	var out []string
	for _, c := range cands {
		if len(out) == n {
			break
		}
		if !slices.Contains(out, c.name) {
			out = append(out, c.name)
		}
	}
	return out
}

// editor computes edit distances, reusing its row buffers.
type editor struct{ prev, cur []int }

// distance returns the Levenshtein distance of a and b, or a value above
// limit as soon as the distance is known to exceed limit.
func (e *editor) distance(a, b string, limit int) int {
	if cap(e.prev) < len(b)+1 {
		e.prev, e.cur = make([]int, len(b)+1), make([]int, len(b)+1)
	}
	prev, cur := e.prev[:len(b)+1], e.cur[:len(b)+1]
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		rowMin := cur[0]
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			rowMin = min(rowMin, cur[j])
		}
		if rowMin > limit {
			return limit + 1
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
