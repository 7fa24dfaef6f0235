// Command getpid calls the getpid syscall -n times and exits, at most -rate
// calls per second when that is set. It prints its pid first; see package
// workloads for the -sleep and -wait flags.
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
	"time"

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
		// Exec the binary by its path, not /proc/self/exe, so the process
		// name (comm) stays "getpid".
		exe, err := os.Executable()
		if err == nil {
			err = syscall.Exec(exe, os.Args, env)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "getpid: re-exec without async preemption:", err)
			os.Exit(1)
		}
	}

	var hs handshake.Options
	n := flag.Int("n", 1, "number of getpid calls")
	rate := flag.Int("rate", 0, "pace the calls at this many per second (0: as fast as possible)")
	hs.Register(flag.CommandLine)
	flag.Parse()

	hs.Begin()
	start := time.Now()
	for i := 0; i < *n; i++ {
		// syscall.Getpid enters the kernel every time; nothing caches it.
		syscall.Getpid()
		if *rate > 0 && i%256 == 255 {
			due := start.Add(time.Duration(float64(i+1) / float64(*rate) * float64(time.Second)))
			for time.Now().Before(due) {
			}
		}
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
