package events_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/progressive-overload/po/services/kit/events"
	"github.com/progressive-overload/po/services/kit/testkit/netproxy"
)

func (e *env) pruned(table string) int {
	return int(testutil.ToFloat64(e.metrics.Pruned.WithLabelValues(e.service, table)))
}

// exec runs a statement on the test's database.
func (e *env) exec(query string, args ...any) {
	e.tb.Helper()
	if _, err := e.db.Exec(query, args...); err != nil {
		e.tb.Fatal(err)
	}
}

// The relay's retention deletes the rows published longer ago than it, and
// keeps the rows published since and the rows not published yet, however old.
func TestRelayPruneKeepsRecentAndPendingRows(t *testing.T) {
	e := newEnv(t)
	px := netproxy.Start(t, brokerAddr)
	pub := e.publisher(amqpURL(px.Addr(), e.vhost))
	// With the broker away the pending row stays pending while prunes run.
	px.Cut()
	waitFor(t, func() bool { return !pub.Connected() }, func() string { return "the publisher never noticed the outage" })

	evts := newEvents(t, "thing.created", 3)
	old, recent, pending := evts[0], evts[1], evts[2]
	insert := func(evt events.Event, createdAgo string, publishedAgo string) {
		published := "NULL"
		if publishedAgo != "" {
			published = "DATE_SUB(UTC_TIMESTAMP(6), INTERVAL " + publishedAgo + ")"
		}
		e.exec(`INSERT INTO outbox_events (event_id, event_type, payload, created_at, published_at, attempts)
			VALUES (?, ?, '{}', DATE_SUB(UTC_TIMESTAMP(6), INTERVAL `+createdAgo+`), `+published+`, 1)`, evt.ID, evt.Type)
	}
	insert(old, "3 HOUR", "2 HOUR")
	insert(recent, "3 HOUR", "10 MINUTE")
	insert(pending, "3 HOUR", "")

	e.startRelay(pub, events.RelayOptions{Retention: time.Hour})
	waitFor(t, func() bool { return e.count("SELECT COUNT(*) FROM outbox_events WHERE event_id = ?", old.ID) == 0 },
		func() string { return "the row published 2h ago was not pruned" })
	// More passes run meanwhile; none may take the other rows.
	waitFor(t, func() bool { return testutil.ToFloat64(e.metrics.OutboxPending.WithLabelValues(e.service)) == 1 },
		func() string { return "outbox_pending never reached 1" })
	time.Sleep(200 * time.Millisecond) // a few more passes (PruneInterval is 50ms)
	for _, evt := range []events.Event{recent, pending} {
		if c := e.count("SELECT COUNT(*) FROM outbox_events WHERE event_id = ?", evt.ID); c != 1 {
			t.Errorf("row %s was pruned", evt.ID)
		}
	}
	waitFor(t, func() bool { return e.pruned(events.TableOutbox) >= 1 },
		func() string { return "events_pruned_total{table=outbox_events} never counted the pruned row" })
	if n := e.pruned(events.TableOutbox); n != 1 {
		t.Errorf("events_pruned_total{table=outbox_events} = %d, want 1", n)
	}
}

// With an inbox retention the consumer deletes the inbox rows processed
// longer ago than it, of every subscription, and keeps the others. The
// retention is the deduplication window: a redelivery of a message whose row
// is still there is dropped, one whose row was pruned is applied again.
func TestConsumerPrunesTheInbox(t *testing.T) {
	e := newEnv(t)
	evts := newEvents(t, "user.deleted", 3)
	old, recent, other := evts[0], evts[1], evts[2]
	queue := e.service + ".users"
	// Rows left by earlier runs: processed 2h, 10min and (another
	// subscription's) 3h ago.
	for _, r := range []struct {
		consumer, id, ago string
	}{{queue, old.ID, "2 HOUR"}, {queue, recent.ID, "10 MINUTE"}, {e.service + ".gone", other.ID, "3 HOUR"}} {
		e.exec("INSERT INTO inbox_messages (consumer, message_id, processed_at) VALUES (?, ?, DATE_SUB(UTC_TIMESTAMP(6), INTERVAL "+r.ago+"))",
			r.consumer, r.id)
	}

	opts := e.consumerOptions(e.url)
	opts.InboxRetention = time.Hour
	opts.PruneInterval = 20 * time.Millisecond
	e.startConsumer(opts, func(c *events.Consumer) {
		if err := c.Subscribe("users", []string{"user.deleted"}, recordApplied("users")); err != nil {
			t.Fatal(err)
		}
	})
	waitFor(t, func() bool { return e.pruned(events.TableInbox) == 2 },
		func() string {
			return fmt.Sprintf("events_pruned_total{table=inbox_messages} = %d, want 2", e.pruned(events.TableInbox))
		})
	if c := e.count("SELECT COUNT(*) FROM inbox_messages WHERE message_id IN (?, ?)", old.ID, other.ID); c != 0 {
		t.Fatalf("%d rows older than the retention survived", c)
	}

	// Both come again: the recent one is a duplicate, the old one is not
	// recognised any more.
	pub := e.publisher(e.url)
	if err := pub.Publish(context.Background(), recent, old); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool {
		return e.consumed("user.deleted", events.ResultOK)+e.consumed("user.deleted", events.ResultDuplicate) == 2
	}, func() string { return "the two deliveries were not settled" })
	if ok, dup := e.consumed("user.deleted", events.ResultOK), e.consumed("user.deleted", events.ResultDuplicate); ok != 1 || dup != 1 {
		t.Errorf("settled ok=%d duplicate=%d, want 1 and 1", ok, dup)
	}
	if got := e.appliedCounts("users"); got[old.ID] != 1 || got[recent.ID] != 0 {
		t.Errorf("applied %v, want %s once and %s never", got, old.ID, recent.ID)
	}
	time.Sleep(100 * time.Millisecond) // a few more passes
	for _, evt := range []events.Event{recent, old} {
		if c := e.count("SELECT COUNT(*) FROM inbox_messages WHERE consumer = ? AND message_id = ?", queue, evt.ID); c != 1 {
			t.Errorf("inbox has %d rows for %s, want 1", c, evt.ID)
		}
	}
	if n := e.pruned(events.TableInbox); n != 2 {
		t.Errorf("events_pruned_total{table=inbox_messages} = %d, want 2", n)
	}
}

// Without a retention nothing is pruned, and Close stops the prune with the
// consumer (goleak checks the goroutine is gone at the end of the package).
func TestConsumerWithoutRetentionKeepsTheInbox(t *testing.T) {
	e := newEnv(t)
	evt := newEvents(t, "user.deleted", 1)[0]
	e.exec("INSERT INTO inbox_messages (consumer, message_id, processed_at) VALUES (?, ?, DATE_SUB(UTC_TIMESTAMP(6), INTERVAL 1000 DAY))",
		e.service+".users", evt.ID)
	opts := e.consumerOptions(e.url)
	opts.PruneInterval = 10 * time.Millisecond
	c := e.startConsumer(opts, func(c *events.Consumer) {
		if err := c.Subscribe("users", []string{"user.deleted"}, recordApplied("users")); err != nil {
			t.Fatal(err)
		}
	})
	time.Sleep(100 * time.Millisecond)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if n := e.count("SELECT COUNT(*) FROM inbox_messages"); n != 1 {
		t.Fatalf("inbox has %d rows, want 1", n)
	}
}
