package cache_test

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/progressive-overload/po/services/kit/cache"
)

// clock is a movable time for refresh ahead.
type clock struct{ at atomic.Int64 }

func newClock(f *fixture) *clock {
	c := &clock{}
	c.at.Store(time.Now().UnixNano())
	cache.SetClock(f.cache, func() time.Time { return time.Unix(0, c.at.Load()) })
	return c
}

func (c *clock) advance(d time.Duration) { c.at.Add(int64(d)) }

// refreshFixture is a cache whose values live exactly an hour (no jitter)
// and are due for a refresh between 30 and about 51 minutes, on a movable
// clock, and its view "c".
func refreshFixture(t testing.TB, build func(testing.TB, cache.Options) *fixture) (*fixture, *clock, *cache.Named) {
	t.Helper()
	f := build(t, cache.Options{Enabled: true, TTL: time.Hour, Jitter: -1, RefreshAhead: 0.5})
	return f, newClock(f), f.cache.Named("c")
}

// A hit on a value due for a refresh answers from the cache at once and
// reloads the value in the background, renewing it in Redis.
func TestHitDueForRefreshReloadsInBackground(t *testing.T) {
	onEachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		f, clk, n := refreshFixture(t, b.fixture)
		var source atomic.Value
		source.Store("old")
		var loads atomic.Int32
		load := func(context.Context) ([]byte, error) { loads.Add(1); return []byte(source.Load().(string)), nil }

		if v, err := n.Get(ctx, "1", load); err != nil || string(v) != "old" {
			t.Fatalf("first read: %q %v", v, err)
		}
		source.Store("new")           // changed behind the cache's back, as a lost invalidation would leave it
		clk.advance(20 * time.Minute) // before the window, which opens at 30 min
		if v, err := n.Get(ctx, "1", load); err != nil || string(v) != "old" {
			t.Fatalf("hit before the refresh window: %q %v", v, err)
		}
		cache.WaitRefreshes(f.cache)
		if got := loads.Load(); got != 1 {
			t.Fatalf("%d loads before the value was due, want 1", got)
		}
		clk.advance(33 * time.Minute) // 53 min: past 0.85 of the hour, due; not expired
		if v, err := n.Get(ctx, "1", load); err != nil || string(v) != "old" {
			t.Fatalf("hit due for a refresh: %q %v, want the cached value at once", v, err)
		}
		cache.WaitRefreshes(f.cache)
		if got := loads.Load(); got != 2 {
			t.Fatalf("%d loads, want the miss's and the refresh's", got)
		}
		raw, err := f.rdb.Get(ctx, f.valueKey("c", "1")).Result()
		if err != nil || stored(raw) != "new" {
			t.Fatalf("after the refresh Redis holds %q, %v", raw, err)
		}
		f.assertCounts(t, "c", 2, 1, 0)
		want := `
# HELP cache_refreshes_total Values reloaded in the background because a hit found them near the end of their TTL (refresh ahead).
# TYPE cache_refreshes_total counter
cache_refreshes_total{cache="c",service="svc"} 1
`
		if err := testutil.GatherAndCompare(f.reg, strings.NewReader(want), "cache_refreshes_total"); err != nil {
			t.Error(err)
		}
	})
}

// A refresh is a versioned load: one that read the source before a write
// and finishes after the write's invalidation stores nothing, so the next
// read loads the write.
func TestRefreshNeverPutsBackAnOlderValue(t *testing.T) {
	onEachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		f, clk, n := refreshFixture(t, b.fixture)
		if _, err := n.Get(ctx, "1", func(context.Context) ([]byte, error) { return []byte("old"), nil }); err != nil {
			t.Fatal(err)
		}
		clk.advance(52 * time.Minute)
		started, release := make(chan struct{}), make(chan struct{})
		slowOld := func(context.Context) ([]byte, error) { close(started); <-release; return []byte("old"), nil }
		if v, err := n.Get(ctx, "1", slowOld); err != nil || string(v) != "old" {
			t.Fatalf("hit: %q %v", v, err)
		}
		<-started // the refresh has read its version and is loading
		if err := n.Invalidate(ctx, "1"); err != nil {
			t.Fatal(err)
		}
		close(release)
		cache.WaitRefreshes(f.cache)
		if v, err := n.Get(ctx, "1", func(context.Context) ([]byte, error) { return []byte("new"), nil }); err != nil || string(v) != "new" {
			t.Fatalf("read after the write: %q %v; the refresh put back what it read before", v, err)
		}
	})
}

// A loader that panics in a refresh is logged; the process goes on.
func TestRefreshSurvivesAPanickingLoader(t *testing.T) {
	f, clk, n := refreshFixture(t, func(t testing.TB, o cache.Options) *fixture { return newFixture(t, redisAddr, o) })
	ctx := context.Background()
	if _, err := n.Get(ctx, "1", func(context.Context) ([]byte, error) { return []byte("v"), nil }); err != nil {
		t.Fatal(err)
	}
	clk.advance(52 * time.Minute)
	var ran atomic.Bool
	if v, err := n.Get(ctx, "1", func(context.Context) ([]byte, error) { ran.Store(true); panic("boom") }); err != nil || string(v) != "v" {
		t.Fatalf("hit: %q %v", v, err)
	}
	cache.WaitRefreshes(f.cache)
	if !ran.Load() {
		t.Fatal("no refresh ran the loader")
	}
	// And the next refresh of the key still runs.
	l := &countingLoader{body: []byte("v2")}
	if _, err := n.Get(ctx, "1", l.load); err != nil {
		t.Fatal(err)
	}
	cache.WaitRefreshes(f.cache)
	if l.n() != 1 {
		t.Fatalf("after a panicking refresh, the next one loaded %d times", l.n())
	}
}

// Off (negative), values are stored bare and a hit never reloads.
func TestRefreshAheadOff(t *testing.T) {
	f := newFixture(t, redisAddr, cache.Options{Enabled: true, TTL: time.Hour, RefreshAhead: -1})
	n := f.cache.Named("c")
	ctx := context.Background()
	l := &countingLoader{body: []byte("v")}
	for range 3 {
		if _, err := n.Get(ctx, "1", l.load); err != nil {
			t.Fatal(err)
		}
	}
	cache.WaitRefreshes(f.cache)
	if l.n() != 1 {
		t.Fatalf("%d loads, want 1", l.n())
	}
	if raw, _ := f.rdb.Get(ctx, f.valueKey("c", "1")).Result(); raw != "vv" {
		t.Fatalf("stored %q, want the bare value", raw)
	}
}

// Close may run while reads still arrive (a server whose drain timed out):
// it waits for the refreshes under way, and no read starts one after it, as
// the Redis client and the database are closed next. Under -race, a refresh
// counted in while Close waits is reported; after Close, due values are
// answered as they are, with no reload.
func TestCloseWhileReadsFindValuesDue(t *testing.T) {
	ctx := context.Background()
	f, clk, n := refreshFixture(t, func(t testing.TB, o cache.Options) *fixture { return newFixture(t, redisAddr, o) })
	var loads atomic.Int32
	load := func(context.Context) ([]byte, error) {
		loads.Add(1)
		time.Sleep(time.Millisecond)
		return []byte("v"), nil
	}
	const keys = 400
	for i := range keys {
		if _, err := n.Get(ctx, strconv.Itoa(i), load); err != nil {
			t.Fatal(err)
		}
	}
	clk.advance(55 * time.Minute) // every value due, none expired
	var readers sync.WaitGroup
	stop := make(chan struct{})
	for r := range 4 {
		readers.Go(func() {
			for i := r; ; i = (i + 4) % keys {
				select {
				case <-stop:
					return
				default:
				}
				if v, err := n.Get(ctx, strconv.Itoa(i), load); err != nil || string(v) != "v" {
					t.Errorf("read during Close: %q %v", v, err)
					return
				}
			}
		})
	}
	time.Sleep(10 * time.Millisecond)
	f.cache.Close()
	after := loads.Load()
	time.Sleep(10 * time.Millisecond) // the readers go on, past Close
	close(stop)
	readers.Wait()
	if got := loads.Load(); got != after {
		t.Fatalf("%d loads after Close returned, want none", got-after)
	}
	if after <= keys {
		t.Fatalf("no refresh ran before Close (%d loads for %d keys): the test did not test", after, keys)
	}
}
