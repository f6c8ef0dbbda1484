package domain_test

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/progressive-overload/po/services/challenge/internal/domain"
)

// benchLogs: one log per planned session of the squat plan (8 weeks, 3 a
// week), every target met, newest first as the repository returns them.
func benchLogs(b *testing.B, plan domain.Plan) []domain.WorkoutLog {
	logs := make([]domain.WorkoutLog, 0, plan.TotalSessions())
	for s := range plan.Sessions() {
		day := (s.Week-1)*7 + 2*((s.Number-1)%plan.SessionsPerWeek()) + 1 // Mon, Wed, Fri
		logs = append(logs, mustLog(b, plan.Unit(), at(day, 18), 5, s.Target))
	}
	return sortedLogs(logs, true)
}

var progressSink domain.Progress

func BenchmarkComputeProgress(b *testing.B) {
	plan := mustPlan(b, squatSpec())
	logs := benchLogs(b, plan)
	now := at(57, 12)
	cases := []struct {
		name string
		logs []domain.WorkoutLog
	}{
		{"24logs/newest-first", logs},
		{"24logs/oldest-first", sortedLogs(logs, false)},
		{"24logs/shuffled", shuffled(logs, 9)},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				progressSink = domain.ComputeProgress(plan, c.logs, time.UTC, now)
			}
		})
	}
	b.Run("1456logs/newest-first", func(b *testing.B) {
		spec := squatSpec()
		spec.SessionsPerWeek, spec.Weeks, spec.Increment = 14, 104, 0.01
		big := mustPlan(b, spec)
		many := sortedLogs(randomLogs(b, rand.New(rand.NewPCG(3, 4)), big, big.TotalSessions()), true)
		b.ReportAllocs()
		for b.Loop() {
			progressSink = domain.ComputeProgress(big, many, time.UTC, big.EndDate().Time().Add(time.Hour))
		}
	})
}

var targetSink float64

func BenchmarkPlanSessions(b *testing.B) {
	for _, c := range []struct {
		name       string
		spw, weeks int
	}{{"8weeks-3perweek", 3, 8}, {"104weeks-14perweek", 14, 104}} {
		spec := squatSpec()
		spec.SessionsPerWeek, spec.Weeks, spec.Increment = c.spw, c.weeks, 0.5
		plan := mustPlan(b, spec)
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				for s := range plan.Sessions() {
					targetSink += s.Target
				}
			}
		})
	}
}

func BenchmarkNewPlan(b *testing.B) {
	spec := squatSpec()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := domain.NewPlan(spec); err != nil {
			b.Fatal(err)
		}
	}
}
