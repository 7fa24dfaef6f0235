// Command gomixed calls the non-inlined main.mixed, whose parameters mix
// floats with integers and a string, for tests of Go's register ABI:
// floats go to X registers and must not shift the integer arguments. The
// call is mixed(i, 1.5, 10+i, 2.5, "go", 100+i) for i = 0, 1, 2. It
// prints its pid first; see package workloads for -sleep and -wait.
package main

import (
	"flag"
	"fmt"

	"github.com/btool/btool/internal/workloads/handshake"
)

// Calls is the number of mixed calls.
const Calls = 3

//go:noinline
func mixed(a int, x float64, b int, y float32, s string, c int) float64 {
	return float64(a+b+c+len(s)) + x + float64(y)
}

func main() {
	var hs handshake.Options
	hs.Register(flag.CommandLine)
	flag.Parse()
	hs.Begin()
	sum := 0.0
	for i := range Calls {
		sum += mixed(i, 1.5, 10+i, 2.5, "go", 100+i)
	}
	handshake.Done(Calls)
	fmt.Printf("sum %g\n", sum)
}
