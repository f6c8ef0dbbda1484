package domain

import "time"

// RefreshToken is one issued refresh token as stored: only its hash is kept.
// Tokens rotated from one sign-in share a FamilyID.
type RefreshToken struct {
	ID        int64
	UserID    int64
	FamilyID  string
	Hash      string
	ExpiresAt time.Time
	UsedAt    *time.Time
	RevokedAt *time.Time
}

// Spent reports whether the token was already exchanged or revoked: showing
// it again means someone else may hold a copy.
func (t RefreshToken) Spent() bool { return t.UsedAt != nil || t.RevokedAt != nil }

// Expired reports whether the token's lifetime is over at now.
func (t RefreshToken) Expired(now time.Time) bool { return !now.Before(t.ExpiresAt) }
