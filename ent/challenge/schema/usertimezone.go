package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/schema/field"

	"github.com/progressive-overload/po/ent/internal/schemautil"
)

// UserTimeZone is the challenge service's copy of a user's time zone, which
// groups their logs into sessions (their own days). The account service
// owns it; its events (user.validated, user.updated) keep this copy, and a
// challenge created before any of them seeds it from the access token's tz
// claim with the zero as_of, so that any event overrides it.
type UserTimeZone struct{ ent.Schema }

func (UserTimeZone) Fields() []ent.Field {
	return []ent.Field{
		// The user id (users live in the account service's database).
		field.Int64("id"),
		field.String("time_zone").MaxLen(64).NotEmpty(),
		// The time of the account event that set it: an older event arriving
		// late (another queue, a redelivery) does not undo a newer one.
		field.Time("as_of").SchemaType(schemautil.DateTime6),
	}
}
