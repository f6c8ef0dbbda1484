package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestWholeFlow follows challenges through both services and the broker:
// validated, rejected because the user was suspended, archived because the
// user deleted their account (with their cache entries gone).
func TestWholeFlow(t *testing.T) {
	s := newSystem(t)
	admin := s.adminToken(t)

	t.Run("created challenge becomes active", func(t *testing.T) {
		ada := s.signUp(t, "ada")
		c := s.createChallenge(t, ada.Token)
		if c.Status != "pending" || c.UserId != ada.ID {
			t.Fatalf("created: %+v, want pending and user %d's", c, ada.ID)
		}
		got, took := s.waitStatus(t, ada.Token, c.Id, "active")
		t.Logf("challenge %d: pending → active in %s", c.Id, took.Round(time.Millisecond))
		if reasonOf(got) != "" {
			t.Errorf("active challenge has reason %q", reasonOf(got))
		}
	})

	t.Run("pending challenge of a suspended user is rejected", func(t *testing.T) {
		bob := s.signUp(t, "bob")
		// Cut the challenge service off the broker so that the challenge is
		// certainly still pending when the suspension is published.
		s.challengeProxy.Cut()
		c := s.createChallenge(t, bob.Token)
		s.account.api.Do(t, http.MethodPatch, fmt.Sprintf("/users/%d/status", bob.ID), admin,
			map[string]string{"status": "suspended"}).Expect(t, http.StatusOK)
		// The account service refuses the token at once; the challenge
		// service verifies it offline and accepts it until it expires.
		if r := s.account.api.Do(t, http.MethodGet, "/users/me", bob.Token, nil); r.Status != http.StatusUnauthorized {
			t.Errorf("suspended user's token at the account service: %s, want 401", r)
		}
		if got := s.getChallenge(t, bob.Token, c.Id); got.Status != "pending" {
			t.Fatalf("while cut off: %+v, want pending", got)
		}
		// user.suspended waits in the challenge service's queue.
		s.waitQueued(t, queueUserSuspended, 1)
		s.challengeProxy.Restore(t)

		got, took := s.waitStatus(t, admin, c.Id, "rejected")
		t.Logf("challenge %d: pending → rejected (%q) %s after the broker came back", c.Id, reasonOf(got), took.Round(time.Millisecond))
		if reasonOf(got) != "user suspended" {
			t.Errorf("reason %q, want %q", reasonOf(got), "user suspended")
		}
		poll(t, "user.suspended consumed once", func() bool {
			return consumed(t, s.challenge, "user.suspended", "ok") == 1
		}, nil)

		// A challenge the suspended user creates afterwards (the token still
		// verifies there) is rejected by the account service's answer.
		later := s.createChallenge(t, bob.Token)
		got, _ = s.waitStatus(t, bob.Token, later.Id, "rejected")
		if reasonOf(got) != "user suspended" {
			t.Errorf("later challenge: reason %q, want %q", reasonOf(got), "user suspended")
		}
		if n := count(t, s.accountDB, "SELECT COUNT(*) FROM outbox_events WHERE event_type = 'user.rejected'"); n != 2 {
			t.Errorf("account outbox: %d user.rejected, want 2 (one per challenge)", n)
		}
	})

	t.Run("deleting the user archives their challenges and empties their cache", func(t *testing.T) {
		cara := s.signUp(t, "cara")
		c := s.createChallenge(t, cara.Token)
		s.waitStatus(t, cara.Token, c.Id, "active")
		s.challenge.api.Do(t, http.MethodPost, fmt.Sprintf("/challenges/%d/logs", c.Id), cara.Token,
			map[string]any{"sets": 5, "reps": 5, "value": 60}).Expect(t, http.StatusCreated)

		// The default page's entry (the service also keeps a largest page's,
		// "p.", for reads of more than 20).
		logsKey := s.cachePrefix + "user-logs:{s." + strconv.FormatInt(cara.ID, 10) + "}"
		progressKey := s.cachePrefix + "progress:{" + strconv.FormatInt(c.Id, 10) + "}"
		poll(t, "the user's reads to be cached", func() bool {
			s.challenge.api.Do(t, http.MethodGet, fmt.Sprintf("/challenges/logs/%d", cara.ID), cara.Token, nil).Expect(t, http.StatusOK)
			s.challenge.api.Do(t, http.MethodGet, fmt.Sprintf("/challenges/%d/progress", c.Id), cara.Token, nil).Expect(t, http.StatusOK)
			return s.exists(t, logsKey) && s.exists(t, progressKey)
		}, nil)
		logsVersion, progressVersion := s.version(t, logsKey), s.version(t, progressKey)

		s.account.api.Do(t, http.MethodDelete, "/users/me", cara.Token, nil).Expect(t, http.StatusNoContent)
		if r := s.account.api.Do(t, http.MethodGet, "/users/me", cara.Token, nil); r.Status != http.StatusUnauthorized {
			t.Errorf("deleted user's token at the account service: %d, want 401", r.Status)
		}
		got, took := s.waitStatus(t, admin, c.Id, "archived")
		t.Logf("challenge %d: active → archived (%q) in %s", c.Id, reasonOf(got), took.Round(time.Millisecond))

		// The keys are dropped right after the consumer's commit, so a
		// moment after the status shows; the versions move as they go.
		poll(t, "the user's cache entries to be invalidated", func() bool {
			return !s.exists(t, logsKey) && !s.exists(t, progressKey) &&
				s.version(t, logsKey) > logsVersion && s.version(t, progressKey) > progressVersion
		}, func() string {
			return fmt.Sprintf("%s exists=%v v=%d (was %d); %s exists=%v v=%d (was %d)",
				logsKey, s.exists(t, logsKey), s.version(t, logsKey), logsVersion,
				progressKey, s.exists(t, progressKey), s.version(t, progressKey), progressVersion)
		})
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for _, pattern := range []string{
			"challenge:user-logs:{[sp]." + strconv.FormatInt(cara.ID, 10) + "}*",
			"challenge:progress:{" + strconv.FormatInt(c.Id, 10) + "}*",
		} {
			keys, err := s.redisKeys(ctx, pattern)
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range keys {
				if !strings.HasSuffix(k, ":v") {
					t.Errorf("data key %s still in Redis", k)
				}
			}
		}
		if n := consumed(t, s.challenge, "user.deleted", "ok"); n != 1 {
			t.Errorf("challenge service consumed %v user.deleted, want 1", n)
		}
	})
}

func (s *system) exists(t testing.TB, key string) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	n, err := s.rdb.Exists(ctx, key).Result()
	if err != nil {
		t.Fatalf("EXISTS %s: %v", key, err)
	}
	return n == 1
}

// version is the cache's version counter of key (0 when absent).
func (s *system) version(t testing.TB, key string) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	v, err := s.rdb.Get(ctx, key+":v").Int64()
	if err == redis.Nil {
		return 0
	}
	if err != nil {
		t.Fatalf("GET %s:v: %v", key, err)
	}
	return v
}
