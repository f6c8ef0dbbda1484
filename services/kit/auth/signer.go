package auth

import (
	"crypto/rand"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// DefaultAccessTokenTTL matches ACCESS_TOKEN_TTL's default.
const DefaultAccessTokenTTL = 15 * time.Minute

// SignerConfig configures a Signer.
type SignerConfig struct {
	Issuer   string        // iss; required
	Audience string        // aud; required
	TTL      time.Duration // exp - iat; zero means DefaultAccessTokenTTL
	Now      func() time.Time
}

// Signer issues RS256 access tokens with the KeySet's signing key.
type Signer struct {
	ks  *KeySet
	cfg SignerConfig
}

// NewSigner validates cfg and returns a Signer. It is safe for concurrent use.
func NewSigner(ks *KeySet, cfg SignerConfig) (*Signer, error) {
	if ks == nil {
		return nil, errors.New("auth: signer needs a key set")
	}
	if cfg.Issuer == "" || cfg.Audience == "" {
		return nil, errors.New("auth: signer needs an issuer and an audience")
	}
	if cfg.TTL == 0 {
		cfg.TTL = DefaultAccessTokenTTL
	}
	if cfg.TTL < time.Second {
		return nil, fmt.Errorf("auth: token TTL %s is below one second", cfg.TTL)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Signer{ks: ks, cfg: cfg}, nil
}

// Sign issues a token for c and returns it with its expiry (the exp claim,
// which has one-second precision).
func (s *Signer) Sign(c Claims) (token string, expiresAt time.Time, err error) {
	if c.UserID <= 0 {
		return "", time.Time{}, fmt.Errorf("auth: user id %d is not positive", c.UserID)
	}
	if !c.Role.Valid() {
		return "", time.Time{}, fmt.Errorf("auth: invalid role %q", c.Role)
	}
	now := s.cfg.Now()
	exp := jwt.NewNumericDate(now.Add(s.cfg.TTL))
	claims := tokenClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    s.cfg.Issuer,
			Subject:   strconv.FormatInt(c.UserID, 10),
			Audience:  jwt.ClaimStrings{s.cfg.Audience},
			ExpiresAt: exp,
			IssuedAt:  jwt.NewNumericDate(now),
			ID:        rand.Text(),
		},
		Role:     c.Role,
		TimeZone: c.TimeZone,
	}
	t := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	t.Header["kid"] = s.ks.signingID
	token, err = t.SignedString(s.ks.signing)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("auth: sign token: %w", err)
	}
	return token, exp.Time, nil
}
