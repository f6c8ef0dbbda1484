package app

import (
	"context"
	"errors"
	"fmt"

	"github.com/progressive-overload/po/services/challenge/internal/domain"
)

// CreateChallenge is the input of a new challenge. A zero StartDate means
// the user's today, in the zone of their access token (UTC without one).
type CreateChallenge struct {
	Title string
	Plan  domain.PlanSpec
}

// CreateChallenge stores a pending challenge owned by the actor and, in the
// same transaction, the challenge.created event that starts its validation.
func (a *Application) CreateChallenge(ctx context.Context, actor Actor, cmd CreateChallenge) (*domain.Challenge, error) {
	now := a.now()
	// The token's zone, not the stored copy: a user's first challenge is
	// created before the account service has told this service anything,
	// and the token was issued from the account's current record. A claim
	// this build cannot resolve counts as UTC, as a token without one.
	zone, zoneErr := Zone(actor.TimeZone)
	if cmd.Plan.StartDate.IsZero() {
		cmd.Plan.StartDate = domain.DateIn(now, zone)
	}
	c, err := domain.NewChallengeFromSpec(actor.UserID, cmd.Title, cmd.Plan, now)
	if err != nil {
		return nil, err
	}
	if actor.TimeZone != "" && zoneErr == nil {
		// Until user.validated brings the account's zone, logs of this
		// challenge (a pending one accepts them) are grouped in the token's,
		// so a start date of the user's today accepts a log from this morning.
		if err := a.repo.SeedUserTimeZone(ctx, actor.UserID, actor.TimeZone); err != nil {
			return nil, err
		}
	}
	err = a.repo.CreateChallenge(ctx, c, func(c *domain.Challenge) []domain.Event {
		return []domain.Event{domain.ChallengeCreated{ChallengeID: c.ID(), UserID: c.UserID()}}
	})
	if err != nil {
		return nil, err
	}
	// A read of this id before it existed may have cached "not found".
	a.invalidate(ctx, 0, c.ID())
	return c, nil
}

// UpdateChallenge is a partial change; nil fields stay as they are.
type UpdateChallenge struct {
	Title   *string
	Archive bool
}

// UpdateChallenge renames and/or archives a challenge. Archiving an archived
// challenge is a no-op; other refused transitions are conflicts.
func (a *Application) UpdateChallenge(ctx context.Context, actor Actor, id int64, cmd UpdateChallenge) (*domain.Challenge, error) {
	c, err := a.repo.UpdateChallenge(ctx, id, func(c *domain.Challenge) error {
		if !actor.CanAccess(c.UserID()) {
			return ErrForbidden
		}
		now := a.now()
		if cmd.Title != nil {
			if err := c.Rename(*cmd.Title, now); err != nil {
				return err
			}
		}
		if cmd.Archive && c.Status() != domain.StatusArchived {
			if err := c.Archive("", now); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	a.invalidate(ctx, c.UserID(), c.ID())
	return c, nil
}

// DeleteChallenge deletes a challenge and its logs.
func (a *Application) DeleteChallenge(ctx context.Context, actor Actor, id int64) error {
	c, err := a.repo.DeleteChallenge(ctx, id, func(c *domain.Challenge) error {
		if !actor.CanAccess(c.UserID()) {
			return ErrForbidden
		}
		return nil
	})
	if err != nil {
		return err
	}
	a.invalidate(ctx, c.UserID(), c.ID())
	return nil
}

// LogWorkout records a session of a challenge that accepts logs (pending or
// active). When the log completes the plan of an active challenge, the
// challenge becomes completed in the same transaction.
func (a *Application) LogWorkout(ctx context.Context, actor Actor, challengeID int64, spec domain.WorkoutLogSpec) (LogView, error) {
	now := a.now()
	if spec.PerformedAt.IsZero() {
		spec.PerformedAt = now
	}
	view, c, err := a.repo.AddLog(ctx, challengeID,
		func(c *domain.Challenge, history func() ([]domain.WorkoutLog, error)) (domain.WorkoutLog, error) {
			if !actor.CanAccess(c.UserID()) {
				return domain.WorkoutLog{}, ErrForbidden
			}
			// Closed challenges answer 409 whatever the body holds.
			if !c.AcceptsLogs() {
				return domain.WorkoutLog{}, fmt.Errorf("%w: it is %s", domain.ErrChallengeClosed, c.Status())
			}
			log, err := domain.NewWorkoutLog(c.Plan().Unit(), spec, now)
			if err != nil {
				return domain.WorkoutLog{}, err
			}
			zone, err := a.repo.UserTimeZone(ctx, c.UserID())
			if err != nil {
				return domain.WorkoutLog{}, err
			}
			if err := c.CheckLog(log, zone); err != nil {
				return domain.WorkoutLog{}, err
			}
			if c.Status().CanBecome(domain.StatusCompleted) {
				logs, err := history()
				if err != nil {
					return domain.WorkoutLog{}, err
				}
				err = c.Complete(append(logs, log), zone, now)
				if err != nil && !errors.Is(err, domain.ErrChallengeNotComplete) {
					return domain.WorkoutLog{}, err
				}
			}
			return log, nil
		})
	if err != nil {
		return LogView{}, err
	}
	a.invalidate(ctx, c.UserID(), c.ID())
	return view, nil
}
