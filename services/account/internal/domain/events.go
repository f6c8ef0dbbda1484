package domain

// Event is something that happened to an account that other services learn
// about (docs/conventions.md lists the types and their data).
type Event interface {
	EventType() string
}

// UserDeleted: the account was deleted.
type UserDeleted struct{ UserID int64 }

// UserSuspended: an administrator suspended the account.
type UserSuspended struct{ UserID int64 }

// UserValidated: the user a new challenge belongs to exists and is active.
// TimeZone and DisplayName are the user's at that moment, so the challenge
// service knows them from the first challenge on.
type UserValidated struct {
	ChallengeID, UserID int64
	TimeZone            string
	DisplayName         string
}

// UserUpdated: something of the account that other services keep a copy of
// changed (its time zone, its display name). It always carries all of them,
// as they are after the change, so a consumer that missed an earlier one
// still ends with the whole current profile.
type UserUpdated struct {
	UserID      int64
	TimeZone    string
	DisplayName string
}

// UserRejected: the user a new challenge belongs to may not own it; Reason
// is one of the Reason constants.
type UserRejected struct {
	ChallengeID, UserID int64
	Reason              string
}

// Why a challenge's user is rejected. The challenge service stores and shows
// the text, so changing one changes what its users read.
const (
	ReasonUserNotFound  = "user not found"
	ReasonUserSuspended = "user suspended"
	ReasonUserDeleted   = "user deleted"
)

func (UserDeleted) EventType() string   { return "user.deleted" }
func (UserSuspended) EventType() string { return "user.suspended" }
func (UserValidated) EventType() string { return "user.validated" }
func (UserRejected) EventType() string  { return "user.rejected" }
func (UserUpdated) EventType() string   { return "user.updated" }
