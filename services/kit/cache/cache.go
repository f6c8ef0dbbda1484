// Package cache is cache-aside over Redis (go-redis v9) for values that are already
// encoded, typically a JSON response body the HTTP handler writes back unchanged.
//
// A hit costs one GET. A miss costs a second GET, of the key's version; then the
// loader runs once for all the readers that missed on the same version
// (singleflight), and a Lua script stores its result only if the version has not
// moved meanwhile, so a read racing a write cannot put the old value back.
// Invalidate, called after the database commit, bumps the version and deletes the
// value; with Redis healthy, every read that starts after it returns sees the write.
// With Redis failing, reads go to the loader and still see it: they share only
// loads that began after they arrived (blindGroup).
//
// Redis is never allowed to fail a read: an error, or a call slower than
// Options.Timeout, is counted as result="error" and the read goes to the loader. After
// a run of consecutive errors a breaker skips Redis for a second, then lets one probe
// through; the first success closes it again, so it recovers by itself.
//
// The client must be created with ContextTimeoutEnabled: true; without it go-redis
// ignores context deadlines on the socket and Options.Timeout cannot bound a call to
// a Redis that accepts connections but does not answer (New logs a warning).
//
// Redis layout, per cache name N and key K (the braces make both keys of one K hash
// to the same Redis Cluster slot, which the fill script requires, and keep a key
// ending in ":v" from ever colliding with another key's version):
//
//	<KeyPrefix>N:{K}     value: "v" + bytes, or "n" for a cached "not found"
//	<KeyPrefix>N:{K}:v   version, bumped by Invalidate; lives much longer than values
package cache

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"runtime/debug"
	"time"
	"unsafe"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/singleflight"
)

// ErrNotFound is what a loader returns (possibly wrapped) when the thing does not
// exist; the cache then stores a short-lived placeholder. Get reports a not-found
// value, loaded or cached, as exactly ErrNotFound.
var ErrNotFound = errors.New("cache: not found")

// Loader produces the value for a key from the source of truth. The returned slice
// is stored as is and handed to every reader that shared the call: do not modify it
// afterwards.
type Loader func(ctx context.Context) ([]byte, error)

// Options configure a Cache. Zero values get the defaults noted.
type Options struct {
	Service   string // value of the "service" metric label
	KeyPrefix string // prepended to every Redis key, e.g. "po:challenge:"
	// TTL of a value (default 30s). It is also the bound on staleness when an
	// invalidation is lost, see Invalidate.
	TTL time.Duration
	// Jitter spreads each TTL uniformly over TTL×(1±Jitter) so keys filled
	// together do not expire together. Default 0.1; negative means none.
	Jitter float64
	// NegativeTTL of a "not found" placeholder (default the smaller of 5s and TTL).
	NegativeTTL time.Duration
	// Timeout of one Redis call on the read path (default 50ms); a slower call counts
	// as an error and the read goes to the loader.
	Timeout time.Duration
	// InvalidateTimeout bounds one invalidation attempt (default 10×Timeout). It is
	// longer than Timeout because a write has no fallback: waiting a little longer
	// on a slow Redis is what keeps the cache from serving a stale value.
	InvalidateTimeout time.Duration
	// Enabled false makes every Get call its loader directly (counted as a miss) and
	// Invalidate a no-op: the baseline for benchmarks, and a way to run without Redis.
	Enabled    bool
	Registerer prometheus.Registerer // default prometheus.DefaultRegisterer
	Logger     *slog.Logger          // default slog.Default()
}

const (
	tagValue    = 'v'
	tagNotFound = 'n'
	versionSuf  = ":v"
)

// The version is read as a string and compared as one: an absent version reads as
// "" on both sides. SET happens only if no Invalidate ran since the reader looked.
var fillScript = redis.NewScript(`
local v = redis.call('GET', KEYS[2]) or ''
if v ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2] .. ARGV[3], 'PX', ARGV[4])
return 1
`)

// Cache is safe for concurrent use. Create it once per process and derive a Named
// view per kind of value.
type Cache struct {
	rdb      redis.UniversalClient
	opts     Options
	log      *slog.Logger
	requests *prometheus.CounterVec
	group    singleflight.Group
	blind    blindGroup
	brk      breaker
	retry    retrier
	onJoin   func() // test hook: a reader has joined (or started) the load of its key
	// versionTTL must outlast every value and every load in flight: a version key
	// that expired during a load and was recreated could match an old reading.
	versionTTL time.Duration
}

// New returns a Cache over rdb. It does not contact Redis: a Redis that is down at
// start only means reads go to their loaders until it comes up.
func New(rdb redis.UniversalClient, opts Options) *Cache {
	if opts.TTL <= 0 {
		opts.TTL = 30 * time.Second
	}
	switch {
	case opts.Jitter == 0:
		opts.Jitter = 0.1
	case opts.Jitter < 0:
		opts.Jitter = 0
	case opts.Jitter > 1:
		opts.Jitter = 1
	}
	if opts.NegativeTTL <= 0 {
		opts.NegativeTTL = min(5*time.Second, opts.TTL)
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 50 * time.Millisecond
	}
	if opts.InvalidateTimeout <= 0 {
		opts.InvalidateTimeout = 10 * opts.Timeout
	}
	if opts.Registerer == nil {
		opts.Registerer = prometheus.DefaultRegisterer
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	c := &Cache{
		rdb:        rdb,
		opts:       opts,
		log:        opts.Logger.With("component", "cache"),
		requests:   registerRequests(opts.Registerer),
		versionTTL: max(time.Hour, 4*maxTTL(opts)),
	}
	c.brk.init(breakerThreshold, breakerCooldown)
	c.retry.init(c)
	if opts.Enabled && !contextTimeoutEnabled(rdb) {
		c.log.Warn("redis client has ContextTimeoutEnabled=false: cache timeout cannot bound calls to a Redis that does not answer",
			"timeout", opts.Timeout)
	}
	return c
}

// Close stops retrying invalidations that failed (see Invalidate) and waits for the
// retry goroutine, if any, to end. It does not close the Redis client.
func (c *Cache) Close() { c.retry.close() }

func contextTimeoutEnabled(rdb redis.UniversalClient) bool {
	switch r := rdb.(type) {
	case *redis.Client:
		return r.Options().ContextTimeoutEnabled
	case *redis.ClusterClient:
		return r.Options().ContextTimeoutEnabled
	case *redis.Ring:
		return r.Options().ContextTimeoutEnabled
	}
	return true // unknown implementation: nothing to check
}

func maxTTL(o Options) time.Duration {
	return time.Duration(float64(o.TTL) * (1 + o.Jitter))
}

func (c *Cache) jittered(ttl time.Duration) time.Duration {
	if c.opts.Jitter > 0 {
		ttl = time.Duration(float64(ttl) * (1 + c.opts.Jitter*(2*rand.Float64()-1)))
	}
	return max(ttl, time.Millisecond)
}

// Named is the view of one kind of value ("challenge", "user-challenges"): its keys
// live under their own prefix and its requests are counted under cache=<name>.
type Named struct {
	c      *Cache
	name   string
	prefix string
	hit    prometheus.Counter
	miss   prometheus.Counter
	errs   prometheus.Counter
}

// Named returns the view for name. Create views once, at wiring time.
func (c *Cache) Named(name string) *Named {
	return &Named{
		c:      c,
		name:   name,
		prefix: c.opts.KeyPrefix + name + ":{",
		hit:    c.requests.WithLabelValues(c.opts.Service, name, "hit"),
		miss:   c.requests.WithLabelValues(c.opts.Service, name, "miss"),
		errs:   c.requests.WithLabelValues(c.opts.Service, name, "error"),
	}
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
		b, err := load(ctx)
		return result(b, err)
	}
	vk := n.prefix + key + "}"
	if !c.brk.allow() {
		n.errs.Inc()
		return c.load(ctx, vk, noVersion, load)
	}
	s, err := c.get(ctx, vk)
	switch {
	case err == nil:
		if len(s) > 0 {
			switch s[0] {
			case tagValue:
				n.hit.Inc()
				return bytesOf(s[1:]), nil
			case tagNotFound:
				n.hit.Inc()
				return nil, ErrNotFound
			}
		}
		// Not written by this package (or by a future format): overwrite it.
	case errors.Is(err, redis.Nil):
	default:
		n.errs.Inc()
		return c.load(ctx, vk, noVersion, load)
	}
	n.miss.Inc()
	return c.load(ctx, vk, c.version(ctx, vk), load)
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
		c.brk.success()
	case ctx.Err() == nil:
		c.brk.failure()
	}
}

// noVersion stands for "Redis did not answer": the loaded value is not stored.
const noVersion = "\x00none"

// load runs the loader once for all the readers of a key that saw the same version.
// Keying the shared call by version too means a read that starts after an
// Invalidate returned never joins a load that started before the write: it would
// get the old value even though its own request came after the change.
//
// Without a version (Redis failed) there is nothing to key on, so such loads go
// through blindGroup, which only lets a reader share a load that starts after it
// arrived.
func (c *Cache) load(ctx context.Context, vk, version string, load Loader) ([]byte, error) {
	var (
		b      []byte
		err    error
		shared bool
	)
	if version == noVersion {
		call := c.blind.do(vk, func() ([]byte, error) { return c.flight(ctx, vk, version, load) })
		c.joined()
		b, err, shared = call.wait(ctx)
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
	var p *panicError
	if errors.As(err, &p) {
		panic(p)
	}
	// The shared call ran on the context of whichever reader started it; if that
	// one went away, the others still deserve an answer within their own time.
	if shared && ctx.Err() == nil && isContextErr(err) {
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

func isContextErr(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// flight is the body of one singleflight call. It runs on a goroutine of its own,
// where a panic would kill the process, so it hands panics back to the readers.
func (c *Cache) flight(ctx context.Context, vk, version string, load Loader) (b []byte, err error) {
	defer func() {
		if v := recover(); v != nil {
			b, err = nil, &panicError{value: v, stack: debug.Stack()}
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
	if !c.brk.allow() {
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
	tag, ttl := "v", c.opts.TTL
	if notFound {
		tag, ttl, b = "n", c.opts.NegativeTTL, nil
	}
	// The value is already paid for: store it even if the reader has gone.
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.opts.Timeout)
	defer cancel()
	err := fillScript.Run(fctx, c.rdb, []string{vk, vk + versionSuf},
		version, tag, b, c.jittered(ttl).Milliseconds()).Err()
	c.report(fctx, err)
	if err != nil {
		c.log.DebugContext(ctx, "cache fill failed", "key", vk, "err", err)
	}
}

// panicError carries a loader's panic out of the singleflight goroutine so that each
// reader re-panics on its own goroutine, where the HTTP recover middleware sees it.
type panicError struct {
	value any
	stack []byte
}

func (p *panicError) Error() string {
	return fmt.Sprintf("cache loader panic: %v\n\n%s", p.value, p.stack)
}

func (p *panicError) Unwrap() error {
	err, _ := p.value.(error)
	return err
}

func registerRequests(reg prometheus.Registerer) *prometheus.CounterVec {
	cv := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "cache_requests_total",
		Help: "Cache reads by cache name and result (hit, miss, error: Redis failed or was skipped and the read went to the source).",
	}, []string{"service", "cache", "result"})
	if err := reg.Register(cv); err != nil {
		// Several caches may share one registry (one per process is typical, but
		// tests and multi-tenant wiring create more): reuse the registered vector.
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(*prometheus.CounterVec); ok {
				return existing
			}
		}
		panic(err)
	}
	return cv
}
