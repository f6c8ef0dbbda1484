package service_test

import (
	"encoding/json"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/progressive-overload/po/services/kit/testkit"
)

// TestEventsReachTheBroker: deleting and suspending accounts publish
// user.deleted and user.suspended through the outbox relay to the exchange.
func TestEventsReachTheBroker(t *testing.T) {
	t.Parallel()
	h := newHarness(t)

	deliveries := testkit.Listen(t, testkit.AMQPURL, h.cfg.AMQPExchange, "user.*")

	leaving := h.signup(t, "leaving")
	h.Do(t, "DELETE", "/users/me", h.tokens(t, leaving).AccessToken, nil).Expect(t, http.StatusNoContent)
	suspended := h.signup(t, "suspended")
	admin := h.adminTokens(t).AccessToken
	h.Do(t, "PATCH", "/users/"+strconv.FormatInt(suspended.ID, 10)+"/status", admin,
		map[string]string{"status": "suspended"}).Expect(t, http.StatusOK)

	want := map[string]int64{"user.deleted": leaving.ID, "user.suspended": suspended.ID}
	timeout := time.After(30 * time.Second)
	for len(want) > 0 {
		select {
		case d := <-deliveries:
			var env struct {
				ID     string    `json:"id"`
				Type   string    `json:"type"`
				Source string    `json:"source"`
				Time   time.Time `json:"time"`
				Data   struct {
					UserID int64 `json:"userId"`
				} `json:"data"`
			}
			if err := json.Unmarshal(d.Body, &env); err != nil {
				t.Fatalf("undecodable event %s: %v", d.Body, err)
			}
			id, err := uuid.Parse(env.ID)
			if err != nil || id.Version() != 7 || env.Source != "account" || env.Time.IsZero() || d.RoutingKey != env.Type {
				t.Fatalf("bad envelope %s (routing key %s)", d.Body, d.RoutingKey)
			}
			if want[env.Type] != env.Data.UserID {
				t.Fatalf("unexpected event %s", d.Body)
			}
			delete(want, env.Type)
		case <-timeout:
			t.Fatalf("events not published: %v", want)
		}
	}
}
