package events_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/progressive-overload/po/services/kit/events"
	"github.com/progressive-overload/po/services/kit/testkit/netproxy"
)

// A message whose handler takes the consumer down before the ack (here: the
// connection dies under it, which is what the broker sees of a process
// crash) is handled DeliveryLimit times, then dead-lettered, counted and
// logged, and the consumer carries on with the next message.
func TestCrashingMessageIsDeadLetteredAfterTheDeliveryLimit(t *testing.T) {
	e := newEnv(t)
	const limit = 3
	px := netproxy.Start(t, brokerAddr)
	poison := newEvents(t, "order.crashes", 1)[0]
	var runs atomic.Int32
	crashed := make(chan struct{}, 1)
	opts := e.consumerOptions(amqpURL(px.Addr(), e.vhost))
	opts.DeliveryLimit = limit
	opts.Logger = slog.New(e.logs)
	e.startConsumer(opts, func(c *events.Consumer) {
		if err := c.Subscribe("orders", []string{"order.#"}, func(ctx context.Context, tx *sql.Tx, evt events.Event) error {
			if evt.ID == poison.ID {
				runs.Add(1)
				px.Cut()
				crashed <- struct{}{}
				return errors.New("the process died")
			}
			return recordApplied("orders")(ctx, tx, evt)
		}); err != nil {
			t.Fatal(err)
		}
	})
	pub := e.publisher(e.url)
	if err := pub.Publish(context.Background(), poison); err != nil {
		t.Fatal(err)
	}
	for range limit {
		<-crashed
		px.Restore(t)
	}
	raw := rawChannel(t, e.url)
	dlq := e.service + ".orders.dlq"
	waitFor(t, func() bool { return queueDepth(t, raw, dlq) == 1 },
		func() string { return fmt.Sprintf("DLQ holds %d messages, want 1", queueDepth(t, raw, dlq)) })

	next := newEvents(t, "order.placed", 1)[0]
	if err := pub.Publish(context.Background(), next); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return e.appliedCounts("orders")[next.ID] == 1 },
		func() string { return "the message after the poison one was not applied" })

	if n := runs.Load(); n != limit {
		t.Errorf("the crashing handler ran %d times, want %d", n, limit)
	}
	if got := e.consumed(poison.Type, events.ResultDead); got != 1 {
		t.Errorf("dead = %d for the crashing type, want 1", got)
	}
	if msgs := e.logs.find(slog.LevelError, "message_id", poison.ID); len(msgs) != 1 {
		t.Errorf("logged at ERROR for the poison message: %q, want one line", msgs)
	}
	if dead := drainIDs(t, raw, dlq); dead[poison.ID] != 1 || len(dead) != 1 {
		t.Errorf("DLQ holds %v, want only %s", dead, poison.ID)
	}
}

// The broker enforces the limit by itself where the consumer cannot: a
// consumer that dies on every delivery before it can even look at the
// message, stood in for by a raw channel closed on each delivery, sees it
// DeliveryLimit+1 times, and then the broker dead-letters it.
func TestBrokerDeadLettersWhatExceedsTheDeliveryLimit(t *testing.T) {
	e := newEnv(t)
	const limit = 2
	opts := e.consumerOptions(e.url)
	opts.DeliveryLimit = limit
	// Declares the topology; closed before anything is published.
	c := e.startConsumer(opts, func(c *events.Consumer) {
		if err := c.Subscribe("orders", []string{"order.#"}, recordApplied("orders")); err != nil {
			t.Fatal(err)
		}
	})
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	evt := newEvents(t, "order.placed", 1)[0]
	if err := e.publisher(e.url).Publish(context.Background(), evt); err != nil {
		t.Fatal(err)
	}
	conn := dialBroker(t, e.url)
	queue, dlq := e.service+".orders", e.service+".orders.dlq"
	raw := rawChannel(t, e.url)
	deliveries := 0
	waitFor(t, func() bool {
		ch, err := conn.Channel()
		if err != nil {
			t.Fatal(err)
		}
		defer ch.Close()
		if _, ok, err := ch.Get(queue, false); err != nil {
			t.Fatal(err)
		} else if ok {
			deliveries++
			return false // closing the channel unsettled: the crash
		}
		return queueDepth(t, raw, dlq) == 1
	}, func() string { return fmt.Sprintf("%d deliveries, the DLQ still empty", deliveries) })
	if deliveries != limit+1 {
		t.Errorf("delivered %d times before the broker dead-lettered it, want %d", deliveries, limit+1)
	}
	d, ok, err := raw.Get(dlq, true)
	if err != nil || !ok {
		t.Fatalf("DLQ: %v %v", ok, err)
	}
	if d.MessageId != evt.ID || d.Headers["x-first-death-reason"] != "delivery_limit" {
		t.Errorf("DLQ holds %s dead-lettered for %v, want %s for delivery_limit", d.MessageId, d.Headers["x-first-death-reason"], evt.ID)
	}
	if got := e.appliedCounts("orders"); len(got) != 0 {
		t.Errorf("applied %v", got)
	}
}

// Two replicas consume one quorum queue. Every event is published twice and
// one replica loses its connection mid-batch: each event is applied exactly
// once, and the inbox drops every other delivery.
func TestTwoReplicasCompeteOnOneQueue(t *testing.T) {
	e := newEnv(t)
	const n = 150
	px := netproxy.Start(t, brokerAddr)
	replicas := []struct {
		url     string
		metrics *events.Metrics
	}{
		{amqpURL(px.Addr(), e.vhost), events.NewMetrics(prometheus.NewRegistry())},
		{e.url, events.NewMetrics(prometheus.NewRegistry())},
	}
	for _, r := range replicas {
		opts := e.consumerOptions(r.url)
		opts.Metrics = r.metrics
		e.startConsumer(opts, func(c *events.Consumer) {
			if err := c.Subscribe("orders", []string{"order.#"}, recordApplied("orders")); err != nil {
				t.Fatal(err)
			}
		})
	}
	count := func(i int, result string) int {
		return int(testutil.ToFloat64(replicas[i].metrics.Consumed.WithLabelValues(e.service, "order.placed", result)))
	}
	evts := newEvents(t, "order.placed", n)
	pub := e.publisher(e.url)
	go func() {
		for _, evt := range evts {
			// Twice, as a relay that crashed before marking its batch does.
			if err := pub.Publish(context.Background(), evt, evt); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	waitFor(t, func() bool { return count(0, events.ResultOK) >= 5 }, func() string { return "replica 0 applied nothing" })
	px.Cut()
	px.Restore(t)
	waitFor(t, func() bool { return len(e.appliedCounts("orders")) == n },
		func() string { return describeCounts(e.appliedCounts("orders"), n) })
	// Every copy is settled before the queue is empty of it.
	raw := rawChannel(t, e.url)
	waitFor(t, func() bool {
		q, err := raw.QueueDeclarePassive(e.service+".orders", true, false, false, false, nil)
		return err == nil && q.Messages == 0 && count(0, events.ResultOK)+count(1, events.ResultOK)+
			count(0, events.ResultDuplicate)+count(1, events.ResultDuplicate) >= 2*n
	}, func() string { return "copies left unsettled" })

	for id, c := range e.appliedCounts("orders") {
		if c != 1 {
			t.Errorf("event %s applied %d times", id, c)
		}
	}
	ok0, ok1 := count(0, events.ResultOK), count(1, events.ResultOK)
	dup0, dup1 := count(0, events.ResultDuplicate), count(1, events.ResultDuplicate)
	t.Logf("applied: replica 0 %d, replica 1 %d; duplicates dropped by the inbox: %d and %d (%d published twice)", ok0, ok1, dup0, dup1, n)
	if ok0 == 0 || ok1 == 0 {
		t.Errorf("one replica applied nothing: %d and %d", ok0, ok1)
	}
	// An event committed but not acked when the connection died counts
	// neither as ok there nor as ok on redelivery.
	if ok0+ok1 > n {
		t.Errorf("%d applications counted for %d events", ok0+ok1, n)
	}
	if dup0+dup1 < n {
		t.Errorf("the inbox dropped %d deliveries, want at least the %d second copies", dup0+dup1, n)
	}
	if c := e.count("SELECT COUNT(*) FROM inbox_messages"); c != n {
		t.Errorf("inbox has %d rows, want %d", c, n)
	}
}

func dialBroker(tb testing.TB, url string) *amqp.Connection {
	tb.Helper()
	conn, err := amqp.Dial(url)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = conn.Close() })
	return conn
}
