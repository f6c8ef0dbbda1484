package domain

import (
	"math"
	"slices"
	"time"
)

// SetRecord is one logged set worth showing.
type SetRecord struct {
	Value       float64
	Reps        int
	PerformedAt time.Time
}

// Progress is what a plan's logs add up to at a moment. See the package
// documentation for what a session is.
type Progress struct {
	// SessionsDone counts days with at least one log, including any past
	// the plan's last session.
	SessionsDone int
	// SessionsPlanned is the plan's total.
	SessionsPlanned int
	// SessionsPlannedToDate is how many sessions the calendar expected by
	// now: whole weeks elapsed times SessionsPerWeek, plus the current week
	// pro rata, rounded down (3 a week: 1 due by day 3, 2 by day 5, 3 by day
	// 7), so nobody is behind on the first day of a week.
	SessionsPlannedToDate int
	// AdherencePercent is SessionsDone / SessionsPlannedToDate, capped at
	// 100, to one decimal. With nothing due yet nothing was missed: 100.
	AdherencePercent float64
	// TargetsMet counts sessions whose best value reached their target.
	TargetsMet int
	// CurrentStreak counts the newest sessions that met their targets, back
	// to the first that did not.
	CurrentStreak int
	// BestSet is the highest value logged (ties: more reps, then earlier);
	// nil without logs.
	BestSet *SetRecord
	// EstimatedOneRepMax is the highest Epley estimate over all logged sets,
	// w × (1 + reps/30), or w itself for a single; nil for units that are
	// not loads, or without logs.
	EstimatedOneRepMax *float64
	// NextSession and NextTarget describe the session to do next; a number
	// past SessionsPlanned means the peak has to be met again (fixed plans).
	// Zero and nil once Complete.
	NextSession int
	NextTarget  *float64
	// NextReps is the next session's rep target: double progression only.
	NextReps *int
	// NextReason says why NextTarget (and NextReps) are what they are; ""
	// once Complete.
	NextReason Reason
	// MissesInARow counts the newest sessions that missed their targets,
	// back to the first that met it (what a deload counts).
	MissesInARow int
	// Complete: every planned session was done and, for a fixed plan, a
	// session from the last planned one on met the peak. A plan that
	// follows performance has no peak it must reach (its targets depend on
	// the sessions), so it is complete once its planned sessions are done.
	Complete bool
}

// ComputeProgress derives progress from a plan and its logs at now, with
// sessions grouped by calendar day in zone (the user's time zone; nil is
// UTC). It is the one place where a plan meets its logs: completion
// (Challenge.Complete) and the progress view both come from here. Every log
// counts whatever its date: Challenge.CheckLog keeps logs from before the
// start out and NewWorkoutLog keeps future ones out, so filtering again here
// would only hide data.
//
// A fixed plan holds the k-th session done to Target(k). A linear or double
// plan replays the sessions in order: each is held to the target the
// sessions before it earned (progression.go), and met it when one of its
// logs reached the target load (and, for double, the target reps).
//
// It reads logs in any order without changing them. It is O(n) for logs in
// chronological or reverse chronological order (as storage returns them)
// and sorts a copy of their indices otherwise.
func ComputeProgress(plan Plan, logs []WorkoutLog, zone *time.Location, now time.Time) Progress {
	if plan.IsZero() {
		return Progress{}
	}
	total := plan.TotalSessions()
	p := Progress{SessionsPlanned: total}
	p.SessionsPlannedToDate = plannedToDate(plan, zone, now)

	order, sorted := visitOrder(logs, zone)
	var (
		bestLog     *WorkoutLog
		bestE1RM    float64
		sessionBest float64
		sessionMet  bool
		sessionDay  int64
	)
	// Plan's methods copy the whole Plan per call; once per session that was
	// the largest cost here, so the target arithmetic works on locals and
	// the progression's through a pointer.
	startUnits, incUnits, every, scale := plan.startUnits, plan.incUnits, plan.incrementEvery, plan.scale
	follows := plan.progression.FollowsPerformance()
	pl := &plan
	st := pl.startProgression()
	closeSession := func() {
		p.SessionsDone++
		var met bool
		if follows {
			met = sessionMet
			pl.advance(&st, met)
		} else {
			k := min(p.SessionsDone, total)
			met = sessionBest >= float64(startUnits+incUnits*int64((k-1)/every))/scale
		}
		if met {
			p.TargetsMet++
			p.CurrentStreak++
			p.MissesInARow = 0
			if !follows && p.SessionsDone >= total {
				p.Complete = true
			}
		} else {
			p.CurrentStreak = 0
			p.MissesInARow++
		}
	}
	n := len(logs)
	for i := range n {
		var l *WorkoutLog
		switch order {
		case forward:
			l = &logs[i]
		case backward:
			l = &logs[n-1-i]
		default:
			l = &logs[sorted[i]]
		}
		day := localDay(l.performedAt, zone)
		if i == 0 || day != sessionDay {
			if i > 0 {
				closeSession()
			}
			sessionDay, sessionBest, sessionMet = day, l.value, false
		} else {
			sessionBest = max(sessionBest, l.value)
		}
		if follows && !sessionMet {
			sessionMet = pl.meets(&st, toUnits(l.value, scale), l.reps)
		}
		if bestLog == nil || betterSet(l, bestLog) {
			bestLog = l
		}
		bestE1RM = max(bestE1RM, epley(l.value, l.reps))
	}
	if n > 0 {
		closeSession()
	}
	if follows && p.SessionsDone >= total {
		p.Complete = true
	}

	switch {
	case p.SessionsPlannedToDate == 0:
		p.AdherencePercent = 100
	default:
		p.AdherencePercent = round(min(100, 100*float64(p.SessionsDone)/float64(p.SessionsPlannedToDate)), 1)
	}
	// One allocation backs every optional field: progress is computed on
	// each read of a challenge.
	opt := &struct {
		best       SetRecord
		e1rm, next float64
		reps       int
	}{}
	if bestLog != nil {
		opt.best = SetRecord{Value: bestLog.value, Reps: bestLog.reps, PerformedAt: bestLog.performedAt}
		p.BestSet = &opt.best
		if plan.Unit().IsLoad() {
			opt.e1rm = round(bestE1RM, 2)
			p.EstimatedOneRepMax = &opt.e1rm
		}
	}
	if !p.Complete {
		p.NextSession = p.SessionsDone + 1
		switch {
		case follows:
			opt.next = float64(st.load) / scale
			p.NextReason = st.reason
			if plan.progression == ProgressionDouble {
				opt.reps = st.reps
				p.NextReps = &opt.reps
			}
		default:
			opt.next = plan.Target(p.NextSession)
			p.NextReason = ReasonScheduled
			if p.SessionsDone == 0 {
				p.NextReason = ReasonStart
			}
		}
		p.NextTarget = &opt.next
	}
	return p
}

type readOrder int

const (
	forward readOrder = iota
	backward
	byIndex
)

// visitOrder says how to read logs chronologically: as they are, backwards,
// or through the returned indices. Only the local day matters for the first
// two: within a day a session takes its best value, and meets its target if
// any of its logs does, whatever the order.
func visitOrder(logs []WorkoutLog, zone *time.Location) (readOrder, []int) {
	asc, desc := true, true
	for i := 1; i < len(logs) && (asc || desc); i++ {
		a, b := localDay(logs[i-1].performedAt, zone), localDay(logs[i].performedAt, zone)
		asc = asc && a <= b
		desc = desc && a >= b
	}
	switch {
	case asc:
		return forward, nil
	case desc:
		return backward, nil
	}
	idx := make([]int, len(logs))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int {
		return logs[a].performedAt.Compare(logs[b].performedAt)
	})
	return byIndex, idx
}

// betterSet orders sets by value, then reps, then the earlier one, so the
// best set does not depend on the order logs arrive in.
func betterSet(a, b *WorkoutLog) bool {
	if a.value != b.value {
		return a.value > b.value
	}
	if a.reps != b.reps {
		return a.reps > b.reps
	}
	return a.performedAt.Before(b.performedAt)
}

// epley is Epley's one-rep-max estimate. A single is a measured maximum, so
// it is taken as is rather than inflated by 1/30.
func epley(w float64, reps int) float64 {
	if reps <= 1 {
		return w
	}
	return w * (1 + float64(reps)/30)
}

func plannedToDate(plan Plan, zone *time.Location, now time.Time) int {
	days := localDay(now, zone) - plan.StartDate().dayNumber()
	if days < 0 {
		return 0
	}
	spw := int64(plan.SessionsPerWeek())
	due := days/7*spw + spw*(days%7+1)/7
	return int(min(due, int64(plan.TotalSessions())))
}

func round(v float64, decimals int) float64 {
	s := math.Pow10(decimals)
	return math.Round(v*s) / s
}
