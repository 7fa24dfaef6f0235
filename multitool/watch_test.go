package multitool

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
	"time"
)

// blockingWriter blocks every write until release is closed.
type blockingWriter struct {
	release chan struct{}
	got     bytes.Buffer
}

func (w *blockingWriter) Write(p []byte) (int, error) {
	<-w.release
	return w.got.Write(p)
}

// TestAsyncWriterAbandonsBlockedWrite: a writer stuck in write (a pipe
// nobody reads) holds up neither send, past its context, nor close, past
// its deadline; close counts the events not written.
func TestAsyncWriterAbandonsBlockedWrite(t *testing.T) {
	w := &blockingWriter{release: make(chan struct{})}
	defer close(w.release)
	a := newAsyncWriter(w)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	sent := 0
	start := time.Now()
	for {
		b := a.buffer()
		b.WriteString("line\n")
		if err := a.send(ctx, b, 3); err != nil {
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("send: %v", err)
			}
			break
		}
		sent += 3
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("send blocked %v past its context", d)
	}
	// One chunk is in the blocked write, asyncChunks more queued.
	if want := 3 * (asyncChunks + 1); sent != want {
		t.Errorf("sent %d events before blocking, want %d", sent, want)
	}
	cctx, ccancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer ccancel()
	unwritten, err := a.close(cctx)
	if err != nil || unwritten != sent {
		t.Errorf("close = %d, %v; want %d, nil", unwritten, err, sent)
	}
}

// TestAsyncWriterWrites: everything sent is written, in order, before
// close returns, and a write error (a closed pipe) is returned, not
// counted as too slow.
func TestAsyncWriterWrites(t *testing.T) {
	var out bytes.Buffer
	a := newAsyncWriter(&out)
	for i := range 100 {
		b := a.buffer()
		b.WriteByte(byte('a' + i%26))
		if err := a.send(context.Background(), b, 1); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := a.close(context.Background()); n != 0 || err != nil {
		t.Errorf("close = %d, %v", n, err)
	}
	if out.Len() != 100 || out.String()[:3] != "abc" {
		t.Errorf("wrote %q", out.String())
	}

	a = newAsyncWriter(errWriter{})
	b := a.buffer()
	b.WriteString("x")
	a.send(context.Background(), b, 1)
	if _, err := a.close(context.Background()); !errors.Is(err, io.ErrClosedPipe) {
		t.Errorf("close after a failed write: %v", err)
	}
}

type errWriter struct{}

func (errWriter) Write([]byte) (int, error) { return 0, io.ErrClosedPipe }

// TestAfterCancel: the context ends d after its parent, not before.
func TestAfterCancel(t *testing.T) {
	parent, cancel := context.WithCancel(context.Background())
	c, stop := afterCancel(parent, 50*time.Millisecond)
	defer stop()
	select {
	case <-c.Done():
		t.Fatal("ended before its parent")
	case <-time.After(20 * time.Millisecond):
	}
	start := time.Now()
	cancel()
	<-c.Done()
	if d := time.Since(start); d < 40*time.Millisecond {
		t.Errorf("ended %v after its parent, want about 50ms", d)
	}
}
