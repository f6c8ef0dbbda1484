package app

import (
	"context"
	"errors"
	"strings"

	"github.com/progressive-overload/po/services/account/internal/domain"
)

// SignupInput is a new account's request.
type SignupInput struct {
	Email, Password, DisplayName string
	TimeZone                     *string // nil: domain.DefaultTimeZone
}

// Signup creates an active user account.
func (s *Application) Signup(ctx context.Context, in SignupInput) (domain.User, error) {
	var v domain.Validator
	email, err := domain.NewEmail(in.Email)
	v.Check("email", err)
	v.Check("password", domain.ValidatePassword(in.Password))
	name, err := domain.NewDisplayName(in.DisplayName)
	v.Check("displayName", err)
	var tz domain.TimeZone
	if in.TimeZone != nil {
		tz, err = domain.NewTimeZone(*in.TimeZone)
		v.Check("timeZone", err)
	}
	if err := v.Err(); err != nil {
		return domain.User{}, err
	}
	hash, err := s.hasher.Hash(ctx, in.Password)
	if err != nil {
		return domain.User{}, err
	}
	u, err := domain.NewUser(email, name, hash, domain.RoleUser)
	if err != nil {
		return domain.User{}, err
	}
	if !tz.IsZero() {
		// Unsaved: no event; the first user.validated carries the zone.
		if _, err := u.SetTimeZone(tz); err != nil {
			return domain.User{}, err
		}
	}
	return s.users.Create(ctx, u)
}

// LoginInput is a sign-in attempt. ClientIP is the caller's address, for
// throttling.
type LoginInput struct {
	Email, Password, ClientIP string
}

// Login checks the credentials and starts a session (a new refresh-token
// family). Throttled attempts are refused before any password is checked; an
// unknown email costs the same hashing work as a wrong password.
func (s *Application) Login(ctx context.Context, in LoginInput) (Tokens, error) {
	var v domain.Validator
	email, err := domain.NewEmail(in.Email)
	v.Check("email", err)
	if in.Password == "" {
		v.Add("password", "is required")
	}
	if err := v.Err(); err != nil {
		return Tokens{}, err
	}
	key, ip := email.String(), normaliseIP(in.ClientIP)
	if wait := s.throttle.Blocked(ctx, key, ip); wait > 0 {
		return Tokens{}, &RateLimitedError{RetryAfter: wait}
	}

	u, err := s.users.ByEmail(ctx, key)
	switch {
	case errors.Is(err, domain.ErrNotFound):
		_, _ = s.hasher.Verify(ctx, in.Password, s.dummyHash)
		s.throttle.Failed(ctx, key, ip)
		return Tokens{}, ErrInvalidCredentials
	case err != nil:
		return Tokens{}, err
	}
	ok, err := s.hasher.Verify(ctx, in.Password, u.PasswordHash())
	if err != nil && ctx.Err() != nil {
		return Tokens{}, err
	}
	if err != nil && u.PasswordHash() != domain.DeletedPasswordHash {
		s.log.Error("stored password hash is unreadable", "user_id", u.ID(), "error", err)
	}
	if !ok {
		if err != nil { // nothing was hashed: spend the same time as a real check
			_, _ = s.hasher.Verify(ctx, in.Password, s.dummyHash)
		}
		s.throttle.Failed(ctx, key, ip)
		return Tokens{}, ErrInvalidCredentials
	}
	if !u.Active() {
		// The caller proved the password, so saying why is no oracle.
		if u.Status() == domain.StatusSuspended {
			return Tokens{}, ErrAccountSuspended
		}
		return Tokens{}, ErrInvalidCredentials
	}
	s.throttle.Succeeded(ctx, key)
	if s.hasher.NeedsRehash(u.PasswordHash()) {
		s.rehash(ctx, u, in.Password)
	}
	family, err := newFamilyID()
	if err != nil {
		return Tokens{}, err
	}
	return s.issue(ctx, u, family, s.clock(), s.refresh.Create)
}

// rehash upgrades a stored hash to the current parameters after a successful
// sign-in; a failure only means it is tried again next time.
func (s *Application) rehash(ctx context.Context, u domain.User, password string) {
	hash, err := s.hasher.Hash(ctx, password)
	if err == nil {
		_, err = s.users.Update(ctx, u.ID(), func(_ context.Context, cur *domain.User, _ UserTx) error {
			if cur.PasswordHash() != u.PasswordHash() { // changed meanwhile: keep the newer one
				return nil
			}
			return cur.ChangePasswordHash(hash)
		})
	}
	if err != nil {
		s.log.Warn("could not upgrade password hash", "user_id", u.ID(), "error", err)
	}
}

// Refresh spends a refresh token and issues a new pair in the same family, in
// one transaction. A spent token presented again revokes its whole family:
// either the client or a thief is replaying it, and neither should go on.
// The family keeps its start (the sign-in): once it is RefreshFamilyMaxAge
// old its token is refused like an expired one, and no token is issued
// expiring later than that, so refreshing cannot keep a sign-in alive forever.
func (s *Application) Refresh(ctx context.Context, token string) (Tokens, error) {
	if !wellFormedRefreshToken(token) {
		return Tokens{}, ErrInvalidRefreshToken
	}
	var (
		out      Tokens
		rejected error
	)
	err := s.refresh.InTx(ctx, func(ctx context.Context, tx RefreshTokenTx) error {
		out, rejected = Tokens{}, nil // the transaction may run again
		now := s.clock()
		cur, err := tx.LockByHash(ctx, hashRefreshToken(token))
		if errors.Is(err, domain.ErrNotFound) {
			rejected = ErrInvalidRefreshToken
			return nil
		}
		if err != nil {
			return err
		}
		if cur.Spent() {
			if cur.RevokedAt == nil {
				s.log.Warn("spent refresh token presented again; revoking its family",
					"user_id", cur.UserID, "family", cur.FamilyID)
			}
			rejected = ErrRefreshTokenReused
			return tx.RevokeFamily(ctx, cur.FamilyID, now)
		}
		// A family past its maximum age is answered like an expired token;
		// nothing is revoked, as nobody misused anything. Tokens are issued
		// expiring no later than their family, so this catches tokens issued
		// before the cap existed or before it was lowered.
		if cur.Expired(now) || cur.FamilyExpired(now, s.familyAge) {
			rejected = ErrInvalidRefreshToken
			return nil
		}
		u, err := tx.User(ctx, cur.UserID)
		if err != nil && !errors.Is(err, domain.ErrNotFound) {
			return err
		}
		if err != nil || !u.Active() {
			rejected = ErrInvalidRefreshToken
			return tx.RevokeFamily(ctx, cur.FamilyID, now)
		}
		if err := tx.MarkUsed(ctx, cur.ID, now); err != nil {
			return err
		}
		out, err = s.issue(ctx, u, cur.FamilyID, cur.FamilyStartedAt, tx.Create)
		return err
	})
	if err != nil {
		return Tokens{}, err
	}
	if rejected != nil {
		return Tokens{}, rejected
	}
	return out, nil
}

// Logout revokes the token's whole family (its sign-in). Unknown and
// malformed tokens are ignored, so the answer says nothing about a token.
func (s *Application) Logout(ctx context.Context, token string) error {
	if !wellFormedRefreshToken(token) {
		return nil
	}
	return s.refresh.RevokeFamilyByHash(ctx, hashRefreshToken(token), s.clock())
}

// Authenticate returns the account a verified access token names, if it still
// exists and is active; ErrUnauthenticated otherwise.
func (s *Application) Authenticate(ctx context.Context, userID int64) (domain.User, error) {
	u, err := s.users.ByID(ctx, userID)
	if errors.Is(err, domain.ErrNotFound) || (err == nil && !u.Active()) {
		return domain.User{}, ErrUnauthenticated
	}
	return u, err
}

// AdminDisplayName is the display name of the account EnsureAdmin creates.
const AdminDisplayName = "Administrator"

// EnsureAdmin creates an admin account with email and password unless an
// account with that email exists (which is left as it is). It reports
// whether it created one.
func (s *Application) EnsureAdmin(ctx context.Context, email, password string) (bool, error) {
	var v domain.Validator
	e, err := domain.NewEmail(email)
	v.Check("ADMIN_EMAIL", err)
	v.Check("ADMIN_PASSWORD", domain.ValidatePassword(password))
	if err := v.Err(); err != nil {
		return false, err
	}
	existing, err := s.users.ByEmail(ctx, e.String())
	switch {
	case err == nil:
		if !existing.IsAdmin() {
			s.log.Warn("ADMIN_EMAIL belongs to an account without the admin role; leaving it unchanged",
				"user_id", existing.ID())
		}
		return false, nil
	case !errors.Is(err, domain.ErrNotFound):
		return false, err
	}
	hash, err := s.hasher.Hash(ctx, password)
	if err != nil {
		return false, err
	}
	name, err := domain.NewDisplayName(AdminDisplayName)
	if err != nil {
		return false, err
	}
	u, err := domain.NewUser(e, name, hash, domain.RoleAdmin)
	if err != nil {
		return false, err
	}
	if _, err := s.users.Create(ctx, u); err != nil {
		if errors.Is(err, domain.ErrEmailTaken) { // another replica won the race
			return false, nil
		}
		return false, err
	}
	return true, nil
}

// normaliseIP keeps throttle keys short and printable.
func normaliseIP(ip string) string {
	ip = strings.TrimSpace(ip)
	if len(ip) > 64 {
		ip = ip[:64]
	}
	return ip
}
