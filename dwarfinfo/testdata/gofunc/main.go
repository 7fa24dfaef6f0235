// Command gofunc is a Go fixture for dwarfinfo tests.
package main

import "fmt"

type point struct{ X, Y int }

//go:noinline
func work(name string, n int, p *point, xs []byte) (int, error) {
	return n + p.X + len(xs) + len(name), nil
}

//go:noinline
func single(n int) int { return n * 2 }

func main() { fmt.Println(work("a", single(1), &point{1, 2}, nil)) }
