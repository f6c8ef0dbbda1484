package domain

// Event is something that happened to a challenge that other services learn
// about (docs/conventions.md lists the types and their data); the adapters
// give it its wire form, as in the account service.
type Event interface {
	EventType() string
}

// ChallengeCreated: a new challenge asks the account service to vouch for
// its user.
type ChallengeCreated struct{ ChallengeID, UserID int64 }

func (ChallengeCreated) EventType() string { return "challenge.created" }
