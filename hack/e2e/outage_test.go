package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"
)

// outageN challenges are created while the broker is unreachable.
const outageN = 50

// TestBrokerOutage cuts both services off RabbitMQ (their connections
// dropped, reconnects refused), creates outageN challenges over HTTP, brings
// the broker back and expects every one validated exactly once.
func TestBrokerOutage(t *testing.T) {
	s := newSystem(t)
	u := s.signUp(t, "olga")

	s.accountProxy.Cut()
	s.challengeProxy.Cut()
	cutAt := time.Now()

	created := map[int64]bool{}
	for range outageN {
		c := s.createChallenge(t, u.Token) // fails the test unless 201
		if c.Status != "pending" {
			t.Fatalf("created during the outage: %+v, want pending", c)
		}
		created[c.Id] = true
	}
	if len(created) != outageN {
		t.Fatalf("%d distinct challenges, want %d", len(created), outageN)
	}
	// The broker's absence is no reason to be taken out of rotation.
	for _, p := range []*process{s.account, s.challenge} {
		if r := p.api.Do(t, http.MethodGet, "/readyz", "", nil); r.Status != http.StatusOK {
			t.Errorf("%s /readyz during the outage: %s", p.name, r)
		}
	}
	// Everything waits in the challenge service's outbox.
	if n := count(t, s.challengeDB, "SELECT COUNT(*) FROM outbox_events WHERE event_type = 'challenge.created' AND published_at IS NULL"); n != outageN {
		t.Fatalf("challenge outbox during the outage: %d unpublished challenge.created, want %d", n, outageN)
	}
	if n := s.countStatus(t, u.Token, "pending"); n != outageN {
		t.Fatalf("during the outage: %d pending, want %d", n, outageN)
	}

	// Both services saw their connections drop and at least one reconnect
	// refused before the broker comes back.
	for _, p := range []*process{s.account, s.challenge} {
		poll(t, p.name+" to fail reconnecting", func() bool {
			return p.logged("consumer session ended; reconnecting", func(l map[string]any) bool {
				attempt, _ := l["attempt"].(float64)
				return attempt >= 2
			})
		}, nil)
	}

	s.accountProxy.Restore(t)
	s.challengeProxy.Restore(t)
	restoredAt := time.Now()

	var active int
	poll(t, "every challenge to become active", func() bool {
		active = s.countStatus(t, u.Token, "active")
		return active == outageN
	}, func() string { return "active: " + strconv.Itoa(active) })
	drained := time.Since(restoredAt)
	// A consumer counts a message after its commit, so the last status can be
	// visible a moment before its counter moves: wait for the counters (a
	// count that never reaches outageN still fails below, as does one above).
	poll(t, "the consumers to count every event", func() bool {
		return int(consumed(t, s.account, "challenge.created", "ok")) >= outageN &&
			int(consumed(t, s.challenge, "user.validated", "ok")) >= outageN
	}, nil)

	// None applied twice. Each inbox holds one row per event it applied and
	// the handlers ran once each ("ok"); had the account service handled a
	// challenge.created twice, its outbox would hold a second user.validated.
	checks := []struct {
		what string
		got  int
	}{
		{"challenge outbox: challenge.created, published",
			count(t, s.challengeDB, "SELECT COUNT(*) FROM outbox_events WHERE event_type = 'challenge.created' AND published_at IS NOT NULL")},
		{"account inbox: " + queueValidation,
			count(t, s.accountDB, "SELECT COUNT(*) FROM inbox_messages WHERE consumer = ?", queueValidation)},
		{"account outbox: user.validated",
			count(t, s.accountDB, "SELECT COUNT(*) FROM outbox_events WHERE event_type = 'user.validated'")},
		{"account outbox: every event",
			count(t, s.accountDB, "SELECT COUNT(*) FROM outbox_events")},
		{"challenge inbox: " + queueUserValidated,
			count(t, s.challengeDB, "SELECT COUNT(*) FROM inbox_messages WHERE consumer = ?", queueUserValidated)},
		{"challenge inbox: every consumer",
			count(t, s.challengeDB, "SELECT COUNT(*) FROM inbox_messages")},
		{"account: challenge.created consumed ok",
			int(consumed(t, s.account, "challenge.created", "ok"))},
		{"challenge: user.validated consumed ok",
			int(consumed(t, s.challenge, "user.validated", "ok"))},
	}
	for _, c := range checks {
		if c.got != outageN {
			t.Errorf("%s: %d, want %d", c.what, c.got, outageN)
		}
	}
	// One user.validated per challenge created, naming each exactly once.
	validated := s.validatedChallenges(t)
	for id := range created {
		if validated[id] != 1 {
			t.Errorf("challenge %d: %d user.validated events, want 1", id, validated[id])
		}
	}
	dupAccount := consumed(t, s.account, "challenge.created", "duplicate")
	dupChallenge := consumed(t, s.challenge, "user.validated", "duplicate")
	t.Logf("broker outage: %d of %d challenges created during the outage (all 201) became active, each validated once; "+
		"outage %s, all active %s after the broker returned; redeliveries absorbed by the inboxes: %v (account), %v (challenge)",
		active, outageN, restoredAt.Sub(cutAt).Round(time.Millisecond), drained.Round(time.Millisecond), dupAccount, dupChallenge)
}

// countStatus counts the caller's challenges in status (every page).
func (s *system) countStatus(t testing.TB, token, status string) int {
	t.Helper()
	n, cursor := 0, ""
	for {
		path := "/challenges?limit=100&status=" + url.QueryEscape(status)
		if cursor != "" {
			path += "&cursor=" + url.QueryEscape(cursor)
		}
		var page struct {
			Items      []challenge `json:"items"`
			NextCursor *string     `json:"nextCursor"`
		}
		s.challenge.api.Do(t, http.MethodGet, path, token, nil).Expect(t, http.StatusOK).Decode(t, &page)
		n += len(page.Items)
		if page.NextCursor == nil {
			return n
		}
		cursor = *page.NextCursor
	}
}

// validatedChallenges counts the account outbox's user.validated events per
// challenge id.
func (s *system) validatedChallenges(t testing.TB) map[int64]int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rows, err := s.accountDB.QueryContext(ctx, "SELECT payload FROM outbox_events WHERE event_type = 'user.validated'")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[int64]int{}
	for rows.Next() {
		var payload []byte
		if err := rows.Scan(&payload); err != nil {
			t.Fatal(err)
		}
		var env struct {
			Data struct {
				ChallengeID int64 `json:"challengeId"`
			} `json:"data"`
		}
		if err := json.Unmarshal(payload, &env); err != nil {
			t.Fatalf("outbox payload %s: %v", payload, err)
		}
		out[env.Data.ChallengeID]++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
