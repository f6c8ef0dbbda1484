package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/progressive-overload/po/ent/internal/schemautil"
)

// WorkoutLog is one performed session of a challenge.
type WorkoutLog struct{ ent.Schema }

func (WorkoutLog) Fields() []ent.Field {
	return []ent.Field{
		field.Int64("id"),
		field.Int64("challenge_id").Immutable(),
		// Copied from the challenge so "all logs of a user, newest first" is
		// one index range scan instead of a join.
		field.Int64("user_id").Positive().Immutable(),
		field.Time("performed_at").SchemaType(schemautil.DateTime6),
		field.Int("sets").SchemaType(schemautil.Int32).NonNegative(),
		field.Int("reps").SchemaType(schemautil.Int32).NonNegative(),
		field.Float("value"),
		field.String("note").MaxRuneLen(500).Optional(),
		schemautil.CreatedAt(),
	}
}

func (WorkoutLog) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("challenge", Challenge.Type).Ref("workout_logs").
			Field("challenge_id").Unique().Required().Immutable(),
	}
}

func (WorkoutLog) Indexes() []ent.Index {
	return []ent.Index{
		// Keyset pagination on (performed_at, id) descending, per user and
		// per challenge.
		index.Fields("user_id", "performed_at", "id"),
		index.Fields("challenge_id", "performed_at", "id"),
	}
}
