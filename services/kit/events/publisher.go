package events

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"go.opentelemetry.io/otel/trace"

	"github.com/progressive-overload/po/services/kit/backoff"
	"github.com/progressive-overload/po/services/kit/tracing"
)

var (
	// ErrNotConnected is returned by Publish while the publisher has no
	// connection; the outbox keeps the rows and the relay tries again later.
	ErrNotConnected = errors.New("events: not connected to the broker")
	// ErrClosed is returned after Close.
	ErrClosed = errors.New("events: closed")
	// ErrNacked means the broker refused to take responsibility for a message.
	ErrNacked = errors.New("events: broker did not confirm the message")
	// ErrUnroutable means the broker returned a message because no queue is
	// bound for its routing key. Without it such a message would be confirmed
	// and silently dropped, typically because its consumer has not declared
	// its queue yet.
	ErrUnroutable = errors.New("events: no queue bound for routing key")
)

// PublisherOptions configure a Publisher. URL and Service are required.
type PublisherOptions struct {
	URL            string          // AMQP_URL: one URL, or one per node of a cluster, comma-separated
	Exchange       string          // AMQP_EXCHANGE; DefaultExchange when empty
	Service        string          // metrics label and connection name
	ConfirmTimeout time.Duration   // how long to wait for confirms; default 15s
	Reconnect      backoff.Backoff // default 100ms..10s
	Metrics        *Metrics        // nil: metrics are kept but not exported
	Logger         *slog.Logger    // nil: slog.Default()
}

// Publisher owns one connection and one confirm-mode channel and replaces them
// by itself when either is lost. It is safe for concurrent use.
type Publisher struct {
	opts    PublisherOptions
	brokers *brokers
	log     *slog.Logger
	metrics *Metrics

	mu      sync.Mutex
	ch      *amqp.Channel // nil while disconnected
	rets    *returns      // ch's returned messages
	changed chan struct{} // closed and replaced whenever ch changes

	closing   chan struct{}
	closeOnce sync.Once
	done      chan struct{}
}

// outgoing is one message as the relay or Publish hands it over; the body is
// sent as is so the relay never re-encodes what the outbox stored.
type outgoing struct {
	id, typ, source string
	time            time.Time
	body            []byte
	// trace is the context whose span the publish span continues (the
	// outbox row's stored trace); nil: publish's own context.
	trace context.Context
}

// NewPublisher validates opts and starts connecting in the background; use
// WaitConnected to wait for the first connection.
func NewPublisher(opts PublisherOptions) (*Publisher, error) {
	brokers, err := parseBrokers(opts.URL)
	if err != nil {
		return nil, err
	}
	if opts.Service == "" {
		return nil, errors.New("events: publisher needs a service name")
	}
	if opts.Exchange == "" {
		opts.Exchange = DefaultExchange
	}
	if opts.ConfirmTimeout <= 0 {
		opts.ConfirmTimeout = 15 * time.Second
	}
	opts.Reconnect = opts.Reconnect.OrDefault(backoff.Backoff{Min: 100 * time.Millisecond, Max: 10 * time.Second})
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	p := &Publisher{
		opts:    opts,
		brokers: brokers,
		log:     opts.Logger.With("component", "events.publisher"),
		metrics: metricsOrNew(opts.Metrics),
		changed: make(chan struct{}),
		closing: make(chan struct{}),
		done:    make(chan struct{}),
	}
	go p.run()
	return p, nil
}

// Connected reports whether a confirm channel is open right now.
func (p *Publisher) Connected() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.ch != nil
}

// WaitConnected blocks until the publisher is connected, ctx ends or it is closed.
func (p *Publisher) WaitConnected(ctx context.Context) error {
	for {
		p.mu.Lock()
		ok, changed := p.ch != nil, p.changed
		p.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-p.closing:
			return ErrClosed
		case <-changed:
		}
	}
}

// stateChanged returns a channel closed at the next connect or disconnect.
func (p *Publisher) stateChanged() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.changed
}

func (p *Publisher) setChannel(ch *amqp.Channel, rets *returns) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ch, p.rets = ch, rets
	close(p.changed)
	p.changed = make(chan struct{})
}

// Publish sends events straight to the exchange (not through the outbox) and
// waits for the broker's confirms. It fails with ErrNotConnected while the
// connection is down instead of waiting for it.
func (p *Publisher) Publish(ctx context.Context, evts ...Event) error {
	msgs := make([]outgoing, len(evts))
	for i, e := range evts {
		if err := e.validate(); err != nil {
			return err
		}
		body, err := json.Marshal(e)
		if err != nil {
			return fmt.Errorf("events: marshal %s: %w", e.ID, err)
		}
		msgs[i] = outgoing{id: e.ID, typ: e.Type, source: e.Source, time: e.Time, body: body}
	}
	return errors.Join(p.publish(ctx, msgs)...)
}

// publish returns one error per message, nil where the broker confirmed it
// and routed it to a queue. All messages are sent before any confirm is
// awaited, so a batch costs one round trip rather than one per message.
func (p *Publisher) publish(ctx context.Context, msgs []outgoing) []error {
	errs := make([]error, len(msgs))
	p.mu.Lock()
	ch, rets := p.ch, p.rets
	p.mu.Unlock()
	if ch == nil {
		err := ErrNotConnected
		select {
		case <-p.closing:
			err = ErrClosed
		default:
		}
		for i := range errs {
			errs[i] = err
		}
		return errs
	}
	ctx, cancel := context.WithTimeout(ctx, p.opts.ConfirmTimeout)
	defer cancel()
	keys := make([]returnKey, len(msgs))
	for i, m := range msgs {
		keys[i] = returnKey{id: m.id, routingKey: m.typ}
	}
	rets.expect(keys)
	confirms := make([]*amqp.DeferredConfirmation, len(msgs))
	var spans []trace.Span // one per message, with tracing on
	if tracing.Enabled() {
		spans = make([]trace.Span, len(msgs))
		defer func() {
			for i, span := range spans {
				tracing.ErrorStatus(span, errs[i])
				span.End()
			}
		}()
	}
	for i, m := range msgs {
		var headers amqp.Table
		if spans != nil {
			parent := m.trace
			if parent == nil {
				parent = ctx
			}
			headers = amqp.Table{}
			spans[i] = p.startPublishSpan(parent, m, headers)
		}
		// Mandatory: without it the broker confirms a message no queue is
		// bound for and drops it.
		dc, err := ch.PublishWithDeferredConfirmWithContext(ctx, p.opts.Exchange, m.typ, true, false, amqp.Publishing{
			Headers:      headers,
			ContentType:  "application/json",
			DeliveryMode: amqp.Persistent,
			MessageId:    m.id,
			Type:         m.typ,
			AppId:        m.source,
			Timestamp:    m.time,
			Body:         m.body,
		})
		if err != nil {
			errs[i] = fmt.Errorf("events: publish %s: %w", m.id, err)
			continue
		}
		confirms[i] = dc
	}
	acked := make([]bool, len(msgs))
	nacked := false
	for i, dc := range confirms {
		if dc == nil {
			continue
		}
		ack, err := dc.WaitContext(ctx)
		switch {
		case err != nil:
			errs[i] = fmt.Errorf("events: confirm %s: %w", msgs[i].id, err)
		case !ack:
			// A lost channel nacks every outstanding confirm too, so this
			// covers both a broker refusal and a connection dropped mid-batch.
			errs[i] = fmt.Errorf("events: confirm %s: %w", msgs[i].id, ErrNacked)
			nacked = true
		default:
			acked[i] = true
		}
	}
	rets.sync()
	if nacked && !ch.IsClosed() {
		// A refusal on a live channel: start afresh on a new connection, to
		// the next broker of AMQP_URL. On RabbitMQ 3.10 a channel whose
		// quorum-queue client was set up while the queue's leader changed
		// was seen nacking every publish for minutes afterwards, and a new
		// channel does not inherit that state. Nacks are rare otherwise.
		p.log.Warn("broker refused messages; reconnecting", "exchange", p.opts.Exchange)
		_ = ch.Close()
	}
	unroutable := map[string]int{}
	for i, m := range msgs {
		returned := rets.settle(keys[i])
		switch {
		case !acked[i]:
		case returned:
			errs[i] = fmt.Errorf("events: publish %s: %w %q", m.id, ErrUnroutable, m.typ)
			unroutable[m.typ]++
		default:
			p.metrics.Published.WithLabelValues(p.opts.Service, m.typ).Inc()
		}
	}
	for typ, n := range unroutable {
		p.log.Warn("no queue bound for routing key "+typ+"; events not published",
			"type", typ, "exchange", p.opts.Exchange, "events", n)
	}
	return errs
}

// Close stops reconnecting and closes the connection; publishes in flight fail.
func (p *Publisher) Close() error {
	p.closeOnce.Do(func() { close(p.closing) })
	<-p.done
	return nil
}

func (p *Publisher) run() {
	defer close(p.done)
	for failures := 0; ; {
		conn, ch, rets, err := p.connect()
		if err != nil {
			p.log.Warn("connect to broker failed", "error", err, "attempt", failures+1)
			if !backoff.Sleep(p.closing, p.opts.Reconnect.Delay(failures)) {
				return
			}
			failures++
			continue
		}
		failures = 0
		connClosed := conn.NotifyClose(make(chan *amqp.Error, 1))
		chClosed := ch.NotifyClose(make(chan *amqp.Error, 1))
		p.setChannel(ch, rets)
		p.log.Info("connected to broker")
		var closing bool
		select {
		case <-p.closing:
			closing = true
		case e := <-connClosed:
			p.log.Warn("broker connection lost", "error", e)
		case e := <-chClosed:
			p.log.Warn("publisher channel lost", "error", e)
		}
		p.setChannel(nil, nil)
		_ = conn.Close()
		// Closing the connection closes the return channel, which ends the
		// watcher; waiting keeps Close from returning before it is gone.
		<-rets.done
		if closing {
			return
		}
		if !backoff.Sleep(p.closing, p.opts.Reconnect.Delay(0)) {
			return
		}
	}
}

func (p *Publisher) connect() (*amqp.Connection, *amqp.Channel, *returns, error) {
	conn, err := p.brokers.dial(p.opts.Service + " publisher")
	if err != nil {
		return nil, nil, nil, err
	}
	ch, err := conn.Channel()
	if err == nil {
		err = ch.Confirm(false)
	}
	if err == nil {
		err = declareExchange(ch, p.opts.Exchange)
	}
	if err != nil {
		_ = conn.Close()
		return nil, nil, nil, err
	}
	return conn, ch, watchReturns(ch), nil
}
