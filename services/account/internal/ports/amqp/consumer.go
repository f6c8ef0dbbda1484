// Package amqpport is the account service's inbound event port: the
// consumer's subscription to challenge.created, answered by one use case in
// the consumer's transaction.
package amqpport

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"

	"github.com/progressive-overload/po/services/kit/events"

	"github.com/progressive-overload/po/services/account/internal/app"
	"github.com/progressive-overload/po/services/account/internal/domain"
)

// ChallengeCreatedType is the event in which the challenge service asks
// whether a new challenge's user may own it.
const ChallengeCreatedType = "challenge.created"

// ChallengeValidationSubscription names the consumer's queue
// (<service>.challenge-validation) and its rows in inbox_messages: renaming it
// forgets which messages were already answered.
const ChallengeValidationSubscription = "challenge-validation"

// ChallengeUserValidator is the use case behind ChallengeCreatedHandler
// (*app.Application).
type ChallengeUserValidator interface {
	ValidateChallengeUser(ctx context.Context, tx app.ChallengeUserTx, in app.ChallengeCreated) (domain.Event, error)
}

// InTx binds the use case's storage to a delivery's transaction
// (adapters.ChallengeUserTx).
type InTx func(tx *sql.Tx) app.ChallengeUserTx

// ChallengeCreatedHandler answers challenge.created: v decides inside the
// consumer's transaction, which already holds the message's inbox row, and
// emits its verdict to the outbox there, so a message answered once is never
// answered again. Data no answer can exist for (absent or impossible ids) is
// a permanent failure: retrying cannot fix it, so it goes to the DLQ at once.
//
// afterCommit (the relay's Notify; nil for none) runs once the delivery's
// transaction has committed (events.AfterCommit), so the verdict leaves
// without waiting for the relay's next poll.
func ChallengeCreatedHandler(v ChallengeUserValidator, inTx InTx, afterCommit func()) events.Handler {
	return func(ctx context.Context, tx *sql.Tx, evt events.Event) error {
		if evt.Type != ChallengeCreatedType {
			return events.Permanent(fmt.Errorf("got %q on the %s subscription", evt.Type, ChallengeCreatedType))
		}
		var data struct {
			ChallengeID wireID `json:"challengeId"`
			UserID      wireID `json:"userId"`
		}
		if err := evt.DecodeData(&data); err != nil {
			return events.Permanent(err)
		}
		_, err := v.ValidateChallengeUser(ctx, inTx(tx), app.ChallengeCreated{
			ChallengeID: int64(data.ChallengeID),
			UserID:      int64(data.UserID),
		})
		var invalid *domain.ValidationError
		if errors.As(err, &invalid) {
			return events.Permanent(err)
		}
		if err != nil {
			return err
		}
		if afterCommit != nil {
			// Only once the verdict has committed: a rollback (the retry
			// registers again) or a duplicate delivery wakes nobody.
			return events.AfterCommit(ctx, func(context.Context) { afterCommit() })
		}
		return nil
	}
}

// wireID is an id in event data. The challenge service writes JSON numbers;
// a decimal string names the same id (user ids also travel as strings, in the
// JWT sub claim), so it is taken too rather than dead-lettered.
type wireID int64

func (w *wireID) UnmarshalJSON(b []byte) error {
	s := string(b)
	if s == "null" {
		return nil // like an absent member: zero, refused as an id later
	}
	if len(s) >= 2 && s[0] == '"' {
		unq, err := strconv.Unquote(s)
		if err != nil {
			return fmt.Errorf("id %s: %w", b, err)
		}
		s = unq
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return fmt.Errorf("id %s is not a 64-bit integer", b)
	}
	*w = wireID(n)
	return nil
}
