package multitool

import (
	"fmt"
	"strings"

	"github.com/btool/btool/btf"
)

// suggest returns up to n candidates closest to name, best first.
func suggest(name string, candidates []string, n int) []string {
	return btf.SuggestNames(name, candidates, n)
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
