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
	Logger          *slog.Logger
	Now             func() time.Time
}

// Service runs the account use cases. It is safe for concurrent use.
type Service struct {
	users      UserRepository
	refresh    RefreshTokenRepository
	hasher     PasswordHasher
	throttle   LoginThrottle
	tokens     AccessTokenIssuer
	refreshTTL time.Duration
	log        *slog.Logger
	now        func() time.Time
	// dummyHash is verified against when the email is unknown, so an unknown
	// email costs the same hashing work as a wrong password.
	dummyHash string
}

// New returns the service. It hashes one random password (the dummy hash),
// so it takes as long as one sign-up.
func New(ctx context.Context, d Deps, o Options) (*Service, error) {
	if d.Users == nil || d.RefreshTokens == nil || d.Hasher == nil || d.Throttle == nil || d.Tokens == nil {
		return nil, errors.New("app: every dependency is required")
	}
	if o.RefreshTokenTTL <= 0 {
		o.RefreshTokenTTL = DefaultRefreshTokenTTL
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
	return &Service{
		users: d.Users, refresh: d.RefreshTokens, hasher: d.Hasher, throttle: d.Throttle, tokens: d.Tokens,
		refreshTTL: o.RefreshTokenTTL, log: o.Logger, now: o.Now, dummyHash: dummy,
	}, nil
}

// clock is the current time as stored: UTC, microseconds.
func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

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

// issue signs an access token for u and creates a refresh token in family
// through create.
func (s *Service) issue(ctx context.Context, u domain.User, family string, create func(context.Context, domain.RefreshToken) error) (Tokens, error) {
	access, ttl, err := s.tokens.Issue(u.ID, u.Role)
	if err != nil {
		return Tokens{}, err
	}
	token, hash := newRefreshSecret()
	now := s.clock()
	if err := create(ctx, domain.RefreshToken{
		UserID:    u.ID,
		FamilyID:  family,
		Hash:      hash,
		ExpiresAt: now.Add(s.refreshTTL),
	}); err != nil {
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
