package e2e

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// TestDuplicateDelivery delivers real events a second time and expects each
// applied once: a copy of a user.validated envelope published by hand, and
// the two ways a relay that died after the broker's confirm but before
// marking its rows republishes them (the row made unpublished again, so the
// running relay sends it once more), for user.validated and for
// challenge.created.
func TestDuplicateDelivery(t *testing.T) {
	s := newSystem(t)
	u := s.signUp(t, "dora")
	c := s.createChallenge(t, u.Token)
	active, _ := s.waitStatus(t, u.Token, c.Id, "active")

	validated := s.outboxEvent(t, s.accountDB, "user.validated")
	createdEvt := s.outboxEvent(t, s.challengeDB, "challenge.created")
	var data struct {
		ChallengeID int64 `json:"challengeId"`
	}
	if err := json.Unmarshal(validated.data, &data); err != nil || data.ChallengeID != c.Id {
		t.Fatalf("user.validated names challenge %d (%v), want %d", data.ChallengeID, err, c.Id)
	}

	// The state each copy must leave alone.
	okValidated := consumed(t, s.challenge, "user.validated", "ok")
	okCreated := consumed(t, s.account, "challenge.created", "ok")
	if okValidated != 1 || okCreated != 1 {
		t.Fatalf("before the copies: user.validated ok %v, challenge.created ok %v, want 1 and 1", okValidated, okCreated)
	}
	unchanged := func(t *testing.T) {
		t.Helper()
		if got := s.getChallenge(t, u.Token, c.Id); got.Status != "active" || !got.UpdatedAt.Equal(active.UpdatedAt) {
			t.Errorf("challenge after the copy: %s updated %s, want active updated %s", got.Status, got.UpdatedAt, active.UpdatedAt)
		}
		for _, chk := range []struct {
			what      string
			got, want float64
		}{
			{"challenge: user.validated consumed ok", consumed(t, s.challenge, "user.validated", "ok"), okValidated},
			{"account: challenge.created consumed ok", consumed(t, s.account, "challenge.created", "ok"), okCreated},
			{"challenge inbox rows for the user.validated",
				float64(count(t, s.challengeDB, "SELECT COUNT(*) FROM inbox_messages WHERE consumer = ? AND message_id = ?", queueUserValidated, validated.id)), 1},
			{"account inbox rows for the challenge.created",
				float64(count(t, s.accountDB, "SELECT COUNT(*) FROM inbox_messages WHERE consumer = ? AND message_id = ?", queueValidation, createdEvt.id)), 1},
			{"account outbox user.validated rows",
				float64(count(t, s.accountDB, "SELECT COUNT(*) FROM outbox_events WHERE event_type = 'user.validated'")), 1},
		} {
			if chk.got != chk.want {
				t.Errorf("%s: %v, want %v", chk.what, chk.got, chk.want)
			}
		}
	}
	waitDuplicates := func(t *testing.T, svc *process, typ string, want float64) {
		t.Helper()
		var got float64
		poll(t, fmt.Sprintf("%s to count %v duplicate %s", svc.name, want, typ), func() bool {
			got = consumed(t, svc, typ, "duplicate")
			return got >= want
		}, func() string { return fmt.Sprintf("duplicates: %v", got) })
		if got != want {
			t.Errorf("%s: %v duplicate %s, want %v", svc.name, got, typ, want)
		}
	}

	t.Run("same user.validated published again", func(t *testing.T) {
		s.publish(t, validated)
		waitDuplicates(t, s.challenge, "user.validated", 1)
		unchanged(t)
	})

	t.Run("relay republishes user.validated it had not marked", func(t *testing.T) {
		before := published(t, s.account, "user.validated")
		s.unmark(t, s.accountDB, validated.id)
		waitDuplicates(t, s.challenge, "user.validated", 2)
		if got := published(t, s.account, "user.validated"); got != before+1 {
			t.Errorf("account published user.validated %v times, want %v", got, before+1)
		}
		unchanged(t)
	})

	t.Run("relay republishes challenge.created it had not marked", func(t *testing.T) {
		s.unmark(t, s.challengeDB, createdEvt.id)
		waitDuplicates(t, s.account, "challenge.created", 1)
		// Had the account service validated again, a second user.validated
		// would be in its outbox and reach the challenge service as "ok".
		unchanged(t)
	})
	t.Logf("duplicates: 3 copies delivered (1 hand-published, 2 republished by the relays), 3 counted as duplicate, 0 applied")
}

type outboxRow struct {
	id, typ string
	payload []byte          // the whole envelope
	data    json.RawMessage // its data
}

// outboxEvent returns the one published event of type typ in db's outbox.
func (s *system) outboxEvent(t testing.TB, db *sql.DB, typ string) outboxRow {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var r outboxRow
	var publishedAt sql.NullTime
	var n int
	rows, err := db.QueryContext(ctx, "SELECT event_id, event_type, payload, published_at FROM outbox_events WHERE event_type = ?", typ)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		n++
		if err := rows.Scan(&r.id, &r.typ, &r.payload, &publishedAt); err != nil {
			t.Fatal(err)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if n != 1 || !publishedAt.Valid {
		t.Fatalf("%d %s rows in the outbox (published: %v), want 1 published", n, typ, publishedAt.Valid)
	}
	var env struct {
		ID   string          `json:"id"`
		Type string          `json:"type"`
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(r.payload, &env); err != nil || env.ID != r.id || env.Type != typ {
		t.Fatalf("outbox payload %s: %v (want id %s, type %s)", r.payload, err, r.id, typ)
	}
	r.data = env.Data
	return r
}

// publish sends the envelope to the exchange as the relay does (persistent,
// message id and type set, routed by type) and waits for the broker's
// confirm; a message no queue takes fails the test.
func (s *system) publish(t testing.TB, r outboxRow) {
	t.Helper()
	conn, err := amqp.Dial(s.amqpDirect)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.Confirm(false); err != nil {
		t.Fatal(err)
	}
	returns := ch.NotifyReturn(make(chan amqp.Return, 1))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dc, err := ch.PublishWithDeferredConfirmWithContext(ctx, exchange, r.typ, true, false, amqp.Publishing{
		ContentType:  "application/json",
		DeliveryMode: amqp.Persistent,
		MessageId:    r.id,
		Type:         r.typ,
		AppId:        "e2e",
		Timestamp:    time.Now(),
		Body:         r.payload,
	})
	if err != nil {
		t.Fatal(err)
	}
	ack, err := dc.WaitContext(ctx)
	if err != nil || !ack {
		t.Fatalf("publishing %s: ack %v, %v", r.id, ack, err)
	}
	// A return, when there is one, arrives before the confirm.
	select {
	case ret := <-returns:
		t.Fatalf("%s returned by the broker: %s", r.id, ret.ReplyText)
	default:
	}
}

// unmark makes a published outbox row unpublished again: what a relay leaves
// behind when it dies after the broker confirmed the row and before its
// commit marked it. The running relay finds it on its next poll and
// publishes it again (same event id); unmark waits until it is marked again.
func (s *system) unmark(t testing.TB, db *sql.DB, eventID string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := db.ExecContext(ctx, "UPDATE outbox_events SET published_at = NULL WHERE event_id = ?", eventID)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		t.Fatalf("unmarking %s: %d rows", eventID, n)
	}
	poll(t, "the relay to publish "+eventID+" again", func() bool {
		return count(t, db, "SELECT COUNT(*) FROM outbox_events WHERE event_id = ? AND published_at IS NOT NULL", eventID) == 1
	}, nil)
}
