package domain_test

import (
	"testing"
	"time"

	"github.com/progressive-overload/po/services/account/internal/domain"
)

func TestRefreshTokenFamilyExpired(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tok := domain.RefreshToken{FamilyStartedAt: start, ExpiresAt: start.Add(720 * time.Hour)}
	const maxAge = 2160 * time.Hour
	if end := tok.FamilyEnd(maxAge); !end.Equal(start.Add(maxAge)) {
		t.Fatalf("FamilyEnd = %v", end)
	}
	for _, c := range []struct {
		at   time.Time
		want bool
	}{
		{start, false},
		{start.Add(maxAge - time.Microsecond), false},
		{start.Add(maxAge), true}, // at the end: over
		{start.Add(maxAge + time.Hour), true},
	} {
		if got := tok.FamilyExpired(c.at, maxAge); got != c.want {
			t.Errorf("FamilyExpired(%v) = %v, want %v", c.at, got, c.want)
		}
	}
}
