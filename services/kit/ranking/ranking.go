// Package ranking serves leaderboards from Redis sorted sets, with the
// database the source of truth. A board is a set of entries, each a member
// with a score, a tiebreak and an opaque payload (the caller's JSON view),
// ordered by score descending, then tiebreak ascending, then member.
//
// A page costs one Lua call whose work is O(log N + limit): ZRANGE by
// position, HMGET of the page's payloads, ZCARD. A member's position costs
// one call too (HGET, ZRANK). A board that is not in Redis (never built,
// expired, flushed, dropped) is rebuilt from the caller's LoadFunc under
// singleflight and written by a script only if the board's version has not
// moved since the reader looked, exactly as kit/cache fills a value: a read
// racing a write never writes a board that misses the write. Readers share a
// rebuild only if it loads after every write they must see: by version with
// Redis up, by arrival order without it (aside.BlindGroup).
//
// Upsert, Remove and Drop, called after the database commit that changed the
// board, bump the version and change the board in Redis in one script. One
// that fails hands the board to a background retrier that drops it until
// Redis takes the drop; meanwhile this process reads the board from the
// LoadFunc. Other processes cannot know: they may serve the board without
// the update until the drop succeeds, at worst for two TTLs (a rebuild that
// loaded before the failed update may have written after it), as kit/cache
// serves a value whose invalidation failed.
//
// A Redis that fails or is slower than Options.Timeout makes reads compute
// the board in memory from the LoadFunc (Source "fallback"), at most
// Options.MaxFallbacks boards at once, ErrOverloaded beyond; a breaker
// (kit/cache's) stops asking a Redis that keeps failing.
//
// Redis layout, per Options.Prefix P, Options.Name N and board B. The hash tag
// {B} puts a board's keys in one Redis Cluster slot, which its scripts
// require:
//
//	PN:{B}     ZSET  "<tiebreak>\x00<member>" scored -Score, so that ascending
//	                 order is score descending and equal scores order by
//	                 tiebreak, then member (Redis orders them by bytes)
//	PN:{B}:e   HASH  member → "<tiebreak>\x00<payload>", plus the field ""
//	                 (no member is empty) so that an empty board exists; its
//	                 presence is the board's. The zset member is rebuilt from
//	                 the member and the tiebreak, so an update can remove the
//	                 old one
//	PN:{B}:v   the board's version, bumped by every update; outlives boards
//
// The client should be created with ContextTimeoutEnabled (kit/redisclient
// does); without it Options.Timeout cannot bound a call to a Redis that
// accepts connections but does not answer.
package ranking

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/singleflight"

	"github.com/progressive-overload/po/services/kit/internal/aside"
)

// Entry is one member of a board.
type Entry struct {
	Member   string  // stable id of the member (e.g. a user id in decimal)
	Score    float64 // higher ranks first
	Tiebreak string  // among equal scores, the lexicographically SMALLER ranks first (e.g. a zero-padded time: earliest first); at most 64 bytes
	Payload  []byte  // opaque, returned with the entry (the caller's JSON view)
}

// Ranked is an entry with its position on the board.
type Ranked struct {
	Entry
	Rank int // 1-based, dense by position (1, 2, 3… by order, ties included)
}

// Page is a slice of a board.
type Page struct {
	Entries []Ranked // never nil
	Total   int      // members on the board
	Source  Source
}

// Source says where a read's answer came from.
type Source string

const (
	// SourceRedis: the board in Redis.
	SourceRedis Source = "redis"
	// SourceRebuild: the load that rebuilt the missing board (written to
	// Redis, or not when writes kept racing it).
	SourceRebuild Source = "rebuild"
	// SourceFallback: computed in memory from the LoadFunc because Redis
	// failed, was skipped by the breaker, or holds a board this process
	// could not update.
	SourceFallback Source = "fallback"
)

// LoadFunc returns every entry of a board from the source of truth (MySQL).
// The returned slice belongs to the Store afterwards (it is sorted in place
// and handed to concurrent readers): do not keep or modify it, nor the
// payloads.
type LoadFunc func(ctx context.Context, board string) ([]Entry, error)

var (
	// ErrOverloaded: too many boards are being computed from the source at
	// once (Options.MaxFallbacks) while Redis is unavailable. Callers answer
	// 503 with Retry-After.
	ErrOverloaded = errors.New("ranking: too many boards computed from the source at once")
	// ErrInvalid is wrapped by every error about an argument (or a loaded
	// entry) this package refuses: a programming error of the caller.
	ErrInvalid = errors.New("ranking: invalid")
)

// Options configure a Store. Zero values get the defaults noted.
type Options struct {
	Prefix string // key prefix, e.g. "po:challenge:"; no braces
	Name   string // required: the metric label and a key segment, e.g. "leaderboard"; no braces
	// Timeout of one Redis read (default 50ms); a slower or failed call
	// makes the read compute the board from the LoadFunc.
	Timeout time.Duration
	// WriteTimeout bounds an update and a rebuild's write (default
	// 10×Timeout): longer than Timeout because a write has no fallback, and
	// waiting a little longer on a slow Redis spares the drop and the reads
	// from the source that a failed update costs.
	WriteTimeout time.Duration
	// TTL of a rebuilt board (default 1h), spread ±10% so boards rebuilt
	// together do not expire together. Updates keep the board's expiry: a
	// board is rebuilt from the source at least this often, which also bounds
	// how long a lost update can be served.
	TTL time.Duration
	// MaxFallbacks is how many boards may be computed from the LoadFunc at
	// once while Redis is unavailable (default 8); a read that would need
	// another gets ErrOverloaded.
	MaxFallbacks int
	Registry     prometheus.Registerer // default prometheus.DefaultRegisterer
	Logger       *slog.Logger          // default slog.Default()
}

const (
	defaultTimeout      = 50 * time.Millisecond
	defaultTTL          = time.Hour
	defaultMaxFallbacks = 8
	jitter              = 0.1
	// zsetGrace: the zset outlives the hash by this much, so the board can
	// never be seen existing (its hash) without its members (its zset).
	zsetGrace = time.Second
	// rebuildAttempts bounds the loads of one rebuild whose write keeps
	// losing to updates (the version moved); after the last, the readers are
	// answered from it without writing.
	rebuildAttempts = 3
)

// Store is safe for concurrent use. Create one per kind of board, at wiring time.
type Store struct {
	rdb    redis.UniversalClient
	opts   Options
	log    *slog.Logger
	prefix string // Prefix + Name + ":{"
	// versionTTL outlasts every board and every rebuild in flight.
	versionTTL time.Duration

	brk   aside.Breaker
	retry *aside.Retrier // boards whose update failed: dropped in the background, not trusted here meanwhile
	group singleflight.Group
	blind aside.BlindGroup[*memBoard]
	slots chan struct{} // MaxFallbacks computations from the source
	m     metrics

	onJoin     func() // test hook: a reader has joined (or started) the load of its board
	beforeJoin func() // test hook: a reader has found its board missing and is about to load it
}

// New returns a Store over rdb. It does not contact Redis: a Redis that is
// down at start only means reads compute from their LoadFunc until it is up.
func New(rdb redis.UniversalClient, opts Options) (*Store, error) {
	switch {
	case rdb == nil:
		return nil, fmt.Errorf("%w options: no Redis client", ErrInvalid)
	case opts.Name == "":
		return nil, fmt.Errorf("%w options: Name is required", ErrInvalid)
	case strings.ContainsAny(opts.Prefix+opts.Name, "{}"):
		// A brace before the board's would become the keys' hash tag.
		return nil, fmt.Errorf("%w options: braces in Prefix %q or Name %q", ErrInvalid, opts.Prefix, opts.Name)
	}
	if opts.Timeout <= 0 {
		opts.Timeout = defaultTimeout
	}
	if opts.WriteTimeout <= 0 {
		opts.WriteTimeout = 10 * opts.Timeout
	}
	if opts.TTL <= 0 {
		opts.TTL = defaultTTL
	}
	if opts.MaxFallbacks <= 0 {
		opts.MaxFallbacks = defaultMaxFallbacks
	}
	if opts.Registry == nil {
		opts.Registry = prometheus.DefaultRegisterer
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	s := &Store{
		rdb:        rdb,
		opts:       opts,
		log:        opts.Logger.With("component", "ranking", "name", opts.Name),
		prefix:     opts.Prefix + opts.Name + ":{",
		versionTTL: max(time.Hour, 4*maxTTL(opts.TTL)),
		slots:      make(chan struct{}, opts.MaxFallbacks),
		m:          newMetrics(opts.Registry, opts.Name),
	}
	s.brk.Init(aside.BreakerThreshold, aside.BreakerCooldown)
	s.retry = aside.NewRetrier("ranking board drop", s.log, s.dropAll)
	if !aside.ContextTimeoutEnabled(rdb) {
		s.log.Warn("redis client has ContextTimeoutEnabled=false: the ranking timeout cannot bound calls to a Redis that does not answer",
			"timeout", opts.Timeout)
	}
	return s, nil
}

// Close stops the background drops of boards whose update failed and waits
// for them; such boards are then bounded by their TTL alone. It does not
// close the Redis client.
func (s *Store) Close() error {
	s.retry.Close()
	return nil
}

// keys are the board's zset, hash and version, in the order every script takes them.
func (s *Store) keys(board string) []string {
	z := s.prefix + board + "}"
	return []string{z, z + ":e", z + ":v"}
}

func maxTTL(ttl time.Duration) time.Duration {
	return time.Duration(float64(ttl) * (1 + jitter))
}

func (s *Store) jitteredTTL() time.Duration {
	return max(time.Duration(float64(s.opts.TTL)*(1+jitter*(2*rand.Float64()-1))), time.Millisecond)
}

// report feeds the breaker. A call cut short because the caller gave up says
// nothing about Redis, so it counts neither way.
func (s *Store) report(ctx context.Context, err error) {
	switch {
	case err == nil || errors.Is(err, redis.Nil):
		s.brk.Success()
	case ctx.Err() == nil:
		s.brk.Failure()
	}
}

func (s *Store) joined() {
	if s.onJoin != nil {
		s.onJoin()
	}
}
