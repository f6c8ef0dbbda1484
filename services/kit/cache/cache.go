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
// loads that began after they arrived (aside.BlindGroup).
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
	"log/slog"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/singleflight"

	"github.com/progressive-overload/po/services/kit/internal/aside"
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
// DefaultNearTTL bounds how long the near tier keeps a value. It is the
// backstop for an invalidation message lost while the channel looked
// healthy (any sign of trouble clears and bypasses the tier already), so it
// need not be tiny; and it sets how often a Zipf tail user's read goes to
// Redis: a user read every few seconds misses a 1s tier on nearly every
// read (at 3,000 reads/s over 2,000 Zipf users, about 19% of reads go to
// Redis with 1s, 8% with 5s).
const DefaultNearTTL = 5 * time.Second

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
	// RefreshAhead is the last part of a value's life, as a fraction of its
	// TTL, in which a hit may also reload it in the background (refresh.go),
	// so that a key read often never expires into a miss: its readers keep
	// being answered from the cache while one load renews it. Each value
	// becomes due at a random point of that window's first 70%. Default 0.5;
	// negative means never (values then expire into misses).
	RefreshAhead float64
	// Timeout of one Redis call on the read path (default 50ms); a slower call counts
	// as an error and the read goes to the loader.
	Timeout time.Duration
	// InvalidateTimeout bounds one invalidation attempt (default 10×Timeout). It is
	// longer than Timeout because a write has no fallback: waiting a little longer
	// on a slow Redis is what keeps the cache from serving a stale value.
	InvalidateTimeout time.Duration
	// Enabled false makes every Get call its loader directly (counted as a miss) and
	// Invalidate a no-op: the baseline for benchmarks, and a way to run without Redis.
	Enabled bool
	// NearSize, when positive, keeps up to this many bytes of values in the
	// process in front of Redis (near.go), each for at most NearTTL (default
	// DefaultNearTTL), coherent across replicas through Redis pub/sub (nearsync.go).
	NearSize   int
	NearTTL    time.Duration
	Registerer prometheus.Registerer // default prometheus.DefaultRegisterer
	Logger     *slog.Logger          // default slog.Default()
}

const (
	tagValue = 'v'
	// tagRenewable is a value followed by when it becomes due for a refresh
	// (refresh.go): 'w', 8 bytes of Unix milliseconds, then the value.
	tagRenewable = 'w'
	tagNotFound  = 'n'
	versionSuf   = ":v"
)

// Cache is safe for concurrent use. Create it once per process and derive a Named
// view per kind of value.
type Cache struct {
	rdb      redis.UniversalClient
	opts     Options
	log      *slog.Logger
	requests *prometheus.CounterVec
	group    singleflight.Group
	blind    aside.BlindGroup[[]byte]
	brk      aside.Breaker
	retry    *aside.Retrier
	onJoin   func() // test hook: a reader has joined (or started) the load of its key
	// Test hooks of the near tier's races: a writer has invalidated its own
	// near tier and is about to invalidate Redis; a reader has read Redis.
	onInvalidating, onRedisRead func()
	// versionTTL must outlast every value and every load in flight: a version key
	// that expired during a load and was recreated could match an old reading.
	versionTTL time.Duration

	// The near tier, nil without Options.NearSize.
	near        *near
	nearChannel string // where Invalidate announces keys; set even without a near tier of our own
	origin      string // this Cache's name on that channel
	nearDelay   prometheus.Observer
	nearStop    context.CancelFunc
	nearDone    chan struct{}

	// Refreshes in flight, one per key (refresh.go).
	now        func() time.Time // time.Now; tests move it
	refreshing sync.Map
	refreshWG  sync.WaitGroup
	refreshMu  sync.Mutex // orders refreshWG.Add against Close
	closed     bool       // guarded by refreshMu: no refresh starts once set
	refreshes  *prometheus.CounterVec
}

// New returns a Cache over rdb. It does not contact Redis: a Redis that is down at
// start only means reads go to their loaders until it comes up.
func New(rdb redis.UniversalClient, opts Options) *Cache {
	if opts.TTL <= 0 {
		opts.TTL = 30 * time.Second
	}
	opts.Jitter = fraction(opts.Jitter, 0.1)
	if opts.NegativeTTL <= 0 {
		opts.NegativeTTL = min(5*time.Second, opts.TTL)
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 50 * time.Millisecond
	}
	if opts.InvalidateTimeout <= 0 {
		opts.InvalidateTimeout = 10 * opts.Timeout
	}
	if opts.NearTTL <= 0 {
		opts.NearTTL = DefaultNearTTL
	}
	opts.RefreshAhead = fraction(opts.RefreshAhead, 0.5)
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
		refreshes:  registerRefreshes(opts.Registerer),
		now:        time.Now,
		versionTTL: max(time.Hour, 4*maxTTL(opts)),
	}
	c.brk.Init(aside.BreakerThreshold, aside.BreakerCooldown)
	c.retry = aside.NewRetrier("cache invalidation", c.log, func(ctx context.Context, keys []string) error {
		return c.invalidate(ctx, keysOf(keys))
	})
	// Announced whether or not this replica keeps a near tier: others may.
	c.nearChannel = nearChannel(opts.KeyPrefix)
	c.origin = strconv.FormatUint(rand.Uint64(), 36)
	if opts.Enabled && opts.NearSize > 0 {
		c.near = newNear(opts.NearSize, opts.NearTTL, time.Now)
		c.nearDelay = registerNearDelay(opts.Registerer).WithLabelValues(opts.Service)
		ctx, stop := context.WithCancel(context.Background())
		c.nearStop, c.nearDone = stop, make(chan struct{})
		go c.syncNear(ctx)
	}
	if opts.Enabled && !aside.ContextTimeoutEnabled(rdb) {
		c.log.Warn("redis client has ContextTimeoutEnabled=false: cache timeout cannot bound calls to a Redis that does not answer",
			"timeout", opts.Timeout)
	}
	return c
}

// Close stops retrying invalidations that failed (see Invalidate) and the near
// tier's subscription, and waits for their goroutines, and refreshes under
// way, to end. Reads still work after it (a server whose drain timed out may
// still be answering) but start no refresh: their values expire instead. It
// does not close the Redis client.
func (c *Cache) Close() {
	c.retry.Close()
	c.refreshMu.Lock()
	c.closed = true
	c.refreshMu.Unlock()
	c.refreshWG.Wait()
	if c.near != nil {
		c.nearStop()
		<-c.nearDone
	}
}

// fraction is an option in [0, 1]: def when unset (0), 0 when negative (off).
func fraction(v, def float64) float64 {
	switch {
	case v == 0:
		return def
	case v < 0:
		return 0
	}
	return min(v, 1)
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

func registerRequests(reg prometheus.Registerer) *prometheus.CounterVec {
	return register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "cache_requests_total",
		Help: "Cache reads by cache name and result (hit, miss, error: Redis failed or was skipped and the read went to the source).",
	}, []string{"service", "cache", "result"}))
}

func registerNearRequests(reg prometheus.Registerer) *prometheus.CounterVec {
	return register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "cache_near_requests_total",
		Help: "Reads of the in-process near tier by result: hit, miss (went on to Redis), bypass (invalidation channel down, the tier not trusted).",
	}, []string{"service", "cache", "result"}))
}

func registerNearDelay(reg prometheus.Registerer) *prometheus.HistogramVec {
	return register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "cache_near_invalidation_delay_seconds",
		Help:    "From another replica's invalidation to its arrival here, by the sender's clock: the bound on cross-replica staleness of the near tier.",
		Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1},
	}, []string{"service"}))
}

// register registers c, or returns the collector already registered under its
// name: several caches may share one registry (one per process is typical, but
// tests and multi-tenant wiring create more).
func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
		panic(err)
	}
	return c
}
