package app

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

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
	if err := a.mayChange(ctx, actor, id); err != nil {
		return nil, err
	}
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
	if err := a.mayChange(ctx, actor, id); err != nil {
		return err
	}
	c, err := a.repo.DeleteChallenge(ctx, id, func(c *domain.Challenge, p *domain.Participant) error {
		if !actor.CanAccess(c.UserID()) {
			return ErrForbidden
		}
		// A participation's place would go with it (the foreign key
		// cascades), but the board must lose it first: leaving does, after
		// its commit.
		if p != nil && p.Status().OnBoard() {
			return ErrStillInGroup
		}
		return nil
	})
	if err != nil {
		return err
	}
	a.invalidateLogs(ctx, c)
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
	if err := a.mayChange(ctx, actor, challengeID); err != nil {
		return LogView{}, err
	}
	view, c, err := a.repo.AddLog(ctx, challengeID,
		func(c *domain.Challenge, zone *time.Location, history func() ([]domain.WorkoutLog, error)) (domain.WorkoutLog, error) {
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
			if err := c.CheckLog(log, zone); err != nil {
				return domain.WorkoutLog{}, err
			}
			// Reading every log of the challenge under its lock is what a
			// busy challenge's writes wait on; most logs come before the
			// plan could be complete, and need not.
			if c.Status().CanBecome(domain.StatusCompleted) && c.MayComplete(zone, now) {
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
	a.invalidateLogs(ctx, c)
	return view, nil
}

// CorrectLog applies a correction to a log of a challenge that is not
// rejected or archived. Progress is a function of the plan and the logs, so
// the challenge's status is settled again over the corrected logs in the
// same locked transaction: a challenge completed only because of the log
// reopens, and one the correction completes is completed.
func (a *Application) CorrectLog(ctx context.Context, actor Actor, challengeID, logID int64, patch domain.WorkoutLogPatch) (LogView, error) {
	if err := a.mayChange(ctx, actor, challengeID); err != nil {
		return LogView{}, err
	}
	now := a.now()
	view, c, err := a.repo.ChangeLog(ctx, challengeID, logID,
		func(c *domain.Challenge, zone *time.Location, logs []domain.WorkoutLog, i int) (domain.WorkoutLog, bool, error) {
			if err := checkLogChange(actor, c, i); err != nil {
				return domain.WorkoutLog{}, false, err
			}
			fixed, err := logs[i].Corrected(c.Plan().Unit(), patch, now)
			if err != nil {
				return domain.WorkoutLog{}, false, err
			}
			if err := c.CheckCorrection(&fixed, zone); err != nil {
				return domain.WorkoutLog{}, false, err
			}
			logs[i] = fixed
			return fixed, true, c.Resettle(logs, zone, now)
		})
	if err != nil {
		return LogView{}, err
	}
	a.invalidateLogs(ctx, c)
	return view, nil
}

// DeleteLog deletes a log of a challenge that is not rejected or archived,
// settling the challenge's status again over the remaining logs.
func (a *Application) DeleteLog(ctx context.Context, actor Actor, challengeID, logID int64) error {
	if err := a.mayChange(ctx, actor, challengeID); err != nil {
		return err
	}
	now := a.now()
	_, c, err := a.repo.ChangeLog(ctx, challengeID, logID,
		func(c *domain.Challenge, zone *time.Location, logs []domain.WorkoutLog, i int) (domain.WorkoutLog, bool, error) {
			if err := checkLogChange(actor, c, i); err != nil {
				return domain.WorkoutLog{}, false, err
			}
			return domain.WorkoutLog{}, false, c.Resettle(slices.Delete(logs, i, i+1), zone, now)
		})
	if err != nil {
		return err
	}
	a.invalidateLogs(ctx, c)
	return nil
}

// mayChange refuses, before it queues for the challenge's lock, a write by
// someone who may not change the challenge. Writes of one challenge wait
// their turn in the repository (kit/writequeue) and beyond 64 waiting are
// answered 503: without this, another user's stream of requests, each
// refused only once it holds the lock, would take the owner's places. A
// challenge's owner never changes, so it is read once, without a lock, and
// remembered; the check under the lock stays the one that counts (the
// challenge may be gone by then). Admins skip it.
func (a *Application) mayChange(ctx context.Context, actor Actor, challengeID int64) error {
	if actor.Admin {
		return nil
	}
	owner, ok := a.owners.get(challengeID)
	if !ok {
		c, err := a.repo.GetChallenge(ctx, challengeID)
		if err != nil {
			return err
		}
		owner = c.UserID()
		a.owners.put(challengeID, owner)
	}
	if !actor.CanAccess(owner) {
		return ErrForbidden
	}
	return nil
}

// checkLogChange answers, in the order the routes do, whether the actor may
// change log i of c: another user's challenge is 403 whether or not the log
// exists (so its log ids cannot be probed), a missing log 404, a frozen
// challenge 409 whatever the body holds.
func checkLogChange(actor Actor, c *domain.Challenge, i int) error {
	if !actor.CanAccess(c.UserID()) {
		return ErrForbidden
	}
	if i < 0 {
		return ErrLogNotFound
	}
	return c.CheckCorrection(nil, nil)
}
