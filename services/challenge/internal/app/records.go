package app

import (
	"context"
	"strings"
	"time"

	"github.com/progressive-overload/po/services/challenge/internal/domain"
)

// Records and history are computed when read, from the logs, and cached
// until the next change to those logs (invalidateLogs): nothing is kept in
// step with the logs, so a correction or a deletion can never leave a
// record behind.

// E1RMFormula names the estimate every e1RM in the API is (domain.epley).
const E1RMFormula = "epley"

// RecordSetView is a domain.RecordSet as the API shows it.
type RecordSetView struct {
	LogID       int64     `json:"logId"`
	ChallengeID int64     `json:"challengeId"`
	PerformedAt time.Time `json:"performedAt"`
	Sets        int       `json:"sets"`
	Reps        int       `json:"reps"`
	Value       float64   `json:"value"`
}

// E1RMRecordView is the best estimate and its set.
type E1RMRecordView struct {
	Estimate float64       `json:"estimate"`
	Formula  string        `json:"formula"`
	Set      RecordSetView `json:"set"`
}

// ExerciseRecordsView is one exercise's records.
type ExerciseRecordsView struct {
	Exercise   string          `json:"exercise"`
	Unit       string          `json:"unit"`
	Logs       int             `json:"logs"`
	Best       RecordSetView   `json:"best"`
	BestE1RM   *E1RMRecordView `json:"bestE1rm"`
	RepsAtLoad []RecordSetView `json:"repsAtLoad"`
}

// RecordsView is the answer of GET /challenges/records/{userId}.
type RecordsView struct {
	UserID    int64                 `json:"userId"`
	Exercises []ExerciseRecordsView `json:"exercises"`
}

func recordSetView(s domain.RecordSet) RecordSetView {
	return RecordSetView{LogID: s.LogID, ChallengeID: s.ChallengeID, PerformedAt: s.PerformedAt.UTC(),
		Sets: s.Sets, Reps: s.Reps, Value: s.Value}
}

// NewRecordsView is the API form of records.
func NewRecordsView(userID int64, records []domain.ExerciseRecords) RecordsView {
	v := RecordsView{UserID: userID, Exercises: make([]ExerciseRecordsView, len(records))}
	for i, r := range records {
		e := ExerciseRecordsView{
			Exercise: r.Exercise, Unit: string(r.Unit), Logs: r.Logs, Best: recordSetView(r.Best),
			RepsAtLoad: make([]RecordSetView, len(r.RepsAtLoad)),
		}
		if r.BestE1RM != nil {
			e.BestE1RM = &E1RMRecordView{Estimate: r.BestE1RM.Estimate, Formula: E1RMFormula, Set: recordSetView(r.BestE1RM.Set)}
		}
		for j, s := range r.RepsAtLoad {
			e.RepsAtLoad[j] = recordSetView(s)
		}
		v.Exercises[i] = e
	}
	return v
}

// Records is a user's personal records per exercise across all their
// challenges, as the JSON of PersonalRecords, cached per user.
func (a *Application) Records(ctx context.Context, actor Actor, userID int64) ([]byte, error) {
	if !actor.CanAccess(userID) {
		return nil, ErrForbidden
	}
	return a.records.Get(ctx, recordsKey(userID), func(ctx context.Context) ([]byte, error) {
		logs, err := a.repo.UserExerciseLogs(ctx, userID)
		if err != nil {
			return nil, err
		}
		return encode(NewRecordsView(userID, domain.ComputeRecords(logs)))
	})
}

// WeekView is a domain.WeekStats as the API shows it.
type WeekView struct {
	WeekStart string   `json:"weekStart"`
	Logs      int      `json:"logs"`
	Sets      int      `json:"sets"`
	Volume    float64  `json:"volume"`
	BestE1RM  *float64 `json:"bestE1rm"`
}

// ChallengeHistory is one challenge's weekly history, newest week first, as
// the JSON of a WeeklyHistory page. The cached entry holds every week and
// its owner, so any page of a hit is authorized and cut without a database
// read.
func (a *Application) ChallengeHistory(ctx context.Context, actor Actor, challengeID int64, limit *int, cursor string) ([]byte, error) {
	n, before, err := historyPage(limit, cursor)
	if err != nil {
		return nil, err
	}
	if challengeID <= 0 {
		return nil, ErrNotFound
	}
	entry, err := a.history.Get(ctx, challengeHistoryKey(challengeID), func(ctx context.Context) ([]byte, error) {
		c, logs, err := a.repo.ChallengeWithLogs(ctx, challengeID)
		if err != nil {
			return nil, err
		}
		plan := c.Plan()
		return encodeHistory(c.UserID(), plan.Exercise(), plan.Unit(), domain.WeeklyHistory(plan.Unit(), logs))
	})
	if err != nil {
		return nil, err
	}
	return historyAnswer(actor, entry, before, n)
}

// ExerciseHistory is the weekly history of one exercise (domain.ExerciseKey)
// in one unit across all of a user's challenges.
func (a *Application) ExerciseHistory(ctx context.Context, actor Actor, userID int64, exercise, unit string, limit *int, cursor string) ([]byte, error) {
	n, before, err := historyPage(limit, cursor)
	var invalid []domain.FieldError
	invalid = appendFieldErrors(invalid, err)
	name := strings.TrimSpace(exercise)
	if name == "" {
		invalid = append(invalid, domain.FieldError{Field: "exercise", Message: "is required"})
	}
	u, err := domain.ParseUnit(unit)
	if err != nil {
		invalid = append(invalid, domain.FieldError{Field: "unit", Message: "must be one of kg, lb, reps, seconds, meters"})
	}
	if len(invalid) > 0 {
		return nil, &domain.ValidationError{Fields: invalid}
	}
	if !actor.CanAccess(userID) {
		return nil, ErrForbidden
	}
	entry, err := a.history.Get(ctx, exerciseHistoryKey(userID, u, name), func(ctx context.Context) ([]byte, error) {
		all, err := a.repo.UserExerciseLogs(ctx, userID)
		if err != nil {
			return nil, err
		}
		key := domain.ExerciseKey(name)
		var logs []domain.WorkoutLog
		var newest *domain.ExerciseLog
		for i := range all {
			l := &all[i]
			if l.Unit != u || domain.ExerciseKey(l.Exercise) != key {
				continue
			}
			logs = append(logs, l.Log)
			if newest == nil || l.Log.PerformedAt().After(newest.Log.PerformedAt()) {
				newest = l
			}
		}
		// Spelled as the records spell it: as in the most recent log.
		shown := name
		if newest != nil {
			shown = newest.Exercise
		}
		return encodeHistory(userID, shown, u, domain.WeeklyHistory(u, logs))
	})
	if err != nil {
		return nil, err
	}
	return historyAnswer(actor, entry, before, n)
}

// historyPage checks a history page's limit and cursor, naming both when
// both are wrong.
func historyPage(limit *int, cursor string) (n int, before int64, err error) {
	var invalid []domain.FieldError
	n, err = pageSize(limit)
	invalid = appendFieldErrors(invalid, err)
	before, err = DecodeWeekCursor(cursor)
	invalid = appendFieldErrors(invalid, err)
	if len(invalid) > 0 {
		return 0, 0, &domain.ValidationError{Fields: invalid}
	}
	return n, before, nil
}

func historyAnswer(actor Actor, entry []byte, before int64, n int) ([]byte, error) {
	owner, err := historyOwner(entry)
	if err != nil {
		return nil, err
	}
	if !actor.CanAccess(owner) {
		return nil, ErrForbidden
	}
	return sliceHistory(entry, before, n)
}
