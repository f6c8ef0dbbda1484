package service_test

import (
	"context"
	"testing"

	"github.com/progressive-overload/po/services/kit/redisclient/redistest"
)

// With REDIS_URL naming a Redis Cluster, the service caches a read and drops
// it on a write just as on one server: the cached body lands on the cluster,
// and the write's invalidation (a script over the value and version keys)
// is accepted there.
func TestCacheOnRedisCluster(t *testing.T) {
	cl := redistest.StartCluster(t) // stopped after the service (cleanups run last first)
	h := newHarness(t, withRedisURL(cl.URL()))
	rdb := cl.Client(t)
	ctx := context.Background()
	const uid = 261
	cached := func() bool {
		n, err := rdb.Exists(ctx, h.userLogsKey(uid)).Result()
		if err != nil {
			t.Fatal(err)
		}
		return n == 1
	}
	tok := h.user(t, uid)
	c := h.createChallenge(t, tok)
	first := h.logWorkout(t, tok, c.Id, 60)

	misses, hits := h.cacheCount(t, "user-logs", "miss"), h.cacheCount(t, "user-logs", "hit")
	for range 2 {
		var page logList
		h.Do(t, "GET", userLogsPath(uid), tok, nil).Decode(t, &page)
		if len(page.Items) != 1 || page.Items[0].Id != first.Id {
			t.Fatalf("logs %+v, want the one log", page.Items)
		}
	}
	if m, hi := h.cacheCount(t, "user-logs", "miss")-misses, h.cacheCount(t, "user-logs", "hit")-hits; m != 1 || hi != 1 {
		t.Fatalf("%v misses and %v hits, want a miss then a hit", m, hi)
	}
	if !cached() {
		t.Fatalf("%s is not on the cluster", h.userLogsKey(uid))
	}

	second := h.logWorkout(t, tok, c.Id, 62.5) // commits, then invalidates
	if cached() {
		t.Fatal("the write did not drop the cached page from the cluster")
	}
	var page logList
	h.Do(t, "GET", userLogsPath(uid), tok, nil).Decode(t, &page)
	if len(page.Items) != 2 || page.Items[0].Id != second.Id {
		t.Fatalf("read after the write: %+v", page.Items)
	}
	if e := h.cacheCount(t, "user-logs", "error"); e != 0 {
		t.Fatalf("%v cache errors on the cluster", e)
	}
}
