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
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
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
	// ErrLogNotFound: the challenge has no such log. It matches ErrNotFound.
	ErrLogNotFound = fmt.Errorf("%w: no such workout log", ErrNotFound)
	// ErrBusy: too many writes of the same challenge are already waiting
	// in this process; the ports answer 503 with Retry-After.
	ErrBusy = errors.New("too many writes of this challenge at once")
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
	// logs; it returns the deleted challenge. check gets the owner's place in
	// the challenge's group (nil when it has none), read in the same
	// transaction; check must not use the repository.
	DeleteChallenge(ctx context.Context, id int64, check func(c *domain.Challenge, p *domain.Participant) error) (*domain.Challenge, error)
	// AddLog locks the challenge, lets fn build the log (fn gets the owner's
	// time zone, as UserTimeZone, read in the same transaction, and may read
	// the challenge's earlier logs, chronologically, and change the
	// challenge's status), then stores the log and the challenge in one
	// transaction. fn must not use the repository: the transaction holds a
	// connection and the challenge's lock.
	AddLog(ctx context.Context, challengeID int64,
		fn func(c *domain.Challenge, zone *time.Location, history func() ([]domain.WorkoutLog, error)) (domain.WorkoutLog, error),
	) (LogView, *domain.Challenge, error)
	// ChangeLog locks the challenge, reads all its logs chronologically and
	// lets fn correct or delete the one with id logID: fn gets its index in
	// logs (-1 when the challenge has no such log; fn decides the answer)
	// and returns the corrected log, or keep false to delete it, and may
	// change the challenge's status. The log and the challenge are stored in
	// one transaction; the view is the stored log (zero when deleted). fn
	// gets the owner's zone as AddLog's does, and the same rule holds.
	ChangeLog(ctx context.Context, challengeID, logID int64,
		fn func(c *domain.Challenge, zone *time.Location, logs []domain.WorkoutLog, i int) (corrected domain.WorkoutLog, keep bool, err error),
	) (LogView, *domain.Challenge, error)
	ListChallenges(ctx context.Context, f ChallengeFilter) ([]*domain.Challenge, error)

	// UserLogs is a user's logs, newest first, after the cursor (nil: from the newest).
	UserLogs(ctx context.Context, userID int64, after *LogCursor, limit int) ([]LogView, error)
	// ChallengeLogs is a challenge's logs, newest first, after the cursor.
	ChallengeLogs(ctx context.Context, challengeID int64, after *LogCursor, limit int) ([]LogView, error)
	// ChallengeWithLogs is a challenge and all its logs, chronologically;
	// ErrNotFound when there is no such challenge.
	ChallengeWithLogs(ctx context.Context, id int64) (*domain.Challenge, []domain.WorkoutLog, error)
	// UserExerciseLogs is every log of the user, across all their
	// challenges, with its challenge's exercise and unit, in no set order.
	UserExerciseLogs(ctx context.Context, userID int64) ([]domain.ExerciseLog, error)

	// UserTimeZone is the zone the user's logs are grouped into sessions in:
	// the copy the account service's events keep, UTC when none named one.
	UserTimeZone(ctx context.Context, userID int64) (*time.Location, error)
	// SeedUserTimeZone records zone (a valid name) for a user that has none
	// yet, below any event's: an event's zone always wins over a seed.
	SeedUserTimeZone(ctx context.Context, userID int64, zone string) error

	GroupRepository
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
	records  Cache // personal records, by user id
	history  Cache // weekly history, by challenge or by user and exercise
	stale    Invalidator
	boards   Leaderboards
	groups   *memo[int64, *domain.Group] // the groups whose leaderboards are read (boardGroup)
	payloads *memo[string, EntryView]    // leaderboard entries' payloads, decoded (entryView)
	owners   *memo[int64, int64]         // challenges' owners, by challenge id (mayChange)
	random   randomSource
	now      func() time.Time
	log      *slog.Logger
	// joins and departures count group events (metrics), when set.
	joins      func(result string)
	departures func(reason string)
}

// Options configure New.
type Options struct {
	// UserLogsCache caches the first page of GET /challenges/logs/{userId}.
	UserLogsCache Cache
	// ProgressCache caches GET /challenges/{id}/progress.
	ProgressCache Cache
	// RecordsCache caches GET /challenges/records/{userId}.
	RecordsCache Cache
	// HistoryCache caches GET /challenges/{id}/history and
	// GET /challenges/history/{userId}: every week, each page a slice.
	HistoryCache Cache
	// Invalidator drops stale keys of the caches above at once (default
	// EachView: one call per view).
	Invalidator Invalidator
	// Leaderboards keeps the groups' boards (default ComputedBoards: every
	// read from MySQL).
	Leaderboards Leaderboards
	// Random draws invite codes (default crypto/rand).
	Random io.Reader
	// CountJoin counts join attempts and their validation by result (the
	// Join* constants); CountDeparture participants leaving a board, by
	// reason (left, removed, deleted). Either may be nil.
	CountJoin      func(result string)
	CountDeparture func(reason string)
	Now            func() time.Time // default time.Now
	Logger         *slog.Logger     // default slog.Default()
}

// New returns the use cases over repo. A nil cache means no caching.
func New(repo Repository, opts Options) *Application {
	a := &Application{repo: repo, logs: opts.UserLogsCache, progress: opts.ProgressCache,
		records: opts.RecordsCache, history: opts.HistoryCache, stale: opts.Invalidator, boards: opts.Leaderboards, random: opts.Random,
		joins: opts.CountJoin, departures: opts.CountDeparture, now: opts.Now, log: opts.Logger,
		groups: newMemo[int64, *domain.Group](boardGroupsMax), payloads: newMemo[string, EntryView](entryViewsMax),
		owners: newMemo[int64, int64](ownersMax)}
	if a.boards == nil {
		a.boards = ComputedBoards{}
	}
	if a.stale == nil {
		a.stale = EachView{}
	}
	for _, c := range []*Cache{&a.logs, &a.progress, &a.records, &a.history} {
		if *c == nil {
			*c = NoCache{}
		}
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
// userLogsKey names the user's cached first page of size rows (firstpage.go):
// "s.<id>" holds the default page, "p.<id>" the largest. Both mark the
// sliceable format: replicas of a release that cached the bare default page
// under the bare id neither read nor overwrite these entries during a
// rolling upgrade. ("p." entries of the release before this one held the
// largest page too, so those replicas read them correctly.)
func userLogsKey(userID int64, size int) string {
	if size == smallFirstPage {
		return "s." + strconv.FormatInt(userID, 10)
	}
	return "p." + strconv.FormatInt(userID, 10)
}

// userLogsKeys are both of the user's cached first pages, which every change
// to the user's logs makes stale.
func (a *Application) userLogsKeys(userID int64) [2]StaleKey {
	return [2]StaleKey{{a.logs, userLogsKey(userID, smallFirstPage)}, {a.logs, userLogsKey(userID, fullFirstPage)}}
}
func progressKey(challengeID int64) string { return strconv.FormatInt(challengeID, 10) }
func recordsKey(userID int64) string       { return strconv.FormatInt(userID, 10) }

// History keys: "c.<challenge id>", or "e.<user id>.<unit>.<hash>" for an
// exercise across challenges. The exercise is hashed (its domain.ExerciseKey)
// because a name may hold anything, braces included, and a key must stay
// short and keep its hash tag (kit/cache) intact.
func challengeHistoryKey(challengeID int64) string { return "c." + strconv.FormatInt(challengeID, 10) }
func exerciseHistoryKey(userID int64, unit domain.Unit, exercise string) string {
	sum := sha256.Sum256([]byte(domain.ExerciseKey(exercise)))
	return "e." + strconv.FormatInt(userID, 10) + "." + string(unit) + "." + hex.EncodeToString(sum[:12])
}

// StaleKey is one cached read that a committed change made stale: key of
// one view.
type StaleKey struct {
	View Cache
	Key  string
}

// Invalidator drops stale keys of several views at once, so that a write
// pays one cache round trip however many reads it made stale. Like
// Cache.Invalidate it is called after the commit.
type Invalidator interface {
	Invalidate(ctx context.Context, keys ...StaleKey) error
}

// EachView is the Invalidator of views that share no cache: each view's
// keys through its own Invalidate.
type EachView struct{}

func (EachView) Invalidate(ctx context.Context, keys ...StaleKey) error {
	var errs []error
	for _, k := range keys {
		errs = append(errs, k.View.Invalidate(ctx, k.Key))
	}
	return errors.Join(errs...)
}

// drop invalidates keys after a commit. A failure is logged, not returned:
// the write has committed, and the cache retries and bounds staleness by
// its TTL.
func (a *Application) drop(ctx context.Context, keys ...StaleKey) {
	if len(keys) == 0 {
		return
	}
	if err := a.stale.Invalidate(ctx, keys...); err != nil {
		a.log.WarnContext(ctx, "invalidate cached reads", "keys", len(keys), "first", keys[0].Key, "err", err)
	}
}

// challengeKeys are the cached reads of a change to a challenge of userID
// (0: none of the user's): its logs' first page, its progress and history.
// A read of a challenge's progress or history may have cached "not found"
// before the challenge existed.
func (a *Application) challengeKeys(userID, challengeID int64) []StaleKey {
	keys := make([]StaleKey, 0, 6)
	if userID > 0 {
		pages := a.userLogsKeys(userID)
		keys = append(keys, pages[:]...)
	}
	if challengeID > 0 {
		keys = append(keys, StaleKey{a.progress, progressKey(challengeID)}, StaleKey{a.history, challengeHistoryKey(challengeID)})
	}
	return keys
}

// invalidate drops what a committed change to a challenge of userID made
// stale.
func (a *Application) invalidate(ctx context.Context, userID, challengeID int64) {
	a.drop(ctx, a.challengeKeys(userID, challengeID)...)
}

// invalidateLogs drops, after the commit, every cached read a change to the
// logs of c made stale, in one round trip: what invalidate drops, and the
// owner's records and the history of c's exercise; and for a participation
// of a group, it brings the owner's leaderboard entry in step. Every log
// change goes through here: a new log, a correction, a deletion, a deleted
// challenge.
func (a *Application) invalidateLogs(ctx context.Context, c *domain.Challenge) {
	if c.GroupID() > 0 {
		a.refreshBoard(ctx, c.GroupID(), c.UserID())
	}
	plan := c.Plan()
	a.drop(ctx, append(a.challengeKeys(c.UserID(), c.ID()),
		StaleKey{a.records, recordsKey(c.UserID())},
		StaleKey{a.history, exerciseHistoryKey(c.UserID(), plan.Unit(), plan.Exercise())})...)
}

// pageSize applies the default and checks the bounds (kit/paging).
func pageSize(limit *int) (int, error) {
	n, ok := paging.Limit(limit)
	if !ok {
		return 0, domain.Invalid("limit", paging.LimitMessage)
	}
	return n, nil
}
