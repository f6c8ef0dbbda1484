package domain

import (
	"fmt"
	"time"
)

// Limits of a workout log.
const (
	MaxSets    = 100
	MaxReps    = 1000
	MaxValue   = 100000
	MaxNoteLen = 500
	// MaxClockSkew is how far in the future performedAt may be: client and
	// server clocks disagree by seconds to minutes, and a log "from the
	// future" beyond that is a bug or a lie.
	MaxClockSkew = 5 * time.Minute
)

// minPerformedAt matches the plans' earliest start date: nothing logged
// earlier can belong to a challenge.
var minPerformedAt = minStartDate.Time()

// WorkoutLogSpec is the raw input of NewWorkoutLog.
type WorkoutLogSpec struct {
	PerformedAt time.Time
	Sets        int
	Reps        int
	Value       float64
	Note        string
}

// WorkoutLog is one validated record of a workout. It is a value: identity
// and ownership belong to the storage that keeps it.
type WorkoutLog struct {
	performedAt time.Time
	sets        int
	reps        int
	value       float64
	note        string
}

// NewWorkoutLog validates spec for a challenge measured in unit and reports
// every invalid field at once.
//
// Rules: performedAt set, not before 2000-01-01 and at most MaxClockSkew
// after now; sets 1..100; for load units reps 1..1000 (sets × reps at
// value), for reps/seconds/meters reps must be 1 because value is the
// measured quantity of a set; value finite, > 0, ≤ 100000 with the unit's
// Decimals(); note optional, ≤ 500 characters after trimming, valid UTF-8.
//
// performedAt is kept in UTC at microsecond precision, which is what the
// DATETIME(6) column keeps, so a stored log reads back equal.
func NewWorkoutLog(unit Unit, spec WorkoutLogSpec, now time.Time) (WorkoutLog, error) {
	return buildLog(unit, spec, now, true)
}

// UnmarshalWorkoutLogFromDatabase rebuilds a stored log. It applies every
// rule but the clock one, which only holds at the moment of logging.
func UnmarshalWorkoutLogFromDatabase(unit Unit, spec WorkoutLogSpec) (WorkoutLog, error) {
	return buildLog(unit, spec, time.Time{}, false)
}

func buildLog(unit Unit, spec WorkoutLogSpec, now time.Time, checkClock bool) (WorkoutLog, error) {
	// Not a field error: the unit comes from the challenge, not the client.
	if !unit.Valid() {
		return WorkoutLog{}, fmt.Errorf("workout log for unknown unit %q", unit)
	}
	var errs fieldErrors
	switch {
	case spec.PerformedAt.IsZero():
		errs.add(FieldPerformedAt, "is required")
	case spec.PerformedAt.Before(minPerformedAt):
		errs.add(FieldPerformedAt, "must not be before "+minStartDate.String())
	case checkClock && spec.PerformedAt.After(now.Add(MaxClockSkew)):
		errs.add(FieldPerformedAt, "must not be in the future")
	}
	errs.addIf(FieldSets, checkRange(spec.Sets, 1, MaxSets))
	if unit.IsLoad() {
		errs.addIf(FieldReps, checkRange(spec.Reps, 1, MaxReps))
	} else if spec.Reps != 1 {
		errs.add(FieldReps, fmt.Sprintf("must be 1 for unit %s: value carries the count", unit))
	}
	errs.addIf(FieldValue, checkAmount(spec.Value, false, MaxValue, unit, unit.Decimals()))
	note, msg := checkNote(spec.Note, MaxNoteLen)
	errs.addIf(FieldNote, msg)
	if err := errs.err(); err != nil {
		return WorkoutLog{}, err
	}
	scale := scaleFor(unit.Decimals())
	return WorkoutLog{
		performedAt: spec.PerformedAt.UTC().Truncate(time.Microsecond),
		sets:        spec.Sets,
		reps:        spec.Reps,
		value:       float64(toUnits(spec.Value, scale)) / scale,
		note:        note,
	}, nil
}

// PerformedAt is when the workout happened, in UTC.
func (l WorkoutLog) PerformedAt() time.Time { return l.performedAt }

// Sets is the number of sets.
func (l WorkoutLog) Sets() int { return l.sets }

// Reps is repetitions per set for load units, and 1 otherwise.
func (l WorkoutLog) Reps() int { return l.reps }

// Value is the load lifted, or the measured count, time or distance of a set.
func (l WorkoutLog) Value() float64 { return l.value }

// Note is the trimmed free-text note, possibly empty.
func (l WorkoutLog) Note() string { return l.note }

// Spec is the log's normalized input, for storing it.
func (l WorkoutLog) Spec() WorkoutLogSpec {
	return WorkoutLogSpec{PerformedAt: l.performedAt, Sets: l.sets, Reps: l.reps, Value: l.value, Note: l.note}
}

// WorkoutLogPatch is a correction of a stored log: nil fields keep the
// log's value. An empty note clears the note.
type WorkoutLogPatch struct {
	PerformedAt *time.Time
	Sets        *int
	Reps        *int
	Value       *float64
	Note        *string
}

// Corrected is l with p applied, validated exactly as NewWorkoutLog
// validates a new log (every invalid field at once), so a correction cannot
// store what logging could not.
func (l WorkoutLog) Corrected(unit Unit, p WorkoutLogPatch, now time.Time) (WorkoutLog, error) {
	spec := l.Spec()
	if p.PerformedAt != nil {
		spec.PerformedAt = *p.PerformedAt
	}
	if p.Sets != nil {
		spec.Sets = *p.Sets
	}
	if p.Reps != nil {
		spec.Reps = *p.Reps
	}
	if p.Value != nil {
		spec.Value = *p.Value
	}
	if p.Note != nil {
		spec.Note = *p.Note
	}
	// The clock rule holds for an unchanged performedAt too: it was at most
	// MaxClockSkew after the time it was logged, which is before now.
	return NewWorkoutLog(unit, spec, now)
}
