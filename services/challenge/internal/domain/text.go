package domain

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// checkLine validates a required one-line text: it returns the trimmed text,
// or a message. Lengths count characters (code points) because MySQL's
// VARCHAR(n) in utf8mb4 does, so what passes here always fits the column.
func checkLine(s string, maxLen int) (string, string) {
	if !utf8.ValidString(s) {
		return "", "must be valid UTF-8"
	}
	t := strings.TrimSpace(s)
	if t == "" {
		return "", "is required"
	}
	if utf8.RuneCountInString(t) > maxLen {
		return "", fmt.Sprintf("must be at most %d characters", maxLen)
	}
	if strings.ContainsFunc(t, unicode.IsControl) {
		return "", "must not contain control characters"
	}
	return t, ""
}

// checkNote is checkLine for optional multi-line text: line breaks and tabs
// are the only control characters a note may hold.
func checkNote(s string, maxLen int) (string, string) {
	if !utf8.ValidString(s) {
		return "", "must be valid UTF-8"
	}
	t := strings.TrimSpace(s)
	if utf8.RuneCountInString(t) > maxLen {
		return "", fmt.Sprintf("must be at most %d characters", maxLen)
	}
	if strings.ContainsFunc(t, func(r rune) bool {
		return unicode.IsControl(r) && r != '\n' && r != '\r' && r != '\t'
	}) {
		return "", "must not contain control characters other than line breaks and tabs"
	}
	return t, ""
}

// cleanReason never refuses: a status reason often comes from another
// service's event, and refusing it would leave the challenge stuck in its old
// status. It is made to fit instead.
func cleanReason(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if utf8.RuneCountInString(s) > MaxReasonLen {
		s = string([]rune(s)[:MaxReasonLen])
		s = strings.TrimSpace(s)
	}
	return s
}
