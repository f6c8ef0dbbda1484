package app

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"github.com/progressive-overload/po/services/account/internal/domain"
)

// DefaultRefreshTokenTTL matches REFRESH_TOKEN_TTL's default.
const DefaultRefreshTokenTTL = 720 * time.Hour

// DefaultRefreshFamilyMaxAge matches REFRESH_FAMILY_MAX_AGE's default.
const DefaultRefreshFamilyMaxAge = 2160 * time.Hour

// Deps are the adapters the use cases run on.
type Deps struct {
	Users         UserRepository
	RefreshTokens RefreshTokenRepository
	Hasher        PasswordHasher
	Throttle      LoginThrottle
	Tokens        AccessTokenIssuer
}

// Options tune the use cases; zero values take defaults.
type Options struct {
	RefreshTokenTTL time.Duration
	// RefreshFamilyMaxAge is the absolute lifetime of a sign-in: refreshing
	// never extends a family beyond it, however often it is rotated. A value
	// below RefreshTokenTTL caps every refresh token's lifetime to it.
	RefreshFamilyMaxAge time.Duration
	Logger              *slog.Logger
	Now                 func() time.Time
}

// Application runs the account use cases. It is safe for concurrent use.
type Application struct {
	users      UserRepository
	refresh    RefreshTokenRepository
	hasher     PasswordHasher
	throttle   LoginThrottle
	tokens     AccessTokenIssuer
	refreshTTL time.Duration
	familyAge  time.Duration // RefreshFamilyMaxAge
	log        *slog.Logger
	now        func() time.Time
	// dummyHash is verified against when the email is unknown, so an unknown
	// email costs the same hashing work as a wrong password.
	dummyHash string
}

// New returns the service. It hashes one random password (the dummy hash),
// so it takes as long as one sign-up.
func New(ctx context.Context, d Deps, o Options) (*Application, error) {
	if d.Users == nil || d.RefreshTokens == nil || d.Hasher == nil || d.Throttle == nil || d.Tokens == nil {
		return nil, errors.New("app: every dependency is required")
	}
	if o.RefreshTokenTTL <= 0 {
		o.RefreshTokenTTL = DefaultRefreshTokenTTL
	}
	if o.RefreshFamilyMaxAge <= 0 {
		o.RefreshFamilyMaxAge = DefaultRefreshFamilyMaxAge
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	dummy, err := d.Hasher.Hash(ctx, rand.Text())
	if err != nil {
		return nil, err
	}
	return &Application{
		users: d.Users, refresh: d.RefreshTokens, hasher: d.Hasher, throttle: d.Throttle, tokens: d.Tokens,
		refreshTTL: o.RefreshTokenTTL, familyAge: o.RefreshFamilyMaxAge, log: o.Logger, now: o.Now, dummyHash: dummy,
	}, nil
}

// clock is the current time as stored: UTC, microseconds.
func (s *Application) clock() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// Tokens is what a sign-in or a refresh returns.
type Tokens struct {
	AccessToken  string
	ExpiresIn    time.Duration
	RefreshToken string
}

// refreshTokenBytes is the entropy of a refresh token.
const refreshTokenBytes = 32

// newRefreshSecret returns a new refresh token and the hash it is stored as.
func newRefreshSecret() (token, hash string) {
	b := make([]byte, refreshTokenBytes)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	token = base64.RawURLEncoding.EncodeToString(b)
	return token, hashRefreshToken(token)
}

// hashRefreshToken is the stored form of a token: hex SHA-256. The token has
// 256 bits of entropy, so a fast hash is enough.
func hashRefreshToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// wellFormedRefreshToken reports whether token could be one we issued;
// others are refused without a database round trip.
func wellFormedRefreshToken(token string) bool {
	if len(token) != base64.RawURLEncoding.EncodedLen(refreshTokenBytes) {
		return false
	}
	_, err := base64.RawURLEncoding.Strict().DecodeString(token)
	return err == nil
}

// issue signs an access token for u and creates a refresh token in family,
// which started at started, through create. The refresh token expires after
// the refresh TTL, but never after the family's end (started plus the family
// max age).
func (s *Application) issue(ctx context.Context, u domain.User, family string, started time.Time, create func(context.Context, domain.RefreshToken) error) (Tokens, error) {
	access, ttl, err := s.tokens.Issue(u.ID(), u.Role(), u.TimeZone())
	if err != nil {
		return Tokens{}, err
	}
	token, hash := newRefreshSecret()
	rt := domain.RefreshToken{
		UserID:          u.ID(),
		FamilyID:        family,
		Hash:            hash,
		FamilyStartedAt: started,
	}
	rt.ExpiresAt = s.clock().Add(s.refreshTTL)
	if end := rt.FamilyEnd(s.familyAge); end.Before(rt.ExpiresAt) {
		rt.ExpiresAt = end
	}
	if err := create(ctx, rt); err != nil {
		return Tokens{}, err
	}
	return Tokens{AccessToken: access, ExpiresIn: ttl, RefreshToken: token}, nil
}

func newFamilyID() (string, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return "", err
	}
	return id.String(), nil
}
