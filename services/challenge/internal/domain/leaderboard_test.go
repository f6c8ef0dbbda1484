package domain_test

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/progressive-overload/po/services/challenge/internal/domain"
)

// TestComputeStanding: each row worked out by hand. The plan is the squat
// plan (60 kg, +2.5 kg a session, 3 a week from Monday 2026-01-05); every
// log is 3 sets. Epley: w × (1 + reps/30).
func TestComputeStanding(t *testing.T) {
	kg := mustPlan(t, squatSpec())
	repsSpec := squatSpec()
	repsSpec.Unit, repsSpec.StartValue, repsSpec.Increment = domain.UnitReps, 10, 1
	reps := mustPlan(t, repsSpec)
	moscow, err := time.LoadLocation("Europe/Moscow") // UTC+3
	if err != nil {
		t.Fatal(err)
	}
	joined := at(1, 6)

	for _, tc := range []struct {
		name string
		plan domain.Plan
		logs []domain.WorkoutLog
		zone *time.Location
		want domain.Standing
	}{
		{
			name: "no logs: nothing, reached when joined",
			plan: kg,
			want: domain.Standing{ReachedAt: joined},
		},
		{
			// Session 1 (day 1): 60 × 5, target 60, met; e1RM 60 × 7/6 = 70.
			// Session 2 (day 3): 62.5 × 5 (e1RM 72.9167) and 65 × 3 (71.5),
			// best 65 ≥ target 62.5, met.
			// Volume 3×5×60 + 3×5×62.5 + 3×3×65 = 900 + 937.5 + 585 = 2422.5.
			// Gain 72.92 − 70 = 2.92; reached with the newest log, day 3 09:00.
			name: "two sessions met",
			plan: kg,
			logs: []domain.WorkoutLog{
				mustLog(t, domain.UnitKg, at(3, 9), 3, 65),
				mustLog(t, domain.UnitKg, at(1, 7), 5, 60),
				mustLog(t, domain.UnitKg, at(3, 7), 5, 62.5),
			},
			want: domain.Standing{Sessions: 2, TargetsMet: 2, VolumeUnits: 242250, Volume: 2422.5,
				BestE1RMGain: ptr(2.92), ReachedAt: at(3, 9)},
		},
		{
			// 57.5 < 60: missed. 3×5×57.5 = 862.5; one session, no gain.
			name: "a missed target",
			plan: kg,
			logs: []domain.WorkoutLog{mustLog(t, domain.UnitKg, at(1, 7), 5, 57.5)},
			want: domain.Standing{Sessions: 1, TargetsMet: 0, VolumeUnits: 86250, Volume: 862.5,
				BestE1RMGain: ptr(0.0), ReachedAt: at(1, 7)},
		},
		{
			// Reps are counted in whole reps: 3 × 1 × 12 = 36; not a load.
			name: "reps: whole units, no e1RM",
			plan: reps,
			logs: []domain.WorkoutLog{mustLog(t, domain.UnitReps, at(2, 7), 1, 12)},
			want: domain.Standing{Sessions: 1, TargetsMet: 1, VolumeUnits: 36, Volume: 36, ReachedAt: at(2, 7)},
		},
		{
			// Day 1 23:00 and day 2 01:00 UTC are two UTC sessions (60 meets
			// 60, 62.5 meets 62.5; gain 72.92 − 70)...
			name: "sessions by UTC day",
			plan: kg,
			logs: []domain.WorkoutLog{
				mustLog(t, domain.UnitKg, at(1, 23), 5, 60),
				mustLog(t, domain.UnitKg, at(2, 1), 5, 62.5),
			},
			zone: time.UTC,
			want: domain.Standing{Sessions: 2, TargetsMet: 2, VolumeUnits: 183750, Volume: 1837.5,
				BestE1RMGain: ptr(2.92), ReachedAt: at(2, 1)},
		},
		{
			// ...but one Moscow day (02:00 and 04:00 on the 6th): one session,
			// met, and the first session holds the best set: no gain.
			name: "sessions by the participant's day",
			plan: kg,
			logs: []domain.WorkoutLog{
				mustLog(t, domain.UnitKg, at(1, 23), 5, 60),
				mustLog(t, domain.UnitKg, at(2, 1), 5, 62.5),
			},
			zone: moscow,
			want: domain.Standing{Sessions: 1, TargetsMet: 1, VolumeUnits: 183750, Volume: 1837.5,
				BestE1RMGain: ptr(0.0), ReachedAt: at(2, 1)},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := domain.ComputeStanding(tc.plan, tc.logs, tc.zone, joined, farFuture)
			if got.Sessions != tc.want.Sessions || got.TargetsMet != tc.want.TargetsMet ||
				got.VolumeUnits != tc.want.VolumeUnits || got.Volume != tc.want.Volume ||
				!got.ReachedAt.Equal(tc.want.ReachedAt) || !sameFloat(got.BestE1RMGain, tc.want.BestE1RMGain) {
				t.Fatalf("got %+v (gain %v)\nwant %+v (gain %v)", got, deref(got.BestE1RMGain), tc.want, deref(tc.want.BestE1RMGain))
			}
		})
	}
}

func sameFloat(a, b *float64) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

func deref(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}

// The score orders by targets met first, then volume, exactly.
func TestScore(t *testing.T) {
	s := domain.Standing{TargetsMet: 2, VolumeUnits: 242250}
	if got, want := s.Score(), float64(2<<33+242250); got != want {
		t.Fatalf("score %v, want %v", got, want)
	}
	met, vol := domain.ScoreParts(s.Score())
	if met != 2 || vol != 242250 {
		t.Fatalf("parts %d %d", met, vol)
	}
	heavy := domain.Standing{TargetsMet: 0, VolumeUnits: math.MaxInt64}
	if light := (domain.Standing{TargetsMet: 1}); !(light.Score() > heavy.Score()) {
		t.Fatal("volume outweighed a met target")
	}
	if _, vol := domain.ScoreParts(heavy.Score()); vol != domain.MaxScoredVolume {
		t.Fatalf("volume not saturated: %d", vol)
	}
	top := domain.Standing{TargetsMet: domain.MaxScoredTargets, VolumeUnits: domain.MaxScoredVolume}
	if top.Score() >= 1<<53 || top.Score()-1 == top.Score() {
		t.Fatalf("the highest score %v is not exact", top.Score())
	}
	if a, b := (domain.Standing{TargetsMet: 5, VolumeUnits: 10}), (domain.Standing{TargetsMet: 5, VolumeUnits: 11}); !(b.Score() > a.Score()) {
		t.Fatal("volume does not break a tie of targets")
	}
}

func TestTiebreak(t *testing.T) {
	early := domain.Standing{ReachedAt: at(1, 7)}
	late := domain.Standing{ReachedAt: at(1, 7).Add(time.Microsecond)}
	a, b := early.Tiebreak(99), late.Tiebreak(1)
	if len(a) != domain.TiebreakLen || len(a) > 64 || !(a < b) {
		t.Fatalf("tiebreaks %q %q", a, b)
	}
	if c := early.Tiebreak(100); !(a < c) {
		t.Fatalf("user id does not order equal times: %q %q", a, c)
	}
	if got, ok := domain.ParseTiebreak(a); !ok || !got.Equal(at(1, 7)) {
		t.Fatalf("ParseTiebreak(%q) = %v, %v", a, got, ok)
	}
	for _, bad := range []string{"", "x", strings.Repeat("9", domain.TiebreakLen), "-000000000000000001.0000000000000000001"} {
		if _, ok := domain.ParseTiebreak(bad); ok {
			t.Errorf("ParseTiebreak(%q) ok", bad)
		}
	}
}

func TestPlannedSoFarAndAdherence(t *testing.T) {
	plan := mustPlan(t, squatSpec())
	for _, tc := range []struct {
		now  time.Time
		want int
	}{
		{monday.Time().Add(-time.Hour), 0}, // before the start
		{at(1, 12), 0},                     // 3 a week: none due on day 1
		{at(3, 12), 1},                     // 3 × 3 / 7 = 1
		{at(8, 0), 3},                      // one whole week
		{farFuture, 24},                    // never more than the plan
	} {
		if got := domain.PlannedSoFar(plan, tc.now); got != tc.want {
			t.Errorf("PlannedSoFar at %v = %d, want %d", tc.now, got, tc.want)
		}
	}
	for _, tc := range []struct {
		met, planned int
		want         float64
	}{
		{2, 3, 0.667}, {3, 3, 1}, {4, 3, 1.333}, {0, 0, 0}, {1, 0, 1}, {0, 5, 0},
	} {
		if got := domain.Adherence(tc.met, tc.planned); got != tc.want {
			t.Errorf("Adherence(%d, %d) = %v, want %v", tc.met, tc.planned, got, tc.want)
		}
	}
}
