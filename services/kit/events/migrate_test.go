package events_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"strconv"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/progressive-overload/po/services/kit/events"
)

// An install upgraded from classic queues: messages wait in the classic main,
// retry and dead-letter queues, and a replica of the previous release still
// consumes the main queue, holding a message it has not acked. The new
// consumer replaces each queue by a quorum queue of the same name once that
// replica has gone; every message is applied exactly once, including those
// published mid-migration, and the retries and dead letters are kept.
func TestMigrationFromClassicQueuesLosesNothing(t *testing.T) {
	e := newEnv(t)
	subscribe := func(c *events.Consumer) {
		if err := c.Subscribe("orders", []string{"order.#"}, recordApplied("orders")); err != nil {
			t.Fatal(err)
		}
	}
	old := e.consumerOptions(e.url)
	old.QueueType = events.QueueClassic
	c := e.startConsumer(old, subscribe)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	queue := e.service + ".orders"
	e.ownQueues(events.HoldingQueue(queue))
	ctx := context.Background()
	pub := e.publisher(e.url)
	waiting := newEvents(t, "order.placed", 30)
	if err := pub.Publish(ctx, waiting...); err != nil {
		t.Fatal(err)
	}
	raw := rawChannel(t, e.url)
	// Retries far from due and dead letters: they must still be there after.
	retries, dead := newEvents(t, "order.placed", 3), newEvents(t, "order.placed", 2)
	for _, put := range []struct {
		queue string
		evts  []events.Event
		exp   string
	}{{queue + ".retry", retries, strconv.Itoa(3600_000)}, {queue + ".dlq", dead, ""}} {
		for _, evt := range put.evts {
			if err := raw.PublishWithContext(ctx, "", put.queue, true, false, amqp.Publishing{
				MessageId: evt.ID, Type: evt.Type, DeliveryMode: amqp.Persistent, Expiration: put.exp,
				Headers: amqp.Table{events.RetriesHeader: int32(1)}, Body: mustEnvelope(t, evt),
			}); err != nil {
				t.Fatal(err)
			}
		}
	}

	// The previous release's replica: attached, holding one message.
	oldReplica, err := dialBroker(t, e.url).Channel()
	if err != nil {
		t.Fatal(err)
	}
	if err := oldReplica.Qos(1, 0, false); err != nil {
		t.Fatal(err)
	}
	held, err := oldReplica.Consume(queue, "", false, false, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	<-held

	opts := e.consumerOptions(e.url)
	opts.MigrationRetry = 50 * time.Millisecond
	opts.Logger = slog.New(e.logs)
	c, err = events.NewConsumer(e.db, opts)
	if err != nil {
		t.Fatal(err)
	}
	subscribe(c)
	t.Cleanup(func() { _ = c.Close() })
	started := make(chan error, 1)
	go func() { started <- c.Start(context.Background()) }()

	conn := dialBroker(t, e.url)
	waitFor(t, func() bool { return exists(t, conn, events.HoldingQueue(queue)) },
		func() string { return "no holding queue" })
	// Published while the main queue cannot be replaced yet.
	during := newEvents(t, "order.placed", 20)
	if err := pub.Publish(ctx, during...); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool {
		return slices.Contains(e.logs.find(slog.LevelWarn, "queue", queue), "classic queue still in use or not empty; retrying")
	}, func() string { return "the migration never found the main queue in use" })
	if isQuorum(t, conn, e, queue) {
		t.Fatal("the main queue was replaced while a consumer was attached to it")
	}
	// The old replica stops without acking: its message goes back.
	if err := oldReplica.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-started; err != nil {
		t.Fatal(err)
	}
	after := newEvents(t, "order.placed", 10)
	if err := pub.Publish(ctx, after...); err != nil {
		t.Fatal(err)
	}
	all := append(append(append([]events.Event{}, waiting...), during...), after...)
	waitFor(t, func() bool { return len(e.appliedCounts("orders")) == len(all) },
		func() string { return describeCounts(e.appliedCounts("orders"), len(all)) })
	for _, evt := range all {
		if n := e.appliedCounts("orders")[evt.ID]; n != 1 {
			t.Errorf("event %s applied %d times", evt.ID, n)
		}
	}
	for _, q := range []string{queue, queue + ".retry", queue + ".dlq"} {
		if !isQuorum(t, conn, e, q) {
			t.Errorf("%s is not a quorum queue", q)
		}
		if exists(t, conn, events.HoldingQueue(q)) {
			t.Errorf("holding queue of %s left behind", q)
		}
	}
	for q, want := range map[string][]events.Event{queue + ".retry": retries, queue + ".dlq": dead} {
		got := drainIDs(t, raw, q)
		if len(got) != len(want) {
			t.Errorf("%s holds %v, want %d messages", q, got, len(want))
		}
		for _, evt := range want {
			if got[evt.ID] != 1 {
				t.Errorf("%s holds %s %d times, want 1", q, evt.ID, got[evt.ID])
			}
		}
	}
	if c := e.count("SELECT COUNT(*) FROM applied"); c != len(all) {
		t.Errorf("%d applications for %d events", c, len(all))
	}
}

func mustEnvelope(tb testing.TB, evt events.Event) []byte {
	tb.Helper()
	b, err := json.Marshal(evt)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func exists(tb testing.TB, conn *amqp.Connection, queue string) bool {
	tb.Helper()
	ch, err := conn.Channel()
	if err != nil {
		tb.Fatal(err)
	}
	defer ch.Close()
	_, err = ch.QueueDeclarePassive(queue, true, false, false, false, nil)
	return err == nil
}

// isQuorum redeclares an existing queue with the quorum arguments: RabbitMQ
// accepts that only from a quorum queue.
func isQuorum(tb testing.TB, conn *amqp.Connection, e *env, queue string) bool {
	tb.Helper()
	if !exists(tb, conn, queue) {
		tb.Fatalf("%s does not exist", queue)
	}
	ch, err := conn.Channel()
	if err != nil {
		tb.Fatal(err)
	}
	defer ch.Close()
	main := e.service + ".orders"
	args := events.QueueArgs(events.QueueQuorum, e.exchange, main, []string{"order.#"}, events.DefaultDeliveryLimit)[queue]
	_, err = ch.QueueDeclare(queue, true, false, false, false, args)
	var ae *amqp.Error
	if err != nil && (!errors.As(err, &ae) || ae.Code != amqp.PreconditionFailed) {
		tb.Fatal(err)
	}
	return err == nil
}
