package domain

import (
	"errors"
	"fmt"
	"strconv"
	"time"
)

// User is an account. Values come from NewUser, or from storage through
// UnmarshalUserFromDatabase; its methods are the only way to change one.
type User struct {
	id           int64
	email        string // normalised (see Email)
	passwordHash string // encoded by the password hasher; never leaves the service
	displayName  string
	role         Role
	status       Status
	timeZone     string // an IANA name (see TimeZone)
	createdAt    time.Time
	updatedAt    time.Time
}

// ID is the stored id; 0 before the account is stored.
func (u User) ID() int64 { return u.id }

// Email is the normalised address (see Email).
func (u User) Email() string { return u.email }

// PasswordHash is encoded by the password hasher; it never leaves the service.
func (u User) PasswordHash() string { return u.passwordHash }

func (u User) DisplayName() string { return u.displayName }
func (u User) Role() Role          { return u.role }
func (u User) Status() Status      { return u.status }

// TimeZone is the IANA zone whose days are the user's sessions and "today".
func (u User) TimeZone() string     { return u.timeZone }
func (u User) CreatedAt() time.Time { return u.createdAt }
func (u User) UpdatedAt() time.Time { return u.updatedAt }

// NewUser is an active account that has not been stored yet (ID 0), in
// DefaultTimeZone until SetTimeZone says otherwise.
func NewUser(email Email, name DisplayName, passwordHash string, role Role) (User, error) {
	if email.IsZero() || name.String() == "" || passwordHash == "" || !role.Valid() {
		return User{}, errors.New("domain: incomplete new user")
	}
	return User{
		email:        email.String(),
		passwordHash: passwordHash,
		displayName:  name.String(),
		role:         role,
		status:       StatusActive,
		timeZone:     DefaultTimeZone,
	}, nil
}

// SetTimeZone changes the user's zone. A stored account announces the
// change (user.updated) so that the challenge service regroups its
// sessions; an unsaved one has nobody to tell yet, and setting the current
// zone changes nothing.
func (u *User) SetTimeZone(tz TimeZone) ([]Event, error) {
	if tz.IsZero() {
		return nil, errors.New("domain: empty time zone")
	}
	if u.status == StatusDeleted {
		return nil, ErrUserDeleted
	}
	if tz.String() == u.timeZone {
		return nil, nil
	}
	u.timeZone = tz.String()
	if u.id <= 0 {
		return nil, nil
	}
	return []Event{u.updated()}, nil
}

// updated is the user.updated of the account as it is now.
func (u *User) updated() UserUpdated {
	return UserUpdated{UserID: u.id, TimeZone: u.timeZone, DisplayName: u.displayName}
}

// UnmarshalUserFromDatabase rebuilds an account from storage, where it was
// valid when written. It refuses values no constructor can have made.
func UnmarshalUserFromDatabase(id int64, email, passwordHash, displayName string, role Role, status Status, timeZone string, createdAt, updatedAt time.Time) (User, error) {
	switch {
	case id <= 0:
		return User{}, fmt.Errorf("domain: stored user with id %d", id)
	case email == "" || passwordHash == "" || displayName == "":
		return User{}, fmt.Errorf("domain: stored user %d is incomplete", id)
	case !role.Valid():
		return User{}, fmt.Errorf("domain: stored user %d has role %q", id, role)
	case status != StatusActive && status != StatusSuspended && status != StatusDeleted:
		return User{}, fmt.Errorf("domain: stored user %d has status %q", id, status)
	case timeZone == "":
		return User{}, fmt.Errorf("domain: stored user %d has no time zone", id)
	}
	// The zone is not looked up again: one the tz database of a newer build
	// stored must not make the account unreadable to an older one.
	return User{id: id, email: email, passwordHash: passwordHash, displayName: displayName,
		role: role, status: status, timeZone: timeZone, createdAt: createdAt, updatedAt: updatedAt}, nil
}

// Active reports whether the account may sign in and use its tokens.
func (u User) Active() bool { return u.status == StatusActive }

// IsAdmin reports whether the account has the admin role.
func (u User) IsAdmin() bool { return u.role == RoleAdmin }

// CanAccess reports whether u may read the account with id: its own, or any
// for an admin.
func (u User) CanAccess(id int64) bool { return u.IsAdmin() || u.id == id }

// Rename changes the display name.
//
// A stored account announces a new name (user.updated): the challenge
// service shows it on the group leaderboards. Keeping the name it has
// changes nothing.
func (u *User) Rename(name DisplayName) ([]Event, error) {
	if u.status == StatusDeleted {
		return nil, ErrUserDeleted
	}
	if name.String() == u.displayName {
		return nil, nil
	}
	u.displayName = name.String()
	if u.id <= 0 {
		return nil, nil
	}
	return []Event{u.updated()}, nil
}

// ChangePasswordHash stores a new password's hash.
func (u *User) ChangePasswordHash(hash string) error {
	if u.status == StatusDeleted {
		return ErrUserDeleted
	}
	if hash == "" {
		return errors.New("domain: empty password hash")
	}
	u.passwordHash = hash
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
	if u.status == StatusDeleted {
		return nil, ErrUserDeleted
	}
	if u.id <= 0 {
		return nil, errors.New("domain: delete of an unsaved user")
	}
	u.status = StatusDeleted
	u.email = "deleted-" + strconv.FormatInt(u.id, 10) + "@deleted.invalid"
	u.displayName = DeletedDisplayName
	u.passwordHash = DeletedPasswordHash
	return []Event{UserDeleted{UserID: u.id}}, nil
}

// SetStatus moves the account to active or suspended (an administrator's
// decision). Setting the current status changes nothing and returns no
// events; suspending returns UserSuspended.
func (u *User) SetStatus(s Status) ([]Event, error) {
	if s != StatusActive && s != StatusSuspended {
		return nil, Invalid("status", "must be active or suspended")
	}
	if u.status == StatusDeleted {
		return nil, ErrUserDeleted
	}
	if u.status == s {
		return nil, nil
	}
	u.status = s
	if s == StatusSuspended {
		return []Event{UserSuspended{UserID: u.id}}, nil
	}
	return nil, nil
}
