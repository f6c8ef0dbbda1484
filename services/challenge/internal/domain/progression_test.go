package domain_test

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
	_ "time/tzdata" // the zones below, whatever the machine has installed

	"github.com/progressive-overload/po/services/challenge/internal/domain"
)

// session is one row of a hand-computed table: what was logged on a day,
// then what ComputeProgress must say the next session is, and why.
type session struct {
	value      float64 // the day's logged load
	reps       int
	wantTarget float64 // the next session's target load
	wantReps   int     // double only: the next session's target reps
	wantReason domain.Reason
	wantMisses int
}

// replay logs rows one day each (two days apart, 18:00 UTC) and checks the
// progress after every session against the row.
func replay(t *testing.T, plan domain.Plan, rows []session) domain.Progress {
	t.Helper()
	var logs []domain.WorkoutLog
	var p domain.Progress
	for i, r := range rows {
		logs = append(logs, mustLog(t, plan.Unit(), at(1+2*i, 18), r.reps, r.value))
		p = domain.ComputeProgress(plan, logs, time.UTC, farFuture)
		if p.SessionsDone != i+1 {
			t.Fatalf("after session %d: %d sessions done", i+1, p.SessionsDone)
		}
		if p.Complete {
			if p.NextTarget != nil || p.NextReason != "" {
				t.Fatalf("after session %d: complete with a next target %v (%s)", i+1, p.NextTarget, p.NextReason)
			}
			continue
		}
		gotReps := 0
		if p.NextReps != nil {
			gotReps = *p.NextReps
		}
		if p.NextTarget == nil || *p.NextTarget != r.wantTarget || gotReps != r.wantReps ||
			p.NextReason != r.wantReason || p.MissesInARow != r.wantMisses || p.NextSession != i+2 {
			t.Fatalf("after session %d (%v × %d): next %s, want %v × %d %s, %d misses",
				i+1, r.value, r.reps, fmtProgress(p), r.wantTarget, r.wantReps, r.wantReason, r.wantMisses)
		}
	}
	return p
}

// strongLifts is StrongLifts 5×5's squat as its author publishes it: add
// 2.5 kg every session that got all 5×5, repeat the weight after a failed
// one, and after three failed sessions in a row take 10 % off (rounded down
// to the 2.5 kg plates).
func strongLifts(start float64) domain.PlanSpec {
	s := squatSpec()
	s.StartValue = start
	s.Weeks = 12
	s.Progression = domain.ProgressionSpec{Type: domain.ProgressionLinear, DeloadAfter: 3, DeloadPercent: 10}
	return s
}

func TestLinearProgressionStrongLifts(t *testing.T) {
	plan := mustPlan(t, strongLifts(60))
	const (
		up     = domain.ReasonIncreaseAfterMet
		repeat = domain.ReasonRepeatAfterMissed
		deload = domain.ReasonDeload
	)
	// Computed by hand; a deload is 10 % off rounded down to 2.5 kg plates.
	p := replay(t, plan, []session{
		{60, 5, 62.5, 0, up, 0},       // 1: met 60
		{62.5, 5, 65, 0, up, 0},       // 2: met 62.5
		{62.5, 5, 65, 0, repeat, 1},   // 3: missed 65
		{65, 5, 67.5, 0, up, 0},       // 4: met 65 on the retry
		{65, 5, 67.5, 0, repeat, 1},   // 5: missed 67.5
		{67.5, 4, 70, 0, up, 0},       // 6: met 67.5 (a linear plan holds the load only)
		{65, 5, 70, 0, repeat, 1},     // 7: missed 70
		{65, 5, 70, 0, repeat, 2},     // 8: missed 70
		{65, 5, 62.5, 0, deload, 3},   // 9: third miss: 70 × 0.9 = 63 → 62.5
		{62.5, 5, 65, 0, up, 0},       // 10: met the deloaded 62.5
		{100, 5, 67.5, 0, up, 0},      // 11: far more still adds only 2.5
		{67.5, 5, 70, 0, up, 0},       // 12
		{67.5, 5, 70, 0, repeat, 1},   // 13
		{69.99, 5, 70, 0, repeat, 2},  // 14: a hundredth short is a miss
		{70, 5, 72.5, 0, up, 0},       // 15: met before the third miss: no deload
		{72.5, 5, 75, 0, up, 0},       // 16
		{0.01, 1, 75, 0, repeat, 1},   // 17
		{0.01, 1, 75, 0, repeat, 2},   // 18
		{0.01, 1, 67.5, 0, deload, 3}, // 19: 75 × 0.9 = 67.5 exactly
	})
	if p.TargetsMet != 9 || p.CurrentStreak != 0 || p.MissesInARow != 3 || p.Complete {
		t.Fatalf("after the table: %s", fmtProgress(p))
	}
}

func TestDeloadRoundsDownToThePlates(t *testing.T) {
	for _, tt := range []struct {
		start, increment float64 // the first session misses start
		percent          int
		want             float64
	}{
		{100, 2.5, 10, 90},    // StrongLifts' own example
		{62.5, 2.5, 10, 55},   // 56.25 → 55
		{60, 0, 10, 54},       // no increment: the unit's precision
		{61.11, 0, 10, 54.99}, // 54.999 → 54.99, rounded down
		{5, 2.5, 90, 0.5},     // no multiple of 2.5 left: the unit's precision
		{0.05, 0, 90, 0.01},   // nor below one hundredth
		{140, 5, 15, 115},     // 119 → 115
		{20, 1.25, 50, 10},    // exact
		{21, 1.25, 50, 10},    // 10.5 → 10 (multiples of 1.25)
	} {
		s := squatSpec()
		s.StartValue, s.Increment = tt.start, tt.increment
		s.Progression = domain.ProgressionSpec{Type: domain.ProgressionLinear, DeloadAfter: 1, DeloadPercent: tt.percent}
		plan := mustPlan(t, s)
		miss := mustLog(t, domain.UnitKg, at(1, 18), 5, 0.01)
		p := domain.ComputeProgress(plan, []domain.WorkoutLog{miss}, time.UTC, farFuture)
		if p.NextTarget == nil || *p.NextTarget != tt.want || p.NextReason != domain.ReasonDeload {
			t.Errorf("%v kg (+%v) −%d%%: next %s, want %v", tt.start, tt.increment, tt.percent, fmtProgress(p), tt.want)
		}
	}
}

func TestLinearIncrementEveryCountsMetSessionsInARow(t *testing.T) {
	s := squatSpec()
	s.StartValue, s.Increment, s.IncrementEvery = 100, 5, 2
	s.Progression = domain.ProgressionSpec{Type: domain.ProgressionLinear}
	const (
		up     = domain.ReasonIncreaseAfterMet
		again  = domain.ReasonRepeatAfterMet
		missed = domain.ReasonRepeatAfterMissed
	)
	replay(t, mustPlan(t, s), []session{
		{100, 5, 100, 0, again, 0},  // one met session of two
		{100, 5, 105, 0, up, 0},     // two in a row: +5
		{105, 5, 105, 0, again, 0},  //
		{100, 5, 105, 0, missed, 1}, // a miss starts the count again
		{105, 5, 105, 0, again, 0},  //
		{105, 5, 110, 0, up, 0},     //
		{90, 5, 110, 0, missed, 1},  // no deload configured: misses only repeat
		{90, 5, 110, 0, missed, 2},
		{90, 5, 110, 0, missed, 3},
		{90, 5, 110, 0, missed, 4},
	})
}

// A double progression as wger and Liftosaur program it: dumbbell curls,
// 3 sets of 8–12 at 12.5 kg; a rep more each session that gets all its
// reps, and after 12 reps +2.5 kg back at 8.
func TestDoubleProgressionTable(t *testing.T) {
	s := squatSpec()
	s.Exercise, s.StartValue, s.Increment = "Dumbbell curl", 12.5, 2.5
	s.Progression = domain.ProgressionSpec{Type: domain.ProgressionDouble, MinReps: 8, MaxReps: 12, DeloadAfter: 2, DeloadPercent: 20}
	plan := mustPlan(t, s)
	const (
		repsUp = domain.ReasonRepsUp
		loadUp = domain.ReasonLoadUpRepsReset
		missed = domain.ReasonRepeatAfterMissed
		deload = domain.ReasonDeload
	)
	p := replay(t, plan, []session{
		{12.5, 8, 12.5, 9, repsUp, 0},
		{12.5, 9, 12.5, 10, repsUp, 0},
		{12.5, 9, 12.5, 10, missed, 1}, // 9 of 10 reps
		{12.5, 10, 12.5, 11, repsUp, 0},
		{12.5, 11, 12.5, 12, repsUp, 0},
		{12.5, 12, 15, 8, loadUp, 0}, // top of the range: +2.5 kg, back to 8
		{17.5, 10, 15, 9, repsUp, 0}, // heavier and more reps meets 15 × 8, one rep at a time
		{15, 8, 15, 9, missed, 1},    // the load but not the reps
		{15, 8, 10, 8, deload, 2},    // second miss: 15 × 0.8 = 12 → 10 (2.5 kg plates), reps back to 8
		{10, 8, 10, 9, repsUp, 0},
	})
	if p.TargetsMet != 7 {
		t.Fatalf("met %d", p.TargetsMet)
	}
	// Peak is the best case: 24 sessions, 5 per load step: 12.5 + 4 × 2.5.
	if plan.Peak() != 22.5 || plan.Target(5) != 12.5 || plan.Target(6) != 15 {
		t.Fatalf("peak %v, target(5) %v, target(6) %v", plan.Peak(), plan.Target(5), plan.Target(6))
	}
}

// One log must meet both the load and the reps: a heavy single and a light
// set of twelve on one day do not add up to twelve heavy reps.
func TestDoubleProgressionNeedsOneSetMeetingBoth(t *testing.T) {
	s := squatSpec()
	s.StartValue, s.Increment = 50, 5
	s.Progression = domain.ProgressionSpec{Type: domain.ProgressionDouble, MinReps: 6, MaxReps: 8}
	plan := mustPlan(t, s)
	heavy := mustLog(t, domain.UnitKg, at(1, 9), 1, 80)
	light := mustLog(t, domain.UnitKg, at(1, 19), 12, 40)
	p := domain.ComputeProgress(plan, []domain.WorkoutLog{heavy, light}, time.UTC, farFuture)
	if p.SessionsDone != 1 || p.TargetsMet != 0 || p.NextReason != domain.ReasonRepeatAfterMissed || *p.NextReps != 6 {
		t.Fatalf("got %s", fmtProgress(p))
	}
	both := mustLog(t, domain.UnitKg, at(1, 20), 6, 50)
	p = domain.ComputeProgress(plan, []domain.WorkoutLog{heavy, both, light}, time.UTC, farFuture)
	if p.TargetsMet != 1 || p.NextReason != domain.ReasonRepsUp || *p.NextReps != 7 || *p.NextTarget != 50 {
		t.Fatalf("got %s", fmtProgress(p))
	}
}

// A plan that follows performance has no peak it must reach: it is
// complete once its planned sessions are done, met or not.
func TestPerformancePlanCompletesAfterItsSessions(t *testing.T) {
	s := squatSpec()
	s.SessionsPerWeek, s.Weeks = 2, 1
	s.Progression = domain.ProgressionSpec{Type: domain.ProgressionLinear, DeloadAfter: 3, DeloadPercent: 10}
	plan := mustPlan(t, s)
	logs := []domain.WorkoutLog{mustLog(t, domain.UnitKg, at(1, 9), 5, 60)}
	if p := domain.ComputeProgress(plan, logs, time.UTC, farFuture); p.Complete || *p.NextTarget != 62.5 {
		t.Fatalf("one of two: %s", fmtProgress(p))
	}
	logs = append(logs, mustLog(t, domain.UnitKg, at(2, 9), 5, 50)) // missed
	p := domain.ComputeProgress(plan, logs, time.UTC, farFuture)
	if !p.Complete || p.NextTarget != nil || p.NextSession != 0 || p.NextReason != "" || p.NextReps != nil {
		t.Fatalf("two of two: %s", fmtProgress(p))
	}
}

// The case: at UTC−8, Monday 17:00 and Tuesday 08:00 are two days,
// though both are Tuesday in UTC.
func TestSessionsAreTheUsersDays(t *testing.T) {
	la, err := time.LoadLocation("America/Los_Angeles")
	if err != nil {
		t.Fatal(err)
	}
	plan := mustPlan(t, shortSpec()) // starts Monday 2026-01-05
	mon := time.Date(2026, 1, 5, 17, 0, 0, 0, la)
	tue := time.Date(2026, 1, 6, 8, 0, 0, 0, la)
	logs := []domain.WorkoutLog{
		mustLog(t, domain.UnitKg, mon, 5, 60),
		mustLog(t, domain.UnitKg, tue, 5, 62.5),
	}
	if p := domain.ComputeProgress(plan, logs, time.UTC, farFuture); p.SessionsDone != 1 {
		t.Fatalf("UTC: %d sessions, want 1", p.SessionsDone)
	}
	p := domain.ComputeProgress(plan, logs, la, farFuture)
	if p.SessionsDone != 2 || p.TargetsMet != 2 || *p.NextTarget != 65 {
		t.Fatalf("Los Angeles: %s", fmtProgress(p))
	}
	// Due sessions count the user's days too: Monday 20:00 in Los Angeles
	// is Tuesday in UTC, but still day 1 of the plan there.
	if got := domain.ComputeProgress(plan, nil, la, time.Date(2026, 1, 5, 20, 0, 0, 0, la)).SessionsPlannedToDate; got != 0 {
		t.Fatalf("planned to date on day 1 in LA: %d", got)
	}
	if got := domain.ComputeProgress(plan, nil, time.UTC, time.Date(2026, 1, 5, 20, 0, 0, 0, la)).SessionsPlannedToDate; got != 0 {
		t.Fatalf("planned to date on day 2 in UTC: %d", got) // 3 a week: day 2 still owes none
	}
}

// East of UTC, a plan starting on the user's today accepts a log from
// their morning, which is still yesterday in UTC.
func TestCheckLogUsesTheUsersDay(t *testing.T) {
	auckland, err := time.LoadLocation("Pacific/Auckland")
	if err != nil {
		t.Fatal(err)
	}
	morning := time.Date(2026, 1, 6, 8, 0, 0, 0, auckland) // 2026-01-05 19:00 UTC
	today := domain.DateIn(morning, auckland)
	if today != domain.MustDate(2026, 1, 6) || domain.DateIn(morning, nil) != domain.MustDate(2026, 1, 5) {
		t.Fatalf("DateIn: %v", today)
	}
	s := squatSpec()
	s.StartDate = today
	c, err := domain.NewChallengeFromSpec(7, "Squat", s, morning)
	if err != nil {
		t.Fatal(err)
	}
	log := mustLog(t, domain.UnitKg, morning, 5, 60)
	if err := c.CheckLog(log, auckland); err != nil {
		t.Fatalf("Auckland: %v", err)
	}
	if err := c.CheckLog(log, time.UTC); err == nil {
		t.Fatal("UTC accepted a log from the day before the start")
	}
}

func TestNewPlanProgressionRules(t *testing.T) {
	prog := func(typ domain.ProgressionType, after, pct, lo, hi int) domain.ProgressionSpec {
		return domain.ProgressionSpec{Type: typ, DeloadAfter: after, DeloadPercent: pct, MinReps: lo, MaxReps: hi}
	}
	const (
		fixed  = domain.ProgressionFixed
		linear = domain.ProgressionLinear
		double = domain.ProgressionDouble
	)
	for _, tt := range []struct {
		name string
		unit domain.Unit
		prog domain.ProgressionSpec
		want []string // invalid fields; none: valid
	}{
		{"the zero value is fixed", domain.UnitKg, domain.ProgressionSpec{}, nil},
		{"fixed", domain.UnitReps, prog(fixed, 0, 0, 0, 0), nil},
		{"linear without deload", domain.UnitSeconds, prog(linear, 0, 0, 0, 0), nil},
		{"linear with deload", domain.UnitKg, prog(linear, 3, 10, 0, 0), nil},
		{"double", domain.UnitLb, prog(double, 2, 90, 8, 12), nil},
		{"double, one rep count", domain.UnitKg, prog(double, 0, 0, 5, 5), nil},
		{"unknown type", domain.UnitKg, prog("wave", 0, 0, 0, 0), []string{"progression.type"}},
		{"fixed with the others", domain.UnitKg, prog(fixed, 3, 10, 8, 12),
			[]string{"progression.deloadAfter", "progression.deloadPercent", "progression.minReps", "progression.maxReps"}},
		{"deload without percent", domain.UnitKg, prog(linear, 3, 0, 0, 0), []string{"progression.deloadPercent"}},
		{"percent without deload", domain.UnitKg, prog(linear, 0, 10, 0, 0), []string{"progression.deloadPercent"}},
		{"percent too big", domain.UnitKg, prog(linear, 1, 91, 0, 0), []string{"progression.deloadPercent"}},
		{"negative deload", domain.UnitKg, prog(linear, -1, 0, 0, 0), []string{"progression.deloadAfter"}},
		{"linear with reps", domain.UnitKg, prog(linear, 0, 0, 8, 12), []string{"progression.minReps", "progression.maxReps"}},
		{"double without reps", domain.UnitKg, prog(double, 0, 0, 0, 0), []string{"progression.minReps", "progression.maxReps"}},
		{"double, range upside down", domain.UnitKg, prog(double, 0, 0, 12, 8), []string{"progression.maxReps"}},
		{"double, too many reps", domain.UnitKg, prog(double, 0, 0, 8, 1001), []string{"progression.maxReps"}},
		{"double of a non-load", domain.UnitMeters, prog(double, 0, 0, 8, 12), []string{"progression.type"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := squatSpec()
			s.Unit, s.StartValue, s.Increment = tt.unit, 60, 2
			s.Progression = tt.prog
			p, err := domain.NewPlan(s)
			if tt.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				want := tt.prog
				if want.Type == "" {
					want.Type = fixed
				}
				if p.Spec().Progression != want || p.Progression() != want.Type {
					t.Fatalf("progression %+v, want %+v", p.Spec().Progression, want)
				}
				again, err := domain.NewPlan(p.Spec())
				if err != nil || again != p {
					t.Fatalf("Spec does not rebuild the plan: %v", err)
				}
				return
			}
			if got := validationFields(t, err); !slices.Equal(got, tt.want) {
				t.Fatalf("invalid fields %v, want %v", got, tt.want)
			}
		})
	}
}

// The peak check covers the best case of each progression: a double
// progression climbs more slowly, so it may start closer to the limit.
func TestPeakOfEachProgression(t *testing.T) {
	s := squatSpec() // 24 sessions
	s.StartValue, s.Increment = 99000, 100
	if _, err := domain.NewPlan(s); err == nil {
		t.Fatal("fixed: 99000 + 23 × 100 accepted")
	}
	s.Progression = domain.ProgressionSpec{Type: domain.ProgressionLinear}
	if _, err := domain.NewPlan(s); err == nil {
		t.Fatal("linear: 99000 + 23 × 100 accepted")
	}
	s.Progression = domain.ProgressionSpec{Type: domain.ProgressionDouble, MinReps: 3, MaxReps: 5}
	p, err := domain.NewPlan(s)
	if err != nil || p.Peak() != 99700 { // 23 / 3 = 7 steps
		t.Fatalf("double: peak %v, %v", p.Peak(), err)
	}
}

// Random linear and double plans against a naive replay: the targets stay
// within (0, peak], the reasons match the moves, and input order does not
// matter.
func TestPerformanceProgressInvariants(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 8))
	for i := range 300 {
		s := randomPlanSpec(r)
		s.Unit = []domain.Unit{domain.UnitKg, domain.UnitLb}[r.IntN(2)]
		s.StartValue = math.Round(s.StartValue*100) / 100
		s.Increment = math.Round(s.Increment*100) / 100
		if r.IntN(2) == 0 {
			s.Progression = domain.ProgressionSpec{Type: domain.ProgressionLinear}
		} else {
			lo := 1 + r.IntN(10)
			s.Progression = domain.ProgressionSpec{Type: domain.ProgressionDouble, MinReps: lo, MaxReps: lo + r.IntN(5)}
		}
		if r.IntN(2) == 0 {
			s.Progression.DeloadAfter, s.Progression.DeloadPercent = 1+r.IntN(4), 1+r.IntN(90)
		}
		plan, err := domain.NewPlan(s)
		if err != nil {
			continue // a random peak beyond the limit
		}
		logs := randomLogs(t, r, plan, r.IntN(40))
		want := domain.ComputeProgress(plan, sortedLogs(logs, false), time.UTC, farFuture)
		for _, in := range [][]domain.WorkoutLog{logs, sortedLogs(logs, true)} {
			if got := domain.ComputeProgress(plan, in, time.UTC, farFuture); fmtProgress(got) != fmtProgress(want) {
				t.Fatalf("case %d: order changed the result:\n%s\n%s", i, fmtProgress(got), fmtProgress(want))
			}
		}
		switch {
		case want.Complete != (want.SessionsDone >= plan.TotalSessions()):
			t.Fatalf("case %d: complete %v after %d of %d", i, want.Complete, want.SessionsDone, plan.TotalSessions())
		case want.Complete:
		case *want.NextTarget <= 0 || *want.NextTarget > plan.Peak():
			t.Fatalf("case %d: next target %v outside (0, %v], %+v %s", i, *want.NextTarget, plan.Peak(), plan.Spec(), fmtProgress(want))
		case want.SessionsDone == 0 && want.NextReason != domain.ReasonStart:
			t.Fatalf("case %d: reason %s before any session", i, want.NextReason)
		case want.SessionsDone > 0 && (want.MissesInARow > 0) == (want.CurrentStreak > 0):
			t.Fatalf("case %d: streak %d and misses %d", i, want.CurrentStreak, want.MissesInARow)
		case (want.NextReps != nil) != (plan.Progression() == domain.ProgressionDouble):
			t.Fatalf("case %d: next reps %v for %s", i, want.NextReps, plan.Progression())
		case want.NextReps != nil && (*want.NextReps < s.Progression.MinReps || *want.NextReps > s.Progression.MaxReps):
			t.Fatalf("case %d: next reps %d outside %d..%d", i, *want.NextReps, s.Progression.MinReps, s.Progression.MaxReps)
		}
	}
}

// Days follow the wall clock through daylight saving: in Berlin the night
// of 2026-03-29 loses an hour at 02:00, and 23:30 and 00:30 local are still
// two days, 01:30 and 03:30 one.
func TestLocalDaysAcrossDaylightSaving(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	plan := mustPlan(t, shortSpec())
	count := func(times ...time.Time) int {
		var logs []domain.WorkoutLog
		for _, at := range times {
			logs = append(logs, mustLog(t, domain.UnitKg, at, 5, 60))
		}
		return domain.ComputeProgress(plan, logs, berlin, farFuture).SessionsDone
	}
	if n := count(time.Date(2026, 3, 28, 23, 30, 0, 0, berlin), time.Date(2026, 3, 29, 0, 30, 0, 0, berlin)); n != 2 {
		t.Fatalf("across midnight: %d sessions", n)
	}
	if n := count(time.Date(2026, 3, 29, 1, 30, 0, 0, berlin), time.Date(2026, 3, 29, 3, 30, 0, 0, berlin)); n != 1 {
		t.Fatalf("across the clock change: %d sessions", n)
	}
	if d := domain.DateIn(time.Date(2026, 10, 25, 23, 59, 0, 0, berlin), berlin); d != domain.MustDate(2026, 10, 25) {
		t.Fatalf("the long day ends on %v", d)
	}
}
