// Command spin calls the non-inlined function main.spinTarget -n times in a
// busy loop (forever when -n is negative), for uprobe tests. spinTarget takes
// two int arguments (the loop index and 42) and returns their sum, so
// argument and return-value probes have known values to check. It prints its
// pid first; see package workloads for -sleep and -wait.
package main

import (
	"flag"
	"fmt"

	"github.com/btool/btool/internal/workloads/handshake"
)

//go:noinline
func spinTarget(i, k int) int {
	return i + k
}

func main() {
	var hs handshake.Options
	n := flag.Int("n", 1000, "number of spinTarget calls (negative: forever)")
	hs.Register(flag.CommandLine)
	flag.Parse()

	hs.Begin()
	sum := 0
	for i := 0; *n < 0 || i < *n; i++ {
		sum += spinTarget(i, 42)
	}
	handshake.Done(*n)
	fmt.Printf("sum %d\n", sum)
}
