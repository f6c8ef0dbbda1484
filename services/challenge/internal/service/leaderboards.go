package service

import (
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/progressive-overload/po/services/challenge/internal/app"
)

// newLeaderboards builds the groups' leaderboards on Redis (kit/ranking,
// leaderboards_ranking.go); while it is nil, or with the cache off, every
// leaderboard read is computed from MySQL (app.ComputedBoards).
var newLeaderboards func(rdb redis.UniversalClient, cfg Config, reg prometheus.Registerer, log *slog.Logger) (app.Leaderboards, func(), error)

// leaderboards is the Leaderboards the configuration asks for, and what
// releases it.
func leaderboards(rdb redis.UniversalClient, cfg Config, reg prometheus.Registerer, log *slog.Logger) (app.Leaderboards, func(), error) {
	if newLeaderboards == nil || !cfg.CacheEnabled {
		return app.ComputedBoards{}, func() {}, nil
	}
	return newLeaderboards(rdb, cfg, reg, log)
}
