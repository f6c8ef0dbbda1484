package logging

import (
	"bufio"
	"io"
	"sync"
	"time"
)

// A profile of the cached hot read showed the access log's write(2) per
// request among the syscalls that dominate it. Buffered gathers lines and
// writes them in batches: on a short interval, when the buffer fills, and on
// Close, so a SIGTERM loses nothing. A crash can lose at most one interval.

// DefaultFlushInterval bounds how late a log line reaches its reader.
const DefaultFlushInterval = 100 * time.Millisecond

// bufferSize holds a few hundred access-log lines; a longer burst is
// written as it fills.
const bufferSize = 64 << 10

// Buffered is an io.Writer for a slog handler that batches its writes.
// Lines stay whole and in order: the handler writes one record per Write,
// and Write holds the lock for all of it.
type Buffered struct {
	mu   sync.Mutex
	buf  *bufio.Writer // nil: written through to out
	out  io.Writer
	stop chan struct{}
	done chan struct{}
	once sync.Once
}

// NewBuffered writes to w at most every interval; interval <= 0 writes every
// line through at once, as an unbuffered writer would. Close it.
func NewBuffered(w io.Writer, every time.Duration) *Buffered {
	b := &Buffered{out: w, stop: make(chan struct{}), done: make(chan struct{})}
	if every <= 0 {
		close(b.done)
		return b
	}
	b.buf = bufio.NewWriterSize(w, bufferSize)
	go b.flushEvery(every)
	return b
}

func (b *Buffered) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.buf == nil {
		return b.out.Write(p)
	}
	return b.buf.Write(p)
}

// Flush writes what is buffered.
func (b *Buffered) Flush() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.buf == nil {
		return nil
	}
	return b.buf.Flush()
}

// Close stops the interval and flushes; lines written afterwards go through
// unbuffered, so a late log line (a deferred error) is not lost either.
func (b *Buffered) Close() error {
	b.once.Do(func() {
		if b.buf != nil {
			close(b.stop)
		}
	})
	<-b.done
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.buf == nil {
		return nil
	}
	err := b.buf.Flush()
	b.buf = nil
	return err
}

func (b *Buffered) flushEvery(every time.Duration) {
	defer close(b.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-t.C:
			// A failed write (a closed pipe) is not the logger's to report:
			// bufio keeps the error and later writes return it to slog.
			_ = b.Flush()
		}
	}
}
