package app

import (
	"context"
	"errors"
	"fmt"

	"github.com/progressive-overload/po/services/account/internal/domain"
)

// ChallengeCreated is the challenge service asking whether UserID may own the
// challenge it just created (the data of challenge.created).
type ChallengeCreated struct {
	ChallengeID int64
	UserID      int64
}

// ValidateChallengeUser answers a ChallengeCreated through tx: user.validated
// when the account exists and is active, otherwise user.rejected with the
// reason. It returns the event it emitted. Ids that cannot be real are a
// *domain.ValidationError: no answer would mean anything for them.
func (s *Application) ValidateChallengeUser(ctx context.Context, tx ChallengeUserTx, in ChallengeCreated) (domain.Event, error) {
	var v domain.Validator
	if in.ChallengeID <= 0 {
		v.Add("challengeId", "must be a positive id")
	}
	if in.UserID <= 0 {
		v.Add("userId", "must be a positive id")
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	// The share lock makes a concurrent suspension or deletion wait for this
	// transaction, so its user.suspended / user.deleted is enqueued after the
	// verdict, never before a verdict that contradicts it.
	u, err := tx.LockUser(ctx, in.UserID)
	if err != nil && !errors.Is(err, domain.ErrNotFound) {
		return nil, err
	}
	var verdict domain.Event
	reject := func(reason string) domain.Event {
		return domain.UserRejected{ChallengeID: in.ChallengeID, UserID: in.UserID, Reason: reason}
	}
	switch {
	case err != nil:
		verdict = reject(domain.ReasonUserNotFound)
	case u.Status() == domain.StatusActive:
		verdict = domain.UserValidated{ChallengeID: in.ChallengeID, UserID: in.UserID, TimeZone: u.TimeZone(), DisplayName: u.DisplayName()}
	case u.Status() == domain.StatusSuspended:
		verdict = reject(domain.ReasonUserSuspended)
	case u.Status() == domain.StatusDeleted:
		verdict = reject(domain.ReasonUserDeleted)
	default:
		// Stored statuses are validated on write; an unknown one is a bug or a
		// newer schema, and guessing a verdict would be worse than failing.
		return nil, fmt.Errorf("user %d has status %q, which this build does not know", u.ID(), u.Status())
	}
	if err := tx.Emit(ctx, verdict); err != nil {
		return nil, err
	}
	return verdict, nil
}
