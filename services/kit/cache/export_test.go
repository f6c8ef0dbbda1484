package cache

// SetOnJoin lets a test know when a reader has joined the shared load of its key,
// which is what makes the singleflight test deterministic.
func SetOnJoin(c *Cache, f func()) { c.onJoin = f }

// PendingInvalidations is how many keys wait for an invalidation retry.
func PendingInvalidations(c *Cache) int { return c.retry.pendingLen() }
