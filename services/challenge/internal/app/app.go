// Package app holds the challenge service's use cases: commands that change
// challenges and logs, and queries that read them. It reaches storage, the
// cache and the outbox only through the interfaces declared here; adapters
// implement them and ports call the use cases.
//
// Caching is an application concern here because only the use cases know
// which write changes which read: every command that commits a change
// invalidates, after the commit, the cached reads it affects.
package app

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"time"

	"github.com/progressive-overload/po/services/challenge/internal/domain"

	"github.com/progressive-overload/po/services/kit/paging"
)

// Errors the ports translate into responses. Domain errors (validation,
// closed challenge, invalid transition) pass through unchanged.
var (
	// ErrNotFound: no such challenge.
	ErrNotFound = errors.New("not found")
	// ErrForbidden: the resource belongs to another user.
	ErrForbidden = errors.New("forbidden")
)

// Actor is the authenticated caller.
type Actor struct {
	UserID int64
	Admin  bool
	// TimeZone is the access token's tz claim: the user's zone when the
	// token was issued, "" in tokens from before the claim. Only a default
	// (a new challenge's start date); grouping uses the event-fed copy.
	TimeZone string
}

// CanAccess reports whether the actor may read or change what userID owns.
func (a Actor) CanAccess(userID int64) bool {
	return a.Admin || (a.UserID > 0 && a.UserID == userID)
}

// ChallengeFilter selects challenges for a list, newest (highest id) first.
type ChallengeFilter struct {
	UserID   int64         // 0: every user
	Status   domain.Status // "": any status
	BeforeID int64         // 0: from the newest
	Limit    int           // rows to return
}

// LogCursor is the keyset position after which a page of logs continues.
type LogCursor struct {
	PerformedAt time.Time
	ID          int64
}

// Repository is the challenge database.
type Repository interface {
	// CreateChallenge stores c, assigns its id, and stores the events
	// announce returns for it in the same transaction.
	CreateChallenge(ctx context.Context, c *domain.Challenge, announce func(*domain.Challenge) []domain.Event) error
	// GetChallenge returns ErrNotFound when there is no such challenge.
	GetChallenge(ctx context.Context, id int64) (*domain.Challenge, error)
	// UpdateChallenge locks the challenge, lets fn change it and stores the
	// result in one transaction; an error from fn rolls back and is returned.
	UpdateChallenge(ctx context.Context, id int64, fn func(c *domain.Challenge) error) (*domain.Challenge, error)
	// DeleteChallenge locks the challenge, asks check, and deletes it with its
	// logs; it returns the deleted challenge.
	DeleteChallenge(ctx context.Context, id int64, check func(c *domain.Challenge) error) (*domain.Challenge, error)
	// AddLog locks the challenge, lets fn build the log (fn may read the
	// challenge's earlier logs, chronologically, and change the challenge's
	// status), then stores the log and the challenge in one transaction.
	AddLog(ctx context.Context, challengeID int64,
		fn func(c *domain.Challenge, history func() ([]domain.WorkoutLog, error)) (domain.WorkoutLog, error),
	) (LogView, *domain.Challenge, error)
	ListChallenges(ctx context.Context, f ChallengeFilter) ([]*domain.Challenge, error)

	// UserLogs is a user's logs, newest first, after the cursor (nil: from the newest).
	UserLogs(ctx context.Context, userID int64, after *LogCursor, limit int) ([]LogView, error)
	// ChallengeLogs is a challenge's logs, newest first, after the cursor.
	ChallengeLogs(ctx context.Context, challengeID int64, after *LogCursor, limit int) ([]LogView, error)
	// ChallengeWithLogs is a challenge and all its logs, chronologically;
	// ErrNotFound when there is no such challenge.
	ChallengeWithLogs(ctx context.Context, id int64) (*domain.Challenge, []domain.WorkoutLog, error)

	// UserTimeZone is the zone the user's logs are grouped into sessions in:
	// the copy the account service's events keep, UTC when none named one.
	UserTimeZone(ctx context.Context, userID int64) (*time.Location, error)
	// SeedUserTimeZone records zone (a valid name) for a user that has none
	// yet, below any event's: an event's zone always wins over a seed.
	SeedUserTimeZone(ctx context.Context, userID int64, zone string) error
}

// Cache stores encoded read results by key (cache-aside). Get returns the
// cached value or calls load and stores what it returns; a load that fails
// with ErrNotFound may be remembered briefly and is returned as ErrNotFound.
// A cache failure never fails a read. Invalidate is called after commit.
type Cache interface {
	Get(ctx context.Context, key string, load func(ctx context.Context) ([]byte, error)) ([]byte, error)
	Invalidate(ctx context.Context, keys ...string) error
}

// Application is the service's use cases.
type Application struct {
	repo     Repository
	logs     Cache // first page of a user's logs, by user id
	progress Cache // progress of a challenge, by challenge id
	now      func() time.Time
	log      *slog.Logger
}

// Options configure New.
type Options struct {
	// UserLogsCache caches the first page of GET /challenges/logs/{userId}.
	UserLogsCache Cache
	// ProgressCache caches GET /challenges/{id}/progress.
	ProgressCache Cache
	Now           func() time.Time // default time.Now
	Logger        *slog.Logger     // default slog.Default()
}

// New returns the use cases over repo. A nil cache means no caching.
func New(repo Repository, opts Options) *Application {
	a := &Application{repo: repo, logs: opts.UserLogsCache, progress: opts.ProgressCache, now: opts.Now, log: opts.Logger}
	if a.logs == nil {
		a.logs = NoCache{}
	}
	if a.progress == nil {
		a.progress = NoCache{}
	}
	if a.now == nil {
		a.now = time.Now
	}
	if a.log == nil {
		a.log = slog.Default()
	}
	return a
}

// NoCache loads every time.
type NoCache struct{}

func (NoCache) Get(ctx context.Context, _ string, load func(ctx context.Context) ([]byte, error)) ([]byte, error) {
	return load(ctx)
}

func (NoCache) Invalidate(context.Context, ...string) error { return nil }

// Cache keys; the cache adds its prefix and the view's name.
// userLogsKey names a user's cached first page. The "p." marks the sliceable
// format of firstpage.go: replicas of a release that cached the bare default
// page under the bare id neither read nor overwrite these entries during a
// rolling upgrade.
func userLogsKey(userID int64) string      { return "p." + strconv.FormatInt(userID, 10) }
func progressKey(challengeID int64) string { return strconv.FormatInt(challengeID, 10) }

// invalidate drops what a committed change to a challenge of userID made
// stale. A failure is logged, not returned: the write has committed, and the
// cache retries and bounds staleness by its TTL.
func (a *Application) invalidate(ctx context.Context, userID, challengeID int64) {
	if userID > 0 {
		if err := a.logs.Invalidate(ctx, userLogsKey(userID)); err != nil {
			a.log.WarnContext(ctx, "invalidate user logs", "user_id", userID, "err", err)
		}
	}
	if challengeID > 0 {
		if err := a.progress.Invalidate(ctx, progressKey(challengeID)); err != nil {
			a.log.WarnContext(ctx, "invalidate progress", "challenge_id", challengeID, "err", err)
		}
	}
}

// pageSize applies the default and checks the bounds (kit/paging).
func pageSize(limit *int) (int, error) {
	n, ok := paging.Limit(limit)
	if !ok {
		return 0, domain.Invalid("limit", paging.LimitMessage)
	}
	return n, nil
}
