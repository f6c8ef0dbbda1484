package adapters

import (
	"context"
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/progressive-overload/po/services/kit/redisclient"
	"github.com/progressive-overload/po/services/kit/redisclient/redistest"
	"github.com/progressive-overload/po/services/kit/testkit"
)

func TestMain(m *testing.M) {
	testkit.Main(m,
		// After a refused dial go-redis probes the address once a second until
		// its pool is closed, and only notices the close after the sleep in
		// progress (TestThrottleClusterNodeDown's dead master).
		goleak.IgnoreAnyFunction("github.com/redis/go-redis/v9/internal/pool.(*ConnPool).tryDial"),
		redistest.StopSharedAtExit())
}

type fakeClock struct{ ns atomic.Int64 }

func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// newRedis is the client the service builds from REDIS_URL.
func newRedis(t *testing.T, url string) redis.UniversalClient {
	rdb, err := redisclient.New(url, redisclient.Options{DialerRetries: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

// TestThrottleRedis uses a real Redis, a single server and a 3-master
// cluster (where the email and address keys land on different nodes); the
// window is long, so nothing here depends on timing.
func TestThrottleRedis(t *testing.T) {
	for name, url := range map[string]func() string{
		"single":  func() string { return "redis://" + testkit.RedisAddr + "/0" },
		"cluster": func() string { return redistest.SharedCluster(t).URL() },
	} {
		t.Run(name, func(t *testing.T) { testThrottleRedis(t, newRedis(t, url())) })
	}
}

func testThrottleRedis(t *testing.T, rdb redis.UniversalClient) {
	ctx := context.Background()
	p := testkit.RedisPrefix(t, rdb)
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
	keys := testkit.RedisKeys(t, rdb, p)
	if len(keys) == 0 {
		t.Fatal("no throttle keys in Redis")
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
	for name, rdb := range map[string]redis.UniversalClient{"unreachable": newRedis(t, "redis://127.0.0.1:1/0"), "none": nil} {
		t.Run(name, func(t *testing.T) {
			th := NewLoginThrottle(rdb, LoginThrottleOptions{MaxFailures: 2, Window: 10 * time.Second, Now: clock.Now})
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

// TestThrottleClusterNodeDown: with one master of the cluster dead, a check
// whose address key lives there must not read as "not blocked" because the
// email key, on a live master, answered: it falls back to the memory count.
func TestThrottleClusterNodeDown(t *testing.T) {
	ctx := context.Background()
	cl := redistest.StartCluster(t)
	rdb := newRedis(t, cl.URL())
	p := testkit.NewRedisPrefix()
	clock := &fakeClock{}
	clock.ns.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	th := NewLoginThrottle(rdb, LoginThrottleOptions{MaxFailures: 2, Window: time.Hour, Prefix: p, Timeout: 5 * time.Second, Now: clock.Now,
		Logger: slog.New(slog.NewTextHandler(testkit.LogOutput(), nil))})

	master := func(key string) string {
		m, err := rdb.(*redis.ClusterClient).MasterForKey(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		return m.Options().Addr
	}
	const ip = "10.1.2.3"
	dead := master(th.keys("", ip)[1])
	// Emails whose keys live on the masters that stay up.
	var emails []string
	for i := 0; len(emails) < 3; i++ {
		e := "u" + strconv.Itoa(i) + "@x.y"
		if master(th.keys(e, "")[0]) != dead {
			emails = append(emails, e)
		}
	}
	for i, a := range cl.Addrs {
		if a == dead {
			cl.StopMaster(i)
		}
	}
	// Two failures from the address, under different emails, each after
	// the throttle's Redis cooldown: they reach Redis, which counts the
	// emails but not the address, so the address is counted in memory.
	for _, e := range emails[:2] {
		clock.Advance(time.Minute)
		th.Failed(ctx, e, ip)
	}
	clock.Advance(time.Minute)
	if w := th.Blocked(ctx, emails[2], ip); w <= 0 {
		t.Fatal("the address is not blocked: a failed read on the dead master was taken for an absent key")
	}
}
