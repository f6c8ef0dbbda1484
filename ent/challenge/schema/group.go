package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/progressive-overload/po/ent/internal/schemautil"
)

// ChallengeGroup is a challenge between people: an owner, a title and the
// plan every participant trains. The plan's columns are the group's own
// (copied into each participation) rather than a reference to the owner's
// challenge: a group must keep its plan whatever happens to any one
// participation (deleted, archived), and a join reads it from here.
type ChallengeGroup struct{ ent.Schema }

func (ChallengeGroup) Fields() []ent.Field {
	return []ent.Field{
		field.Int64("id"),
		// The user who created it (no foreign key: users live in the
		// account service).
		field.Int64("owner_id").Positive().Immutable(),
		field.String("title").MaxRuneLen(120).NotEmpty(),
		// The plan, as the challenges table holds it.
		field.String("exercise").MaxRuneLen(80).NotEmpty().Immutable(),
		field.Enum("unit").Values("kg", "lb", "reps", "seconds", "meters").Immutable(),
		field.Float("start_value").Immutable(),
		field.Float("increment").Immutable(),
		field.Int("increment_every").SchemaType(schemautil.Int32).Positive().Immutable(),
		field.Int("sessions_per_week").SchemaType(schemautil.Int32).Positive().Immutable(),
		field.Int("weeks").SchemaType(schemautil.Int32).Positive().Immutable(),
		field.Enum("progression").Values("fixed", "linear", "double").Default("fixed").Immutable(),
		field.Int("deload_after").SchemaType(schemautil.Int32).NonNegative().Default(0).Immutable(),
		field.Int("deload_percent").SchemaType(schemautil.Int32).NonNegative().Default(0).Immutable(),
		field.Int("min_reps").SchemaType(schemautil.Int32).NonNegative().Default(0).Immutable(),
		field.Int("max_reps").SchemaType(schemautil.Int32).NonNegative().Default(0).Immutable(),
		field.Time("start_date").SchemaType(schemautil.Date).Immutable(),
		field.Bool("joining_open").Default(true),
		schemautil.CreatedAt(),
		schemautil.UpdatedAt(),
	}
}

func (ChallengeGroup) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("participations", Challenge.Type),
		edge.To("participants", GroupParticipant.Type).
			Annotations(entsql.OnDelete(entsql.Cascade)),
		edge.To("invites", GroupInvite.Type).
			Annotations(entsql.OnDelete(entsql.Cascade)),
	}
}

func (ChallengeGroup) Indexes() []ent.Index {
	return []ent.Index{
		// user.deleted closes the groups the user owns.
		index.Fields("owner_id"),
	}
}

// GroupParticipant is one user's place in a group, tied to their
// participation: their own challenge on the group's plan.
type GroupParticipant struct{ ent.Schema }

func (GroupParticipant) Fields() []ent.Field {
	return []ent.Field{
		field.Int64("id"),
		field.Int64("group_id").Immutable(),
		field.Int64("user_id").Positive().Immutable(),
		field.Int64("challenge_id").Immutable(),
		// pending and active are on the leaderboard; the others are final.
		field.Enum("status").Values("pending", "active", "rejected", "left", "removed").Default("pending"),
		field.Time("joined_at").SchemaType(schemautil.DateTime6).Immutable(),
		field.Time("left_at").SchemaType(schemautil.DateTime6).Optional().Nillable(),
	}
}

func (GroupParticipant) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("group", ChallengeGroup.Type).Ref("participants").
			Field("group_id").Unique().Required().Immutable(),
		edge.From("challenge", Challenge.Type).Ref("participant").
			Field("challenge_id").Unique().Required().Immutable(),
	}
}

func (GroupParticipant) Indexes() []ent.Index {
	return []ent.Index{
		// One place per user and group, whatever became of it: a user who
		// left or was removed does not come back through a code.
		index.Fields("group_id", "user_id").Unique(),
		// A user's groups (GET /challenges/groups, user.deleted, renames).
		index.Fields("user_id", "status"),
	}
}

// GroupInvite is a code that admits people into a group. Only the code's
// SHA-256 is stored (hex): the code itself is shown once, when created.
type GroupInvite struct{ ent.Schema }

func (GroupInvite) Fields() []ent.Field {
	return []ent.Field{
		field.Int64("id"),
		field.Int64("group_id").Immutable(),
		field.String("code_hash").MinLen(64).MaxLen(64).Unique().Immutable(),
		field.Time("expires_at").SchemaType(schemautil.DateTime6).Optional().Nillable().Immutable(),
		// The group's pending and active participants at which the code
		// stops admitting; NULL: the group's limit.
		field.Int("max_participants").SchemaType(schemautil.Int32).Positive().Optional().Nillable().Immutable(),
		field.Time("revoked_at").SchemaType(schemautil.DateTime6).Optional().Nillable(),
		schemautil.CreatedAt(),
	}
}

func (GroupInvite) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("group", ChallengeGroup.Type).Ref("invites").
			Field("group_id").Unique().Required().Immutable(),
	}
}

func (GroupInvite) Indexes() []ent.Index {
	return []ent.Index{
		// A group's invites, newest first.
		index.Fields("group_id", "id"),
	}
}
