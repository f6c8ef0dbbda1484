package domain

import (
	"errors"
	"fmt"
	"strings"
)

// Field names as the API spells them, so a ValidationError maps onto a 422
// response without translation.
const (
	FieldTitle           = "title"
	FieldExercise        = "exercise"
	FieldUnit            = "unit"
	FieldStartValue      = "startValue"
	FieldIncrement       = "increment"
	FieldIncrementEvery  = "incrementEvery"
	FieldSessionsPerWeek = "sessionsPerWeek"
	FieldWeeks           = "weeks"
	FieldStartDate       = "startDate"
	FieldPerformedAt     = "performedAt"
	FieldSets            = "sets"
	FieldReps            = "reps"
	FieldValue           = "value"
	FieldNote            = "note"
	// A plan's progression is a nested object; its fields are named by path.
	FieldProgressionType = "progression.type"
	FieldDeloadAfter     = "progression.deloadAfter"
	FieldDeloadPercent   = "progression.deloadPercent"
	FieldMinReps         = "progression.minReps"
	FieldMaxReps         = "progression.maxReps"
)

// Conflicts with a challenge's current state; the HTTP layer answers 409.
var (
	// ErrInvalidTransition: the status change is not allowed from the
	// current status. Returned as a *TransitionError.
	ErrInvalidTransition = errors.New("invalid status transition")
	// ErrChallengeClosed: the challenge no longer takes logs or edits.
	ErrChallengeClosed = errors.New("challenge is closed")
	// ErrChallengeNotComplete: Complete was asked before the plan was done.
	ErrChallengeNotComplete = errors.New("challenge is not complete")
	// ErrChallengeStillComplete: Reopen was asked while the logs still
	// complete the plan.
	ErrChallengeStillComplete = errors.New("challenge is still complete")
)

// TransitionError says which status change was refused; it matches
// ErrInvalidTransition with errors.Is.
type TransitionError struct {
	From, To Status
}

func (e *TransitionError) Error() string {
	return fmt.Sprintf("%s: a %s challenge cannot become %s", ErrInvalidTransition, e.From, e.To)
}

// Is makes errors.Is(err, ErrInvalidTransition) hold.
func (e *TransitionError) Is(target error) bool { return target == ErrInvalidTransition }

// FieldError names one invalid input field (its API JSON name) and why.
type FieldError struct {
	Field   string
	Message string
}

// ValidationError carries every invalid field of one input, in a stable
// order, so a client fixes them all in one round trip.
type ValidationError struct {
	Fields []FieldError
}

func (e *ValidationError) Error() string {
	var b strings.Builder
	b.WriteString("invalid input: ")
	for i, f := range e.Fields {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(f.Field)
		b.WriteString(" ")
		b.WriteString(f.Message)
	}
	return b.String()
}

// Field returns the message for field, if that field is invalid.
func (e *ValidationError) Field(name string) (string, bool) {
	for _, f := range e.Fields {
		if f.Field == name {
			return f.Message, true
		}
	}
	return "", false
}

// fieldErrors collects messages; err returns an untyped nil when empty so
// callers can compare the result with nil.
type fieldErrors []FieldError

func (f *fieldErrors) add(field, message string) {
	*f = append(*f, FieldError{Field: field, Message: message})
}

func (f *fieldErrors) addIf(field, message string) {
	if message != "" {
		f.add(field, message)
	}
}

// has reports whether any of names is already invalid.
func (f fieldErrors) has(names ...string) bool {
	for _, e := range f {
		for _, n := range names {
			if e.Field == n {
				return true
			}
		}
	}
	return false
}

func (f fieldErrors) err() error {
	if len(f) == 0 {
		return nil
	}
	return &ValidationError{Fields: f}
}

// Invalid returns a ValidationError for one field.
func Invalid(field, message string) *ValidationError {
	return &ValidationError{Fields: []FieldError{{Field: field, Message: message}}}
}
