package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/progressive-overload/po/services/challenge/internal/domain"
)

// The commands below apply the account service's events (docs/conventions.md).
// They run inside a transaction they do not own: the event consumer's, which
// records the message in its inbox in the same transaction, so a redelivered
// message changes nothing twice. Hence they take the repository bound to that
// transaction and, instead of invalidating the cache themselves, return what
// they made stale for DropStale once the consumer has committed.

// Status reasons the events leave on the challenges they close.
const (
	ReasonUserDeleted   = "user deleted"
	ReasonUserSuspended = "user suspended"
)

// ErrWrongOwner: an event names a challenge together with a user who does
// not own it. The event is wrong, and replaying it cannot make it right.
var ErrWrongOwner = errors.New("the challenge belongs to another user")

// TxRepository is the challenge database inside a transaction the caller
// owns and commits.
type TxRepository interface {
	// UpdateChallenge locks the challenge and lets fn change it, then stores
	// the result; ErrNotFound when there is no such challenge. An error from
	// fn is returned and nothing is stored.
	UpdateChallenge(ctx context.Context, id int64, fn func(c *domain.Challenge) error) (*domain.Challenge, error)
	// TransitionUserChallenges applies t, in one statement, to the
	// challenges of userID that t moves.
	TransitionUserChallenges(ctx context.Context, userID int64, t domain.BulkTransition) (UserChallenges, error)
	// SetUserTimeZone stores the user's zone as of asOf unless a newer one
	// is stored, and reports whether the stored zone changed.
	SetUserTimeZone(ctx context.Context, userID int64, zone string, asOf time.Time) (bool, error)
	// UserChallengeIDs lists the ids of the user's challenges.
	UserChallengeIDs(ctx context.Context, userID int64) ([]int64, error)
}

// UserChallenges is what TransitionUserChallenges found: the ids of all the
// user's challenges, and of those it changed.
type UserChallenges struct {
	All     []int64
	Changed []int64
}

// Stale names cached reads that a command changed the source of. Dropping
// them before the commit would let a concurrent read cache the old rows
// again, so the caller passes them to DropStale after its commit.
type Stale struct {
	UserLogs []int64 // users whose first page of logs is stale
	Progress []int64 // challenges whose progress is stale
}

// Empty reports whether nothing is stale.
func (s Stale) Empty() bool { return len(s.UserLogs) == 0 && len(s.Progress) == 0 }

// DropStale invalidates s. Call it only after the transaction that made s
// stale has committed. Failures are logged: the write stands, and the cache
// retries and bounds staleness by its TTL.
func (a *Application) DropStale(ctx context.Context, s Stale) {
	if len(s.UserLogs) > 0 {
		if err := a.logs.Invalidate(ctx, keys(s.UserLogs, userLogsKey)...); err != nil {
			a.log.WarnContext(ctx, "invalidate user logs", "user_ids", s.UserLogs, "err", err)
		}
	}
	if len(s.Progress) > 0 {
		if err := a.progress.Invalidate(ctx, keys(s.Progress, progressKey)...); err != nil {
			a.log.WarnContext(ctx, "invalidate progress", "challenge_ids", s.Progress, "err", err)
		}
	}
}

func keys(ids []int64, key func(int64) string) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = key(id)
	}
	return out
}

// ActivateChallenge applies user.validated: the account service vouched for
// the owner, so the pending challenge becomes active.
func (a *Application) ActivateChallenge(ctx context.Context, repo TxRepository, challengeID, userID int64) (Stale, error) {
	return a.answerValidation(ctx, repo, challengeID, userID, func(c *domain.Challenge) error {
		return c.Activate(a.now())
	})
}

// RejectChallenge applies user.rejected: the pending challenge becomes
// rejected with the account service's reason.
func (a *Application) RejectChallenge(ctx context.Context, repo TxRepository, challengeID, userID int64, reason string) (Stale, error) {
	return a.answerValidation(ctx, repo, challengeID, userID, func(c *domain.Challenge) error {
		return c.Reject(reason, a.now())
	})
}

// answerValidation applies the account service's answer about a pending
// challenge. An answer can arrive after the challenge has moved on (its user
// was deleted and it was archived, or it was deleted) and then no longer
// applies: that is the normal outcome of a race between events, not an error,
// since retrying could never change it.
func (a *Application) answerValidation(ctx context.Context, repo TxRepository, challengeID, userID int64,
	move func(c *domain.Challenge) error,
) (Stale, error) {
	changed := false
	_, err := repo.UpdateChallenge(ctx, challengeID, func(c *domain.Challenge) error {
		if c.UserID() != userID {
			return fmt.Errorf("%w: challenge %d is user %d's, the event names user %d", ErrWrongOwner, challengeID, c.UserID(), userID)
		}
		err := move(c)
		if errors.Is(err, domain.ErrInvalidTransition) {
			a.log.InfoContext(ctx, "validation answer no longer applies", "challenge_id", challengeID, "err", err)
			return nil
		}
		changed = err == nil
		return err
	})
	switch {
	case errors.Is(err, ErrNotFound):
		a.log.InfoContext(ctx, "validation answer for a deleted challenge", "challenge_id", challengeID)
		return Stale{}, nil
	case err != nil:
		return Stale{}, err
	case !changed:
		return Stale{}, nil
	}
	// The logs page shows no status, so only the progress changed.
	return Stale{Progress: []int64{challengeID}}, nil
}

// ErrUnknownTimeZone: an event names a zone this build's tz database does
// not know; replaying it cannot help.
var ErrUnknownTimeZone = errors.New("unknown time zone")

// SetUserTimeZone applies the zone an account event carries (user.validated,
// user.updated) as of the event's time: the copy that groups the user's
// sessions. An event older than the stored zone's changes nothing, so two
// events on different queues cannot leave the older zone in place.
// Every progress of the user is stale when the zone changed: its sessions
// may regroup.
func (a *Application) SetUserTimeZone(ctx context.Context, repo TxRepository, userID int64, zone string, asOf time.Time) (Stale, error) {
	if userID <= 0 {
		return Stale{}, fmt.Errorf("%w: %d", domain.ErrInvalidUserID, userID)
	}
	if _, err := Zone(zone); err != nil {
		return Stale{}, fmt.Errorf("%w: %q", ErrUnknownTimeZone, zone)
	}
	// An envelope without a time is older than any other, but not older
	// than the seed of a token's zone, which it should still replace.
	if epoch := time.Unix(0, 0); asOf.Before(epoch) {
		asOf = epoch
	}
	changed, err := repo.SetUserTimeZone(ctx, userID, zone, asOf)
	if err != nil || !changed {
		return Stale{}, err
	}
	ids, err := repo.UserChallengeIDs(ctx, userID)
	if err != nil {
		return Stale{}, err
	}
	return Stale{Progress: ids}, nil
}

// Merge is s and o together.
func (s Stale) Merge(o Stale) Stale {
	return Stale{UserLogs: append(s.UserLogs, o.UserLogs...), Progress: append(s.Progress, o.Progress...)}
}

// ArchiveUserChallenges applies user.deleted: every challenge of the user
// that can be archived is, and every cached read of theirs is dropped, since
// nobody may read them any more.
func (a *Application) ArchiveUserChallenges(ctx context.Context, repo TxRepository, userID int64) (Stale, error) {
	if userID <= 0 {
		return Stale{}, fmt.Errorf("%w: %d", domain.ErrInvalidUserID, userID)
	}
	res, err := repo.TransitionUserChallenges(ctx, userID, domain.ArchiveAll(ReasonUserDeleted, a.now()))
	if err != nil {
		return Stale{}, err
	}
	return Stale{UserLogs: []int64{userID}, Progress: res.All}, nil
}

// RejectPendingForUser applies user.suspended: the user's challenges still
// waiting for validation are rejected; the others stay as they are.
func (a *Application) RejectPendingForUser(ctx context.Context, repo TxRepository, userID int64) (Stale, error) {
	if userID <= 0 {
		return Stale{}, fmt.Errorf("%w: %d", domain.ErrInvalidUserID, userID)
	}
	res, err := repo.TransitionUserChallenges(ctx, userID, domain.RejectAll(ReasonUserSuspended, a.now()))
	if err != nil {
		return Stale{}, err
	}
	return Stale{Progress: res.Changed}, nil
}
