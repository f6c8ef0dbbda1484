package domain_test

import (
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/progressive-overload/po/services/challenge/internal/domain"
)

func TestNewWorkoutLog(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	good := domain.WorkoutLogSpec{PerformedAt: now.Add(-time.Hour), Sets: 3, Reps: 5, Value: 62.5, Note: "ok"}
	tests := []struct {
		name   string
		unit   domain.Unit
		modify func(*domain.WorkoutLogSpec)
		fields []string // nil: valid
	}{
		{"load log", domain.UnitKg, func(*domain.WorkoutLogSpec) {}, nil},
		{"just inside the clock skew", domain.UnitKg, func(s *domain.WorkoutLogSpec) { s.PerformedAt = now.Add(domain.MaxClockSkew) }, nil},
		{"limits", domain.UnitLb, func(s *domain.WorkoutLogSpec) { s.Sets, s.Reps, s.Value = 100, 1000, 100000 }, nil},
		{"smallest values", domain.UnitKg, func(s *domain.WorkoutLogSpec) { s.Sets, s.Reps, s.Value = 1, 1, 0.01 }, nil},
		{"count with reps 1", domain.UnitReps, func(s *domain.WorkoutLogSpec) { s.Reps, s.Value = 1, 12 }, nil},
		{"time with reps 1", domain.UnitSeconds, func(s *domain.WorkoutLogSpec) { s.Reps, s.Value = 1, 45.25 }, nil},
		{"500-character note with line breaks", domain.UnitKg, func(s *domain.WorkoutLogSpec) {
			s.Note = strings.Repeat("ü\n", 250)
		}, nil},
		{"beyond the clock skew", domain.UnitKg, func(s *domain.WorkoutLogSpec) {
			s.PerformedAt = now.Add(domain.MaxClockSkew + time.Microsecond)
		}, []string{"performedAt"}},
		{"no time", domain.UnitKg, func(s *domain.WorkoutLogSpec) { s.PerformedAt = time.Time{} }, []string{"performedAt"}},
		{"before 2000", domain.UnitKg, func(s *domain.WorkoutLogSpec) { s.PerformedAt = time.Unix(0, 0) }, []string{"performedAt"}},
		{"no sets", domain.UnitKg, func(s *domain.WorkoutLogSpec) { s.Sets = 0 }, []string{"sets"}},
		{"101 sets", domain.UnitKg, func(s *domain.WorkoutLogSpec) { s.Sets = 101 }, []string{"sets"}},
		{"no reps", domain.UnitKg, func(s *domain.WorkoutLogSpec) { s.Reps = 0 }, []string{"reps"}},
		{"1001 reps", domain.UnitKg, func(s *domain.WorkoutLogSpec) { s.Reps = 1001 }, []string{"reps"}},
		{"reps on a count unit", domain.UnitReps, func(s *domain.WorkoutLogSpec) { s.Reps, s.Value = 12, 12 }, []string{"reps"}},
		{"reps 0 on meters", domain.UnitMeters, func(s *domain.WorkoutLogSpec) { s.Reps = 0 }, []string{"reps"}},
		{"zero value", domain.UnitKg, func(s *domain.WorkoutLogSpec) { s.Value = 0 }, []string{"value"}},
		{"NaN value", domain.UnitKg, func(s *domain.WorkoutLogSpec) { s.Value = math.NaN() }, []string{"value"}},
		{"value over the limit", domain.UnitKg, func(s *domain.WorkoutLogSpec) { s.Value = 100000.01 }, []string{"value"}},
		{"value too precise", domain.UnitKg, func(s *domain.WorkoutLogSpec) { s.Value = 62.555 }, []string{"value"}},
		{"half a rep", domain.UnitReps, func(s *domain.WorkoutLogSpec) { s.Reps, s.Value = 1, 10.5 }, []string{"value"}},
		{"note too long", domain.UnitKg, func(s *domain.WorkoutLogSpec) { s.Note = strings.Repeat("x", 501) }, []string{"note"}},
		{"note invalid UTF-8", domain.UnitKg, func(s *domain.WorkoutLogSpec) { s.Note = "\xc3\x28" }, []string{"note"}},
		{"note with a NUL", domain.UnitKg, func(s *domain.WorkoutLogSpec) { s.Note = "a\x00b" }, []string{"note"}},
		{"everything wrong", domain.UnitKg, func(s *domain.WorkoutLogSpec) {
			*s = domain.WorkoutLogSpec{Sets: -1, Reps: -1, Value: -1, Note: "\xff"}
		}, []string{"performedAt", "sets", "reps", "value", "note"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := good
			tt.modify(&spec)
			l, err := domain.NewWorkoutLog(tt.unit, spec, now)
			if tt.fields == nil {
				if err != nil {
					t.Fatalf("NewWorkoutLog: %v", err)
				}
				if l.Sets() != spec.Sets || l.Reps() != spec.Reps || l.Value() != spec.Value || l.Note() != strings.TrimSpace(spec.Note) {
					t.Errorf("log %+v does not reflect %+v", l.Spec(), spec)
				}
				return
			}
			if got := validationFields(t, err); !slices.Equal(got, tt.fields) {
				t.Errorf("invalid fields = %v, want %v", got, tt.fields)
			}
		})
	}
}

func TestWorkoutLogNormalizesTime(t *testing.T) {
	paris := time.FixedZone("CET", 3600)
	in := time.Date(2026, 2, 1, 18, 30, 0, 123456789, paris)
	l, err := domain.NewWorkoutLog(domain.UnitKg, domain.WorkoutLogSpec{PerformedAt: in, Sets: 1, Reps: 1, Value: 100, Note: "  pr \n"}, farFuture)
	if err != nil {
		t.Fatal(err)
	}
	want := time.Date(2026, 2, 1, 17, 30, 0, 123456000, time.UTC)
	if got := l.PerformedAt(); !got.Equal(want) || got.Location() != time.UTC {
		t.Errorf("PerformedAt = %v, want %v (UTC, microseconds like DATETIME(6))", got, want)
	}
	if l.Note() != "pr" {
		t.Errorf("Note = %q, want it trimmed", l.Note())
	}
}

func TestUnmarshalWorkoutLogSkipsOnlyTheClock(t *testing.T) {
	future := domain.WorkoutLogSpec{PerformedAt: farFuture.AddDate(1, 0, 0), Sets: 1, Reps: 1, Value: 10}
	if _, err := domain.UnmarshalWorkoutLogFromDatabase(domain.UnitKg, future); err != nil {
		t.Errorf("a stored log dated after now was refused: %v", err)
	}
	bad := future
	bad.Sets = 0
	if _, err := domain.UnmarshalWorkoutLogFromDatabase(domain.UnitKg, bad); err == nil {
		t.Error("a stored log with 0 sets was accepted")
	}
}

func TestNewWorkoutLogUnknownUnitIsNotAFieldError(t *testing.T) {
	_, err := domain.NewWorkoutLog("stone", domain.WorkoutLogSpec{PerformedAt: farFuture, Sets: 1, Reps: 1, Value: 1}, farFuture)
	if err == nil {
		t.Fatal("unknown unit accepted")
	}
	var ve *domain.ValidationError
	if errors.As(err, &ve) {
		t.Errorf("unknown unit reported as a client field error: %v", err)
	}
}
