package service_test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/progressive-overload/po/services/challenge/api/client"
	"github.com/progressive-overload/po/services/kit/events"
	"github.com/progressive-overload/po/services/kit/testkit/apitest"
)

// The contract's types (api/client).
type (
	groupJSON       = client.Group
	leaderboardJSON = client.Leaderboard
)

func groupPath(id int64, suffix string) string {
	return "/challenges/groups/" + strconv.FormatInt(id, 10) + suffix
}

func (h *harness) createGroup(t testing.TB, token string) groupJSON {
	t.Helper()
	b := squatBody()
	b["title"] = "Squat club"
	var g groupJSON
	h.Do(t, "POST", "/challenges/groups", token, b).Expect(t, http.StatusCreated).Decode(t, &g)
	if g.YourChallengeId == nil {
		t.Fatalf("a new group without the owner's challenge: %+v", g)
	}
	return g
}

func (h *harness) invite(t testing.TB, token string, groupID int64, body map[string]any) client.NewInvite {
	t.Helper()
	if body == nil {
		body = map[string]any{}
	}
	var inv client.NewInvite
	h.Do(t, "POST", groupPath(groupID, "/invites"), token, body).Expect(t, http.StatusCreated).Decode(t, &inv)
	return inv
}

func (h *harness) join(t testing.TB, token, code string) client.Participation {
	t.Helper()
	r := h.Do(t, "POST", "/challenges/groups/join", token, map[string]any{"code": code}).Expect(t, http.StatusAccepted)
	var p client.Participation
	r.Decode(t, &p)
	if r.Header.Get("Location") != "/challenges/"+strconv.FormatInt(p.ChallengeId, 10) {
		t.Fatalf("Location %q for %+v", r.Header.Get("Location"), p)
	}
	return p
}

func (h *harness) leaderboard(t testing.TB, token string, groupID int64, query string) leaderboardJSON {
	t.Helper()
	var lb leaderboardJSON
	h.Do(t, "GET", groupPath(groupID, "/leaderboard"+query), token, nil).Expect(t, http.StatusOK).Decode(t, &lb)
	return lb
}

// validated is the account service's answer for a participation, with the
// user's profile as it carries it.
type validatedData struct {
	ChallengeID int64  `json:"challengeId"`
	UserID      int64  `json:"userId"`
	TimeZone    string `json:"timeZone,omitempty"`
	DisplayName string `json:"displayName,omitempty"`
}

type updatedData struct {
	UserID      int64  `json:"userId"`
	TimeZone    string `json:"timeZone"`
	DisplayName string `json:"displayName,omitempty"`
}

// validate publishes user.validated for a challenge and waits for the n-th
// such message to settle.
func (h *harness) validate(t testing.TB, challengeID, userID int64, name string, n int) {
	t.Helper()
	h.publish(t, accountEvent(t, "user.validated", validatedData{ChallengeID: challengeID, UserID: userID, TimeZone: "UTC", DisplayName: name}))
	h.waitSettled(t, "user.validated", events.ResultOK, n)
}

// logDay logs a 5 × 5 at value on the plan's day (1-based; the plan starts
// Monday 2026-01-05).
func (h *harness) logDay(t testing.TB, token string, challengeID int64, day int, value float64, note string) logJSON {
	t.Helper()
	at := time.Date(2026, 1, 4+day, 18, 0, 0, 0, time.UTC)
	body := map[string]any{"performedAt": at.Format(time.RFC3339), "sets": 5, "reps": 5, "value": value}
	if note != "" {
		body["note"] = note
	}
	var l logJSON
	h.Do(t, "POST", "/challenges/"+strconv.FormatInt(challengeID, 10)+"/logs", token, body).
		Expect(t, http.StatusCreated).Decode(t, &l)
	return l
}

func names(lb leaderboardJSON) []string {
	var out []string
	for _, e := range lb.Items {
		out = append(out, strconv.Itoa(e.Rank)+":"+e.DisplayName)
	}
	return out
}

func (h *harness) groupMetric(t testing.TB, name, label, value string) float64 {
	t.Helper()
	return apitest.Gather(t, h.reg).Value(name, "service", "challenge", label, value)
}

// Two people take on a group challenge: the owner creates it and an
// invite, the other joins; both are validated, both log, and both see the
// leaderboard, ranked by targets met, with each other's display names and
// progress but never a note.
func TestGroupChallenge(t *testing.T) {
	h := newHarness(t)
	const ada, grace, outsider, adminID = 601, 602, 603, 900
	adaTok, graceTok, outTok, adminTok := h.user(t, ada), h.user(t, grace), h.user(t, outsider), h.admin(t, adminID)

	g := h.createGroup(t, adaTok)
	if g.OwnerId != ada || !g.JoiningOpen || g.Participants != 1 || g.Title != "Squat club" ||
		g.Plan.StartDate.String() != "2026-01-05" || g.Plan.EndDate.String() != "2026-03-01" {
		t.Fatalf("new group %+v", g)
	}
	adaChallenge := *g.YourChallengeId
	if c := h.challenge(t, adaTok, adaChallenge); c.Status != "pending" {
		t.Fatalf("the owner's participation is %q", c.Status)
	}
	h.validate(t, adaChallenge, ada, "Ada", 1)
	if c := h.challenge(t, adaTok, adaChallenge); c.Status != "active" {
		t.Fatalf("the owner's validated participation is %q", c.Status)
	}

	inv := h.invite(t, adaTok, g.Id, nil)
	if len(inv.Code) != 43 || !inv.Usable || inv.ExpiresAt != nil || inv.MaxParticipants != nil {
		t.Fatalf("invite %+v", inv)
	}
	p := h.join(t, graceTok, inv.Code)
	if p.GroupId != g.Id || p.UserId != grace || p.Status != client.ParticipantStatusPending {
		t.Fatalf("participation %+v", p)
	}
	var graceChallenge challengeJSON
	h.Do(t, "GET", "/challenges/"+strconv.FormatInt(p.ChallengeId, 10), graceTok, nil).Expect(t, http.StatusOK).Decode(t, &graceChallenge)
	if graceChallenge.UserId != grace || graceChallenge.StartDate.String() != "2026-01-05" || graceChallenge.Title != "Squat club" ||
		graceChallenge.StartValue != 60 || graceChallenge.Status != client.ChallengeStatusPending {
		t.Fatalf("the joiner's own challenge %+v", graceChallenge)
	}
	h.Do(t, "POST", "/challenges/groups/join", graceTok, map[string]any{"code": inv.Code}).Expect(t, http.StatusConflict).Problem(t)

	// Pending already counts: both are on the board, the joiner named by
	// id until the account service says who she is.
	lb := h.leaderboard(t, graceTok, g.Id, "")
	if got := strings.Join(names(lb), ","); lb.Total != 2 || got != "1:Ada,2:User 602" && got != "1:User 602,2:Ada" {
		t.Fatalf("board of the pending joiner: %d %v", lb.Total, got)
	}
	h.validate(t, p.ChallengeId, grace, "Grace", 2)
	if c := h.challenge(t, graceTok, p.ChallengeId); c.Status != "active" {
		t.Fatalf("the joiner's validated participation is %q", c.Status)
	}

	// Ada: two sessions, both on target (60, then 62.5). Grace: one, on
	// target, with a note nobody else may read.
	h.logDay(t, adaTok, adaChallenge, 1, 60, "")
	h.logDay(t, adaTok, adaChallenge, 3, 62.5, "")
	h.logDay(t, graceTok, p.ChallengeId, 1, 60, "secret note")

	lb = h.leaderboard(t, graceTok, g.Id, "")
	if got := names(lb); len(got) != 2 || got[0] != "1:Ada" || got[1] != "2:Grace" {
		t.Fatalf("board %v", got)
	}
	first, second := lb.Items[0], lb.Items[1]
	if first.UserId != ada || first.TargetsMet != 2 || first.Sessions != 2 || first.Volume != 3062.5 ||
		first.BestE1rmGain == nil || *first.BestE1rmGain != 2.92 {
		t.Fatalf("Ada's entry %+v", first)
	}
	if second.UserId != grace || second.TargetsMet != 1 || second.Volume != 1500 || *second.BestE1rmGain != 0 ||
		!second.ReachedAt.Equal(time.Date(2026, 1, 5, 18, 0, 0, 0, time.UTC)) {
		t.Fatalf("Grace's entry %+v", second)
	}
	if lb.PlannedSoFar <= 0 || first.Adherence != float64(int(1000*2/float64(lb.PlannedSoFar)+0.5))/1000 {
		t.Fatalf("planned %d, adherence %v", lb.PlannedSoFar, first.Adherence)
	}
	if lb.You == nil || lb.You.UserId != grace || lb.You.Rank != 2 {
		t.Fatalf("you: %+v", lb.You)
	}
	raw := h.Do(t, "GET", groupPath(g.Id, "/leaderboard"), adaTok, nil).Expect(t, http.StatusOK)
	if strings.Contains(string(raw.Body), "secret") || strings.Contains(string(raw.Body), "@") {
		t.Fatalf("the board shows more than progress: %s", raw.Body)
	}

	// Read after write: a new log moves the score on the very next read.
	h.logDay(t, graceTok, p.ChallengeId, 2, 62.5, "")
	h.logDay(t, graceTok, p.ChallengeId, 4, 65, "")
	lb = h.leaderboard(t, adaTok, g.Id, "")
	if got := names(lb); got[0] != "1:Grace" || lb.You.UserId != ada || lb.You.Rank != 2 {
		t.Fatalf("after Grace's logs: %v, you %+v", got, lb.You)
	}

	// Pages of one; "you" on each.
	page1 := h.leaderboard(t, adaTok, g.Id, "?limit=1")
	if len(page1.Items) != 1 || page1.NextCursor == nil || page1.Items[0].UserId != grace || page1.You.Rank != 2 {
		t.Fatalf("page 1 %+v", page1)
	}
	page2 := h.leaderboard(t, adaTok, g.Id, "?limit=1&cursor="+*page1.NextCursor)
	if len(page2.Items) != 1 || page2.NextCursor != nil || page2.Items[0].UserId != ada || page2.Items[0].Rank != 2 {
		t.Fatalf("page 2 %+v", page2)
	}

	// Who sees what: outsiders nothing (404), admins everything (no "you"),
	// a participant never another's challenge itself.
	for _, path := range []string{groupPath(g.Id, ""), groupPath(g.Id, "/leaderboard")} {
		h.Do(t, "GET", path, outTok, nil).Expect(t, http.StatusNotFound).Problem(t)
	}
	if lb := h.leaderboard(t, adminTok, g.Id, ""); lb.Total != 2 || lb.You != nil {
		t.Fatalf("admin's board %+v", lb)
	}
	h.Do(t, "GET", "/challenges/"+strconv.FormatInt(adaChallenge, 10), graceTok, nil).Expect(t, http.StatusForbidden)
	h.Do(t, "GET", "/challenges/"+strconv.FormatInt(adaChallenge, 10)+"/logs", graceTok, nil).Expect(t, http.StatusForbidden)

	var got groupJSON
	h.Do(t, "GET", groupPath(g.Id, ""), graceTok, nil).Expect(t, http.StatusOK).Decode(t, &got)
	if got.Participants != 2 || got.YourChallengeId == nil || *got.YourChallengeId != p.ChallengeId {
		t.Fatalf("group as the joiner sees it %+v", got)
	}
	var list client.GroupList
	h.Do(t, "GET", "/challenges/groups", graceTok, nil).Expect(t, http.StatusOK).Decode(t, &list)
	if len(list.Items) != 1 || list.Items[0].Id != g.Id || *list.Items[0].YourChallengeId != p.ChallengeId {
		t.Fatalf("the joiner's groups %+v", list)
	}
	h.Do(t, "GET", "/challenges/groups", outTok, nil).Expect(t, http.StatusOK).Decode(t, &list)
	if len(list.Items) != 0 {
		t.Fatalf("an outsider's groups %+v", list)
	}

	for result, want := range map[string]float64{"accepted": 1, "duplicate": 1, "validated": 2} {
		if got := h.groupMetric(t, "challenge_group_joins_total", "result", result); got != want {
			t.Errorf("joins %s = %v, want %v", result, got, want)
		}
	}
}

// Leaving, removal, and what stays: a participant leaves (their challenge
// and logs stay theirs, the board loses them, the code does not bring them
// back), the owner cannot leave and removes someone else; only the owner
// (or an admin) removes anyone.
func TestGroupLeaveAndRemove(t *testing.T) {
	h := newHarness(t)
	const owner, a, b, outsider, adminID = 611, 612, 613, 614, 901
	ownerTok, aTok, bTok, outTok := h.user(t, owner), h.user(t, a), h.user(t, b), h.user(t, outsider)
	g := h.createGroup(t, ownerTok)
	inv := h.invite(t, ownerTok, g.Id, nil)
	pa, pb := h.join(t, aTok, inv.Code), h.join(t, bTok, inv.Code)
	aLog := h.logDay(t, aTok, pa.ChallengeId, 1, 60, "mine")

	participant := func(uid int64) string { return groupPath(g.Id, "/participants/"+strconv.FormatInt(uid, 10)) }
	h.Do(t, "DELETE", participant(owner), ownerTok, nil).Expect(t, http.StatusConflict).Problem(t)
	h.Do(t, "DELETE", participant(a), bTok, nil).Expect(t, http.StatusForbidden).Problem(t)
	h.Do(t, "DELETE", participant(a), outTok, nil).Expect(t, http.StatusNotFound).Problem(t)
	h.Do(t, "DELETE", participant(outsider), ownerTok, nil).Expect(t, http.StatusNotFound).Problem(t)
	// A participation on the board is not deleted behind the board's back.
	h.Do(t, "DELETE", "/challenges/"+strconv.FormatInt(pa.ChallengeId, 10), aTok, nil).Expect(t, http.StatusConflict).Problem(t)

	h.Do(t, "DELETE", participant(a), aTok, nil).Expect(t, http.StatusNoContent)
	if lb := h.leaderboard(t, ownerTok, g.Id, ""); lb.Total != 2 || slicesContainUser(lb, a) {
		t.Fatalf("after a left: %+v", lb)
	}
	var logs logList
	h.Do(t, "GET", "/challenges/"+strconv.FormatInt(pa.ChallengeId, 10)+"/logs", aTok, nil).Expect(t, http.StatusOK).Decode(t, &logs)
	if len(logs.Items) != 1 || logs.Items[0].Id != aLog.Id || *logs.Items[0].Note != "mine" {
		t.Fatalf("a's logs after leaving %+v", logs.Items)
	}
	h.Do(t, "GET", groupPath(g.Id, "/leaderboard"), aTok, nil).Expect(t, http.StatusNotFound)
	h.Do(t, "POST", "/challenges/groups/join", aTok, map[string]any{"code": inv.Code}).Expect(t, http.StatusConflict)
	h.Do(t, "DELETE", participant(a), aTok, nil).Expect(t, http.StatusNotFound)

	h.Do(t, "DELETE", participant(b), ownerTok, nil).Expect(t, http.StatusNoContent)
	if lb := h.leaderboard(t, ownerTok, g.Id, ""); lb.Total != 1 || lb.Items[0].UserId != owner {
		t.Fatalf("after b's removal: %+v", lb)
	}
	h.Do(t, "GET", "/challenges/"+strconv.FormatInt(pb.ChallengeId, 10), bTok, nil).Expect(t, http.StatusOK)
	// Off the board, the participation is an ordinary challenge again.
	h.Do(t, "DELETE", "/challenges/"+strconv.FormatInt(pa.ChallengeId, 10), aTok, nil).Expect(t, http.StatusNoContent)

	// An admin removes anyone but the owner.
	pc := h.join(t, h.user(t, 615), inv.Code)
	h.Do(t, "DELETE", participant(pc.UserId), h.admin(t, adminID), nil).Expect(t, http.StatusNoContent)
	h.Do(t, "DELETE", participant(owner), h.admin(t, adminID), nil).Expect(t, http.StatusConflict)

	for reason, want := range map[string]float64{"left": 1, "removed": 2} {
		if got := h.groupMetric(t, "challenge_group_departures_total", "reason", reason); got != want {
			t.Errorf("departures %s = %v, want %v", reason, got, want)
		}
	}
}

func slicesContainUser(lb leaderboardJSON, uid int64) bool {
	for _, e := range lb.Items {
		if e.UserId == uid {
			return true
		}
	}
	return false
}

// Invites: a code admits while it is usable, joining is open and the
// group is below the cap; an unknown, revoked or expired code is one and
// the same 404; only the owner (or an admin) manages them, and codes are
// shown once.
func TestGroupInvites(t *testing.T) {
	h := newHarness(t)
	const owner, c1, c2, c3, outsider = 621, 622, 623, 624, 625
	ownerTok := h.user(t, owner)
	g := h.createGroup(t, ownerTok)
	plain := h.invite(t, ownerTok, g.Id, nil)
	capped := h.invite(t, ownerTok, g.Id, map[string]any{"maxParticipants": 2})
	expiring := h.invite(t, ownerTok, g.Id, map[string]any{"expiresAt": time.Now().Add(time.Hour).Format(time.RFC3339)})
	revoked := h.invite(t, ownerTok, g.Id, nil)
	if *capped.MaxParticipants != 2 || expiring.ExpiresAt == nil {
		t.Fatalf("invites %+v %+v", capped, expiring)
	}

	h.Do(t, "DELETE", groupPath(g.Id, "/invites/"+strconv.FormatInt(revoked.Id, 10)), ownerTok, nil).Expect(t, http.StatusNoContent)
	h.Do(t, "DELETE", groupPath(g.Id, "/invites/"+strconv.FormatInt(revoked.Id, 10)), ownerTok, nil).Expect(t, http.StatusNoContent)
	h.Do(t, "DELETE", groupPath(g.Id, "/invites/424242"), ownerTok, nil).Expect(t, http.StatusNotFound)
	// The expiry passes (set in the database rather than waited for).
	_, err := h.svc.Repo.Client().ExecContext(context.Background(), "UPDATE group_invites SET expires_at = ? WHERE id = ?",
		time.Now().UTC().Add(-time.Second), expiring.Id)
	if err != nil {
		t.Fatal(err)
	}
	unknown := strings.Repeat("A", 43)
	var bodies []string
	for _, code := range []string{unknown, revoked.Code, expiring.Code} {
		p := h.Do(t, "POST", "/challenges/groups/join", h.user(t, c1), map[string]any{"code": code}).
			Expect(t, http.StatusNotFound).Problem(t)
		bodies = append(bodies, p.Title+"|"+p.Detail)
	}
	if bodies[0] != bodies[1] || bodies[1] != bodies[2] {
		t.Fatalf("codes can be told apart: %q", bodies)
	}
	r := h.Do(t, "POST", "/challenges/groups/join", h.user(t, c1), map[string]any{"code": "not-a-code"}).
		Expect(t, http.StatusUnprocessableEntity)
	if f := r.Fields(t); len(f) != 1 || f[0] != "code" {
		t.Fatalf("malformed code: 422 names %v", f)
	}

	// The cap counts the owner: one more through the capped code, then full.
	h.join(t, h.user(t, c1), capped.Code)
	h.Do(t, "POST", "/challenges/groups/join", h.user(t, c2), map[string]any{"code": capped.Code}).Expect(t, http.StatusConflict)
	h.join(t, h.user(t, c2), plain.Code)

	// Closed: nobody joins; only the owner closes.
	c1Tok := h.user(t, c1)
	h.Do(t, "PATCH", groupPath(g.Id, ""), c1Tok, map[string]any{"joiningOpen": false}).Expect(t, http.StatusForbidden)
	h.Do(t, "PATCH", groupPath(g.Id, ""), h.user(t, outsider), map[string]any{"joiningOpen": false}).Expect(t, http.StatusNotFound)
	var closed groupJSON
	h.Do(t, "PATCH", groupPath(g.Id, ""), ownerTok, map[string]any{"joiningOpen": false}).Expect(t, http.StatusOK).Decode(t, &closed)
	if closed.JoiningOpen || closed.Participants != 3 {
		t.Fatalf("closed group %+v", closed)
	}
	h.Do(t, "POST", "/challenges/groups/join", h.user(t, c3), map[string]any{"code": plain.Code}).Expect(t, http.StatusConflict)

	// Codes are shown once; the list never has them.
	lr := h.Do(t, "GET", groupPath(g.Id, "/invites"), ownerTok, nil).Expect(t, http.StatusOK)
	var list client.InviteList
	lr.Decode(t, &list)
	if len(list.Items) != 4 || strings.Contains(string(lr.Body), plain.Code) || strings.Contains(string(lr.Body), `"code"`) {
		t.Fatalf("invites %s", lr.Body)
	}
	usable := map[int64]bool{}
	for _, inv := range list.Items {
		usable[inv.Id] = inv.Usable
	}
	if !usable[plain.Id] || usable[revoked.Id] || usable[expiring.Id] {
		t.Fatalf("usable %v", usable)
	}
	page := h.Do(t, "GET", groupPath(g.Id, "/invites?limit=3"), ownerTok, nil).Expect(t, http.StatusOK)
	page.Decode(t, &list)
	if len(list.Items) != 3 || list.NextCursor == nil {
		t.Fatalf("first page of invites %+v", list)
	}
	h.Do(t, "GET", groupPath(g.Id, "/invites?cursor="+*list.NextCursor), ownerTok, nil).Decode(t, &list)
	if len(list.Items) != 1 || list.Items[0].Id != plain.Id {
		t.Fatalf("second page of invites %+v", list)
	}
	h.Do(t, "GET", groupPath(g.Id, "/invites"), c1Tok, nil).Expect(t, http.StatusForbidden)
	h.Do(t, "POST", groupPath(g.Id, "/invites"), c1Tok, map[string]any{}).Expect(t, http.StatusForbidden)
	h.Do(t, "DELETE", groupPath(g.Id, "/invites/"+strconv.FormatInt(plain.Id, 10)), c1Tok, nil).Expect(t, http.StatusForbidden)
	h.Do(t, "GET", groupPath(g.Id, "/invites"), h.user(t, outsider), nil).Expect(t, http.StatusNotFound)

	for result, want := range map[string]float64{"accepted": 2, "unknown_code": 3, "invalid": 1, "full": 1, "closed": 1} {
		if got := h.groupMetric(t, "challenge_group_joins_total", "result", result); got != want {
			t.Errorf("joins %s = %v, want %v", result, got, want)
		}
	}
}

// The account service's events reach the boards: a rename shows at once
// (an older event does not undo it), a rejected or suspended joiner leaves
// the board, and a deleted user leaves every group and every board (the
// groups they own close to new members).
func TestGroupAccountEvents(t *testing.T) {
	h := newHarness(t)
	const owner, a, b, c, adminID = 631, 632, 633, 634, 902
	ownerTok, aTok, adminTok := h.user(t, owner), h.user(t, a), h.admin(t, adminID)
	g := h.createGroup(t, ownerTok)
	inv := h.invite(t, ownerTok, g.Id, nil)
	pa := h.join(t, aTok, inv.Code)
	pb := h.join(t, h.user(t, b), inv.Code)
	pc := h.join(t, h.user(t, c), inv.Code)
	h.validate(t, *g.YourChallengeId, owner, "Olive", 1)
	h.validate(t, pa.ChallengeId, a, "Ann", 2)
	h.logDay(t, aTok, pa.ChallengeId, 1, 60, "")

	entry := func(uid int64) *client.LeaderboardEntry {
		for _, e := range h.leaderboard(t, adminTok, g.Id, "").Items {
			if e.UserId == uid {
				return &e
			}
		}
		return nil
	}
	renamed := accountEvent(t, "user.updated", updatedData{UserID: a, TimeZone: "UTC", DisplayName: "Ann Renamed"})
	older := accountEvent(t, "user.updated", updatedData{UserID: a, TimeZone: "UTC", DisplayName: "Ann Old"})
	older.Time = renamed.Time.Add(-time.Minute)
	h.publish(t, renamed, older)
	h.waitSettled(t, "user.updated", events.ResultOK, 2)
	if e := entry(a); e == nil || e.DisplayName != "Ann Renamed" || e.TargetsMet != 1 {
		t.Fatalf("after the rename: %+v", e)
	}

	h.publish(t, accountEvent(t, "user.rejected", answerData{ChallengeID: pb.ChallengeId, UserID: b, Reason: "user not found"}))
	h.waitSettled(t, "user.rejected", events.ResultOK, 1)
	h.publish(t, accountEvent(t, "user.suspended", userData{UserID: c}))
	h.waitSettled(t, "user.suspended", events.ResultOK, 1)
	if entry(b) != nil || entry(c) != nil {
		t.Fatal("a rejected joiner is still on the board")
	}
	if got := h.challenge(t, h.user(t, c), pc.ChallengeId); got.Status != "rejected" {
		t.Fatalf("the suspended joiner's participation is %q", got.Status)
	}

	h.publish(t, accountEvent(t, "user.deleted", userData{UserID: owner}))
	h.waitSettled(t, "user.deleted", events.ResultOK, 1)
	lb := h.leaderboard(t, aTok, g.Id, "")
	if lb.Total != 1 || lb.Items[0].UserId != a {
		t.Fatalf("after the owner's deletion: %+v", lb)
	}
	var got groupJSON
	h.Do(t, "GET", groupPath(g.Id, ""), adminTok, nil).Expect(t, http.StatusOK).Decode(t, &got)
	if got.JoiningOpen || got.Participants != 1 {
		t.Fatalf("the deleted owner's group %+v", got)
	}
	h.Do(t, "POST", "/challenges/groups/join", h.user(t, 635), map[string]any{"code": inv.Code}).Expect(t, http.StatusConflict)

	h.publish(t, accountEvent(t, "user.deleted", userData{UserID: a}))
	h.waitSettled(t, "user.deleted", events.ResultOK, 2)
	if lb := h.leaderboard(t, adminTok, g.Id, ""); lb.Total != 0 {
		t.Fatalf("after everyone's deletion: %+v", lb)
	}
	h.Do(t, "GET", groupPath(g.Id, "/leaderboard"), aTok, nil).Expect(t, http.StatusNotFound)
	if got := h.groupMetric(t, "challenge_group_departures_total", "reason", "deleted"); got != 2 {
		t.Errorf("departures deleted = %v, want 2", got)
	}
	if got := h.groupMetric(t, "challenge_group_joins_total", "result", "rejected"); got != 2 {
		t.Errorf("joins rejected = %v, want 2", got)
	}
}
