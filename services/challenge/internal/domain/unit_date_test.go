package domain_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/progressive-overload/po/services/challenge/internal/domain"
)

func TestParseUnit(t *testing.T) {
	tests := []struct {
		in       string
		want     domain.Unit
		ok       bool
		load     bool
		decimals int
	}{
		{"kg", domain.UnitKg, true, true, 2},
		{"lb", domain.UnitLb, true, true, 2},
		{"reps", domain.UnitReps, true, false, 0},
		{"seconds", domain.UnitSeconds, true, false, 2},
		{"meters", domain.UnitMeters, true, false, 2},
		{"KG", "", false, false, 0},
		{" kg", "", false, false, 0},
		{"", "", false, false, 0},
		{"stone", "", false, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := domain.ParseUnit(tt.in)
			if (err == nil) != tt.ok || got != tt.want {
				t.Fatalf("ParseUnit(%q) = %q, %v", tt.in, got, err)
			}
			if !tt.ok {
				return
			}
			if got.IsLoad() != tt.load || got.Decimals() != tt.decimals || !got.Valid() || got.String() != tt.in {
				t.Errorf("%s: IsLoad %v, Decimals %d, Valid %v", got, got.IsLoad(), got.Decimals(), got.Valid())
			}
		})
	}
	if len(domain.Units()) != 5 {
		t.Errorf("Units() = %v", domain.Units())
	}
}

func TestNewDate(t *testing.T) {
	tests := []struct {
		y    int
		m    time.Month
		d    int
		ok   bool
		text string
	}{
		{2024, time.February, 29, true, "2024-02-29"},
		{2025, time.February, 29, false, ""},
		{2026, time.April, 31, false, ""},
		{2026, 13, 1, false, ""},
		{2026, 0, 1, false, ""},
		{2026, 1, 0, false, ""},
		{0, 1, 1, false, ""},
		{1, 1, 1, false, ""}, // Go's zero time: it would read as "no date"
		{999, 12, 31, false, ""},
		{10000, 1, 1, false, ""},
		{1000, 1, 1, true, "1000-01-01"},
		{9999, 12, 31, true, "9999-12-31"},
	}
	for _, tt := range tests {
		d, err := domain.NewDate(tt.y, tt.m, tt.d)
		if (err == nil) != tt.ok || d.String() != tt.text {
			t.Errorf("NewDate(%d, %d, %d) = %q, %v", tt.y, tt.m, tt.d, d, err)
		}
		if tt.ok {
			back, err := domain.ParseDate(tt.text)
			if err != nil || back != d {
				t.Errorf("ParseDate(%q) = %v, %v; want %v", tt.text, back, err, d)
			}
		}
	}
	for _, bad := range []string{"", "2026-1-5", "2026-01-05T00:00:00Z", "2026-02-30", "05/01/2026", "0001-01-01", "0999-12-31"} {
		if d, err := domain.ParseDate(bad); err == nil {
			t.Errorf("ParseDate(%q) = %v, want an error", bad, d)
		}
	}
}

func TestDateOfUsesTheUTCDay(t *testing.T) {
	sydney := time.FixedZone("AEDT", 11*3600)
	tests := []struct {
		in   time.Time
		want string
	}{
		{time.Date(2026, 1, 6, 8, 0, 0, 0, sydney), "2026-01-05"}, // Tuesday morning in Sydney is Monday in UTC
		{time.Date(2026, 1, 5, 23, 59, 59, 999999999, time.UTC), "2026-01-05"},
		{time.Date(2026, 1, 6, 0, 0, 0, 0, time.UTC), "2026-01-06"},
		{time.Date(1969, 12, 31, 23, 0, 0, 0, time.UTC), "1969-12-31"},
	}
	for _, tt := range tests {
		if got := domain.DateOf(tt.in).String(); got != tt.want {
			t.Errorf("DateOf(%v) = %s, want %s", tt.in, got, tt.want)
		}
	}
	if !domain.DateOf(time.Time{}).IsZero() || domain.DateOf(time.Time{}).String() != "" {
		t.Error("DateOf(zero time) is not the zero Date")
	}
}

func TestDateArithmetic(t *testing.T) {
	d := domain.MustDate(1969, 12, 31)
	tests := []struct {
		from, to domain.Date
		days     int
	}{
		{d, domain.MustDate(1970, 1, 1), 1}, // across the epoch, where day numbers turn negative
		{domain.MustDate(1970, 1, 1), d, -1},
		{domain.MustDate(2024, 2, 28), domain.MustDate(2024, 3, 1), 2},
		{domain.MustDate(2026, 1, 5), domain.MustDate(2026, 1, 5), 0},
		{domain.MustDate(2000, 1, 1), domain.MustDate(2999, 12, 31), 365242},
	}
	for _, tt := range tests {
		if got := tt.from.DaysUntil(tt.to); got != tt.days {
			t.Errorf("%v.DaysUntil(%v) = %d, want %d", tt.from, tt.to, got, tt.days)
		}
		if got := tt.from.AddDays(tt.days); got != tt.to {
			t.Errorf("%v.AddDays(%d) = %v, want %v", tt.from, tt.days, got, tt.to)
		}
		cmp := tt.from.Compare(tt.to)
		if (cmp < 0) != (tt.days > 0) || (cmp == 0) != (tt.days == 0) ||
			tt.from.Before(tt.to) != (tt.days > 0) || tt.from.After(tt.to) != (tt.days < 0) {
			t.Errorf("ordering of %v and %v is inconsistent with %d days", tt.from, tt.to, tt.days)
		}
	}
	if y, m, dd := d.Date(); y != 1969 || m != 12 || dd != 31 {
		t.Errorf("Date() = %d-%d-%d", y, m, dd)
	}
	if tm := d.Time(); tm.Location() != time.UTC || tm.Hour() != 0 {
		t.Errorf("Time() = %v, want midnight UTC", tm)
	}
}

func TestMustDatePanicsOnInvalidDate(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("MustDate(2025, 2, 29) did not panic")
		}
	}()
	domain.MustDate(2025, 2, 29)
}

func TestValidationErrorText(t *testing.T) {
	err := &domain.ValidationError{Fields: []domain.FieldError{
		{Field: "weeks", Message: "must be between 1 and 104"},
		{Field: "unit", Message: "is required"},
	}}
	if got, want := err.Error(), "invalid input: weeks must be between 1 and 104; unit is required"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if msg, ok := err.Field("unit"); !ok || msg != "is required" {
		t.Errorf("Field(unit) = %q, %v", msg, ok)
	}
	if _, ok := err.Field("title"); ok {
		t.Error("Field(title) found a field that is not there")
	}
}

func TestTransitionErrorMatchesSentinel(t *testing.T) {
	var err error = &domain.TransitionError{From: domain.StatusRejected, To: domain.StatusActive}
	if !errors.Is(err, domain.ErrInvalidTransition) {
		t.Error("TransitionError is not ErrInvalidTransition")
	}
	if errors.Is(err, domain.ErrChallengeClosed) {
		t.Error("TransitionError matches ErrChallengeClosed")
	}
	if !strings.Contains(err.Error(), "rejected") || !strings.Contains(err.Error(), "active") {
		t.Errorf("message %q does not name both statuses", err)
	}
}

func TestStatusParsing(t *testing.T) {
	for _, s := range domain.Statuses() {
		got, err := domain.ParseStatus(string(s))
		if err != nil || got != s || got.String() != string(s) {
			t.Errorf("ParseStatus(%q) = %q, %v", s, got, err)
		}
	}
	for _, bad := range []string{"", "Active", "deleted"} {
		if _, err := domain.ParseStatus(bad); err == nil {
			t.Errorf("ParseStatus(%q) succeeded", bad)
		}
	}
	want := []domain.Status{domain.StatusPending, domain.StatusActive, domain.StatusCompleted}
	if got := domain.ArchivableStatuses(); !slices.Equal(got, want) {
		t.Errorf("ArchivableStatuses() = %v, want %v", got, want)
	}
}
