// Package app holds the account service's use cases: commands that change
// accounts and sessions, and queries that read them. It reaches storage,
// password hashing, login throttling and token signing only through the
// interfaces declared here, which internal/adapters implements.
package app

import (
	"context"
	"time"

	"github.com/progressive-overload/po/services/account/internal/domain"
)

// UserRepository stores accounts.
type UserRepository interface {
	// Create stores a new user and returns it with its ID and times;
	// domain.ErrEmailTaken when the email is in use.
	Create(ctx context.Context, u domain.User) (domain.User, error)
	// ByID and ByEmail return domain.ErrNotFound for no match.
	ByID(ctx context.Context, id int64) (domain.User, error)
	ByEmail(ctx context.Context, email string) (domain.User, error)
	// List returns up to limit users with an ID above afterID, by ID.
	List(ctx context.Context, afterID int64, limit int) ([]domain.User, error)
	// Update loads the user in a transaction, locked, and lets fn change it;
	// the changes, and whatever fn did through tx, commit together (fn
	// returning an error rolls everything back). domain.ErrNotFound for no
	// such user. fn may run more than once (a transaction that lost a
	// deadlock is retried), so it must not keep state across calls.
	Update(ctx context.Context, id int64, fn func(ctx context.Context, u *domain.User, tx UserTx) error) (domain.User, error)
}

// UserTx is what a command may do inside the transaction that changes a user.
type UserTx interface {
	// RevokeRefreshTokens revokes every unrevoked refresh token of the user.
	RevokeRefreshTokens(ctx context.Context, userID int64, at time.Time) error
	// Emit records events in the outbox: they are published if and only if
	// the transaction commits.
	Emit(ctx context.Context, events ...domain.Event) error
}

// ChallengeUserTx is the transaction a challenge's user is checked in: the
// one in which the consumer records the challenge.created message as handled,
// so the verdict is emitted once however often the message arrives.
type ChallengeUserTx interface {
	// LockUser returns the user, share-locked until the transaction ends;
	// domain.ErrNotFound for no such user.
	LockUser(ctx context.Context, id int64) (domain.User, error)
	// Emit records events in the outbox (see UserTx.Emit).
	Emit(ctx context.Context, events ...domain.Event) error
}

// RefreshTokenRepository stores refresh tokens (as hashes).
type RefreshTokenRepository interface {
	Create(ctx context.Context, t domain.RefreshToken) error
	// InTx runs fn in one transaction; an error from fn rolls it back. fn
	// may run more than once (see UserRepository.Update).
	InTx(ctx context.Context, fn func(ctx context.Context, tx RefreshTokenTx) error) error
	// RevokeFamilyByHash revokes every token in the family of the token with
	// hash; nothing happens for an unknown hash.
	RevokeFamilyByHash(ctx context.Context, hash string, at time.Time) error
	// DeleteExpired deletes at most limit tokens whose expiry is before
	// before, the earliest expired first, and reports how many it deleted.
	DeleteExpired(ctx context.Context, before time.Time, limit int) (int, error)
}

// RefreshTokenTx is a refresh-token transaction.
type RefreshTokenTx interface {
	// LockByHash returns the token with hash, locked until the transaction
	// ends; domain.ErrNotFound for none.
	LockByHash(ctx context.Context, hash string) (domain.RefreshToken, error)
	User(ctx context.Context, id int64) (domain.User, error)
	MarkUsed(ctx context.Context, id int64, at time.Time) error
	RevokeFamily(ctx context.Context, familyID string, at time.Time) error
	Create(ctx context.Context, t domain.RefreshToken) error
}

// PasswordHasher hashes and verifies passwords. Implementations bound how
// many hashes run at once; ctx ends a wait for a slot.
type PasswordHasher interface {
	Hash(ctx context.Context, password string) (string, error)
	// Verify reports whether password matches encoded. An encoded value the
	// hasher cannot parse is an error (and no match).
	Verify(ctx context.Context, password, encoded string) (bool, error)
	// NeedsRehash reports whether encoded used other parameters than the
	// hasher's current ones.
	NeedsRehash(encoded string) bool
}

// LoginThrottle counts failed sign-ins per email and per client address.
// It never fails: an implementation whose store is unreachable falls back to
// something local.
type LoginThrottle interface {
	// Blocked returns how long attempts for email or from ip are refused
	// (zero: allowed).
	Blocked(ctx context.Context, email, ip string) time.Duration
	Failed(ctx context.Context, email, ip string)
	// Succeeded clears the email's failures.
	Succeeded(ctx context.Context, email string)
}

// AccessTokenIssuer signs access tokens.
type AccessTokenIssuer interface {
	// Issue returns a token for the user and its lifetime; the token carries
	// the user's time zone (the "tz" claim) for the challenge service's
	// defaults.
	Issue(userID int64, role domain.Role, timeZone string) (token string, ttl time.Duration, err error)
}
