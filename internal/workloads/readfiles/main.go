// Command readfiles opens, reads to EOF and closes a file -n times, driving
// the kernel's open and read paths (do_sys_openat2, vfs_open, vfs_read, ...).
// With -ignore-errors a file that can't be opened is not fatal, so tests can
// count failing opens. It prints its pid first; see package workloads for
// -sleep and -wait.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/btool/btool/internal/workloads/handshake"
)

func main() {
	var hs handshake.Options
	n := flag.Int("n", 1, "number of open+read+close rounds")
	path := flag.String("path", "/proc/self/stat", "file to read")
	ignore := flag.Bool("ignore-errors", false, "keep going when the file can't be opened (for failing-syscall tests)")
	hs.Register(flag.CommandLine)
	flag.Parse()

	hs.Begin()
	buf := make([]byte, 4096)
	for i := 0; i < *n; i++ {
		if err := readOnce(*path, buf); err != nil && !*ignore {
			fmt.Fprintln(os.Stderr, "readfiles:", err)
			os.Exit(1)
		}
	}
	handshake.Done(*n)
}

// readOnce opens path, reads it to EOF into buf and closes it.
func readOnce(path string, buf []byte) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	for {
		_, err := f.Read(buf)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}
