package service_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"testing"
	"time"

	entchallenge "github.com/progressive-overload/po/ent/challenge/challenge"
	"github.com/progressive-overload/po/ent/challenge/outboxevent"
	"github.com/progressive-overload/po/services/kit/testkit"
)

// scrapedUserLogs reads the user-logs cache's count of result from /metrics,
// as Prometheus does.
func (h *harness) scrapedUserLogs(t testing.TB, result string) float64 {
	t.Helper()
	return h.Metrics(t).Value("cache_requests_total", "service", "challenge", "cache", "user-logs", "result", result)
}

// The original system's end-to-end scenario: delete the key, create a
// challenge and a log; the first GET is a miss, the second a hit with an
// identical body; the key exists in Redis; /metrics moved accordingly.
func TestUserLogsMissThenHit(t *testing.T) {
	h := newHarness(t)
	const uid = 101
	tok := h.user(t, uid)
	if err := h.rdb.Del(context.Background(), h.userLogsKey(uid)).Err(); err != nil {
		t.Fatal(err)
	}
	c := h.createChallenge(t, tok)
	l := h.logWorkout(t, tok, c.Id, 60)

	miss0, hit0 := h.scrapedUserLogs(t, "miss"), h.scrapedUserLogs(t, "hit")
	first := h.Do(t, "GET", userLogsPath(uid), tok, nil)
	if first.Status != http.StatusOK {
		t.Fatalf("first GET: %d %s", first.Status, first.Body)
	}
	if got := h.scrapedUserLogs(t, "miss"); got != miss0+1 {
		t.Fatalf("misses after the first GET: %v, want %v", got, miss0+1)
	}
	if !h.keyExists(t, h.userLogsKey(uid)) {
		t.Fatalf("key %s not in Redis after the miss", h.userLogsKey(uid))
	}
	second := h.Do(t, "GET", userLogsPath(uid), tok, nil)
	if second.Status != http.StatusOK {
		t.Fatalf("second GET: %d %s", second.Status, second.Body)
	}
	if got := h.scrapedUserLogs(t, "hit"); got != hit0+1 {
		t.Fatalf("hits after the second GET: %v, want %v", got, hit0+1)
	}
	if got := h.scrapedUserLogs(t, "miss"); got != miss0+1 {
		t.Fatalf("misses after the second GET: %v, want still %v", got, miss0+1)
	}
	if !bytes.Equal(first.Body, second.Body) {
		t.Fatalf("hit body differs from miss body:\n%s\n%s", first.Body, second.Body)
	}
	if ct := second.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("hit Content-Type %q", ct)
	}
	var page logList
	second.Decode(t, &page)
	if len(page.Items) != 1 || page.Items[0].Id != l.Id || page.Items[0].ChallengeId != c.Id || page.Items[0].UserId != uid {
		t.Fatalf("page: %+v, want the one log %+v", page, l)
	}
	if page.NextCursor != nil {
		t.Fatalf("nextCursor %q on the only page", *page.NextCursor)
	}
	if n := h.repo.userLogs.Load(); n != 1 {
		t.Fatalf("%d database reads for a miss and a hit, want 1", n)
	}
	// The HTTP metrics carry the route template, not the raw path.
	if got := h.Metrics(t).Value("http_requests_total", "service", "challenge", "route", "/challenges/logs/:userId", "method", "GET", "code", "200"); got != 2 {
		t.Fatalf("http_requests_total for the route: %v, want 2", got)
	}
}

// Read-after-write with the cache on: a log posted is in the very next GET.
func TestUserLogsReadAfterWrite(t *testing.T) {
	h := newHarness(t)
	const uid = 102
	tok := h.user(t, uid)
	c1 := h.createChallenge(t, tok)
	c2 := h.createChallenge(t, tok)
	var want []int64
	for i := range 6 {
		// Fill the cache, then write, then read.
		h.Do(t, "GET", userLogsPath(uid), tok, nil)
		h.Do(t, "GET", userLogsPath(uid), tok, nil)
		cid := c1.Id
		if i%2 == 1 {
			cid = c2.Id
		}
		l := h.logWorkout(t, tok, cid, 60+float64(i))
		want = append([]int64{l.Id}, want...)
		var page logList
		h.Do(t, "GET", userLogsPath(uid), tok, nil).Decode(t, &page)
		if len(page.Items) != len(want) {
			t.Fatalf("after log %d: %d items, want %d", i+1, len(page.Items), len(want))
		}
		for j, it := range page.Items {
			if it.Id != want[j] {
				t.Fatalf("after log %d: item %d is log %d, want %d (newest first)", i+1, j, it.Id, want[j])
			}
		}
	}
	if h.cacheCount(t, "user-logs", "hit") == 0 {
		t.Fatal("no cache hit at all: the test did not exercise the cache")
	}
}

// Keyset pagination walks every log exactly once, newest first.
func TestUserLogsPagination(t *testing.T) {
	h := newHarness(t)
	const uid = 103
	tok := h.user(t, uid)
	c := h.createChallenge(t, tok)
	const total = 45
	for i := range total {
		h.logWorkout(t, tok, c.Id, 60+float64(i%5))
	}
	seen := map[int64]bool{}
	var last time.Time
	path := userLogsPath(uid)
	pages := 0
	for {
		var page logList
		r := h.Do(t, "GET", path, tok, nil)
		if r.Status != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, r.Status, r.Body)
		}
		r.Decode(t, &page)
		pages++
		for _, it := range page.Items {
			if seen[it.Id] {
				t.Fatalf("log %d on two pages", it.Id)
			}
			seen[it.Id] = true
			if !last.IsZero() && it.PerformedAt.After(last) {
				t.Fatalf("log %d out of order", it.Id)
			}
			last = it.PerformedAt
		}
		if page.NextCursor == nil {
			break
		}
		path = userLogsPath(uid) + "?cursor=" + *page.NextCursor
	}
	if len(seen) != total || pages != 3 {
		t.Fatalf("%d logs over %d pages, want %d over 3 (default page 20)", len(seen), pages, total)
	}
	// Smaller pages through the per-challenge list.
	var page logList
	h.Do(t, "GET", "/challenges/"+strconv.FormatInt(c.Id, 10)+"/logs?limit=7", tok, nil).Decode(t, &page)
	if len(page.Items) != 7 || page.NextCursor == nil {
		t.Fatalf("limit 7: %d items, cursor %v", len(page.Items), page.NextCursor)
	}
}

type progressJSON struct {
	ChallengeID        int64    `json:"challengeId"`
	Status             string   `json:"status"`
	SessionsDone       int      `json:"sessionsDone"`
	SessionsPlanned    int      `json:"sessionsPlanned"`
	TargetsMet         int      `json:"targetsMet"`
	CurrentStreak      int      `json:"currentStreak"`
	EstimatedOneRepMax *float64 `json:"estimatedOneRepMax"`
	NextSession        *int     `json:"nextSession"`
	NextTarget         *float64 `json:"nextTarget"`
	Complete           bool     `json:"complete"`
	BestSet            *struct {
		Value float64 `json:"value"`
		Reps  int     `json:"reps"`
	} `json:"bestSet"`
}

func TestProgressCachedAndInvalidated(t *testing.T) {
	h := newHarness(t)
	const uid = 104
	tok := h.user(t, uid)
	c := h.createChallenge(t, tok)
	path := "/challenges/" + strconv.FormatInt(c.Id, 10) + "/progress"

	var p progressJSON
	h.Do(t, "GET", path, tok, nil).Decode(t, &p)
	if p.SessionsDone != 0 || p.SessionsPlanned != 24 || p.BestSet != nil || p.EstimatedOneRepMax != nil || *p.NextTarget != 60 {
		t.Fatalf("fresh progress: %+v", p)
	}
	h.Do(t, "GET", path, tok, nil)
	if h.cacheCount(t, "progress", "hit") != 1 || h.repo.progressLoads.Load() != 1 {
		t.Fatalf("second progress read: hits %v, loads %d", h.cacheCount(t, "progress", "hit"), h.repo.progressLoads.Load())
	}
	if !h.keyExists(t, h.progressKey(c.Id)) {
		t.Fatal("progress key missing")
	}

	// Two logs on one UTC day: one session whose value is the day's best.
	for i, v := range []float64{60, 62.5} {
		at := time.Date(2026, 2, 2, 10+i, 0, 0, 0, time.UTC)
		r := h.Do(t, "POST", "/challenges/"+strconv.FormatInt(c.Id, 10)+"/logs", tok,
			map[string]any{"performedAt": at.Format(time.RFC3339), "sets": 5, "reps": 5, "value": v})
		if r.Status != http.StatusCreated {
			t.Fatalf("log: %d %s", r.Status, r.Body)
		}
	}
	h.Do(t, "GET", path, tok, nil).Decode(t, &p)
	if p.SessionsDone != 1 || p.TargetsMet != 1 || p.BestSet == nil || p.BestSet.Value != 62.5 {
		t.Fatalf("progress after two logs the same day: %+v", p)
	}
	if p.EstimatedOneRepMax == nil || *p.EstimatedOneRepMax != 72.92 {
		t.Fatalf("estimated 1RM %v, want 62.5×(1+5/30)=72.92", p.EstimatedOneRepMax)
	}

	// Archiving changes the status the cached progress shows.
	h.Do(t, "PATCH", "/challenges/"+strconv.FormatInt(c.Id, 10), tok, map[string]any{"status": "archived"})
	h.Do(t, "GET", path, tok, nil).Decode(t, &p)
	if p.Status != "archived" {
		t.Fatalf("progress status after archive: %q", p.Status)
	}
	// Deleting removes it.
	h.Do(t, "DELETE", "/challenges/"+strconv.FormatInt(c.Id, 10), tok, nil)
	if r := h.Do(t, "GET", path, tok, nil); r.Status != http.StatusNotFound {
		t.Fatalf("progress of a deleted challenge: %d %s", r.Status, r.Body)
	}
	var page logList
	h.Do(t, "GET", userLogsPath(uid), tok, nil).Decode(t, &page)
	if len(page.Items) != 0 {
		t.Fatalf("logs of a deleted challenge still listed: %+v", page.Items)
	}
}

// A log that completes the plan of an active challenge completes it; a
// completed, archived or rejected challenge refuses logs with 409.
func TestLifecycle(t *testing.T) {
	h := newHarness(t)
	const uid = 105
	tok := h.user(t, uid)
	body := squatBody()
	body["weeks"], body["sessionsPerWeek"] = 1, 2
	r := h.Do(t, "POST", "/challenges", tok, body)
	var c challengeJSON
	r.Decode(t, &c)
	if r.Status != http.StatusCreated || c.Status != "pending" || c.UserId != uid {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	if loc := r.Header.Get("Location"); loc != "/challenges/"+strconv.FormatInt(c.Id, 10) {
		t.Fatalf("Location %q", loc)
	}
	id := strconv.FormatInt(c.Id, 10)
	// The account service's answer (issue 4) would do this.
	if err := h.svc.Repo.Client().Challenge.UpdateOneID(c.Id).SetStatus(entchallenge.StatusActive).Exec(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Two sessions on two days: 60, then 62.5.
	day1 := time.Date(2026, 1, 5, 18, 0, 0, 0, time.UTC)
	for i, v := range []float64{60, 62.5} {
		r := h.Do(t, "POST", "/challenges/"+id+"/logs", tok, map[string]any{
			"performedAt": day1.AddDate(0, 0, i).Format(time.RFC3339), "sets": 3, "reps": 5, "value": v,
		})
		if r.Status != http.StatusCreated {
			t.Fatalf("log %d: %d %s", i, r.Status, r.Body)
		}
	}
	var got challengeJSON
	h.Do(t, "GET", "/challenges/"+id, tok, nil).Decode(t, &got)
	if got.Status != "completed" {
		t.Fatalf("status after the last planned session met its target: %q", got.Status)
	}
	var p progressJSON
	h.Do(t, "GET", "/challenges/"+id+"/progress", tok, nil).Decode(t, &p)
	if !p.Complete || p.NextSession != nil || p.Status != "completed" {
		t.Fatalf("progress: %+v", p)
	}
	r = h.Do(t, "POST", "/challenges/"+id+"/logs", tok, map[string]any{"sets": 3, "reps": 5, "value": 65})
	if r.Status != http.StatusConflict {
		t.Fatalf("log on a completed challenge: %d %s", r.Status, r.Body)
	}
	r.Problem(t)

	// Archive, archive again (no-op), then rename and log: conflicts.
	for range 2 {
		r = h.Do(t, "PATCH", "/challenges/"+id, tok, map[string]any{"status": "archived"})
		if r.Status != http.StatusOK {
			t.Fatalf("archive: %d %s", r.Status, r.Body)
		}
	}
	r = h.Do(t, "PATCH", "/challenges/"+id, tok, map[string]any{"title": "New"})
	if r.Status != http.StatusConflict {
		t.Fatalf("rename archived: %d %s", r.Status, r.Body)
	}
	r = h.Do(t, "POST", "/challenges/"+id+"/logs", tok, map[string]any{"sets": 3, "reps": 5, "value": 65})
	if r.Status != http.StatusConflict {
		t.Fatalf("log on an archived challenge: %d %s", r.Status, r.Body)
	}

	// Rejected (by the account service, issue 4): logs refused.
	c2 := h.createChallenge(t, tok)
	if err := h.svc.Repo.Client().Challenge.UpdateOneID(c2.Id).SetStatus(entchallenge.StatusRejected).Exec(context.Background()); err != nil {
		t.Fatal(err)
	}
	r = h.Do(t, "POST", "/challenges/"+strconv.FormatInt(c2.Id, 10)+"/logs", tok, map[string]any{"sets": 3, "reps": 5, "value": 65})
	if r.Status != http.StatusConflict {
		t.Fatalf("log on a rejected challenge: %d %s", r.Status, r.Body)
	}

	// Rename a live one; list by status.
	c3 := h.createChallenge(t, tok)
	r = h.Do(t, "PATCH", "/challenges/"+strconv.FormatInt(c3.Id, 10), tok, map[string]any{"title": "  Renamed  "})
	r.Decode(t, &got)
	if r.Status != http.StatusOK || got.Title != "Renamed" {
		t.Fatalf("rename: %d %s", r.Status, r.Body)
	}
	var list struct {
		Items []challengeJSON `json:"items"`
	}
	h.Do(t, "GET", "/challenges?status=pending", tok, nil).Decode(t, &list)
	if len(list.Items) != 1 || list.Items[0].Id != c3.Id {
		t.Fatalf("pending challenges: %+v", list.Items)
	}
	h.Do(t, "GET", "/challenges", tok, nil).Decode(t, &list)
	if len(list.Items) != 3 || list.Items[0].Id != c3.Id {
		t.Fatalf("all challenges, newest first: %+v", list.Items)
	}
}

// POST /challenges stores challenge.created in the same transaction, and the
// outbox relay publishes it to the exchange.
func TestChallengeCreatedEvent(t *testing.T) {
	h := newHarness(t)
	deliveries := testkit.Listen(t, testkit.AMQPURL, h.cfg.AMQPExchange, "challenge.created")

	c := h.createChallenge(t, h.user(t, 106))
	row, err := h.svc.Repo.Client().OutboxEvent.Query().Where(outboxevent.EventType("challenge.created")).Only(context.Background())
	if err != nil {
		t.Fatalf("outbox row: %v", err)
	}
	var stored struct {
		ID   string `json:"id"`
		Type string `json:"type"`
		Data struct {
			ChallengeID int64 `json:"challengeId"`
			UserID      int64 `json:"userId"`
		} `json:"data"`
	}
	if err := json.Unmarshal(row.Payload, &stored); err != nil || stored.Data.ChallengeID != c.Id || stored.Data.UserID != 106 {
		t.Fatalf("outbox payload %s (%v)", row.Payload, err)
	}

	select {
	case d := <-deliveries:
		var evt struct {
			ID     string `json:"id"`
			Type   string `json:"type"`
			Source string `json:"source"`
			Data   struct {
				ChallengeID int64 `json:"challengeId"`
				UserID      int64 `json:"userId"`
			} `json:"data"`
		}
		if err := json.Unmarshal(d.Body, &evt); err != nil {
			t.Fatal(err)
		}
		if evt.ID != stored.ID || evt.Type != "challenge.created" || evt.Source != "challenge" ||
			evt.Data.ChallengeID != c.Id || evt.Data.UserID != 106 || d.RoutingKey != "challenge.created" {
			t.Fatalf("published event: %s (routing key %q)", d.Body, d.RoutingKey)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("challenge.created was not published")
	}
}

func TestProbesAndDocs(t *testing.T) {
	h := newHarness(t)
	for path, want := range map[string]int{"/healthz": 200, "/readyz": 200, "/api-docs/openapi.yaml": 200, "/metrics": 200} {
		if r := h.Do(t, "GET", path, "", nil); r.Status != want {
			t.Errorf("GET %s: %d", path, r.Status)
		}
	}
}
