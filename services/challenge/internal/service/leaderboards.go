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

// leaderboards is the Leaderboards the configuration asks for, and what
// releases it: the groups' boards on Redis (kit/ranking), or, with the cache
// off, every leaderboard read computed from MySQL (app.ComputedBoards).
func leaderboards(rdb redis.UniversalClient, cfg Config, reg prometheus.Registerer, log *slog.Logger) (app.Leaderboards, func(), error) {
	if !cfg.CacheEnabled {
		return app.ComputedBoards{}, func() {}, nil
	}
	// The cache's prefix and timeout: a leaderboard read falls back to
	// MySQL within CACHE_TIMEOUT, as a cached read does.
	s, err := ranking.New(rdb, ranking.Options{
		Prefix:  cfg.CacheKeyPrefix,
		Name:    adapters.LeaderboardName,
		Timeout: cfg.CacheTimeout,
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
