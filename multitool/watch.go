package multitool

import (
	"context"
	"os"

	"golang.org/x/sys/unix"
)

// WatchOutput returns a context that is cancelled when ctx is, or when f
// is a pipe or socket whose reader has gone away (as with `btool ... |
// head`), so a tool that prints rarely still stops, and detaches, promptly
// instead of at its next write.
func WatchOutput(ctx context.Context, f *os.File) context.Context {
	fi, err := f.Stat()
	if err != nil || fi.Mode()&(os.ModeNamedPipe|os.ModeSocket) == 0 {
		return ctx
	}
	ctx, cancel := context.WithCancel(ctx)
	fd := int(f.Fd())
	go func() {
		defer cancel()
		fds := []unix.PollFd{{Fd: int32(fd), Events: 0}}
		for ctx.Err() == nil {
			n, err := unix.Poll(fds, 200)
			if err == unix.EINTR {
				continue
			}
			if err != nil {
				return
			}
			if n > 0 && fds[0].Revents&(unix.POLLERR|unix.POLLHUP|unix.POLLNVAL) != 0 {
				return
			}
		}
	}()
	return ctx
}
