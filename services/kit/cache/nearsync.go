package cache

// The near tier's invalidation channel. Invalidate's script publishes every
// key it invalidates on a channel of the cache's KeyPrefix, in the same
// script as the version bump and the delete, so no replica's Redis
// invalidation can happen without its message being sent. Every replica
// subscribes, drops the keys it hears about, and observes how long the
// message took (cache_near_invalidation_delay_seconds).
//
// The near tier is trusted only between a confirmed subscription and the
// first sign of trouble: a receive error, or no message (not even a pong)
// for two ping intervals. Then it is cleared and bypassed until the
// subscription is confirmed again, and cleared once more at that point
// because messages sent in between were lost.

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/progressive-overload/po/services/kit/backoff"
)

// nearPingInterval paces the liveness pings of an idle subscription.
const nearPingInterval = time.Second

func nearChannel(keyPrefix string) string { return keyPrefix + "near-invalidations" }

// nearMessage is "<origin> <unix ns> <key>": origin lets a replica skip its
// own messages (it invalidated synchronously already), the time measures the
// propagation.
func nearMessage(origin string, at time.Time, key string) string {
	return origin + " " + strconv.FormatInt(at.UnixNano(), 10) + " " + key
}

func parseNearMessage(s string) (origin string, at time.Time, key string, ok bool) {
	origin, rest, ok1 := strings.Cut(s, " ")
	ns, key, ok2 := strings.Cut(rest, " ")
	n, err := strconv.ParseInt(ns, 10, 64)
	if !ok1 || !ok2 || err != nil || origin == "" || key == "" {
		return "", time.Time{}, "", false
	}
	return origin, time.Unix(0, n), key, true
}

// syncNear keeps the near tier subscribed until ctx ends.
func (c *Cache) syncNear(ctx context.Context) {
	defer close(c.nearDone)
	bo := backoff.Backoff{Min: 50 * time.Millisecond, Max: 2 * time.Second}
	for attempt := 0; ctx.Err() == nil; attempt++ {
		if c.subscribeNear(ctx) {
			attempt = 0
		}
		c.near.healthy.Store(false)
		c.near.clear()
		select {
		case <-ctx.Done():
		case <-time.After(bo.Delay(attempt)):
		}
	}
}

// subscribeNear runs one subscription; it reports whether it was confirmed.
func (c *Cache) subscribeNear(ctx context.Context) (confirmed bool) {
	ps := c.rdb.Subscribe(ctx, c.nearChannel)
	defer ps.Close()
	heard := time.Now()
	for ctx.Err() == nil {
		msg, err := ps.ReceiveTimeout(ctx, nearPingInterval)
		var ne net.Error
		switch {
		case err != nil && errors.As(err, &ne) && ne.Timeout():
			if time.Since(heard) > 2*nearPingInterval || (confirmed && ps.Ping(ctx) != nil) {
				c.log.Warn("near cache invalidation channel silent; bypassing the near tier", "channel", c.nearChannel)
				return confirmed
			}
			continue
		case err != nil:
			if ctx.Err() == nil {
				c.log.Warn("near cache invalidation channel lost; bypassing the near tier", "channel", c.nearChannel, "err", err)
			}
			return confirmed
		}
		heard = time.Now()
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind == "subscribe" && m.Channel == c.nearChannel {
				// Anything cached before now may have missed a message.
				c.near.clear()
				c.near.healthy.Store(true)
				confirmed = true
			}
		case *redis.Message:
			origin, at, key, ok := parseNearMessage(m.Payload)
			if !ok || origin == c.origin {
				continue
			}
			c.near.invalidate(key)
			c.nearDelay.Observe(max(time.Since(at), 0).Seconds())
		}
	}
	return confirmed
}
