package cache

// The read path: a Named view of one kind of value, its keys, and Get (a hit,
// or a miss that loads).

import (
	"context"
	"errors"
	"unsafe"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/progressive-overload/po/services/kit/tracing"
)

// Named is the view of one kind of value ("challenge", "user-challenges"): its keys
// live under their own prefix and its requests are counted under cache=<name>.
type Named struct {
	c      *Cache
	name   string
	prefix string
	hit    prometheus.Counter
	miss   prometheus.Counter
	errs   prometheus.Counter

	nearHit, nearMiss, nearBypass prometheus.Counter
	refreshed                     prometheus.Counter

	traceKey attribute.Key // cache.<name>.result, on the reader's span
}

// Named returns the view for name. Create views once, at wiring time.
func (c *Cache) Named(name string) *Named {
	n := &Named{
		c:      c,
		name:   name,
		prefix: c.opts.KeyPrefix + name + ":{",
		hit:    c.requests.WithLabelValues(c.opts.Service, name, "hit"),
		miss:   c.requests.WithLabelValues(c.opts.Service, name, "miss"),
		errs:   c.requests.WithLabelValues(c.opts.Service, name, "error"),

		refreshed: c.refreshes.WithLabelValues(c.opts.Service, name),

		traceKey: attribute.Key("cache." + name + ".result"),
	}
	if c.near != nil {
		near := registerNearRequests(c.opts.Registerer)
		n.nearHit = near.WithLabelValues(c.opts.Service, name, "hit")
		n.nearMiss = near.WithLabelValues(c.opts.Service, name, "miss")
		n.nearBypass = near.WithLabelValues(c.opts.Service, name, "bypass")
	}
	return n
}

// Key names one entry of this view for Cache.Invalidate. Keys must not be empty
// (an empty one would lose its Redis Cluster hash tag).
func (n *Named) Key(key string) Key { return Key{value: n.prefix + key + "}"} }

// Invalidate is Cache.Invalidate for keys of this view.
func (n *Named) Invalidate(ctx context.Context, keys ...string) error {
	ks := make([]Key, len(keys))
	for i, k := range keys {
		ks[i] = n.Key(k)
	}
	return n.c.Invalidate(ctx, ks...)
}

// Get returns the value for key: from Redis when present, otherwise from load, which
// is then stored. A not-found result (loaded or cached) is returned as ErrNotFound;
// other loader errors are returned as is and not cached. Redis failures never reach
// the caller. The returned slice is shared with other readers: do not modify it.
func (n *Named) Get(ctx context.Context, key string, load Loader) ([]byte, error) {
	c := n.c
	if !c.opts.Enabled {
		n.miss.Inc()
		n.mark(ctx, "miss")
		b, err := load(ctx)
		return result(b, err)
	}
	vk := n.prefix + key + "}"
	var epoch uint64
	if c.near != nil {
		// The epoch is read before Redis is: an invalidation arriving from
		// now on keeps what this read fetches out of the near tier.
		b, notFound, ok, e := c.near.get(vk)
		switch {
		case ok:
			n.nearHit.Inc()
			n.hit.Inc()
			n.mark(ctx, "hit")
			if notFound {
				return nil, ErrNotFound
			}
			return b, nil
		case c.near.healthy.Load():
			n.nearMiss.Inc()
		default:
			n.nearBypass.Inc()
		}
		epoch = e
	}
	if !c.brk.Allow() || c.retry.Pending(vk) {
		// Redis is failing, or this key's invalidation has not reached it
		// yet (its old value may still be there): the source, unfilled.
		n.errs.Inc()
		n.mark(ctx, "error")
		return c.load(ctx, vk, noVersion, load)
	}
	s, err := c.get(ctx, vk)
	if c.onRedisRead != nil {
		c.onRedisRead()
	}
	switch {
	case err == nil:
		if len(s) > 0 {
			switch s[0] {
			case tagValue:
				n.hit.Inc()
				n.mark(ctx, "hit")
				b := bytesOf(s[1:])
				c.keepNear(vk, b, false, epoch)
				return b, nil
			case tagRenewable:
				v, due, ok := splitRenewable(s[1:])
				if !ok {
					break // cut short: not ours, overwrite it
				}
				n.hit.Inc()
				n.mark(ctx, "hit")
				if c.opts.RefreshAhead > 0 && c.now().UnixMilli() >= due {
					n.refresh(ctx, vk, load)
				}
				b := bytesOf(v)
				c.keepNear(vk, b, false, epoch)
				return b, nil
			case tagNotFound:
				n.hit.Inc()
				n.mark(ctx, "hit")
				c.keepNear(vk, nil, true, epoch)
				return nil, ErrNotFound
			}
		}
		// Not written by this package (or by a future format): overwrite it.
	case errors.Is(err, redis.Nil):
	default:
		n.errs.Inc()
		n.mark(ctx, "error")
		return c.load(ctx, vk, noVersion, load)
	}
	n.miss.Inc()
	n.mark(ctx, "miss")
	version := c.version(ctx, vk)
	b, err := c.load(ctx, vk, version, load)
	if version != noVersion && (err == nil || err == ErrNotFound) {
		c.keepNear(vk, b, err != nil, epoch)
	}
	return b, err
}

// mark records the read's result (hit, miss, error, as counted in
// cache_requests_total) as the attribute cache.<name>.result of the
// reader's span, the request's, when tracing is on and the span is being
// recorded. Off, it costs an atomic load.
func (n *Named) mark(ctx context.Context, result string) {
	if !tracing.Enabled() {
		return
	}
	if span := trace.SpanFromContext(ctx); span.IsRecording() {
		span.SetAttributes(n.traceKey.String(result))
	}
}

func (c *Cache) keepNear(vk string, b []byte, notFound bool, epoch uint64) {
	if c.near != nil {
		c.near.put(vk, b, notFound, epoch)
	}
}

// bytesOf hands out the string go-redis just read without copying it: nothing else
// holds that string, and the slice is read-only by contract (Get's and Loader's)
// because singleflight already shares one slice among readers. This saves a copy of
// the whole body and an allocation per hit.
func bytesOf(s string) []byte {
	if s == "" {
		return []byte{}
	}
	return unsafe.Slice(unsafe.StringData(s), len(s))
}

func result(b []byte, err error) ([]byte, error) {
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, ErrNotFound
		}
		return nil, err
	}
	return b, nil
}

// get is one read-path Redis call, bounded by Timeout and reported to the breaker.
func (c *Cache) get(ctx context.Context, key string) (string, error) {
	tctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	s, err := c.rdb.Get(tctx, key).Result()
	cancel()
	c.report(ctx, err)
	return s, err
}

// report feeds the breaker. A call cut short because the caller gave up says nothing
// about Redis, so it counts neither way.
func (c *Cache) report(ctx context.Context, err error) {
	switch {
	case err == nil || errors.Is(err, redis.Nil):
		c.brk.Success()
	case ctx.Err() == nil:
		c.brk.Failure()
	}
}
