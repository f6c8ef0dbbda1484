package cache_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/progressive-overload/po/services/kit/cache"
	"github.com/progressive-overload/po/services/kit/testkit"
	"github.com/progressive-overload/po/services/kit/testkit/netproxy"
)

func TestMissThenHit(t *testing.T) {
	onEachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		ttl, jitter := time.Hour, 0.1
		f := b.fixture(t, cache.Options{Enabled: true, TTL: ttl, Jitter: jitter})
		n := f.cache.Named("challenge")
		l := &countingLoader{body: []byte(`{"id":42,"name":"squat"}`)}

		first, err := n.Get(ctx, "42", l.load)
		if err != nil {
			t.Fatal(err)
		}
		second, err := n.Get(ctx, "42", l.load)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(first, l.body) || !bytes.Equal(second, l.body) {
			t.Fatalf("got %q then %q, want %q twice", first, second, l.body)
		}
		if l.n() != 1 {
			t.Fatalf("loader called %d times, want 1", l.n())
		}
		f.assertCounts(t, "challenge", 1, 1, 0)

		key := f.valueKey("challenge", "42")
		raw, err := f.rdb.Get(ctx, key).Result()
		if err != nil {
			t.Fatalf("value not in Redis under %s: %v", key, err)
		}
		if stored(raw) != string(l.body) {
			t.Fatalf("stored %q", raw)
		}
		pttl, err := f.rdb.PTTL(ctx, key).Result()
		if err != nil {
			t.Fatal(err)
		}
		// The lower bound allows a minute for the test itself to run.
		lo, hi := time.Duration(float64(ttl)*(1-jitter))-time.Minute, time.Duration(float64(ttl)*(1+jitter))
		if pttl < lo || pttl > hi {
			t.Fatalf("PTTL %v outside [%v, %v]", pttl, lo, hi)
		}
	})
}

func TestJitterSpreadsExpiries(t *testing.T) {
	onEachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		const ttl = time.Hour
		f := b.fixture(t, cache.Options{Enabled: true, TTL: ttl, Jitter: 0.1})
		n := f.cache.Named("c")
		var lo, hi time.Duration
		for i := range 50 {
			k := strconv.Itoa(i)
			if _, err := n.Get(ctx, k, func(context.Context) ([]byte, error) { return []byte("x"), nil }); err != nil {
				t.Fatal(err)
			}
			pttl, err := f.rdb.PTTL(ctx, f.valueKey("c", k)).Result()
			if err != nil {
				t.Fatal(err)
			}
			if i == 0 || pttl < lo {
				lo = pttl
			}
			if pttl > hi {
				hi = pttl
			}
		}
		// 50 draws over ±6 minutes all landing within one minute of each other has a
		// probability below 1e-50; without jitter they would be milliseconds apart.
		if hi-lo < time.Minute {
			t.Fatalf("expiries span only %v (from %v to %v)", hi-lo, lo, hi)
		}
	})
}

func TestSingleflight(t *testing.T) {
	onEachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		f := b.fixture(t, cache.Options{Enabled: true})
		n := f.cache.Named("c")
		const readers = 100
		var joined atomic.Int32
		allJoined := make(chan struct{})
		cache.SetOnJoin(f.cache, func() {
			if joined.Add(1) == readers {
				close(allJoined)
			}
		})
		var calls atomic.Int32
		body := []byte("shared")
		load := func(context.Context) ([]byte, error) {
			calls.Add(1)
			<-allJoined
			return body, nil
		}

		var wg sync.WaitGroup
		results := make([][]byte, readers)
		errs := make([]error, readers)
		for i := range readers {
			wg.Go(func() { results[i], errs[i] = n.Get(ctx, "hot", load) })
		}
		wg.Wait()

		if got := calls.Load(); got != 1 {
			t.Fatalf("loader called %d times, want 1", got)
		}
		for i := range readers {
			if errs[i] != nil || !bytes.Equal(results[i], body) {
				t.Fatalf("reader %d: %q, %v", i, results[i], errs[i])
			}
		}
		f.assertCounts(t, "c", 0, readers, 0)
	})
}

// A reader misses and loads the old row; a writer commits and invalidates; the
// reader's load then finishes. Its old value must not land in the cache.
func TestNoStaleFill(t *testing.T) {
	onEachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		ttl, jitter := time.Hour, 0.1
		f := b.fixture(t, cache.Options{Enabled: true, TTL: ttl, Jitter: jitter})
		n := f.cache.Named("c")
		var source atomic.Value
		source.Store("v0")
		loadSource := func(context.Context) ([]byte, error) { return []byte(source.Load().(string)), nil }

		// Twice: first with no version key yet, then with the one the first round created.
		for round := 1; round <= 2; round++ {
			if round == 2 {
				// The value expires; the version key from round 1 stays behind.
				if err := f.rdb.Del(ctx, f.valueKey("c", "k")).Err(); err != nil {
					t.Fatal(err)
				}
			}
			old := source.Load().(string)
			loading, release := make(chan struct{}), make(chan struct{})
			type res struct {
				b   []byte
				err error
			}
			done := make(chan res, 1)
			go func() {
				b, err := n.Get(ctx, "k", func(context.Context) ([]byte, error) {
					v := source.Load().(string)
					close(loading)
					<-release
					return []byte(v), nil
				})
				done <- res{b, err}
			}()
			select {
			case <-loading:
			case r := <-done: // a hit: the value from before did not go away
				t.Fatalf("round %d: read answered %q, %v without loading", round, r.b, r.err)
			}
			newer := fmt.Sprintf("v%d", round)
			source.Store(newer) // the writer's commit
			if err := n.Invalidate(ctx, "k"); err != nil {
				t.Fatal(err)
			}
			close(release)
			r := <-done
			if r.err != nil || string(r.b) != old {
				t.Fatalf("round %d: racing reader got %q, %v; want %q (it read before the write)", round, r.b, r.err, old)
			}
			if n, err := f.rdb.Exists(ctx, f.valueKey("c", "k")).Result(); err != nil || n != 0 {
				raw, _ := f.rdb.Get(ctx, f.valueKey("c", "k")).Result()
				t.Fatalf("round %d: stale value stored: %q (exists=%d, %v)", round, raw, n, err)
			}
			got, err := n.Get(ctx, "k", loadSource)
			if err != nil || string(got) != newer {
				t.Fatalf("round %d: next read got %q, %v; want %q", round, got, err, newer)
			}
			// And that one was stored: the version check does not refuse honest fills.
			got, err = n.Get(ctx, "k", func(context.Context) ([]byte, error) { return nil, errBoom })
			if err != nil || string(got) != newer {
				t.Fatalf("round %d: cached read got %q, %v; want %q", round, got, err, newer)
			}
		}
		f.assertCounts(t, "c", 2, 4, 0)

		pttl, err := f.rdb.PTTL(ctx, f.valueKey("c", "k")+":v").Result()
		if err != nil {
			t.Fatal(err)
		}
		if maxValueTTL := time.Duration(float64(ttl) * (1 + jitter)); pttl <= maxValueTTL {
			t.Fatalf("version PTTL %v does not outlive values (up to %v)", pttl, maxValueTTL)
		}
	})
}

// A read that starts after Invalidate returned must see the write, even while a
// load that started before the write is still running for the same key.
func TestReadAfterInvalidateDoesNotJoinOlderLoad(t *testing.T) {
	onEachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		f := b.fixture(t, cache.Options{Enabled: true})
		n := f.cache.Named("c")
		var joins atomic.Int32
		secondJoined := make(chan struct{})
		cache.SetOnJoin(f.cache, func() {
			if joins.Add(1) == 2 {
				close(secondJoined)
			}
		})
		var source atomic.Value
		source.Store("old")
		loading, release := make(chan struct{}), make(chan struct{})
		firstDone := make(chan []byte, 1)
		go func() {
			b, err := n.Get(ctx, "k", func(context.Context) ([]byte, error) {
				v := source.Load().(string)
				close(loading)
				<-release
				return []byte(v), nil
			})
			if err != nil {
				t.Error(err)
			}
			firstDone <- b
		}()
		<-loading
		source.Store("new")
		if err := n.Invalidate(ctx, "k"); err != nil {
			t.Fatal(err)
		}

		secondDone := make(chan []byte, 1)
		go func() {
			b, err := n.Get(ctx, "k", func(context.Context) ([]byte, error) { return []byte(source.Load().(string)), nil })
			if err != nil {
				t.Error(err)
			}
			secondDone <- b
		}()
		// Once the second reader has picked its shared load, let the first one finish:
		// had it joined the first load, it now receives "old".
		<-secondJoined
		close(release)
		if b := <-secondDone; string(b) != "new" {
			t.Fatalf("read after the write got %q, want \"new\"", b)
		}
		if b := <-firstDone; string(b) != "old" {
			t.Fatalf("read before the write got %q, want \"old\"", b)
		}
		if raw, err := f.rdb.Get(ctx, f.valueKey("c", "k")).Result(); err != nil || stored(raw) != "new" {
			t.Fatalf("cached %q, %v; want the new value", raw, err)
		}
	})
}

func TestInvalidateRemovesValue(t *testing.T) {
	onEachBackend(t, func(t *testing.T, be backend) {
		ctx := context.Background()
		f := be.fixture(t, cache.Options{Enabled: true})
		a, b := f.cache.Named("a"), f.cache.Named("b")
		la, lb := &countingLoader{body: []byte("A")}, &countingLoader{body: []byte("B")}
		for range 2 {
			if _, err := a.Get(ctx, "1", la.load); err != nil {
				t.Fatal(err)
			}
			if _, err := b.Get(ctx, "1", lb.load); err != nil {
				t.Fatal(err)
			}
		}
		// One call across views, as a service does after a commit touching both.
		if err := f.cache.Invalidate(ctx, a.Key("1"), b.Key("1")); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{f.valueKey("a", "1"), f.valueKey("b", "1")} {
			if n, err := f.rdb.Exists(ctx, k).Result(); err != nil || n != 0 {
				t.Fatalf("%s still exists (%d, %v)", k, n, err)
			}
		}
		if _, err := a.Get(ctx, "1", la.load); err != nil {
			t.Fatal(err)
		}
		if _, err := b.Get(ctx, "1", lb.load); err != nil {
			t.Fatal(err)
		}
		if la.n() != 2 || lb.n() != 2 {
			t.Fatalf("loaders called %d and %d times, want 2 each", la.n(), lb.n())
		}
	})
}

// One Invalidate of keys that live in many slots (on a cluster, on every
// master): the pipeline reaches each key's node, and every key is dropped.
func TestInvalidateManyKeys(t *testing.T) {
	onEachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		f := b.fixture(t, cache.Options{Enabled: true})
		n := f.cache.Named("c")
		l := &countingLoader{body: []byte("x")}
		const count = 30
		var ks []cache.Key
		masters := map[string]bool{}
		for i := range count {
			k := strconv.Itoa(i)
			if _, err := n.Get(ctx, k, l.load); err != nil {
				t.Fatal(err)
			}
			ks = append(ks, n.Key(k))
			if cc, ok := f.rdb.(*redis.ClusterClient); ok {
				m, err := cc.MasterForKey(ctx, f.valueKey("c", k))
				if err != nil {
					t.Fatal(err)
				}
				masters[m.Options().Addr] = true
			}
		}
		if b.name == "cluster" && len(masters) < 2 {
			t.Fatalf("%d keys on %d master(s): the test would not cross nodes", count, len(masters))
		}
		if got := len(f.keys(t)); got != count {
			t.Fatalf("%d keys in Redis, want the %d values (versions appear with the first write)", got, count)
		}
		if err := f.cache.Invalidate(ctx, ks...); err != nil {
			t.Fatal(err)
		}
		for i := range count {
			if c, err := f.rdb.Exists(ctx, f.valueKey("c", strconv.Itoa(i))).Result(); err != nil || c != 0 {
				t.Fatalf("key %d still cached (%d, %v)", i, c, err)
			}
			if v, err := f.rdb.Get(ctx, f.valueKey("c", strconv.Itoa(i))+":v").Result(); err != nil || v != "1" {
				t.Fatalf("key %d: version %q, %v; want 1", i, v, err)
			}
		}
		for i := range count {
			if _, err := n.Get(ctx, strconv.Itoa(i), l.load); err != nil {
				t.Fatal(err)
			}
		}
		if l.n() != 2*count {
			t.Fatalf("loader called %d times, want %d", l.n(), 2*count)
		}
	})
}

// A cancelled request context must not skip the invalidation: the write committed.
func TestInvalidateIgnoresCancellation(t *testing.T) {
	onEachBackend(t, func(t *testing.T, b backend) {
		f := b.fixture(t, cache.Options{Enabled: true})
		n := f.cache.Named("c")
		if _, err := n.Get(context.Background(), "1", func(context.Context) ([]byte, error) { return []byte("x"), nil }); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := n.Invalidate(ctx, "1"); err != nil {
			t.Fatal(err)
		}
		if c, err := f.rdb.Exists(context.Background(), f.valueKey("c", "1")).Result(); err != nil || c != 0 {
			t.Fatalf("value still cached (%d, %v)", c, err)
		}
	})
}

func TestNegativeCaching(t *testing.T) {
	onEachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		const negTTL = 300 * time.Millisecond
		f := b.fixture(t, cache.Options{Enabled: true, NegativeTTL: negTTL, Jitter: -1})
		n := f.cache.Named("c")
		l := &countingLoader{err: fmt.Errorf("challenge 7: %w", cache.ErrNotFound)}

		for range 3 {
			if _, err := n.Get(ctx, "7", l.load); err != cache.ErrNotFound {
				t.Fatalf("err %v, want cache.ErrNotFound", err)
			}
		}
		if l.n() != 1 {
			t.Fatalf("loader called %d times, want 1", l.n())
		}
		f.assertCounts(t, "c", 2, 1, 0)
		key := f.valueKey("c", "7")
		if raw, err := f.rdb.Get(ctx, key).Result(); err != nil || raw != "n" {
			t.Fatalf("placeholder %q, %v", raw, err)
		}
		if pttl, err := f.rdb.PTTL(ctx, key).Result(); err != nil || pttl <= 0 || pttl > negTTL {
			t.Fatalf("placeholder PTTL %v, %v; want in (0, %v]", pttl, err, negTTL)
		}

		// Invalidate: the thing was just created.
		if err := n.Invalidate(ctx, "7"); err != nil {
			t.Fatal(err)
		}
		if _, err := n.Get(ctx, "7", l.load); err != cache.ErrNotFound {
			t.Fatal(err)
		}
		if l.n() != 2 {
			t.Fatalf("after invalidate: loader called %d times, want 2", l.n())
		}

		// Expiry: once Redis drops the placeholder, the loader is asked again.
		testkit.Eventually(t, "placeholder expiry", func() bool {
			c, err := f.rdb.Exists(ctx, key).Result()
			return err == nil && c == 0
		})
		if _, err := n.Get(ctx, "7", l.load); err != cache.ErrNotFound {
			t.Fatal(err)
		}
		if l.n() != 3 {
			t.Fatalf("after expiry: loader called %d times, want 3", l.n())
		}
	})
}

func TestLoaderErrorIsNotCached(t *testing.T) {
	onEachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		f := b.fixture(t, cache.Options{Enabled: true})
		n := f.cache.Named("c")
		l := &countingLoader{err: errBoom}
		for range 2 {
			if _, err := n.Get(ctx, "1", l.load); !errors.Is(err, errBoom) {
				t.Fatalf("err %v, want errBoom", err)
			}
		}
		if l.n() != 2 {
			t.Fatalf("loader called %d times, want 2", l.n())
		}
		if c, err := f.rdb.Exists(ctx, f.valueKey("c", "1")).Result(); err != nil || c != 0 {
			t.Fatalf("error was cached (%d, %v)", c, err)
		}
	})
}

func TestDisabledAlwaysLoads(t *testing.T) {
	onEachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		f := b.fixture(t, cache.Options{Enabled: false})
		n := f.cache.Named("c")
		l := &countingLoader{body: []byte("x")}
		for range 3 {
			b, err := n.Get(ctx, "1", l.load)
			if err != nil || string(b) != "x" {
				t.Fatalf("%q, %v", b, err)
			}
		}
		if l.n() != 3 {
			t.Fatalf("loader called %d times, want 3", l.n())
		}
		f.assertCounts(t, "c", 0, 3, 0)
		nf := &countingLoader{err: cache.ErrNotFound}
		if _, err := n.Get(ctx, "2", nf.load); err != cache.ErrNotFound {
			t.Fatalf("err %v", err)
		}
		if err := n.Invalidate(ctx, "1"); err != nil {
			t.Fatal(err)
		}
		if keys := f.keys(t); len(keys) != 0 {
			t.Fatalf("disabled cache wrote %v", keys)
		}
	})
}

// outageTimeout is short because go-redis retries a refused dial with backoff until
// the context ends, so every read during an outage costs the whole Timeout (until
// the breaker opens); long enough that a healthy call on a busy machine still fits.
const outageTimeout = 250 * time.Millisecond

func TestRedisUnreachable(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, closedAddr(t), cache.Options{Enabled: true, Timeout: outageTimeout})
	n := f.cache.Named("c")
	l := &countingLoader{body: []byte("from db")}
	const reads = 8 // past the breaker threshold: skipped calls count as errors too
	for range reads {
		b, err := n.Get(ctx, "1", l.load)
		if err != nil || string(b) != "from db" {
			t.Fatalf("%q, %v", b, err)
		}
	}
	if l.n() != reads {
		t.Fatalf("loader called %d times, want %d", l.n(), reads)
	}
	nf := &countingLoader{err: cache.ErrNotFound}
	if _, err := n.Get(ctx, "2", nf.load); err != cache.ErrNotFound {
		t.Fatalf("err %v", err)
	}
	f.assertCounts(t, "c", 0, 0, reads+1)

	err := n.Invalidate(ctx, "1")
	if err == nil {
		t.Fatal("Invalidate reported success with Redis unreachable")
	}
	if got := cache.PendingInvalidations(f.cache); got != 1 {
		t.Fatalf("%d invalidations queued for retry, want 1", got)
	}
}

// A Redis that accepts connections and never answers must cost a read its Timeout,
// not an error and not a hang.
func TestRedisStuck(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, blackhole(t), cache.Options{Enabled: true, Timeout: 20 * time.Millisecond})
	n := f.cache.Named("c")
	l := &countingLoader{body: []byte("from db")}
	for range 3 {
		b, err := n.Get(ctx, "1", l.load)
		if err != nil || string(b) != "from db" {
			t.Fatalf("%q, %v", b, err)
		}
	}
	f.assertCounts(t, "c", 0, 0, 3)
}

func TestRecoversAfterOutage(t *testing.T) {
	ctx := context.Background()
	p := netproxy.Start(t, redisAddr)
	f := newFixture(t, p.Addr(), cache.Options{Enabled: true, Timeout: outageTimeout})
	n := f.cache.Named("c")
	l := &countingLoader{body: []byte("v")}
	for range 2 {
		if _, err := n.Get(ctx, "1", l.load); err != nil {
			t.Fatal(err)
		}
	}
	f.assertCounts(t, "c", 1, 1, 0)

	p.Cut()
	for i := range 10 {
		b, err := n.Get(ctx, "1", l.load)
		if err != nil || string(b) != "v" {
			t.Fatalf("read %d during outage: %q, %v", i, b, err)
		}
	}
	if got := f.count(t, "c", "error"); got != 10 {
		t.Fatalf("%d errors counted during outage, want 10", got)
	}
	if l.n() != 11 {
		t.Fatalf("loader called %d times, want 11", l.n())
	}

	p.Restore(t)
	testkit.Eventually(t, "a hit after Redis came back", func() bool {
		hits := f.count(t, "c", "hit")
		b, err := n.Get(ctx, "1", l.load)
		if err != nil || string(b) != "v" {
			t.Fatalf("%q, %v", b, err)
		}
		return f.count(t, "c", "hit") > hits
	})
}

// While Redis is unreachable a write's invalidation fails; the value cached before
// the outage is still in Redis. Once Redis is back the retry must remove it, so the
// old value is not served for the rest of its TTL.
func TestInvalidationRetriedAfterOutage(t *testing.T) {
	ctx := context.Background()
	p := netproxy.Start(t, redisAddr)
	f := newFixture(t, p.Addr(), cache.Options{Enabled: true, Timeout: outageTimeout, TTL: time.Hour})
	n := f.cache.Named("c")
	var source atomic.Value
	source.Store("old")
	load := func(context.Context) ([]byte, error) { return []byte(source.Load().(string)), nil }
	if _, err := n.Get(ctx, "1", load); err != nil {
		t.Fatal(err)
	}

	p.Cut()
	source.Store("new")
	if err := n.Invalidate(ctx, "1"); err == nil {
		t.Fatal("Invalidate reported success through a closed proxy")
	}
	if raw, err := f.rdb.Get(ctx, f.valueKey("c", "1")).Result(); err != nil || stored(raw) != "old" {
		t.Fatalf("precondition: old value should still be in Redis: %q, %v", raw, err)
	}

	p.Restore(t)
	testkit.Eventually(t, "the retried invalidation", func() bool { return cache.PendingInvalidations(f.cache) == 0 })
	if c, err := f.rdb.Exists(ctx, f.valueKey("c", "1")).Result(); err != nil || c != 0 {
		t.Fatalf("old value still cached (%d, %v)", c, err)
	}
	testkit.Eventually(t, "reads through Redis again", func() bool {
		b, err := n.Get(ctx, "1", load)
		if err != nil || string(b) != "new" {
			t.Fatalf("%q, %v", b, err)
		}
		return f.count(t, "c", "hit") > 0
	})
}

// The shared load runs on the context of the reader that started it. If that reader
// goes away, the others still get an answer.
func TestSharedLoadSurvivesFirstReaderLeaving(t *testing.T) {
	onEachBackend(t, func(t *testing.T, b backend) {
		f := b.fixture(t, cache.Options{Enabled: true})
		n := f.cache.Named("c")
		var joined atomic.Int32
		bothJoined := make(chan struct{})
		cache.SetOnJoin(f.cache, func() {
			if joined.Add(1) == 2 {
				close(bothJoined)
			}
		})
		started := make(chan struct{})
		var calls atomic.Int32
		load := func(ctx context.Context) ([]byte, error) {
			if calls.Add(1) == 1 {
				close(started)
				<-ctx.Done()
				return nil, ctx.Err()
			}
			return []byte("answer"), nil
		}

		firstCtx, cancelFirst := context.WithCancel(context.Background())
		firstDone := make(chan error, 1)
		go func() {
			_, err := n.Get(firstCtx, "1", load)
			firstDone <- err
		}()
		<-started
		secondDone := make(chan []byte, 1)
		go func() {
			b, err := n.Get(context.Background(), "1", load)
			if err != nil {
				t.Error(err)
			}
			secondDone <- b
		}()
		<-bothJoined
		cancelFirst()
		if err := <-firstDone; !errors.Is(err, context.Canceled) {
			t.Fatalf("first reader: %v, want context.Canceled", err)
		}
		if b := <-secondDone; string(b) != "answer" {
			t.Fatalf("second reader got %q", b)
		}
	})
}

func TestLoaderPanicReachesCaller(t *testing.T) {
	onEachBackend(t, func(t *testing.T, b backend) {
		f := b.fixture(t, cache.Options{Enabled: true})
		n := f.cache.Named("c")
		defer func() {
			r := recover()
			err, ok := r.(error)
			if !ok || !errors.Is(err, errBoom) {
				t.Fatalf("recovered %v, want a panic wrapping errBoom", r)
			}
		}()
		_, _ = n.Get(context.Background(), "1", func(context.Context) ([]byte, error) { panic(errBoom) })
		t.Fatal("Get returned after its loader panicked")
	})
}

func TestCachesShareARegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	rdb := newClient(t, redisAddr)
	a := cache.New(rdb, cache.Options{Service: "svc", Registerer: reg})
	b := cache.New(rdb, cache.Options{Service: "svc", Registerer: reg})
	defer a.Close()
	defer b.Close()
	ctx := context.Background()
	load := func(context.Context) ([]byte, error) { return nil, nil }
	_, _ = a.Named("x").Get(ctx, "1", load)
	_, _ = b.Named("x").Get(ctx, "1", load)
	f := &fixture{reg: reg}
	if got := f.count(t, "x", "miss"); got != 2 {
		t.Fatalf("misses %d, want 2 counted in one series", got)
	}
}

// With Redis down there is no version to tell an old load from a new one. A read
// that starts after a write must still not receive a load that began before it,
// while the readers that arrive during a load still share the next one.
func TestRedisDownReadAfterWriteDoesNotJoinOlderLoad(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, closedAddr(t), cache.Options{Enabled: true, Timeout: outageTimeout})
	n := f.cache.Named("c")
	const later = 10
	var joins atomic.Int32
	allJoined := make(chan struct{})
	cache.SetOnJoin(f.cache, func() {
		if joins.Add(1) == 1+later {
			close(allJoined)
		}
	})
	var source atomic.Value
	source.Store("old")
	var calls atomic.Int32
	loading, release := make(chan struct{}), make(chan struct{})
	load := func(context.Context) ([]byte, error) {
		v := source.Load().(string)
		if calls.Add(1) == 1 {
			close(loading)
			<-release
		}
		return []byte(v), nil
	}
	firstDone := make(chan []byte, 1)
	go func() {
		b, err := n.Get(ctx, "k", load)
		if err != nil {
			t.Error(err)
		}
		firstDone <- b
	}()
	<-loading
	source.Store("new") // the write commits while the first load is in flight

	var wg sync.WaitGroup
	results := make([][]byte, later)
	for i := range later {
		wg.Go(func() {
			b, err := n.Get(ctx, "k", load)
			if err != nil {
				t.Error(err)
			}
			results[i] = b
		})
	}
	<-allJoined
	close(release)
	wg.Wait()
	if b := <-firstDone; string(b) != "old" {
		t.Fatalf("read before the write got %q, want \"old\"", b)
	}
	for i, b := range results {
		if string(b) != "new" {
			t.Fatalf("read %d after the write got %q, want \"new\"", i, b)
		}
	}
	if got := calls.Load(); got != 2 {
		t.Fatalf("loader called %d times, want 2: the later readers share one load", got)
	}
}

// Under a Redis that answers reads but not the writer's invalidation in time
// (an overloaded one), the old value stays in Redis until the retry succeeds.
// Meanwhile this process's reads of the key must not serve it: the writer's
// next read sees its write.
func TestReadsOfAKeyWhoseInvalidationFailedSkipTheCache(t *testing.T) {
	for name, opts := range map[string]cache.Options{
		"redis only": {Enabled: true, TTL: time.Hour, InvalidateTimeout: time.Nanosecond},
		"near tier":  {Enabled: true, TTL: time.Hour, InvalidateTimeout: time.Nanosecond, NearSize: 1 << 20, NearTTL: time.Minute},
	} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			f := newFixture(t, redisAddr, opts)
			if opts.NearSize > 0 {
				testkit.Eventually(t, "the near tier to subscribe", func() bool { return cache.NearTrusted(f.cache) })
			}
			n := f.cache.Named("c")
			var source atomic.Value
			source.Store("old")
			load := func(context.Context) ([]byte, error) { return []byte(source.Load().(string)), nil }
			for range 2 { // a fill, then a hit (from the near tier when there is one)
				if b, err := n.Get(ctx, "1", load); err != nil || string(b) != "old" {
					t.Fatalf("%q, %v", b, err)
				}
			}

			source.Store("new")
			if err := n.Invalidate(ctx, "1"); err == nil {
				t.Fatal("Invalidate reported success within a nanosecond")
			}
			if raw, err := f.rdb.Get(ctx, f.valueKey("c", "1")).Result(); err != nil || stored(raw) != "old" {
				t.Fatalf("precondition: the old value should still be in Redis: %q, %v", raw, err)
			}
			if cache.PendingInvalidations(f.cache) != 1 {
				t.Fatalf("pending %d, want 1", cache.PendingInvalidations(f.cache))
			}
			for range 3 {
				if b, err := n.Get(ctx, "1", load); err != nil || string(b) != "new" {
					t.Fatalf("read after the failed invalidation: %q, %v; want new", b, err)
				}
			}
			// Other keys still use the cache.
			hits := f.count(t, "c", "hit")
			for range 2 {
				if _, err := n.Get(ctx, "2", load); err != nil {
					t.Fatal(err)
				}
			}
			if f.count(t, "c", "hit") != hits+1 {
				t.Fatalf("hits %v → %v: another key's second read should hit", hits, f.count(t, "c", "hit"))
			}
		})
	}
}
