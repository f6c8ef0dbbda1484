// Package schemautil holds the schema pieces both services' ent schemas share:
// column types that must mean the same on MariaDB 10.11 and MySQL 8, and the
// transactional outbox and idempotent inbox tables (docs/conventions.md).
package schemautil

import (
	"time"

	"entgo.io/ent"
	"entgo.io/ent/dialect"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
	"entgo.io/ent/schema/mixin"
)

// DateTime6 replaces ent's MySQL default for time fields (TIMESTAMP, which
// converts through the session time zone and ends in 2038) with a plain
// microsecond DATETIME holding UTC.
var DateTime6 = map[string]string{dialect.MySQL: "datetime(6)"}

// Date is a calendar day without time or zone.
var Date = map[string]string{dialect.MySQL: "date"}

// Int32 stores a Go int in a 4-byte INT where ent would use BIGINT.
var Int32 = map[string]string{dialect.MySQL: "int"}

// NowUTC is the default for creation and update times. It is UTC and
// truncated to the column's microsecond precision so the value an entity holds
// after Save equals the value read back later.
func NowUTC() time.Time {
	return time.Now().UTC().Truncate(time.Microsecond)
}

// CreatedAt is set once on insert.
func CreatedAt() ent.Field {
	return field.Time("created_at").SchemaType(DateTime6).Default(NowUTC).Immutable()
}

// UpdatedAt is set on insert and refreshed by every update through ent.
func UpdatedAt() ent.Field {
	return field.Time("updated_at").SchemaType(DateTime6).Default(NowUTC).UpdateDefault(NowUTC)
}

// Table names fixed by docs/conventions.md.
const (
	OutboxTable = "outbox_events"
	InboxTable  = "inbox_messages"
)

// Outbox is the transactional outbox: an event row committed in the same
// transaction as the state change it announces; a relay publishes it later.
type Outbox struct{ mixin.Schema }

func (Outbox) Fields() []ent.Field {
	return []ent.Field{
		field.Int64("id"),
		field.String("event_id").MaxLen(36).NotEmpty().Unique().Immutable().
			Comment("UUIDv7 of the envelope; consumers deduplicate on it"),
		field.String("event_type").MaxLen(64).NotEmpty().Immutable(),
		field.Bytes("payload").SchemaType(map[string]string{dialect.MySQL: "longblob"}).Immutable().
			Comment("the whole JSON envelope, published as is"),
		// The W3C trace context (traceparent, tracestate, baggage) of the
		// request or message that enqueued the event, for the relay to carry
		// into the AMQP headers. A column of its own rather than a member of
		// the envelope: it describes how this copy of the event travelled,
		// not the event, so the envelope (the contract with consumers, kept
		// byte for byte in DLQs and replays) stays free of it, and the relay
		// reads it without parsing the payload. NULL when tracing is off.
		field.String("trace_context").SchemaType(map[string]string{dialect.MySQL: "text"}).Optional().Nillable().Immutable().
			Comment("W3C trace context headers as a JSON object; NULL when the event was enqueued untraced"),
		field.Time("created_at").SchemaType(DateTime6).Default(NowUTC).Immutable(),
		field.Time("published_at").SchemaType(DateTime6).Optional().Nillable(),
		field.Int("attempts").SchemaType(Int32).Default(0).NonNegative(),
	}
}

func (Outbox) Indexes() []ent.Index {
	return []ent.Index{
		// The relay scans unpublished rows (published_at IS NULL) in id order;
		// its retention prune reads the published ones oldest first.
		index.Fields("published_at", "id"),
	}
}

func (Outbox) Annotations() []schema.Annotation {
	return []schema.Annotation{entsql.Annotation{Table: OutboxTable}}
}

// Inbox records which messages a consumer has already processed, so a
// redelivered message is acknowledged without being applied twice.
type Inbox struct{ mixin.Schema }

func (Inbox) Fields() []ent.Field {
	return []ent.Field{
		field.Int64("id"),
		field.String("consumer").MaxLen(64).NotEmpty().Immutable(),
		field.String("message_id").MaxLen(64).NotEmpty().Immutable(),
		field.Time("processed_at").SchemaType(DateTime6).Default(NowUTC).Immutable(),
	}
}

func (Inbox) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("consumer", "message_id").Unique(),
		// The consumer's retention prune deletes the oldest rows first
		// (processed_at < cutoff ORDER BY processed_at LIMIT n).
		index.Fields("processed_at"),
	}
}

func (Inbox) Annotations() []schema.Annotation {
	return []schema.Annotation{entsql.Annotation{Table: InboxTable}}
}
