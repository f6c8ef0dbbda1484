package domain_test

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/progressive-overload/po/services/challenge/internal/domain"
)

// A bulk transition moves exactly the statuses the per-challenge method
// accepts, with the reason and timestamp that method would have stored.
func TestBulkTransitionsFollowTheLifeCycle(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.FixedZone("CET", 3600))
	cases := []struct {
		name string
		bulk domain.BulkTransition
		one  func(c *domain.Challenge) error
	}{
		{"archive", domain.ArchiveAll(" user\tdeleted ", now), func(c *domain.Challenge) error { return c.Archive(" user\tdeleted ", now) }},
		{"reject", domain.RejectAll(" user\tsuspended ", now), func(c *domain.Challenge) error { return c.Reject(" user\tsuspended ", now) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, s := range domain.Statuses() {
				c := storedChallenge(t, s)
				accepted := tc.one(c) == nil
				if tc.bulk.Moves(s) != accepted {
					t.Errorf("from %s: bulk moves %v, the method accepts %v", s, tc.bulk.Moves(s), accepted)
				}
				if !accepted {
					continue
				}
				if c.Status() != tc.bulk.To || c.StatusReason() != tc.bulk.Reason || !c.UpdatedAt().Equal(tc.bulk.At) {
					t.Errorf("from %s: method stored (%s, %q, %v), bulk would store (%s, %q, %v)",
						s, c.Status(), c.StatusReason(), c.UpdatedAt(), tc.bulk.To, tc.bulk.Reason, tc.bulk.At)
				}
			}
			if tc.bulk.At.Location() != time.UTC || tc.bulk.At.Nanosecond()%1000 != 0 {
				t.Errorf("At %v is not UTC microseconds", tc.bulk.At)
			}
		})
	}
	if got := domain.RejectAll("x", now).From; len(got) != 1 || got[0] != domain.StatusPending {
		t.Errorf("RejectAll moves %v, want only pending", got)
	}
}

func TestBulkReasonIsMadeToFit(t *testing.T) {
	b := domain.ArchiveAll(strings.Repeat("é", 300)+"\xff\x00", time.Now())
	if n := utf8.RuneCountInString(b.Reason); n != domain.MaxReasonLen || !utf8.ValidString(b.Reason) {
		t.Errorf("reason has %d characters, valid UTF-8 %v", n, utf8.ValidString(b.Reason))
	}
}
