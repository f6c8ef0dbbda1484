package domain_test

import (
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/progressive-overload/po/services/challenge/internal/domain"
)

// shortSpec: 60 kg +2.5 every session, 3 a week for 2 weeks: targets 60,
// 62.5, 65, 67.5, 70, 72.5.
func shortSpec() domain.PlanSpec {
	s := squatSpec()
	s.Weeks = 2
	return s
}

func ptr(v float64) *float64 { return &v }

func TestComputeProgressScenarios(t *testing.T) {
	plan := mustPlan(t, shortSpec())
	type logIn struct {
		day, hour, reps int
		value           float64
	}
	tests := []struct {
		name string
		logs []logIn
		now  time.Time
		want domain.Progress
	}{
		{
			name: "before the start, nothing logged",
			now:  monday.Time().Add(-time.Hour),
			want: domain.Progress{SessionsPlanned: 6, AdherencePercent: 100, NextSession: 1, NextTarget: ptr(60), NextReason: domain.ReasonStart},
		},
		{
			name: "a week in, nothing logged",
			now:  at(7, 20),
			want: domain.Progress{SessionsPlanned: 6, SessionsPlannedToDate: 3, NextSession: 1, NextTarget: ptr(60), NextReason: domain.ReasonStart},
		},
		{
			name: "two logs on one day are one session with the day's best",
			logs: []logIn{{1, 8, 5, 60}, {1, 19, 3, 62.5}},
			now:  at(1, 20),
			want: domain.Progress{
				SessionsDone: 1, SessionsPlanned: 6, AdherencePercent: 100, TargetsMet: 1, CurrentStreak: 1,
				BestSet:            &domain.SetRecord{Value: 62.5, Reps: 3, PerformedAt: at(1, 19)},
				EstimatedOneRepMax: ptr(70), // 60 × (1 + 5/30) beats 62.5 × (1 + 3/30) = 68.75
				NextSession:        2, NextTarget: ptr(62.5), NextReason: domain.ReasonScheduled,
			},
		},
		{
			name: "a miss breaks the streak",
			logs: []logIn{{1, 18, 5, 60}, {3, 18, 5, 62}, {5, 18, 5, 65}},
			now:  at(5, 20),
			want: domain.Progress{
				SessionsDone: 3, SessionsPlanned: 6, SessionsPlannedToDate: 2, AdherencePercent: 100,
				TargetsMet: 2, CurrentStreak: 1,
				BestSet:            &domain.SetRecord{Value: 65, Reps: 5, PerformedAt: at(5, 18)},
				EstimatedOneRepMax: ptr(75.83),
				NextSession:        4, NextTarget: ptr(67.5), NextReason: domain.ReasonScheduled,
			},
		},
		{
			name: "behind schedule",
			logs: []logIn{{1, 18, 5, 60}, {2, 18, 5, 62.5}},
			now:  at(14, 12),
			want: domain.Progress{
				SessionsDone: 2, SessionsPlanned: 6, SessionsPlannedToDate: 6, AdherencePercent: 33.3,
				TargetsMet: 2, CurrentStreak: 2,
				BestSet:            &domain.SetRecord{Value: 62.5, Reps: 5, PerformedAt: at(2, 18)},
				EstimatedOneRepMax: ptr(72.92),
				NextSession:        3, NextTarget: ptr(65), NextReason: domain.ReasonScheduled,
			},
		},
		{
			name: "every session met: complete",
			logs: []logIn{{1, 9, 1, 60}, {2, 9, 1, 62.5}, {3, 9, 1, 65}, {4, 9, 1, 67.5}, {5, 9, 1, 70}, {6, 9, 1, 72.5}},
			now:  at(6, 10),
			want: domain.Progress{
				SessionsDone: 6, SessionsPlanned: 6, SessionsPlannedToDate: 2, AdherencePercent: 100,
				TargetsMet: 6, CurrentStreak: 6,
				BestSet:            &domain.SetRecord{Value: 72.5, Reps: 1, PerformedAt: at(6, 9)},
				EstimatedOneRepMax: ptr(72.5), // a single is its own maximum
				Complete:           true,
			},
		},
		{
			name: "the last session missed the peak: not complete, retry the peak",
			logs: []logIn{{1, 9, 1, 60}, {2, 9, 1, 62.5}, {3, 9, 1, 65}, {4, 9, 1, 67.5}, {5, 9, 1, 70}, {6, 9, 1, 72}},
			now:  at(6, 10),
			want: domain.Progress{
				SessionsDone: 6, SessionsPlanned: 6, SessionsPlannedToDate: 2, AdherencePercent: 100,
				TargetsMet: 5, CurrentStreak: 0,
				BestSet:            &domain.SetRecord{Value: 72, Reps: 1, PerformedAt: at(6, 9)},
				EstimatedOneRepMax: ptr(72),
				NextSession:        7, NextTarget: ptr(72.5), NextReason: domain.ReasonScheduled,
				MissesInARow: 1,
			},
		},
		{
			name: "a retry after the plan meets the peak: complete",
			logs: []logIn{{1, 9, 1, 60}, {2, 9, 1, 62.5}, {3, 9, 1, 65}, {4, 9, 1, 67.5}, {5, 9, 1, 70}, {6, 9, 1, 72}, {8, 9, 1, 72.5}},
			now:  at(8, 10),
			want: domain.Progress{
				SessionsDone: 7, SessionsPlanned: 6, SessionsPlannedToDate: 3, AdherencePercent: 100,
				TargetsMet: 6, CurrentStreak: 1,
				BestSet:            &domain.SetRecord{Value: 72.5, Reps: 1, PerformedAt: at(8, 9)},
				EstimatedOneRepMax: ptr(72.5),
				Complete:           true,
			},
		},
		{
			name: "midnight UTC splits sessions",
			logs: []logIn{{1, 23, 5, 60}, {2, 0, 5, 60}},
			now:  at(2, 1),
			want: domain.Progress{
				SessionsDone: 2, SessionsPlanned: 6, AdherencePercent: 100,
				TargetsMet: 1, CurrentStreak: 0,
				BestSet:            &domain.SetRecord{Value: 60, Reps: 5, PerformedAt: at(1, 23)},
				EstimatedOneRepMax: ptr(70),
				NextSession:        3, NextTarget: ptr(65), NextReason: domain.ReasonScheduled,
				MissesInARow: 1,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs []domain.WorkoutLog
			for _, l := range tt.logs {
				logs = append(logs, mustLog(t, domain.UnitKg, at(l.day, l.hour), l.reps, l.value))
			}
			for _, order := range []struct {
				name string
				logs []domain.WorkoutLog
			}{
				{"as given", logs},
				{"newest first", sortedLogs(logs, true)},
				{"shuffled", shuffled(logs, 3)},
			} {
				got := domain.ComputeProgress(plan, order.logs, time.UTC, tt.now)
				if !reflect.DeepEqual(got, tt.want) {
					t.Errorf("%s:\n got %s\nwant %s", order.name, fmtProgress(got), fmtProgress(tt.want))
				}
			}
		})
	}
}

func TestComputeProgressNonLoadHasNoOneRepMax(t *testing.T) {
	spec := shortSpec()
	spec.Unit, spec.StartValue, spec.Increment = domain.UnitReps, 10, 1
	plan := mustPlan(t, spec)
	logs := []domain.WorkoutLog{mustLog(t, domain.UnitReps, at(1, 9), 1, 12)}
	p := domain.ComputeProgress(plan, logs, time.UTC, at(1, 10))
	if p.EstimatedOneRepMax != nil {
		t.Errorf("EstimatedOneRepMax = %v for reps", *p.EstimatedOneRepMax)
	}
	if p.BestSet == nil || p.BestSet.Value != 12 || p.TargetsMet != 1 {
		t.Errorf("progress %s", fmtProgress(p))
	}
}

func TestComputeProgressDoesNotModifyLogs(t *testing.T) {
	plan := mustPlan(t, squatSpec())
	logs := randomLogs(t, rand.New(rand.NewPCG(5, 5)), plan, 30)
	before := slices.Clone(logs)
	domain.ComputeProgress(plan, logs, time.UTC, farFuture)
	if !slices.Equal(logs, before) {
		t.Error("ComputeProgress reordered or changed its input")
	}
}

func TestPlannedToDate(t *testing.T) {
	tests := []struct {
		spw, days, want int // days after the start date; 0 is the start date itself
	}{
		{3, -1, 0}, {3, 0, 0}, {3, 1, 0}, {3, 2, 1}, {3, 3, 1}, {3, 4, 2}, {3, 5, 2}, {3, 6, 3},
		{3, 7, 3}, {3, 9, 4}, {3, 13, 6}, {3, 1000, 6},
		{7, 0, 1}, {7, 3, 4}, {14, 0, 2}, {1, 5, 0}, {1, 6, 1},
	}
	for _, tt := range tests {
		spec := shortSpec()
		spec.SessionsPerWeek = tt.spw
		plan := mustPlan(t, spec)
		now := monday.Time().AddDate(0, 0, tt.days).Add(12 * time.Hour)
		got := domain.ComputeProgress(plan, nil, time.UTC, now).SessionsPlannedToDate
		if want := min(tt.want, plan.TotalSessions()); got != want {
			t.Errorf("%d a week, day %d: planned %d, want %d", tt.spw, tt.days, got, want)
		}
	}
}

func TestComputeProgressZeroPlan(t *testing.T) {
	if got := domain.ComputeProgress(domain.Plan{}, nil, time.UTC, farFuture); !reflect.DeepEqual(got, domain.Progress{}) {
		t.Errorf("zero plan progress %s", fmtProgress(got))
	}
}

// TestComputeProgressMatchesReference compares with a deliberately naive
// implementation (map of days, sort, replay) on random plans and logs, in
// every input order the fast path distinguishes.
func TestComputeProgressMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 13))
	for i := range 300 {
		plan := mustPlan(t, randomPlanSpec(r))
		logs := randomLogs(t, r, plan, r.IntN(60))
		now := plan.StartDate().Time().Add(time.Duration(r.IntN(800*24)) * time.Hour)
		want := referenceProgress(plan, logs, now)
		for name, in := range map[string][]domain.WorkoutLog{
			"shuffled":     logs,
			"oldest first": sortedLogs(logs, false),
			"newest first": sortedLogs(logs, true),
		} {
			got := domain.ComputeProgress(plan, in, time.UTC, now)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("case %d (%s, %d logs, plan %+v):\n got %s\nwant %s",
					i, name, len(logs), plan.Spec(), fmtProgress(got), fmtProgress(want))
			}
			checkProgressInvariants(t, plan, in, got)
		}
	}
}

func checkProgressInvariants(t *testing.T, plan domain.Plan, logs []domain.WorkoutLog, p domain.Progress) {
	t.Helper()
	switch {
	case p.TargetsMet > p.SessionsDone || p.SessionsDone > len(logs):
		t.Fatalf("targets met %d, sessions %d, logs %d", p.TargetsMet, p.SessionsDone, len(logs))
	case p.CurrentStreak > p.TargetsMet:
		t.Fatalf("streak %d > targets met %d", p.CurrentStreak, p.TargetsMet)
	case p.AdherencePercent < 0 || p.AdherencePercent > 100:
		t.Fatalf("adherence %v", p.AdherencePercent)
	case p.SessionsPlannedToDate > p.SessionsPlanned || p.SessionsPlanned != plan.TotalSessions():
		t.Fatalf("planned %d to date of %d", p.SessionsPlannedToDate, p.SessionsPlanned)
	case p.Complete && (p.SessionsDone < plan.TotalSessions() || p.NextTarget != nil):
		t.Fatalf("complete with %d sessions, next %v", p.SessionsDone, p.NextTarget)
	case !p.Complete && (p.NextTarget == nil || *p.NextTarget != plan.Target(p.SessionsDone+1)):
		t.Fatalf("next target %v for session %d", p.NextTarget, p.SessionsDone+1)
	case (len(logs) == 0) != (p.BestSet == nil):
		t.Fatalf("best set %v with %d logs", p.BestSet, len(logs))
	}
}

// referenceProgress is ComputeProgress written the obvious way.
func referenceProgress(plan domain.Plan, logs []domain.WorkoutLog, now time.Time) domain.Progress {
	p := domain.Progress{SessionsPlanned: plan.TotalSessions()}
	best := map[domain.Date]float64{}
	for _, l := range logs {
		d := domain.DateOf(l.PerformedAt())
		best[d] = max(best[d], l.Value())
	}
	days := make([]domain.Date, 0, len(best))
	for d := range best {
		days = append(days, d)
	}
	slices.SortFunc(days, domain.Date.Compare)
	for i, d := range days {
		session := i + 1
		if best[d] >= plan.Target(session) {
			p.TargetsMet++
			p.CurrentStreak++
			if session >= plan.TotalSessions() {
				p.Complete = true
			}
			p.MissesInARow = 0
		} else {
			p.CurrentStreak = 0
			p.MissesInARow++
		}
	}
	p.SessionsDone = len(days)

	if elapsed := plan.StartDate().DaysUntil(domain.DateOf(now)); elapsed >= 0 {
		// The k-th session of a week is due once k/spw of the week (7k/spw
		// days) has passed.
		spw := plan.SessionsPerWeek()
		due := elapsed / 7 * spw
		daysIntoWeek := elapsed%7 + 1
		for k := 1; k <= spw; k++ {
			if 7*k <= daysIntoWeek*spw {
				due++
			}
		}
		p.SessionsPlannedToDate = min(due, plan.TotalSessions())
	}
	if p.SessionsPlannedToDate == 0 {
		p.AdherencePercent = 100
	} else {
		p.AdherencePercent = math.Round(min(100, 100*float64(p.SessionsDone)/float64(p.SessionsPlannedToDate))*10) / 10
	}

	var bestSet *domain.SetRecord
	e1rm := 0.0
	for _, l := range logs {
		c := domain.SetRecord{Value: l.Value(), Reps: l.Reps(), PerformedAt: l.PerformedAt()}
		if bestSet == nil || c.Value > bestSet.Value ||
			(c.Value == bestSet.Value && (c.Reps > bestSet.Reps || (c.Reps == bestSet.Reps && c.PerformedAt.Before(bestSet.PerformedAt)))) {
			bestSet = &c
		}
		est := l.Value()
		if l.Reps() > 1 {
			est = l.Value() * (1 + float64(l.Reps())/30)
		}
		e1rm = max(e1rm, est)
	}
	p.BestSet = bestSet
	if bestSet != nil && plan.Unit().IsLoad() {
		p.EstimatedOneRepMax = ptr(math.Round(e1rm*100) / 100)
	}
	if !p.Complete {
		p.NextSession = p.SessionsDone + 1
		p.NextTarget = ptr(plan.Target(p.NextSession))
		p.NextReason = domain.ReasonScheduled
		if p.SessionsDone == 0 {
			p.NextReason = domain.ReasonStart
		}
	}
	return p
}

func shuffled(logs []domain.WorkoutLog, seed uint64) []domain.WorkoutLog {
	out := slices.Clone(logs)
	rand.New(rand.NewPCG(seed, seed)).Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

func fmtProgress(p domain.Progress) string {
	deref := func(v *float64) any {
		if v == nil {
			return nil
		}
		return *v
	}
	var best any
	if p.BestSet != nil {
		best = *p.BestSet
	}
	type view struct {
		Done, Planned, ToDate int
		Adherence             float64
		Met, Streak           int
		Best                  any
		E1RM                  any
		Next                  int
		NextTarget            any
		NextReps              any
		Reason                domain.Reason
		Misses                int
		Complete              bool
	}
	var reps any
	if p.NextReps != nil {
		reps = *p.NextReps
	}
	v := view{p.SessionsDone, p.SessionsPlanned, p.SessionsPlannedToDate, p.AdherencePercent,
		p.TargetsMet, p.CurrentStreak, best, deref(p.EstimatedOneRepMax), p.NextSession, deref(p.NextTarget),
		reps, p.NextReason, p.MissesInARow, p.Complete}
	return fmtAny(v)
}
