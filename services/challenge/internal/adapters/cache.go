package adapters

import (
	"context"
	"errors"

	"github.com/progressive-overload/po/services/challenge/internal/app"
	"github.com/progressive-overload/po/services/kit/cache"
)

// Cache names (the "cache" label of cache_requests_total and part of every key).
const (
	CacheUserLogs = "user-logs"
	CacheProgress = "progress"
	CacheRecords  = "records"
	CacheHistory  = "history"
)

// Cache is app.Cache on one view of kit/cache (Redis cache-aside with
// singleflight, versioned fills and a fallback to the loader when Redis
// fails).
type Cache struct{ n *cache.Named }

var _ app.Cache = Cache{}

// NewCache wraps a view of c.
func NewCache(c *cache.Cache, name string) Cache { return Cache{n: c.Named(name)} }

// Get maps app.ErrNotFound to the cache's negative entries and back.
func (c Cache) Get(ctx context.Context, key string, load func(ctx context.Context) ([]byte, error)) ([]byte, error) {
	b, err := c.n.Get(ctx, key, func(ctx context.Context) ([]byte, error) {
		b, err := load(ctx)
		if errors.Is(err, app.ErrNotFound) {
			return nil, cache.ErrNotFound
		}
		return b, err
	})
	if errors.Is(err, cache.ErrNotFound) {
		return nil, app.ErrNotFound
	}
	return b, err
}

// Invalidate drops keys; call it after the commit.
func (c Cache) Invalidate(ctx context.Context, keys ...string) error {
	return c.n.Invalidate(ctx, keys...)
}
