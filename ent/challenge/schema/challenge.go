package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/progressive-overload/po/ent/internal/schemautil"
)

// Challenge is a progressive-overload plan: start at start_value and add
// increment every increment_every sessions, sessions_per_week times a week,
// for weeks weeks.
type Challenge struct{ ent.Schema }

func (Challenge) Fields() []ent.Field {
	return []ent.Field{
		field.Int64("id"),
		// Users live in the account service's database, so there is no foreign
		// key; the user.deleted event archives a user's challenges instead.
		field.Int64("user_id").Positive().Immutable(),
		field.String("title").MaxRuneLen(120).NotEmpty(),
		field.String("exercise").MaxRuneLen(80).NotEmpty(),
		field.Enum("unit").Values("kg", "lb", "reps", "seconds", "meters"),
		field.Float("start_value"),
		field.Float("increment"),
		field.Int("increment_every").SchemaType(schemautil.Int32).Positive().
			Comment("sessions between increments"),
		field.Int("sessions_per_week").SchemaType(schemautil.Int32).Positive(),
		field.Int("weeks").SchemaType(schemautil.Int32).Positive(),
		// A calendar day (DATE): the driver reads it as midnight UTC.
		field.Time("start_date").SchemaType(schemautil.Date),
		field.Enum("status").Values("pending", "active", "rejected", "completed", "archived").Default("pending"),
		field.String("status_reason").MaxRuneLen(255).Optional(),
		schemautil.CreatedAt(),
		schemautil.UpdatedAt(),
	}
}

func (Challenge) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("workout_logs", WorkoutLog.Type).
			Annotations(entsql.OnDelete(entsql.Cascade)),
	}
}

func (Challenge) Indexes() []ent.Index {
	return []ent.Index{
		// A user's challenges, optionally by status, keyset-paginated by id.
		index.Fields("user_id", "status", "id"),
	}
}
