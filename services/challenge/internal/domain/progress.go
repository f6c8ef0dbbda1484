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
	// past SessionsPlanned means the peak has to be met again. Zero and nil
	// once Complete.
	NextSession int
	NextTarget  *float64
	// Complete: every planned session was done and a session from the last
	// planned one on met the peak.
	Complete bool
}

// ComputeProgress derives progress from a plan and its logs. Every log
// counts whatever its date: Challenge.CheckLog keeps logs from before the
// start out and NewWorkoutLog keeps future ones out, so filtering again here
// would only hide data.
//
// It reads logs in any order without changing them. It is O(n) for logs in
// chronological or reverse chronological order (as storage returns them)
// and sorts a copy of their indices otherwise.
func ComputeProgress(plan Plan, logs []WorkoutLog, now time.Time) Progress {
	if plan.IsZero() {
		return Progress{}
	}
	total := plan.TotalSessions()
	p := Progress{SessionsPlanned: total}
	p.SessionsPlannedToDate = plannedToDate(plan, now)

	order, sorted := visitOrder(logs)
	var (
		bestLog     *WorkoutLog
		bestE1RM    float64
		sessionBest float64
		sessionDay  int64
	)
	// Plan's methods copy the whole Plan per call; once per session that was
	// the largest cost here, so the target arithmetic works on locals.
	startUnits, incUnits, every, scale := plan.startUnits, plan.incUnits, plan.incrementEvery, plan.scale
	closeSession := func() {
		p.SessionsDone++
		k := min(p.SessionsDone, total)
		met := sessionBest >= float64(startUnits+incUnits*int64((k-1)/every))/scale
		if met {
			p.TargetsMet++
			p.CurrentStreak++
			if p.SessionsDone >= total {
				p.Complete = true
			}
		} else {
			p.CurrentStreak = 0
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
		day := dayNumber(l.performedAt)
		if i == 0 || day != sessionDay {
			if i > 0 {
				closeSession()
			}
			sessionDay, sessionBest = day, l.value
		} else {
			sessionBest = max(sessionBest, l.value)
		}
		if bestLog == nil || betterSet(l, bestLog) {
			bestLog = l
		}
		bestE1RM = max(bestE1RM, epley(l.value, l.reps))
	}
	if n > 0 {
		closeSession()
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
		opt.next = plan.Target(p.NextSession)
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
// or through the returned indices. Only the UTC day matters for the first
// two: within a day a session takes its best value whatever the order.
func visitOrder(logs []WorkoutLog) (readOrder, []int) {
	asc, desc := true, true
	for i := 1; i < len(logs) && (asc || desc); i++ {
		a, b := dayNumber(logs[i-1].performedAt), dayNumber(logs[i].performedAt)
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

func plannedToDate(plan Plan, now time.Time) int {
	days := dayNumber(now) - plan.StartDate().dayNumber()
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
