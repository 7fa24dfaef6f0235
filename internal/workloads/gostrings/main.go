// Command gostrings calls the non-inlined main.greet(name string, n int)
// once for each of "alpha", "be" and a 67-byte name, for tests of Go string
// arguments (pointer and length in two registers, no NUL). It prints its
// pid first; see package workloads for -sleep and -wait.
package main

import (
	"flag"
	"fmt"

	"github.com/btool/btool/internal/workloads/handshake"
)

// Names are the strings greet is called with, in order.
var Names = []string{"alpha", "be", "a-very-long-name-that-goes-on-and-on-and-on-for-more-than-the-limit"}

//go:noinline
func greet(name string, n int) int { return len(name) + n }

func main() {
	var hs handshake.Options
	hs.Register(flag.CommandLine)
	flag.Parse()
	hs.Begin()
	s := 0
	for i, name := range Names {
		s += greet(name, i)
	}
	handshake.Done(len(Names))
	fmt.Printf("sum %d\n", s)
}
