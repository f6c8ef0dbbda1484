package cache

// A miss: the versioned fill (fillScript), the shared load per key and
// version (singleflight; blindload.go without Redis), and loader panics.

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/progressive-overload/po/services/kit/internal/aside"
)

// The version is read as a string and compared as one: an absent version reads as
// "" on both sides. SET happens only if no Invalidate ran since the reader looked.
var fillScript = redis.NewScript(`
local v = redis.call('GET', KEYS[2]) or ''
if v ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2] .. ARGV[3], 'PX', ARGV[4])
return 1
`)

// noVersion stands for "Redis did not answer": the loaded value is not stored.
const noVersion = "\x00none"

// load runs the loader once for all the readers of a key that saw the same version.
// Keying the shared call by version too means a read that starts after an
// Invalidate returned never joins a load that started before the write: it would
// get the old value even though its own request came after the change.
//
// Without a version (Redis failed) there is nothing to key on, so such loads go
// through aside.BlindGroup, which only lets a reader share a load that starts after it
// arrived.
func (c *Cache) load(ctx context.Context, vk, version string, load Loader) ([]byte, error) {
	var (
		b      []byte
		err    error
		shared bool
	)
	if version == noVersion {
		call := c.blind.Do(vk, nil, func() ([]byte, error) { return c.flight(ctx, vk, version, load) })
		c.joined()
		b, err, shared = call.Wait(ctx)
	} else {
		ch := c.group.DoChan(vk+"\x00"+version, func() (any, error) { return c.flight(ctx, vk, version, load) })
		c.joined()
		select {
		case r := <-ch:
			b, _ = r.Val.([]byte)
			err, shared = r.Err, r.Shared
		case <-ctx.Done():
			err = ctx.Err()
		}
	}
	if err == nil {
		return b, nil
	}
	var p *aside.PanicError
	if errors.As(err, &p) {
		panic(p)
	}
	// The shared call ran on the context of whichever reader started it; if that
	// one went away, the others still deserve an answer within their own time.
	if shared && ctx.Err() == nil && aside.IsContextErr(err) {
		b, err := load(ctx)
		return result(b, err)
	}
	return nil, err
}

func (c *Cache) joined() {
	if c.onJoin != nil {
		c.onJoin()
	}
}

// flight is the body of one singleflight call. It runs on a goroutine of its own,
// where a panic would kill the process, so it hands panics back to the readers.
func (c *Cache) flight(ctx context.Context, vk, version string, load Loader) (b []byte, err error) {
	defer func() {
		if v := recover(); v != nil {
			b, err = nil, aside.Recovered("cache loader", v)
		}
	}()
	b, err = load(ctx)
	notFound := errors.Is(err, ErrNotFound)
	if err != nil && !notFound {
		return nil, err
	}
	if version != noVersion {
		c.fill(ctx, vk, version, b, notFound)
	}
	if notFound {
		return nil, ErrNotFound
	}
	return b, nil
}

// version reads the key's version, before loading; an absent version reads as "".
func (c *Cache) version(ctx context.Context, vk string) string {
	if !c.brk.Allow() {
		return noVersion
	}
	v, err := c.get(ctx, vk+versionSuf)
	switch {
	case err == nil:
		return v
	case errors.Is(err, redis.Nil):
		return ""
	}
	return noVersion
}

func (c *Cache) fill(ctx context.Context, vk, version string, b []byte, notFound bool) {
	var (
		tag []byte
		ttl time.Duration
	)
	switch {
	case notFound:
		tag, ttl, b = []byte{tagNotFound}, c.jittered(c.opts.NegativeTTL), nil
	case c.opts.RefreshAhead > 0:
		ttl = c.jittered(c.opts.TTL)
		tag = c.renewable(ttl, c.now())
	default:
		tag, ttl = []byte{tagValue}, c.jittered(c.opts.TTL)
	}
	// The value is already paid for: store it even if the reader has gone.
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.opts.Timeout)
	defer cancel()
	err := fillScript.Run(fctx, c.rdb, []string{vk, vk + versionSuf},
		version, tag, b, ttl.Milliseconds()).Err()
	c.report(fctx, err)
	if err != nil {
		c.log.DebugContext(ctx, "cache fill failed", "key", vk, "err", err)
	}
}
