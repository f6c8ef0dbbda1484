package service_test

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/progressive-overload/po/services/challenge/internal/app"
	"github.com/progressive-overload/po/services/kit/testkit"
)

// Every group route against every kind of caller: tokens that do not
// verify get 401; the owner and admins manage; a participant reads and
// leaves but manages nothing (403); anyone else may not know the group
// exists (404).
func TestGroupAuthorizationMatrix(t *testing.T) {
	h := newHarness(t)
	const owner, member, outsider, adminID = 801, 802, 803, 904
	signing, unknown := keys(t)
	ownerTok := h.user(t, owner)
	type caller struct{ name, token string }
	callers := []caller{
		{"none", ""},
		{"garbage", "not-a-jwt"},
		{"expired", mintWith(t, signing, testkit.Audience, time.Now().Add(-2*time.Hour), owner)},
		{"unknown-key", mintWith(t, unknown, testkit.Audience, time.Now(), owner)},
		{"owner", ownerTok},
		{"member", h.user(t, member)},
		{"outsider", h.user(t, outsider)},
		{"admin", h.admin(t, adminID)},
	}
	// setup is a fresh group the member has joined, and a fresh invite.
	setup := func(t *testing.T) (groupJSON, int64) {
		g := h.createGroup(t, ownerTok)
		inv := h.invite(t, ownerTok, g.Id, nil)
		h.join(t, h.user(t, member), inv.Code)
		return g, inv.Id
	}
	type route struct {
		name   string
		method string
		path   func(g groupJSON, inviteID int64) string
		body   any
		// owner, member, outsider, admin
		want [4]int
	}
	at := func(suffix string) func(groupJSON, int64) string {
		return func(g groupJSON, _ int64) string { return groupPath(g.Id, suffix) }
	}
	routes := []route{
		{"get", "GET", at(""), nil, [4]int{200, 200, 404, 200}},
		{"leaderboard", "GET", at("/leaderboard"), nil, [4]int{200, 200, 404, 200}},
		{"close", "PATCH", at(""), map[string]any{"joiningOpen": false}, [4]int{200, 403, 404, 200}},
		{"create-invite", "POST", at("/invites"), map[string]any{}, [4]int{201, 403, 404, 201}},
		{"list-invites", "GET", at("/invites"), nil, [4]int{200, 403, 404, 200}},
		{"revoke-invite", "DELETE", func(g groupJSON, inv int64) string {
			return groupPath(g.Id, "/invites/"+strconv.FormatInt(inv, 10))
		}, nil, [4]int{204, 403, 404, 204}},
		{"remove-member", "DELETE", at("/participants/" + strconv.Itoa(member)), nil, [4]int{204, 204, 404, 204}},
		{"remove-owner", "DELETE", at("/participants/" + strconv.Itoa(owner)), nil, [4]int{409, 403, 404, 409}},
		{"list", "GET", func(groupJSON, int64) string { return "/challenges/groups" }, nil, [4]int{200, 200, 200, 200}},
		{"create", "POST", func(groupJSON, int64) string { return "/challenges/groups" }, squatBody(), [4]int{201, 201, 201, 201}},
	}
	for _, rt := range routes {
		for _, c := range callers {
			t.Run(rt.name+"/"+c.name, func(t *testing.T) {
				g, inv := setup(t)
				want := http.StatusUnauthorized
				switch c.name {
				case "owner":
					want = rt.want[0]
				case "member":
					want = rt.want[1]
				case "outsider":
					want = rt.want[2]
				case "admin":
					want = rt.want[3]
				}
				r := h.Do(t, rt.method, rt.path(g, inv), c.token, rt.body)
				if r.Status != want {
					t.Fatalf("%s %s as %s: %d %s, want %d", rt.method, rt.path(g, inv), c.name, r.Status, r.Body, want)
				}
				if want >= 400 {
					r.Problem(t)
				}
			})
		}
	}
	// Joining is anyone's with a code, and nobody's without a valid token.
	g, _ := setup(t)
	code := h.invite(t, ownerTok, g.Id, nil).Code
	for _, c := range callers[:4] {
		h.Do(t, "POST", "/challenges/groups/join", c.token, map[string]any{"code": code}).Expect(t, http.StatusUnauthorized)
	}
	h.join(t, h.admin(t, adminID), code)
}

// Bad input to the group routes gets a 4xx problem+json naming what is
// wrong, never a 5xx, and changes nothing.
func TestGroupBadInput(t *testing.T) {
	h := newHarness(t)
	const owner = 811
	tok := h.user(t, owner)
	g := h.createGroup(t, tok)
	gid := strconv.FormatInt(g.Id, 10)
	cases := []struct {
		name   string
		method string
		path   string
		body   any
		status int
		fields []string
	}{
		{"create not an object", "POST", "/challenges/groups", `[1]`, 400, nil},
		{"create missing fields", "POST", "/challenges/groups", `{}`, 422,
			[]string{"title", "exercise", "unit", "startValue", "increment", "incrementEvery", "sessionsPerWeek", "weeks"}},
		{"create invalid plan", "POST", "/challenges/groups", map[string]any{
			"title": " ", "exercise": "e", "unit": "reps", "startValue": 0.5, "increment": 1,
			"incrementEvery": 1, "sessionsPerWeek": 3, "weeks": 4, "startDate": "1999-12-31",
		}, 422, []string{"title", "startValue", "startDate"}},
		{"join without code", "POST", "/challenges/groups/join", `{}`, 422, []string{"code"}},
		{"join empty code", "POST", "/challenges/groups/join", map[string]any{"code": ""}, 422, []string{"code"}},
		{"join long code", "POST", "/challenges/groups/join", map[string]any{"code": strings.Repeat("A", 129)}, 422, []string{"code"}},
		{"join code of the wrong length", "POST", "/challenges/groups/join", map[string]any{"code": strings.Repeat("A", 44)}, 422, []string{"code"}},
		{"join code not base64url", "POST", "/challenges/groups/join", map[string]any{"code": strings.Repeat("+", 43)}, 422, []string{"code"}},
		{"join code a number", "POST", "/challenges/groups/join", `{"code":43}`, 422, []string{"code"}},
		{"join not json", "POST", "/challenges/groups/join", `{"code":`, 400, nil},
		{"patch without joiningOpen", "PATCH", "/challenges/groups/" + gid, `{}`, 422, []string{"joiningOpen"}},
		{"patch joiningOpen not a bool", "PATCH", "/challenges/groups/" + gid, `{"joiningOpen":"no"}`, 422, []string{"joiningOpen"}},
		{"invite cap of one", "POST", "/challenges/groups/" + gid + "/invites", map[string]any{"maxParticipants": 1}, 422, []string{"maxParticipants"}},
		{"invite cap too big", "POST", "/challenges/groups/" + gid + "/invites", map[string]any{"maxParticipants": 1001}, 422, []string{"maxParticipants"}},
		{"invite expired", "POST", "/challenges/groups/" + gid + "/invites", map[string]any{"expiresAt": "2020-01-01T00:00:00Z"}, 422, []string{"expiresAt"}},
		{"invite too far", "POST", "/challenges/groups/" + gid + "/invites", map[string]any{
			"expiresAt": time.Now().Add(400 * 24 * time.Hour).Format(time.RFC3339),
		}, 422, []string{"expiresAt"}},
		{"invite both wrong", "POST", "/challenges/groups/" + gid + "/invites", `{"expiresAt":"soon","maxParticipants":0}`, 422, []string{"expiresAt", "maxParticipants"}},
		{"invite not an object", "POST", "/challenges/groups/" + gid + "/invites", `null`, 400, nil},
		{"group id not a number", "GET", "/challenges/groups/abc", nil, 422, []string{"groupId"}},
		{"group id overflow", "GET", "/challenges/groups/99999999999999999999/leaderboard", nil, 422, []string{"groupId"}},
		{"no such group", "GET", "/challenges/groups/424242", nil, 404, nil},
		{"negative group", "GET", "/challenges/groups/-1/leaderboard", nil, 404, nil},
		{"invite id not a number", "DELETE", "/challenges/groups/" + gid + "/invites/x", nil, 422, []string{"inviteId"}},
		{"user id not a number", "DELETE", "/challenges/groups/" + gid + "/participants/me", nil, 422, []string{"userId"}},
		{"leaderboard limit zero", "GET", "/challenges/groups/" + gid + "/leaderboard?limit=0", nil, 422, []string{"limit"}},
		{"leaderboard limit too big", "GET", "/challenges/groups/" + gid + "/leaderboard?limit=101", nil, 422, []string{"limit"}},
		{"leaderboard bad cursor", "GET", "/challenges/groups/" + gid + "/leaderboard?cursor=xyz", nil, 422, []string{"cursor"}},
		{"leaderboard cursor of another list", "GET", "/challenges/groups/" + gid + "/leaderboard?cursor=YzE", nil, 422, []string{"cursor"}},
		{"leaderboard cursor past any board", "GET", "/challenges/groups/" + gid + "/leaderboard?cursor=" + url.QueryEscape(app.EncodeLeaderboardCursor(1001)), nil, 422, []string{"cursor"}},
		{"leaderboard limit and cursor", "GET", "/challenges/groups/" + gid + "/leaderboard?limit=ten&cursor=", nil, 422, []string{"limit", "cursor"}},
		{"groups bad cursor", "GET", "/challenges/groups?cursor=cjE", nil, 422, []string{"cursor"}},
		{"invites bad limit", "GET", "/challenges/groups/" + gid + "/invites?limit=-1", nil, 422, []string{"limit"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := h.Do(t, tc.method, tc.path, tok, tc.body)
			if r.Status != tc.status {
				t.Fatalf("%d %s, want %d", r.Status, r.Body, tc.status)
			}
			r.Problem(t)
			if tc.fields != nil {
				got := r.Fields(t)
				slices.Sort(got)
				want := slices.Clone(tc.fields)
				slices.Sort(want)
				if !slices.Equal(got, want) {
					t.Fatalf("422 names %v, want %v (%s)", got, want, r.Body)
				}
			}
		})
	}
	var list struct {
		Items []groupJSON `json:"items"`
	}
	h.Do(t, "GET", "/challenges/groups", tok, nil).Decode(t, &list)
	if len(list.Items) != 1 {
		t.Fatalf("bad input created groups: %+v", list.Items)
	}
	var invites struct {
		Items []any `json:"items"`
	}
	h.Do(t, "GET", groupPath(g.Id, "/invites"), tok, nil).Decode(t, &invites)
	if len(invites.Items) != 0 {
		t.Fatalf("bad input created invites: %+v", invites.Items)
	}
}
