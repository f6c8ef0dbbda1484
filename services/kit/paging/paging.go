// Package paging is the keyset pagination both services' lists share: the
// page sizes and the opaque cursors (docs/conventions.md). The contracts
// declare the same bounds (limit 1..100, cursor 1..64 characters).
package paging

import (
	"encoding/base64"
	"strconv"
	"strings"
)

// Page sizes.
const (
	DefaultLimit = 20
	MaxLimit     = 100
)

// MaxCursorLen bounds a cursor; the longest either service issues (a log's:
// a letter and two 19-digit numbers) encodes to 54 characters.
const MaxCursorLen = 64

// LimitMessage is what a 422 says of a limit out of bounds.
const LimitMessage = "must be between 1 and 100"

// CursorMessage is what a 422 says of a cursor that does not decode.
const CursorMessage = "is not a cursor this list returned"

// Limit applies the default to a requested page size (nil: none asked) and
// reports whether it is within 1..MaxLimit.
func Limit(n *int) (int, bool) {
	if n == nil {
		return DefaultLimit, true
	}
	return *n, *n >= 1 && *n <= MaxLimit
}

var encoding = base64.RawURLEncoding.Strict()

// EncodeCursor is the opaque cursor naming a keyset position: base64url (no
// padding) of kind followed by the keys in canonical decimal, separated by
// dots. kind (a letter, or "" for a service with one list) keeps one list's
// cursor from being accepted by another.
func EncodeCursor(kind string, keys ...int64) string {
	b := make([]byte, 0, 40)
	b = append(b, kind...)
	for i, k := range keys {
		if i > 0 {
			b = append(b, '.')
		}
		b = strconv.AppendInt(b, k, 10)
	}
	return encoding.EncodeToString(b)
}

// DecodeCursor reverses EncodeCursor for a cursor of kind with n keys, each
// positive; it reports false for anything EncodeCursor cannot have made, so
// every position has exactly one spelling.
func DecodeCursor(s, kind string, n int) ([]int64, bool) {
	if s == "" || len(s) > MaxCursorLen {
		return nil, false
	}
	// The decoder skips line breaks; a cursor has none.
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if !('a' <= ch && ch <= 'z' || 'A' <= ch && ch <= 'Z' || '0' <= ch && ch <= '9' || ch == '-' || ch == '_') {
			return nil, false
		}
	}
	b, err := encoding.DecodeString(s)
	if err != nil {
		return nil, false
	}
	raw, ok := strings.CutPrefix(string(b), kind)
	if !ok {
		return nil, false
	}
	parts := strings.Split(raw, ".")
	if len(parts) != n {
		return nil, false
	}
	keys := make([]int64, n)
	for i, p := range parts {
		if keys[i], ok = parsePositive(p); !ok {
			return nil, false
		}
	}
	return keys, true
}

// parsePositive accepts only the canonical decimal form of a positive int64.
func parsePositive(s string) (int64, bool) {
	if s == "" || s[0] == '0' || s[0] == '+' || s[0] == '-' {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil && n > 0
}
