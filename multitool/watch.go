package multitool

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"sync/atomic"
	"time"

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

// drainTimeout bounds how long a tool keeps printing after it was told
// to stop (Ctrl-C, SIGTERM): what the output has not taken by then is
// dropped and counted, so a slow or blocked reader of stdout can't keep
// the process, and its probes, alive. Half a second leaves room under the
// 2 s users are promised for a loaded machine, where detaching and closing
// perf buffers take a while too.
const drainTimeout = 500 * time.Millisecond

// outChunk is a piece of output and the number of events it carries.
type outChunk struct {
	buf    *bytes.Buffer
	events int
}

// asyncWriter writes to w from its own goroutine, so that a write blocked
// on a pipe nobody reads can't hold up the tool: the tool waits for room
// with a context, and on cancellation gives up on the writer, counting
// what it did not write. A goroutine still blocked in write doesn't keep
// the process alive (main exits through os.Exit).
type asyncWriter struct {
	w    io.Writer
	ch   chan outChunk
	free chan *bytes.Buffer
	done chan struct{} // closed when the writer goroutine returns

	// Set by the writer goroutine; read after done is closed, or through
	// the atomics.
	err     error
	written atomic.Int64 // events in chunks written whole
	sent    int64        // events handed over; the caller's goroutine only
}

// asyncChunks is how many chunks may wait for the writer: enough to keep
// it busy while the tool formats the next one.
const asyncChunks = 4

func newAsyncWriter(w io.Writer) *asyncWriter {
	a := &asyncWriter{w: w, ch: make(chan outChunk, asyncChunks), free: make(chan *bytes.Buffer, asyncChunks+1), done: make(chan struct{})}
	go a.run()
	return a
}

func (a *asyncWriter) run() {
	defer close(a.done)
	for c := range a.ch {
		if a.err == nil {
			if _, err := a.w.Write(c.buf.Bytes()); err != nil {
				a.err = err // the rest is not written, and not counted
			} else {
				a.written.Add(int64(c.events))
			}
		}
		c.buf.Reset()
		select {
		case a.free <- c.buf:
		default:
		}
	}
}

// buffer returns an empty buffer to build the next chunk in.
func (a *asyncWriter) buffer() *bytes.Buffer {
	select {
	case b := <-a.free:
		return b
	default:
		return new(bytes.Buffer)
	}
}

// send hands b, carrying events events, to the writer, waiting for room
// until ctx ends. b belongs to the writer once send returns nil. It fails
// with ctx's error, or with the writer's once a write failed (a closed
// pipe).
func (a *asyncWriter) send(ctx context.Context, b *bytes.Buffer, events int) error {
	if b.Len() == 0 && events == 0 {
		return nil
	}
	select {
	case <-a.done:
		return a.err
	default:
	}
	// Room now wins over an ended ctx: select would pick between them at
	// random, and a writer that keeps up must get what is ready.
	select {
	case a.ch <- outChunk{b, events}:
		a.sent += int64(events)
		return nil
	default:
	}
	select {
	case a.ch <- outChunk{b, events}:
		a.sent += int64(events)
		return nil
	case <-a.done:
		return a.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// close stops the writer after what was sent is written, waiting until
// ctx ends. It returns the number of events sent but not written (not
// counting those lost to a write error), and the write error, if any.
// After a timeout the writer goroutine is abandoned, maybe blocked in a
// write.
func (a *asyncWriter) close(ctx context.Context) (unwritten int, err error) {
	close(a.ch)
	select {
	case <-a.done:
		if a.err != nil {
			return 0, a.err
		}
	case <-ctx.Done():
	}
	return int(a.sent - a.written.Load()), nil
}

// droppedMessage is the note printed on stderr when n events (or
// summaries: what) were not printed because the output did not take them
// in time after Ctrl-C.
func droppedMessage(n int, what string) string {
	return fmt.Sprintf("btool: %d %s not printed (output too slow): dropped %v after the interrupt", n, what, drainTimeout)
}

// afterCancel returns a context that ends d after ctx ends (or when
// cancel is called): the bound on finishing the output once the user
// asked to stop.
func afterCancel(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	c, cancel := context.WithCancel(context.Background())
	go func() {
		select {
		case <-ctx.Done():
		case <-c.Done():
			return
		}
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
			cancel()
		case <-c.Done():
		}
	}()
	return c, cancel
}
