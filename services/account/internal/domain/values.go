package domain

import (
	"errors"
	"net/mail"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Limits of the account's values (the API contract and the columns agree).
const (
	MaxEmailLen       = 254 // characters (RFC 5321 path limit)
	MinPasswordLen    = 8   // characters
	MaxPasswordLen    = 128 // characters
	MaxDisplayNameLen = 100 // characters
)

// Email is a syntactically valid address, trimmed and lower-cased, so that
// addresses differing only in letter case are the same account.
type Email struct{ s string }

// NewEmail validates and normalises raw.
func NewEmail(raw string) (Email, error) {
	if !utf8.ValidString(raw) { // checked first: ToLower would replace bad bytes
		return Email{}, errors.New("is not valid UTF-8")
	}
	s := strings.ToLower(strings.TrimSpace(raw))
	switch {
	case s == "":
		return Email{}, errors.New("is required")
	case utf8.RuneCountInString(s) > MaxEmailLen:
		return Email{}, errors.New("must be at most 254 characters")
	}
	addr, err := mail.ParseAddress(s)
	// The whole input must be the address: no display name, no <...>.
	if err != nil || addr.Name != "" || addr.Address != s {
		return Email{}, errors.New("is not a valid email address")
	}
	local, domain, ok := strings.Cut(s, "@")
	if !ok || local == "" || domain == "" || strings.ContainsAny(s, " \t\r\n") {
		return Email{}, errors.New("is not a valid email address")
	}
	return Email{s: s}, nil
}

// MustEmail is NewEmail for values known to be valid (tests, constants).
func MustEmail(raw string) Email {
	e, err := NewEmail(raw)
	if err != nil {
		panic(err)
	}
	return e
}

func (e Email) String() string { return e.s }

// IsZero reports whether e is the zero value.
func (e Email) IsZero() bool { return e.s == "" }

// ValidatePassword applies the password policy to a new password: 8 to 128
// characters and not whitespace only. Existing passwords are never re-checked
// (the policy may tighten after they were set).
func ValidatePassword(p string) error {
	if !utf8.ValidString(p) {
		return errors.New("is not valid UTF-8")
	}
	n := utf8.RuneCountInString(p)
	switch {
	case n < MinPasswordLen:
		return errors.New("must be at least 8 characters")
	case n > MaxPasswordLen:
		return errors.New("must be at most 128 characters")
	case strings.TrimFunc(p, unicode.IsSpace) == "":
		return errors.New("must not be only whitespace")
	}
	return nil
}

// DisplayName is how an account is shown to people: trimmed, 1 to 100
// characters, no control characters.
type DisplayName struct{ s string }

// NewDisplayName validates and trims raw.
func NewDisplayName(raw string) (DisplayName, error) {
	s := strings.TrimSpace(raw)
	switch {
	case !utf8.ValidString(s):
		return DisplayName{}, errors.New("is not valid UTF-8")
	case s == "":
		return DisplayName{}, errors.New("must not be empty")
	case utf8.RuneCountInString(s) > MaxDisplayNameLen:
		return DisplayName{}, errors.New("must be at most 100 characters")
	case strings.IndexFunc(s, unicode.IsControl) >= 0:
		return DisplayName{}, errors.New("must not contain control characters")
	}
	return DisplayName{s: s}, nil
}

func (d DisplayName) String() string { return d.s }

// Role is what an account may do.
type Role string

const (
	RoleUser  Role = "user"
	RoleAdmin Role = "admin"
)

// Valid reports whether r is a defined role.
func (r Role) Valid() bool { return r == RoleUser || r == RoleAdmin }

// Status is an account's lifecycle state.
type Status string

const (
	StatusActive    Status = "active"
	StatusSuspended Status = "suspended"
	StatusDeleted   Status = "deleted"
)

// Valid reports whether s is a defined status.
func (s Status) Valid() bool {
	return s == StatusActive || s == StatusSuspended || s == StatusDeleted
}

// MaxTimeZoneLen bounds a zone name; the longest in the tz database is 32.
const MaxTimeZoneLen = 64

// DefaultTimeZone is the zone of accounts that never chose one: their days
// were UTC days before time zones existed, and stay so.
const DefaultTimeZone = "UTC"

// TimeZone is an IANA time zone name ("Europe/Berlin") that the tz database
// knows. The binaries embed the database (time/tzdata), so what is valid
// does not depend on the host's /usr/share/zoneinfo.
type TimeZone struct{ s string }

// NewTimeZone validates raw exactly as given: zone names are case-sensitive
// identifiers, and "Local" (the server's own zone) is no user's zone.
func NewTimeZone(raw string) (TimeZone, error) {
	switch {
	case raw == "":
		return TimeZone{}, errors.New("must not be empty")
	case len(raw) > MaxTimeZoneLen:
		return TimeZone{}, errors.New("must be at most 64 characters")
	case raw == "Local":
		return TimeZone{}, errors.New("must be an IANA time zone such as Europe/Berlin")
	}
	if _, err := time.LoadLocation(raw); err != nil {
		return TimeZone{}, errors.New("is not a time zone of the tz database (e.g. Europe/Berlin, America/Los_Angeles, UTC)")
	}
	return TimeZone{s: raw}, nil
}

// MustTimeZone is NewTimeZone for constants; it panics on an invalid name.
func MustTimeZone(raw string) TimeZone {
	tz, err := NewTimeZone(raw)
	if err != nil {
		panic(err)
	}
	return tz
}

func (z TimeZone) String() string { return z.s }

// IsZero reports whether z was never set.
func (z TimeZone) IsZero() bool { return z.s == "" }
