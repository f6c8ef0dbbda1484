package events

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// RetriesHeader counts how many times a message has already failed in a
// handler. It is our own header rather than x-death because brokers differ in
// how they treat x-death on republished messages.
const RetriesHeader = "po-retries"

// deliveryCountHeader is set by quorum queues on a redelivery: how many
// earlier deliveries of the message ended without an ack or a reject (the
// consumer's channel closed, or it requeued the message).
const deliveryCountHeader = "x-delivery-count"

// Queue types (AMQP_QUEUE_TYPE).
const (
	// QueueQuorum: durable queues replicated over the cluster's nodes (Raft),
	// with a delivery limit. RabbitMQ 3.10 or later: the retry queue relies on
	// message TTL and at-least-once dead-lettering, both new in 3.10 for
	// quorum queues.
	QueueQuorum = "quorum"
	// QueueClassic: the single-node classic queues of earlier releases, for
	// brokers older than 3.10. No delivery limit: a message that crashes its
	// consumer is redelivered until someone removes it.
	QueueClassic = "classic"
)

// DefaultDeliveryLimit is ConsumerOptions.DeliveryLimit's default: a
// crash-looping message stops after ten restarts, while a message that is
// merely caught in a few connection losses or crashes of unrelated cause is
// still handled. A graceful Close settles everything it received, so rolling
// restarts do not count.
const DefaultDeliveryLimit = 10

func dlxName(exchange string) string { return exchange + ".dlx" }
func retryQueue(queue string) string { return queue + ".retry" }
func deadQueue(queue string) string  { return queue + ".dlq" }

// holdingQueue takes a queue's messages while the queue is replaced by one of
// another type (see migrateQueue).
func holdingQueue(queue string) string { return queue + ".migrating" }

// brokers are the URLs of AMQP_URL: one, or several separated by commas,
// typically one per node of a RabbitMQ cluster that no load balancer stands
// in front of. A connect tries them in turn until one answers, beginning
// after the one the previous connection went to: that connection was most
// likely lost because its node went away. A process' first connect begins
// at a random one, so that the replicas of a service spread over the nodes.
//
// Every node of a cluster serves every queue (a quorum queue's leader may be
// on another node; the broker forwards), so any node that answers will do.
type brokers struct {
	urls  []string
	hosts []string // host:port of each, for errors without credentials
	mu    sync.Mutex
	next  int
}

func parseBrokers(s string) (*brokers, error) {
	b := &brokers{}
	for _, u := range strings.Split(s, ",") {
		if u = strings.TrimSpace(u); u == "" {
			continue
		}
		uri, err := amqp.ParseURI(u)
		if err != nil {
			return nil, fmt.Errorf("events: AMQP URL %d: %w", len(b.urls)+1, err)
		}
		b.urls = append(b.urls, u)
		b.hosts = append(b.hosts, net.JoinHostPort(uri.Host, strconv.Itoa(uri.Port)))
	}
	if len(b.urls) == 0 {
		return nil, errors.New("events: no AMQP URL")
	}
	b.next = rand.IntN(len(b.urls))
	return b, nil
}

// dial connects to the first broker that answers, in the order above.
func (b *brokers) dial(name string) (*amqp.Connection, error) {
	var errs []error
	for range b.urls {
		b.mu.Lock()
		i := b.next
		b.next = (i + 1) % len(b.urls)
		b.mu.Unlock()
		conn, err := dial(b.urls[i], name)
		if err == nil {
			return conn, nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", b.hosts[i], err))
	}
	return nil, errors.Join(errs...)
}

// dial connects with a bounded handshake so an unreachable broker fails fast
// and the caller's reconnect loop stays in charge of pacing.
func dial(url, name string) (*amqp.Connection, error) {
	props := amqp.NewConnectionProperties()
	props.SetClientConnectionName(name)
	return amqp.DialConfig(url, amqp.Config{
		Heartbeat:  10 * time.Second,
		Properties: props,
		Dial:       amqp.DefaultDial(10 * time.Second),
	})
}

func declareExchange(ch *amqp.Channel, exchange string) error {
	if err := ch.ExchangeDeclare(exchange, amqp.ExchangeTopic, true, false, false, false, nil); err != nil {
		return fmt.Errorf("events: declare exchange %s: %w", exchange, err)
	}
	return nil
}

type binding struct{ key, exchange string }

// queueSpec is one queue of a subscription: its arguments and what it is
// bound to.
type queueSpec struct {
	name  string
	args  amqp.Table
	binds []binding
}

// subscriptionQueues are the main queue, its retry queue and its dead-letter
// queue, in that order, as queue type typ declares them. Every declaration is
// idempotent as long as the arguments never change; changing them makes
// RabbitMQ refuse the declaration (PRECONDITION_FAILED), which is why a
// change of type goes through migrateQueue.
//
//   - main: dead-letters (handler gave up, undecodable, or delivered more
//     than deliveryLimit times without being settled) to the DLQ.
//   - retry: no consumer; each message's expiration is its backoff, after
//     which it is dead-lettered back to the main queue.
//   - dlq: waits for a person; no limit, no expiry.
//
// As quorum queues, all three are replicated: a retry or a dead letter is
// an event not yet applied, as precious as one in the main queue. Dead-
// lettering from the main and retry queues is at-least-once (RabbitMQ 3.10):
// the broker keeps a message until the target queue confirmed it, instead of
// dropping it when the target is unavailable, say while a node restarts. A
// copy too many is absorbed by the inbox. That strategy requires the
// reject-publish overflow, which without a length limit never rejects.
// The DLQ dead-letters nowhere and needs neither.
//
// Quorum queues cannot be exclusive or auto-delete (ours are neither), have
// no priorities (unused) and expire messages only at the head of the queue,
// like classic queues: a short retry delay waits behind a longer one.
func subscriptionQueues(typ, exchange, queue string, keys []string, deliveryLimit int) []queueSpec {
	dlx := dlxName(exchange)
	main := queueSpec{
		name:  queue,
		args:  amqp.Table{"x-dead-letter-exchange": dlx, "x-dead-letter-routing-key": deadQueue(queue)},
		binds: []binding{{queue, dlx}},
	}
	for _, k := range keys {
		main.binds = append(main.binds, binding{k, exchange})
	}
	retry := queueSpec{
		name: retryQueue(queue),
		args: amqp.Table{"x-dead-letter-exchange": dlx, "x-dead-letter-routing-key": queue},
	}
	dead := queueSpec{
		name:  deadQueue(queue),
		args:  amqp.Table{},
		binds: []binding{{deadQueue(queue), dlx}},
	}
	if typ == QueueQuorum {
		for _, q := range []*queueSpec{&main, &retry, &dead} {
			q.args["x-queue-type"] = QueueQuorum
		}
		for _, q := range []*queueSpec{&main, &retry} {
			q.args["x-dead-letter-strategy"] = "at-least-once"
			q.args["x-overflow"] = "reject-publish"
		}
		// The broker's count of unsettled deliveries; the consumer acts one
		// delivery earlier itself (see Consumer.handle), so that the message
		// is counted and logged. This is the guard for when it cannot.
		main.args["x-delivery-limit"] = deliveryLimit
	}
	return []queueSpec{main, retry, dead}
}

// declareExchanges declares the topic exchange and the dead-letter exchange.
func declareExchanges(ch *amqp.Channel, exchange string) error {
	if err := declareExchange(ch, exchange); err != nil {
		return err
	}
	if err := ch.ExchangeDeclare(dlxName(exchange), amqp.ExchangeDirect, true, false, false, false, nil); err != nil {
		return fmt.Errorf("events: declare exchange %s: %w", dlxName(exchange), err)
	}
	return nil
}

// errOtherType says a queue exists with arguments other than the ones asked
// for: for our queues, as the other queue type.
var errOtherType = errors.New("events: queue exists with other arguments")

// declareQueue declares q and its bindings on a channel of its own: a refused
// declaration closes the channel it was made on. A queue that exists with
// other arguments is reported as errOtherType.
func declareQueue(conn *amqp.Connection, q queueSpec) error {
	return withChannel(conn, func(ch *amqp.Channel) error {
		if _, err := ch.QueueDeclare(q.name, true, false, false, false, q.args); err != nil {
			if isCode(err, amqp.PreconditionFailed) {
				return fmt.Errorf("%w: %s: %v", errOtherType, q.name, err)
			}
			return fmt.Errorf("events: declare queue %s: %w", q.name, err)
		}
		return bind(ch, q.name, q.binds)
	})
}

func bind(ch *amqp.Channel, queue string, binds []binding) error {
	for _, b := range binds {
		if err := ch.QueueBind(queue, b.key, b.exchange, false, nil); err != nil {
			return fmt.Errorf("events: bind %s to %s (%s): %w", queue, b.exchange, b.key, err)
		}
	}
	return nil
}

func unbind(ch *amqp.Channel, queue string, binds []binding) error {
	for _, b := range binds {
		if err := ch.QueueUnbind(queue, b.key, b.exchange, nil); err != nil {
			return fmt.Errorf("events: unbind %s from %s (%s): %w", queue, b.exchange, b.key, err)
		}
	}
	return nil
}

// queueExists asks with a passive declaration, which closes its channel when
// the queue is missing.
func queueExists(conn *amqp.Connection, name string) (bool, error) {
	err := withChannel(conn, func(ch *amqp.Channel) error {
		_, err := ch.QueueDeclarePassive(name, true, false, false, false, nil)
		return err
	})
	if isCode(err, amqp.NotFound) {
		return false, nil
	}
	return err == nil, err
}

// withChannel runs f on a new channel and closes it.
func withChannel(conn *amqp.Connection, f func(*amqp.Channel) error) error {
	ch, err := conn.Channel()
	if err != nil {
		return err
	}
	defer func() { _ = ch.Close() }()
	return f(ch)
}

func isCode(err error, code int) bool {
	var e *amqp.Error
	return errors.As(err, &e) && e.Code == code
}
