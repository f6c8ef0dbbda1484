package app

import (
	"encoding/base64"
	"strconv"
	"strings"
	"time"
)

// Cursors are opaque to clients: base64url (no padding) of a short text that
// names the keyset position. Logs: "l<performed_at unix µs>.<id>";
// challenges: "c<id>". The letter keeps one list's cursor from being
// accepted by the other.

const maxCursorLen = 200

var cursorEncoding = base64.RawURLEncoding.Strict()

// EncodeLogCursor is the cursor of the page after the log at c.
func EncodeLogCursor(c LogCursor) string {
	b := make([]byte, 0, 40)
	b = append(b, 'l')
	b = strconv.AppendInt(b, c.PerformedAt.UnixMicro(), 10)
	b = append(b, '.')
	b = strconv.AppendInt(b, c.ID, 10)
	return cursorEncoding.EncodeToString(b)
}

// DecodeLogCursor parses a cursor from EncodeLogCursor; "" is the first page
// (nil). Anything else that does not parse is a 422 on "cursor".
func DecodeLogCursor(s string) (*LogCursor, error) {
	if s == "" {
		return nil, nil
	}
	raw, ok := decodeCursor(s, 'l')
	if !ok {
		return nil, errBadCursor
	}
	us, id, ok := strings.Cut(raw, ".")
	if !ok {
		return nil, errBadCursor
	}
	micros, ok1 := parsePositive(us)
	n, ok2 := parsePositive(id)
	if !ok1 || !ok2 {
		return nil, errBadCursor
	}
	return &LogCursor{PerformedAt: time.UnixMicro(micros).UTC(), ID: n}, nil
}

// EncodeChallengeCursor is the cursor of the page after challenge id.
func EncodeChallengeCursor(id int64) string {
	b := strconv.AppendInt([]byte{'c'}, id, 10)
	return cursorEncoding.EncodeToString(b)
}

// DecodeChallengeCursor parses a cursor from EncodeChallengeCursor; "" is 0.
func DecodeChallengeCursor(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	raw, ok := decodeCursor(s, 'c')
	if !ok {
		return 0, errBadCursor
	}
	id, ok := parsePositive(raw)
	if !ok {
		return 0, errBadCursor
	}
	return id, nil
}

var errBadCursor = invalidField("cursor", "is not a cursor this list returned")

func decodeCursor(s string, kind byte) (string, bool) {
	if len(s) > maxCursorLen {
		return "", false
	}
	// The decoder skips line breaks; a cursor has none.
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if !('a' <= ch && ch <= 'z' || 'A' <= ch && ch <= 'Z' || '0' <= ch && ch <= '9' || ch == '-' || ch == '_') {
			return "", false
		}
	}
	b, err := cursorEncoding.DecodeString(s)
	if err != nil || len(b) < 2 || b[0] != kind {
		return "", false
	}
	return string(b[1:]), true
}

// parsePositive accepts only the canonical decimal form of a positive int64,
// so every cursor has exactly one spelling.
func parsePositive(s string) (int64, bool) {
	if s == "" || s[0] == '0' || s[0] == '+' || s[0] == '-' {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil && n > 0
}
