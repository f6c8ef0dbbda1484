package events

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/progressive-overload/po/services/kit/backoff"
	"github.com/progressive-overload/po/services/kit/tracing"
)

// RelayOptions configure a Relay. Zero values take the defaults shown.
type RelayOptions struct {
	Service       string        // metrics label; default the publisher's
	BatchSize     int           // rows per transaction; default 100
	PollInterval  time.Duration // fallback when nobody calls Notify; default 1s
	StatsInterval time.Duration // how often the outbox gauges are refreshed; default 5s
	// Retention, when positive, deletes rows published longer ago than this
	// (checked every PruneInterval, at most 20,000 rows per pass, counted in
	// events_pruned_total). Unpublished rows are kept however old. Zero keeps
	// every row forever.
	Retention time.Duration
	// PruneInterval is how often Retention is applied; default
	// DefaultPruneInterval. Rows a day old need no checking every few seconds.
	PruneInterval time.Duration
	ErrorBackoff  backoff.Backoff // after a failed batch; default 200ms..10s
	Metrics       *Metrics        // default: the publisher's
	Logger        *slog.Logger    // default: slog.Default()
}

// Relay moves committed outbox rows to the broker. Any number of relays (one
// per replica) may run on one table: each batch locks its rows with
// FOR UPDATE SKIP LOCKED, so a row is published by one relay at a time, and it
// is marked published only after the broker confirmed it.
//
// A relay that dies between the confirm and its commit leaves the rows
// unmarked and they are published again: delivery is at least once, and
// consumers drop the duplicate through their inbox.
//
// A row whose routing key no queue is bound to stays pending and is retried
// with its own ErrorBackoff; meanwhile the relay skips it, so events nobody
// subscribed to yet neither hold up the rows behind them nor slow the relay.
type Relay struct {
	db      *sql.DB
	pub     *Publisher
	opts    RelayOptions
	log     *slog.Logger
	metrics *Metrics
	notify  chan struct{}

	// parked maps rows the broker returned as unroutable to the time they
	// may be tried again. Only Run's goroutine uses it; other relays on the
	// table keep their own, so each retries such a row at its own pace.
	parked map[int64]time.Time

	// beforeMark runs after the broker confirmed a batch and before the rows
	// are marked; an error rolls the marking back. Tests use it to stand in
	// for a crash at the worst moment.
	beforeMark func() error
}

// maxParked bounds the row ids a relay skips in each query. Unroutable rows
// beyond it are retried in every batch, and the relay as a whole backs off.
const maxParked = 10000

// relayBatchTimeout bounds one batch. A batch is not cut short by Run's
// context: stopping between the broker's confirm and the commit would only
// turn a clean shutdown into duplicates.
const relayBatchTimeout = time.Minute

// NewRelay returns a relay publishing db's outbox_events through pub.
func NewRelay(db *sql.DB, pub *Publisher, opts RelayOptions) *Relay {
	if opts.Service == "" {
		opts.Service = pub.opts.Service
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = 100
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = time.Second
	}
	if opts.PruneInterval <= 0 {
		opts.PruneInterval = DefaultPruneInterval
	}
	if opts.StatsInterval <= 0 {
		opts.StatsInterval = 5 * time.Second
	}
	opts.ErrorBackoff = opts.ErrorBackoff.OrDefault(backoff.Backoff{Min: 200 * time.Millisecond, Max: 10 * time.Second})
	if opts.Metrics == nil {
		opts.Metrics = pub.metrics
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Relay{
		db:      db,
		pub:     pub,
		opts:    opts,
		log:     opts.Logger.With("component", "events.relay"),
		metrics: opts.Metrics,
		notify:  make(chan struct{}, 1),
		parked:  map[int64]time.Time{},
	}
}

// Notify wakes the relay now instead of at the next poll. Call it after
// committing a transaction that enqueued events; it never blocks.
func (r *Relay) Notify() {
	select {
	case r.notify <- struct{}{}:
	default:
	}
}

// Run relays until ctx ends, then returns nil. It drains the backlog batch by
// batch, then sleeps until Notify or the poll interval; after a failure it
// backs off (waking early when the publisher reconnects).
func (r *Relay) Run(ctx context.Context) error {
	statsDone := make(chan struct{})
	go func() {
		defer close(statsDone)
		r.statsLoop(ctx)
	}()
	defer func() { <-statsDone }()
	if r.opts.Retention > 0 {
		pruneDone := make(chan struct{})
		go func() {
			defer close(pruneDone)
			pruneEvery(ctx, r.db, r.log, r.opts.PruneInterval, TableOutbox, "published_at", r.opts.Retention,
				r.metrics.Pruned.WithLabelValues(r.opts.Service, TableOutbox))
		}()
		defer func() { <-pruneDone }()
	}

	// Go 1.23+ timers: Reset drops a pending tick, so no draining is needed.
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for failures := 0; ; {
		n, selected, err := r.relayBatch(ctx)
		if ctx.Err() != nil {
			return nil
		}
		var wait time.Duration
		var wake, reconnected <-chan struct{}
		switch {
		case err != nil:
			if !errors.Is(err, ErrNotConnected) || failures == 0 {
				r.log.Warn("relaying outbox failed", "error", err, "published", n)
			}
			wait = r.opts.ErrorBackoff.Delay(failures)
			failures++
			if !r.pub.Connected() {
				reconnected = r.pub.stateChanged()
			}
		case selected == r.opts.BatchSize:
			failures = 0
			continue
		default:
			failures = 0
			wait = r.opts.PollInterval
			wake = r.notify
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
		case <-wake:
		case <-reconnected:
		}
	}
}

type outboxRow struct {
	id       int64
	eventID  string
	typ      string
	payload  []byte
	attempts int
	trace    []byte // trace_context; nil when NULL
}

// relayBatch publishes one batch and reports how many rows it marked
// published and how many it took. Unroutable rows are parked rather than
// reported as an error.
func (r *Relay) relayBatch(ctx context.Context) (published, selected int, err error) {
	if !r.pub.Connected() {
		return 0, 0, ErrNotConnected
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), relayBatchTimeout)
	defer cancel()
	// READ COMMITTED: under REPEATABLE READ the locking read would also take
	// gap locks past the last pending row and block every Enqueue until this
	// batch commits.
	tx, err := r.db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelReadCommitted})
	if err != nil {
		return 0, 0, fmt.Errorf("events: relay begin: %w", err)
	}
	defer func() { _ = tx.Rollback() }()

	rows, err := r.lockPending(ctx, tx)
	if err != nil || len(rows) == 0 {
		return 0, 0, err
	}
	msgs := make([]outgoing, len(rows))
	for i, row := range rows {
		// The properties come from the payload when it parses; when it does
		// not, the row still goes out so it cannot stall the relay, and
		// consumers dead-letter it.
		var env struct {
			Source string    `json:"source"`
			Time   time.Time `json:"time"`
		}
		_ = json.Unmarshal(row.payload, &env)
		msgs[i] = outgoing{id: row.eventID, typ: row.typ, source: env.Source, time: env.Time, body: row.payload}
		if tracing.Enabled() {
			// Each message's publish span continues the trace of the request
			// (or message) that enqueued it, not the relay's.
			msgs[i].trace = contextOfRow(context.Background(), row.trace)
		}
	}
	errs := r.pub.publish(ctx, msgs)
	var done, failed []int64
	var firstErr error
	for i, err := range errs {
		if err != nil {
			failed = append(failed, rows[i].id)
			if errors.Is(err, ErrUnroutable) && len(r.parked) < maxParked {
				r.parked[rows[i].id] = time.Now().Add(r.opts.ErrorBackoff.Delay(rows[i].attempts))
			} else if firstErr == nil {
				firstErr = err
			}
			continue
		}
		done = append(done, rows[i].id)
	}
	if r.beforeMark != nil {
		if err := r.beforeMark(); err != nil {
			return 0, 0, err
		}
	}
	if err := markRows(ctx, tx, "published_at = UTC_TIMESTAMP(6), attempts = attempts + 1", done); err != nil {
		return 0, 0, err
	}
	if err := markRows(ctx, tx, "attempts = attempts + 1", failed); err != nil {
		return 0, 0, err
	}
	if err := tx.Commit(); err != nil {
		return 0, 0, fmt.Errorf("events: relay commit: %w", err)
	}
	return len(done), len(rows), firstErr
}

func (r *Relay) lockPending(ctx context.Context, tx *sql.Tx) ([]outboxRow, error) {
	rs, err := tx.QueryContext(ctx, `SELECT id, event_id, event_type, payload, attempts, trace_context FROM outbox_events
		WHERE published_at IS NULL`+r.skipParked()+` ORDER BY id LIMIT ? FOR UPDATE SKIP LOCKED`, r.opts.BatchSize)
	if err != nil {
		return nil, fmt.Errorf("events: relay select: %w", err)
	}
	defer rs.Close()
	var rows []outboxRow
	for rs.Next() {
		var row outboxRow
		if err := rs.Scan(&row.id, &row.eventID, &row.typ, &row.payload, &row.attempts, &row.trace); err != nil {
			return nil, fmt.Errorf("events: relay scan: %w", err)
		}
		rows = append(rows, row)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("events: relay select: %w", err)
	}
	return rows, nil
}

// skipParked is the condition leaving out the rows still parked. The ids are
// written as literals, which is safe for integers and, unlike placeholders,
// has no limit on their number.
func (r *Relay) skipParked() string {
	now := time.Now()
	var b strings.Builder
	for id, until := range r.parked {
		if !now.Before(until) {
			delete(r.parked, id)
			continue
		}
		if b.Len() == 0 {
			b.WriteString(" AND id NOT IN (")
		} else {
			b.WriteString(", ")
		}
		b.WriteString(strconv.FormatInt(id, 10))
	}
	if b.Len() > 0 {
		b.WriteString(")")
	}
	return b.String()
}

func markRows(ctx context.Context, tx *sql.Tx, set string, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	q := "UPDATE outbox_events SET " + set + " WHERE id IN (?" + strings.Repeat(", ?", len(ids)-1) + ")"
	if _, err := tx.ExecContext(ctx, q, args...); err != nil {
		return fmt.Errorf("events: relay mark: %w", err)
	}
	return nil
}

func (r *Relay) statsLoop(ctx context.Context) {
	t := time.NewTicker(r.opts.StatsInterval)
	defer t.Stop()
	for {
		if err := r.refreshStats(ctx); err != nil && ctx.Err() == nil {
			r.log.Warn("outbox stats failed", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// refreshStats reads only the (published_at, id) index range of pending rows
// plus the first such row, so it stays cheap while the outbox is healthy.
// The oldest row is taken by id rather than MIN(created_at), which would
// read every pending row.
func (r *Relay) refreshStats(ctx context.Context) error {
	var pending, ageMicros int64
	err := r.db.QueryRowContext(ctx, `SELECT COUNT(*), COALESCE((
			SELECT TIMESTAMPDIFF(MICROSECOND, created_at, UTC_TIMESTAMP(6)) FROM outbox_events
			WHERE published_at IS NULL ORDER BY id LIMIT 1), 0)
		FROM outbox_events WHERE published_at IS NULL`).Scan(&pending, &ageMicros)
	if err != nil {
		return err
	}
	r.metrics.OutboxPending.WithLabelValues(r.opts.Service).Set(float64(pending))
	r.metrics.OutboxOldestAge.WithLabelValues(r.opts.Service).Set(max(0, float64(ageMicros)/1e6))
	return nil
}
