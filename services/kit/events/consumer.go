package events

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/progressive-overload/po/services/kit/backoff"
	"github.com/progressive-overload/po/services/kit/mysqldb"
	"github.com/progressive-overload/po/services/kit/tracing"
)

// Handler applies one event. tx is the transaction that also records the
// message in inbox_messages: write through it and the writes commit exactly
// once per event (an ent client runs on it through mysqldb.TxDriver). An error
// rolls everything back and sends the message down the retry path; wrap it
// with Permanent to skip the retries. What must wait for the commit (dropping
// cache entries, say) is registered with AfterCommit.
type Handler func(ctx context.Context, tx *sql.Tx, evt Event) error

// ConsumerOptions configure a Consumer. URL and Service are required.
type ConsumerOptions struct {
	URL      string // AMQP_URL: one URL, or one per node of a cluster, comma-separated
	Exchange string // AMQP_EXCHANGE; DefaultExchange when empty
	Service  string // queue prefix and metrics label

	Prefetch    int // unacknowledged deliveries per subscription (QoS); default 16
	Concurrency int // handlers running at once per subscription; default 4, at most Prefetch

	// QueueType is AMQP_QUEUE_TYPE: QueueQuorum (the default) or
	// QueueClassic. With quorum queues, classic queues an earlier release
	// declared under the same names are replaced the first time, without
	// losing a message (see migrateQueue).
	QueueType string
	// DeliveryLimit is AMQP_DELIVERY_LIMIT, for quorum queues: a message
	// whose deliveries ended this many times without being settled (its
	// consumer's process died or lost the connection before the ack) is
	// dead-lettered when it comes again, instead of crashing consumers
	// forever. The handler has then run at most DeliveryLimit times. Handler
	// errors do not count: they take the retry path (MaxAttempts). Default
	// DefaultDeliveryLimit.
	DeliveryLimit int
	// MigrationRetry is how often a classic queue being replaced is tried
	// again while a consumer of an earlier release still uses it; default 5s.
	MigrationRetry time.Duration

	// MaxAttempts is how many times a handler may fail on one message; the
	// last failure sends it to the dead-letter queue. Default 5.
	MaxAttempts    int
	RetryBackoff   backoff.Backoff // delay before each retry; default 1s..1m
	Reconnect      backoff.Backoff // default 100ms..10s
	HandlerTimeout time.Duration   // per delivery, including the commit; default 30s

	// InboxRetention, when positive, deletes inbox_messages rows processed
	// longer ago than this, every PruneInterval from Start to Close (at most
	// 20,000 rows per pass, oldest first, counted in events_pruned_total).
	// Zero keeps them forever.
	//
	// The inbox is what recognises a redelivery, so the retention is also
	// the deduplication window: a message delivered again after its row was
	// deleted is applied again. It must exceed the longest a message can
	// wait before it comes back: in a queue or its retry queue, in the
	// dead-letter queue until someone replays it, or in the outbox of a
	// relay that published it but could not mark it published.
	//
	// Every row of the table older than the retention is deleted, whichever
	// subscription it belongs to: the table is the service's own, and all of
	// its consumers should share one retention.
	InboxRetention time.Duration
	PruneInterval  time.Duration // how often the inbox is pruned; default DefaultPruneInterval

	Metrics *Metrics     // nil: metrics are kept but not exported
	Logger  *slog.Logger // nil: slog.Default()
}

// Consumer runs handlers for subscribed event types: one queue per
// subscription, manual acks after the handler's transaction commits, bounded
// retries with backoff, then the dead-letter queue. It reconnects and
// re-declares its topology by itself.
type Consumer struct {
	db      *sql.DB
	opts    ConsumerOptions
	brokers *brokers
	log     *slog.Logger
	metrics *Metrics

	mu      sync.Mutex
	subs    []*subscription
	started bool
	closed  bool

	ready     chan struct{} // closed once the first session consumes
	readyOnce sync.Once
	closing   chan struct{}
	done      chan struct{}

	// The inbox prune, running from Start to Close when InboxRetention is
	// set; Start sets both under mu.
	stopPrune context.CancelFunc
	pruneDone chan struct{}
}

type subscription struct {
	queue   string
	keys    []string
	handler Handler
}

// session is one connection's worth of state; a new one is built after every
// reconnect.
type session struct {
	conn     *amqp.Connection
	pubCh    *amqp.Channel // confirm mode, for retry copies and moves
	rets     *returns      // pubCh's returns: its publishes are mandatory
	lost     chan struct{}
	lostOnce sync.Once
	lostErr  error

	mu        sync.Mutex
	stopping  bool
	consumers []consumerRef
}

type consumerRef struct {
	ch  *amqp.Channel
	tag string
}

// fail ends the session; the first error is the one reported.
func (s *session) fail(err error) {
	s.lostOnce.Do(func() {
		s.lostErr = err
		close(s.lost)
	})
}

// register records a consumer for stop; false means stop has begun and the
// caller cancels it itself.
func (s *session) register(ch *amqp.Channel, tag string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopping {
		return false
	}
	s.consumers = append(s.consumers, consumerRef{ch, tag})
	return true
}

// stop cancels every consumer: the broker sends nothing more, and each
// deliveries channel closes once the client handed over what it had already
// received. The workers handle and settle those too, so that a graceful stop
// returns nothing to the queue: with quorum queues every message returned
// counts against its delivery limit.
func (s *session) stop() {
	s.mu.Lock()
	s.stopping = true
	refs := s.consumers
	s.mu.Unlock()
	for _, r := range refs {
		// An error means the channel is gone, and its deliveries with it.
		_ = r.ch.Cancel(r.tag, false)
	}
}

// republish publishes msg to queue through the default exchange and returns
// once the broker confirmed it into the queue. Mandatory: a queue that does
// not exist (being replaced, see migrateQueue, or deleted by hand) returns
// the message instead of the broker confirming and dropping it.
func (s *session) republish(ctx context.Context, queue string, msg amqp.Publishing) error {
	k := returnKey{id: msg.MessageId, routingKey: queue}
	s.rets.expect([]returnKey{k})
	dc, err := s.pubCh.PublishWithDeferredConfirmWithContext(ctx, "", queue, true, false, msg)
	if err != nil {
		s.rets.settle(k)
		return err
	}
	ack, err := dc.WaitContext(ctx)
	s.rets.sync()
	returned := s.rets.settle(k)
	switch {
	case err != nil:
		return err
	case !ack:
		return ErrNacked
	case returned:
		return fmt.Errorf("%w %q", ErrUnroutable, queue)
	}
	return nil
}

// NewConsumer validates opts; add subscriptions, then Start.
func NewConsumer(db *sql.DB, opts ConsumerOptions) (*Consumer, error) {
	brokers, err := parseBrokers(opts.URL)
	if err != nil {
		return nil, err
	}
	if opts.Service == "" {
		return nil, errors.New("events: consumer needs a service name")
	}
	if opts.Exchange == "" {
		opts.Exchange = DefaultExchange
	}
	if opts.Prefetch <= 0 {
		opts.Prefetch = 16
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = 4
	}
	opts.Concurrency = min(opts.Concurrency, opts.Prefetch)
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = 5
	}
	switch opts.QueueType {
	case "":
		opts.QueueType = QueueQuorum
	case QueueQuorum, QueueClassic:
	default:
		return nil, fmt.Errorf("events: queue type %q, want %s or %s", opts.QueueType, QueueQuorum, QueueClassic)
	}
	if opts.DeliveryLimit <= 0 {
		opts.DeliveryLimit = DefaultDeliveryLimit
	}
	if opts.MigrationRetry <= 0 {
		opts.MigrationRetry = 5 * time.Second
	}
	opts.RetryBackoff = opts.RetryBackoff.OrDefault(backoff.Backoff{Min: time.Second, Max: time.Minute})
	opts.Reconnect = opts.Reconnect.OrDefault(backoff.Backoff{Min: 100 * time.Millisecond, Max: 10 * time.Second})
	if opts.HandlerTimeout <= 0 {
		opts.HandlerTimeout = 30 * time.Second
	}
	if opts.PruneInterval <= 0 {
		opts.PruneInterval = DefaultPruneInterval
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Consumer{
		db:      db,
		opts:    opts,
		brokers: brokers,
		log:     opts.Logger.With("component", "events.consumer"),
		metrics: metricsOrNew(opts.Metrics),
		ready:   make(chan struct{}),
		closing: make(chan struct{}),
		done:    make(chan struct{}),
	}, nil
}

// Subscribe routes the events whose type matches one of routingKeys (topic
// patterns: "user.*" works) to h through the queue "<service>.<name>". The
// queue name is also the inbox's consumer column, so renaming a subscription
// forgets which messages it has handled. Subscribe before Start.
func (c *Consumer) Subscribe(name string, routingKeys []string, h Handler) error {
	queue := c.opts.Service + "." + name
	switch {
	case name == "" || strings.ContainsAny(name, " \t\n"):
		return fmt.Errorf("events: invalid subscription name %q", name)
	case len(queue) > maxConsumerLen:
		return fmt.Errorf("events: queue name %q longer than %d", queue, maxConsumerLen)
	case len(routingKeys) == 0:
		return fmt.Errorf("events: subscription %s without routing keys", name)
	case h == nil:
		return fmt.Errorf("events: subscription %s without handler", name)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.started || c.closed {
		return fmt.Errorf("events: subscribe %s after Start", name)
	}
	for _, s := range c.subs {
		if s.queue == queue {
			return fmt.Errorf("events: duplicate subscription %s", name)
		}
	}
	c.subs = append(c.subs, &subscription{queue: queue, keys: append([]string(nil), routingKeys...), handler: h})
	return nil
}

// Start connects and begins consuming in the background. It returns once the
// topology is declared and every subscription consumes, or with ctx's error
// if that has not happened when ctx ends; either way the consumer keeps
// (re)connecting until Close. With an InboxRetention it also starts pruning
// the inbox, broker or not, until Close.
func (c *Consumer) Start(ctx context.Context) error {
	c.mu.Lock()
	switch {
	case c.closed:
		c.mu.Unlock()
		return ErrClosed
	case len(c.subs) == 0:
		c.mu.Unlock()
		return errors.New("events: Start without subscriptions")
	case !c.started:
		c.started = true
		go c.run()
		if c.opts.InboxRetention > 0 {
			// Independent of the broker: the inbox is pruned while it is away too.
			var ctx context.Context
			ctx, c.stopPrune = context.WithCancel(context.Background())
			c.pruneDone = make(chan struct{})
			go c.pruneLoop(ctx)
		}
	}
	c.mu.Unlock()
	select {
	case <-c.ready:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-c.closing:
		return ErrClosed
	}
}

// Close stops taking deliveries, handles and settles those already received
// (in flight or prefetched: with quorum queues a message returned unsettled
// counts against its delivery limit, so a rolling restart must not return
// any), and closes the connection. The inbox prune stops too, cutting short
// the statement it may be running.
func (c *Consumer) Close() error {
	c.mu.Lock()
	wasClosed, started := c.closed, c.started
	stopPrune, pruneDone := c.stopPrune, c.pruneDone
	c.closed = true
	c.mu.Unlock()
	if !wasClosed {
		close(c.closing)
	}
	if stopPrune != nil {
		stopPrune()
		<-pruneDone
	}
	if started {
		<-c.done
	}
	return nil
}

// pruneLoop deletes inbox rows older than InboxRetention at once and then
// every PruneInterval, until ctx ends.
func (c *Consumer) pruneLoop(ctx context.Context) {
	defer close(c.pruneDone)
	pruneEvery(ctx, c.db, c.log, c.opts.PruneInterval, TableInbox, "processed_at", c.opts.InboxRetention,
		c.metrics.Pruned.WithLabelValues(c.opts.Service, TableInbox))
}

func (c *Consumer) run() {
	defer close(c.done)
	for failures := 0; ; {
		established, err := c.session()
		select {
		case <-c.closing:
			return
		default:
		}
		if established {
			failures = 0
		}
		c.log.Warn("consumer session ended; reconnecting", "error", err, "attempt", failures+1)
		if !backoff.Sleep(c.closing, c.opts.Reconnect.Delay(failures)) {
			return
		}
		failures++
	}
}

// session runs one connection until it is lost or the consumer closes. It
// reports whether it got as far as consuming.
func (c *Consumer) session() (established bool, err error) {
	conn, err := c.brokers.dial(c.opts.Service + " consumer")
	if err != nil {
		return false, err
	}
	var wg sync.WaitGroup
	var rets *returns
	defer func() {
		// Closing first ends every deliveries channel, which is what lets
		// the workers of a broken session return.
		_ = conn.Close()
		wg.Wait()
		if rets != nil {
			<-rets.done
		}
	}()
	connClosed := conn.NotifyClose(make(chan *amqp.Error, 1))
	pubCh, err := conn.Channel()
	if err != nil {
		return false, err
	}
	pubClosed := pubCh.NotifyClose(make(chan *amqp.Error, 1))
	if err := pubCh.Confirm(false); err != nil {
		return false, err
	}
	rets = watchReturns(pubCh)
	s := &session{conn: conn, pubCh: pubCh, rets: rets, lost: make(chan struct{})}
	if err := declareExchanges(pubCh, c.opts.Exchange); err != nil {
		return false, err
	}
	// Each subscription on its own: one waiting for a migration (an old
	// release still consuming its classic queue) holds up no other.
	consuming := make(chan struct{})
	var remaining atomic.Int32
	remaining.Store(int32(len(c.subs)))
	for _, sub := range c.subs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := c.consume(s, sub, func() {
				if remaining.Add(-1) == 0 {
					close(consuming)
				}
			})
			if err != nil {
				s.fail(err)
			}
		}()
	}

	for {
		select {
		case <-consuming:
			consuming = nil
			established = true
			c.readyOnce.Do(func() { close(c.ready) })
			c.log.Info("consuming", "subscriptions", len(c.subs), "queue_type", c.opts.QueueType)
			continue
		case <-c.closing:
			// The workers handle what was delivered; waiting before the
			// deferred Close lets them still ack it.
			s.stop()
			wg.Wait()
			return established, nil
		case e := <-connClosed:
			return established, fmt.Errorf("connection lost: %v", e)
		case e := <-pubClosed:
			return established, fmt.Errorf("retry channel lost: %v", e)
		case <-s.lost:
			return established, s.lostErr
		}
	}
}

// consume declares sub's queues (replacing classic ones when they are to be
// quorum queues), consumes the main queue and runs the workers until its
// deliveries end. started is called once it consumes.
func (c *Consumer) consume(s *session, sub *subscription, started func()) error {
	if err := c.declareQueues(s, sub); err != nil {
		return err
	}
	ch, err := s.conn.Channel()
	if err != nil {
		return err
	}
	if err := ch.Qos(c.opts.Prefetch, 0, false); err != nil {
		return err
	}
	tag := "po." + sub.queue
	deliveries, err := ch.Consume(sub.queue, tag, false, false, false, false, nil)
	if err != nil {
		return fmt.Errorf("events: consume %s: %w", sub.queue, err)
	}
	if !s.register(ch, tag) {
		_ = ch.Cancel(tag, false)
	}
	started()
	var workers sync.WaitGroup
	for range c.opts.Concurrency {
		workers.Add(1)
		go func() {
			defer workers.Done()
			c.worker(s, sub, deliveries)
		}()
	}
	workers.Wait()
	return nil
}

// declareQueues declares the main, retry and dead-letter queues in that
// order, each replaced first if it is a classic queue that is to be a quorum
// one, or emptied of the holding queue a replacement cut short left behind.
func (c *Consumer) declareQueues(s *session, sub *subscription) error {
	specs := subscriptionQueues(c.opts.QueueType, c.opts.Exchange, sub.queue, sub.keys, c.opts.DeliveryLimit)
	var legacy []queueSpec
	if c.opts.QueueType == QueueQuorum {
		legacy = subscriptionQueues(QueueClassic, c.opts.Exchange, sub.queue, sub.keys, 0)
	}
	for i, q := range specs {
		err := declareQueue(s.conn, q)
		switch {
		case errors.Is(err, errOtherType) && legacy != nil:
			err = c.migrateQueue(s, legacy[i], q)
		case errors.Is(err, errOtherType):
			err = fmt.Errorf("%w (AMQP_QUEUE_TYPE=%s, but the queue is of the other type: see docs/operations.md)", err, c.opts.QueueType)
		case err == nil && legacy != nil:
			hold := queueSpec{name: holdingQueue(q.name), binds: legacy[i].binds}
			var left bool
			if left, err = queueExists(s.conn, hold.name); err == nil && left {
				err = c.emptyHolding(s, hold, q.name)
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (c *Consumer) worker(s *session, sub *subscription, deliveries <-chan amqp.Delivery) {
	for d := range deliveries {
		c.handle(s, sub, d)
	}
	select {
	case <-c.closing:
	default:
		s.fail(errors.New("a consumer channel was closed"))
	}
}

func (c *Consumer) handle(s *session, sub *subscription, d amqp.Delivery) {
	if n := deliveryCount(d.Headers); n >= c.opts.DeliveryLimit {
		// Its earlier deliveries never got as far as an ack or a reject: the
		// handler most likely takes the process down. The broker would
		// dead-letter it on the next return anyway (x-delivery-limit); doing
		// it here logs it and counts it.
		c.log.Error("message redelivered too often without being settled; dead-lettered", "queue", sub.queue,
			"message_id", d.MessageId, "type", d.Type, "deliveries", n, "delivery_limit", c.opts.DeliveryLimit)
		c.settle(sub, typeLabel(d.Type), ResultDead, d.Nack(false, false))
		return
	}
	evt, err := decodeEvent(d.Body)
	if err != nil {
		// Decoding is deterministic: retrying a poison message cannot help.
		c.log.Error("poison message dead-lettered", "queue", sub.queue, "message_id", d.MessageId, "error", err)
		c.settle(sub, typeLabel(d.Type), ResultDead, d.Nack(false, false))
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.opts.HandlerTimeout)
	defer cancel()
	if tracing.Enabled() {
		// The handler's queries and whatever it enqueues continue the
		// producer's trace (see trace.go).
		var span trace.Span
		ctx, span = startConsumeSpan(ctx, sub.queue, d, evt)
		defer span.End()
	}
	duplicate, err := c.apply(ctx, sub, evt)
	switch {
	case err != nil:
		if span := trace.SpanFromContext(ctx); span.IsRecording() {
			tracing.ErrorStatus(span, err)
		}
		c.retry(s, sub, d, evt, err)
	case duplicate:
		trace.SpanFromContext(ctx).SetAttributes(attribute.Bool("messaging.duplicate", true))
		c.settle(sub, evt.Type, ResultDuplicate, d.Ack(false))
	default:
		c.settle(sub, evt.Type, ResultOK, d.Ack(false))
	}
}

// apply runs the handler in a transaction that first claims the message id in
// the inbox. A concurrent delivery of the same id blocks on that row until
// this transaction ends, so two deliveries can never both run the handler.
func (c *Consumer) apply(ctx context.Context, sub *subscription, evt Event) (duplicate bool, err error) {
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return false, err
	}
	defer func() { _ = tx.Rollback() }()
	_, err = tx.ExecContext(ctx, "INSERT INTO inbox_messages (consumer, message_id, processed_at) VALUES (?, ?, UTC_TIMESTAMP(6))", sub.queue, evt.ID)
	if mysqldb.IsDuplicateKey(err) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("events: inbox insert: %w", err)
	}
	hooks := &commitHooks{}
	defer hooks.end()
	if err := callHandler(context.WithValue(ctx, commitHooksKey{}, hooks), sub.handler, tx, evt); err != nil {
		return false, err
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("events: commit: %w", err)
	}
	c.runCommitHooks(ctx, sub, evt, hooks)
	return false, nil
}

// callHandler turns a panic into an error so one bad event cannot take the
// process down, and so it takes the retry path to the DLQ like any failure.
func callHandler(ctx context.Context, h Handler, tx *sql.Tx, evt Event) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("events: handler panic: %v", r)
		}
	}()
	return h(ctx, tx, evt)
}

// retry schedules another attempt by publishing a copy to the retry queue,
// whose per-message TTL is the backoff, and acking the original only once the
// copy is confirmed. A crash in between leaves both, and the inbox absorbs the
// extra run. RabbitMQ expires messages only at the head of a queue, so a
// short delay queued behind a longer one waits for it: delays stretch, never
// shrink.
func (c *Consumer) retry(s *session, sub *subscription, d amqp.Delivery, evt Event, cause error) {
	attempt := retriesOf(d.Headers) + 1
	if IsPermanent(cause) || attempt >= c.opts.MaxAttempts {
		c.log.Error("event dead-lettered", "queue", sub.queue, "event_id", evt.ID, "type", evt.Type,
			"attempts", attempt, "error", cause)
		c.settle(sub, evt.Type, ResultDead, d.Nack(false, false))
		return
	}
	delay := c.opts.RetryBackoff.Delay(attempt - 1)
	c.log.Warn("event failed; will retry", "queue", sub.queue, "event_id", evt.ID, "type", evt.Type,
		"attempt", attempt, "retry_in", delay, "error", cause)
	headers := amqp.Table{}
	for k, v := range d.Headers {
		headers[k] = v
	}
	headers[RetriesHeader] = int32(attempt)
	// The count of a quorum queue's redeliveries belongs to that queue.
	delete(headers, deliveryCountHeader)
	msg := publishingOf(d, headers)
	msg.Expiration = strconv.FormatInt(max(1, delay.Milliseconds()), 10)
	// A fresh context: the handler's may be the very thing that expired.
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := s.republish(ctx, retryQueue(sub.queue), msg); err != nil {
		c.log.Warn("scheduling retry failed; requeueing", "queue", sub.queue, "event_id", evt.ID, "error", err)
		_ = d.Nack(false, true)
		return
	}
	c.settle(sub, evt.Type, ResultRetry, d.Ack(false))
}

// publishingOf is d as a persistent message to publish again.
func publishingOf(d amqp.Delivery, headers amqp.Table) amqp.Publishing {
	return amqp.Publishing{
		Headers:         headers,
		ContentType:     d.ContentType,
		ContentEncoding: d.ContentEncoding,
		DeliveryMode:    amqp.Persistent,
		Priority:        d.Priority,
		CorrelationId:   d.CorrelationId,
		ReplyTo:         d.ReplyTo,
		Expiration:      d.Expiration,
		MessageId:       d.MessageId,
		Timestamp:       d.Timestamp,
		Type:            d.Type,
		AppId:           d.AppId,
		Body:            d.Body,
	}
}

// settle counts a delivery once its ack or nack went out. When that fails the
// channel is gone, the broker redelivers the message, and it is counted then.
func (c *Consumer) settle(sub *subscription, typ, result string, err error) {
	if err != nil {
		c.log.Warn("settling delivery failed; it will be redelivered", "queue", sub.queue, "result", result, "error", err)
		return
	}
	c.metrics.Consumed.WithLabelValues(c.opts.Service, typ, result).Inc()
}

func typeLabel(t string) string {
	if t == "" || len(t) > maxEventTypeLen {
		return "unknown"
	}
	return t
}

func retriesOf(h amqp.Table) int { return intHeader(h, RetriesHeader) }

func deliveryCount(h amqp.Table) int { return intHeader(h, deliveryCountHeader) }

func intHeader(h amqp.Table, name string) int {
	switch v := h[name].(type) {
	case int8:
		return int(v)
	case int16:
		return int(v)
	case int32:
		return int(v)
	case int64:
		return int(v)
	case int:
		return v
	case uint8:
		return int(v)
	case uint16:
		return int(v)
	case uint32:
		return int(v)
	}
	return 0
}
