package cache

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Key is one entry of a Named view, from Named.Key.
type Key struct{ value string }

// String is the Redis key of the value, for logs.
func (k Key) String() string { return k.value }

// One script per key so that the version bump and the delete cannot be separated by
// a broken connection: a bump without the delete would leave the old value served.
// The same script announces the key to the near tiers of every replica
// (nearsync.go), so a Redis invalidation never happens without its message.
var invalidateScript = redis.NewScript(`
redis.call('INCR', KEYS[2])
redis.call('PEXPIRE', KEYS[2], ARGV[1])
redis.call('DEL', KEYS[1])
redis.call('PUBLISH', ARGV[2], ARGV[3])
return 1
`)

// Invalidate removes keys so the next read loads them again. Call it after the
// transaction that changed their source has committed; reads that started earlier
// and finish later will not store what they loaded.
//
// It runs even if ctx is already cancelled (a client that hangs up right after its
// write still needs the cache cleaned), bounded by Options.InvalidateTimeout.
//
// A failure is logged and returned for the caller to log; it must not fail the
// write, which has committed. The failed keys are then retried in the background
// with backoff until they succeed or until 2×TTL×(1+Jitter) has passed, after which
// any value filled before the write has expired by itself. Until then this process
// reads those keys from the source, never from the cache, so the writer sees its
// write. Other processes may be served the stale value at most until Redis accepts
// the retry or its TTL ends, whichever comes first; a
// Redis that is merely slow usually absorbs the first attempt, which may wait ten
// times longer than a read. Retries stop at Close and do not survive the process:
// in that case the TTL alone bounds staleness.
func (c *Cache) Invalidate(ctx context.Context, keys ...Key) error {
	if !c.opts.Enabled || len(keys) == 0 {
		return nil
	}
	// The writer's own near tier, before Redis and again after it: a read of
	// this process that fetched from Redis before the script below ran holds
	// the old value, and only a move of the epoch after the script keeps it
	// from being kept (the script's message to this process is skipped as
	// its own, and would come too late anyway: the writer's next read must
	// see the write).
	c.invalidateNear(keys)
	if c.onInvalidating != nil {
		c.onInvalidating()
	}
	err := c.invalidate(context.WithoutCancel(ctx), keys)
	if err == nil {
		c.invalidateNear(keys)
		return nil
	}
	// Queued before the near tier is cleared again: a read that takes its
	// near epoch after that clear also sees the keys pending (Get), so it
	// neither serves nor keeps the value Redis may still hold.
	queued := c.retry.Add(valuesOf(keys), time.Now().Add(2*maxTTL(c.opts)))
	c.invalidateNear(keys)
	c.log.WarnContext(ctx, "cache invalidation failed; retrying in the background until TTL makes it moot",
		"keys", len(keys), "first", keys[0].value, "queued", queued, "err", err)
	return fmt.Errorf("cache: invalidate %d keys: %w", len(keys), err)
}

func (c *Cache) invalidateNear(keys []Key) {
	if c.near != nil {
		for _, k := range keys {
			c.near.invalidate(k.value)
		}
	}
}

func (c *Cache) invalidate(ctx context.Context, keys []Key) error {
	ctx, cancel := context.WithTimeout(ctx, c.opts.InvalidateTimeout)
	defer cancel()
	ttl := c.versionTTL.Milliseconds()
	now := time.Now()
	// Pipelined reports the first failed command's error.
	_, err := c.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, k := range keys {
			// EVAL, not EVALSHA: a pipeline cannot fall back on NOSCRIPT, and writes
			// are rare enough that sending the short script each time costs nothing.
			invalidateScript.Eval(ctx, p, []string{k.value, k.value + versionSuf}, ttl,
				c.nearChannel, nearMessage(c.origin, now, k.value))
		}
		return nil
	})
	return err
}

// keysOf and valuesOf convert between Keys and the strings the retrier queues.
func keysOf(values []string) []Key {
	keys := make([]Key, len(values))
	for i, v := range values {
		keys[i] = Key{value: v}
	}
	return keys
}

func valuesOf(keys []Key) []string {
	values := make([]string, len(keys))
	for i, k := range keys {
		values[i] = k.value
	}
	return values
}
