package service_test

import (
	"crypto/rsa"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/progressive-overload/po/services/kit/auth"
	"github.com/progressive-overload/po/services/kit/testkit"
)

func mintWith(t testing.TB, key *rsa.PrivateKey, audience string, now time.Time, userID int64) string {
	t.Helper()
	ks, err := auth.NewKeySet(key)
	if err != nil {
		t.Fatal(err)
	}
	s, err := auth.NewSigner(ks, auth.SignerConfig{Issuer: testkit.Issuer, Audience: audience, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := s.Sign(auth.Claims{UserID: userID, Role: auth.RoleUser})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// Every route against every kind of caller.
func TestAuthorizationMatrix(t *testing.T) {
	h := newHarness(t)
	const owner, other, adminID = 301, 302, 900
	signing, unknown := keys(t)
	callers := []struct {
		name  string
		token string
	}{
		{"none", ""},
		{"garbage", "not-a-jwt"},
		{"expired", mintWith(t, signing, testkit.Audience, time.Now().Add(-2*time.Hour), owner)},
		{"wrong-audience", mintWith(t, signing, "someone-else", time.Now(), owner)},
		{"unknown-key", mintWith(t, unknown, testkit.Audience, time.Now(), owner)},
		{"owner", h.user(t, owner)},
		{"other", h.user(t, other)},
		{"admin", h.admin(t, adminID)},
	}
	ownerTok := h.user(t, owner)
	type route struct {
		name   string
		method string
		path   func(t testing.TB, id int64) string
		body   any
		// status for owner, other, admin; tokens that do not verify get 401
		owner, other, admin int
	}
	idPath := func(suffix string) func(testing.TB, int64) string {
		return func(_ testing.TB, id int64) string { return "/challenges/" + strconv.FormatInt(id, 10) + suffix }
	}
	fixed := func(p string) func(testing.TB, int64) string { return func(testing.TB, int64) string { return p } }
	// A fresh log of the owner's on each call: the owner's warm-up call
	// must not spend the one the caller is tried on.
	newLog := func(t testing.TB, id int64) string {
		return logPath(id, h.logWorkout(t, ownerTok, id, 60).Id)
	}
	routes := []route{
		{"list", "GET", fixed("/challenges"), nil, 200, 200, 200},
		{"list-of-owner", "GET", fixed("/challenges?userId=" + strconv.Itoa(owner)), nil, 200, 403, 200},
		{"create", "POST", fixed("/challenges"), squatBody(), 201, 201, 201},
		{"get", "GET", idPath(""), nil, 200, 403, 200},
		{"rename", "PATCH", idPath(""), map[string]any{"title": "Renamed"}, 200, 403, 200},
		{"delete", "DELETE", idPath(""), nil, 204, 403, 204},
		{"log", "POST", idPath("/logs"), map[string]any{"sets": 5, "reps": 5, "value": 60}, 201, 403, 201},
		{"challenge-logs", "GET", idPath("/logs"), nil, 200, 403, 200},
		{"progress", "GET", idPath("/progress"), nil, 200, 403, 200},
		{"user-logs", "GET", fixed(userLogsPath(owner)), nil, 200, 403, 200},
		{"correct-log", "PATCH", newLog, map[string]any{"value": 62.5}, 200, 403, 200},
		{"delete-log", "DELETE", newLog, nil, 204, 403, 204},
		{"history", "GET", idPath("/history"), nil, 200, 403, 200},
		{"records", "GET", fixed(recordsPath(owner)), nil, 200, 403, 200},
		{"exercise-history", "GET", fixed(exerciseHistoryPath(owner, "Back squat", "kg")), nil, 200, 403, 200},
	}
	for _, rt := range routes {
		for _, c := range callers {
			t.Run(rt.name+"/"+c.name, func(t *testing.T) {
				ch := h.createChallenge(t, ownerTok) // fresh, so DELETE and PATCH start clean
				want := http.StatusUnauthorized
				switch c.name {
				case "owner":
					want = rt.owner
				case "other":
					want = rt.other
				case "admin":
					want = rt.admin
				}
				// Twice: the second read of a cached route is served from the
				// cache and must be authorized just the same. The owner reads
				// first so the cache is warm for the others.
				h.Do(t, rt.method, rt.path(t, ch.Id), ownerTok, rt.body)
				if rt.name == "delete" {
					ch = h.createChallenge(t, ownerTok)
				}
				rounds := 1
				if rt.method == "GET" {
					rounds = 2
				}
				for range rounds {
					path := rt.path(t, ch.Id)
					r := h.Do(t, rt.method, path, c.token, rt.body)
					if r.Status != want {
						t.Fatalf("%s %s as %s: %d %s, want %d", rt.method, path, c.name, r.Status, r.Body, want)
					}
					if want >= 400 {
						r.Problem(t)
					}
					if want == http.StatusUnauthorized && !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Bearer") {
						t.Fatalf("401 without a Bearer challenge: %q", r.Header.Get("WWW-Authenticate"))
					}
				}
			})
		}
	}

	// A user's list holds only their own challenges; an admin's holds everyone's.
	h.createChallenge(t, h.user(t, other))
	var list struct {
		Items []challengeJSON `json:"items"`
	}
	h.Do(t, "GET", "/challenges?limit=100", h.user(t, other), nil).Decode(t, &list)
	for _, c := range list.Items {
		if c.UserId != other {
			t.Fatalf("user %d listed challenge %d of user %d", other, c.Id, c.UserId)
		}
	}
	h.Do(t, "GET", "/challenges?limit=100", h.admin(t, adminID), nil).Decode(t, &list)
	users := map[int64]bool{}
	for _, c := range list.Items {
		users[c.UserId] = true
	}
	if !users[owner] || !users[other] {
		t.Fatalf("admin list covers users %v", users)
	}
	// Admin-created challenges belong to the admin.
	var mine challengeJSON
	h.Do(t, "POST", "/challenges", h.admin(t, adminID), squatBody()).Decode(t, &mine)
	if mine.UserId != adminID {
		t.Fatalf("admin's challenge owned by %d", mine.UserId)
	}
}
