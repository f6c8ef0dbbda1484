package domain

import "time"

// RefreshToken is one issued refresh token as stored: only its hash is kept.
// Tokens rotated from one sign-in share a FamilyID and its FamilyStartedAt
// (the sign-in's time), which bounds the whole family's lifetime.
type RefreshToken struct {
	ID              int64
	UserID          int64
	FamilyID        string
	Hash            string
	ExpiresAt       time.Time
	FamilyStartedAt time.Time
	UsedAt          *time.Time
	RevokedAt       *time.Time
}

// Spent reports whether the token was already exchanged or revoked: showing
// it again means someone else may hold a copy.
func (t RefreshToken) Spent() bool { return t.UsedAt != nil || t.RevokedAt != nil }

// Expired reports whether the token's lifetime is over at now.
func (t RefreshToken) Expired(now time.Time) bool { return !now.Before(t.ExpiresAt) }

// FamilyEnd is when the token's family may no longer be refreshed, whatever
// its tokens' own expiry: maxAge after the sign-in that started it.
func (t RefreshToken) FamilyEnd(maxAge time.Duration) time.Time { return t.FamilyStartedAt.Add(maxAge) }

// FamilyExpired reports whether the token's family is at least maxAge old at
// now.
func (t RefreshToken) FamilyExpired(now time.Time, maxAge time.Duration) bool {
	return !now.Before(t.FamilyEnd(maxAge))
}
