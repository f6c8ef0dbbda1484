// Package events carries domain events between services over RabbitMQ with
// at-least-once delivery and effectively-once handling.
//
// The write side never talks to the broker inside a request: Enqueue stores the
// event in outbox_events in the caller's transaction, and a Relay publishes
// committed rows with publisher confirms, marking them only after the broker
// has confirmed them. The read side (Consumer) records every handled message id
// in inbox_messages in the same transaction as the handler's own writes, so a
// redelivered or republished message is acknowledged without running the
// handler again.
//
// Neither table grows forever when retentions are set: the relay deletes rows
// published more than RelayOptions.Retention ago, the consumer rows processed
// more than ConsumerOptions.InboxRetention ago. The inbox retention is the
// deduplication window: a message that comes back after its row was deleted
// is handled again.
//
// Topology (all durable, declared idempotently on every (re)connect):
//
//	<exchange>            topic; routing key = event type
//	<exchange>.dlx        direct; carries every dead-lettered message
//	<service>.<name>      a consumer's queue, bound to its routing keys;
//	                      rejected messages dead-letter to <queue>.dlq
//	<service>.<name>.retry holds failed messages for their backoff (per-message
//	                      TTL), then dead-letters them back to <queue>
//	<service>.<name>.dlq  messages that failed MaxAttempts times or could not be
//	                      decoded; nothing consumes it, operators inspect it
package events

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// DefaultExchange is the topic exchange used when none is configured (AMQP_EXCHANGE).
const DefaultExchange = "po.events"

// Column widths of outbox_events and inbox_messages (docs/conventions.md); values
// are checked against them up front because strict SQL modes reject longer ones
// only at insert time and lax modes would silently truncate them.
const (
	maxEventIDLen   = 36
	maxEventTypeLen = 64
	maxConsumerLen  = 64
)

// Event is the envelope every message carries (docs/conventions.md).
type Event struct {
	ID     string          `json:"id"`
	Type   string          `json:"type"`
	Source string          `json:"source"`
	Time   time.Time       `json:"time"`
	Data   json.RawMessage `json:"data"`
}

// NewEvent builds an envelope with a fresh UUIDv7 id, so ids sort by creation
// time, and data marshalled to JSON (nil becomes {}).
func NewEvent(source, typ string, data any) (Event, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return Event{}, fmt.Errorf("events: new id: %w", err)
	}
	raw := json.RawMessage(`{}`)
	if data != nil {
		b, err := json.Marshal(data)
		if err != nil {
			return Event{}, fmt.Errorf("events: marshal %s data: %w", typ, err)
		}
		raw = b
	}
	evt := Event{ID: id.String(), Type: typ, Source: source, Time: time.Now().UTC(), Data: raw}
	if err := evt.validate(); err != nil {
		return Event{}, err
	}
	return evt, nil
}

// DecodeData unmarshals the event's data into v.
func (e Event) DecodeData(v any) error {
	if err := json.Unmarshal(e.Data, v); err != nil {
		return fmt.Errorf("events: decode %s data: %w", e.Type, err)
	}
	return nil
}

func (e Event) validate() error {
	switch {
	case e.ID == "":
		return errors.New("events: event without id")
	case len(e.ID) > maxEventIDLen:
		return fmt.Errorf("events: event id %q longer than %d", e.ID, maxEventIDLen)
	case e.Type == "":
		return fmt.Errorf("events: event %s without type", e.ID)
	case len(e.Type) > maxEventTypeLen:
		return fmt.Errorf("events: event type %q longer than %d", e.Type, maxEventTypeLen)
	case e.Source == "":
		return fmt.Errorf("events: event %s without source", e.ID)
	case len(e.Data) == 0:
		return fmt.Errorf("events: event %s without data", e.ID)
	}
	return nil
}

// decodeEvent parses a message body; anything it rejects can never be handled
// and is treated as poison.
func decodeEvent(body []byte) (Event, error) {
	var evt Event
	if err := json.Unmarshal(body, &evt); err != nil {
		return Event{}, fmt.Errorf("events: undecodable message: %w", err)
	}
	if evt.ID == "" || evt.Type == "" {
		return Event{}, errors.New("events: message without id or type")
	}
	if len(evt.ID) > maxEventIDLen {
		return Event{}, fmt.Errorf("events: message id %q longer than %d", evt.ID, maxEventIDLen)
	}
	return evt, nil
}

// Permanent marks a handler error as one that retrying cannot fix (the event
// refers to something that will never exist, say): the message goes to the
// dead-letter queue at once instead of after MaxAttempts.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanentError{err}
}

// IsPermanent reports whether err was wrapped by Permanent.
func IsPermanent(err error) bool {
	var p permanentError
	return errors.As(err, &p)
}

type permanentError struct{ err error }

func (p permanentError) Error() string { return "permanent: " + p.err.Error() }
func (p permanentError) Unwrap() error { return p.err }
