package multitool

import (
	"fmt"
	"sort"
	"strings"
)

// suggest returns up to n candidates closest to name: those sharing its
// longest prefix or within a small edit distance, best first.
func suggest(name string, candidates []string, n int) []string {
	type scored struct {
		s string
		d int
	}
	limit := len(name)/3 + 1
	var best []scored
	for _, c := range candidates {
		if c == name {
			continue
		}
		if abs(len(c)-len(name)) > limit {
			continue
		}
		d := editDistance(name, c, limit)
		if d <= limit {
			best = append(best, scored{c, d})
		}
	}
	sort.SliceStable(best, func(i, j int) bool {
		if best[i].d != best[j].d {
			return best[i].d < best[j].d
		}
		return best[i].s < best[j].s
	})
	var out []string
	for _, b := range best {
		if len(out) == n {
			break
		}
		out = append(out, b.s)
	}
	return out
}

// didYouMean formats suggestions as "; did you mean a, b or c?" or "".
func didYouMean(names []string) string {
	switch len(names) {
	case 0:
		return ""
	case 1:
		return fmt.Sprintf("; did you mean %s?", names[0])
	}
	return fmt.Sprintf("; did you mean %s or %s?", strings.Join(names[:len(names)-1], ", "), names[len(names)-1])
}

// editDistance is the Levenshtein distance of a and b, or limit+1 once it
// is certain to exceed limit.
func editDistance(a, b string, limit int) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
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

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
