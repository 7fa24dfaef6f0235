// Package handshake is the start-up protocol shared by the workload programs:
// print the pid, then hold still until the tracer has attached.
package handshake

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"time"
)

// Options says how a workload waits before it starts its loop.
type Options struct {
	Sleep time.Duration // sleep this long before starting
	Wait  bool          // wait for a line (or EOF) on stdin before starting
}

// Register defines the -sleep and -wait flags on fs.
func (o *Options) Register(fs *flag.FlagSet) {
	fs.DurationVar(&o.Sleep, "sleep", 0, "sleep this long before starting (lets a tracer attach)")
	fs.BoolVar(&o.Wait, "wait", false, "wait for a line or EOF on stdin before starting")
}

// Begin prints the pid as a line of its own on stdout, then sleeps and/or
// waits for stdin as the options say.
func (o *Options) Begin() {
	fmt.Println(os.Getpid())
	if o.Sleep > 0 {
		time.Sleep(o.Sleep)
	}
	if o.Wait {
		// Any line or EOF releases the workload; a read error does too.
		_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
	}
}

// Done prints the last line, "done <n>", after n iterations.
func Done(n int) { fmt.Printf("done %d\n", n) }
