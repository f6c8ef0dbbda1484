package cache_test

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/progressive-overload/po/services/kit/cache"
)

// How the challenge service wires the cache and uses it on both sides of a write.
func Example() {
	opt, err := redis.ParseURL("redis://127.0.0.1:6379/0") // REDIS_URL
	if err != nil {
		panic(err)
	}
	opt.ContextTimeoutEnabled = true // lets CACHE_TIMEOUT bound every call
	rdb := redis.NewClient(opt)
	defer rdb.Close()

	c := cache.New(rdb, cache.Options{
		Service:    "challenge",
		KeyPrefix:  "po:challenge:",          // CACHE_KEY_PREFIX
		TTL:        30 * time.Second,         // CACHE_TTL
		Timeout:    50 * time.Millisecond,    // CACHE_TIMEOUT
		Enabled:    true,                     // CACHE_ENABLED
		Registerer: prometheus.NewRegistry(), // the httpserver's registry
	})
	defer c.Close()
	challenges := c.Named("challenge")
	ctx := context.Background()

	// Read side (query handler): cache the encoded response body, write it as is.
	body, err := challenges.Get(ctx, "42", func(ctx context.Context) ([]byte, error) {
		// Load from MySQL and encode; a missing row returns cache.ErrNotFound.
		return []byte(`{"id":42}`), nil
	})
	switch {
	case errors.Is(err, cache.ErrNotFound):
		// respond 404
	case err != nil:
		// the loader failed (MySQL): respond 500; Redis errors never get here
	default:
		_ = body // fiber: c.Type("json"); return c.Send(body)
	}

	// Write side (command handler), after tx.Commit() succeeded. On failure the cache
	// logs and keeps retrying in the background; the write stands, and TTL bounds how
	// long the old value can be served.
	if err := c.Invalidate(ctx, challenges.Key("42")); err != nil {
		_ = err // logged by the cache already; never turn it into a failed request
	}
}
