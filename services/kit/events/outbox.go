package events

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
)

// Execer is what Enqueue needs from a transaction: *sql.Tx satisfies it, and so
// does an ent *Tx generated with the sql/execquery feature.
type Execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// Enqueue stores events in outbox_events through exec, which must be the
// transaction that also writes the state change they describe: the events
// exist if and only if that transaction commits. Call Relay.Notify after the
// commit so they leave without waiting for the next poll.
//
// With tracing on, each row also keeps the trace context of ctx's span, which
// the relay's publish span continues (see trace.go).
//
// created_at is the database's UTC clock, the same clock the relay measures
// the backlog's age with, so app/DB clock skew and the connection's time zone
// setting cannot distort outbox_oldest_age_seconds.
func Enqueue(ctx context.Context, exec Execer, evts ...Event) error {
	if len(evts) == 0 {
		return nil
	}
	tc, err := traceContextOf(ctx)
	if err != nil {
		return err
	}
	var q strings.Builder
	q.WriteString("INSERT INTO outbox_events (event_id, event_type, payload, trace_context, created_at, attempts) VALUES ")
	args := make([]any, 0, 4*len(evts))
	for i, e := range evts {
		if err := e.validate(); err != nil {
			return err
		}
		payload, err := json.Marshal(e)
		if err != nil {
			return fmt.Errorf("events: marshal %s: %w", e.ID, err)
		}
		if i > 0 {
			q.WriteString(", ")
		}
		q.WriteString("(?, ?, ?, ?, UTC_TIMESTAMP(6), 0)")
		args = append(args, e.ID, e.Type, payload, tc)
	}
	if _, err := exec.ExecContext(ctx, q.String(), args...); err != nil {
		return fmt.Errorf("events: enqueue %d event(s): %w", len(evts), err)
	}
	return nil
}
