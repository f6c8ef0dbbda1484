package events_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/progressive-overload/po/services/kit/backoff"
	"github.com/progressive-overload/po/services/kit/events"
	"github.com/progressive-overload/po/services/kit/events/vhosttest"
	"github.com/progressive-overload/po/services/kit/testkit"
)

const (
	brokerAddr = "127.0.0.1:5672"
	mysqlRoot  = "root@tcp(127.0.0.1:3306)/"
	source     = "svc" // the events' source field
	// waitLimit only stops a broken test from hanging; nothing asserts speed.
	waitLimit = 2 * time.Minute
)

// The two tables exactly as docs/conventions.md defines them; the services get
// them from their ent migrations.
var schema = []string{
	`CREATE TABLE outbox_events (
		id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
		event_id VARCHAR(36) NOT NULL UNIQUE,
		event_type VARCHAR(64) NOT NULL,
		payload LONGBLOB NOT NULL,
		trace_context TEXT NULL,
		created_at DATETIME(6) NOT NULL,
		published_at DATETIME(6) NULL,
		attempts INT NOT NULL DEFAULT 0,
		INDEX outboxevent_published_at_id (published_at, id))`,
	`CREATE TABLE inbox_messages (
		id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
		consumer VARCHAR(64) NOT NULL,
		message_id VARCHAR(64) NOT NULL,
		processed_at DATETIME(6) NOT NULL,
		UNIQUE INDEX inboxmessage_consumer_message_id (consumer, message_id),
		INDEX inboxmessage_processed_at (processed_at))`,
	// Handlers' side effects: no unique key, so a second application shows up
	// as a second row instead of failing.
	`CREATE TABLE applied (
		id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
		consumer VARCHAR(64) NOT NULL,
		event_id VARCHAR(36) NOT NULL)`,
	// Stands in for the business row an enqueue commits with.
	`CREATE TABLE things (
		id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
		name VARCHAR(64) NOT NULL)`,
}

func randomName() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return "t_" + hex.EncodeToString(b)
}

// env is one test's database and its own names in the package's vhost: an
// exchange, and a service name that every queue the test's consumers declare
// starts with.
type env struct {
	tb       testing.TB
	url      string // the vhost, reached directly
	vhost    string
	exchange string
	service  string
	db       *sql.DB
	metrics  *events.Metrics
	logs     *logRecorder

	mu        sync.Mutex
	queues    []string // declared by the test, deleted at cleanup
	exchanges []string // likewise
}

func newEnv(tb testing.TB) *env {
	tb.Helper()
	name := randomName()
	e := &env{
		tb: tb, vhost: packageVhost(tb), exchange: name + ".events", service: name,
		metrics: events.NewMetrics(prometheus.NewRegistry()),
		logs:    newLogRecorder(),
	}
	e.url = amqpURL(brokerAddr, e.vhost)
	e.exchanges = events.Exchanges(e.exchange)
	// Registered first, so it runs after every publisher and consumer closed.
	tb.Cleanup(e.deleteBrokerObjects)
	e.db = newDatabase(tb)
	return e
}

func amqpURL(addr, vhost string) string {
	return "amqp://" + vhosttest.AMQPUser + ":guest@" + addr + "/" + vhost
}

func (e *env) ownQueues(names ...string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.queues = append(e.queues, names...)
}

// deleteBrokerObjects removes what the test declared from the shared vhost.
// Deleting what does not exist succeeds, so a test need not have declared
// everything it owns.
func (e *env) deleteBrokerObjects() {
	conn, err := amqp.Dial(e.url)
	if err != nil {
		e.tb.Errorf("cleanup: %v", err)
		return
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		e.tb.Errorf("cleanup: %v", err)
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, q := range e.queues {
		if _, err := ch.QueueDelete(q, false, false, false); err != nil {
			e.tb.Errorf("cleanup: delete queue %s: %v", q, err)
			return
		}
	}
	for _, x := range e.exchanges {
		if err := ch.ExchangeDelete(x, false, false); err != nil {
			e.tb.Errorf("cleanup: delete exchange %s: %v", x, err)
			return
		}
	}
}

func newDatabase(tb testing.TB) *sql.DB {
	tb.Helper()
	name := randomName()
	adminExec(tb, "CREATE DATABASE "+name)
	tb.Cleanup(func() { adminExec(tb, "DROP DATABASE "+name) })
	db, err := sql.Open("mysql", mysqlRoot+name+"?parseTime=true&loc=UTC")
	if err != nil {
		tb.Fatal(err)
	}
	// The server is shared with other test runs; stay well under max_connections.
	db.SetMaxOpenConns(24)
	db.SetMaxIdleConns(24)
	tb.Cleanup(func() { _ = db.Close() })
	for _, ddl := range schema {
		if _, err := db.Exec(ddl); err != nil {
			tb.Fatal(err)
		}
	}
	return db
}

// adminExec runs one statement on a short-lived pool, so no server-level
// connection outlives the statement (goleak would see it).
func adminExec(tb testing.TB, stmt string) {
	tb.Helper()
	admin, err := sql.Open("mysql", mysqlRoot)
	if err != nil {
		tb.Fatal(err)
	}
	defer admin.Close()
	if _, err := admin.Exec(stmt); err != nil {
		tb.Errorf("%s: %v", stmt, err)
	}
}

func (e *env) publisher(url string) *events.Publisher {
	e.tb.Helper()
	p, err := events.NewPublisher(events.PublisherOptions{
		URL: url, Exchange: e.exchange, Service: e.service, Metrics: e.metrics, Logger: slog.New(e.logs),
		Reconnect: backoff.Backoff{Min: 20 * time.Millisecond, Max: 200 * time.Millisecond},
	})
	if err != nil {
		e.tb.Fatal(err)
	}
	e.tb.Cleanup(func() { _ = p.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	if err := p.WaitConnected(ctx); err != nil {
		e.tb.Fatal(err)
	}
	return p
}

// startRelay runs a relay until the returned stop is called (or the test ends).
func (e *env) startRelay(pub *events.Publisher, opts events.RelayOptions, setup ...func(*events.Relay)) (*events.Relay, func()) {
	if opts.PollInterval == 0 {
		opts.PollInterval = 100 * time.Millisecond
	}
	if opts.StatsInterval == 0 {
		opts.StatsInterval = 50 * time.Millisecond
	}
	if opts.PruneInterval == 0 {
		opts.PruneInterval = 50 * time.Millisecond
	}
	if opts.ErrorBackoff == (backoff.Backoff{}) {
		opts.ErrorBackoff = backoff.Backoff{Min: 20 * time.Millisecond, Max: 200 * time.Millisecond}
	}
	r := events.NewRelay(e.db, pub, opts)
	for _, f := range setup {
		f(r)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				e.tb.Errorf("relay Run: %v", err)
			}
		})
	}
	e.tb.Cleanup(stop)
	return r, stop
}

func (e *env) consumerOptions(url string) events.ConsumerOptions {
	return events.ConsumerOptions{
		URL: url, Exchange: e.exchange, Service: e.service, Metrics: e.metrics,
		Prefetch: 16, Concurrency: 4,
		RetryBackoff: backoff.Backoff{Min: 10 * time.Millisecond, Max: 40 * time.Millisecond},
		Reconnect:    backoff.Backoff{Min: 20 * time.Millisecond, Max: 200 * time.Millisecond},
	}
}

// startConsumer subscribes, starts and registers Close for cleanup.
func (e *env) startConsumer(opts events.ConsumerOptions, subscribe func(*events.Consumer)) *events.Consumer {
	e.tb.Helper()
	c, err := events.NewConsumer(e.db, opts)
	if err != nil {
		e.tb.Fatal(err)
	}
	subscribe(c)
	e.ownQueues(events.ConsumerQueues(c)...)
	e.tb.Cleanup(func() { _ = c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	if err := c.Start(ctx); err != nil {
		e.tb.Fatal(err)
	}
	return c
}

// recordApplied is a handler whose only effect is a row in applied, written in
// the consumer's transaction.
func recordApplied(consumer string) events.Handler {
	return func(ctx context.Context, tx *sql.Tx, evt events.Event) error {
		_, err := tx.ExecContext(ctx, "INSERT INTO applied (consumer, event_id) VALUES (?, ?)", consumer, evt.ID)
		return err
	}
}

// appliedCounts maps event id to how many times a handler applied it.
func (e *env) appliedCounts(consumer string) map[string]int {
	e.tb.Helper()
	rows, err := e.db.Query("SELECT event_id, COUNT(*) FROM applied WHERE consumer = ? GROUP BY event_id", consumer)
	if err != nil {
		e.tb.Fatal(err)
	}
	defer rows.Close()
	m := map[string]int{}
	for rows.Next() {
		var id string
		var n int
		if err := rows.Scan(&id, &n); err != nil {
			e.tb.Fatal(err)
		}
		m[id] = n
	}
	if err := rows.Err(); err != nil {
		e.tb.Fatal(err)
	}
	return m
}

func (e *env) count(query string, args ...any) int {
	e.tb.Helper()
	var n int
	if err := e.db.QueryRow(query, args...).Scan(&n); err != nil {
		e.tb.Fatal(err)
	}
	return n
}

func (e *env) consumed(typ, result string) int {
	return int(testutil.ToFloat64(e.metrics.Consumed.WithLabelValues(e.service, typ, result)))
}

// enqueueCommitted stores each event with a business row in its own
// transaction, as a service's command would.
func (e *env) enqueueCommitted(evts ...events.Event) {
	e.tb.Helper()
	for _, evt := range evts {
		tx, err := e.db.Begin()
		if err != nil {
			e.tb.Fatal(err)
		}
		if _, err := tx.Exec("INSERT INTO things (name) VALUES (?)", evt.ID); err != nil {
			e.tb.Fatal(err)
		}
		if err := events.Enqueue(context.Background(), tx, evt); err != nil {
			e.tb.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			e.tb.Fatal(err)
		}
	}
}

func newEvents(tb testing.TB, typ string, n int) []events.Event {
	tb.Helper()
	out := make([]events.Event, n)
	for i := range out {
		evt, err := events.NewEvent(source, typ, map[string]int{"n": i})
		if err != nil {
			tb.Fatal(err)
		}
		out[i] = evt
	}
	return out
}

// waitFor polls cond until it holds; describe says what was being waited for
// when it never does.
func waitFor(tb testing.TB, cond func() bool, describe func() string) {
	tb.Helper()
	deadline := time.Now().Add(waitLimit)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("gave up waiting: %s", describe())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// rawChannel is a plain channel on the test's vhost for inspecting queues
// behind the package's back.
func rawChannel(tb testing.TB, url string) *amqp.Channel {
	tb.Helper()
	return testkit.Channel(tb, url)
}

// tapQueue binds a queue to the test's exchange for keys (every routing key
// when none), so it holds one copy of each such message the exchange received.
func (e *env) tapQueue(ch *amqp.Channel, keys ...string) string {
	e.tb.Helper()
	if len(keys) == 0 {
		keys = []string{"#"}
	}
	if err := ch.ExchangeDeclare(e.exchange, amqp.ExchangeTopic, true, false, false, false, nil); err != nil {
		e.tb.Fatal(err)
	}
	name := e.service + ".tap." + randomName()
	e.ownQueues(name)
	if _, err := ch.QueueDeclare(name, true, false, false, false, nil); err != nil {
		e.tb.Fatal(err)
	}
	for _, k := range keys {
		if err := ch.QueueBind(name, k, e.exchange, false, nil); err != nil {
			e.tb.Fatal(err)
		}
	}
	return name
}

func queueDepth(tb testing.TB, ch *amqp.Channel, queue string) int {
	tb.Helper()
	q, err := ch.QueueDeclarePassive(queue, true, false, false, false, nil)
	if err != nil {
		tb.Fatal(err)
	}
	return q.Messages
}

// drainIDs takes every message out of queue and counts them by message id.
func drainIDs(tb testing.TB, ch *amqp.Channel, queue string) map[string]int {
	tb.Helper()
	ids := map[string]int{}
	for {
		d, ok, err := ch.Get(queue, true)
		if err != nil {
			tb.Fatal(err)
		}
		if !ok {
			return ids
		}
		ids[d.MessageId]++
	}
}

func describeCounts(got map[string]int, want int) string {
	dup := 0
	for _, n := range got {
		if n > 1 {
			dup++
		}
	}
	return fmt.Sprintf("%d distinct ids applied (want %d), %d more than once", len(got), want, dup)
}

// logRecorder keeps what a component logs, for tests asserting on it, and
// passes every record on to next.
type logRecorder struct {
	next slog.Handler
	*recorded
}

type recorded struct {
	mu      sync.Mutex
	records []slog.Record
}

func newLogRecorder() *logRecorder {
	return &logRecorder{next: slog.Default().Handler(), recorded: &recorded{}}
}

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }

func (l *logRecorder) Handle(ctx context.Context, r slog.Record) error {
	l.mu.Lock()
	l.records = append(l.records, r.Clone())
	l.mu.Unlock()
	if l.next.Enabled(ctx, r.Level) {
		return l.next.Handle(ctx, r)
	}
	return nil
}

// Derived loggers' attributes reach next but are not recorded: the tests look
// at each call's own attributes.
func (l *logRecorder) WithAttrs(as []slog.Attr) slog.Handler {
	return &logRecorder{next: l.next.WithAttrs(as), recorded: l.recorded}
}

func (l *logRecorder) WithGroup(name string) slog.Handler {
	return &logRecorder{next: l.next.WithGroup(name), recorded: l.recorded}
}

// find returns the messages logged at level with the attribute key=value.
func (l *logRecorder) find(level slog.Level, key, value string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var msgs []string
	for _, r := range l.records {
		if r.Level != level {
			continue
		}
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == key && a.Value.String() == value {
				msgs = append(msgs, r.Message)
				return false
			}
			return true
		})
	}
	return msgs
}
