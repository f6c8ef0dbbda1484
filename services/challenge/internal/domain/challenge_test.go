package domain_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/progressive-overload/po/services/challenge/internal/domain"
)

var created = time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)

// storedChallenge is a challenge as read back from storage in status s.
func storedChallenge(t *testing.T, s domain.Status) *domain.Challenge {
	t.Helper()
	c, err := domain.UnmarshalChallengeFromDatabase(7, 42, "Squat to 117.5", mustPlan(t, squatSpec()), s, "", created, created, 0)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// completingLogs meet every target of the squat plan, one session a day.
func completingLogs(t *testing.T) []domain.WorkoutLog {
	t.Helper()
	p := mustPlan(t, squatSpec())
	var logs []domain.WorkoutLog
	for s := range p.Sessions() {
		logs = append(logs, mustLog(t, domain.UnitKg, at(s.Number, 18), 5, s.Target))
	}
	return logs
}

func TestNewChallenge(t *testing.T) {
	now := time.Date(2026, 1, 2, 10, 0, 0, 999999999, time.FixedZone("X", 3600))
	c, err := domain.NewChallengeFromSpec(42, "  Squat cycle  ", squatSpec(), now)
	if err != nil {
		t.Fatal(err)
	}
	wantTime := time.Date(2026, 1, 2, 9, 0, 0, 999999000, time.UTC)
	switch {
	case c.ID() != 0 || c.UserID() != 42 || c.Title() != "Squat cycle":
		t.Errorf("id %d, user %d, title %q", c.ID(), c.UserID(), c.Title())
	case c.Status() != domain.StatusPending || c.StatusReason() != "" || !c.AcceptsLogs():
		t.Errorf("status %s (%q), accepts logs %v", c.Status(), c.StatusReason(), c.AcceptsLogs())
	case c.CreatedAt() != wantTime || c.UpdatedAt() != wantTime:
		t.Errorf("created %v, updated %v, want %v", c.CreatedAt(), c.UpdatedAt(), wantTime)
	case c.Plan().Exercise() != "Back squat":
		t.Errorf("plan %+v", c.Plan())
	}
	if err := c.AssignID(0); err == nil {
		t.Error("AssignID(0) accepted")
	}
	if err := c.AssignID(99); err != nil || c.ID() != 99 {
		t.Errorf("AssignID(99): %v, id %d", err, c.ID())
	}
	if err := c.AssignID(100); err == nil || c.ID() != 99 {
		t.Errorf("second AssignID: %v, id %d", err, c.ID())
	}
}

func TestNewChallengeRefuses(t *testing.T) {
	plan := squatSpec()
	if _, err := domain.NewChallengeFromSpec(0, "t", plan, created); !errors.Is(err, domain.ErrInvalidUserID) {
		t.Errorf("user 0: %v", err)
	}
	for _, title := range []string{"", "   ", strings.Repeat("a", 121), "a\tb", "\xff"} {
		_, err := domain.NewChallengeFromSpec(1, title, plan, created)
		if got := validationFields(t, err); !slices.Equal(got, []string{"title"}) {
			t.Errorf("title %q: fields %v", title, got)
		}
	}
	if _, err := domain.NewChallengeFromSpec(1, strings.Repeat("ж", 120), plan, created); err != nil {
		t.Errorf("120-character title refused: %v", err)
	}
}

func TestNewChallengeFromSpecReportsTitleAndPlanTogether(t *testing.T) {
	spec := squatSpec()
	spec.Weeks = 0
	spec.Unit = "stone"
	_, err := domain.NewChallengeFromSpec(1, " ", spec, created)
	if got, want := validationFields(t, err), []string{"title", "unit", "weeks"}; !slices.Equal(got, want) {
		t.Errorf("fields = %v, want %v", got, want)
	}
	c, err := domain.NewChallengeFromSpec(1, "ok", squatSpec(), created)
	if err != nil || c.Plan() != mustPlan(t, squatSpec()) {
		t.Errorf("valid spec: %v", err)
	}
	if _, err := domain.NewChallengeFromSpec(-1, "ok", squatSpec(), created); !errors.Is(err, domain.ErrInvalidUserID) {
		t.Errorf("user -1: %v", err)
	}
}

func TestTransitions(t *testing.T) {
	type action struct {
		name string
		to   domain.Status
		do   func(*domain.Challenge, time.Time) error
	}
	actions := []action{
		{"Activate", domain.StatusActive, func(c *domain.Challenge, now time.Time) error { return c.Activate(now) }},
		{"Reject", domain.StatusRejected, func(c *domain.Challenge, now time.Time) error { return c.Reject("user suspended", now) }},
		{"Archive", domain.StatusArchived, func(c *domain.Challenge, now time.Time) error { return c.Archive("user deleted", now) }},
		{"Complete", domain.StatusCompleted, func(c *domain.Challenge, now time.Time) error {
			return c.Complete(completingLogs(t), time.UTC, now)
		}},
		{"Reopen", domain.StatusActive, func(c *domain.Challenge, now time.Time) error {
			logs := completingLogs(t)
			return c.Reopen(logs[:len(logs)-1], nil, now)
		}},
	}
	// From which statuses each method moves: Activate and Reopen share the
	// target but not the edge.
	allowed := map[string][]domain.Status{
		"Activate": {domain.StatusPending},
		"Reject":   {domain.StatusPending},
		"Archive":  {domain.StatusPending, domain.StatusActive, domain.StatusCompleted},
		"Complete": {domain.StatusActive},
		"Reopen":   {domain.StatusCompleted},
	}
	later := created.Add(time.Hour)
	for _, from := range domain.Statuses() {
		for _, a := range actions {
			t.Run(string(from)+"/"+a.name, func(t *testing.T) {
				c := storedChallenge(t, from)
				err := a.do(c, later)
				if slices.Contains(allowed[a.name], from) {
					if err != nil {
						t.Fatalf("refused: %v", err)
					}
					if c.Status() != a.to || c.UpdatedAt() != later {
						t.Errorf("status %s, updated %v", c.Status(), c.UpdatedAt())
					}
					if !from.CanBecome(a.to) {
						t.Errorf("CanBecome disagrees with the method")
					}
					return
				}
				var te *domain.TransitionError
				if !errors.Is(err, domain.ErrInvalidTransition) || !errors.As(err, &te) || te.From != from || te.To != a.to {
					t.Fatalf("err = %v, want a TransitionError %s → %s", err, from, a.to)
				}
				if c.Status() != from || c.UpdatedAt() != created {
					t.Errorf("refused transition changed the challenge: %s, %v", c.Status(), c.UpdatedAt())
				}
			})
		}
	}
}

func TestStatusReasons(t *testing.T) {
	c := storedChallenge(t, domain.StatusPending)
	if err := c.Reject("  user\nsuspended\x00 ", created); err != nil {
		t.Fatal(err)
	}
	if c.StatusReason() != "user suspended" {
		t.Errorf("reason = %q", c.StatusReason())
	}
	c = storedChallenge(t, domain.StatusActive)
	if err := c.Archive(strings.Repeat("é", 300)+"\xff", created); err != nil {
		t.Fatal(err)
	}
	if r := c.StatusReason(); utf8.RuneCountInString(r) != domain.MaxReasonLen || !utf8.ValidString(r) {
		t.Errorf("reason has %d characters, valid UTF-8 %v", utf8.RuneCountInString(r), utf8.ValidString(r))
	}
}

func TestCompleteNeedsACompletePlan(t *testing.T) {
	c := storedChallenge(t, domain.StatusActive)
	logs := completingLogs(t)
	if err := c.Complete(logs[:len(logs)-1], time.UTC, created); !errors.Is(err, domain.ErrChallengeNotComplete) {
		t.Fatalf("one session short: %v", err)
	}
	if c.Status() != domain.StatusActive {
		t.Errorf("status %s after a refused Complete", c.Status())
	}
	if p := c.Progress(logs, time.UTC, created); !p.Complete || p.SessionsDone != 24 {
		t.Errorf("Progress over the plan: complete %v, %d sessions", p.Complete, p.SessionsDone)
	}
	if err := c.Complete(logs, time.UTC, created); err != nil {
		t.Fatalf("all sessions: %v", err)
	}
}

func TestRename(t *testing.T) {
	tests := []struct {
		from domain.Status
		ok   bool
	}{
		{domain.StatusPending, true},
		{domain.StatusActive, true},
		{domain.StatusCompleted, true},
		{domain.StatusRejected, false},
		{domain.StatusArchived, false},
	}
	for _, tt := range tests {
		t.Run(string(tt.from), func(t *testing.T) {
			c := storedChallenge(t, tt.from)
			err := c.Rename(" New name ", created.Add(time.Minute))
			if !tt.ok {
				if !errors.Is(err, domain.ErrChallengeClosed) || c.Title() != "Squat to 117.5" {
					t.Errorf("err %v, title %q", err, c.Title())
				}
				return
			}
			if err != nil || c.Title() != "New name" || c.UpdatedAt() != created.Add(time.Minute) {
				t.Errorf("err %v, title %q, updated %v", err, c.Title(), c.UpdatedAt())
			}
			err = c.Rename("", created.Add(2*time.Minute))
			if got := validationFields(t, err); !slices.Equal(got, []string{"title"}) || c.Title() != "New name" {
				t.Errorf("empty title: fields %v, title %q", got, c.Title())
			}
		})
	}
}

func TestUpdatedAtNeverMovesBack(t *testing.T) {
	c := storedChallenge(t, domain.StatusPending)
	if err := c.Activate(created.Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	if c.UpdatedAt() != created {
		t.Errorf("UpdatedAt = %v, want it kept at %v", c.UpdatedAt(), created)
	}
}

func TestCheckLog(t *testing.T) {
	onStart := mustLog(t, domain.UnitKg, monday.Time(), 5, 60)
	for _, s := range domain.Statuses() {
		err := storedChallenge(t, s).CheckLog(onStart, time.UTC)
		if s.AcceptsLogs() != (err == nil) {
			t.Errorf("%s: CheckLog = %v", s, err)
		}
		if err != nil && !errors.Is(err, domain.ErrChallengeClosed) {
			t.Errorf("%s: err %v is not ErrChallengeClosed", s, err)
		}
	}
	if got := []bool{domain.StatusPending.AcceptsLogs(), domain.StatusActive.AcceptsLogs()}; !slices.Equal(got, []bool{true, true}) {
		t.Errorf("pending/active accept logs: %v", got)
	}
	early := mustLog(t, domain.UnitKg, monday.Time().Add(-time.Microsecond), 5, 60)
	err := storedChallenge(t, domain.StatusActive).CheckLog(early, time.UTC)
	if got := validationFields(t, err); !slices.Equal(got, []string{"performedAt"}) {
		t.Errorf("log before the start: fields %v", got)
	}
}

func TestUnmarshalChallengeFromDatabase(t *testing.T) {
	plan := mustPlan(t, squatSpec())
	c, err := domain.UnmarshalChallengeFromDatabase(7, 42, "T", plan, domain.StatusRejected, "no such user", created, created.Add(time.Hour), 0)
	if err != nil {
		t.Fatal(err)
	}
	if c.ID() != 7 || c.Status() != domain.StatusRejected || c.StatusReason() != "no such user" || c.UpdatedAt() != created.Add(time.Hour) {
		t.Errorf("read back %+v", c)
	}
	bad := []struct {
		name string
		do   func() error
	}{
		{"no id", func() error {
			_, err := domain.UnmarshalChallengeFromDatabase(0, 42, "T", plan, domain.StatusActive, "", created, created, 0)
			return err
		}},
		{"unknown status", func() error {
			_, err := domain.UnmarshalChallengeFromDatabase(7, 42, "T", plan, "deleted", "", created, created, 0)
			return err
		}},
		{"empty title, no plan, no user, no time", func() error {
			_, err := domain.UnmarshalChallengeFromDatabase(7, 0, "", domain.Plan{}, domain.StatusActive, "", time.Time{}, created, 0)
			return err
		}},
	}
	for _, b := range bad {
		err := b.do()
		var ve *domain.ValidationError
		if err == nil || errors.As(err, &ve) {
			t.Errorf("%s: err %v, want a non-validation error", b.name, err)
		}
	}
}

// MayComplete may skip reading the logs only where no logs a user could
// have made by now complete the plan. The strongest such logs are one per
// day from the start day on (in the zone they were logged in) up to
// MaxClockSkew after now, each meeting any target; the progress is taken in
// another zone, as after the user moved from one end of the offsets to the
// other.
func TestMayCompleteNeverSkipsACompletion(t *testing.T) {
	c := storedChallenge(t, domain.StatusActive)
	total := c.Plan().TotalSessions()
	east, west := time.FixedZone("UTC+14", 14*3600), time.FixedZone("UTC-12", -12*3600)
	pairs := [][2]*time.Location{{time.UTC, time.UTC}, {east, west}, {west, east}, {east, east}}
	completed := 0
	for _, zones := range pairs {
		logged, judged := zones[0], zones[1]
		start := time.Date(monday.Time().Year(), monday.Time().Month(), monday.Time().Day(), 0, 0, 0, 0, logged)
		for hours := -72; hours <= 24*(total+4); hours += 5 {
			now := start.Add(time.Duration(hours) * time.Hour)
			var logs []domain.WorkoutLog
			for d := start; !d.After(now.Add(domain.MaxClockSkew)); d = d.AddDate(0, 0, 1) {
				performed := d
				if h := d.Add(23*time.Hour + 59*time.Minute); !h.After(now.Add(domain.MaxClockSkew)) {
					performed = h // late in the day: the far side of a zone change
				}
				l, err := domain.NewWorkoutLog(domain.UnitKg, domain.WorkoutLogSpec{PerformedAt: performed, Sets: 1, Reps: 5, Value: domain.MaxValue}, now)
				if err != nil {
					t.Fatalf("log at %v, now %v: %v", performed, now, err)
				}
				logs = append(logs, l)
			}
			complete := c.Progress(logs, judged, now).Complete
			if complete {
				completed++
			}
			if complete && !c.MayComplete(judged, now) {
				t.Fatalf("logged in %s, judged in %s at %v: %d logs complete the plan, MayComplete says they cannot", logged, judged, now, len(logs))
			}
		}
	}
	if completed == 0 {
		t.Fatal("no case completed the plan: the test checks nothing")
	}
	// And it does skip: the day the plan starts, no logs complete it.
	if c.MayComplete(time.UTC, at(1, 12)) {
		t.Errorf("MayComplete on the first day of a %d-session plan", total)
	}
}
