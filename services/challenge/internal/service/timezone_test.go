package service_test

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/progressive-overload/po/services/challenge/api/client"
	"github.com/progressive-overload/po/services/kit/auth"
)

// zoneToken mints a token with the account service's tz claim.
func (h *harness) zoneToken(t testing.TB, userID int64, zone string) string {
	t.Helper()
	tok, _, err := h.signer.Sign(auth.Claims{UserID: userID, Role: auth.RoleUser, TimeZone: zone})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// East of UTC: the default start date is the user's today (from the token),
// and a log from now is on or after it, whatever the UTC date is.
func TestStartDateIsTheUsersToday(t *testing.T) {
	h := newHarness(t)
	auckland, err := time.LoadLocation("Pacific/Auckland")
	if err != nil {
		t.Fatal(err)
	}
	tok := h.zoneToken(t, 701, "Pacific/Auckland")
	body := squatBody()
	delete(body, "startDate")
	before := time.Now().In(auckland).Format(time.DateOnly)
	var c challengeJSON
	h.Do(t, "POST", "/challenges", tok, body).Expect(t, http.StatusCreated).Decode(t, &c)
	after := time.Now().In(auckland).Format(time.DateOnly)
	if got := c.StartDate.Format(time.DateOnly); got != before && got != after {
		t.Fatalf("start date %s, want Auckland's today %s", got, before)
	}
	// performedAt defaults to now: the user's today, never before the start.
	h.Do(t, "POST", "/challenges/"+strconv.FormatInt(c.Id, 10)+"/logs", tok,
		map[string]any{"sets": 5, "reps": 5, "value": 60}).Expect(t, http.StatusCreated)

	// A token without the claim (issued before it existed) is a UTC user.
	var old challengeJSON
	h.Do(t, "POST", "/challenges", h.user(t, 702), body).Expect(t, http.StatusCreated).Decode(t, &old)
	before, after = time.Now().UTC().Format(time.DateOnly), time.Now().UTC().Format(time.DateOnly)
	if got := old.StartDate.Format(time.DateOnly); got != before && got != after {
		t.Fatalf("start date without tz %s, want UTC's today %s", got, before)
	}
}

// The case through the events: at UTC−8, Monday 17:00 and Tuesday
// 08:00 are two sessions once the account service has named the zone,
// one while the user is a UTC user; user.updated moves it, an older event
// arriving late does not undo a newer one, and every change reaches the
// cached progress.
func TestSessionsFollowTheUsersZone(t *testing.T) {
	h := newHarness(t)
	const uid = 703
	tok := h.user(t, uid) // no tz claim: UTC until an event says otherwise
	c := h.createChallenge(t, tok)
	la, err := time.LoadLocation("America/Los_Angeles")
	if err != nil {
		t.Fatal(err)
	}
	for _, at := range []time.Time{
		time.Date(2026, 1, 5, 17, 0, 0, 0, la), // Tuesday 01:00 UTC
		time.Date(2026, 1, 6, 8, 0, 0, 0, la),  // Tuesday 16:00 UTC
	} {
		h.Do(t, "POST", "/challenges/"+strconv.FormatInt(c.Id, 10)+"/logs", tok, map[string]any{
			"performedAt": at.Format(time.RFC3339), "sets": 5, "reps": 5, "value": 62.5,
		}).Expect(t, http.StatusCreated)
	}
	sessions := func() int { return h.progress(t, tok, c.Id).SessionsDone }
	if got := sessions(); got != 1 {
		t.Fatalf("UTC: %d sessions, want 1", got)
	}

	validated := accountEvent(t, "user.validated", map[string]any{"challengeId": c.Id, "userId": uid, "timeZone": "America/Los_Angeles"})
	h.publishOne(t, validated)
	h.waitSettled(t, "user.validated", "ok", 1)
	if p := h.progress(t, tok, c.Id); p.SessionsDone != 2 || p.Status != client.ChallengeStatusActive {
		t.Fatalf("Los Angeles: %d sessions, %s", p.SessionsDone, p.Status)
	}

	h.publishOne(t, accountEvent(t, "user.updated", map[string]any{"userId": uid, "timeZone": "Europe/Berlin"}))
	h.waitSettled(t, "user.updated", "ok", 1)
	if got := sessions(); got != 1 { // 02:00 and 17:00 on Tuesday in Berlin
		t.Fatalf("Berlin: %d sessions, want 1", got)
	}

	// An update older than the stored zone (another queue's backlog) is
	// applied and changes nothing.
	late := accountEvent(t, "user.updated", map[string]any{"userId": uid, "timeZone": "America/Los_Angeles"})
	late.Time = validated.Time.Add(-time.Second)
	h.publishOne(t, late)
	h.waitSettled(t, "user.updated", "ok", 2)
	if got := sessions(); got != 1 {
		t.Fatalf("after a late event: %d sessions, want Berlin's 1", got)
	}
	// A payload without the zone means UTC.
	h.publishOne(t, accountEvent(t, "user.updated", map[string]any{"userId": uid}))
	h.waitSettled(t, "user.updated", "ok", 3)
	if got := sessions(); got != 1 {
		t.Fatalf("UTC again: %d sessions", got)
	}
	// A zone this build does not know is a poison message.
	h.publishOne(t, accountEvent(t, "user.updated", map[string]any{"userId": uid, "timeZone": "Mars/Olympus_Mons"}))
	h.waitSettled(t, "user.updated", "dead", 1)
}

// user.validated from an account service without time zones (no timeZone
// member) activates and leaves the zone alone.
func TestValidatedWithoutZone(t *testing.T) {
	h := newHarness(t)
	const uid = 704
	tok := h.zoneToken(t, uid, "Asia/Tokyo")
	c := h.createChallenge(t, tok)
	h.publishOne(t, accountEvent(t, "user.validated", map[string]any{"challengeId": c.Id, "userId": uid}))
	h.waitSettled(t, "user.validated", "ok", 1)
	// Tokyo (the token's seed) puts 2026-01-05 20:00 and 2026-01-06 02:00 UTC
	// on one day (06-01), UTC on two.
	for _, at := range []string{"2026-01-05T20:00:00Z", "2026-01-06T02:00:00Z"} {
		h.Do(t, "POST", "/challenges/"+strconv.FormatInt(c.Id, 10)+"/logs", tok, map[string]any{
			"performedAt": at, "sets": 5, "reps": 5, "value": 60,
		}).Expect(t, http.StatusCreated)
	}
	if p := h.progress(t, tok, c.Id); p.SessionsDone != 1 || p.Status != client.ChallengeStatusActive {
		t.Fatalf("%d sessions, %s", p.SessionsDone, p.Status)
	}
}
