package app

import (
	"context"

	"github.com/progressive-overload/po/services/account/internal/domain"

	"github.com/progressive-overload/po/services/kit/paging"
)

// UpdateMeInput changes the caller's own account; nil members stay as they are.
type UpdateMeInput struct {
	DisplayName     *string
	TimeZone        *string
	Password        *string
	CurrentPassword *string
	ClientIP        string
}

// UpdateMe renames the caller and/or changes their time zone (either
// announced as user.updated in the same transaction, through the outbox)
// and/or changes their password. A password
// change needs the current password (wrong ones count towards the sign-in
// lockout) and revokes every refresh token of the account.
func (s *Application) UpdateMe(ctx context.Context, actor domain.User, in UpdateMeInput) (domain.User, error) {
	var v domain.Validator
	var name domain.DisplayName
	if in.DisplayName != nil {
		n, err := domain.NewDisplayName(*in.DisplayName)
		v.Check("displayName", err)
		name = n
	}
	var tz domain.TimeZone
	if in.TimeZone != nil {
		z, err := domain.NewTimeZone(*in.TimeZone)
		v.Check("timeZone", err)
		tz = z
	}
	if in.Password != nil {
		v.Check("password", domain.ValidatePassword(*in.Password))
		if in.CurrentPassword == nil || *in.CurrentPassword == "" {
			v.Add("currentPassword", "is required to change the password")
		}
	}
	if err := v.Err(); err != nil {
		return domain.User{}, err
	}

	var newHash string
	if in.Password != nil {
		ip := normaliseIP(in.ClientIP)
		if wait := s.throttle.Blocked(ctx, actor.Email(), ip); wait > 0 {
			return domain.User{}, &RateLimitedError{RetryAfter: wait}
		}
		ok, err := s.hasher.Verify(ctx, *in.CurrentPassword, actor.PasswordHash())
		if err != nil && ctx.Err() != nil {
			return domain.User{}, err
		}
		if !ok {
			s.throttle.Failed(ctx, actor.Email(), ip)
			return domain.User{}, domain.Invalid("currentPassword", "is not the account's password")
		}
		if newHash, err = s.hasher.Hash(ctx, *in.Password); err != nil {
			return domain.User{}, err
		}
	}
	if in.DisplayName == nil && in.Password == nil && in.TimeZone == nil {
		return actor, nil
	}
	return s.users.Update(ctx, actor.ID(), func(ctx context.Context, u *domain.User, tx UserTx) error {
		// A change of the name, the zone or both is one user.updated with
		// the account as it ends up: the last event is the whole profile.
		var updated []domain.Event
		if in.DisplayName != nil {
			evts, err := u.Rename(name)
			if err != nil {
				return err
			}
			updated = append(updated, evts...)
		}
		if in.TimeZone != nil {
			evts, err := u.SetTimeZone(tz)
			if err != nil {
				return err
			}
			updated = append(updated, evts...)
		}
		if len(updated) > 0 {
			if err := tx.Emit(ctx, updated[len(updated)-1]); err != nil {
				return err
			}
		}
		if newHash != "" {
			// The current password was checked against the hash read when the
			// request was authenticated; a change since then wins.
			if u.PasswordHash() != actor.PasswordHash() {
				return conflict("the password was changed meanwhile; try again")
			}
			if err := u.ChangePasswordHash(newHash); err != nil {
				return err
			}
			return tx.RevokeRefreshTokens(ctx, u.ID(), s.clock())
		}
		return nil
	})
}

// DeleteMe deletes the caller's account (see domain.User.Delete), revokes its
// refresh tokens and emits user.deleted, in one transaction.
func (s *Application) DeleteMe(ctx context.Context, actor domain.User) error {
	_, err := s.users.Update(ctx, actor.ID(), func(ctx context.Context, u *domain.User, tx UserTx) error {
		events, err := u.Delete()
		if err != nil {
			return err
		}
		if err := tx.RevokeRefreshTokens(ctx, u.ID(), s.clock()); err != nil {
			return err
		}
		return tx.Emit(ctx, events...)
	})
	return err
}

// SetStatus suspends or reactivates an account (administrators only).
// Suspending revokes the account's refresh tokens and emits user.suspended in
// the same transaction.
func (s *Application) SetStatus(ctx context.Context, actor domain.User, id int64, status string) (domain.User, error) {
	if !actor.IsAdmin() {
		return domain.User{}, forbidden("only administrators may change an account's status")
	}
	if id == actor.ID() {
		return domain.User{}, conflict("administrators cannot change their own status")
	}
	return s.users.Update(ctx, id, func(ctx context.Context, u *domain.User, tx UserTx) error {
		events, err := u.SetStatus(domain.Status(status))
		if err != nil {
			return err
		}
		if len(events) == 0 {
			return nil
		}
		if u.Status() == domain.StatusSuspended {
			if err := tx.RevokeRefreshTokens(ctx, u.ID(), s.clock()); err != nil {
				return err
			}
		}
		return tx.Emit(ctx, events...)
	})
}

// GetUser returns an account to itself or to an administrator. Anyone else
// is refused before the lookup, so they learn nothing about which ids exist.
func (s *Application) GetUser(ctx context.Context, actor domain.User, id int64) (domain.User, error) {
	if !actor.CanAccess(id) {
		return domain.User{}, forbidden("you may only read your own account")
	}
	if id == actor.ID() {
		return actor, nil
	}
	return s.users.ByID(ctx, id)
}

// Page is one page of accounts; NextCursor is empty on the last page.
type Page struct {
	Items      []domain.User
	NextCursor string
}

// ListUsers pages through every account by id (administrators only). limit
// nil means paging.DefaultLimit; cursor is the NextCursor of the previous page.
func (s *Application) ListUsers(ctx context.Context, actor domain.User, size *int, cursor string) (Page, error) {
	if !actor.IsAdmin() {
		return Page{}, forbidden("only administrators may list accounts")
	}
	var v domain.Validator
	limit, ok := paging.Limit(size)
	if !ok {
		v.Add("limit", paging.LimitMessage)
	}
	after, err := DecodeCursor(cursor)
	v.Check("cursor", err)
	if err := v.Err(); err != nil {
		return Page{}, err
	}
	users, err := s.users.List(ctx, after, limit+1)
	if err != nil {
		return Page{}, err
	}
	page := Page{Items: users}
	if len(users) > limit {
		page.Items = users[:limit]
		page.NextCursor = EncodeCursor(page.Items[limit-1].ID())
	}
	return page, nil
}

// EncodeCursor makes the opaque cursor that continues after id (kit/paging,
// kind "": the service has one list).
func EncodeCursor(id int64) string {
	return paging.EncodeCursor("", id)
}

// DecodeCursor reverses EncodeCursor; "" is the start (0).
func DecodeCursor(cursor string) (int64, error) {
	if cursor == "" {
		return 0, nil
	}
	k, ok := paging.DecodeCursor(cursor, "", 1)
	if !ok {
		return 0, domain.Invalid("cursor", paging.CursorMessage)
	}
	return k[0], nil
}
