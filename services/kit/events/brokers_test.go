package events_test

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/progressive-overload/po/services/kit/events"
	"github.com/progressive-overload/po/services/kit/testkit/netproxy"
)

// AMQP_URL may name several brokers (the nodes of a cluster with no
// balancer in front); each is checked up front.
func TestSeveralURLsAreValidatedEach(t *testing.T) {
	for _, u := range []string{"", " , ", "amqp://guest:guest@127.0.0.1:5672/,http://127.0.0.1:15672/"} {
		if _, err := events.NewPublisher(events.PublisherOptions{URL: u, Service: "svc"}); err == nil {
			t.Errorf("publisher accepted %q", u)
		}
		if _, err := events.NewConsumer(nil, events.ConsumerOptions{URL: u, Service: "svc"}); err == nil {
			t.Errorf("consumer accepted %q", u)
		}
	}
}

// Given several URLs, a publisher and a consumer connect to one that
// answers, and when it goes away they reconnect to another: the events
// published through every outage are all applied.
func TestSeveralURLsFailOverToTheOneThatAnswers(t *testing.T) {
	e := newEnv(t)
	dead := netproxy.Start(t, brokerAddr)
	dead.Cut() // refuses connections for the whole test
	a, b := netproxy.Start(t, brokerAddr), netproxy.Start(t, brokerAddr)
	urls := strings.Join([]string{amqpURL(dead.Addr(), e.vhost), amqpURL(a.Addr(), e.vhost), amqpURL(b.Addr(), e.vhost)}, ",")
	e.startConsumer(e.consumerOptions(urls), func(c *events.Consumer) {
		if err := c.Subscribe("orders", []string{"order.#"}, recordApplied("orders")); err != nil {
			t.Fatal(err)
		}
	})
	pub := e.publisher(urls)
	evts := newEvents(t, "order.placed", 3)
	// Publish retries until it goes through: a client that has not yet seen
	// its connection go is refused (ErrNotConnected, or a nack).
	publish := func(evt events.Event) {
		waitFor(t, func() bool {
			err := pub.Publish(context.Background(), evt)
			if err != nil && !errors.Is(err, events.ErrNotConnected) && !errors.Is(err, events.ErrNacked) && !strings.Contains(err.Error(), "closed") {
				t.Logf("publish: %v", err)
			}
			return err == nil
		}, func() string { return "no publish went through" })
	}
	publish(evts[0])
	// Whichever of a and b each client was on, after these two outages both
	// have been on b and then on a, so each has reconnected at least once
	// to a URL other than the one it had.
	a.Cut()
	publish(evts[1])
	a.Restore(t)
	b.Cut()
	publish(evts[2])
	waitFor(t, func() bool { return len(e.appliedCounts("orders")) == len(evts) },
		func() string { return describeCounts(e.appliedCounts("orders"), len(evts)) })
	for id, n := range e.appliedCounts("orders") {
		if n != 1 {
			t.Errorf("event %s applied %d times", id, n)
		}
	}
}

// A publish the broker refuses (here: a full queue that rejects publishes)
// makes the publisher start again on a new connection, logged, and the
// next publish goes through.
func TestPublisherStartsAfreshAfterANack(t *testing.T) {
	e := newEnv(t)
	raw := rawChannel(t, e.url)
	e.tapQueue(raw, "order.placed")
	full := e.service + ".full"
	e.ownQueues(full)
	if _, err := raw.QueueDeclare(full, true, false, false, false, amqp.Table{"x-max-length": 0, "x-overflow": "reject-publish"}); err != nil {
		t.Fatal(err)
	}
	if err := raw.QueueBind(full, "order.refused", e.exchange, false, nil); err != nil {
		t.Fatal(err)
	}
	pub := e.publisher(e.url)
	if err := pub.Publish(context.Background(), newEvents(t, "order.refused", 1)...); !errors.Is(err, events.ErrNacked) {
		t.Fatalf("publish to a full queue: %v, want a nack", err)
	}
	if msgs := e.logs.find(slog.LevelWarn, "exchange", e.exchange); !slices.Contains(msgs, "broker refused messages; reconnecting") {
		t.Errorf("logged %q", msgs)
	}
	evt := newEvents(t, "order.placed", 1)[0]
	waitFor(t, func() bool { return pub.Publish(context.Background(), evt) == nil },
		func() string { return "no publish went through after the nack" })
}
