package domain_test

import (
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/progressive-overload/po/services/challenge/internal/domain"
)

func exLog(t *testing.T, id, challenge int64, exercise string, unit domain.Unit, performedAt time.Time, sets, reps int, value float64) domain.ExerciseLog {
	t.Helper()
	l, err := domain.NewWorkoutLog(unit, domain.WorkoutLogSpec{PerformedAt: performedAt, Sets: sets, Reps: reps, Value: value}, farFuture)
	if err != nil {
		t.Fatal(err)
	}
	return domain.ExerciseLog{LogID: id, ChallengeID: challenge, Exercise: exercise, Unit: unit, Log: l}
}

func TestComputeRecords(t *testing.T) {
	logs := []domain.ExerciseLog{
		exLog(t, 1, 10, "Back squat", domain.UnitKg, at(1, 8), 5, 5, 60),
		exLog(t, 2, 10, "Back squat", domain.UnitKg, at(2, 8), 3, 3, 70),  // e1RM 77
		exLog(t, 3, 11, "back squat", domain.UnitKg, at(3, 8), 1, 1, 80),  // heaviest, e1RM 80 (a single as is)
		exLog(t, 4, 11, "back squat", domain.UnitKg, at(4, 8), 5, 8, 60),  // most reps at 60; e1RM 76
		exLog(t, 5, 11, "back squat", domain.UnitKg, at(5, 8), 2, 8, 60),  // ties 8 at 60 later: not a record
		exLog(t, 6, 12, "Back squat", domain.UnitLb, at(5, 9), 5, 5, 135), // pounds: its own exercise
		exLog(t, 7, 13, "Plank", domain.UnitSeconds, at(6, 8), 3, 1, 90),
		exLog(t, 8, 13, "Plank", domain.UnitSeconds, at(7, 8), 3, 1, 75),
	}
	recs := domain.ComputeRecords(logs)
	if len(recs) != 3 {
		t.Fatalf("%d exercises: %+v", len(recs), recs)
	}
	kg, lb, plank := recs[0], recs[1], recs[2]
	if kg.Unit != domain.UnitKg || lb.Unit != domain.UnitLb || plank.Exercise != "Plank" {
		t.Fatalf("order: %s/%s, %s/%s, %s", kg.Exercise, kg.Unit, lb.Exercise, lb.Unit, plank.Exercise)
	}
	if kg.Exercise != "back squat" || kg.Logs != 5 {
		t.Errorf("named after the newest log: %q, %d logs", kg.Exercise, kg.Logs)
	}
	if kg.Best.LogID != 3 || kg.Best.Value != 80 || kg.Best.ChallengeID != 11 {
		t.Errorf("best %+v", kg.Best)
	}
	if kg.BestE1RM == nil || kg.BestE1RM.Estimate != 80 || kg.BestE1RM.Set.LogID != 3 {
		t.Errorf("e1RM %+v", kg.BestE1RM)
	}
	var atLoad []int64
	for _, s := range kg.RepsAtLoad {
		atLoad = append(atLoad, s.LogID)
	}
	if !slices.Equal(atLoad, []int64{3, 2, 4}) {
		t.Errorf("reps at load, heaviest first: %v", atLoad)
	}
	if plank.BestE1RM != nil || len(plank.RepsAtLoad) != 0 || plank.Best.Value != 90 {
		t.Errorf("plank %+v", plank)
	}
	if domain.ComputeRecords(nil) == nil || len(domain.ComputeRecords(nil)) != 0 {
		t.Error("no logs: want an empty list")
	}
}

// The order logs arrive in changes nothing.
func TestComputeRecordsOrderFree(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var logs []domain.ExerciseLog
	for i := range 200 {
		unit := []domain.Unit{domain.UnitKg, domain.UnitLb, domain.UnitReps}[r.IntN(3)]
		reps := 1
		if unit.IsLoad() {
			reps = 1 + r.IntN(10)
		}
		logs = append(logs, exLog(t, int64(i+1), int64(1+r.IntN(3)), []string{"Squat", "squat", "Row"}[r.IntN(3)], unit,
			at(1+r.IntN(30), r.IntN(24)), 1+r.IntN(5), reps, float64(20+r.IntN(10))))
	}
	want := domain.ComputeRecords(logs)
	for range 5 {
		r.Shuffle(len(logs), func(i, j int) { logs[i], logs[j] = logs[j], logs[i] })
		if got := domain.ComputeRecords(logs); !reflect.DeepEqual(got, want) {
			t.Fatalf("shuffled logs give other records:\n%v\n%v", got, want)
		}
	}
}

func TestWeeklyHistory(t *testing.T) {
	// 2026-01-05 is a Monday: days 1..7 are one week, day 8 the next.
	logs := []domain.WorkoutLog{
		mustLog(t, domain.UnitKg, at(8, 8), 5, 65), // 3 sets: 3×5×65 = 975
		mustLog(t, domain.UnitKg, at(1, 8), 5, 60), // 900
		mustLog(t, domain.UnitKg, at(7, 23), 1, 70),
	}
	weeks := domain.WeeklyHistory(domain.UnitKg, logs)
	if len(weeks) != 2 || weeks[0].WeekStart != domain.MustDate(2026, 1, 12) || weeks[1].WeekStart != monday {
		t.Fatalf("weeks %+v", weeks)
	}
	if w := weeks[1]; w.Logs != 2 || w.Sets != 6 || w.Volume != 900+210 || w.BestE1RM == nil || *w.BestE1RM != 70 {
		t.Errorf("first week %+v (e1RM %v)", w, *w.BestE1RM)
	}
	if w := weeks[0]; w.Volume != 975 || *w.BestE1RM != 75.83 {
		t.Errorf("second week %+v (e1RM %v)", w, *w.BestE1RM)
	}
	plank := domain.WeeklyHistory(domain.UnitSeconds, []domain.WorkoutLog{mustLog(t, domain.UnitSeconds, at(3, 8), 1, 45)})
	if len(plank) != 1 || plank[0].BestE1RM != nil || plank[0].Volume != 135 {
		t.Errorf("seconds: %+v", plank)
	}
	// A Sunday before 1970 and one after: weeks start on Mondays either side of the epoch.
	for _, d := range []domain.Date{domain.MustDate(2026, 1, 11), domain.MustDate(2000, 1, 2)} {
		w := domain.WeeklyHistory(domain.UnitKg, []domain.WorkoutLog{mustLog(t, domain.UnitKg, d.Time().Add(time.Hour), 1, 1)})
		if got := w[0].WeekStart; got.Time().Weekday() != time.Monday || got.DaysUntil(d) != 6 {
			t.Errorf("week of %s starts %s", d, got)
		}
	}
}
