// Command gosleep calls the non-inlined Go function main.sleepTarget -n
// times from each of -g goroutines; sleepTarget sleeps -d (time.Sleep, so
// the goroutine parks and may resume on another thread) and returns. It is
// funclatency's Go workload: every call takes -d plus scheduling delay. It
// prints its pid first and "done <n>" last, with n the calls made; see
// package workloads for -sleep and -wait.
package main

import (
	"flag"
	"sync"
	"time"

	"github.com/btool/btool/internal/workloads/handshake"
)

//go:noinline
func sleepTarget(d time.Duration, i int) int {
	time.Sleep(d)
	return i + 1
}

func main() {
	var hs handshake.Options
	n := flag.Int("n", 10, "sleepTarget calls per goroutine")
	g := flag.Int("g", 4, "goroutines")
	d := flag.Duration("d", 5500*time.Microsecond, "how long each call sleeps")
	hs.Register(flag.CommandLine)
	flag.Parse()

	hs.Begin()
	var wg sync.WaitGroup
	var mu sync.Mutex
	calls := 0
	for j := 0; j < *g; j++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := 0
			for i := 0; i < *n; i++ {
				s += sleepTarget(*d, i)
			}
			mu.Lock()
			calls += *n
			_ = s
			mu.Unlock()
		}()
	}
	wg.Wait()
	handshake.Done(calls)
}
