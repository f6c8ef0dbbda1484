package service_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/progressive-overload/po/services/kit/events"
	"github.com/progressive-overload/po/services/kit/testkit"
	"github.com/progressive-overload/po/services/kit/testkit/netproxy"

	"github.com/progressive-overload/po/services/account/internal/service"
)

// TestChallengeUserValidation: a challenge.created is answered with
// user.validated for an active user and user.rejected with the reason for a
// suspended, deleted or unknown one.
func TestChallengeUserValidation(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	tap := h.tap(t, "user.validated", "user.rejected")

	active := h.signup(t, "active")
	suspended := h.signup(t, "suspended")
	admin := h.adminTokens(t).AccessToken
	h.Do(t, "PATCH", "/users/"+strconv.FormatInt(suspended.ID, 10)+"/status", admin,
		map[string]string{"status": "suspended"}).Expect(t, http.StatusOK)
	deleted := h.signup(t, "deleted")
	h.Do(t, "DELETE", "/users/me", h.tokens(t, deleted).AccessToken, nil).Expect(t, http.StatusNoContent)
	unknown := deleted.ID + 1_000_000

	cases := []struct {
		challengeID int64
		userID      any // as the challenge service sends it
		typ         string
		data        string
	}{
		{101, active.ID, "user.validated", `{"challengeId":101,"userId":%d,"timeZone":"UTC","displayName":"active"}`},
		{102, suspended.ID, "user.rejected", `{"challengeId":102,"userId":%d,"reason":"user suspended"}`},
		{103, deleted.ID, "user.rejected", `{"challengeId":103,"userId":%d,"reason":"user deleted"}`},
		{104, unknown, "user.rejected", `{"challengeId":104,"userId":%d,"reason":"user not found"}`},
		// A decimal string names the same user.
		{105, strconv.FormatInt(active.ID, 10), "user.validated", `{"challengeId":105,"userId":%d,"timeZone":"UTC","displayName":"active"}`},
	}
	for _, c := range cases {
		h.publish(t, challengeCreated(t, map[string]any{"challengeId": c.challengeID, "userId": c.userID}))
	}
	got := map[int64]verdict{}
	for len(got) < len(cases) {
		v := tap.next(t)
		if _, dup := got[v.challengeID]; dup {
			t.Fatalf("challenge %d answered twice", v.challengeID)
		}
		got[v.challengeID] = v
	}
	for _, c := range cases {
		v := got[c.challengeID]
		userID := c.userID
		if s, ok := userID.(string); ok {
			userID, _ = strconv.ParseInt(s, 10, 64)
		}
		want := strings.ReplaceAll(c.data, "%d", strconv.FormatInt(userID.(int64), 10))
		if v.typ != c.typ || v.data != want {
			t.Errorf("challenge %d: got %s %s, want %s %s", c.challengeID, v.typ, v.data, c.typ, want)
		}
	}
}

// TestChallengeCreatedAnsweredOnce: the same message delivered twice (a relay
// that published and crashed before marking it, say) yields one verdict.
func TestChallengeCreatedAnsweredOnce(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	tap := h.tap(t, "user.validated", "user.rejected")
	u := h.signup(t, "twice")

	evt := challengeCreated(t, map[string]any{"challengeId": 7, "userId": u.ID})
	h.publish(t, evt)
	h.publish(t, evt)
	testkit.Eventually(t, "the second delivery to be dropped as a duplicate", func() bool {
		return h.Metrics(t).Value("events_consumed_total", "result", "duplicate", "service", h.queues, "type", "challenge.created") == 1
	})
	// Every outbox row published means every verdict is in the tap queue.
	testkit.Eventually(t, "the outbox to drain", func() bool {
		return h.count(t, "SELECT COUNT(*) FROM outbox_events WHERE published_at IS NULL") == 0
	})
	if n := h.count(t, "SELECT COUNT(*) FROM outbox_events"); n != 1 {
		t.Fatalf("%d verdicts enqueued, want 1", n)
	}
	if v := tap.next(t); v.typ != "user.validated" || v.challengeID != 7 {
		t.Fatalf("got %s %s", v.typ, v.data)
	}
	if n := tap.drain(t); n != 0 {
		t.Fatalf("%d more verdicts published", n)
	}
}

// TestMalformedChallengeCreatedIsDeadLettered: data no answer can exist for
// goes to the dead-letter queue without retries, emits nothing, and the
// messages behind it are still answered.
func TestMalformedChallengeCreatedIsDeadLettered(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	tap := h.tap(t, "user.validated", "user.rejected")
	u := h.signup(t, "good")

	malformed := []any{
		map[string]any{},
		map[string]any{"challengeId": 1},
		map[string]any{"challengeId": 1, "userId": "seven"},
		map[string]any{"challengeId": -1, "userId": u.ID},
		map[string]any{"challengeId": 1.5, "userId": u.ID},
		"not an object",
	}
	for _, data := range malformed {
		h.publish(t, challengeCreated(t, data))
	}
	h.publish(t, challengeCreated(t, map[string]any{"challengeId": 9, "userId": u.ID}))
	if v := tap.next(t); v.typ != "user.validated" || v.challengeID != 9 {
		t.Fatalf("got %s %s", v.typ, v.data)
	}
	dlq := h.consumerQueues()[2]
	testkit.Eventually(t, "the malformed messages in "+dlq, func() bool { return h.queueDepth(t, dlq) == len(malformed) })
	if n := h.Metrics(t).Value("events_consumed_total", "result", "retry", "service", h.queues, "type", "challenge.created"); n != 0 {
		t.Errorf("%v retries of messages that cannot succeed", n)
	}
	if n := h.count(t, "SELECT COUNT(*) FROM outbox_events"); n != 1 {
		t.Fatalf("%d verdicts enqueued, want 1", n)
	}
}

// TestServesWhileBrokerIsDown: with the broker unreachable at start the
// service still answers HTTP and /readyz and keeps its events in the outbox;
// once the broker is back the consumer and the publisher connect by
// themselves, the held event leaves and requests are answered.
func TestServesWhileBrokerIsDown(t *testing.T) {
	t.Parallel()
	proxy := netproxy.Start(t, "127.0.0.1:5672")
	proxy.Cut() // unreachable until Restore
	h := newHarness(t, withAMQPURL("amqp://guest:guest@"+proxy.Addr()+"/"))
	tap := h.tap(t, "user.validated", "user.deleted")

	h.Do(t, "GET", "/readyz", "", nil).Expect(t, http.StatusOK)
	u := h.signup(t, "early")
	leaving := h.signup(t, "leaving")
	h.Do(t, "DELETE", "/users/me", h.tokens(t, leaving).AccessToken, nil).Expect(t, http.StatusNoContent)

	proxy.Restore(t)
	h.publish(t, challengeCreated(t, map[string]any{"challengeId": 11, "userId": u.ID}))
	want := map[string]string{
		"user.deleted":   `{"userId":` + strconv.FormatInt(leaving.ID, 10) + `}`,
		"user.validated": `{"challengeId":11,"userId":` + strconv.FormatInt(u.ID, 10) + `,"timeZone":"UTC","displayName":"early"}`,
	}
	for len(want) > 0 {
		v := tap.next(t)
		if want[v.typ] != v.data {
			t.Fatalf("unexpected %s %s", v.typ, v.data)
		}
		delete(want, v.typ)
	}
}

// BenchmarkChallengeCreatedHandler measures one answer as the consumer runs
// it: the inbox row, the user lookup, the verdict in the outbox, the commit.
func BenchmarkChallengeCreatedHandler(b *testing.B) {
	h := newHarness(b)
	// A short queue gives the relay somewhere to route the verdicts, so they
	// leave the outbox instead of piling up there as unroutable.
	ch := h.channel(b)
	q, err := ch.QueueDeclare("", false, true, true, false, amqp.Table{"x-max-length": int32(1)})
	if err != nil {
		b.Fatal(err)
	}
	if err := ch.QueueBind(q.Name, "user.*", h.cfg.AMQPExchange, false, nil); err != nil {
		b.Fatal(err)
	}
	u := h.signup(b, "bench")
	handle := service.ChallengeCreatedHandler(h.svc)
	ctx := context.Background()
	var n int64
	for b.Loop() {
		n++
		evt := challengeCreated(b, map[string]any{"challengeId": n, "userId": u.ID})
		tx, err := h.db.BeginTx(ctx, nil)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO inbox_messages (consumer, message_id, processed_at) VALUES (?, ?, UTC_TIMESTAMP(6))", "bench", evt.ID); err != nil {
			b.Fatal(err)
		}
		if err := handle(ctx, tx, evt); err != nil {
			b.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			b.Fatal(err)
		}
	}
}

func challengeCreated(t testing.TB, data any) events.Event {
	t.Helper()
	evt, err := events.NewEvent("challenge", "challenge.created", data)
	if err != nil {
		t.Fatal(err)
	}
	return evt
}

// channel is a plain channel on the broker, closed at cleanup.
func (h *harness) channel(t testing.TB) *amqp.Channel {
	t.Helper()
	ch := testkit.Channel(t, testkit.AMQPURL)
	testkit.DeclareExchange(t, ch, h.cfg.AMQPExchange)
	return ch
}

// publish sends evt to the service's exchange as a relay does, again while
// the broker returns it as unroutable: the service declares its queue in the
// background once it is serving.
func (h *harness) publish(t testing.TB, evt events.Event) {
	t.Helper()
	body, err := json.Marshal(evt)
	if err != nil {
		t.Fatal(err)
	}
	ch := h.channel(t)
	if err := ch.Confirm(false); err != nil {
		t.Fatal(err)
	}
	returned := ch.NotifyReturn(make(chan amqp.Return, 1))
	deadline := time.Now().Add(30 * time.Second)
	for {
		dc, err := ch.PublishWithDeferredConfirm(h.cfg.AMQPExchange, evt.Type, true, false, amqp.Publishing{
			ContentType:  "application/json",
			DeliveryMode: amqp.Persistent,
			MessageId:    evt.ID,
			Type:         evt.Type,
			Timestamp:    evt.Time,
			AppId:        evt.Source,
			Body:         body,
		})
		if err != nil {
			t.Fatal(err)
		}
		if !dc.Wait() {
			t.Fatal("the broker nacked the message")
		}
		// The broker sends a basic.return before the confirm of the same
		// message, so it is here by now if there is one.
		select {
		case <-returned:
			if time.Now().After(deadline) {
				t.Fatalf("no queue bound for %s on %s", evt.Type, h.cfg.AMQPExchange)
			}
			time.Sleep(20 * time.Millisecond)
		default:
			return
		}
	}
}

// verdict is a user.validated or user.rejected as the tap received it.
type verdict struct {
	typ         string
	challengeID int64
	data        string // compacted JSON
}

// tapQueue holds a copy of every event the service publishes with the
// routing keys it was made for.
type tapQueue struct {
	ch    *amqp.Channel
	queue string
}

func (h *harness) tap(t testing.TB, keys ...string) *tapQueue {
	t.Helper()
	ch := h.channel(t)
	q, err := ch.QueueDeclare("", false, true, true, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if err := ch.QueueBind(q.Name, k, h.cfg.AMQPExchange, false, nil); err != nil {
			t.Fatal(err)
		}
	}
	return &tapQueue{ch: ch, queue: q.Name}
}

// next waits for the next message and checks its envelope and properties.
func (q *tapQueue) next(t testing.TB) verdict {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		d, ok, err := q.ch.Get(q.queue, true)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			return checkVerdict(t, d)
		}
		if time.Now().After(deadline) {
			t.Fatal("no event arrived")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// drain takes what is left in the queue and says how many there were.
func (q *tapQueue) drain(t testing.TB) int {
	t.Helper()
	n := 0
	for {
		_, ok, err := q.ch.Get(q.queue, true)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			return n
		}
		n++
	}
}

func checkVerdict(t testing.TB, d amqp.Delivery) verdict {
	t.Helper()
	var env struct {
		ID     string          `json:"id"`
		Type   string          `json:"type"`
		Source string          `json:"source"`
		Time   time.Time       `json:"time"`
		Data   json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(d.Body, &env); err != nil {
		t.Fatalf("undecodable event %s: %v", d.Body, err)
	}
	id, err := uuid.Parse(env.ID)
	if err != nil || id.Version() != 7 || env.Source != "account" || env.Time.IsZero() ||
		d.RoutingKey != env.Type || d.Type != env.Type || d.MessageId != env.ID || d.DeliveryMode != amqp.Persistent {
		t.Fatalf("bad envelope %s (routing key %s, properties %+v)", d.Body, d.RoutingKey, d)
	}
	var data struct {
		ChallengeID int64 `json:"challengeId"`
	}
	if err := json.Unmarshal(env.Data, &data); err != nil {
		t.Fatalf("undecodable data %s: %v", env.Data, err)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, env.Data); err != nil {
		t.Fatal(err)
	}
	return verdict{typ: env.Type, challengeID: data.ChallengeID, data: compact.String()}
}

func (h *harness) count(t testing.TB, query string, args ...any) int {
	t.Helper()
	var n int
	if err := h.db.QueryRow(query, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func (h *harness) queueDepth(t testing.TB, queue string) int {
	t.Helper()
	q, err := h.channel(t).QueueDeclarePassive(queue, true, false, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	return q.Messages
}
