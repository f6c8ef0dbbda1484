package service_test

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	entchallenge "github.com/progressive-overload/po/ent/challenge/challenge"
	"github.com/progressive-overload/po/services/challenge/api/client"
	"github.com/progressive-overload/po/services/kit/testkit"
	"github.com/progressive-overload/po/services/kit/testkit/apitest"
)

type (
	recordsJSON = client.PersonalRecords
	historyJSON = client.WeeklyHistory
)

func logPath(challengeID, logID int64) string {
	return "/challenges/" + strconv.FormatInt(challengeID, 10) + "/logs/" + strconv.FormatInt(logID, 10)
}

func challengePath(id int64, suffix string) string {
	return "/challenges/" + strconv.FormatInt(id, 10) + suffix
}

func recordsPath(userID int64) string { return "/challenges/records/" + strconv.FormatInt(userID, 10) }

func exerciseHistoryPath(userID int64, exercise, unit string) string {
	return "/challenges/history/" + strconv.FormatInt(userID, 10) + "?" + url.Values{"exercise": {exercise}, "unit": {unit}}.Encode()
}

func (h *harness) activate(t testing.TB, id int64) {
	t.Helper()
	// The account service's user.validated would do this.
	if err := h.svc.Repo.Client().Challenge.UpdateOneID(id).SetStatus(entchallenge.StatusActive).Exec(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func (h *harness) logAt(t testing.TB, token string, challengeID int64, at time.Time, reps int, value float64) logJSON {
	t.Helper()
	var l logJSON
	h.Do(t, "POST", challengePath(challengeID, "/logs"), token, map[string]any{
		"performedAt": at.Format(time.RFC3339), "sets": 3, "reps": reps, "value": value,
	}).Expect(t, http.StatusCreated).Decode(t, &l)
	return l
}

func (h *harness) status(t testing.TB, token string, id int64) string {
	t.Helper()
	var c challengeJSON
	h.Do(t, "GET", challengePath(id, ""), token, nil).Expect(t, http.StatusOK).Decode(t, &c)
	return string(c.Status)
}

// The story: a typo in the last session completes the challenge; the
// correction reopens it, a right value completes it again, deleting the log
// reopens it, and a terminal challenge refuses both.
func TestCorrectionSettlesCompletion(t *testing.T) {
	h := newHarness(t)
	const uid = 601
	tok := h.user(t, uid)
	body := squatBody()
	body["weeks"], body["sessionsPerWeek"] = 1, 2 // targets 60, then 62.5
	var c challengeJSON
	h.Do(t, "POST", "/challenges", tok, body).Expect(t, http.StatusCreated).Decode(t, &c)
	h.activate(t, c.Id)
	day1 := time.Date(2026, 1, 5, 18, 0, 0, 0, time.UTC)
	h.logAt(t, tok, c.Id, day1, 5, 60)
	typo := h.logAt(t, tok, c.Id, day1.AddDate(0, 0, 1), 5, 600) // meant 60: missed the 62.5
	if s := h.status(t, tok, c.Id); s != "completed" {
		t.Fatalf("the typo should have completed the plan, status %s", s)
	}
	// Warm every cached read the correction must drop.
	progressPath := challengePath(c.Id, "/progress")
	for range 2 {
		h.Do(t, "GET", progressPath, tok, nil)
		h.Do(t, "GET", recordsPath(uid), tok, nil)
		h.Do(t, "GET", userLogsPath(uid), tok, nil)
	}

	var fixed logJSON
	h.Do(t, "PATCH", logPath(c.Id, typo.Id), tok, map[string]any{"value": 60, "note": "typo: 600"}).
		Expect(t, http.StatusOK).Decode(t, &fixed)
	if fixed.Id != typo.Id || fixed.Value != 60 || fixed.Note == nil || *fixed.Note != "typo: 600" ||
		!fixed.PerformedAt.Equal(typo.PerformedAt) || fixed.Sets != 3 || !fixed.CreatedAt.Equal(typo.CreatedAt) {
		t.Fatalf("corrected log %+v from %+v", fixed, typo)
	}
	if s := h.status(t, tok, c.Id); s != "active" {
		t.Fatalf("after the correction: status %s, want active again", s)
	}
	var p progressJSON
	h.Do(t, "GET", progressPath, tok, nil).Decode(t, &p)
	if p.Complete || p.Status != "active" || p.TargetsMet != 1 || p.CurrentStreak != 0 || p.BestSet.Value != 60 ||
		p.NextSession == nil || *p.NextSession != 3 || *p.EstimatedOneRepMax != 70 {
		t.Fatalf("progress after the correction: %+v", p)
	}
	var recs recordsJSON
	h.Do(t, "GET", recordsPath(uid), tok, nil).Decode(t, &recs)
	if len(recs.Exercises) != 1 || recs.Exercises[0].Best.Value != 60 || recs.Exercises[0].BestE1rm.Estimate != 70 {
		t.Fatalf("records after the correction: %+v", recs)
	}
	var page logList
	h.Do(t, "GET", userLogsPath(uid), tok, nil).Decode(t, &page)
	if page.Items[0].Id != typo.Id || page.Items[0].Value != 60 {
		t.Fatalf("user logs after the correction: %+v", page.Items[0])
	}

	// The value meant for session 2 completes it again; deleting that log reopens it.
	h.Do(t, "PATCH", logPath(c.Id, typo.Id), tok, map[string]any{"value": 62.5}).Expect(t, http.StatusOK)
	if s := h.status(t, tok, c.Id); s != "completed" {
		t.Fatalf("a correction meeting the target: status %s", s)
	}
	h.Do(t, "DELETE", logPath(c.Id, typo.Id), tok, nil).Expect(t, http.StatusNoContent)
	if s := h.status(t, tok, c.Id); s != "active" {
		t.Fatalf("after deleting the completing log: status %s", s)
	}
	h.Do(t, "GET", progressPath, tok, nil).Decode(t, &p)
	if p.SessionsDone != 1 || p.Complete {
		t.Fatalf("progress after the deletion: %+v", p)
	}
	h.Do(t, "GET", userLogsPath(uid), tok, nil).Decode(t, &page)
	if len(page.Items) != 1 {
		t.Fatalf("user logs after the deletion: %+v", page.Items)
	}
	h.Do(t, "DELETE", logPath(c.Id, typo.Id), tok, nil).Expect(t, http.StatusNotFound).Problem(t)

	// Terminal states never change.
	h.Do(t, "PATCH", challengePath(c.Id, ""), tok, map[string]any{"status": "archived"}).Expect(t, http.StatusOK)
	first := page.Items[0]
	h.Do(t, "PATCH", logPath(c.Id, first.Id), tok, map[string]any{"value": 61}).Expect(t, http.StatusConflict).Problem(t)
	h.Do(t, "DELETE", logPath(c.Id, first.Id), tok, nil).Expect(t, http.StatusConflict).Problem(t)
	// 409 whatever the body holds, as for a new log.
	h.Do(t, "PATCH", logPath(c.Id, first.Id), tok, map[string]any{"value": 1e-9}).Expect(t, http.StatusConflict)
	if s := h.status(t, tok, c.Id); s != "archived" {
		t.Fatalf("archived challenge became %s", s)
	}
}

// A correction is in the writer's very next read of every cached view: the
// first page of logs at any size, progress, records, both histories.
func TestCorrectionReadAfterWrite(t *testing.T) {
	h := newHarness(t)
	const uid = 602
	tok := h.user(t, uid)
	c := h.createChallenge(t, tok)
	var logs []logJSON
	for i := range 3 {
		logs = append(logs, h.logAt(t, tok, c.Id, time.Date(2026, 1, 6+7*i, 8, 0, 0, 0, time.UTC), 5, 60+float64(i)))
	}
	reads := []string{
		userLogsPath(uid), userLogsPath(uid) + "?limit=1", challengePath(c.Id, "/progress"), recordsPath(uid),
		challengePath(c.Id, "/history"), challengePath(c.Id, "/history?limit=1"), exerciseHistoryPath(uid, "back SQUAT", "kg"),
	}
	warm := func() {
		for _, p := range reads {
			h.Do(t, "GET", p, tok, nil).Expect(t, http.StatusOK)
			h.Do(t, "GET", p, tok, nil).Expect(t, http.StatusOK)
		}
	}
	warm()
	hits := h.cacheCount(t, "records", "hit") + h.cacheCount(t, "history", "hit")
	if hits == 0 {
		t.Fatal("no records or history hit: the test does not exercise their caches")
	}

	// The newest log becomes the heaviest ever: 625 for 62.5.
	newest := logs[2]
	h.Do(t, "PATCH", logPath(c.Id, newest.Id), tok, map[string]any{"value": 625}).Expect(t, http.StatusOK)
	var page logList
	h.Do(t, "GET", userLogsPath(uid)+"?limit=1", tok, nil).Decode(t, &page)
	if page.Items[0].Value != 625 {
		t.Fatalf("?limit=1 after the correction: %+v", page.Items[0])
	}
	var recs recordsJSON
	h.Do(t, "GET", recordsPath(uid), tok, nil).Decode(t, &recs)
	if recs.Exercises[0].Best.LogId != newest.Id || recs.Exercises[0].Best.Value != 625 {
		t.Fatalf("records: %+v", recs.Exercises[0].Best)
	}
	var hist historyJSON
	h.Do(t, "GET", challengePath(c.Id, "/history?limit=1"), tok, nil).Decode(t, &hist)
	if len(hist.Items) != 1 || hist.Items[0].Volume != 3*5*625 || hist.NextCursor == nil {
		t.Fatalf("challenge history: %+v", hist)
	}
	h.Do(t, "GET", exerciseHistoryPath(uid, "back SQUAT", "kg"), tok, nil).Decode(t, &hist)
	if len(hist.Items) != 3 || hist.Items[0].Volume != 3*5*625 || hist.Exercise != "Back squat" || hist.Unit != "kg" {
		t.Fatalf("exercise history: %+v", hist)
	}

	// The fix: records fall back to the set that really was the heaviest.
	warm()
	h.Do(t, "PATCH", logPath(c.Id, newest.Id), tok, map[string]any{"value": 62.5}).Expect(t, http.StatusOK)
	h.Do(t, "GET", recordsPath(uid), tok, nil).Decode(t, &recs)
	if recs.Exercises[0].Best.Value != 62.5 || recs.Exercises[0].BestE1rm.Estimate != 72.92 || recs.Exercises[0].BestE1rm.Formula != "epley" {
		t.Fatalf("records after the fix: %+v %+v", recs.Exercises[0].Best, recs.Exercises[0].BestE1rm)
	}

	// A deletion, likewise, in every view.
	warm()
	h.Do(t, "DELETE", logPath(c.Id, newest.Id), tok, nil).Expect(t, http.StatusNoContent)
	h.Do(t, "GET", userLogsPath(uid)+"?limit=1", tok, nil).Decode(t, &page)
	if page.Items[0].Id != logs[1].Id {
		t.Fatalf("?limit=1 after the deletion: %+v", page.Items[0])
	}
	h.Do(t, "GET", recordsPath(uid), tok, nil).Decode(t, &recs)
	if recs.Exercises[0].Best.LogId != logs[1].Id || recs.Exercises[0].Logs != 2 {
		t.Fatalf("records after the deletion: %+v", recs.Exercises[0])
	}
	h.Do(t, "GET", exerciseHistoryPath(uid, "Back squat", "kg"), tok, nil).Decode(t, &hist)
	if len(hist.Items) != 2 {
		t.Fatalf("exercise history after the deletion: %+v", hist)
	}
	var p progressJSON
	h.Do(t, "GET", challengePath(c.Id, "/progress"), tok, nil).Decode(t, &p)
	if p.SessionsDone != 2 || p.BestSet.Value != 61 {
		t.Fatalf("progress after the deletion: %+v", p)
	}
}

// Who may correct what: the owner and an admin; another user gets 403 on
// the challenge whether or not the log exists; a log of another challenge
// is 404.
func TestCorrectionAuthorization(t *testing.T) {
	h := newHarness(t)
	const owner, other = 603, 604
	tok, otherTok, admin := h.user(t, owner), h.user(t, other), h.admin(t, 900)
	c := h.createChallenge(t, tok)
	c2 := h.createChallenge(t, tok)
	l := h.logWorkout(t, tok, c.Id, 60)
	l2 := h.logWorkout(t, tok, c2.Id, 60)
	for _, tc := range []struct {
		name, method, path, token string
		want                      int
	}{
		{"other user", "PATCH", logPath(c.Id, l.Id), otherTok, 403},
		{"other user, no such log", "PATCH", logPath(c.Id, 999999), otherTok, 403},
		{"other user deletes", "DELETE", logPath(c.Id, l.Id), otherTok, 403},
		{"log of another challenge", "PATCH", logPath(c.Id, l2.Id), tok, 404},
		{"no such challenge", "DELETE", logPath(999999, l.Id), tok, 404},
		{"no token", "PATCH", logPath(c.Id, l.Id), "", 401},
		{"admin", "PATCH", logPath(c.Id, l.Id), admin, 200},
		{"owner", "PATCH", logPath(c.Id, l.Id), tok, 200},
		{"owner deletes", "DELETE", logPath(c2.Id, l2.Id), tok, 204},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var body any
			if tc.method == "PATCH" {
				body = map[string]any{"sets": 4}
			}
			r := h.Do(t, tc.method, tc.path, tc.token, body).Expect(t, tc.want)
			if tc.want >= 400 {
				r.Problem(t)
			}
		})
	}
	// The refused ones changed nothing.
	var page logList
	h.Do(t, "GET", challengePath(c.Id, "/logs"), tok, nil).Decode(t, &page)
	if len(page.Items) != 1 || page.Items[0].Sets != 4 {
		t.Fatalf("logs %+v", page.Items)
	}
}

// Weeks are newest first and page through a cursor; every page of a cached
// history is a hit; records keep kg and lb apart and fold the name's case.
func TestHistoryAndRecords(t *testing.T) {
	h := newHarness(t)
	const uid = 605
	tok := h.user(t, uid)
	c := h.createChallenge(t, tok)
	lbBody := squatBody()
	lbBody["unit"], lbBody["exercise"] = "lb", "BACK SQUAT"
	var lb challengeJSON
	h.Do(t, "POST", "/challenges", tok, lbBody).Expect(t, http.StatusCreated).Decode(t, &lb)
	for week := range 5 {
		at := time.Date(2026, 1, 5+7*week, 9, 0, 0, 0, time.UTC) // Mondays
		h.logAt(t, tok, c.Id, at, 5, 60+2.5*float64(week))
		h.logAt(t, tok, c.Id, at.Add(48*time.Hour), 3, 70)
	}
	h.logAt(t, tok, lb.Id, time.Date(2026, 1, 7, 9, 0, 0, 0, time.UTC), 5, 135)

	var weeks []client.WeekStats
	path := challengePath(c.Id, "/history?limit=2")
	pages := 0
	for {
		var hist historyJSON
		h.Do(t, "GET", path, tok, nil).Expect(t, http.StatusOK).Decode(t, &hist)
		pages++
		weeks = append(weeks, hist.Items...)
		if hist.NextCursor == nil {
			break
		}
		path = challengePath(c.Id, "/history?limit=2&cursor="+url.QueryEscape(*hist.NextCursor))
	}
	if pages != 3 || len(weeks) != 5 {
		t.Fatalf("%d weeks over %d pages", len(weeks), pages)
	}
	for i, w := range weeks {
		monday := time.Date(2026, 1, 5+7*(4-i), 0, 0, 0, 0, time.UTC)
		load := 60 + 2.5*float64(4-i)
		if !w.WeekStart.Time.Equal(monday) || w.Logs != 2 || w.Sets != 6 || w.Volume != 3*5*load+3*3*70 ||
			w.BestE1rm == nil || *w.BestE1rm != max(round2(load*(1+5.0/30)), 77) {
			t.Fatalf("week %d: %+v (e1RM %v)", i, w, *w.BestE1rm)
		}
	}
	// The second walk is served from the cache, every page of it.
	misses := h.cacheCount(t, "history", "miss")
	h.Do(t, "GET", challengePath(c.Id, "/history?limit=2"), tok, nil).Expect(t, http.StatusOK)
	h.Do(t, "GET", path, tok, nil).Expect(t, http.StatusOK)
	if got := h.cacheCount(t, "history", "miss"); got != misses {
		t.Fatalf("history misses %v → %v on a cached series", misses, got)
	}

	var recs recordsJSON
	h.Do(t, "GET", recordsPath(uid), tok, nil).Expect(t, http.StatusOK).Decode(t, &recs)
	if len(recs.Exercises) != 2 || recs.UserId != uid {
		t.Fatalf("records: %+v", recs)
	}
	kg, lbs := recs.Exercises[0], recs.Exercises[1]
	if kg.Unit != "kg" || kg.Logs != 10 || kg.Best.Value != 70 || kg.Best.Reps != 5 || kg.Best.ChallengeId != c.Id ||
		kg.BestE1rm == nil || kg.BestE1rm.Estimate != 81.67 || len(kg.RepsAtLoad) != 5 {
		t.Fatalf("kg records: %+v", kg)
	}
	if lbs.Unit != "lb" || lbs.Exercise != "BACK SQUAT" || lbs.Logs != 1 {
		t.Fatalf("lb records: %+v", lbs)
	}
	var hist historyJSON
	h.Do(t, "GET", exerciseHistoryPath(uid, "back squat", "lb"), tok, nil).Decode(t, &hist)
	if len(hist.Items) != 1 || hist.Items[0].Volume != 3*5*135 {
		t.Fatalf("lb history: %+v", hist)
	}
	h.Do(t, "GET", exerciseHistoryPath(uid, "Deadlift", "kg"), tok, nil).Decode(t, &hist)
	if len(hist.Items) != 0 || hist.NextCursor != nil || hist.Exercise != "Deadlift" {
		t.Fatalf("an exercise never logged: %+v", hist)
	}

	// Deleting a challenge drops its logs from the records.
	h.Do(t, "DELETE", challengePath(c.Id, ""), tok, nil).Expect(t, http.StatusNoContent)
	h.Do(t, "GET", recordsPath(uid), tok, nil).Decode(t, &recs)
	if len(recs.Exercises) != 1 || recs.Exercises[0].Unit != "lb" {
		t.Fatalf("records after deleting the kg challenge: %+v", recs)
	}
	h.Do(t, "GET", challengePath(c.Id, "/history"), tok, nil).Expect(t, http.StatusNotFound)
}

func round2(v float64) float64 {
	n, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'f', 2, 64), 64)
	return n
}

// With the near tier on, a correction is still in the writer's next read of
// the records and the first page, as a new log is.
func TestCorrectionNearTierReadAfterWrite(t *testing.T) {
	h := newHarness(t, withNearCache(1<<20))
	const uid = 606
	tok := h.user(t, uid)
	c := h.createChallenge(t, tok)
	l := h.logWorkout(t, tok, c.Id, 60)
	testkit.Eventually(t, "the near tier to serve the records", func() bool {
		h.Do(t, "GET", recordsPath(uid), tok, nil).Expect(t, http.StatusOK)
		return apitest.Gather(t, h.reg).Value("cache_near_requests_total", "service", "challenge", "cache", "records", "result", "hit") > 0
	})
	for i := range 5 {
		v := 61 + float64(i)
		h.Do(t, "GET", userLogsPath(uid), tok, nil).Expect(t, http.StatusOK)
		h.Do(t, "PATCH", logPath(c.Id, l.Id), tok, map[string]any{"value": v}).Expect(t, http.StatusOK)
		var recs recordsJSON
		h.Do(t, "GET", recordsPath(uid), tok, nil).Decode(t, &recs)
		var page logList
		h.Do(t, "GET", userLogsPath(uid), tok, nil).Decode(t, &page)
		if recs.Exercises[0].Best.Value != v || page.Items[0].Value != v {
			t.Fatalf("correction %d to %v: records %v, first page %v", i, v, recs.Exercises[0].Best.Value, page.Items[0].Value)
		}
	}
}
