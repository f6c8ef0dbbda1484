// Package adapters implements the application's ports: the challenge database
// (ent over MySQL, with the transactional outbox), the Redis cache, and the
// consumer of the account service's events.
package adapters

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	entsql "entgo.io/ent/dialect/sql"

	ent "github.com/progressive-overload/po/ent/challenge"
	entchallenge "github.com/progressive-overload/po/ent/challenge/challenge"
	"github.com/progressive-overload/po/ent/challenge/workoutlog"
	"github.com/progressive-overload/po/services/challenge/internal/app"
	"github.com/progressive-overload/po/services/challenge/internal/domain"
	"github.com/progressive-overload/po/services/kit/events"
	"github.com/progressive-overload/po/services/kit/mysqldb"
	"github.com/progressive-overload/po/services/kit/writequeue"
)

// EventSource is the envelope's source of every event this service emits.
const EventSource = "challenge"

// Repository is app.Repository on ent. Events are written to outbox_events in
// the transaction that makes the change they announce; Notify (the outbox
// relay's, if any) is called after the commit so they leave at once.
type Repository struct {
	client *ent.Client
	notify func()
	// writes lines up this process's transactions that lock one challenge,
	// so that its waiting writers hold no pool connection.
	writes *writequeue.Queue[int64]
}

var _ app.Repository = (*Repository)(nil)

// NewRepository returns a repository over db. notify may be nil.
func NewRepository(db *sql.DB, notify func()) *Repository {
	drv := entsql.OpenDB("mysql", db)
	if notify == nil {
		notify = func() {}
	}
	return &Repository{client: ent.NewClient(ent.Driver(drv)), notify: notify, writes: writequeue.New[int64](0)}
}

// Client is the ent client, for tests and hooks.
func (r *Repository) Client() *ent.Client { return r.client }

// inTx runs fn in a transaction, committing when it returns nil; a deadlock
// victim (or a lock wait that timed out) is run again by mysqldb.InTx, so fn
// must not keep state across calls.
func (r *Repository) inTx(ctx context.Context, fn func(tx *ent.Tx) error) error {
	return mysqldb.InTx(ctx, r.client.Tx, fn)
}

// inChallengeTx is inTx for a transaction that locks challenge id: it waits
// for its turn among this process's writes of the challenge before it takes
// a connection (kit/writequeue), and answers app.ErrBusy when too many
// already wait.
func (r *Repository) inChallengeTx(ctx context.Context, id int64, fn func(tx *ent.Tx) error) error {
	err := r.writes.Do(ctx, id, func() error { return r.inTx(ctx, fn) })
	if errors.Is(err, writequeue.ErrBusy) {
		return fmt.Errorf("challenge %d: %w", id, app.ErrBusy)
	}
	return err
}

func (r *Repository) CreateChallenge(ctx context.Context, c *domain.Challenge, announce func(*domain.Challenge) []domain.Event) error {
	err := r.inTx(ctx, func(tx *ent.Tx) error {
		if err := insertChallenge(ctx, tx, c); err != nil {
			return err
		}
		if announce == nil {
			return nil
		}
		return enqueue(ctx, tx, announce(c))
	})
	if err != nil {
		return err
	}
	r.notify()
	return nil
}

// insertChallenge stores a new challenge (a participation too) and assigns
// its id.
func insertChallenge(ctx context.Context, tx *ent.Tx, c *domain.Challenge) error {
	plan := c.Plan()
	prog := plan.Spec().Progression
	create := tx.Challenge.Create().
		SetUserID(c.UserID()).
		SetTitle(c.Title()).
		SetExercise(plan.Exercise()).
		SetUnit(entchallenge.Unit(plan.Unit())).
		SetStartValue(plan.StartValue()).
		SetIncrement(plan.Increment()).
		SetIncrementEvery(plan.IncrementEvery()).
		SetSessionsPerWeek(plan.SessionsPerWeek()).
		SetWeeks(plan.Weeks()).
		SetProgression(entchallenge.Progression(prog.Type)).
		SetDeloadAfter(prog.DeloadAfter).
		SetDeloadPercent(prog.DeloadPercent).
		SetMinReps(prog.MinReps).
		SetMaxReps(prog.MaxReps).
		SetStartDate(plan.StartDate().Time()).
		SetStatus(entchallenge.Status(c.Status())).
		SetStatusReason(c.StatusReason()).
		SetCreatedAt(c.CreatedAt()).
		SetUpdatedAt(c.UpdatedAt())
	if c.GroupID() > 0 {
		create = create.SetGroupID(c.GroupID())
	}
	row, err := create.Save(ctx)
	if err != nil {
		return fmt.Errorf("insert challenge: %w", err)
	}
	return c.AssignID(row.ID)
}

func enqueue(ctx context.Context, tx *ent.Tx, evts []domain.Event) error {
	if len(evts) == 0 {
		return nil
	}
	out := make([]events.Event, 0, len(evts))
	for _, e := range evts {
		data, err := eventData(e)
		if err != nil {
			return err
		}
		evt, err := events.NewEvent(EventSource, e.EventType(), data)
		if err != nil {
			return err
		}
		out = append(out, evt)
	}
	return events.Enqueue(ctx, tx, out...)
}

// eventData is each event's data member (docs/conventions.md).
func eventData(e domain.Event) (any, error) {
	switch e := e.(type) {
	case domain.ChallengeCreated:
		return struct {
			ChallengeID int64 `json:"challengeId"`
			UserID      int64 `json:"userId"`
		}{e.ChallengeID, e.UserID}, nil
	}
	return nil, fmt.Errorf("no wire form for event %T", e)
}

func (r *Repository) GetChallenge(ctx context.Context, id int64) (*domain.Challenge, error) {
	row, err := r.client.Challenge.Get(ctx, id)
	if err != nil {
		return nil, notFound(err)
	}
	return toChallenge(row)
}

// lock reads the challenge FOR UPDATE; challenges must be bound to a transaction.
func lock(ctx context.Context, challenges *ent.ChallengeClient, id int64) (*ent.Challenge, *domain.Challenge, error) {
	row, err := challenges.Query().Where(entchallenge.ID(id)).ForUpdate().Only(ctx)
	if err != nil {
		return nil, nil, notFound(err)
	}
	c, err := toChallenge(row)
	return row, c, err
}

// save writes what a domain.Challenge may change: title, status, reason, updated_at.
func save(ctx context.Context, challenges *ent.ChallengeClient, row *ent.Challenge, c *domain.Challenge) error {
	if row.Title == c.Title() && string(row.Status) == string(c.Status()) &&
		row.StatusReason == c.StatusReason() && row.UpdatedAt.Equal(c.UpdatedAt()) {
		return nil
	}
	err := challenges.UpdateOneID(row.ID).
		SetTitle(c.Title()).
		SetStatus(entchallenge.Status(c.Status())).
		SetStatusReason(c.StatusReason()).
		SetUpdatedAt(c.UpdatedAt()).
		Exec(ctx)
	if err != nil {
		return fmt.Errorf("update challenge %d: %w", row.ID, err)
	}
	return nil
}

func (r *Repository) UpdateChallenge(ctx context.Context, id int64, fn func(c *domain.Challenge) error) (*domain.Challenge, error) {
	var out *domain.Challenge
	err := r.inChallengeTx(ctx, id, func(tx *ent.Tx) (err error) {
		out, err = updateChallenge(ctx, tx.Challenge, id, fn)
		return err
	})
	return out, err
}

// updateChallenge is UpdateChallenge in a transaction that challenges is bound to.
func updateChallenge(ctx context.Context, challenges *ent.ChallengeClient, id int64, fn func(c *domain.Challenge) error) (*domain.Challenge, error) {
	row, c, err := lock(ctx, challenges, id)
	if err != nil {
		return nil, err
	}
	if err := fn(c); err != nil {
		return nil, err
	}
	return c, save(ctx, challenges, row, c)
}

func (r *Repository) DeleteChallenge(ctx context.Context, id int64, check func(c *domain.Challenge, p *domain.Participant) error) (*domain.Challenge, error) {
	var out *domain.Challenge
	err := r.inChallengeTx(ctx, id, func(tx *ent.Tx) error {
		_, c, err := lock(ctx, tx.Challenge, id)
		if err != nil {
			return err
		}
		// Read here, on the transaction's connection: asking the pool for a
		// second one while holding the challenge's lock can deadlock a busy
		// pool (see AddLog's zone).
		var p *domain.Participant
		if c.GroupID() > 0 {
			if p, err = participant(ctx, tx.GroupParticipant, c.GroupID(), c.UserID()); err != nil {
				return err
			}
		}
		if err := check(c, p); err != nil {
			return err
		}
		// The foreign key cascades to workout_logs.
		if err := tx.Challenge.DeleteOneID(id).Exec(ctx); err != nil {
			return fmt.Errorf("delete challenge %d: %w", id, notFound(err))
		}
		out = c
		return nil
	})
	return out, err
}

func (r *Repository) AddLog(ctx context.Context, challengeID int64,
	fn func(c *domain.Challenge, zone *time.Location, history func() ([]domain.WorkoutLog, error)) (domain.WorkoutLog, error),
) (app.LogView, *domain.Challenge, error) {
	var (
		view app.LogView
		out  *domain.Challenge
	)
	err := r.inChallengeTx(ctx, challengeID, func(tx *ent.Tx) error {
		row, c, err := lock(ctx, tx.Challenge, challengeID)
		if err != nil {
			return err
		}
		history := func() ([]domain.WorkoutLog, error) {
			rows, err := tx.WorkoutLog.Query().
				Where(workoutlog.ChallengeID(challengeID)).
				Order(workoutlog.ByPerformedAt(), workoutlog.ByID()).
				All(ctx)
			if err != nil {
				return nil, fmt.Errorf("read logs of challenge %d: %w", challengeID, err)
			}
			return toWorkoutLogs(c.Plan().Unit(), rows)
		}
		zone, err := userTimeZone(ctx, tx.UserProfile, c.UserID())
		if err != nil {
			return err
		}
		log, err := fn(c, zone, history)
		if err != nil {
			return err
		}
		created, err := tx.WorkoutLog.Create().
			SetChallengeID(challengeID).
			SetUserID(c.UserID()).
			SetPerformedAt(log.PerformedAt()).
			SetSets(log.Sets()).
			SetReps(log.Reps()).
			SetValue(log.Value()).
			SetNote(log.Note()).
			Save(ctx)
		if err != nil {
			return fmt.Errorf("insert log: %w", err)
		}
		view, out = toLogView(created), c
		return save(ctx, tx.Challenge, row, c)
	})
	return view, out, err
}

func (r *Repository) ChangeLog(ctx context.Context, challengeID, logID int64,
	fn func(c *domain.Challenge, zone *time.Location, logs []domain.WorkoutLog, i int) (domain.WorkoutLog, bool, error),
) (app.LogView, *domain.Challenge, error) {
	var (
		view app.LogView
		out  *domain.Challenge
	)
	err := r.inChallengeTx(ctx, challengeID, func(tx *ent.Tx) error {
		// The challenge's lock is the one AddLog takes: a correction and a
		// new log of one challenge are serialized, so each sees the other's
		// result when it settles the status.
		row, c, err := lock(ctx, tx.Challenge, challengeID)
		if err != nil {
			return err
		}
		rows, err := tx.WorkoutLog.Query().
			Where(workoutlog.ChallengeID(challengeID)).
			Order(workoutlog.ByPerformedAt(), workoutlog.ByID()).
			All(ctx)
		if err != nil {
			return fmt.Errorf("read logs of challenge %d: %w", challengeID, err)
		}
		logs, err := toWorkoutLogs(c.Plan().Unit(), rows)
		if err != nil {
			return err
		}
		i := slices.IndexFunc(rows, func(l *ent.WorkoutLog) bool { return l.ID == logID })
		zone, err := userTimeZone(ctx, tx.UserProfile, c.UserID())
		if err != nil {
			return err
		}
		fixed, keep, err := fn(c, zone, logs, i)
		if err != nil {
			return err
		}
		if i < 0 {
			return fmt.Errorf("log %d of challenge %d: %w", logID, challengeID, app.ErrLogNotFound)
		}
		if keep {
			updated, err := tx.WorkoutLog.UpdateOneID(logID).
				SetPerformedAt(fixed.PerformedAt()).
				SetSets(fixed.Sets()).
				SetReps(fixed.Reps()).
				SetValue(fixed.Value()).
				SetNote(fixed.Note()).
				Save(ctx)
			if err != nil {
				return fmt.Errorf("update log %d: %w", logID, err)
			}
			view = toLogView(updated)
		} else {
			if err := tx.WorkoutLog.DeleteOneID(logID).Exec(ctx); err != nil {
				return fmt.Errorf("delete log %d: %w", logID, err)
			}
			view = app.LogView{}
		}
		out = c
		return save(ctx, tx.Challenge, row, c)
	})
	return view, out, err
}

// UserExerciseLogs reads the user's logs on the (user_id, performed_at, id)
// index and their challenges on (user_id, status, id): two range scans
// instead of a join, put together here.
func (r *Repository) UserExerciseLogs(ctx context.Context, userID int64) ([]domain.ExerciseLog, error) {
	challenges, err := r.client.Challenge.Query().
		Where(entchallenge.UserID(userID)).
		Select(entchallenge.FieldID, entchallenge.FieldExercise, entchallenge.FieldUnit).
		All(ctx)
	if err != nil {
		return nil, fmt.Errorf("read challenges of user %d: %w", userID, err)
	}
	byID := make(map[int64]*ent.Challenge, len(challenges))
	for _, c := range challenges {
		byID[c.ID] = c
	}
	rows, err := r.client.WorkoutLog.Query().Where(workoutlog.UserID(userID)).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("read logs of user %d: %w", userID, err)
	}
	out := make([]domain.ExerciseLog, 0, len(rows))
	for _, row := range rows {
		c, ok := byID[row.ChallengeID]
		if !ok {
			// Its challenge was deleted between the two reads, and the
			// log with it.
			continue
		}
		unit := domain.Unit(c.Unit)
		l, err := domain.UnmarshalWorkoutLogFromDatabase(unit, domain.WorkoutLogSpec{
			PerformedAt: row.PerformedAt, Sets: row.Sets, Reps: row.Reps, Value: row.Value, Note: row.Note,
		})
		if err != nil {
			return nil, fmt.Errorf("stored log %d is invalid: %v", row.ID, err)
		}
		out = append(out, domain.ExerciseLog{LogID: row.ID, ChallengeID: row.ChallengeID, Exercise: c.Exercise, Unit: unit, Log: l})
	}
	return out, nil
}

func (r *Repository) ListChallenges(ctx context.Context, f app.ChallengeFilter) ([]*domain.Challenge, error) {
	q := r.client.Challenge.Query()
	if f.UserID > 0 {
		q = q.Where(entchallenge.UserID(f.UserID))
	}
	if f.Status != "" {
		q = q.Where(entchallenge.StatusEQ(entchallenge.Status(f.Status)))
	}
	if f.BeforeID > 0 {
		q = q.Where(entchallenge.IDLT(f.BeforeID))
	}
	rows, err := q.Order(entchallenge.ByID(entsql.OrderDesc())).Limit(f.Limit).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("list challenges: %w", err)
	}
	out := make([]*domain.Challenge, 0, len(rows))
	for _, row := range rows {
		c, err := toChallenge(row)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// UserLogs reads one range of the (user_id, performed_at, id) index.
func (r *Repository) UserLogs(ctx context.Context, userID int64, after *app.LogCursor, limit int) ([]app.LogView, error) {
	q := r.client.WorkoutLog.Query().Where(workoutlog.UserID(userID))
	return listLogs(ctx, q, after, limit)
}

// ChallengeLogs reads one range of the (challenge_id, performed_at, id) index.
func (r *Repository) ChallengeLogs(ctx context.Context, challengeID int64, after *app.LogCursor, limit int) ([]app.LogView, error) {
	q := r.client.WorkoutLog.Query().Where(workoutlog.ChallengeID(challengeID))
	return listLogs(ctx, q, after, limit)
}

// listLogs pages newest first on (performed_at, id). The keyset condition is
// spelled with OR rather than a row comparison, which both MySQL 8 and
// MariaDB turn into an index range.
func listLogs(ctx context.Context, q *ent.WorkoutLogQuery, after *app.LogCursor, limit int) ([]app.LogView, error) {
	if after != nil {
		q = q.Where(workoutlog.Or(
			workoutlog.PerformedAtLT(after.PerformedAt),
			workoutlog.And(workoutlog.PerformedAtEQ(after.PerformedAt), workoutlog.IDLT(after.ID)),
		))
	}
	rows, err := q.Order(
		workoutlog.ByPerformedAt(entsql.OrderDesc()),
		workoutlog.ByID(entsql.OrderDesc()),
	).Limit(limit).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("list logs: %w", err)
	}
	out := make([]app.LogView, len(rows))
	for i, row := range rows {
		out[i] = toLogView(row)
	}
	return out, nil
}

func (r *Repository) ChallengeWithLogs(ctx context.Context, id int64) (*domain.Challenge, []domain.WorkoutLog, error) {
	row, err := r.client.Challenge.Get(ctx, id)
	if err != nil {
		return nil, nil, notFound(err)
	}
	c, err := toChallenge(row)
	if err != nil {
		return nil, nil, err
	}
	rows, err := r.client.WorkoutLog.Query().
		Where(workoutlog.ChallengeID(id)).
		Order(workoutlog.ByPerformedAt(), workoutlog.ByID()).
		All(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("read logs of challenge %d: %w", id, err)
	}
	logs, err := toWorkoutLogs(c.Plan().Unit(), rows)
	if err != nil {
		return nil, nil, err
	}
	return c, logs, nil
}

func notFound(err error) error {
	if ent.IsNotFound(err) {
		return app.ErrNotFound
	}
	return err
}

func toChallenge(row *ent.Challenge) (*domain.Challenge, error) {
	plan, err := domain.NewPlan(domain.PlanSpec{
		Exercise:        row.Exercise,
		Unit:            domain.Unit(row.Unit),
		StartValue:      row.StartValue,
		Increment:       row.Increment,
		IncrementEvery:  row.IncrementEvery,
		SessionsPerWeek: row.SessionsPerWeek,
		Weeks:           row.Weeks,
		StartDate:       domain.DateOf(row.StartDate),
		Progression: domain.ProgressionSpec{
			Type:          domain.ProgressionType(row.Progression),
			DeloadAfter:   row.DeloadAfter,
			DeloadPercent: row.DeloadPercent,
			MinReps:       row.MinReps,
			MaxReps:       row.MaxReps,
		},
	})
	if err != nil {
		return nil, fmt.Errorf("stored challenge %d has an invalid plan: %v", row.ID, err)
	}
	return domain.UnmarshalChallengeFromDatabase(row.ID, row.UserID, row.Title, plan,
		domain.Status(row.Status), row.StatusReason, row.CreatedAt, row.UpdatedAt, or0(row.GroupID))
}

func toWorkoutLogs(unit domain.Unit, rows []*ent.WorkoutLog) ([]domain.WorkoutLog, error) {
	out := make([]domain.WorkoutLog, len(rows))
	for i, row := range rows {
		l, err := domain.UnmarshalWorkoutLogFromDatabase(unit, domain.WorkoutLogSpec{
			PerformedAt: row.PerformedAt,
			Sets:        row.Sets,
			Reps:        row.Reps,
			Value:       row.Value,
			Note:        row.Note,
		})
		if err != nil {
			return nil, fmt.Errorf("stored log %d is invalid: %v", row.ID, err)
		}
		out[i] = l
	}
	return out, nil
}

func toLogView(row *ent.WorkoutLog) app.LogView {
	return app.LogView{
		ID:          row.ID,
		ChallengeID: row.ChallengeID,
		UserID:      row.UserID,
		PerformedAt: row.PerformedAt.UTC(),
		Sets:        row.Sets,
		Reps:        row.Reps,
		Value:       row.Value,
		Note:        row.Note,
		CreatedAt:   row.CreatedAt.UTC(),
	}
}

func or0(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}
