package domain

import (
	"errors"
	"strconv"
	"time"
)

// User is an account. Values come from the constructors above, or from storage
// (already validated when written).
type User struct {
	ID           int64
	Email        string // normalised (see Email)
	PasswordHash string // encoded by the password hasher; never leaves the service
	DisplayName  string
	Role         Role
	Status       Status
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// NewUser is an active account that has not been stored yet (ID 0).
func NewUser(email Email, name DisplayName, passwordHash string, role Role) (User, error) {
	if email.IsZero() || name.String() == "" || passwordHash == "" || !role.Valid() {
		return User{}, errors.New("domain: incomplete new user")
	}
	return User{
		Email:        email.String(),
		PasswordHash: passwordHash,
		DisplayName:  name.String(),
		Role:         role,
		Status:       StatusActive,
	}, nil
}

// Active reports whether the account may sign in and use its tokens.
func (u User) Active() bool { return u.Status == StatusActive }

// IsAdmin reports whether the account has the admin role.
func (u User) IsAdmin() bool { return u.Role == RoleAdmin }

// CanAccess reports whether u may read the account with id: its own, or any
// for an admin.
func (u User) CanAccess(id int64) bool { return u.IsAdmin() || u.ID == id }

// Rename changes the display name.
func (u *User) Rename(name DisplayName) error {
	if u.Status == StatusDeleted {
		return ErrUserDeleted
	}
	u.DisplayName = name.String()
	return nil
}

// ChangePasswordHash stores a new password's hash.
func (u *User) ChangePasswordHash(hash string) error {
	if u.Status == StatusDeleted {
		return ErrUserDeleted
	}
	if hash == "" {
		return errors.New("domain: empty password hash")
	}
	u.PasswordHash = hash
	return nil
}

// DeletedPasswordHash replaces the hash of a deleted account; it is not in any
// hasher's format, so no password ever matches it.
const DeletedPasswordHash = "!deleted"

// DeletedDisplayName replaces the display name of a deleted account.
const DeletedDisplayName = "Deleted account"

// Delete marks the account deleted and erases its personal data: the email is
// replaced by a unique placeholder under the reserved .invalid domain (so the
// address is free for a new account), the display name by a fixed text, and
// the password hash by one that matches nothing. The returned events announce it.
func (u *User) Delete() ([]Event, error) {
	if u.Status == StatusDeleted {
		return nil, ErrUserDeleted
	}
	if u.ID <= 0 {
		return nil, errors.New("domain: delete of an unsaved user")
	}
	u.Status = StatusDeleted
	u.Email = "deleted-" + strconv.FormatInt(u.ID, 10) + "@deleted.invalid"
	u.DisplayName = DeletedDisplayName
	u.PasswordHash = DeletedPasswordHash
	return []Event{UserDeleted{UserID: u.ID}}, nil
}

// SetStatus moves the account to active or suspended (an administrator's
// decision). Setting the current status changes nothing and returns no
// events; suspending returns UserSuspended.
func (u *User) SetStatus(s Status) ([]Event, error) {
	if s != StatusActive && s != StatusSuspended {
		return nil, Invalid("status", "must be active or suspended")
	}
	if u.Status == StatusDeleted {
		return nil, ErrUserDeleted
	}
	if u.Status == s {
		return nil, nil
	}
	u.Status = s
	if s == StatusSuspended {
		return []Event{UserSuspended{UserID: u.ID}}, nil
	}
	return nil, nil
}

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
type UserValidated struct{ ChallengeID, UserID int64 }

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
