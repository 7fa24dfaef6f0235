// Command getpid calls the getpid syscall -n times and exits. It prints its
// pid first; see package workloads for the -sleep and -wait flags.
//
// The count is exact. The Go runtime preempts a long-running goroutine with
// tgkill(getpid(), ...) from another thread, which would add getpid calls
// when the loop runs long (as it does under QEMU's software emulation), so
// getpid re-executes itself once with GODEBUG=asyncpreemptoff=1 (same pid).
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"syscall"

	"github.com/btool/btool/internal/workloads/handshake"
)

func main() {
	if godebug := os.Getenv("GODEBUG"); !strings.HasPrefix(godebug, "asyncpreemptoff=1") {
		env := []string{"GODEBUG=asyncpreemptoff=1" + sep(godebug)}
		for _, kv := range os.Environ() {
			if !strings.HasPrefix(kv, "GODEBUG=") {
				env = append(env, kv)
			}
		}
		if err := syscall.Exec("/proc/self/exe", os.Args, env); err != nil {
			fmt.Fprintln(os.Stderr, "getpid: re-exec without async preemption:", err)
			os.Exit(1)
		}
	}

	var hs handshake.Options
	n := flag.Int("n", 1, "number of getpid calls")
	hs.Register(flag.CommandLine)
	flag.Parse()

	hs.Begin()
	for i := 0; i < *n; i++ {
		// syscall.Getpid enters the kernel every time; nothing caches it.
		syscall.Getpid()
	}
	handshake.Done(*n)
}

// sep returns ","+s, or "" when s is empty.
func sep(s string) string {
	if s == "" {
		return ""
	}
	return "," + s
}
