package service_test

import (
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"net/http"
	"testing"
	"time"

	"github.com/progressive-overload/po/services/account/internal/service"
	"github.com/progressive-overload/po/services/kit/testkit/apitest"
)

// withRefreshFamilyMaxAge is REFRESH_FAMILY_MAX_AGE.
func withRefreshFamilyMaxAge(d time.Duration) harnessOption {
	return func(c *service.Config) { c.RefreshFamilyMaxAge = d }
}

// tokenRow is a refresh token as stored.
type tokenRow struct {
	FamilyID        string
	FamilyStartedAt time.Time
	ExpiresAt       time.Time
	UsedAt          sql.NullTime
	RevokedAt       sql.NullTime
}

// tokenRow reads the refresh_tokens row of token.
func (h *harness) tokenRow(t testing.TB, token string) tokenRow {
	t.Helper()
	sum := sha256.Sum256([]byte(token))
	var r tokenRow
	err := h.db.QueryRowContext(t.Context(), `SELECT family_id, family_started_at, expires_at, used_at, revoked_at
		FROM refresh_tokens WHERE token_hash = ?`, hex.EncodeToString(sum[:])).
		Scan(&r.FamilyID, &r.FamilyStartedAt, &r.ExpiresAt, &r.UsedAt, &r.RevokedAt)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func (h *harness) refresh(t testing.TB, token string) apitest.Response {
	t.Helper()
	return h.Do(t, "POST", "/auth/refresh", "", map[string]string{"refreshToken": token})
}

func (h *harness) refreshOK(t testing.TB, token string) tokenPair {
	t.Helper()
	r := h.refresh(t, token)
	r.Expect(t, http.StatusOK)
	var p tokenPair
	r.Decode(t, &p)
	return p
}

// expectExpiredRefresh checks r is the 401 an expired refresh token gets, not
// the reuse answer.
func expectExpiredRefresh(t testing.TB, h *harness, r apitest.Response) {
	t.Helper()
	r.Expect(t, http.StatusUnauthorized)
	if d := r.Problem(t).Detail; d != "invalid or expired refresh token" {
		t.Fatalf("detail %q, want the expired-token answer", d)
	}
}

// near reports whether a and b are within the few seconds a test runs.
func near(a, b time.Time) bool { d := a.Sub(b); return d > -10*time.Second && d < 10*time.Second }

// familyRevocations counts the revoked tokens of family.
func (h *harness) familyRevocations(t testing.TB, family string) int {
	t.Helper()
	var n int
	if err := h.db.QueryRowContext(t.Context(), "SELECT COUNT(*) FROM refresh_tokens WHERE family_id = ? AND revoked_at IS NOT NULL", family).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestRefreshFamilyMaxAge: rotation keeps the family's start (the sign-in),
// no rotated token outlives the family, and once the family is
// REFRESH_FAMILY_MAX_AGE old its token is refused like an expired one without
// revoking anything; other sign-ins go on.
func TestRefreshFamilyMaxAge(t *testing.T) {
	t.Parallel()
	const maxAge = 2160 * time.Hour
	h := newHarness(t, withRefreshFamilyMaxAge(maxAge))
	u := h.signup(t, "family")

	first := h.tokens(t, u)
	row := h.tokenRow(t, first.RefreshToken)
	start, family := row.FamilyStartedAt, row.FamilyID
	end := start.Add(maxAge)
	// The sign-in's time (the service's clock) starts the family.
	if d := start.Sub(h.clock.Now()); d > 0 || d < -time.Minute {
		t.Errorf("a sign-in's family started %v, %s from now", start, d)
	}
	if !near(row.ExpiresAt, start.Add(720*time.Hour)) {
		t.Errorf("a sign-in's token expires %v, want its start + REFRESH_TOKEN_TTL %v", row.ExpiresAt, start.Add(720*time.Hour))
	}

	// Three rotations, 700h apart: each within REFRESH_TOKEN_TTL (720h) of
	// the last, the third 2100h after the sign-in, within its 2160h.
	cur := first.RefreshToken
	for i := 1; i <= 3; i++ {
		h.clock.Advance(700 * time.Hour)
		cur = h.refreshOK(t, cur).RefreshToken
		row := h.tokenRow(t, cur)
		if row.FamilyID != family || !row.FamilyStartedAt.Equal(start) {
			t.Errorf("rotation %d: family %s started %v, want %s started %v", i, row.FamilyID, row.FamilyStartedAt, family, start)
		}
		// Issued 700h*i after the sign-in: min(now + TTL, family end).
		switch {
		case row.ExpiresAt.After(end):
			t.Errorf("rotation %d: expires %v, after the family's end %v", i, row.ExpiresAt, end)
		case i < 3 && !near(row.ExpiresAt, start.Add(time.Duration(i)*700*time.Hour+720*time.Hour)):
			t.Errorf("rotation %d: expires %v, want about %v (its issue + TTL)", i, row.ExpiresAt, start.Add(time.Duration(i)*700*time.Hour+720*time.Hour))
		case i == 3 && !row.ExpiresAt.Equal(end):
			t.Errorf("the last rotation expires %v, want the family's end %v", row.ExpiresAt, end)
		}
	}
	other := h.tokens(t, u) // a sign-in 2100h after the first

	// 2160h after the first sign-in: its family is over.
	h.clock.Advance(60 * time.Hour)
	expectExpiredRefresh(t, h, h.refresh(t, cur))
	expectExpiredRefresh(t, h, h.refresh(t, cur)) // refused, not spent: no reuse either
	if row := h.tokenRow(t, cur); row.UsedAt.Valid || row.RevokedAt.Valid {
		t.Errorf("the refused token: used_at %v revoked_at %v, want neither", row.UsedAt, row.RevokedAt)
	}
	if n := h.familyRevocations(t, family); n != 0 {
		t.Errorf("%d tokens of the ended family revoked, want 0", n)
	}
	// The later sign-in is untouched.
	next := h.refreshOK(t, other.RefreshToken)
	if row := h.tokenRow(t, next.RefreshToken); row.FamilyID == family || !row.FamilyStartedAt.After(start) {
		t.Errorf("the other sign-in's token: family %s started %v", row.FamilyID, row.FamilyStartedAt)
	}
}

// TestRefreshFamilyCapsOlderTokens: a token whose own expiry is later than its
// family's end (issued before the cap existed, or under a larger
// REFRESH_FAMILY_MAX_AGE) is refused at the family's end, and its rotation
// expires at the family's end.
func TestRefreshFamilyCapsOlderTokens(t *testing.T) {
	t.Parallel()
	const maxAge = 2160 * time.Hour
	h := newHarness(t, withRefreshFamilyMaxAge(maxAge))
	u := h.signup(t, "older")
	// age makes token's family start 2159h ago: it ends in an hour, long
	// before the token's own expiry.
	age := func(token string) tokenRow {
		t.Helper()
		sum := sha256.Sum256([]byte(token))
		if _, err := h.db.ExecContext(t.Context(), "UPDATE refresh_tokens SET family_started_at = family_started_at - INTERVAL 2159 HOUR WHERE token_hash = ?",
			hex.EncodeToString(sum[:])); err != nil {
			t.Fatal(err)
		}
		return h.tokenRow(t, token)
	}

	a := h.tokens(t, u)
	aRow := age(a.RefreshToken)
	rotated := h.refreshOK(t, a.RefreshToken)
	row := h.tokenRow(t, rotated.RefreshToken)
	if end := aRow.FamilyStartedAt.Add(maxAge); !row.FamilyStartedAt.Equal(aRow.FamilyStartedAt) || !row.ExpiresAt.Equal(end) {
		t.Errorf("rotated: family started %v expires %v, want %v and the family's end %v", row.FamilyStartedAt, row.ExpiresAt, aRow.FamilyStartedAt, end)
	}

	b := h.tokens(t, u)
	bRow := age(b.RefreshToken)
	if !bRow.ExpiresAt.After(bRow.FamilyStartedAt.Add(maxAge)) {
		t.Fatalf("setup: token expires %v, not after its family's end", bRow.ExpiresAt)
	}
	c := h.tokens(t, u)

	h.clock.Advance(time.Hour)
	expectExpiredRefresh(t, h, h.refresh(t, b.RefreshToken))
	expectExpiredRefresh(t, h, h.refresh(t, rotated.RefreshToken))
	if row := h.tokenRow(t, b.RefreshToken); row.UsedAt.Valid || row.RevokedAt.Valid {
		t.Errorf("the refused token: used_at %v revoked_at %v, want neither", row.UsedAt, row.RevokedAt)
	}
	for _, family := range []string{aRow.FamilyID, bRow.FamilyID} {
		if n := h.familyRevocations(t, family); n != 0 {
			t.Errorf("%d tokens of family %s revoked, want 0", n, family)
		}
	}
	h.refreshOK(t, c.RefreshToken) // a younger sign-in goes on
}

// TestRefreshFamilyMaxAgeBelowTTL: a REFRESH_FAMILY_MAX_AGE below
// REFRESH_TOKEN_TTL caps every refresh token's lifetime.
func TestRefreshFamilyMaxAgeBelowTTL(t *testing.T) {
	t.Parallel()
	h := newHarness(t, withRefreshFamilyMaxAge(48*time.Hour))
	u := h.signup(t, "short")

	tok := h.tokens(t, u)
	row := h.tokenRow(t, tok.RefreshToken)
	end := row.FamilyStartedAt.Add(48 * time.Hour)
	if !row.ExpiresAt.Equal(end) {
		t.Errorf("a sign-in's token expires %v, want its family's end %v", row.ExpiresAt, end)
	}
	h.clock.Advance(47 * time.Hour)
	next := h.refreshOK(t, tok.RefreshToken)
	if row := h.tokenRow(t, next.RefreshToken); !row.ExpiresAt.Equal(end) {
		t.Errorf("rotated token expires %v, want the family's end %v", row.ExpiresAt, end)
	}
	h.clock.Advance(time.Hour)
	expectExpiredRefresh(t, h, h.refresh(t, next.RefreshToken))
}
