// Package logging builds the structured logger every service uses, so all logs share
// one shape (JSON lines with a "service" attribute) that a log pipeline can parse.
package logging

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
)

// New returns a logger writing to w at level (debug|info|warn|error) in format
// json (production) or text (readable local runs). Text lines start with the
// service's name in a column, so the services of `make run` can share one
// terminal without a filter process prefixing every line.
func New(w io.Writer, service, level, format string) *slog.Logger {
	opts := &slog.HandlerOptions{Level: ParseLevel(level)}
	var h slog.Handler
	if strings.EqualFold(format, "text") {
		h = slog.NewTextHandler(&prefixed{w: w, prefix: fmt.Sprintf("%-10s| ", service)}, opts)
	} else {
		h = slog.NewJSONHandler(w, opts)
	}
	return slog.New(h).With("service", service)
}

// ParseLevel maps a level name to slog; unknown names mean info.
func ParseLevel(s string) slog.Level {
	switch strings.ToLower(s) {
	case "debug":
		return slog.LevelDebug
	case "warn", "warning":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	}
	return slog.LevelInfo
}

// prefixed writes prefix before each record: slog handlers write one record
// per Write. One Write out keeps a record whole on an unbuffered writer.
type prefixed struct {
	w      io.Writer
	prefix string
	mu     sync.Mutex
	buf    []byte
}

func (p *prefixed) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.buf = append(append(p.buf[:0], p.prefix...), b...)
	if _, err := p.w.Write(p.buf); err != nil {
		return 0, err
	}
	return len(b), nil
}
