package domain

import (
	"fmt"
	"iter"
	"math"
)

// Limits of a plan. The numeric ones keep every target inside what a
// WorkoutLog can record, so a valid plan can always be completed.
const (
	MaxTitleLen        = 120
	MaxExerciseLen     = 80
	MaxReasonLen       = 255
	MaxStartValue      = 100000
	MaxIncrement       = 10000
	MaxSessionsPerWeek = 14
	MaxWeeks           = 104
	// MaxTotalSessions is the longest plan; incrementEvery beyond it could
	// never apply.
	MaxTotalSessions = MaxSessionsPerWeek * MaxWeeks
)

// The start date window. The lower bound catches clients that send the Unix
// epoch or a two-digit year; the upper keeps end dates four-digit years.
var (
	minStartDate = MustDate(2000, 1, 1)
	maxStartDate = MustDate(2999, 12, 31)
)

// PlanSpec is the raw input of NewPlan, typically straight from a request
// or a database row.
type PlanSpec struct {
	Exercise        string
	Unit            Unit
	StartValue      float64
	Increment       float64
	IncrementEvery  int // sessions between increments
	SessionsPerWeek int
	Weeks           int
	StartDate       Date
	// Progression is how the target moves; the zero value is fixed.
	Progression ProgressionSpec
}

// Plan is a validated progressive-overload plan: start at StartValue and add
// Increment every IncrementEvery sessions, SessionsPerWeek times a week for
// Weeks weeks from StartDate. The zero Plan is "no plan".
type Plan struct {
	exercise        string
	unit            Unit
	startValue      float64
	increment       float64
	incrementEvery  int
	sessionsPerWeek int
	weeks           int
	startDate       Date
	// Targets are computed from integers of 1/scale of the unit so that
	// session 1000 is exactly start + n×increment, not an accumulated error.
	scale      float64
	startUnits int64
	incUnits   int64
	// How the target moves (progression.go); a fixed plan leaves the
	// other fields 0.
	progression   ProgressionType
	deloadAfter   int
	deloadPercent int
	minReps       int
	maxReps       int
}

// NewPlan validates spec and reports every invalid field at once.
//
// Rules: exercise 1..80 characters after trimming, one line, valid UTF-8;
// unit one of Units(); startValue in (0, 100000] and increment in
// [0, 10000], finite, with at most the unit's Decimals(); incrementEvery in
// 1..1456; sessionsPerWeek in 1..14; weeks in 1..104; startDate between
// 2000-01-01 and 2999-12-31. The peak target must also stay within
// MaxValue, so the plan can be completed; that is reported on increment.
func NewPlan(spec PlanSpec) (Plan, error) {
	var errs fieldErrors
	exercise, msg := checkLine(spec.Exercise, MaxExerciseLen)
	errs.addIf(FieldExercise, msg)

	unitOK := spec.Unit.Valid()
	if !unitOK {
		errs.add(FieldUnit, "must be one of kg, lb, reps, seconds, meters")
	}
	// With an unknown unit only check the loosest precision, so that only
	// certain faults are reported.
	decimals := 2
	if unitOK {
		decimals = spec.Unit.Decimals()
	}
	scale := scaleFor(decimals)
	startMsg := checkAmount(spec.StartValue, false, MaxStartValue, spec.Unit, decimals)
	errs.addIf(FieldStartValue, startMsg)
	incMsg := checkAmount(spec.Increment, true, MaxIncrement, spec.Unit, decimals)
	errs.addIf(FieldIncrement, incMsg)
	everyMsg := checkRange(spec.IncrementEvery, 1, MaxTotalSessions)
	errs.addIf(FieldIncrementEvery, everyMsg)
	spwMsg := checkRange(spec.SessionsPerWeek, 1, MaxSessionsPerWeek)
	errs.addIf(FieldSessionsPerWeek, spwMsg)
	weeksMsg := checkRange(spec.Weeks, 1, MaxWeeks)
	errs.addIf(FieldWeeks, weeksMsg)
	prog := checkProgression(spec.Progression, spec.Unit, unitOK, &errs)
	switch {
	case spec.StartDate.IsZero():
		errs.add(FieldStartDate, "is required")
	case spec.StartDate.Before(minStartDate) || spec.StartDate.After(maxStartDate):
		errs.add(FieldStartDate, fmt.Sprintf("must be between %s and %s", minStartDate, maxStartDate))
	}

	p := Plan{
		exercise:        exercise,
		unit:            spec.Unit,
		incrementEvery:  spec.IncrementEvery,
		sessionsPerWeek: spec.SessionsPerWeek,
		weeks:           spec.Weeks,
		startDate:       spec.StartDate,
		scale:           scale,
		progression:     prog.Type,
		deloadAfter:     prog.DeloadAfter,
		deloadPercent:   prog.DeloadPercent,
		minReps:         prog.MinReps,
		maxReps:         prog.MaxReps,
	}
	if startMsg == "" && incMsg == "" && everyMsg == "" && spwMsg == "" && weeksMsg == "" && !errs.has(FieldMinReps, FieldMaxReps) {
		p.startUnits = toUnits(spec.StartValue, scale)
		p.incUnits = toUnits(spec.Increment, scale)
		// Values are stored from their integer form, which also turns -0 into 0.
		p.startValue = float64(p.startUnits) / scale
		p.increment = float64(p.incUnits) / scale
		if peak := p.Peak(); peak > MaxValue {
			errs.add(FieldIncrement, fmt.Sprintf(
				"takes the peak target to %s, above the %d a log can record", formatNumber(peak), MaxValue))
		}
	}
	if err := errs.err(); err != nil {
		return Plan{}, err
	}
	return p, nil
}

// checkAmount validates a finite amount in [0 or >0, max] with the unit's
// precision; it returns "" when v is fine.
func checkAmount(v float64, allowZero bool, maxV float64, u Unit, decimals int) string {
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return "must be a finite number"
	case allowZero && v < 0:
		return "must not be negative"
	case !allowZero && v <= 0:
		return "must be greater than 0"
	case v > maxV:
		return "must be at most " + formatNumber(maxV)
	case !hasPrecision(v, scaleFor(decimals)):
		return precisionMessage(u, decimals)
	}
	return ""
}

func checkRange(v, lo, hi int) string {
	if v < lo || v > hi {
		return fmt.Sprintf("must be between %d and %d", lo, hi)
	}
	return ""
}

// IsZero reports whether p is the zero Plan rather than one NewPlan made.
func (p Plan) IsZero() bool { return p.incrementEvery == 0 }

// Exercise is the trimmed exercise name.
func (p Plan) Exercise() string { return p.exercise }

// Unit is what the plan's values measure.
func (p Plan) Unit() Unit { return p.unit }

// StartValue is session 1's target.
func (p Plan) StartValue() float64 { return p.startValue }

// Increment is added every IncrementEvery sessions.
func (p Plan) Increment() float64 { return p.increment }

// IncrementEvery is the number of sessions between increments.
func (p Plan) IncrementEvery() int { return p.incrementEvery }

// SessionsPerWeek is how many sessions each week plans.
func (p Plan) SessionsPerWeek() int { return p.sessionsPerWeek }

// Weeks is the plan's length.
func (p Plan) Weeks() int { return p.weeks }

// StartDate is the first day of week 1.
func (p Plan) StartDate() Date { return p.startDate }

// EndDate is the last day of the last week, inclusive.
func (p Plan) EndDate() Date {
	if p.IsZero() {
		return Date{}
	}
	return p.startDate.AddDays(7*p.weeks - 1)
}

// WeekStart is the first day of week (1-based).
func (p Plan) WeekStart(week int) Date {
	if p.IsZero() {
		return Date{}
	}
	return p.startDate.AddDays(7 * (week - 1))
}

// Spec is the plan's normalized input, for storing it or building a changed
// copy through NewPlan.
func (p Plan) Spec() PlanSpec {
	return PlanSpec{
		Exercise:        p.exercise,
		Unit:            p.unit,
		StartValue:      p.startValue,
		Increment:       p.increment,
		IncrementEvery:  p.incrementEvery,
		SessionsPerWeek: p.sessionsPerWeek,
		Weeks:           p.weeks,
		StartDate:       p.startDate,
		Progression: ProgressionSpec{
			Type:          p.progression,
			DeloadAfter:   p.deloadAfter,
			DeloadPercent: p.deloadPercent,
			MinReps:       p.minReps,
			MaxReps:       p.maxReps,
		},
	}
}

// Progression is how the target moves from session to session.
func (p Plan) Progression() ProgressionType { return p.progression }

// TotalSessions is SessionsPerWeek × Weeks.
func (p Plan) TotalSessions() int { return p.sessionsPerWeek * p.weeks }

// Target is the value session (1-based) aims for:
// StartValue + Increment × floor((session-1)/IncrementEvery), exact to the
// unit's precision. Sessions before 1 count as 1 and sessions after the last
// as the last: the plan holds at its peak once it is over.
//
// For the progressions that follow performance it is the best case, every
// session meeting its target: linear as fixed, double one load step per
// IncrementEvery × (MaxReps−MinReps+1) sessions. What a session is actually
// held to is ComputeProgress's to say.
func (p Plan) Target(session int) float64 {
	if p.IsZero() {
		return 0
	}
	return float64(p.targetUnits(session)) / p.scale
}

func (p Plan) targetUnits(session int) int64 {
	session = max(1, min(session, p.TotalSessions()))
	return p.startUnits + p.incUnits*int64((session-1)/p.sessionsPerStep())
}

// sessionsPerStep is how many sessions a load step takes at best.
func (p Plan) sessionsPerStep() int {
	if p.progression == ProgressionDouble {
		return p.incrementEvery * (p.maxReps - p.minReps + 1)
	}
	return p.incrementEvery
}

func (p Plan) peakUnits() int64 { return p.targetUnits(p.TotalSessions()) }

// Peak is the last session's target, the plan's highest.
func (p Plan) Peak() float64 { return p.Target(p.TotalSessions()) }

// Session is one planned session.
type Session struct {
	Number int     // 1..TotalSessions
	Week   int     // 1..Weeks
	Target float64 // what the session aims for
}

// Sessions yields every planned session in order, without allocating.
func (p Plan) Sessions() iter.Seq[Session] {
	return func(yield func(Session) bool) {
		if p.IsZero() {
			return
		}
		// Counters instead of Target's divisions: this loop is what a
		// schedule view runs over up to 1456 sessions.
		week, inWeek := 1, 0
		var step int64
		inStep, perStep := 0, p.sessionsPerStep()
		for n := 1; n <= p.TotalSessions(); n++ {
			s := Session{Number: n, Week: week, Target: float64(p.startUnits+p.incUnits*step) / p.scale}
			if !yield(s) {
				return
			}
			if inWeek++; inWeek == p.sessionsPerWeek {
				week, inWeek = week+1, 0
			}
			if inStep++; inStep == perStep {
				step, inStep = step+1, 0
			}
		}
	}
}
