package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/schema/field"

	"github.com/progressive-overload/po/ent/internal/schemautil"
)

// UserProfile is the challenge service's copy of what it shows or uses of a
// user's account: the time zone, which groups their logs into sessions
// (their own days), and the display name the group leaderboards show. The
// account service owns both; its events (user.validated, user.updated)
// keep this copy, and a challenge created before any of them seeds the
// zone from the access token's tz claim with the zero as_of, so that any
// event overrides it. The table was user_time_zones before display names.
type UserProfile struct{ ent.Schema }

func (UserProfile) Fields() []ent.Field {
	return []ent.Field{
		// The user id (users live in the account service's database).
		field.Int64("id"),
		field.String("time_zone").MaxLen(64).NotEmpty(),
		// Empty until an event carried one (the leaderboards then show
		// "User <id>").
		field.String("display_name").MaxRuneLen(100).Default(""),
		// The time of the account event that set them: an older event
		// arriving late (another queue, a redelivery) does not undo a newer one.
		field.Time("as_of").SchemaType(schemautil.DateTime6),
	}
}
