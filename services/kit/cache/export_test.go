package cache

import "time"

// SetOnJoin lets a test know when a reader has joined the shared load of its key,
// which is what makes the singleflight test deterministic.
func SetOnJoin(c *Cache, f func()) { c.onJoin = f }

// PendingInvalidations is how many keys wait for an invalidation retry.
func PendingInvalidations(c *Cache) int { return c.retry.Len() }

// NearTrusted reports whether the near tier is subscribed and served from.
func NearTrusted(c *Cache) bool { return c.near != nil && c.near.healthy.Load() }

// NearEntries is how many values the near tier holds.
func NearEntries(c *Cache) int {
	if c.near == nil {
		return 0
	}
	_, n := c.near.size()
	return n
}

// SetNearRaceHooks sets the hooks of the near tier's race tests (nil: none).
func SetNearRaceHooks(c *Cache, onInvalidating, onRedisRead func()) {
	c.onInvalidating, c.onRedisRead = onInvalidating, onRedisRead
}

// WaitRefreshes waits for the background refreshes under way.
func WaitRefreshes(c *Cache) { c.refreshWG.Wait() }

// SetClock replaces the clock that dates values for refresh ahead and finds
// them due.
func SetClock(c *Cache, now func() time.Time) { c.now = now }
