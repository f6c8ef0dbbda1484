package domain_test

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/progressive-overload/po/services/challenge/internal/domain"
)

// monday is a plan start used across tests; 2026-01-05 is a Monday, which
// only matters to readers checking week arithmetic by hand.
var monday = domain.MustDate(2026, time.January, 5)

// squat is the brief's example: 60 kg, +2.5 kg every session, 3 a week, 8 weeks.
func squatSpec() domain.PlanSpec {
	return domain.PlanSpec{
		Exercise:        "Back squat",
		Unit:            domain.UnitKg,
		StartValue:      60,
		Increment:       2.5,
		IncrementEvery:  1,
		SessionsPerWeek: 3,
		Weeks:           8,
		StartDate:       monday,
	}
}

func mustPlan(t testing.TB, spec domain.PlanSpec) domain.Plan {
	t.Helper()
	p, err := domain.NewPlan(spec)
	if err != nil {
		t.Fatalf("NewPlan(%+v): %v", spec, err)
	}
	return p
}

// at is a time on the plan's day (1-based) at hour:00 UTC.
func at(day, hour int) time.Time {
	return monday.Time().AddDate(0, 0, day-1).Add(time.Duration(hour) * time.Hour)
}

// farFuture is a "now" after every test log (plans start up to 2999), so the
// clock rule stays out of tests about other things.
var farFuture = time.Date(3100, 1, 1, 0, 0, 0, 0, time.UTC)

func mustLog(t testing.TB, unit domain.Unit, performedAt time.Time, reps int, value float64) domain.WorkoutLog {
	t.Helper()
	l, err := domain.NewWorkoutLog(unit, domain.WorkoutLogSpec{
		PerformedAt: performedAt, Sets: 3, Reps: reps, Value: value,
	}, farFuture)
	if err != nil {
		t.Fatalf("NewWorkoutLog(%v, %v, %d, %v): %v", unit, performedAt, reps, value, err)
	}
	return l
}

// validationFields returns the invalid field names of err, failing the test
// when err is not a *ValidationError.
func validationFields(t testing.TB, err error) []string {
	t.Helper()
	var ve *domain.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("error %v (%T) is not a *ValidationError", err, err)
	}
	var names []string
	for _, f := range ve.Fields {
		if f.Message == "" {
			t.Errorf("field %s has an empty message", f.Field)
		}
		names = append(names, f.Field)
	}
	return names
}

// randomPlanSpec builds a valid spec from r, reaching the limits often
// enough that edge cases are exercised: every unit, increment 0, long plans,
// peaks at the value limit.
func randomPlanSpec(r *rand.Rand) domain.PlanSpec {
	units := domain.Units()
	unit := units[r.IntN(len(units))]
	scale := int64(100)
	if unit == domain.UnitReps {
		scale = 1
	}
	spw := 1 + r.IntN(domain.MaxSessionsPerWeek)
	weeks := 1 + r.IntN(domain.MaxWeeks)
	if r.IntN(4) == 0 {
		spw, weeks = domain.MaxSessionsPerWeek, domain.MaxWeeks
	}
	total := spw * weeks
	every := 1 + r.IntN(total)
	if r.IntN(3) == 0 {
		every = 1 + r.IntN(4)
	}
	maxUnits := domain.MaxValue * scale
	startUnits := 1 + r.Int64N(maxUnits)
	if r.IntN(2) == 0 {
		startUnits = 1 + r.Int64N(200*scale)
	}
	var incUnits int64
	if steps := int64((total - 1) / every); steps > 0 && r.IntN(5) != 0 {
		limit := min(domain.MaxIncrement*scale, (maxUnits-startUnits)/steps)
		if limit > 0 {
			incUnits = r.Int64N(limit + 1)
		}
	}
	return domain.PlanSpec{
		Exercise:        randomName(r),
		Unit:            unit,
		StartValue:      float64(startUnits) / float64(scale),
		Increment:       float64(incUnits) / float64(scale),
		IncrementEvery:  every,
		SessionsPerWeek: spw,
		Weeks:           weeks,
		StartDate:       domain.MustDate(2000, 1, 1).AddDays(r.IntN(365 * 999)),
	}
}

func randomName(r *rand.Rand) string {
	alphabet := []rune("abcxyz ÄéßΩжд漢字🏋️- ")
	n := 1 + r.IntN(domain.MaxExerciseLen)
	rs := make([]rune, n)
	for i := range rs {
		rs[i] = alphabet[r.IntN(len(alphabet))]
	}
	rs[0] = 'S' // never all blanks
	return string(rs)
}

// randomLogs makes n valid logs for plan in a shuffled order, several per day
// sometimes, around the plan's targets so both met and missed sessions occur.
func randomLogs(t testing.TB, r *rand.Rand, plan domain.Plan, n int) []domain.WorkoutLog {
	t.Helper()
	logs := make([]domain.WorkoutLog, 0, n)
	day := 0
	for i := range n {
		if i == 0 || r.IntN(3) != 0 {
			day += 1 + r.IntN(3)
		}
		when := plan.StartDate().Time().AddDate(0, 0, day).Add(time.Duration(r.IntN(24*3600)) * time.Second)
		// Work in integer steps of the unit's precision so every value is
		// one a log accepts.
		scale := 100.0
		if plan.Unit() == domain.UnitReps {
			scale = 1
		}
		units := int64(math.Round(plan.Target(i+1) * scale))
		switch r.IntN(3) {
		case 0:
			units -= 1 + r.Int64N(int64(scale))
		case 1:
			units += r.Int64N(int64(scale))
		}
		units = max(1, min(units, int64(domain.MaxValue*scale)))
		value := float64(units) / scale
		reps := 1
		if plan.Unit().IsLoad() {
			reps = 1 + r.IntN(12)
		}
		logs = append(logs, mustLog(t, plan.Unit(), when, reps, value))
	}
	r.Shuffle(len(logs), func(i, j int) { logs[i], logs[j] = logs[j], logs[i] })
	return logs
}

func sortedLogs(logs []domain.WorkoutLog, desc bool) []domain.WorkoutLog {
	out := slices.Clone(logs)
	slices.SortStableFunc(out, func(a, b domain.WorkoutLog) int {
		if desc {
			return b.PerformedAt().Compare(a.PerformedAt())
		}
		return a.PerformedAt().Compare(b.PerformedAt())
	})
	return out
}

func fmtAny(v any) string { return fmt.Sprintf("%+v", v) }
