package cache_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/progressive-overload/po/services/kit/cache"
	"github.com/progressive-overload/po/services/kit/redisclient"
	"github.com/progressive-overload/po/services/kit/testkit"
)

// How the challenge service uses the cache (internal/adapters/cache.go): a view
// per cached read whose values are encoded response bodies, filled by a loader
// on a miss and invalidated after the write that changed them has committed.
// It runs against the test Redis, in a key space of its own.
func Example() {
	// REDIS_URL; a redis+cluster:// or redis+sentinel:// URL works the same.
	rdb, err := redisclient.New("redis://"+redisAddr+"/0", redisclient.Options{})
	if err != nil {
		panic(err)
	}
	defer rdb.Close()
	prefix := fmt.Sprintf("t:example-%d:", time.Now().UnixNano())
	defer testkit.DeleteRedisKeys(rdb, prefix)

	c := cache.New(rdb, cache.Options{
		Service:    "challenge",
		KeyPrefix:  prefix,                   // CACHE_KEY_PREFIX
		TTL:        30 * time.Second,         // CACHE_TTL
		Timeout:    time.Second,              // CACHE_TIMEOUT (50ms in production; a busy test machine needs more)
		Enabled:    true,                     // CACHE_ENABLED
		Registerer: prometheus.NewRegistry(), // the httpserver's registry
	})
	defer c.Close()
	logs := c.Named("user-logs")
	ctx := context.Background()

	loads := 0
	load := func(ctx context.Context) ([]byte, error) {
		loads++ // MySQL, then the encoder; a missing row returns cache.ErrNotFound
		return fmt.Appendf(nil, `{"items":[],"load":%d}`, loads), nil
	}
	read := func() {
		body, err := logs.Get(ctx, "42", load)
		switch {
		case errors.Is(err, cache.ErrNotFound):
			fmt.Println("404")
		case err != nil:
			fmt.Println("500:", err) // the loader failed; Redis errors never get here
		default:
			fmt.Printf("200 %s\n", body) // fiber: c.Type("json"); return c.Send(body)
		}
	}
	read() // a miss: loaded and stored
	read() // a hit: the stored body

	// After the write's commit. A failed invalidation is logged and retried in
	// the background; TTL bounds how long the old body can be served.
	if err := c.Invalidate(ctx, logs.Key("42")); err != nil {
		fmt.Println("invalidate:", err)
	}
	read() // loaded again

	// Output:
	// 200 {"items":[],"load":1}
	// 200 {"items":[],"load":1}
	// 200 {"items":[],"load":2}
}
