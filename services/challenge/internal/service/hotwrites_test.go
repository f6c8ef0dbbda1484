package service_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"
)

// Many writes of one challenge at once, more than the database pool has
// connections: each is stored and answered 201, or refused whole with 503
// and Retry-After (too many waiting), never a 500 or a lost or doubled log;
// and the rest of the service still answers meanwhile.
func TestBurstOfWritesToOneChallenge(t *testing.T) {
	h := newHarness(t)
	owner, other := h.user(t, 7101), h.user(t, 7102)
	c := h.createChallenge(t, owner)
	path := "/challenges/" + strconv.FormatInt(c.Id, 10) + "/logs"

	const writers = 160 // the pool has 64 connections
	var (
		mu      sync.Mutex
		created = map[int64]bool{}
		refused int
		wg      sync.WaitGroup
	)
	start := make(chan struct{})
	for range writers {
		performedAt := nextPerformedAt().Format(time.RFC3339Nano)
		wg.Go(func() {
			<-start
			r, err := h.Try("POST", path, owner, map[string]any{"performedAt": performedAt, "sets": 1, "reps": 5, "value": 60})
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			switch r.Status {
			case http.StatusCreated:
				var l logJSON
				if err := json.Unmarshal(r.Body, &l); err != nil {
					t.Error(err)
					return
				}
				created[l.Id] = true
			case http.StatusServiceUnavailable:
				refused++
			default:
				t.Errorf("write: %d %s", r.Status, r.Body)
			}
		})
	}
	close(start)
	// Another user's read during the burst.
	if r := h.Do(t, "GET", "/challenges", other, nil); r.Status != http.StatusOK {
		t.Errorf("another user's read during the burst: %d %s", r.Status, r.Body)
	}
	wg.Wait()
	if len(created)+refused != writers || len(created) == 0 {
		t.Fatalf("%d created, %d refused of %d writes", len(created), refused, writers)
	}

	stored := map[int64]bool{}
	for cursor := ""; ; {
		q := url.Values{"limit": {"100"}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		r := h.Do(t, "GET", path+"?"+q.Encode(), owner, nil)
		if r.Status != http.StatusOK {
			t.Fatalf("read logs: %d %s", r.Status, r.Body)
		}
		var page logList
		r.Decode(t, &page)
		for _, l := range page.Items {
			stored[l.Id] = true
		}
		if page.NextCursor == nil {
			break
		}
		cursor = *page.NextCursor
	}
	if len(stored) != len(created) {
		t.Errorf("%d logs stored, %d answered 201", len(stored), len(created))
	}
	for id := range created {
		if !stored[id] {
			t.Errorf("log %d answered 201 but is not stored", id)
		}
	}
	t.Logf("%d created, %d refused as busy", len(created), refused)
}

// Another user's writes of a challenge are refused before they queue for
// its lock, so a stream of them cannot take the places of the owner's
// writes (beyond 64 waiting, a write is answered 503). An admin's still
// queue, as the owner's do. The owner, who never changes, is read from
// MySQL once (by the owner's first write), not once a write.
func TestForeignWritesDoNotQueueForTheLock(t *testing.T) {
	h := newHarness(t)
	owner, stranger := h.user(t, 7111), h.user(t, 7112)
	c := h.createChallenge(t, owner)
	base := "/challenges/" + strconv.FormatInt(c.Id, 10)
	log := h.logWorkout(t, owner, c.Id, 60)
	logPath := base + "/logs/" + strconv.FormatInt(log.Id, 10)
	before, reads := h.repo.lockedWrites.Load(), h.repo.challengeRead.Load()
	for _, w := range []struct {
		method, path string
		body         any
	}{
		{"POST", base + "/logs", map[string]any{"sets": 1, "reps": 5, "value": 60}},
		{"PATCH", logPath, map[string]any{"value": 62.5}},
		{"DELETE", logPath, nil},
		{"PATCH", base, map[string]any{"title": "mine now"}},
		{"DELETE", base, nil},
	} {
		h.Do(t, w.method, w.path, stranger, w.body).Expect(t, http.StatusForbidden)
	}
	if n := h.repo.lockedWrites.Load() - before; n != 0 {
		t.Fatalf("%d refused writes queued for the challenge's lock, want none", n)
	}
	h.Do(t, "PATCH", logPath, h.admin(t, 7119), map[string]any{"value": 62.5}).Expect(t, http.StatusOK)
	h.logWorkout(t, owner, c.Id, 65)
	if n := h.repo.lockedWrites.Load() - before; n != 2 {
		t.Fatalf("%d writes by the admin and the owner went through the lock, want 2", n)
	}
	if n := h.repo.challengeRead.Load() - reads; n != 0 {
		t.Fatalf("seven writes read the challenge's owner %d times again, want none", n)
	}
}
