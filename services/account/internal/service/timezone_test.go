package service_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/progressive-overload/po/services/kit/testkit"
)

// tzClaim reads the tz claim of an access token (its signature is the
// verifier's business, tested in kit/auth).
func tzClaim(t *testing.T, token string) string {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q", token)
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		TZ *string `json:"tz"`
	}
	if err := json.Unmarshal(payload, &c); err != nil || c.TZ == nil {
		t.Fatalf("payload %s: %v", payload, err)
	}
	return *c.TZ
}

// A time zone chosen at signup is stored, shown, signed into tokens and
// sent with user.validated (with the display name); PATCH /users/me changes
// it and announces the change as user.updated, which carries the whole
// profile; a name the tz database does not know is a 422 naming timeZone.
func TestTimeZone(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	tap := h.tap(t, "user.validated", "user.updated")

	u := user{Email: "tz-" + testkit.RandomHex(4) + "@example.com", Password: "password " + testkit.RandomHex(4)}
	var got userJSON
	h.Do(t, "POST", "/auth/signup", "", map[string]string{
		"email": u.Email, "password": u.Password, "displayName": "Tz", "timeZone": "America/Los_Angeles",
	}).Expect(t, http.StatusCreated).Decode(t, &got)
	u.ID = got.Id
	if got.TimeZone != "America/Los_Angeles" {
		t.Fatalf("signup zone %q", got.TimeZone)
	}
	tok := h.tokens(t, u).AccessToken
	if z := tzClaim(t, tok); z != "America/Los_Angeles" {
		t.Fatalf("token zone %q", z)
	}
	if plain := h.signup(t, "plain"); tzClaim(t, h.tokens(t, plain).AccessToken) != "UTC" {
		t.Fatal("an account that chose no zone is not UTC")
	}

	h.publish(t, challengeCreated(t, map[string]any{"challengeId": 301, "userId": u.ID}))
	if v := tap.next(t); v.typ != "user.validated" ||
		v.data != `{"challengeId":301,"userId":`+strconv.FormatInt(u.ID, 10)+`,"timeZone":"America/Los_Angeles","displayName":"Tz"}` {
		t.Fatalf("verdict %s %s", v.typ, v.data)
	}

	h.Do(t, "PATCH", "/users/me", tok, map[string]string{"timeZone": "Europe/Berlin"}).
		Expect(t, http.StatusOK).Decode(t, &got)
	if got.TimeZone != "Europe/Berlin" {
		t.Fatalf("patched zone %q", got.TimeZone)
	}
	if v := tap.next(t); v.typ != "user.updated" ||
		v.data != `{"userId":`+strconv.FormatInt(u.ID, 10)+`,"timeZone":"Europe/Berlin","displayName":"Tz"}` {
		t.Fatalf("update %s %s", v.typ, v.data)
	}
	if z := tzClaim(t, h.tokens(t, u).AccessToken); z != "Europe/Berlin" {
		t.Fatalf("new token's zone %q", z)
	}
	// The same zone again changes nothing and announces nothing.
	h.Do(t, "PATCH", "/users/me", tok, map[string]string{"timeZone": "Europe/Berlin"}).Expect(t, http.StatusOK)

	for _, bad := range []string{"Mars/Olympus_Mons", "Local", "europe/berlin", "", strings.Repeat("A", 65)} {
		r := h.Do(t, "PATCH", "/users/me", tok, map[string]string{"timeZone": bad}).Expect(t, http.StatusUnprocessableEntity)
		if f := r.Fields(t); !slices.Equal(f, []string{"timeZone"}) {
			t.Errorf("%q: 422 names %v", bad, f)
		}
		r = h.Do(t, "POST", "/auth/signup", "", map[string]string{
			"email": "bad-" + testkit.RandomHex(4) + "@example.com", "password": "password 1234", "displayName": "B", "timeZone": bad,
		}).Expect(t, http.StatusUnprocessableEntity)
		if f := r.Fields(t); !slices.Equal(f, []string{"timeZone"}) {
			t.Errorf("signup %q: 422 names %v", bad, f)
		}
	}
	if n := tap.drain(t); n != 0 {
		t.Fatalf("%d events more than the changes", n)
	}
}

// A new display name is announced as user.updated with the whole profile
// (the challenge service shows it on group leaderboards); a PATCH of the
// name and the zone together is one event with both; the same name again,
// or a password change alone, announces nothing.
func TestDisplayNameAnnounced(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	tap := h.tap(t, "user.updated")
	u := user{Email: "dn-" + testkit.RandomHex(4) + "@example.com", Password: "password " + testkit.RandomHex(4)}
	var got userJSON
	h.Do(t, "POST", "/auth/signup", "", map[string]string{
		"email": u.Email, "password": u.Password, "displayName": "Ada", "timeZone": "Europe/London",
	}).Expect(t, http.StatusCreated).Decode(t, &got)
	u.ID = got.Id
	tok := h.tokens(t, u).AccessToken
	id := strconv.FormatInt(u.ID, 10)

	h.Do(t, "PATCH", "/users/me", tok, map[string]string{"displayName": "Ada L."}).Expect(t, http.StatusOK)
	if v := tap.next(t); v.typ != "user.updated" ||
		v.data != `{"userId":`+id+`,"timeZone":"Europe/London","displayName":"Ada L."}` {
		t.Fatalf("rename %s %s", v.typ, v.data)
	}
	h.Do(t, "PATCH", "/users/me", tok, map[string]string{"displayName": "Ada Lovelace", "timeZone": "Europe/Paris"}).Expect(t, http.StatusOK)
	if v := tap.next(t); v.typ != "user.updated" ||
		v.data != `{"userId":`+id+`,"timeZone":"Europe/Paris","displayName":"Ada Lovelace"}` {
		t.Fatalf("rename and move %s %s", v.typ, v.data)
	}
	h.Do(t, "PATCH", "/users/me", tok, map[string]string{"displayName": "Ada Lovelace"}).Expect(t, http.StatusOK)
	h.Do(t, "PATCH", "/users/me", tok, map[string]string{"password": "another password 1", "currentPassword": u.Password}).
		Expect(t, http.StatusOK)
	if n := tap.drain(t); n != 0 {
		t.Fatalf("%d events more than the changes", n)
	}
}
