package cache

// Refresh ahead: a value read in the last part of its life (Options.RefreshAhead)
// is reloaded in the background while its readers are still answered from the
// cache, so a key that is read often never expires into a miss. Misses then come
// only from first reads, invalidations and keys too cold to be read before they
// expire: under Zipf traffic, expiries of hot keys were most of the misses left
// in a warm cache, and the misses set the p99.
//
// A refresh is an ordinary versioned load (load.go): it reads the key's version
// first and stores only if no Invalidate ran since, so it never puts back a value
// older than a write; it shares its load with misses of the same version. One
// refresh per key runs at a time in a process.

import (
	"context"
	"encoding/binary"
	"math/rand/v2"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/progressive-overload/po/services/kit/internal/aside"
)

// refreshTimeout bounds a background refresh, which no reader waits for.
const refreshTimeout = 10 * time.Second

// renewableHeader is the 'w' tag and the refresh time in front of a value.
const renewableHeader = 1 + 8

// renewable is the stored form of a value filled now for ttl: due for a refresh
// at a random point between RefreshAhead and 0.3×RefreshAhead of its life
// before it expires. Keys filled together (a cold start fills every hot key in
// seconds) would otherwise all be refreshed together, one load each, in a burst
// that the readers of that moment wait behind; and the later half of the window
// makes a key's refreshes rarer (about one per 0.68 TTL at the default) than a
// fixed point at its start would.
func (c *Cache) renewable(ttl time.Duration, now time.Time) []byte {
	ahead := c.opts.RefreshAhead * (1 - 0.7*rand.Float64())
	due := now.Add(time.Duration(float64(ttl) * (1 - ahead)))
	var h [renewableHeader]byte
	h[0] = tagRenewable
	binary.BigEndian.PutUint64(h[1:], uint64(due.UnixMilli()))
	return h[:]
}

// splitRenewable returns the value and when it is due for a refresh from what
// follows the tag; ok is false when the header is cut short.
func splitRenewable(rest string) (value string, due int64, ok bool) {
	if len(rest) < renewableHeader-1 {
		return "", 0, false
	}
	return rest[renewableHeader-1:], int64(binary.BigEndian.Uint64([]byte(rest[:renewableHeader-1]))), true
}

// refresh reloads vk in the background unless a refresh of it is under way.
// Its context keeps the reader's values (trace, logger) but not its deadline
// or cancellation: the reader has its answer already.
func (n *Named) refresh(ctx context.Context, vk string, load Loader) {
	c := n.c
	if _, busy := c.refreshing.LoadOrStore(vk, struct{}{}); busy {
		return
	}
	// Close waits for the refreshes under way; one started after that wait
	// began would run on a Redis client and a database being closed. (And a
	// WaitGroup may not grow from zero while it is waited for.)
	c.refreshMu.Lock()
	if c.closed {
		c.refreshMu.Unlock()
		c.refreshing.Delete(vk)
		return
	}
	c.refreshWG.Add(1)
	c.refreshMu.Unlock()
	n.refreshed.Inc()
	go func() {
		defer c.refreshWG.Done()
		defer c.refreshing.Delete(vk)
		defer func() {
			// c.load hands a loader's panic back to its reader, and here
			// the reader is this goroutine: a panic would end the process.
			if v := recover(); v != nil {
				err, ok := v.(error)
				if !ok {
					err = aside.Recovered("cache loader", v)
				}
				c.log.Error("cache refresh: loader panicked", "key", vk, "err", err)
			}
		}()
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), refreshTimeout)
		defer cancel()
		version := c.version(rctx, vk)
		if version == noVersion {
			return // Redis failing: the value expires, and misses go to the source
		}
		if _, err := c.load(rctx, vk, version, load); err != nil && err != ErrNotFound {
			c.log.DebugContext(rctx, "cache refresh failed", "key", vk, "err", err)
		}
	}()
}

func registerRefreshes(reg prometheus.Registerer) *prometheus.CounterVec {
	return register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "cache_refreshes_total",
		Help: "Values reloaded in the background because a hit found them near the end of their TTL (refresh ahead).",
	}, []string{"service", "cache"}))
}
