package adapters

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// LoginThrottleOptions configure a LoginThrottle.
type LoginThrottleOptions struct {
	MaxFailures int           // failures per window before attempts are refused (LOGIN_MAX_FAILURES)
	Window      time.Duration // counting window and lockout (LOGIN_LOCKOUT)
	Prefix      string        // Redis key prefix (REDIS_KEY_PREFIX)
	// Timeout bounds each Redis call; when it passes, or Redis fails, the
	// throttle counts in process memory instead. Default 500ms.
	Timeout time.Duration
	Logger  *slog.Logger
	Now     func() time.Time
}

// LoginThrottle counts failed sign-ins per email and per client address in
// Redis, in fixed windows that start at the first failure: INCR, and PEXPIRE
// when the key is new. When a key reaches MaxFailures, attempts are refused
// until it expires. If Redis cannot answer, the same counting happens in
// process memory (per replica, so a little weaker) and the outage is logged;
// a sign-in never fails because of Redis.
type LoginThrottle struct {
	rdb      redis.UniversalClient
	opts     LoginThrottleOptions
	mem      *memoryWindows
	lastWarn atomic.Int64
	// skipUntil (unix ns) skips Redis for a while after it failed: a Redis
	// that does not answer would otherwise cost every sign-in Timeout per
	// call.
	skipUntil atomic.Int64
}

// redisCooldown is how long Redis is skipped after a failure.
const redisCooldown = 2 * time.Second

// incrScript counts one failure and starts the window on the first. It
// names one key, so it runs on a Redis Cluster as on one server; the email
// and address keys never travel together (each has its own script call, and
// the reads are a pipeline, which a cluster client splits by node), so they
// need no shared hash slot and spread over the cluster.
var incrScript = redis.NewScript(`
local n = redis.call('INCR', KEYS[1])
if n == 1 or redis.call('PTTL', KEYS[1]) < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
return n`)

// NewLoginThrottle returns a throttle on rdb (nil: memory only).
func NewLoginThrottle(rdb redis.UniversalClient, opts LoginThrottleOptions) *LoginThrottle {
	if opts.MaxFailures < 1 {
		opts.MaxFailures = 5
	}
	if opts.Window <= 0 {
		opts.Window = 15 * time.Minute
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 500 * time.Millisecond
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &LoginThrottle{rdb: rdb, opts: opts, mem: newMemoryWindows(opts.Now)}
}

func (t *LoginThrottle) keys(email, ip string) []string {
	sum := sha256.Sum256([]byte(email)) // no addresses in Redis
	keys := []string{t.opts.Prefix + "login:fail:email:" + hex.EncodeToString(sum[:16])}
	if ip != "" {
		keys = append(keys, t.opts.Prefix+"login:fail:ip:"+ip)
	}
	return keys
}

// Blocked implements app.LoginThrottle.
func (t *LoginThrottle) Blocked(ctx context.Context, email, ip string) time.Duration {
	keys := t.keys(email, ip)
	if wait, err := t.redisBlocked(ctx, keys); err == nil {
		return wait
	} else {
		t.degraded(err)
	}
	return t.mem.blocked(keys, t.opts.MaxFailures)
}

// useRedis reports whether to ask Redis now.
func (t *LoginThrottle) useRedis() bool {
	return t.rdb != nil && t.opts.Now().UnixNano() >= t.skipUntil.Load()
}

func (t *LoginThrottle) redisBlocked(ctx context.Context, keys []string) (time.Duration, error) {
	if !t.useRedis() {
		return 0, errNoRedis
	}
	ctx, cancel := context.WithTimeout(ctx, t.opts.Timeout)
	defer cancel()
	pipe := t.rdb.Pipeline()
	counts := make([]*redis.StringCmd, len(keys))
	ttls := make([]*redis.DurationCmd, len(keys))
	for i, k := range keys {
		counts[i] = pipe.Get(ctx, k)
		ttls[i] = pipe.PTTL(ctx, k)
	}
	_, _ = pipe.Exec(ctx)
	// Each reply on its own: Exec reports only the first error, and on a
	// cluster the keys may live on different nodes, so an absent key (nil)
	// on one must not hide a failed node behind the other.
	for i := range keys {
		for _, err := range []error{counts[i].Err(), ttls[i].Err()} {
			if err != nil && !errors.Is(err, redis.Nil) {
				return 0, err
			}
		}
	}
	var wait time.Duration
	for i := range keys {
		n, err := counts[i].Int()
		if err != nil || n < t.opts.MaxFailures {
			continue
		}
		ttl := ttls[i].Val()
		if ttl <= 0 { // no expiry (should not happen): a whole window
			ttl = t.opts.Window
		}
		wait = max(wait, ttl)
	}
	return wait, nil
}

// Failed implements app.LoginThrottle.
func (t *LoginThrottle) Failed(ctx context.Context, email, ip string) {
	keys := t.keys(email, ip)
	err := errNoRedis
	if t.useRedis() {
		ctx, cancel := context.WithTimeout(ctx, t.opts.Timeout)
		defer cancel()
		for _, k := range keys {
			if err = incrScript.Run(ctx, t.rdb, []string{k}, t.opts.Window.Milliseconds()).Err(); err != nil {
				break
			}
		}
	}
	if err != nil {
		t.degraded(err)
		t.mem.fail(keys, t.opts.Window)
	}
}

// Succeeded implements app.LoginThrottle: the email's count is cleared (the
// address's stays, or one account could reset an attacker's address count).
func (t *LoginThrottle) Succeeded(ctx context.Context, email string) {
	keys := t.keys(email, "")
	t.mem.clear(keys)
	if !t.useRedis() {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, t.opts.Timeout)
	defer cancel()
	// keys is the email's alone: one key, one slot, so one DEL is fine on a
	// cluster too (a DEL of keys in several slots would be refused).
	if err := t.rdb.Del(ctx, keys...).Err(); err != nil {
		t.degraded(err)
	}
}

type noRedis struct{}

func (noRedis) Error() string { return "no redis client configured" }

var errNoRedis error = noRedis{}

// degraded skips Redis for redisCooldown and logs that it failed, at most
// every 30 seconds.
func (t *LoginThrottle) degraded(err error) {
	if err == errNoRedis {
		return
	}
	now := t.opts.Now().UnixNano()
	t.skipUntil.Store(now + int64(redisCooldown))
	last := t.lastWarn.Load()
	if now-last < int64(30*time.Second) || !t.lastWarn.CompareAndSwap(last, now) {
		return
	}
	t.opts.Logger.Warn("login throttle: Redis unavailable, counting failed sign-ins in process memory", "error", err.Error())
}

// memoryWindows is the fallback counter: fixed windows in a map, pruned when
// it grows, and capped so a flood of distinct keys cannot exhaust memory.
type memoryWindows struct {
	mu  sync.Mutex
	now func() time.Time
	m   map[string]memoryWindow
}

type memoryWindow struct {
	count   int
	expires time.Time
}

const memoryWindowsMax = 100_000

func newMemoryWindows(now func() time.Time) *memoryWindows {
	return &memoryWindows{now: now, m: make(map[string]memoryWindow)}
}

func (w *memoryWindows) blocked(keys []string, maxFailures int) time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := w.now()
	var wait time.Duration
	for _, k := range keys {
		e, ok := w.m[k]
		if ok && now.Before(e.expires) && e.count >= maxFailures {
			wait = max(wait, e.expires.Sub(now))
		}
	}
	return wait
}

func (w *memoryWindows) fail(keys []string, window time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := w.now()
	if len(w.m) >= memoryWindowsMax {
		for k, e := range w.m {
			if !now.Before(e.expires) {
				delete(w.m, k)
			}
		}
		for k := range w.m { // still full: forget arbitrary entries
			if len(w.m) < memoryWindowsMax*7/8 {
				break
			}
			delete(w.m, k)
		}
	}
	for _, k := range keys {
		e, ok := w.m[k]
		if !ok || !now.Before(e.expires) {
			e = memoryWindow{expires: now.Add(window)}
		}
		e.count++
		w.m[k] = e
	}
}

func (w *memoryWindows) clear(keys []string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, k := range keys {
		delete(w.m, k)
	}
}
