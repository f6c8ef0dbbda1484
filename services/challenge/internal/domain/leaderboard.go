package domain

import (
	"fmt"
	"math"
	"strconv"
	"time"
)

// A group's leaderboard ranks its pending and active participants by
// adherence: targets met as a share of the sessions the group's plan
// expected so far. The denominator is the same for everyone (one plan, one
// start date, counted in UTC days), so the rank is by targets met; ties go
// to the larger total volume, then to whoever got there first.

// Standing is what one participant's logs add up to on the leaderboard. It
// is a pure function of the plan, the logs, the participant's zone (which
// groups logs into sessions, as their own progress does) and when they
// joined, so a corrected or deleted log changes it by construction.
type Standing struct {
	// Sessions and TargetsMet are their progress's (ComputeProgress).
	Sessions   int
	TargetsMet int
	// VolumeUnits is Σ sets × reps × value in the unit's integer precision
	// (hundredths; whole reps for reps), exact, saturating at MaxInt64.
	VolumeUnits int64
	// Volume is VolumeUnits in the unit, two decimals.
	Volume float64
	// BestE1RMGain is the best Epley estimate over all logs minus the best
	// of the first session's logs, two decimals; nil for units that are not
	// loads, or without logs.
	BestE1RMGain *float64
	// ReachedAt is the newest log's performedAt, or joinedAt without logs:
	// when the participant reached this standing, for the tie-break.
	ReachedAt time.Time
}

// ComputeStanding derives a participant's standing from the plan of their
// participation and its logs, in any order.
func ComputeStanding(plan Plan, logs []WorkoutLog, zone *time.Location, joinedAt, now time.Time) Standing {
	p := ComputeProgress(plan, logs, zone, now)
	s := Standing{Sessions: p.SessionsDone, TargetsMet: p.TargetsMet, ReachedAt: stamp(joinedAt)}
	if plan.IsZero() {
		return s
	}
	scale := plan.scale
	var (
		firstDay  int64
		firstBest float64
		best      float64
	)
	for i := range logs {
		l := &logs[i]
		v := int64(l.sets) * int64(l.reps) * toUnits(l.value, scale)
		if s.VolumeUnits > math.MaxInt64-v {
			s.VolumeUnits = math.MaxInt64
		} else {
			s.VolumeUnits += v
		}
		if i == 0 || l.performedAt.After(s.ReachedAt) {
			s.ReachedAt = stamp(l.performedAt)
		}
		e := epley(l.value, l.reps)
		best = max(best, e)
		switch day := localDay(l.performedAt, zone); {
		case i == 0 || day < firstDay:
			firstDay, firstBest = day, e
		case day == firstDay:
			firstBest = max(firstBest, e)
		}
	}
	s.Volume = round(float64(s.VolumeUnits)/scale, 2)
	if len(logs) > 0 && plan.Unit().IsLoad() {
		gain := round(best, 2) - round(firstBest, 2)
		gain = round(gain, 2)
		s.BestE1RMGain = &gain
	}
	return s
}

// Score encoding. A leaderboard orders by one float64 score, higher first:
// TargetsMet × 2^33 + min(VolumeUnits, MaxScoredVolume). Both parts are
// integers and the sum stays below 2^53, so the float is exact:
//
//   - TargetsMet counts sessions, at most one a calendar day from a start
//     date no earlier than 2000-01-01 (plan.go) to now (a log may not be
//     in the future): below 2^20 (1,048,576 days) until the year 4870.
//   - the volume saturates at 2^33−1 units: 85,899,345.91 kg (or lb) in
//     hundredths, 8.6 billion reps. One log holds at most 100 × 1000 ×
//     100,000 (workoutlog.go), so a single absurd log can reach it, but no
//     training does; beyond it, volume no longer separates two people
//     with the same targets met, who then tie on the reach time.
const (
	volumeBits = 33
	// MaxScoredVolume is the largest volume (in units) the score tells apart.
	MaxScoredVolume = 1<<volumeBits - 1
	// MaxScoredTargets keeps the score below 2^53.
	MaxScoredTargets = 1<<(53-volumeBits) - 1
)

// Score is the standing as one exact float64, higher first.
func (s Standing) Score() float64 {
	met := int64(min(max(s.TargetsMet, 0), MaxScoredTargets))
	vol := min(max(s.VolumeUnits, 0), MaxScoredVolume)
	return float64(met<<volumeBits | vol)
}

// ScoreParts reverses Score: targets met and the (saturated) volume units.
func ScoreParts(score float64) (targetsMet int, volumeUnits int64) {
	n := int64(score)
	return int(n >> volumeBits), n & MaxScoredVolume
}

// TiebreakLen is the length of a Tiebreak.
const TiebreakLen = 19 + 1 + 19

// Tiebreak orders equal scores, smaller first: ReachedAt as zero-padded
// UnixMicro (earlier first), then the user id, so that no two entries of a
// board tie and every replica ranks them the same.
func (s Standing) Tiebreak(userID int64) string {
	us := max(s.ReachedAt.UnixMicro(), 0)
	return fmt.Sprintf("%019d.%019d", us, max(userID, 0))
}

// ParseTiebreak reverses Tiebreak's time.
func ParseTiebreak(t string) (time.Time, bool) {
	if len(t) != TiebreakLen || t[19] != '.' {
		return time.Time{}, false
	}
	us, err := strconv.ParseInt(t[:19], 10, 64)
	if err != nil || us < 0 {
		return time.Time{}, false
	}
	return time.UnixMicro(us).UTC(), true
}

// PlannedSoFar is how many sessions the group's plan expected by now, the
// adherence's denominator: counted in UTC days, the same for every
// participant whatever their zone (their sessions are still their own days).
func PlannedSoFar(plan Plan, now time.Time) int {
	if plan.IsZero() {
		return 0
	}
	return plannedToDate(plan, time.UTC, now)
}

// Adherence is targetsMet / plannedSoFar to three decimals, not capped (one
// ahead of the calendar is above 1). With nothing planned yet (the first
// days of the plan) the denominator is 1: a met target counts, none is 0.
func Adherence(targetsMet, plannedSoFar int) float64 {
	return round(float64(max(targetsMet, 0))/float64(max(plannedSoFar, 1)), 3)
}
