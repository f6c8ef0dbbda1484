package adapters

import (
	"context"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/progressive-overload/po/services/kit/testkit"
)

func TestMain(m *testing.M) { testkit.Main(m) }

type fakeClock struct{ ns atomic.Int64 }

func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

func prefix(t *testing.T, rdb *redis.Client) string {
	return testkit.RedisPrefix(t, rdb)
}

func newRedis(t *testing.T, url string) *redis.Client {
	o, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	o.MaxRetries = -1
	o.DialerRetries = 1
	o.ContextTimeoutEnabled = true
	rdb := redis.NewClient(o)
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

// TestThrottleRedis uses the real Redis; the window is long, so nothing here
// depends on timing.
func TestThrottleRedis(t *testing.T) {
	ctx := context.Background()
	rdb := newRedis(t, "redis://127.0.0.1:6379/0")
	p := prefix(t, rdb)
	th := NewLoginThrottle(rdb, LoginThrottleOptions{MaxFailures: 3, Window: time.Minute, Prefix: p, Timeout: 5 * time.Second})

	// A success clears the email's count: 2 failures, success, 2 failures
	// (from different addresses) is not a lockout.
	th.Failed(ctx, "a@x.y", "10.0.0.1")
	th.Failed(ctx, "a@x.y", "10.0.0.2")
	th.Succeeded(ctx, "a@x.y")
	th.Failed(ctx, "a@x.y", "10.0.0.3")
	th.Failed(ctx, "a@x.y", "10.0.0.4")
	if w := th.Blocked(ctx, "a@x.y", "10.0.0.5"); w != 0 {
		t.Fatalf("blocked %s after a success in between", w)
	}
	th.Failed(ctx, "a@x.y", "10.0.0.5")
	w := th.Blocked(ctx, "a@x.y", "10.0.0.6")
	if w <= 0 || w > time.Minute {
		t.Fatalf("third failure: blocked %s, want (0, 1m]", w)
	}
	// Per address, across emails.
	for _, e := range []string{"b@x.y", "c@x.y", "d@x.y"} {
		th.Failed(ctx, e, "10.9.9.9")
	}
	if w := th.Blocked(ctx, "fresh@x.y", "10.9.9.9"); w <= 0 {
		t.Fatal("address not blocked after three failures")
	}
	if w := th.Blocked(ctx, "fresh@x.y", "10.9.9.8"); w != 0 {
		t.Fatalf("an innocent address is blocked for %s", w)
	}
	// No email in Redis keys.
	keys, err := rdb.Keys(ctx, p+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if ttl := rdb.PTTL(ctx, k).Val(); ttl <= 0 || ttl > time.Minute {
			t.Errorf("key %s has TTL %s", k, ttl)
		}
		for _, e := range []string{"a@x.y", "b@x.y"} {
			if strings.Contains(k, e) {
				t.Errorf("key %s holds an email", k)
			}
		}
	}
}

// TestThrottleFallsBackToMemory: with Redis unreachable the same rules hold,
// counted in memory, and windows expire on the clock.
func TestThrottleFallsBackToMemory(t *testing.T) {
	ctx := context.Background()
	clock := &fakeClock{}
	clock.ns.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	for name, rdb := range map[string]*redis.Client{"unreachable": newRedis(t, "redis://127.0.0.1:1/0"), "none": nil} {
		t.Run(name, func(t *testing.T) {
			var client redis.UniversalClient
			if rdb != nil {
				client = rdb
			}
			th := NewLoginThrottle(client, LoginThrottleOptions{MaxFailures: 2, Window: 10 * time.Second, Now: clock.Now})
			th.Failed(ctx, "a@x.y", "10.0.0.1")
			if w := th.Blocked(ctx, "a@x.y", "10.0.0.2"); w != 0 {
				t.Fatalf("blocked after one failure: %s", w)
			}
			th.Failed(ctx, "a@x.y", "10.0.0.3")
			if w := th.Blocked(ctx, "a@x.y", "10.0.0.4"); w != 10*time.Second {
				t.Fatalf("blocked %s, want 10s", w)
			}
			clock.Advance(4 * time.Second)
			if w := th.Blocked(ctx, "a@x.y", "10.0.0.4"); w != 6*time.Second {
				t.Fatalf("blocked %s, want 6s", w)
			}
			clock.Advance(6 * time.Second)
			if w := th.Blocked(ctx, "a@x.y", "10.0.0.4"); w != 0 {
				t.Fatalf("still blocked after the window: %s", w)
			}
			th.Failed(ctx, "b@x.y", "10.0.0.5")
			th.Succeeded(ctx, "b@x.y")
			th.Failed(ctx, "b@x.y", "10.0.0.6")
			if w := th.Blocked(ctx, "b@x.y", "10.0.0.7"); w != 0 {
				t.Fatalf("success did not clear the email: %s", w)
			}
		})
	}
}

func TestMemoryWindowsStayBounded(t *testing.T) {
	now := time.Unix(0, 0)
	w := newMemoryWindows(func() time.Time { return now })
	for i := range memoryWindowsMax + 10 {
		w.fail([]string{"k" + strconv.Itoa(i)}, time.Hour)
	}
	if n := len(w.m); n > memoryWindowsMax {
		t.Fatalf("%d entries, cap %d", n, memoryWindowsMax)
	}
}
