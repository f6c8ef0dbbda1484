package service_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"sync"
	"testing"

	"github.com/progressive-overload/po/services/kit/testkit"
	"github.com/progressive-overload/po/services/kit/testkit/apitest"
	"github.com/progressive-overload/po/services/kit/testkit/netproxy"
)

// A read that began before a write and finishes after it must not put the
// old value back into the cache. The interleaving is forced, not hoped for:
// the read's database query has returned (with the old rows) and is held
// while a log is written and committed (which invalidates the key), then the
// read is let go to fill the cache.
func TestNoStaleFillAfterConcurrentWrite(t *testing.T) {
	h := newHarness(t)
	const uid = 201
	tok := h.user(t, uid)
	c := h.createChallenge(t, tok)
	old := h.logWorkout(t, tok, c.Id, 60)

	p := h.repo.pauseNextUserLogs()
	type result struct {
		r   apitest.Response
		err error
	}
	done := make(chan result, 1)
	go func() {
		r, err := h.Try("GET", userLogsPath(uid), tok, nil)
		done <- result{r, err}
	}()
	<-p.loaded // the read holds the page with only the old log

	fresh := h.logWorkout(t, tok, c.Id, 62.5) // commits, then invalidates the key
	close(p.release)
	res := <-done
	if res.err != nil {
		t.Fatal(res.err)
	}
	var stale logList
	res.r.Decode(t, &stale)
	if len(stale.Items) != 1 || stale.Items[0].Id != old.Id {
		t.Fatalf("the paused read should answer what it read before the write: %s", res.r.Body)
	}
	// The fill was refused: nothing cached, so the next read loads the new page.
	if h.keyExists(t, h.userLogsKey(uid)) {
		v, _ := h.rdb.Get(context.Background(), h.userLogsKey(uid)).Result()
		t.Fatalf("the racing read stored its stale page: %s", v)
	}
	misses := h.cacheCount(t, "user-logs", "miss")
	var page logList
	h.Do(t, "GET", userLogsPath(uid), tok, nil).Decode(t, &page)
	if len(page.Items) != 2 || page.Items[0].Id != fresh.Id {
		t.Fatalf("read after the race: %+v", page.Items)
	}
	if got := h.cacheCount(t, "user-logs", "miss"); got != misses+1 {
		t.Fatalf("the read after the race should be a miss (misses %v → %v)", misses, got)
	}
	// And that read's fill is stored, since nothing raced it.
	var again logList
	h.Do(t, "GET", userLogsPath(uid), tok, nil).Decode(t, &again)
	if len(again.Items) != 2 || h.cacheCount(t, "user-logs", "hit") != 1 {
		t.Fatalf("expected a hit with both logs: %+v, hits %v", again.Items, h.cacheCount(t, "user-logs", "hit"))
	}
}

// 100 concurrent misses on one key cost one database query.
func TestSingleflight(t *testing.T) {
	h := newHarness(t)
	const uid = 202
	tok := h.user(t, uid)
	c := h.createChallenge(t, tok)
	h.logWorkout(t, tok, c.Id, 60)

	// The first reader's query is held until all 100 readers wait on the
	// one flight, so none of them can find the value already cached.
	p := h.repo.pauseNextUserLogs()
	const n = 100
	bodies := make([][]byte, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			r, err := h.Try("GET", userLogsPath(uid), tok, nil)
			if err == nil && r.Status != http.StatusOK {
				err = io.ErrUnexpectedEOF
			}
			bodies[i], errs[i] = r.Body, err
		})
	}
	<-p.loaded
	waitForGoroutines(t, "kit/cache.(*Cache).load(", n)
	close(p.release)
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("reader %d: %v", i, errs[i])
		}
		if !bytes.Equal(bodies[i], bodies[0]) {
			t.Fatalf("reader %d got a different body", i)
		}
	}
	if q := h.repo.userLogs.Load(); q != 1 {
		t.Fatalf("%d concurrent misses made %d database queries, want 1", n, q)
	}
	if m := h.cacheCount(t, "user-logs", "miss"); m != n {
		t.Fatalf("misses %v, want %d", m, n)
	}
}

// With Redis unreachable (a closed port) reads answer from MySQL and writes
// succeed; when Redis is back the cache recovers by itself.
func TestRedisOutage(t *testing.T) {
	proxy := netproxy.Start(t, testkit.RedisAddr)
	h := newHarness(t, withRedisURL("redis://"+proxy.Addr()+"/0"))
	const uid = 203
	tok := h.user(t, uid)
	c := h.createChallenge(t, tok)
	h.logWorkout(t, tok, c.Id, 60)
	h.Do(t, "GET", userLogsPath(uid), tok, nil)
	h.Do(t, "GET", userLogsPath(uid), tok, nil)
	if h.cacheCount(t, "user-logs", "hit") != 1 {
		t.Fatal("no hit before the outage")
	}

	proxy.Cut()
	errs0 := h.cacheCount(t, "user-logs", "error")
	for range 3 {
		var page logList
		r := h.Do(t, "GET", userLogsPath(uid), tok, nil)
		if r.Status != http.StatusOK {
			t.Fatalf("read during the outage: %d %s", r.Status, r.Body)
		}
		r.Decode(t, &page)
		if len(page.Items) != 1 {
			t.Fatalf("read during the outage: %+v", page.Items)
		}
	}
	if h.cacheCount(t, "user-logs", "error") < errs0+3 {
		t.Fatalf("errors not counted: %v → %v", errs0, h.cacheCount(t, "user-logs", "error"))
	}
	// Writes still succeed, and reads see them (from MySQL).
	fresh := h.logWorkout(t, tok, c.Id, 62.5)
	var page logList
	h.Do(t, "GET", userLogsPath(uid), tok, nil).Decode(t, &page)
	if len(page.Items) != 2 || page.Items[0].Id != fresh.Id {
		t.Fatalf("read-after-write during the outage: %+v", page.Items)
	}
	if r := h.Do(t, "GET", "/readyz", "", nil); r.Status != http.StatusOK {
		t.Fatalf("/readyz during a Redis outage: %d %s (Redis must not make the pod unready)", r.Status, r.Body)
	}

	proxy.Restore(t)
	// Recovery needs no restart: the breaker lets a probe through after its
	// cooldown and the failed invalidation is retried. Wait for a hit that
	// holds the log written during the outage.
	testkit.Eventually(t, "a cache hit with the fresh page after Redis came back", func() bool {
		hits := h.cacheCount(t, "user-logs", "hit")
		var page logList
		h.Do(t, "GET", userLogsPath(uid), tok, nil).Decode(t, &page)
		return h.cacheCount(t, "user-logs", "hit") > hits && len(page.Items) == 2
	})
}

// CACHE_ENABLED=false: every read goes to MySQL and Redis is never touched.
func TestCacheDisabled(t *testing.T) {
	h := newHarness(t, withCacheDisabled())
	const uid = 204
	tok := h.user(t, uid)
	c := h.createChallenge(t, tok)
	h.logWorkout(t, tok, c.Id, 60)
	for range 3 {
		h.Do(t, "GET", userLogsPath(uid), tok, nil)
	}
	if q := h.repo.userLogs.Load(); q != 3 {
		t.Fatalf("%d queries for 3 reads with the cache off", q)
	}
	if h.keyExists(t, h.userLogsKey(uid)) || h.cacheCount(t, "user-logs", "hit") != 0 {
		t.Fatal("the disabled cache was used")
	}
}
