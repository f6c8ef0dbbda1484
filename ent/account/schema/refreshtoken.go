package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/progressive-overload/po/ent/internal/schemautil"
)

// RefreshToken is one issued refresh token, stored only as a hash. Tokens
// rotated from the same login share a family, so reuse of a spent token can
// revoke the whole family. Every token of a family carries the family's start
// (its login), which caps how long rotation can keep the session alive.
type RefreshToken struct{ ent.Schema }

func (RefreshToken) Fields() []ent.Field {
	return []ent.Field{
		field.Int64("id"),
		field.Int64("user_id").Immutable(),
		field.String("family_id").MaxLen(36).NotEmpty().Immutable(),
		field.String("token_hash").MinLen(64).MaxLen(64).Unique().Immutable().
			Comment("hex SHA-256 of the token"),
		field.Time("expires_at").SchemaType(schemautil.DateTime6).Immutable(),
		field.Time("family_started_at").SchemaType(schemautil.DateTime6).Immutable().
			Comment("when the family's first token was issued (the login); copied on rotation"),
		field.Time("used_at").SchemaType(schemautil.DateTime6).Optional().Nillable(),
		field.Time("revoked_at").SchemaType(schemautil.DateTime6).Optional().Nillable(),
		schemautil.CreatedAt(),
	}
}

func (RefreshToken) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("user", User.Type).Ref("refresh_tokens").
			Field("user_id").Unique().Required().Immutable(),
	}
}

func (RefreshToken) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("family_id"),
		// Revoking every token of a user (logout everywhere, suspension).
		index.Fields("user_id"),
		// Deleting tokens that expired long ago, oldest first.
		index.Fields("expires_at"),
	}
}
