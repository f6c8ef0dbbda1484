package events_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/progressive-overload/po/services/kit/events"
)

func TestNewEventEnvelope(t *testing.T) {
	evt, err := events.NewEvent("challenge", "challenge.created", map[string]any{"challengeId": 7, "userId": "42"})
	if err != nil {
		t.Fatal(err)
	}
	id, err := uuid.Parse(evt.ID)
	if err != nil || id.Version() != 7 {
		t.Fatalf("id %q is not a UUIDv7 (%v)", evt.ID, err)
	}
	raw, err := json.Marshal(evt)
	if err != nil {
		t.Fatal(err)
	}
	var wire map[string]json.RawMessage
	if err := json.Unmarshal(raw, &wire); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"id", "type", "source", "time", "data"} {
		if _, ok := wire[k]; !ok {
			t.Errorf("envelope %s lacks %q", raw, k)
		}
	}
	var ts string
	if err := json.Unmarshal(wire["time"], &ts); err != nil {
		t.Fatal(err)
	}
	if _, err := time.Parse(time.RFC3339, ts); err != nil {
		t.Errorf("time %q is not RFC 3339: %v", ts, err)
	}
	var data struct {
		ChallengeID int    `json:"challengeId"`
		UserID      string `json:"userId"`
	}
	if err := evt.DecodeData(&data); err != nil || data.ChallengeID != 7 || data.UserID != "42" {
		t.Errorf("DecodeData = %+v, %v", data, err)
	}

	other, err := events.NewEvent("challenge", "challenge.created", nil)
	if err != nil {
		t.Fatal(err)
	}
	if other.ID == evt.ID {
		t.Error("two events share an id")
	}
	if string(other.Data) != "{}" {
		t.Errorf("nil data encoded as %s, want {}", other.Data)
	}
}

func TestNewEventRejectsWhatTheTablesCannotHold(t *testing.T) {
	cases := map[string]struct{ source, typ string }{
		"no type":       {"svc", ""},
		"no source":     {"", "user.deleted"},
		"type too long": {"svc", strings.Repeat("x", 65)},
	}
	for name, c := range cases {
		if _, err := events.NewEvent(c.source, c.typ, nil); err == nil {
			t.Errorf("%s: NewEvent accepted it", name)
		}
	}
	if _, err := events.NewEvent("svc", "x", func() {}); err == nil {
		t.Error("NewEvent accepted data JSON cannot encode")
	}
}

func TestEnqueueWritesEnvelopesOrNothing(t *testing.T) {
	db := newDatabase(t)
	ctx := context.Background()
	evts := newEvents(t, "user.deleted", 3)
	bad := events.Event{ID: "x", Type: "t", Source: "s"} // no data
	if err := events.Enqueue(ctx, db, evts[0], bad); err == nil {
		t.Fatal("Enqueue accepted an event without data")
	}
	var n int
	if err := db.QueryRow("SELECT COUNT(*) FROM outbox_events").Scan(&n); err != nil || n != 0 {
		t.Fatalf("a rejected call wrote %d rows (%v)", n, err)
	}

	if err := events.Enqueue(ctx, db, evts...); err != nil {
		t.Fatal(err)
	}
	rows, err := db.Query("SELECT event_id, event_type, payload, published_at IS NULL, attempts FROM outbox_events ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	i := 0
	for ; rows.Next(); i++ {
		var id, typ string
		var payload []byte
		var pending bool
		var attempts int
		if err := rows.Scan(&id, &typ, &payload, &pending, &attempts); err != nil {
			t.Fatal(err)
		}
		var stored events.Event
		if err := json.Unmarshal(payload, &stored); err != nil {
			t.Fatal(err)
		}
		want := evts[i]
		if id != want.ID || typ != want.Type || !pending || attempts != 0 ||
			stored.ID != want.ID || stored.Source != want.Source || !stored.Time.Equal(want.Time) || string(stored.Data) != string(want.Data) {
			t.Errorf("row %d = %s %s pending=%v attempts=%d %s, want the envelope of %+v", i, id, typ, pending, attempts, payload, want)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if i != len(evts) {
		t.Fatalf("%d rows, want %d", i, len(evts))
	}
}

func TestPermanent(t *testing.T) {
	base := errors.New("no such challenge")
	err := events.Permanent(base)
	if !events.IsPermanent(err) || !errors.Is(err, base) {
		t.Fatalf("Permanent(%v) lost its meaning: %v", base, err)
	}
	if events.IsPermanent(base) || events.Permanent(nil) != nil {
		t.Fatal("IsPermanent/Permanent misreport plain errors")
	}
}

func TestNewMetricsTwiceOnOneRegistryShares(t *testing.T) {
	reg := prometheus.NewRegistry()
	a, b := events.NewMetrics(reg), events.NewMetrics(reg)
	a.Published.WithLabelValues("svc", "user.deleted").Inc()
	if got := testutil.ToFloat64(b.Published.WithLabelValues("svc", "user.deleted")); got != 1 {
		t.Fatalf("second NewMetrics sees %v, want the first one's 1", got)
	}
	a.OutboxPending.WithLabelValues("svc").Set(3)
	a.OutboxOldestAge.WithLabelValues("svc").Set(1.5)
	a.Consumed.WithLabelValues("svc", "user.deleted", events.ResultOK).Inc()
	a.Pruned.WithLabelValues("svc", events.TableInbox).Add(2)
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range families {
		names = append(names, f.GetName())
	}
	want := "events_consumed_total events_pruned_total events_published_total outbox_oldest_age_seconds outbox_pending"
	if strings.Join(names, " ") != want {
		t.Fatalf("registered %v, want %s", names, want)
	}
}
