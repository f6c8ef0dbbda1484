package cache

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/progressive-overload/po/services/kit/backoff"
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

const (
	retryFirst      = 50 * time.Millisecond
	retryMax        = 2 * time.Second
	retryMaxPending = 10000
)

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
	queued := c.retry.add(keys, time.Now().Add(2*maxTTL(c.opts)))
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

// retrier re-sends failed invalidations. Its goroutine exists only while something
// is pending, so a healthy process has none.
//
// While a key is pending, Redis may still hold the value from before the
// write, so this process's reads of it skip the cache (Named.Get asks
// has): the writer reads its own write even when its invalidation failed.
// Other replicas are bounded by the retry or the TTL, as documented on
// Invalidate. count lets the read path skip the lock while nothing is
// pending, which is nearly always.
type retrier struct {
	c       *Cache
	mu      sync.Mutex
	count   atomic.Int64 // len(pending)
	pending map[string]pendingKey
	seq     uint64
	running bool
	closed  bool
	stop    chan struct{}
	wg      sync.WaitGroup
}

type pendingKey struct {
	giveUp time.Time
	seq    uint64 // which add queued it last, so a success only clears what it covered
}

func (r *retrier) init(c *Cache) {
	r.c = c
	r.pending = make(map[string]pendingKey)
	r.stop = make(chan struct{})
}

// add queues keys and reports whether all of them fit.
func (r *retrier) add(keys []Key, giveUp time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return false
	}
	r.seq++
	all := true
	for _, k := range keys {
		if _, ok := r.pending[k.value]; !ok && len(r.pending) >= retryMaxPending {
			all = false
			continue
		}
		r.pending[k.value] = pendingKey{giveUp: giveUp, seq: r.seq}
	}
	r.count.Store(int64(len(r.pending)))
	if !r.running {
		r.running = true
		r.wg.Add(1)
		go r.run()
	}
	return all
}

func (r *retrier) run() {
	defer r.wg.Done()
	t := time.NewTimer(retryFirst)
	defer t.Stop()
	delays := backoff.Backoff{Min: retryFirst, Max: retryMax}
	failures := 0
	for {
		select {
		case <-r.stop:
			return
		case <-t.C:
		}
		keys, seqs := r.snapshot(time.Now())
		if keys == nil {
			return
		}
		if err := r.c.invalidate(context.Background(), keys); err != nil {
			failures++
			r.c.log.Debug("cache invalidation retry failed", "keys", len(keys), "err", err)
		} else {
			r.clear(keys, seqs)
			failures = 0
			r.c.log.Info("cache invalidation retry succeeded", "keys", len(keys))
		}
		t.Reset(delays.Delay(failures))
	}
}

// snapshot drops keys past their give-up time and returns the rest; nil means
// nothing is left and the goroutine has been marked as gone.
func (r *retrier) snapshot(now time.Time) ([]Key, []uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	keys := make([]Key, 0, len(r.pending))
	seqs := make([]uint64, 0, len(r.pending))
	for k, p := range r.pending {
		if now.After(p.giveUp) {
			delete(r.pending, k)
			continue
		}
		keys = append(keys, Key{value: k})
		seqs = append(seqs, p.seq)
	}
	r.count.Store(int64(len(r.pending)))
	if len(keys) == 0 {
		r.running = false
		return nil, nil
	}
	return keys, seqs
}

func (r *retrier) clear(keys []Key, seqs []uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, k := range keys {
		if p, ok := r.pending[k.value]; ok && p.seq == seqs[i] {
			delete(r.pending, k.value)
		}
	}
	r.count.Store(int64(len(r.pending)))
}

// has reports whether key's invalidation is still to be retried.
func (r *retrier) has(key string) bool {
	if r.count.Load() == 0 {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.pending[key]
	return ok
}

// pendingLen is for tests.
func (r *retrier) pendingLen() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.pending)
}

func (r *retrier) close() {
	r.mu.Lock()
	if !r.closed {
		r.closed = true
		close(r.stop)
	}
	r.mu.Unlock()
	r.wg.Wait()
}
