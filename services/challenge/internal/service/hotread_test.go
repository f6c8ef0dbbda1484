package service_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/progressive-overload/po/services/kit/testkit"
	"github.com/progressive-overload/po/services/kit/testkit/apitest"
	"github.com/progressive-overload/po/services/kit/testkit/netproxy"
)

// Every page size's first page is served from a cached entry: pages up to
// the default size from the default page's, larger ones from the largest
// page's. A page that follows a sliced page's cursor continues exactly
// after it, and a write is seen through both entries.
func TestEveryFirstPageIsCached(t *testing.T) {
	h := newHarness(t)
	const uid = 301
	tok := h.user(t, uid)
	c := h.createChallenge(t, tok)
	for i := range 25 {
		h.logWorkout(t, tok, c.Id, 60+float64(i))
	}
	var ten, full logList
	h.Do(t, "GET", userLogsPath(uid)+"?limit=10", tok, nil).Expect(t, http.StatusOK).Decode(t, &ten)
	misses := h.cacheCount(t, "user-logs", "miss")
	for _, q := range []string{"?limit=10", "", "?limit=1", "?limit=20"} {
		h.Do(t, "GET", userLogsPath(uid)+q, tok, nil).Expect(t, http.StatusOK)
	}
	if got := h.cacheCount(t, "user-logs", "miss"); got != misses {
		t.Fatalf("misses %v → %v over four page sizes up to the default: want them all answered by the cached default page", misses, got)
	}
	h.Do(t, "GET", userLogsPath(uid)+"?limit=21", tok, nil).Expect(t, http.StatusOK)
	for _, q := range []string{"?limit=50", "?limit=100", "?limit=21"} {
		h.Do(t, "GET", userLogsPath(uid)+q, tok, nil).Expect(t, http.StatusOK)
	}
	if got := h.cacheCount(t, "user-logs", "miss"); got != misses+1 {
		t.Fatalf("misses %v → %v over larger pages: want one, the largest page's first read", misses, got)
	}
	h.Do(t, "GET", userLogsPath(uid)+"?limit=100", tok, nil).Decode(t, &full)
	if len(ten.Items) != 10 || ten.NextCursor == nil || len(full.Items) != 25 || full.NextCursor != nil {
		t.Fatalf("limit=10: %d items, cursor %v; limit=100: %d items, cursor %v", len(ten.Items), ten.NextCursor, len(full.Items), full.NextCursor)
	}
	for i := range ten.Items {
		if ten.Items[i] != full.Items[i] {
			t.Fatalf("item %d differs between page sizes: %+v vs %+v", i, ten.Items[i], full.Items[i])
		}
	}
	var next logList
	h.Do(t, "GET", userLogsPath(uid)+"?limit=10&cursor="+url.QueryEscape(*ten.NextCursor), tok, nil).Expect(t, http.StatusOK).Decode(t, &next)
	if len(next.Items) != 10 || next.Items[0] != full.Items[10] || next.Items[9] != full.Items[19] {
		t.Fatalf("the page after a sliced page does not continue it: %+v", next.Items)
	}

	fresh := h.logWorkout(t, tok, c.Id, 99)
	var after logList
	h.Do(t, "GET", userLogsPath(uid)+"?limit=10", tok, nil).Decode(t, &after)
	if len(after.Items) != 10 || after.Items[0].Id != fresh.Id {
		t.Fatalf("the writer's next ?limit=10 read misses its write: %+v", after.Items[0])
	}
	h.Do(t, "GET", userLogsPath(uid)+"?limit=100", tok, nil).Decode(t, &after)
	if len(after.Items) != 26 || after.Items[0].Id != fresh.Id {
		t.Fatalf("the writer's next ?limit=100 read misses its write: %d items, first %+v", len(after.Items), after.Items[0])
	}
}

// With the near tier on, repeated reads are answered in process, and a
// write is still seen by the writer's very next read.
func TestNearTierKeepsReadAfterWrite(t *testing.T) {
	h := newHarness(t, withNearCache(1<<20))
	const uid = 302
	tok := h.user(t, uid)
	c := h.createChallenge(t, tok)
	h.logWorkout(t, tok, c.Id, 60)
	testkit.Eventually(t, "the near tier to subscribe", func() bool {
		h.Do(t, "GET", userLogsPath(uid), tok, nil).Expect(t, http.StatusOK)
		return apitest.Gather(t, h.reg).Value("cache_near_requests_total", "service", "challenge", "cache", "user-logs", "result", "hit") > 0
	})
	for i := range 5 {
		fresh := h.logWorkout(t, tok, c.Id, 61+float64(i))
		var page logList
		h.Do(t, "GET", userLogsPath(uid)+"?limit=5", tok, nil).Decode(t, &page)
		if page.Items[0].Id != fresh.Id {
			t.Fatalf("write %d: the next read answered %+v, not the new log", i, page.Items[0])
		}
	}
}

// A database that cannot be reached is a 503 with Retry-After, not a 500,
// and the service answers again once it is back.
func TestDatabaseOutageAnswers503(t *testing.T) {
	proxy := netproxy.Start(t, "127.0.0.1:3306")
	h := newHarness(t, withDatabaseVia(proxy.Addr()), withCacheDisabled())
	const uid = 303
	tok := h.user(t, uid)
	h.Do(t, "GET", "/challenges", tok, nil).Expect(t, http.StatusOK)

	proxy.Cut()
	for _, r := range []apitest.Response{
		h.Do(t, "GET", "/challenges", tok, nil),
		h.Do(t, "POST", "/challenges", tok, squatBody()),
	} {
		r.Expect(t, http.StatusServiceUnavailable)
		if r.Header.Get("Retry-After") != "1" {
			t.Errorf("503 without Retry-After: %v", r.Header)
		}
	}
	proxy.Restore(t)
	testkit.Eventually(t, "the service to answer again", func() bool {
		r, err := h.Try("GET", "/challenges", tok, nil)
		return err == nil && r.Status == http.StatusOK
	})
	var list struct{ Items []challengeJSON }
	h.Do(t, "GET", "/challenges", tok, nil).Decode(t, &list)
	if len(list.Items) != 0 {
		t.Fatalf("the refused creation left a challenge: %+v", list.Items)
	}
}
