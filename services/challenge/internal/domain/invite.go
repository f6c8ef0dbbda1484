package domain

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"time"
)

// Field names of an invite request, as the API spells them.
const (
	FieldCode            = "code"
	FieldExpiresAt       = "expiresAt"
	FieldMaxParticipants = "maxParticipants"
)

// Limits of an invite.
const (
	// InviteCodeBytes of randomness make a code unguessable: 256 bits.
	InviteCodeBytes = 32
	// InviteCodeLen is its base64url length without padding.
	InviteCodeLen = 43
	// MaxInviteLifetime bounds expiresAt: an invite meant to last longer
	// should not expire at all.
	MaxInviteLifetime = 366 * 24 * time.Hour
	// MinInviteCap: a cap below 2 would admit nobody besides the owner.
	MinInviteCap = 2
)

var codeEncoding = base64.RawURLEncoding.Strict()

// InviteCode is an invite's secret. Only its hash is stored: a leaked
// database does not let anyone in.
type InviteCode struct{ raw [InviteCodeBytes]byte }

// NewInviteCode draws a code from random (crypto/rand.Reader in production).
func NewInviteCode(random io.Reader) (InviteCode, error) {
	var c InviteCode
	if random == nil {
		random = rand.Reader
	}
	if _, err := io.ReadFull(random, c.raw[:]); err != nil {
		return InviteCode{}, fmt.Errorf("draw invite code: %w", err)
	}
	return c, nil
}

// ParseInviteCode accepts exactly what String produces: 43 characters of
// base64url without padding, in canonical form. Anything else is a 422 on
// "code" (a malformed code tells nothing about which codes exist).
func ParseInviteCode(s string) (InviteCode, error) {
	var c InviteCode
	if len(s) != InviteCodeLen {
		return c, Invalid(FieldCode, "must be an invite code (43 characters of base64url)")
	}
	// The decoder skips line breaks; a code has none.
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if !('a' <= ch && ch <= 'z' || 'A' <= ch && ch <= 'Z' || '0' <= ch && ch <= '9' || ch == '-' || ch == '_') {
			return c, Invalid(FieldCode, "must be an invite code (43 characters of base64url)")
		}
	}
	n, err := codeEncoding.Decode(c.raw[:], []byte(s))
	if err != nil || n != InviteCodeBytes {
		return InviteCode{}, Invalid(FieldCode, "must be an invite code (43 characters of base64url)")
	}
	return c, nil
}

// String is the code as the user gets it.
func (c InviteCode) String() string { return codeEncoding.EncodeToString(c.raw[:]) }

// Hash is what storage keeps and looks codes up by.
func (c InviteCode) Hash() [sha256.Size]byte { return sha256.Sum256(c.raw[:]) }

// InviteSpec is the raw input of NewInvite; nil members are absent.
type InviteSpec struct {
	ExpiresAt       *time.Time
	MaxParticipants *int
}

// Invite admits people into a group by its code while it is neither
// revoked nor expired, up to its participant cap.
type Invite struct {
	id              int64
	groupID         int64
	codeHash        [sha256.Size]byte
	expiresAt       time.Time // zero: never
	maxParticipants int       // 0: the group's limit
	revokedAt       time.Time // zero: not revoked
	createdAt       time.Time
}

// NewInvite validates spec and makes an invite of group with a new code,
// which the caller shows once. Rules: expiresAt after now and at most
// MaxInviteLifetime ahead; maxParticipants MinInviteCap..MaxGroupParticipants.
func NewInvite(groupID int64, spec InviteSpec, random io.Reader, now time.Time) (Invite, InviteCode, error) {
	now = stamp(now)
	var errs fieldErrors
	inv := Invite{groupID: groupID, createdAt: now}
	if e := spec.ExpiresAt; e != nil {
		switch {
		case !e.After(now):
			errs.add(FieldExpiresAt, "must be in the future")
		case e.Sub(now) > MaxInviteLifetime:
			errs.add(FieldExpiresAt, "must be at most 366 days ahead (leave it out for an invite that does not expire)")
		default:
			inv.expiresAt = stamp(*e)
		}
	}
	if m := spec.MaxParticipants; m != nil {
		if *m < MinInviteCap || *m > MaxGroupParticipants {
			errs.add(FieldMaxParticipants, fmt.Sprintf("must be between %d and %d", MinInviteCap, MaxGroupParticipants))
		} else {
			inv.maxParticipants = *m
		}
	}
	if err := errs.err(); err != nil {
		return Invite{}, InviteCode{}, err
	}
	if groupID <= 0 {
		return Invite{}, InviteCode{}, fmt.Errorf("group id must be positive, got %d", groupID)
	}
	code, err := NewInviteCode(random)
	if err != nil {
		return Invite{}, InviteCode{}, err
	}
	inv.codeHash = code.Hash()
	return inv, code, nil
}

// UnmarshalInviteFromDatabase rebuilds a stored invite; zero times and a
// zero cap are absent.
func UnmarshalInviteFromDatabase(id, groupID int64, codeHash []byte, expiresAt time.Time, maxParticipants int,
	revokedAt, createdAt time.Time,
) (Invite, error) {
	if id <= 0 || groupID <= 0 || len(codeHash) != sha256.Size || maxParticipants < 0 || createdAt.IsZero() {
		return Invite{}, fmt.Errorf("stored invite %d of group %d is invalid", id, groupID)
	}
	inv := Invite{id: id, groupID: groupID, maxParticipants: maxParticipants, createdAt: stamp(createdAt)}
	copy(inv.codeHash[:], codeHash)
	if !expiresAt.IsZero() {
		inv.expiresAt = stamp(expiresAt)
	}
	if !revokedAt.IsZero() {
		inv.revokedAt = stamp(revokedAt)
	}
	return inv, nil
}

// ID is 0 until storage assigns one.
func (i Invite) ID() int64 { return i.id }

// WithID is the invite as stored under id.
func (i Invite) WithID(id int64) Invite { i.id = id; return i }

// GroupID is the group the code admits into.
func (i Invite) GroupID() int64 { return i.groupID }

// CodeHash is the SHA-256 of the code.
func (i Invite) CodeHash() [sha256.Size]byte { return i.codeHash }

// ExpiresAt is when the code stops admitting; zero: never.
func (i Invite) ExpiresAt() time.Time { return i.expiresAt }

// MaxParticipants is the cap; 0: the group's limit only.
func (i Invite) MaxParticipants() int { return i.maxParticipants }

// RevokedAt is when it was revoked; zero: it was not.
func (i Invite) RevokedAt() time.Time { return i.revokedAt }

// CreatedAt is when it was made (UTC).
func (i Invite) CreatedAt() time.Time { return i.createdAt }

// Usable reports whether the code admits anyone at now: not revoked and not
// expired (the cap and the group's joining are CheckJoin's).
func (i Invite) Usable(now time.Time) bool {
	return i.revokedAt.IsZero() && (i.expiresAt.IsZero() || now.Before(i.expiresAt))
}

// Revoke stops the code for good; revoking a revoked invite changes nothing
// (false).
func (i *Invite) Revoke(now time.Time) bool {
	if !i.revokedAt.IsZero() {
		return false
	}
	i.revokedAt = stamp(now)
	return true
}
