package schema

import (
	"errors"
	"strings"

	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"

	"github.com/progressive-overload/po/ent/internal/schemautil"
)

// User is an account.
type User struct{ ent.Schema }

func (User) Fields() []ent.Field {
	return []ent.Field{
		field.Int64("id"),
		// The unique index compares bytes (ent's utf8mb4_bin tables), so it
		// only rules out case-variant duplicates if every writer stores the
		// lower-cased form; the validator makes a writer that forgets fail
		// loudly instead of creating a second account.
		field.String("email").MaxRuneLen(254).NotEmpty().Unique().
			Validate(lowerCase),
		field.String("password_hash").NotEmpty().Sensitive(),
		field.String("display_name").MaxRuneLen(100),
		field.Enum("role").Values("user", "admin").Default("user"),
		field.Enum("status").Values("active", "suspended", "deleted").Default("active"),
		// An IANA zone name ("Europe/Berlin"), validated by the account
		// service against the tz database. Accounts from before time zones
		// existed keep the UTC their days always were.
		field.String("time_zone").MaxLen(64).NotEmpty().Default("UTC"),
		schemautil.CreatedAt(),
		schemautil.UpdatedAt(),
	}
}

func (User) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("refresh_tokens", RefreshToken.Type).
			Annotations(entsql.OnDelete(entsql.Cascade)),
	}
}

func lowerCase(s string) error {
	if s != strings.ToLower(s) {
		return errors.New("email must be stored lower-cased")
	}
	return nil
}
