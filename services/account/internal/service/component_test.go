package service_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/progressive-overload/po/services/kit/auth"
	"github.com/progressive-overload/po/services/kit/testkit"
	"github.com/progressive-overload/po/services/kit/testkit/apitest"

	"github.com/progressive-overload/po/services/account/api"
)

// TestWalkthrough is the README's curl walk-through and the rest of a
// account's life: sign up, sign in, read and change the account, change the
// password, delete it.
func TestWalkthrough(t *testing.T) {
	t.Parallel()
	h := newHarness(t)

	r := h.Do(t, "POST", "/auth/signup", "", map[string]string{
		"email": "  Ada.Lovelace@Example.COM ", "password": "correct horse battery", "displayName": " Ada ",
	})
	r.Expect(t, http.StatusCreated)
	var created userJSON
	r.Decode(t, &created)
	if created.Email != "ada.lovelace@example.com" || created.DisplayName != "Ada" || created.Role != "user" || created.Status != "active" || created.Id <= 0 {
		t.Fatalf("signup returned %+v", created)
	}

	// Any letter case of the email signs in.
	r = h.login(t, "ADA.LOVELACE@example.com", "correct horse battery")
	r.Expect(t, http.StatusOK)
	var tok tokenPair
	r.Decode(t, &tok)
	if tok.TokenType != "Bearer" || tok.ExpiresIn != 900 || tok.AccessToken == "" || tok.RefreshToken == "" {
		t.Fatalf("login returned %+v", tok)
	}

	r = h.Do(t, "GET", "/users/me", tok.AccessToken, nil)
	r.Expect(t, http.StatusOK)
	var me userJSON
	r.Decode(t, &me)
	if me != created {
		t.Fatalf("/users/me = %+v, want %+v", me, created)
	}
	r = h.Do(t, "GET", "/users/"+strconv.FormatInt(me.Id, 10), tok.AccessToken, nil)
	r.Expect(t, http.StatusOK)

	r = h.Do(t, "PATCH", "/users/me", tok.AccessToken, map[string]string{"displayName": "Countess"})
	r.Expect(t, http.StatusOK)
	r.Decode(t, &me)
	if me.DisplayName != "Countess" || me.UpdatedAt.Before(created.UpdatedAt) {
		t.Fatalf("after rename: %+v", me)
	}
	// An empty patch changes nothing.
	h.Do(t, "PATCH", "/users/me", tok.AccessToken, map[string]string{}).Expect(t, http.StatusOK)

	// A password change needs the right current password.
	r = h.Do(t, "PATCH", "/users/me", tok.AccessToken, map[string]string{"password": "new password 2"})
	r.Expect(t, http.StatusUnprocessableEntity)
	if f := r.Fields(t); !slices.Equal(f, []string{"currentPassword"}) {
		t.Fatalf("fields %v", f)
	}
	r = h.Do(t, "PATCH", "/users/me", tok.AccessToken, map[string]string{"password": "new password 2", "currentPassword": "wrong password"})
	r.Expect(t, http.StatusUnprocessableEntity)
	if f := r.Fields(t); !slices.Equal(f, []string{"currentPassword"}) {
		t.Fatalf("fields %v", f)
	}
	r = h.Do(t, "PATCH", "/users/me", tok.AccessToken, map[string]string{"password": "new password 2", "currentPassword": "correct horse battery"})
	r.Expect(t, http.StatusOK)
	// ...which signs out every session: the refresh token is revoked.
	h.Do(t, "POST", "/auth/refresh", "", map[string]string{"refreshToken": tok.RefreshToken}).Expect(t, http.StatusUnauthorized)
	h.login(t, created.Email, "correct horse battery").Expect(t, http.StatusUnauthorized)
	r = h.login(t, created.Email, "new password 2")
	r.Expect(t, http.StatusOK)
	r.Decode(t, &tok)

	// Delete: the tokens stop working at once, the email is free again.
	h.Do(t, "DELETE", "/users/me", tok.AccessToken, nil).Expect(t, http.StatusNoContent)
	r = h.Do(t, "GET", "/users/me", tok.AccessToken, nil)
	r.Expect(t, http.StatusUnauthorized)
	if got := r.Header.Get("WWW-Authenticate"); !strings.HasPrefix(got, "Bearer") {
		t.Errorf("WWW-Authenticate %q", got)
	}
	h.Do(t, "POST", "/auth/refresh", "", map[string]string{"refreshToken": tok.RefreshToken}).Expect(t, http.StatusUnauthorized)
	h.login(t, created.Email, "new password 2").Expect(t, http.StatusUnauthorized)

	admin := h.adminTokens(t)
	r = h.Do(t, "GET", "/users/"+strconv.FormatInt(created.Id, 10), admin.AccessToken, nil)
	r.Expect(t, http.StatusOK)
	var deleted userJSON
	r.Decode(t, &deleted)
	if deleted.Status != "deleted" || strings.Contains(deleted.Email, "ada") || deleted.DisplayName == "Countess" {
		t.Fatalf("deleted account still shows personal data: %+v", deleted)
	}
	if n := h.outboxCount(t, "user.deleted", created.Id); n != 1 {
		t.Fatalf("%d user.deleted events in the outbox, want 1", n)
	}
	r = h.Do(t, "POST", "/auth/signup", "", map[string]string{
		"email": "ada.lovelace@example.com", "password": "another password", "displayName": "Ada again",
	})
	r.Expect(t, http.StatusCreated)
}

// outboxCount counts outbox rows of typ whose data names userID.
func (h *harness) outboxCount(t testing.TB, typ string, userID int64) int {
	t.Helper()
	var n int
	err := h.db.QueryRowContext(context.Background(),
		"SELECT COUNT(*) FROM outbox_events WHERE event_type = ? AND JSON_EXTRACT(payload, '$.data.userId') = ?",
		typ, userID).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestSignupValidation(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	u := h.signup(t, "taken")

	for _, tc := range []struct {
		name   string
		body   any
		status int
		fields []string
	}{
		{"malformed JSON", `{"email":`, 400, nil},
		{"not an object", `["a"]`, 400, nil},
		{"empty body", ``, 400, nil},
		{"null", `null`, 400, nil},
		{"trailing garbage", `{"email":"a@b.c","password":"12345678","displayName":"x"} x`, 400, nil},
		{"all missing", `{}`, 422, []string{"displayName", "email", "password"}},
		{"wrong types", `{"email":1,"password":true,"displayName":[]}`, 422, []string{"displayName", "email", "password"}},
		{"bad values", map[string]string{"email": "not-an-email", "password": "short", "displayName": "ok"}, 422, []string{"password"}},
		{"bad email", map[string]string{"email": "not-an-email", "password": "long enough", "displayName": "ok"}, 422, []string{"email"}},
		{"display-name email", map[string]string{"email": "Ada <ada@example.com>", "password": "long enough", "displayName": "ok"}, 422, []string{"email"}},
		{"whitespace password", map[string]string{"email": "ws@example.com", "password": "          ", "displayName": "   "}, 422, []string{"password", "displayName"}},
		{"too long", map[string]string{"email": "x@example.com", "password": strings.Repeat("p", 129), "displayName": strings.Repeat("n", 101)}, 422, []string{"displayName", "password"}},
		{"control character", map[string]string{"email": "c@example.com", "password": "long enough", "displayName": "a\u0007b"}, 422, []string{"displayName"}},
		{"duplicate", map[string]string{"email": u.Email, "password": "long enough", "displayName": "x"}, 409, nil},
		{"duplicate other case", map[string]string{"email": strings.ToUpper(u.Email), "password": "long enough", "displayName": "x"}, 409, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := h.Do(t, "POST", "/auth/signup", "", tc.body)
			r.Expect(t, tc.status)
			if tc.fields != nil {
				if got := r.Fields(t); !slices.Equal(got, tc.fields) {
					t.Fatalf("invalid fields %v, want %v", got, tc.fields)
				}
			}
		})
	}
	t.Run("not JSON", func(t *testing.T) {
		r := h.Do(t, "POST", "/auth/signup", "", "email=a", "Content-Type", "application/x-www-form-urlencoded")
		r.Expect(t, http.StatusUnsupportedMediaType)
	})
	t.Run("body too large", func(t *testing.T) {
		// Announce a body over HTTP_BODY_LIMIT without sending it: the server
		// answers from the headers, and a client still writing would see
		// the connection close under it.
		conn, err := net.Dial("tcp", strings.TrimPrefix(h.BaseURL, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		_, err = fmt.Fprintf(conn, "POST /auth/signup HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", 2<<20)
		if err != nil {
			t.Fatal(err)
		}
		res, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		if res.StatusCode != http.StatusRequestEntityTooLarge || !strings.HasPrefix(res.Header.Get("Content-Type"), "application/problem+json") {
			t.Fatalf("got %d %s", res.StatusCode, res.Header.Get("Content-Type"))
		}
	})
}

// TestLoginFailures: a wrong password and an unknown email get the same
// answer.
func TestLoginFailures(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	u := h.signup(t, "login")

	wrongPassword := h.login(t, u.Email, "not the password")
	unknownEmail := h.login(t, "nobody-"+testkit.RandomHex(4)+"@example.com", u.Password)
	wrongPassword.Expect(t, http.StatusUnauthorized)
	unknownEmail.Expect(t, http.StatusUnauthorized)
	if string(wrongPassword.Body) != string(unknownEmail.Body) {
		t.Fatalf("answers differ:\n%s\n%s", wrongPassword.Body, unknownEmail.Body)
	}
	r := h.Do(t, "POST", "/auth/login", "", map[string]string{"email": "", "password": ""})
	r.Expect(t, http.StatusUnprocessableEntity)
	if got := r.Fields(t); !slices.Equal(got, []string{"email", "password"}) {
		t.Fatalf("fields %v", got)
	}
	h.Do(t, "POST", "/auth/login", "", `{"email":"a@b.c"`).Expect(t, http.StatusBadRequest)
	h.login(t, u.Email, u.Password).Expect(t, http.StatusOK)
}

// TestLockout: after LOGIN_MAX_FAILURES failures attempts get 429 with
// Retry-After, even with the right password, until the window ends.
func TestLockout(t *testing.T) {
	t.Parallel()
	h := newHarness(t, withLogin(3, 2*time.Second))
	lockoutAndExpiry(t, h)
}

// TestLockoutWithoutRedis: with Redis unreachable the throttle counts in
// memory, and sign-in keeps working.
func TestLockoutWithoutRedis(t *testing.T) {
	t.Parallel()
	h := newHarness(t, withLogin(3, 2*time.Second), withRedisURL("redis://127.0.0.1:1/0"))
	lockoutAndExpiry(t, h)
}

func lockoutAndExpiry(t *testing.T, h *harness) {
	u := h.signup(t, "lock")
	for range 3 {
		h.login(t, u.Email, "wrong password").Expect(t, http.StatusUnauthorized)
	}
	r := h.login(t, u.Email, u.Password)
	r.Expect(t, http.StatusTooManyRequests)
	if s, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || s < 1 || s > 2 {
		t.Fatalf("Retry-After %q", r.Header.Get("Retry-After"))
	}
	if p := r.Problem(t); p.Type != "urn:progressive-overload:problem:rate-limited" {
		t.Fatalf("problem type %q", p.Type)
	}
	// The window ends: the right password works again (failures no longer
	// count while locked, so polling does not extend it).
	var last apitest.Response
	testkit.Eventually(t, "the lockout to expire", func() bool {
		last = h.login(t, u.Email, u.Password)
		if last.Status != http.StatusTooManyRequests && last.Status != http.StatusOK {
			t.Fatalf("while waiting: %s", last)
		}
		return last.Status == http.StatusOK
	})

	// Per client address: failures for several emails add up.
	other := h.signup(t, "lock2")
	for i := range 3 {
		h.login(t, "nobody"+strconv.Itoa(i)+"@example.com", "x").Expect(t, http.StatusUnauthorized)
	}
	h.login(t, other.Email, other.Password).Expect(t, http.StatusTooManyRequests)
}

// loginFrom signs in through a proxy that forwarded for xff.
func (h *harness) loginFrom(t testing.TB, xff, email, password string) apitest.Response {
	t.Helper()
	return h.Do(t, "POST", "/auth/login", "", map[string]string{"email": email, "password": password}, "X-Forwarded-For", xff)
}

// TestLockoutPerForwardedClient: behind a trusted proxy (TRUSTED_PROXIES
// covers the test client, 127.0.0.1, which plays the ingress), failed
// sign-ins count per client the proxy forwarded for: one client locking its
// address out leaves the others, behind the same proxy, alone.
func TestLockoutPerForwardedClient(t *testing.T) {
	t.Parallel()
	h := newHarness(t, withLogin(3, time.Minute), withTrustedProxies("127.0.0.1/32"))
	const attacker, other = "203.0.113.7", "198.51.100.9"
	u := h.signup(t, "proxied")
	for i := range 3 { // several emails: only the attacker's address adds up
		h.loginFrom(t, attacker, "nobody"+strconv.Itoa(i)+"@example.com", "x").Expect(t, http.StatusUnauthorized)
	}
	h.loginFrom(t, attacker, u.Email, u.Password).Expect(t, http.StatusTooManyRequests)
	// What the attacker writes itself is left of what the proxy appended.
	h.loginFrom(t, other+", "+attacker, u.Email, u.Password).Expect(t, http.StatusTooManyRequests)
	// Another client behind the same proxy signs in; so does the proxy's own
	// address (a request without the header).
	h.loginFrom(t, other, u.Email, u.Password).Expect(t, http.StatusOK)
	h.loginFrom(t, "10.9.9.9, "+other, u.Email, u.Password).Expect(t, http.StatusOK)
	h.login(t, u.Email, u.Password).Expect(t, http.StatusOK)
}

// TestForwardedForIgnoredWithoutTrustedProxies: with no trusted proxy (the
// default) X-Forwarded-For is the client's own claim and is ignored, so a
// forged header per attempt does not escape the per-address lockout.
func TestForwardedForIgnoredWithoutTrustedProxies(t *testing.T) {
	t.Parallel()
	h := newHarness(t, withLogin(3, time.Minute))
	u := h.signup(t, "direct")
	for i := range 3 {
		h.loginFrom(t, "203.0.113."+strconv.Itoa(i+1), "nobody"+strconv.Itoa(i)+"@example.com", "x").Expect(t, http.StatusUnauthorized)
	}
	h.loginFrom(t, "198.51.100.9", u.Email, u.Password).Expect(t, http.StatusTooManyRequests)
	h.login(t, u.Email, u.Password).Expect(t, http.StatusTooManyRequests)
}

// TestRefresh covers rotation, reuse detection, expiry and logout.
func TestRefresh(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	u := h.signup(t, "refresh")
	refresh := func(token string) apitest.Response {
		return h.Do(t, "POST", "/auth/refresh", "", map[string]string{"refreshToken": token})
	}

	first := h.tokens(t, u)
	r := refresh(first.RefreshToken)
	r.Expect(t, http.StatusOK)
	var second tokenPair
	r.Decode(t, &second)
	if second.RefreshToken == first.RefreshToken || second.AccessToken == "" || second.TokenType != "Bearer" {
		t.Fatalf("refresh returned %+v", second)
	}
	h.Do(t, "GET", "/users/me", second.AccessToken, nil).Expect(t, http.StatusOK)
	r = refresh(second.RefreshToken)
	r.Expect(t, http.StatusOK)
	var third tokenPair
	r.Decode(t, &third)

	// Replaying a spent token revokes the whole family, the newest token too.
	r = refresh(first.RefreshToken)
	r.Expect(t, http.StatusUnauthorized)
	if !strings.Contains(r.Problem(t).Detail, "revoked") {
		t.Fatalf("detail %q", r.Problem(t).Detail)
	}
	refresh(third.RefreshToken).Expect(t, http.StatusUnauthorized)

	// Another sign-in is another family, untouched by that.
	other := h.tokens(t, u)
	refresh(other.RefreshToken).Expect(t, http.StatusOK)

	// Logout revokes; unknown and repeated logouts are 204 as well.
	fresh := h.tokens(t, u)
	h.Do(t, "POST", "/auth/logout", "", map[string]string{"refreshToken": fresh.RefreshToken}).Expect(t, http.StatusNoContent)
	h.Do(t, "POST", "/auth/logout", "", map[string]string{"refreshToken": fresh.RefreshToken}).Expect(t, http.StatusNoContent)
	refresh(fresh.RefreshToken).Expect(t, http.StatusUnauthorized)
	h.Do(t, "POST", "/auth/logout", "", map[string]string{"refreshToken": "unknown"}).Expect(t, http.StatusNoContent)
	h.Do(t, "POST", "/auth/logout", "", map[string]string{"refreshToken": strings.Repeat("A", 43)}).Expect(t, http.StatusNoContent)
	h.Do(t, "POST", "/auth/logout", "", `{"refreshToken":`).Expect(t, http.StatusBadRequest)
	h.Do(t, "POST", "/auth/logout", "", `{}`).Expect(t, http.StatusUnprocessableEntity)

	// Unknown and malformed tokens.
	refresh(strings.Repeat("A", 43)).Expect(t, http.StatusUnauthorized)
	refresh("not a token").Expect(t, http.StatusUnauthorized)
	r = h.Do(t, "POST", "/auth/refresh", "", `{"refreshToken":""}`)
	r.Expect(t, http.StatusUnprocessableEntity)
	if got := r.Fields(t); !slices.Equal(got, []string{"refreshToken"}) {
		t.Fatalf("fields %v", got)
	}

	// Expiry (REFRESH_TOKEN_TTL, 720h here).
	late := h.tokens(t, u)
	h.clock.Advance(721 * time.Hour)
	refresh(late.RefreshToken).Expect(t, http.StatusUnauthorized)
}

// TestProtectedRoutes drives every route that needs a token with each kind
// of credential.
func TestProtectedRoutes(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	owner := h.signup(t, "owner")
	ownerTok := h.tokens(t, owner).AccessToken
	ownerID := strconv.FormatInt(owner.ID, 10)
	keys := testkit.RSAKeys()

	type route struct {
		method, path string
		body         any
	}
	routes := []route{
		{"GET", "/users/me", nil},
		{"PATCH", "/users/me", map[string]string{"displayName": "Renamed"}},
		{"GET", "/users/" + ownerID, nil},
		{"GET", "/users", nil},
		{"PATCH", "/users/" + ownerID + "/status", map[string]string{"status": "active"}},
		{"DELETE", "/users/me", nil}, // last: it ends the caller's account
	}
	// freshAdmin is an admin whose account DELETE /users/me may end.
	freshAdmin := func(t *testing.T) string {
		u := h.signup(t, "admin2")
		if _, err := h.db.ExecContext(context.Background(), "UPDATE users SET role = 'admin' WHERE id = ?", u.ID); err != nil {
			t.Fatal(err)
		}
		return h.tokens(t, u).AccessToken
	}
	for _, tc := range []struct {
		name  string
		token func(t *testing.T) string
		want  []int // per route
	}{
		{"no token", func(*testing.T) string { return "" }, []int{401, 401, 401, 401, 401, 401}},
		{"malformed", func(*testing.T) string { return "not.a.jwt" }, []int{401, 401, 401, 401, 401, 401}},
		{"expired", func(*testing.T) string {
			return sign(t, keys[0], owner.ID, auth.RoleUser, time.Now().Add(-2*time.Hour))
		}, []int{401, 401, 401, 401, 401, 401}},
		{"unknown key", func(*testing.T) string {
			return sign(t, keys[1], owner.ID, auth.RoleAdmin, time.Now())
		}, []int{401, 401, 401, 401, 401, 401}},
		{"unknown user", func(*testing.T) string {
			return sign(t, keys[0], 1<<40, auth.RoleAdmin, time.Now())
		}, []int{401, 401, 401, 401, 401, 401}},
		{"another user's", func(t *testing.T) string {
			return h.tokens(t, h.signup(t, "other")).AccessToken
		}, []int{200, 200, 403, 403, 403, 204}},
		{"owner's", func(*testing.T) string { return ownerTok }, []int{200, 200, 200, 403, 403}},
		{"admin's", freshAdmin, []int{200, 200, 200, 200, 200, 204}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok := tc.token(t)
			for i, want := range tc.want {
				rt := routes[i]
				r := h.Do(t, rt.method, rt.path, tok, rt.body)
				if r.Status != want {
					t.Errorf("%s %s: got %s, want %d", rt.method, rt.path, r, want)
				}
				if want == 401 && r.Header.Get("WWW-Authenticate") == "" {
					t.Errorf("%s %s: 401 without WWW-Authenticate", rt.method, rt.path)
				}
			}
		})
	}
	// A token whose role claim says admin does not make a user an admin:
	// the account's current role decides.
	forged := sign(t, keys[0], owner.ID, auth.RoleAdmin, time.Now())
	h.Do(t, "GET", "/users", forged, nil).Expect(t, http.StatusForbidden)
}

// TestSpecSecurityMatchesRoutes: every operation the spec protects is under
// the prefix the auth middleware guards, and no other one is.
func TestSpecSecurityMatchesRoutes(t *testing.T) {
	t.Parallel()
	doc := apitest.LoadSpec(t, api.Spec) // and validates it
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			protected := op.Security != nil && len(*op.Security) > 0
			under := path == "/users" || strings.HasPrefix(path, "/users/")
			if protected != under {
				t.Errorf("%s %s: security %v but under /users %v", method, path, protected, under)
			}
		}
	}
}

// TestAdmin covers listing and status changes.
func TestAdmin(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	admin := h.adminTokens(t).AccessToken
	var ids []int64
	for i := range 5 {
		ids = append(ids, h.signup(t, "member"+strconv.Itoa(i)).ID)
	}

	// Walk all pages of two.
	var seen []int64
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 10 {
			t.Fatal("pagination does not end")
		}
		path := "/users?limit=2"
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		r := h.Do(t, "GET", path, admin, nil)
		r.Expect(t, http.StatusOK)
		var page struct {
			Items      []userJSON `json:"items"`
			NextCursor *string    `json:"nextCursor"`
		}
		r.Decode(t, &page)
		if len(page.Items) > 2 {
			t.Fatalf("page of %d", len(page.Items))
		}
		for _, u := range page.Items {
			seen = append(seen, u.Id)
		}
		if page.NextCursor == nil {
			break
		}
		cursor = *page.NextCursor
	}
	if len(seen) != 6 || !slices.IsSorted(seen) || !slices.Contains(seen, ids[4]) { // admin + 5
		t.Fatalf("listed %v", seen)
	}
	r := h.Do(t, "GET", "/users", admin, nil)
	r.Expect(t, http.StatusOK)

	for _, q := range []struct{ query, field string }{
		{"limit=0", "limit"}, {"limit=101", "limit"}, {"limit=abc", "limit"}, {"limit=-1", "limit"},
		{"cursor=!!!", "cursor"}, {"cursor=" + "MA", "cursor"}, {"cursor=", "cursor"}, {"cursor=" + strings.Repeat("A", 65), "cursor"},
	} {
		r := h.Do(t, "GET", "/users?"+q.query, admin, nil)
		r.Expect(t, http.StatusUnprocessableEntity)
		if got := r.Fields(t); !slices.Equal(got, []string{q.field}) {
			t.Errorf("?%s: fields %v, want [%s]", q.query, got, q.field)
		}
	}

	// Suspend: tokens stop working, sign-in says suspended, the refresh
	// token is revoked, and user.suspended is in the outbox.
	victim := h.signup(t, "victim")
	vt := h.tokens(t, victim)
	status := func(id int64, s string) apitest.Response {
		return h.Do(t, "PATCH", "/users/"+strconv.FormatInt(id, 10)+"/status", admin, map[string]string{"status": s})
	}
	r = status(victim.ID, "suspended")
	r.Expect(t, http.StatusOK)
	var got userJSON
	r.Decode(t, &got)
	if got.Status != "suspended" {
		t.Fatalf("status %q", got.Status)
	}
	status(victim.ID, "suspended").Expect(t, http.StatusOK) // idempotent: no second event
	h.Do(t, "GET", "/users/me", vt.AccessToken, nil).Expect(t, http.StatusUnauthorized)
	h.Do(t, "POST", "/auth/refresh", "", map[string]string{"refreshToken": vt.RefreshToken}).Expect(t, http.StatusUnauthorized)
	h.login(t, victim.Email, victim.Password).Expect(t, http.StatusForbidden)
	h.login(t, victim.Email, "wrong password").Expect(t, http.StatusUnauthorized)
	if n := h.outboxCount(t, "user.suspended", victim.ID); n != 1 {
		t.Fatalf("%d user.suspended events, want 1", n)
	}
	status(victim.ID, "active").Expect(t, http.StatusOK)
	h.Do(t, "GET", "/users/me", h.tokens(t, victim).AccessToken, nil).Expect(t, http.StatusOK)

	// What cannot be done.
	r = status(victim.ID, "deleted")
	r.Expect(t, http.StatusUnprocessableEntity)
	if got := r.Fields(t); !slices.Equal(got, []string{"status"}) {
		t.Fatalf("fields %v", got)
	}
	status(1<<40, "suspended").Expect(t, http.StatusNotFound)
	h.Do(t, "GET", "/users/1099511627776", admin, nil).Expect(t, http.StatusNotFound)
	h.Do(t, "GET", "/users/0", admin, nil).Expect(t, http.StatusUnprocessableEntity)
	h.Do(t, "GET", "/users/abc", admin, nil).Expect(t, http.StatusUnprocessableEntity)
	var adminID int64
	h.Do(t, "GET", "/users/me", admin, nil).Decode(t, &struct {
		ID *int64 `json:"id"`
	}{&adminID})
	status(adminID, "suspended").Expect(t, http.StatusConflict)
	gone := h.signup(t, "gone")
	h.Do(t, "DELETE", "/users/me", h.tokens(t, gone).AccessToken, nil).Expect(t, http.StatusNoContent)
	status(gone.ID, "active").Expect(t, http.StatusConflict)
}

// TestAdminBootstrapIsIdempotent: starting again with the same ADMIN_* does
// not create a second admin or change the first.
func TestAdminBootstrapIsIdempotent(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := context.Background()
	cfg := h.cfg
	cfg.AdminPassword = "a different password"
	svc, err := newService(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	svc.Close()
	var n int
	if err := h.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM users WHERE role = 'admin'").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Fatalf("%d admins", n)
	}
	h.adminTokens(t) // the original password still works
}

// TestPlatformEndpoints: JWKS, probes, metrics and API docs.
func TestPlatformEndpoints(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	r := h.Do(t, "GET", "/.well-known/jwks.json", "", nil)
	r.Expect(t, http.StatusOK)
	var set struct {
		Keys []struct {
			Kid string `json:"kid"`
		} `json:"keys"`
	}
	r.Decode(t, &set)
	if len(set.Keys) != 1 || set.Keys[0].Kid != auth.Thumbprint(&testkit.RSAKeys()[0].PublicKey) {
		t.Fatalf("JWKS %s", r.Body)
	}
	h.Do(t, "GET", "/healthz", "", nil).Expect(t, http.StatusOK)
	h.Do(t, "GET", "/readyz", "", nil).Expect(t, http.StatusOK)
	h.Do(t, "GET", "/api-docs/openapi.yaml", "", nil).Expect(t, http.StatusOK)
	h.Do(t, "GET", "/no/such/route", "", nil).Expect(t, http.StatusNotFound)
	h.signup(t, "metrics")
	// The outbox gauges appear with the relay's first statistics pass.
	testkit.Eventually(t, "the metrics", func() bool {
		r := h.Do(t, "GET", "/metrics", "", nil)
		r.Expect(t, http.StatusOK)
		for _, want := range []string{
			`http_requests_total{code="201",method="POST",route="/auth/signup",service="account"}`,
			`http_request_duration_seconds_bucket{method="POST",route="/auth/signup",service="account"`,
			`outbox_pending{service="account"}`,
		} {
			if !strings.Contains(string(r.Body), want) {
				return false
			}
		}
		return true
	})
}

// TestKeyRotation: tokens signed with a previous key (JWT_PREVIOUS_KEY_FILES)
// are still accepted, and the JWKS publishes both keys, the signing key first.
func TestKeyRotation(t *testing.T) {
	t.Parallel()
	h := newHarness(t, withPreviousKey(t))
	u := h.signup(t, "rotated")
	keys := testkit.RSAKeys()
	old := sign(t, keys[1], u.ID, auth.RoleUser, time.Now())
	h.Do(t, "GET", "/users/me", old, nil).Expect(t, http.StatusOK)
	r := h.Do(t, "GET", "/.well-known/jwks.json", "", nil)
	var set struct {
		Keys []struct {
			Kid string `json:"kid"`
		} `json:"keys"`
	}
	r.Decode(t, &set)
	if len(set.Keys) != 2 || set.Keys[0].Kid != auth.Thumbprint(&keys[0].PublicKey) || set.Keys[1].Kid != auth.Thumbprint(&keys[1].PublicKey) {
		t.Fatalf("JWKS %s", r.Body)
	}
}

// TestConcurrentRefresh: the same refresh token presented twice at once is
// spent once; the other request sees a spent token, which revokes the family.
func TestConcurrentRefresh(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	u := h.signup(t, "race")
	for range 3 {
		tok := h.tokens(t, u)
		type result struct {
			r   apitest.Response
			err error
		}
		results := make(chan result, 2)
		for range 2 {
			go func() {
				r, err := h.Try("POST", "/auth/refresh", "", map[string]string{"refreshToken": tok.RefreshToken})
				results <- result{r, err}
			}()
		}
		ra, rb := <-results, <-results
		for _, res := range []result{ra, rb} {
			if res.err != nil {
				t.Fatal(res.err)
			}
		}
		a, b := ra.r, rb.r
		if a.Status > b.Status {
			a, b = b, a
		}
		if a.Status != http.StatusOK || b.Status != http.StatusUnauthorized {
			t.Fatalf("concurrent refreshes: %s and %s, want one 200 and one 401", a, b)
		}
		var won tokenPair
		a.Decode(t, &won)
		h.Do(t, "POST", "/auth/refresh", "", map[string]string{"refreshToken": won.RefreshToken}).Expect(t, http.StatusUnauthorized)
	}
}
