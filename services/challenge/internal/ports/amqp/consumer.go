// Package amqpport is the challenge service's inbound event port: the
// consumer's subscriptions to the account service's events, each applied by
// one application command in the consumer's transaction.
package amqpport

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"

	"github.com/progressive-overload/po/services/challenge/internal/app"
	"github.com/progressive-overload/po/services/challenge/internal/domain"
	"github.com/progressive-overload/po/services/kit/events"
)

// The account service's events this service consumes (docs/conventions.md).
const (
	EventUserValidated = "user.validated"
	EventUserRejected  = "user.rejected"
	EventUserDeleted   = "user.deleted"
	EventUserSuspended = "user.suspended"
	EventUserUpdated   = "user.updated"
)

// Subscription is one queue of the consumer: "<service>.<Name>", bound to
// the event type Key.
type Subscription struct {
	Name string
	Key  string
	// apply runs the application command for one event in the consumer's
	// transaction.
	apply func(ctx context.Context, a *app.Application, repo app.TxRepository, evt events.Event) (app.Stale, error)
}

// Subscriptions lists the queues, one per event type, so that a backlog or a
// dead-lettered message of one type never holds up another. The name is also
// the inbox's consumer column: renaming one forgets which messages it handled.
func Subscriptions() []Subscription {
	return []Subscription{
		{Name: "user-validated", Key: EventUserValidated, apply: applyUserValidated},
		{Name: "user-rejected", Key: EventUserRejected, apply: applyUserRejected},
		{Name: "user-deleted", Key: EventUserDeleted, apply: applyUserDeleted},
		{Name: "user-suspended", Key: EventUserSuspended, apply: applyUserSuspended},
		{Name: "user-updated", Key: EventUserUpdated, apply: applyUserUpdated},
	}
}

// InTx binds the repository to a delivery's transaction (adapters.InTx).
type InTx func(tx *sql.Tx) app.TxRepository

// Subscribe registers every subscription with c; call it before c.Start.
func Subscribe(c *events.Consumer, a *app.Application, inTx InTx) error {
	for _, s := range Subscriptions() {
		if err := c.Subscribe(s.Name, []string{s.Key}, handler(a, inTx, s.apply)); err != nil {
			return err
		}
	}
	return nil
}

// handler runs a command on the consumer's transaction and drops what it made
// stale only once the consumer has committed that transaction: dropping it
// before would let a concurrent read cache the old rows again.
func handler(a *app.Application, inTx InTx,
	apply func(ctx context.Context, a *app.Application, repo app.TxRepository, evt events.Event) (app.Stale, error),
) events.Handler {
	return func(ctx context.Context, tx *sql.Tx, evt events.Event) error {
		stale, err := apply(ctx, a, inTx(tx), evt)
		if err != nil {
			return classify(err)
		}
		if stale.Empty() {
			return nil
		}
		return events.AfterCommit(ctx, func(ctx context.Context) { a.DropStale(ctx, stale) })
	}
}

// errBadEvent: the event's data is not what docs/conventions.md specifies.
var errBadEvent = errors.New("malformed event data")

// classify sends the errors no retry can fix straight to the dead-letter
// queue; the others (the database, mostly) are worth retrying.
func classify(err error) error {
	if errors.Is(err, errBadEvent) || errors.Is(err, app.ErrWrongOwner) || errors.Is(err, domain.ErrInvalidUserID) ||
		errors.Is(err, app.ErrUnknownTimeZone) {
		return events.Permanent(err)
	}
	return err
}

// validationAnswer is the data of user.validated and user.rejected.
// TimeZone and DisplayName (user.validated) are absent from the account
// service's releases before time zones and group challenges: then the
// stored ones stay as they are (UTC and no name for a user no event named).
type validationAnswer struct {
	ChallengeID int64  `json:"challengeId"`
	UserID      int64  `json:"userId"`
	Reason      string `json:"reason"`
	TimeZone    string `json:"timeZone"`
	DisplayName string `json:"displayName"`
}

// userUpdated is the data of user.updated: the whole profile the challenge
// service keeps a copy of.
type userUpdated struct {
	UserID      int64  `json:"userId"`
	TimeZone    string `json:"timeZone"`
	DisplayName string `json:"displayName"`
}

// userEvent is the data of user.deleted and user.suspended.
type userEvent struct {
	UserID int64 `json:"userId"`
}

func decodeAnswer(evt events.Event) (validationAnswer, error) {
	var d validationAnswer
	if err := evt.DecodeData(&d); err != nil {
		return d, fmt.Errorf("%w: %v", errBadEvent, err)
	}
	if d.ChallengeID <= 0 || d.UserID <= 0 {
		return d, fmt.Errorf("%w: %s needs a positive challengeId and userId", errBadEvent, evt.Type)
	}
	return d, nil
}

func decodeUser(evt events.Event) (int64, error) {
	var d userEvent
	if err := evt.DecodeData(&d); err != nil {
		return 0, fmt.Errorf("%w: %v", errBadEvent, err)
	}
	if d.UserID <= 0 {
		return 0, fmt.Errorf("%w: %s needs a positive userId", errBadEvent, evt.Type)
	}
	return d.UserID, nil
}

func applyUserValidated(ctx context.Context, a *app.Application, repo app.TxRepository, evt events.Event) (app.Stale, error) {
	d, err := decodeAnswer(evt)
	if err != nil {
		return app.Stale{}, err
	}
	stale, err := a.ActivateChallenge(ctx, repo, d.ChallengeID, d.UserID)
	if err != nil || (d.TimeZone == "" && d.DisplayName == "") {
		return stale, err
	}
	profile := app.ProfileUpdate{TimeZone: d.TimeZone, DisplayName: d.DisplayName}
	zoned, err := a.SetUserProfile(ctx, repo, d.UserID, profile, evt.Time)
	if errors.Is(err, app.ErrUnknownTimeZone) {
		// The challenge's activation must not wait for a zone this build
		// cannot resolve: the zone is skipped; the activation and the name
		// stand.
		slog.WarnContext(ctx, "user.validated names an unknown time zone", "user_id", d.UserID, "err", err)
		if profile.DisplayName == "" {
			return stale, nil
		}
		profile.TimeZone = ""
		zoned, err = a.SetUserProfile(ctx, repo, d.UserID, profile, evt.Time)
	}
	if err != nil {
		return app.Stale{}, err
	}
	return stale.Merge(zoned), nil
}

// applyUserUpdated keeps the user's profile. A payload without a zone (no
// release sends that, but the contract allows it) means UTC; one without a
// display name (the releases before group challenges) leaves the stored
// name as it is.
func applyUserUpdated(ctx context.Context, a *app.Application, repo app.TxRepository, evt events.Event) (app.Stale, error) {
	var d userUpdated
	if err := evt.DecodeData(&d); err != nil {
		return app.Stale{}, fmt.Errorf("%w: %v", errBadEvent, err)
	}
	if d.UserID <= 0 {
		return app.Stale{}, fmt.Errorf("%w: %s needs a positive userId", errBadEvent, evt.Type)
	}
	if d.TimeZone == "" {
		d.TimeZone = "UTC"
	}
	return a.SetUserProfile(ctx, repo, d.UserID, app.ProfileUpdate{TimeZone: d.TimeZone, DisplayName: d.DisplayName}, evt.Time)
}

func applyUserRejected(ctx context.Context, a *app.Application, repo app.TxRepository, evt events.Event) (app.Stale, error) {
	d, err := decodeAnswer(evt)
	if err != nil {
		return app.Stale{}, err
	}
	return a.RejectChallenge(ctx, repo, d.ChallengeID, d.UserID, d.Reason)
}

func applyUserDeleted(ctx context.Context, a *app.Application, repo app.TxRepository, evt events.Event) (app.Stale, error) {
	userID, err := decodeUser(evt)
	if err != nil {
		return app.Stale{}, err
	}
	return a.ArchiveUserChallenges(ctx, repo, userID)
}

func applyUserSuspended(ctx context.Context, a *app.Application, repo app.TxRepository, evt events.Event) (app.Stale, error) {
	userID, err := decodeUser(evt)
	if err != nil {
		return app.Stale{}, err
	}
	return a.RejectPendingForUser(ctx, repo, userID)
}
