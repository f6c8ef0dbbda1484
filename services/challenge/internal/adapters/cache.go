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
type Cache struct {
	c *cache.Cache
	n *cache.Named
}

var _ app.Cache = Cache{}

// NewCache wraps a view of c.
func NewCache(c *cache.Cache, name string) Cache { return Cache{c: c, n: c.Named(name)} }

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

// Invalidator is app.Invalidator on kit/cache: the stale keys of every view
// of one Cache in one pipeline (kit/cache.Cache.Invalidate).
type Invalidator struct{ c *cache.Cache }

var _ app.Invalidator = Invalidator{}

// NewInvalidator drops keys of views made by NewCache over c.
func NewInvalidator(c *cache.Cache) Invalidator { return Invalidator{c: c} }

// Invalidate sends the keys of this package's views over its Cache together;
// keys of any other view (app.NoCache) go as app.EachView sends them.
func (i Invalidator) Invalidate(ctx context.Context, keys ...app.StaleKey) error {
	ks := make([]cache.Key, 0, len(keys))
	var others []app.StaleKey
	for _, k := range keys {
		if v, ok := k.View.(Cache); ok && v.c == i.c {
			ks = append(ks, v.n.Key(k.Key))
		} else {
			others = append(others, k)
		}
	}
	return errors.Join(i.c.Invalidate(ctx, ks...), app.EachView{}.Invalidate(ctx, others...))
}
