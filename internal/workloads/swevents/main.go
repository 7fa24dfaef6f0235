// Command swevents makes a known number of page faults and context
// switches, for tests of perf software events: -pages N writes once to
// each of N fresh pages of an anonymous mapping (N minor page faults,
// huge pages turned off for it), then -sleeps K blocks K times in
// nanosleep (K voluntary context switches). It prints its pid first; see
// package workloads for the -sleep and -wait flags.
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"syscall"

	"github.com/btool/btool/internal/workloads/handshake"
)

// init wires the main goroutine to the main thread, so the sleeps block
// the thread whose id is the pid.
func init() { runtime.LockOSThread() }

func main() {
	var hs handshake.Options
	pages := flag.Int("pages", 0, "pages to fault in")
	sleeps := flag.Int("sleeps", 0, "nanosleep calls of 1 ms")
	hs.Register(flag.CommandLine)
	flag.Parse()

	size := os.Getpagesize()
	var mem []byte
	if *pages > 0 {
		var err error
		mem, err = syscall.Mmap(-1, 0, *pages*size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
		if err != nil {
			fmt.Fprintln(os.Stderr, "swevents: mmap:", err)
			os.Exit(1)
		}
		// A transparent huge page would fault 512 pages in at once.
		const madvNoHugePage = 15 // MADV_NOHUGEPAGE
		_ = syscall.Madvise(mem, madvNoHugePage)
	}
	hs.Begin()
	for i := 0; i < *pages; i++ {
		mem[i*size] = 1
	}
	ts := syscall.Timespec{Nsec: 1000000}
	for i := 0; i < *sleeps; i++ {
		_ = syscall.Nanosleep(&ts, nil)
	}
	handshake.Done(*pages + *sleeps)
}
