// Command readsizes makes read and openat syscalls of known shapes, for
// argdist tests: -reads "77x12345,5x0" reads a zero-filled file 77 times
// with a 12345-byte buffer and 5 times with an empty one (each read is one
// read syscall returning its count, after an lseek back to the start; the
// file is a memfd, whose reads a signal never cuts short as it can cut
// /dev/zero's: Go's preemption signals do), and -opens "PATH:3,PATH2:5" opens (and
// closes) PATH 3 times and PATH2 5 times. Reads come before opens. It
// prints its pid first; see package workloads for -sleep and -wait.
package main

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/btool/btool/internal/workloads/handshake"
)

// maxReadSize is the size of the file read, and so the largest read.
const maxReadSize = 16 << 20

// countOf parses "NxV" or "V:N" items: the count and the rest.
func countOf(item, sep string, countFirst bool) (int, string, error) {
	a, b, ok := strings.Cut(item, sep)
	if !countFirst {
		i := strings.LastIndex(item, sep)
		if i < 0 {
			ok = false
		} else {
			a, b = item[i+1:], item[:i]
		}
	}
	if !ok {
		return 0, "", fmt.Errorf("bad item %q", item)
	}
	n, err := strconv.Atoi(a)
	if err != nil || n < 0 {
		return 0, "", fmt.Errorf("bad count in %q", item)
	}
	return n, b, nil
}

func main() {
	var hs handshake.Options
	reads := flag.String("reads", "", "COUNTxSIZE,...: reads of a zero-filled file")
	opens := flag.String("opens", "", "PATH:COUNT,...: opens of files")
	hs.Register(flag.CommandLine)
	flag.Parse()

	zero, err := unix.MemfdCreate("readsizes", unix.MFD_CLOEXEC)
	if err == nil {
		err = unix.Ftruncate(zero, maxReadSize)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "readsizes:", err)
		os.Exit(1)
	}
	hs.Begin()
	total := 0
	for _, item := range strings.Split(*reads, ",") {
		if item == "" {
			continue
		}
		n, size, err := countOf(item, "x", true)
		sz, err2 := strconv.Atoi(size)
		if err != nil || err2 != nil || sz < 0 {
			fmt.Fprintln(os.Stderr, "readsizes: -reads:", item)
			os.Exit(2)
		}
		if sz > maxReadSize {
			fmt.Fprintf(os.Stderr, "readsizes: -reads: %s: at most %d bytes\n", item, maxReadSize)
			os.Exit(2)
		}
		buf := make([]byte, sz)
		for i := 0; i < n; i++ {
			if _, err := unix.Seek(zero, 0, 0); err != nil {
				fmt.Fprintln(os.Stderr, "readsizes:", err)
				os.Exit(1)
			}
			if got, err := syscall.Read(zero, buf); err != nil || got != sz {
				fmt.Fprintf(os.Stderr, "readsizes: read %d bytes: %d, %v\n", sz, got, err)
				os.Exit(1)
			}
		}
		total += n
	}
	for _, item := range strings.Split(*opens, ",") {
		if item == "" {
			continue
		}
		n, path, err := countOf(item, ":", false)
		if err != nil {
			fmt.Fprintln(os.Stderr, "readsizes: -opens:", item)
			os.Exit(2)
		}
		for i := 0; i < n; i++ {
			fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
			if err != nil {
				fmt.Fprintln(os.Stderr, "readsizes:", err)
				os.Exit(1)
			}
			syscall.Close(fd)
		}
		total += n
	}
	handshake.Done(total)
}
