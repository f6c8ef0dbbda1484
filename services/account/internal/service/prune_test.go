package service_test

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/progressive-overload/po/services/kit/testkit"

	"github.com/progressive-overload/po/services/account/internal/service"
	"github.com/progressive-overload/po/services/kit/testkit/apitest"
)

// withExpiredRefreshTokenRetention is EXPIRED_REFRESH_TOKEN_RETENTION (off,
// zero, in testConfig).
func withExpiredRefreshTokenRetention(d time.Duration) harnessOption {
	return func(c *service.Config) { c.ExpiredRefreshTokenRetention = d }
}

// tokenRows counts the refresh_tokens rows of token.
func (h *harness) tokenRows(t testing.TB, token string) int {
	t.Helper()
	sum := sha256.Sum256([]byte(token))
	var n int
	if err := h.db.QueryRowContext(t.Context(), "SELECT COUNT(*) FROM refresh_tokens WHERE token_hash = ?", hex.EncodeToString(sum[:])).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestExpiredRefreshTokensArePruned: the service deletes the refresh tokens
// that expired longer than EXPIRED_REFRESH_TOKEN_RETENTION ago and keeps live
// tokens and those that expired more recently, spent or not; within that
// grace a spent token presented again is still recognised as reused.
func TestExpiredRefreshTokensArePruned(t *testing.T) {
	t.Parallel()
	h := newHarness(t, withExpiredRefreshTokenRetention(24*time.Hour))
	u := h.signup(t, "pruned")
	refresh := func(token string) apitest.Response {
		return h.Do(t, "POST", "/auth/refresh", "", map[string]string{"refreshToken": token})
	}

	gone := h.tokens(t, u) // expires after 720h (REFRESH_TOKEN_TTL)
	h.clock.Advance(24 * time.Hour)
	spent := h.tokens(t, u) // expires after 744h
	r := refresh(spent.RefreshToken)
	r.Expect(t, http.StatusOK)
	var rotated tokenPair
	r.Decode(t, &rotated)

	// 745h: gone expired 25h ago, spent and rotated 1h ago.
	h.clock.Advance(721 * time.Hour)
	live := h.tokens(t, u)
	testkit.Eventually(t, "the token expired 25h ago to be deleted", func() bool {
		return h.tokenRows(t, gone.RefreshToken) == 0
	})
	time.Sleep(200 * time.Millisecond) // a few more passes (every 50ms here)
	for name, tok := range map[string]string{"spent": spent.RefreshToken, "rotated": rotated.RefreshToken, "live": live.RefreshToken} {
		if n := h.tokenRows(t, tok); n != 1 {
			t.Errorf("%s token: %d rows, want 1", name, n)
		}
	}

	// Reuse within the grace still revokes the family; a deleted token is
	// merely unknown.
	r = refresh(spent.RefreshToken)
	r.Expect(t, http.StatusUnauthorized)
	if d := r.Problem(t).Detail; !strings.Contains(d, "revoked") {
		t.Errorf("spent token within the grace: detail %q, want reuse detected", d)
	}
	r = refresh(gone.RefreshToken)
	r.Expect(t, http.StatusUnauthorized)
	if d := r.Problem(t).Detail; strings.Contains(d, "revoked") {
		t.Errorf("deleted token: detail %q, want unknown", d)
	}
	refresh(live.RefreshToken).Expect(t, http.StatusOK)
}
