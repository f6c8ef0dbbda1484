package domain_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/progressive-overload/po/services/challenge/internal/domain"
)

// The squat plan needs 24 sessions; completingLogs meet every target.

func TestReopenOnlyWhenNoLongerComplete(t *testing.T) {
	c := storedChallenge(t, domain.StatusCompleted)
	if err := c.Reopen(completingLogs(t), nil, created); !errors.Is(err, domain.ErrChallengeStillComplete) {
		t.Fatalf("logs still complete the plan: %v", err)
	}
	if c.Status() != domain.StatusCompleted || c.UpdatedAt() != created {
		t.Fatalf("refused Reopen changed the challenge: %s %v", c.Status(), c.UpdatedAt())
	}
}

// A late user.validated must not reopen a completed challenge now that
// completed → active exists.
func TestActivateOnlyFromPending(t *testing.T) {
	c := storedChallenge(t, domain.StatusCompleted)
	if err := c.Activate(created); !errors.Is(err, domain.ErrInvalidTransition) || c.Status() != domain.StatusCompleted {
		t.Fatalf("Activate of a completed challenge: %v, %s", err, c.Status())
	}
}

func TestResettle(t *testing.T) {
	full := completingLogs(t)
	// The last session's "625" typo corrected to 6.25: that session misses
	// its target and the plan is no longer complete.
	typoFixed := slices.Clone(full)
	typoFixed[len(full)-1] = mustLog(t, domain.UnitKg, at(24, 18), 5, 6.25)
	later := created.Add(time.Hour)
	tests := []struct {
		from domain.Status
		logs []domain.WorkoutLog
		want domain.Status
		err  error
	}{
		{domain.StatusCompleted, typoFixed, domain.StatusActive, nil},
		{domain.StatusCompleted, full[:len(full)-1], domain.StatusActive, nil},
		{domain.StatusCompleted, full, domain.StatusCompleted, nil},
		{domain.StatusActive, full, domain.StatusCompleted, nil},
		{domain.StatusActive, typoFixed, domain.StatusActive, nil},
		{domain.StatusPending, full, domain.StatusPending, nil},
		{domain.StatusArchived, typoFixed, domain.StatusArchived, domain.ErrChallengeClosed},
		{domain.StatusRejected, full, domain.StatusRejected, domain.ErrChallengeClosed},
	}
	for _, tt := range tests {
		c := storedChallenge(t, tt.from)
		err := c.Resettle(tt.logs, nil, later)
		if !errors.Is(err, tt.err) || (tt.err == nil) != (err == nil) {
			t.Errorf("%s with %d logs: err %v, want %v", tt.from, len(tt.logs), err, tt.err)
		}
		if c.Status() != tt.want {
			t.Errorf("%s with %d logs: became %s, want %s", tt.from, len(tt.logs), c.Status(), tt.want)
		}
		if moved := tt.want != tt.from; moved != (c.UpdatedAt() == later) {
			t.Errorf("%s → %s: updatedAt %v", tt.from, c.Status(), c.UpdatedAt())
		}
	}
}

// Resettle agrees with Progress whatever the logs: status follows them.
func TestResettleFollowsProgress(t *testing.T) {
	full := completingLogs(t)
	for n := 0; n <= len(full); n++ {
		for _, from := range []domain.Status{domain.StatusActive, domain.StatusCompleted} {
			c := storedChallenge(t, from)
			if err := c.Resettle(full[:n], nil, created); err != nil {
				t.Fatal(err)
			}
			if got, want := c.Status() == domain.StatusCompleted, c.Progress(full[:n], nil, created).Complete; got != want {
				t.Fatalf("%d logs from %s: status %s, progress complete %v", n, from, c.Status(), want)
			}
		}
	}
}

func TestCheckCorrection(t *testing.T) {
	before := mustLog(t, domain.UnitKg, monday.Time().Add(-time.Minute), 5, 60)
	inPlan := mustLog(t, domain.UnitKg, at(1, 8), 5, 60)
	for _, s := range domain.Statuses() {
		c := storedChallenge(t, s)
		err := c.CheckCorrection(&inPlan, nil)
		if s.Terminal() != errors.Is(err, domain.ErrChallengeClosed) || (!s.Terminal() && err != nil) {
			t.Errorf("%s: %v", s, err)
		}
		if !s.Terminal() {
			if got := validationFields(t, c.CheckCorrection(&before, nil)); !slices.Equal(got, []string{"performedAt"}) {
				t.Errorf("%s: a log moved before the start: %v", s, got)
			}
			if err := c.CheckCorrection(nil, nil); err != nil {
				t.Errorf("%s: deleting: %v", s, err)
			}
		}
	}
}

func TestCorrected(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	l, err := domain.NewWorkoutLog(domain.UnitKg, domain.WorkoutLogSpec{
		PerformedAt: at(2, 7), Sets: 5, Reps: 5, Value: 625, Note: "typo",
	}, now)
	if err != nil {
		t.Fatal(err)
	}
	v, empty := 62.5, ""
	got, err := l.Corrected(domain.UnitKg, domain.WorkoutLogPatch{Value: &v, Note: &empty}, now)
	if err != nil {
		t.Fatal(err)
	}
	want := domain.WorkoutLogSpec{PerformedAt: at(2, 7), Sets: 5, Reps: 5, Value: 62.5}
	if got.Spec() != want {
		t.Fatalf("corrected %+v, want %+v", got.Spec(), want)
	}
	if same, err := l.Corrected(domain.UnitKg, domain.WorkoutLogPatch{}, now); err != nil || same != l {
		t.Fatalf("empty patch: %+v %v", same.Spec(), err)
	}
	// Every invalid field at once, as for a new log.
	zero, bad, future := 0, 62.555, now.Add(time.Hour)
	_, err = l.Corrected(domain.UnitKg, domain.WorkoutLogPatch{Sets: &zero, Value: &bad, PerformedAt: &future}, now)
	if got := validationFields(t, err); !slices.Equal(got, []string{"performedAt", "sets", "value"}) {
		t.Fatalf("fields %v", got)
	}
}
