package domain

import (
	"fmt"
	"time"
)

const dateLayout = "2006-01-02"

const secondsPerDay = 24 * 60 * 60

// Date is a civil date (no time of day, no zone). It is held as midnight UTC
// because that is how the database driver reads a DATE column. The zero
// value means "no date".
type Date struct {
	t time.Time
}

// Years a Date may have: MySQL's DATE range. It also keeps 0001-01-01, which
// is Go's zero time and so means "no date" here, out of reach.
const (
	minYear = 1000
	maxYear = 9999
)

// NewDate refuses dates that time.Date would silently normalize (February
// 30th) and years outside 1000..9999.
func NewDate(year int, month time.Month, day int) (Date, error) {
	if year < minYear || year > maxYear {
		return Date{}, fmt.Errorf("invalid date: year %d is outside %d..%d", year, minYear, maxYear)
	}
	t := time.Date(year, month, day, 0, 0, 0, 0, time.UTC)
	if y, m, d := t.Date(); y != year || m != month || d != day {
		return Date{}, fmt.Errorf("invalid date: %04d-%02d-%02d does not exist", year, int(month), day)
	}
	return Date{t: t}, nil
}

// ParseDate reads YYYY-MM-DD (RFC 3339 full-date), years 1000..9999.
func ParseDate(s string) (Date, error) {
	t, err := time.Parse(dateLayout, s)
	if err != nil || t.Year() < minYear {
		return Date{}, fmt.Errorf("invalid date %q: want YYYY-MM-DD from %d on", s, minYear)
	}
	return Date{t: t}, nil
}

// MustDate is NewDate for constants known to be valid; it panics otherwise.
func MustDate(year int, month time.Month, day int) Date {
	d, err := NewDate(year, month, day)
	if err != nil {
		panic(err)
	}
	return d
}

// DateOf is the UTC calendar day of t; the zero time gives the zero Date.
func DateOf(t time.Time) Date {
	y, m, d := t.UTC().Date()
	return Date{t: time.Date(y, m, d, 0, 0, 0, 0, time.UTC)}
}

// DateIn is the calendar day of t in zone (nil is UTC): the user's "today"
// or the day they trained.
func DateIn(t time.Time, zone *time.Location) Date {
	if zone == nil {
		zone = time.UTC
	}
	y, m, d := t.In(zone).Date()
	return Date{t: time.Date(y, m, d, 0, 0, 0, 0, time.UTC)}
}

// IsZero reports whether d is the zero Date.
func (d Date) IsZero() bool { return d.t.IsZero() }

// Time is midnight UTC at the start of d.
func (d Date) Time() time.Time { return d.t }

// Date returns the year, month and day.
func (d Date) Date() (int, time.Month, int) { return d.t.Date() }

// String is YYYY-MM-DD, or "" for the zero Date.
func (d Date) String() string {
	if d.IsZero() {
		return ""
	}
	return d.t.Format(dateLayout)
}

// AddDays moves d by n days (n may be negative).
func (d Date) AddDays(n int) Date { return Date{t: d.t.AddDate(0, 0, n)} }

// DaysUntil is the number of days from d to o (negative when o is earlier).
func (d Date) DaysUntil(o Date) int { return int(o.dayNumber() - d.dayNumber()) }

// Compare returns -1, 0 or +1 as d is before, equal to or after o.
func (d Date) Compare(o Date) int { return d.t.Compare(o.t) }

// Before reports whether d is earlier than o.
func (d Date) Before(o Date) bool { return d.t.Before(o.t) }

// After reports whether d is later than o.
func (d Date) After(o Date) bool { return d.t.After(o.t) }

func (d Date) dayNumber() int64 { return dayNumber(d.t) }

// dayNumber is days since 1970-01-01 of t's UTC date: grouping logs by day
// with it costs no allocation and no time-zone lookup.
func dayNumber(t time.Time) int64 {
	s := t.Unix()
	n := s / secondsPerDay
	if s%secondsPerDay < 0 {
		n--
	}
	return n
}

// localDay is dayNumber of t's calendar day in zone (nil is UTC): the day
// number of the wall clock, so sessions group by the user's own day. UTC
// skips the zone lookup, which is the only cost over dayNumber.
func localDay(t time.Time, zone *time.Location) int64 {
	if zone == nil || zone == time.UTC {
		return dayNumber(t)
	}
	_, offset := t.In(zone).Zone()
	return dayNumber(t.Add(time.Duration(offset) * time.Second))
}
