package events_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/progressive-overload/po/services/kit/events"
)

// An event no queue is bound for is returned by the broker instead of being
// confirmed and dropped: its row stays pending, without holding up the rows
// behind it, and goes out once a consumer binds a queue for its type.
func TestUnroutableEventStaysPendingUntilSubscribed(t *testing.T) {
	e := newEnv(t)
	raw := rawChannel(t, e.url)
	things := e.tapQueue(raw, "thing.created")
	// One row per batch: if the unroutable row were retried ahead of
	// everything, the one behind it would never go out.
	e.startRelay(e.publisher(e.url), events.RelayOptions{BatchSize: 1})
	lonely := newEvents(t, "nobody.listens", 1)[0]
	routable := newEvents(t, "thing.created", 1)[0]
	e.enqueueCommitted(lonely, routable)

	published := func(id string) bool {
		return e.count("SELECT COUNT(*) FROM outbox_events WHERE event_id = ? AND published_at IS NOT NULL", id) == 1
	}
	waitFor(t, func() bool { return published(routable.ID) },
		func() string { return "the routable event behind the unroutable one was not published" })
	// Two attempts that left it unpublished: returned, parked and returned again.
	waitFor(t, func() bool {
		return e.count("SELECT COUNT(*) FROM outbox_events WHERE event_id = ? AND attempts >= 2", lonely.ID) == 1
	}, func() string { return "the unroutable event was not retried" })
	if published(lonely.ID) {
		t.Fatal("the unroutable event was marked published")
	}
	if p := testutil.ToFloat64(e.metrics.Published.WithLabelValues(e.service, "nobody.listens")); p != 0 {
		t.Errorf("events_published_total counts %v unroutable events", p)
	}
	warned := e.logs.find(slog.LevelWarn, "type", "nobody.listens")
	if len(warned) == 0 || !strings.Contains(warned[0], "no queue bound for routing key nobody.listens") {
		t.Errorf("warnings for the unroutable type: %q", warned)
	}
	if ids := drainIDs(t, raw, things); len(ids) != 1 || ids[routable.ID] != 1 {
		t.Errorf("the bound queue received %v, want only %s", ids, routable.ID)
	}

	e.startConsumer(e.consumerOptions(e.url), func(c *events.Consumer) {
		if err := c.Subscribe("late", []string{"nobody.listens"}, recordApplied("late")); err != nil {
			t.Fatal(err)
		}
	})
	waitFor(t, func() bool { return published(lonely.ID) },
		func() string { return "the event was not published once a queue was bound" })
	waitFor(t, func() bool { return e.appliedCounts("late")[lonely.ID] == 1 },
		func() string { return "the late subscriber did not get the event" })
	if p := testutil.ToFloat64(e.metrics.Published.WithLabelValues(e.service, "nobody.listens")); p != 1 {
		t.Errorf("events_published_total = %v for the event once routed, want 1", p)
	}
}

// Publish tells exactly which messages of a batch came back unroutable, with
// routed and unroutable ones interleaved and each id published twice.
func TestPublishReportsExactlyTheReturnedMessages(t *testing.T) {
	e := newEnv(t)
	raw := rawChannel(t, e.url)
	tap := e.tapQueue(raw, "thing.*")
	pub := e.publisher(e.url)
	ctx := context.Background()
	want := map[string]int{}
	for round := range 5 {
		var batch, lost []events.Event
		for i := range 40 {
			typ := "thing.created"
			if (i+round)%3 == 0 {
				typ = "nobody.listens"
			}
			evt := newEvents(t, typ, 1)[0]
			batch = append(batch, evt, evt)
			if typ == "nobody.listens" {
				lost = append(lost, evt)
			} else {
				want[evt.ID] = 2
			}
		}
		err := pub.Publish(ctx, batch...)
		if !errors.Is(err, events.ErrUnroutable) {
			t.Fatalf("round %d: Publish returned %v, want ErrUnroutable", round, err)
		}
		msg := err.Error()
		if n := strings.Count(msg, events.ErrUnroutable.Error()); n != 2*len(lost) {
			t.Errorf("round %d: %d messages reported unroutable, want %d", round, n, 2*len(lost))
		}
		for _, evt := range lost {
			if !strings.Contains(msg, evt.ID) {
				t.Errorf("round %d: unroutable %s not reported", round, evt.ID)
			}
		}
	}
	routed := 0
	for _, n := range want {
		routed += n
	}
	if p := testutil.ToFloat64(e.metrics.Published.WithLabelValues(e.service, "thing.created")); p != float64(routed) {
		t.Errorf("events_published_total{thing.created} = %v, want %d", p, routed)
	}
	if p := testutil.ToFloat64(e.metrics.Published.WithLabelValues(e.service, "nobody.listens")); p != 0 {
		t.Errorf("events_published_total{nobody.listens} = %v, want 0", p)
	}
	if got := drainIDs(t, raw, tap); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("the bound queue received %d distinct ids, want %d", len(got), len(want))
	}
}
