package service

import (
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/progressive-overload/po/services/challenge/internal/adapters"
	"github.com/progressive-overload/po/services/challenge/internal/app"
	"github.com/progressive-overload/po/services/kit/mysqldb"
	"github.com/progressive-overload/po/services/kit/ranking"
)

// leaderboardTimeoutFactor × CACHE_TIMEOUT bounds a leaderboard's Redis read.
const leaderboardTimeoutFactor = 10

// leaderboards is the Leaderboards the configuration asks for, and what
// releases it: the groups' boards on Redis (kit/ranking), or, with the cache
// off, every leaderboard read computed from MySQL (app.ComputedBoards).
func leaderboards(rdb redis.UniversalClient, cfg Config, reg prometheus.Registerer, log *slog.Logger) (app.Leaderboards, func(), error) {
	if !cfg.CacheEnabled {
		return app.ComputedBoards{}, func() {}, nil
	}
	// The cache's prefix. Not its timeout: a leaderboard read that gives up
	// on Redis computes the whole board from MySQL (every participant's
	// logs), hundreds of times the work of a slow answer, so it waits ten
	// times CACHE_TIMEOUT. With CACHE_TIMEOUT's 50 ms, the bench's groups
	// phase at 3,000/s saturated both cores, Redis calls overran it while
	// their goroutines waited for a CPU, the breaker opened, and reads
	// computed boards from MySQL: 8,522 such reads, 15.7% answered. With
	// 500 ms: none, 46.7% answered (docs/benchmarks.md).
	s, err := ranking.New(rdb, ranking.Options{
		Prefix:  cfg.CacheKeyPrefix,
		Name:    adapters.LeaderboardName,
		Timeout: leaderboardTimeoutFactor * cfg.CacheTimeout,
		// The updates after a write's commit keep the bound they had (the
		// store's default is ten times Timeout): a write waits no longer
		// on a stuck Redis than before.
		WriteTimeout: leaderboardTimeoutFactor * cfg.CacheTimeout,
		// With Redis slow or down every board read is computed from MySQL:
		// half the pool, so those computations cannot starve the writes. A
		// smaller bound refused reads (503) in the bench as soon as Redis
		// stalled past CACHE_TIMEOUT for a moment, with only ten boards.
		MaxFallbacks: mysqldb.MaxOpenConns / 2,
		Registry:     reg,
		Logger:       log,
	})
	if err != nil {
		return nil, nil, err
	}
	return adapters.NewLeaderboards(s), func() { _ = s.Close() }, nil
}
