// Package logging builds the structured logger every service uses, so all logs share
// one shape (JSON lines with a "service" attribute) that a log pipeline can parse.
package logging

import (
	"io"
	"log/slog"
	"strings"
)

// New returns a logger writing to w at level (debug|info|warn|error) in format
// json (production) or text (readable local runs).
func New(w io.Writer, service, level, format string) *slog.Logger {
	opts := &slog.HandlerOptions{Level: ParseLevel(level)}
	var h slog.Handler
	if strings.EqualFold(format, "text") {
		h = slog.NewTextHandler(w, opts)
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
