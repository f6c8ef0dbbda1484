package events_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	amqp "github.com/rabbitmq/amqp091-go"
	"go.uber.org/goleak"

	"github.com/progressive-overload/po/services/kit/events"
	"github.com/progressive-overload/po/services/kit/testkit/netproxy"
)

// Committed enqueues travel outbox -> relay -> broker -> consumer and are each
// applied once; a rolled-back enqueue leaves nothing behind to publish.
func TestOutboxToConsumerEndToEnd(t *testing.T) {
	e := newEnv(t)
	const n = 300
	e.startConsumer(e.consumerOptions(e.url), func(c *events.Consumer) {
		if err := c.Subscribe("things", []string{"thing.*"}, recordApplied("things")); err != nil {
			t.Fatal(err)
		}
	})
	pub := e.publisher(e.url)
	relay, _ := e.startRelay(pub, events.RelayOptions{BatchSize: 25})

	committed := newEvents(t, "thing.created", n)
	rolledBack := newEvents(t, "thing.created", 1)[0]
	for i, evt := range committed {
		e.enqueueCommitted(evt)
		relay.Notify()
		if i == n/2 {
			tx, err := e.db.Begin()
			if err != nil {
				t.Fatal(err)
			}
			if err := events.Enqueue(context.Background(), tx, rolledBack); err != nil {
				t.Fatal(err)
			}
			if err := tx.Rollback(); err != nil {
				t.Fatal(err)
			}
			relay.Notify()
		}
	}

	waitFor(t, func() bool { return len(e.appliedCounts("things")) >= n },
		func() string { return describeCounts(e.appliedCounts("things"), n) })
	// Once the relay has marked everything, anything it ever published has
	// been confirmed, so the consumer's view below is final.
	waitFor(t, func() bool { return e.count("SELECT COUNT(*) FROM outbox_events WHERE published_at IS NULL") == 0 },
		func() string { return "outbox rows still unpublished" })
	waitFor(t, func() bool { return e.consumed("thing.created", events.ResultOK) == n },
		func() string {
			return fmt.Sprintf("%d acked ok, want %d", e.consumed("thing.created", events.ResultOK), n)
		})

	got := e.appliedCounts("things")
	for _, evt := range committed {
		if got[evt.ID] != 1 {
			t.Errorf("event %s applied %d times, want 1", evt.ID, got[evt.ID])
		}
	}
	if got[rolledBack.ID] != 0 {
		t.Errorf("rolled-back event applied %d times", got[rolledBack.ID])
	}
	if len(got) != n {
		t.Errorf("%d distinct events applied, want %d", len(got), n)
	}
	if c := e.count("SELECT COUNT(*) FROM outbox_events WHERE event_id = ?", rolledBack.ID); c != 0 {
		t.Errorf("rolled-back event has %d outbox rows", c)
	}
	if c := e.count("SELECT COUNT(*) FROM outbox_events"); c != n {
		t.Errorf("outbox holds %d rows, want %d", c, n)
	}
	if p := testutil.ToFloat64(e.metrics.Published.WithLabelValues(e.service, "thing.created")); p != n {
		t.Errorf("events_published_total = %v, want %d", p, n)
	}
	waitFor(t, func() bool { return testutil.ToFloat64(e.metrics.OutboxPending.WithLabelValues(e.service)) == 0 },
		func() string { return "outbox_pending never dropped to 0" })
}

// The broker may deliver one message several times (here: published three
// times, two of them in one batch so they arrive together); the handler's
// effect happens once.
func TestDuplicateDeliveriesAreAppliedOnce(t *testing.T) {
	e := newEnv(t)
	e.startConsumer(e.consumerOptions(e.url), func(c *events.Consumer) {
		if err := c.Subscribe("users", []string{"user.deleted"}, recordApplied("users")); err != nil {
			t.Fatal(err)
		}
	})
	pub := e.publisher(e.url)
	evt := newEvents(t, "user.deleted", 1)[0]
	ctx := context.Background()
	if err := pub.Publish(ctx, evt, evt); err != nil {
		t.Fatal(err)
	}
	if err := pub.Publish(ctx, evt); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool {
		return e.consumed("user.deleted", events.ResultOK)+e.consumed("user.deleted", events.ResultDuplicate) == 3
	}, func() string { return "three deliveries were not all settled" })

	if ok, dup := e.consumed("user.deleted", events.ResultOK), e.consumed("user.deleted", events.ResultDuplicate); ok != 1 || dup != 2 {
		t.Errorf("settled ok=%d duplicate=%d, want 1 and 2", ok, dup)
	}
	if got := e.appliedCounts("users"); got[evt.ID] != 1 || len(got) != 1 {
		t.Errorf("applied %v, want %s once", got, evt.ID)
	}
	if c := e.count("SELECT COUNT(*) FROM inbox_messages WHERE consumer = ? AND message_id = ?", e.service+".users", evt.ID); c != 1 {
		t.Errorf("inbox has %d rows for the event, want 1", c)
	}
}

// Undecodable messages, handlers that always fail or panic and permanent
// errors end in the DLQ after the bounded retries (poison at once), each
// failed attempt rolled back, while healthy messages keep flowing.
func TestFailuresEndInTheDeadLetterQueue(t *testing.T) {
	e := newEnv(t)
	const maxAttempts = 3
	var mu sync.Mutex
	attempts := map[string]int{}
	handler := func(ctx context.Context, tx *sql.Tx, evt events.Event) error {
		mu.Lock()
		attempts[evt.Type]++
		mu.Unlock()
		// Written before failing: the rollback must take it away.
		if err := recordApplied("orders")(ctx, tx, evt); err != nil {
			return err
		}
		switch evt.Type {
		case "order.fails":
			return errors.New("downstream unavailable")
		case "order.panics":
			panic("handler bug")
		case "order.permanent":
			return events.Permanent(errors.New("order does not exist"))
		}
		return nil
	}
	opts := e.consumerOptions(e.url)
	opts.MaxAttempts = maxAttempts
	e.startConsumer(opts, func(c *events.Consumer) {
		if err := c.Subscribe("orders", []string{"order.#"}, handler); err != nil {
			t.Fatal(err)
		}
	})
	pub := e.publisher(e.url)
	raw := rawChannel(t, e.url)
	ctx := context.Background()

	if err := raw.PublishWithContext(ctx, e.exchange, "order.poison", false, false, amqp.Publishing{
		MessageId: "poison-1", Type: "order.poison", DeliveryMode: amqp.Persistent, Body: []byte("{not json"),
	}); err != nil {
		t.Fatal(err)
	}
	bad := append(append(newEvents(t, "order.fails", 1), newEvents(t, "order.panics", 1)...), newEvents(t, "order.permanent", 1)...)
	if err := pub.Publish(ctx, bad...); err != nil {
		t.Fatal(err)
	}
	good := newEvents(t, "order.placed", 20)
	if err := pub.Publish(ctx, good...); err != nil {
		t.Fatal(err)
	}

	dlq := e.service + ".orders.dlq"
	waitFor(t, func() bool { return queueDepth(t, raw, dlq) == 4 },
		func() string { return fmt.Sprintf("DLQ holds %d messages, want 4", queueDepth(t, raw, dlq)) })
	waitFor(t, func() bool { return len(e.appliedCounts("orders")) == len(good) },
		func() string { return describeCounts(e.appliedCounts("orders"), len(good)) })

	mu.Lock()
	defer mu.Unlock()
	want := map[string]int{"order.fails": maxAttempts, "order.panics": maxAttempts, "order.permanent": 1, "order.placed": len(good)}
	for typ, n := range want {
		if attempts[typ] != n {
			t.Errorf("%s handled %d times, want %d", typ, attempts[typ], n)
		}
	}
	if _, ok := attempts["order.poison"]; ok {
		t.Error("the handler saw the poison message")
	}
	applied := e.appliedCounts("orders")
	for _, evt := range bad {
		if applied[evt.ID] != 0 {
			t.Errorf("failed %s left %d rows behind", evt.Type, applied[evt.ID])
		}
	}
	for _, evt := range good {
		if applied[evt.ID] != 1 {
			t.Errorf("good event %s applied %d times", evt.ID, applied[evt.ID])
		}
	}
	if c := e.count("SELECT COUNT(*) FROM inbox_messages"); c != len(good) {
		t.Errorf("inbox has %d rows, want %d (failed attempts must not claim their id)", c, len(good))
	}

	dead := drainIDs(t, raw, dlq)
	wantDead := map[string]int{"poison-1": 1, bad[0].ID: 1, bad[1].ID: 1, bad[2].ID: 1}
	if fmt.Sprint(dead) != fmt.Sprint(wantDead) {
		t.Errorf("DLQ holds %v, want %v", dead, wantDead)
	}
	for typ, n := range map[string]int{"order.fails": 1, "order.panics": 1, "order.permanent": 1, "order.poison": 1} {
		if got := e.consumed(typ, events.ResultDead); got != n {
			t.Errorf("%s dead = %d, want %d", typ, got, n)
		}
	}
	for typ, n := range map[string]int{"order.fails": maxAttempts - 1, "order.panics": maxAttempts - 1, "order.permanent": 0} {
		if got := e.consumed(typ, events.ResultRetry); got != n {
			t.Errorf("%s retry = %d, want %d", typ, got, n)
		}
	}
	if d := queueDepth(t, raw, e.service+".orders.retry"); d != 0 {
		t.Errorf("retry queue still holds %d messages", d)
	}
}

// Two relays draining one outbox while rows keep arriving publish every row
// exactly once.
func TestConcurrentRelaysPublishEachRowOnce(t *testing.T) {
	e := newEnv(t)
	raw := rawChannel(t, e.url)
	tap := e.tapQueue(raw)
	const writers, perWriter = 4, 100
	_, stopA := e.startRelay(e.publisher(e.url), events.RelayOptions{BatchSize: 7})
	_, stopB := e.startRelay(e.publisher(e.url), events.RelayOptions{BatchSize: 7})

	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for range writers {
		evts := newEvents(t, "thing.created", perWriter)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < len(evts); i += 5 {
				tx, err := e.db.Begin()
				if err == nil {
					err = events.Enqueue(context.Background(), tx, evts[i:i+5]...)
				}
				if err == nil {
					err = tx.Commit()
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	const n = writers * perWriter
	waitFor(t, func() bool { return e.count("SELECT COUNT(*) FROM outbox_events WHERE published_at IS NOT NULL") == n },
		func() string { return "not every row was marked published" })
	stopA()
	stopB()

	// Every publish was confirmed before its row was marked, and both relays
	// have stopped: the tap now holds everything that was ever published.
	if d := queueDepth(t, raw, tap); d != n {
		t.Errorf("the exchange received %d messages, want %d", d, n)
	}
	ids := drainIDs(t, raw, tap)
	if len(ids) != n {
		t.Errorf("%d distinct ids published, want %d", len(ids), n)
	}
	for id, c := range ids {
		if c != 1 {
			t.Errorf("%s published %d times", id, c)
		}
	}
	if c := e.count("SELECT COUNT(*) FROM outbox_events WHERE attempts <> 1"); c != 0 {
		t.Errorf("%d rows took more than one publish attempt", c)
	}
}

// A relay that dies after the broker confirmed but before its commit
// republishes the rows; the consumer's inbox absorbs the duplicate.
func TestRelayCrashBeforeMarkIsAbsorbedByTheInbox(t *testing.T) {
	e := newEnv(t)
	raw := rawChannel(t, e.url)
	tap := e.tapQueue(raw)
	e.startConsumer(e.consumerOptions(e.url), func(c *events.Consumer) {
		if err := c.Subscribe("users", []string{"user.suspended"}, recordApplied("users")); err != nil {
			t.Fatal(err)
		}
	})
	evt := newEvents(t, "user.suspended", 1)[0]
	e.enqueueCommitted(evt)

	var crashes atomic.Int32
	e.startRelay(e.publisher(e.url), events.RelayOptions{}, func(r *events.Relay) {
		events.SetBeforeMark(r, func() error {
			if crashes.Add(1) == 1 {
				return errors.New("simulated crash after publish, before mark")
			}
			return nil
		})
	})

	waitFor(t, func() bool { return e.count("SELECT COUNT(*) FROM outbox_events WHERE published_at IS NOT NULL") == 1 },
		func() string { return "the row was never marked published" })
	waitFor(t, func() bool {
		return e.consumed("user.suspended", events.ResultOK)+e.consumed("user.suspended", events.ResultDuplicate) == 2
	}, func() string { return "both copies were not settled" })

	if ok, dup := e.consumed("user.suspended", events.ResultOK), e.consumed("user.suspended", events.ResultDuplicate); ok != 1 || dup != 1 {
		t.Errorf("settled ok=%d duplicate=%d, want 1 and 1", ok, dup)
	}
	if got := e.appliedCounts("users"); got[evt.ID] != 1 {
		t.Errorf("applied %d times, want 1", got[evt.ID])
	}
	if ids := drainIDs(t, raw, tap); ids[evt.ID] != 2 {
		t.Errorf("broker received the event %d times, want 2 (the crash must have published it)", ids[evt.ID])
	}
}

// With the broker unreachable, enqueues pile up in the outbox; when it comes
// back the publisher and consumer reconnect by themselves and every event is
// applied exactly once.
func TestBrokerOutage(t *testing.T) {
	e := newEnv(t)
	px := netproxy.Start(t, brokerAddr)
	url := amqpURL(px.Addr(), e.vhost)
	e.startConsumer(e.consumerOptions(url), func(c *events.Consumer) {
		if err := c.Subscribe("things", []string{"thing.created"}, recordApplied("things")); err != nil {
			t.Fatal(err)
		}
	})
	pub := e.publisher(url)
	relay, _ := e.startRelay(pub, events.RelayOptions{BatchSize: 20})

	before := newEvents(t, "thing.created", 20)
	e.enqueueCommitted(before...)
	relay.Notify()
	waitFor(t, func() bool { return len(e.appliedCounts("things")) == len(before) },
		func() string { return describeCounts(e.appliedCounts("things"), len(before)) })

	px.Cut()
	waitFor(t, func() bool { return !pub.Connected() }, func() string { return "the publisher never noticed the outage" })
	const n = 200
	during := newEvents(t, "thing.created", n)
	e.enqueueCommitted(during...)
	relay.Notify()
	waitFor(t, func() bool { return testutil.ToFloat64(e.metrics.OutboxPending.WithLabelValues(e.service)) == n },
		func() string {
			return fmt.Sprintf("outbox_pending = %v, want %d", testutil.ToFloat64(e.metrics.OutboxPending.WithLabelValues(e.service)), n)
		})
	if got := len(e.appliedCounts("things")); got != len(before) {
		t.Fatalf("%d events applied while the broker was unreachable", got-len(before))
	}
	if age := testutil.ToFloat64(e.metrics.OutboxOldestAge.WithLabelValues(e.service)); age <= 0 {
		t.Errorf("outbox_oldest_age_seconds = %v with a backlog", age)
	}

	px.Restore(t)
	total := len(before) + n
	waitFor(t, func() bool { return len(e.appliedCounts("things")) == total },
		func() string { return describeCounts(e.appliedCounts("things"), total) })
	waitFor(t, func() bool { return e.count("SELECT COUNT(*) FROM outbox_events WHERE published_at IS NULL") == 0 },
		func() string { return "outbox rows still unpublished" })

	got := e.appliedCounts("things")
	applied := 0
	for _, evt := range during {
		if got[evt.ID] == 1 {
			applied++
		} else {
			t.Errorf("event %s applied %d times after the outage", evt.ID, got[evt.ID])
		}
	}
	t.Logf("after the outage: %d of %d events enqueued during it applied exactly once", applied, n)
	for id, c := range got {
		if c != 1 {
			t.Errorf("event %s applied %d times", id, c)
		}
	}
}

// Close lets the handler in flight finish and settle before it returns, and
// leaves no goroutine behind.
func TestCloseWaitsForHandlersAndLeaksNothing(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	e := newEnv(t)
	started := make(chan string, 1)
	release := make(chan struct{})
	c, err := events.NewConsumer(e.db, e.consumerOptions(e.url))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	if err := c.Subscribe("slow", []string{"thing.created"}, func(ctx context.Context, tx *sql.Tx, evt events.Event) error {
		started <- evt.ID
		<-release
		return recordApplied("slow")(ctx, tx, evt)
	}); err != nil {
		t.Fatal(err)
	}
	e.ownQueues(events.ConsumerQueues(c)...)
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	pub := e.publisher(e.url)
	evt := newEvents(t, "thing.created", 1)[0]
	if err := pub.Publish(context.Background(), evt); err != nil {
		t.Fatal(err)
	}
	if id := <-started; id != evt.ID {
		t.Fatalf("handler got %s", id)
	}
	closed := make(chan struct{})
	go func() {
		_ = c.Close()
		close(closed)
	}()
	// Start refuses once Close has begun; from then on Close must be stuck
	// behind the blocked handler.
	waitFor(t, func() bool { return errors.Is(c.Start(context.Background()), events.ErrClosed) },
		func() string { return "Close never began" })
	select {
	case <-closed:
		t.Fatal("Close returned while a handler was still running")
	default:
	}
	close(release)
	<-closed
	if ok := e.consumed("thing.created", events.ResultOK); ok != 1 {
		t.Errorf("the in-flight message was settled ok %d times before Close returned, want 1", ok)
	}
	if got := e.appliedCounts("slow"); got[evt.ID] != 1 {
		t.Errorf("in-flight handler's work committed %d times, want 1", got[evt.ID])
	}

	_, stop := e.startRelay(pub, events.RelayOptions{})
	stop()
	if err := pub.Close(); err != nil {
		t.Fatal(err)
	}
	if err := e.db.Close(); err != nil {
		t.Fatal(err)
	}
	goleak.VerifyNone(t, ignore)
}

// While a relay holds its batch (publishing, waiting for confirms), services
// must still be able to enqueue: the relay's locks cover its rows, not the
// gap new rows go into.
func TestRelayBatchDoesNotBlockEnqueue(t *testing.T) {
	e := newEnv(t)
	// Somewhere to go: a message no queue takes is not published.
	e.tapQueue(rawChannel(t, e.url))
	first := newEvents(t, "thing.created", 1)[0]
	e.enqueueCommitted(first)
	inBatch, resume := make(chan struct{}), make(chan struct{})
	var once sync.Once
	e.startRelay(e.publisher(e.url), events.RelayOptions{}, func(r *events.Relay) {
		events.SetBeforeMark(r, func() error {
			once.Do(func() {
				close(inBatch)
				<-resume
			})
			return nil
		})
	})
	<-inBatch

	ctx := context.Background()
	conn, err := e.db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// Fail fast rather than after the default 50s if the insert is blocked.
	if _, err := conn.ExecContext(ctx, "SET SESSION innodb_lock_wait_timeout = 5"); err != nil {
		t.Fatal(err)
	}
	second := newEvents(t, "thing.created", 1)[0]
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := events.Enqueue(ctx, tx, second); err != nil {
		t.Errorf("enqueue while the relay holds a batch: %v", err)
	}
	if err := tx.Commit(); err != nil {
		t.Errorf("commit while the relay holds a batch: %v", err)
	}
	close(resume)
	waitFor(t, func() bool { return e.count("SELECT COUNT(*) FROM outbox_events WHERE published_at IS NOT NULL") == 2 },
		func() string { return "both rows were not published" })
}

// With a retention set, published rows are deleted and unpublished ones are
// kept however old they get.
func TestRelayPrunesOnlyPublishedRows(t *testing.T) {
	e := newEnv(t)
	raw := rawChannel(t, e.url)
	tap := e.tapQueue(raw)
	px := netproxy.Start(t, brokerAddr)
	pub := e.publisher(amqpURL(px.Addr(), e.vhost))
	relay, _ := e.startRelay(pub, events.RelayOptions{Retention: time.Microsecond})

	published := newEvents(t, "thing.created", 3)
	e.enqueueCommitted(published...)
	relay.Notify()
	waitFor(t, func() bool { return e.count("SELECT COUNT(*) FROM outbox_events") == 0 },
		func() string { return "published rows were not pruned" })

	px.Cut()
	waitFor(t, func() bool { return !pub.Connected() }, func() string { return "the publisher never noticed the outage" })
	pending := newEvents(t, "thing.created", 2)
	e.enqueueCommitted(pending...)
	// Several prune passes run while these wait.
	waitFor(t, func() bool { return testutil.ToFloat64(e.metrics.OutboxPending.WithLabelValues(e.service)) == 2 },
		func() string { return "outbox_pending never reached 2" })
	waitFor(t, func() bool { return testutil.ToFloat64(e.metrics.OutboxOldestAge.WithLabelValues(e.service)) > 0.2 },
		func() string { return "the backlog never aged past 0.2s" })
	if c := e.count("SELECT COUNT(*) FROM outbox_events WHERE event_id IN (?, ?)", pending[0].ID, pending[1].ID); c != 2 {
		t.Fatalf("%d of 2 unpublished rows survived pruning", c)
	}

	px.Restore(t)
	waitFor(t, func() bool { return e.count("SELECT COUNT(*) FROM outbox_events") == 0 },
		func() string { return "rows published after the outage were not pruned" })
	ids := drainIDs(t, raw, tap)
	for _, evt := range append(published, pending...) {
		if ids[evt.ID] != 1 {
			t.Errorf("event %s reached the broker %d times, want 1", evt.ID, ids[evt.ID])
		}
	}
}

// A consumer coming back from a connection loss declares its topology again,
// so it recovers even from a broker that lost its queues meanwhile.
func TestConsumerRedeclaresTopologyAfterReconnect(t *testing.T) {
	e := newEnv(t)
	px := netproxy.Start(t, brokerAddr)
	e.startConsumer(e.consumerOptions(amqpURL(px.Addr(), e.vhost)), func(c *events.Consumer) {
		if err := c.Subscribe("users", []string{"user.deleted"}, recordApplied("users")); err != nil {
			t.Fatal(err)
		}
	})
	raw := rawChannel(t, e.url)
	px.Cut()
	for _, q := range []string{e.service + ".users", e.service + ".users.retry", e.service + ".users.dlq"} {
		if _, err := raw.QueueDelete(q, false, false, false); err != nil {
			t.Fatal(err)
		}
	}
	px.Restore(t)
	// A passive declare of a missing queue closes the channel it ran on, so
	// each probe gets its own.
	conn, err := amqp.Dial(e.url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	waitFor(t, func() bool {
		ch, err := conn.Channel()
		if err != nil {
			t.Fatal(err)
		}
		defer ch.Close()
		for _, q := range []string{e.service + ".users.retry", e.service + ".users.dlq"} {
			if _, err := ch.QueueDeclarePassive(q, true, false, false, false, nil); err != nil {
				return false
			}
		}
		// Consuming starts after the bindings, so a consumer on the queue
		// means an event published now is routed to it.
		q, err := ch.QueueDeclarePassive(e.service+".users", true, false, false, false, nil)
		return err == nil && q.Consumers > 0
	}, func() string { return "the queues were not declared again" })

	evt := newEvents(t, "user.deleted", 1)[0]
	if err := e.publisher(e.url).Publish(context.Background(), evt); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return e.appliedCounts("users")[evt.ID] == 1 },
		func() string { return "the event published after the reconnect was not applied" })
}
