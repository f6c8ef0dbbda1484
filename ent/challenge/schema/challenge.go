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
// increment every increment_every sessions (fixed), or after
// increment_every met sessions in a row (linear, double), sessions_per_week
// times a week, for weeks weeks.
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
		// How the target moves (the challenge service's domain/progression.go):
		// rows from before progressions existed are fixed, which is what they
		// were. The other four stay 0 where they do not apply.
		field.Enum("progression").Values("fixed", "linear", "double").Default("fixed"),
		field.Int("deload_after").SchemaType(schemautil.Int32).NonNegative().Default(0).
			Comment("missed sessions in a row before a deload; 0 never"),
		field.Int("deload_percent").SchemaType(schemautil.Int32).NonNegative().Default(0),
		field.Int("min_reps").SchemaType(schemautil.Int32).NonNegative().Default(0).
			Comment("double progression's rep range"),
		field.Int("max_reps").SchemaType(schemautil.Int32).NonNegative().Default(0),
		// A calendar day (DATE): the driver reads it as midnight UTC.
		field.Time("start_date").SchemaType(schemautil.Date),
		field.Enum("status").Values("pending", "active", "rejected", "completed", "archived").Default("pending"),
		field.String("status_reason").MaxRuneLen(255).Optional(),
		schemautil.CreatedAt(),
		schemautil.UpdatedAt(),
		// The group this challenge is a participation of; NULL for a
		// challenge of one's own.
		field.Int64("group_id").Optional().Nillable().Immutable(),
	}
}

func (Challenge) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("workout_logs", WorkoutLog.Type).
			Annotations(entsql.OnDelete(entsql.Cascade)),
		edge.From("group", ChallengeGroup.Type).Ref("participations").
			Field("group_id").Unique().Immutable(),
		// Deleting a participation's challenge deletes its place in the
		// group (the service refuses while it is on the board).
		edge.To("participant", GroupParticipant.Type).Unique().
			Annotations(entsql.OnDelete(entsql.Cascade)),
	}
}

func (Challenge) Indexes() []ent.Index {
	return []ent.Index{
		// A user's challenges, optionally by status, keyset-paginated by id.
		index.Fields("user_id", "status", "id"),
	}
}
