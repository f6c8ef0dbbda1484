package auth

import (
	"context"
	"crypto/rsa"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const (
	// DefaultLeeway is the clock skew tolerated on exp, nbf and iat.
	DefaultLeeway = 30 * time.Second
	// DefaultCacheSize bounds the verified-token cache; at roughly 1 KiB per
	// entry it costs about 10 MiB when full.
	DefaultCacheSize = 10_000
	// DefaultCacheTTL bounds how long a verified token is served from the
	// cache (never beyond its exp).
	DefaultCacheTTL = 60 * time.Second

	// maxTokenLen rejects oversized input before any base64 or JSON work;
	// our tokens are well under 1 KiB.
	maxTokenLen = 8 << 10
)

// Verifier checks an access token and returns its principal. Errors are
// *UnauthorizedError for bad tokens and *UnavailableError when the keys
// needed to check them cannot be obtained.
type Verifier interface {
	Verify(ctx context.Context, token string) (Principal, error)
}

// VerifierConfig is shared by LocalVerifier and RemoteVerifier.
type VerifierConfig struct {
	Issuer   string        // required iss
	Audience string        // required member of aud
	Leeway   time.Duration // zero means DefaultLeeway
	// CacheSize is the number of verified tokens kept; zero means
	// DefaultCacheSize, negative disables the cache.
	CacheSize int
	// CacheTTL caps how long a cached verification is reused; zero means
	// DefaultCacheTTL. Entries never outlive the token's exp.
	CacheTTL time.Duration
	Now      func() time.Time
}

func (c *VerifierConfig) normalize() error {
	if c.Issuer == "" || c.Audience == "" {
		return errors.New("auth: verifier needs an issuer and an audience")
	}
	if c.Leeway == 0 {
		c.Leeway = DefaultLeeway
	}
	if c.Leeway < 0 {
		return fmt.Errorf("auth: negative leeway %s", c.Leeway)
	}
	if c.CacheSize == 0 {
		c.CacheSize = DefaultCacheSize
	}
	if c.CacheTTL == 0 {
		c.CacheTTL = DefaultCacheTTL
	}
	if c.CacheTTL < 0 {
		return fmt.Errorf("auth: negative cache TTL %s", c.CacheTTL)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return nil
}

// verifier is the algorithm shared by both verifiers; they differ only in
// where keys come from.
type verifier struct {
	parser   *jwt.Parser
	now      func() time.Time
	cacheTTL time.Duration
	cache    *tokenCache // nil when disabled
	// lookup finds the key for a kid on the slow path and may do I/O.
	lookup func(ctx context.Context, kid string) (*rsa.PublicKey, error)
	// current is the key now accepted for kid, without I/O. A cache hit is
	// honoured only while it still returns the very key that verified the
	// token, so a key dropped from the JWKS takes its tokens with it.
	current func(kid string) *rsa.PublicKey
}

func newVerifier(cfg VerifierConfig) *verifier {
	v := &verifier{
		parser: jwt.NewParser(
			jwt.WithValidMethods([]string{jwt.SigningMethodRS256.Alg()}),
			jwt.WithIssuer(cfg.Issuer),
			jwt.WithAudience(cfg.Audience),
			jwt.WithLeeway(cfg.Leeway),
			jwt.WithIssuedAt(),
			jwt.WithExpirationRequired(),
			jwt.WithTimeFunc(cfg.Now),
		),
		now:      cfg.Now,
		cacheTTL: cfg.CacheTTL,
	}
	if cfg.CacheSize > 0 {
		v.cache = newTokenCache(cfg.CacheSize)
	}
	return v
}

func (v *verifier) verify(ctx context.Context, token string) (Principal, error) {
	if token == "" || len(token) > maxTokenLen {
		return Principal{}, unauthorized("malformed token", jwt.ErrTokenMalformed)
	}
	now := v.now().UnixNano()
	if v.cache != nil {
		if e, ok := v.cache.get(token); ok && now < e.expires && v.current(e.kid) == e.key {
			return e.principal, nil
		}
	}

	var (
		claims tokenClaims
		kid    string
		key    *rsa.PublicKey
	)
	_, err := v.parser.ParseWithClaims(token, &claims, func(t *jwt.Token) (any, error) {
		// The parser already limits alg to RS256; checking the resolved
		// method again keeps that guarantee local to this function.
		if t.Method != jwt.SigningMethodRS256 {
			return nil, fmt.Errorf("auth: unexpected signing method %v", t.Header["alg"])
		}
		kid, _ = t.Header["kid"].(string)
		if kid == "" {
			return nil, ErrUnknownKey
		}
		k, err := v.lookup(ctx, kid)
		if err != nil {
			return nil, err
		}
		key = k
		return k, nil
	})
	if err != nil {
		return Principal{}, classify(err)
	}
	p := Principal{UserID: claims.userID, Role: claims.Role, TimeZone: claims.TimeZone}
	if v.cache != nil {
		// Within the leeway after exp a token is accepted but not cached.
		if expires := min(claims.ExpiresAt.UnixNano(), now+int64(v.cacheTTL)); expires > now {
			v.cache.put(token, cacheEntry{principal: p, kid: kid, key: key, expires: expires}, now)
		}
	}
	return p, nil
}

// classify maps a parse failure to the error the caller sees. Details are
// fixed strings: they reach clients, so they never echo token content.
func classify(err error) error {
	var unavailable *UnavailableError
	switch {
	case errors.As(err, &unavailable):
		return unavailable
	case errors.Is(err, ErrUnknownKey):
		return unauthorized("unknown signing key", err)
	case errors.Is(err, jwt.ErrTokenMalformed):
		return unauthorized("malformed token", err)
	case errors.Is(err, jwt.ErrTokenExpired):
		return unauthorized("token expired", err)
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return unauthorized("token not valid yet", err)
	case errors.Is(err, jwt.ErrTokenInvalidIssuer), errors.Is(err, jwt.ErrTokenInvalidAudience):
		return unauthorized("token not issued for this service", err)
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return unauthorized("invalid token signature", err)
	default:
		return unauthorized("invalid token", err)
	}
}

var (
	errBadSubject = errors.New("auth: sub is not a positive decimal user id")
	errBadRole    = errors.New("auth: role is not user or admin")
	errNoIssuedAt = errors.New("auth: iat is missing")
)

// tokenClaims is the JWT payload. userID is derived during validation so a
// token whose sub does not parse can never yield a principal.
type tokenClaims struct {
	jwt.RegisteredClaims
	Role     Role   `json:"role"`
	TimeZone string `json:"tz,omitempty"`
	userID   int64
}

// Validate is called by the jwt parser after the registered claims passed.
func (c *tokenClaims) Validate() error {
	id, err := strconv.ParseInt(c.Subject, 10, 64)
	// Requiring the canonical form rejects "+1" or "007", which a signer
	// never produces, so two spellings never name the same user.
	if err != nil || id <= 0 || strconv.FormatInt(id, 10) != c.Subject {
		return errBadSubject
	}
	if !c.Role.Valid() {
		return errBadRole
	}
	if c.IssuedAt == nil {
		return errNoIssuedAt
	}
	c.userID = id
	return nil
}

type cacheEntry struct {
	principal Principal
	kid       string
	key       *rsa.PublicKey
	expires   int64 // unix nanoseconds
}

// tokenCache maps token strings to their verification. Lookups take a read
// lock only; writes happen once per distinct token per TTL.
type tokenCache struct {
	mu      sync.RWMutex
	entries map[string]cacheEntry
	max     int
}

func newTokenCache(size int) *tokenCache {
	return &tokenCache{entries: make(map[string]cacheEntry, min(size, 1024)), max: size}
}

func (c *tokenCache) get(token string) (cacheEntry, bool) {
	c.mu.RLock()
	e, ok := c.entries[token]
	c.mu.RUnlock()
	return e, ok
}

func (c *tokenCache) put(token string, e cacheEntry, now int64) {
	// The caller's string may alias a reused request buffer (Fiber's
	// c.Get is zero-copy), so the key must own its bytes.
	token = strings.Clone(token)
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[token]; !ok && len(c.entries) >= c.max {
		c.evict(now)
	}
	c.entries[token] = e
}

// evict drops expired entries and, if that is not enough, an arbitrary
// eighth of the rest (map order is randomised). Amortised over the puts that
// refill that eighth, the cost per put stays constant without LRU
// bookkeeping on the read path.
func (c *tokenCache) evict(now int64) {
	for k, e := range c.entries {
		if now >= e.expires {
			delete(c.entries, k)
		}
	}
	target := c.max - max(c.max/8, 1)
	for k := range c.entries {
		if len(c.entries) <= target {
			break
		}
		delete(c.entries, k)
	}
}

func (c *tokenCache) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.entries)
}

// LocalVerifier verifies tokens against a KeySet held in memory: the account
// service checking its own tokens.
type LocalVerifier struct {
	v *verifier
}

// NewLocalVerifier returns a verifier accepting every key of ks.
func NewLocalVerifier(ks *KeySet, cfg VerifierConfig) (*LocalVerifier, error) {
	if ks == nil {
		return nil, errors.New("auth: local verifier needs a key set")
	}
	if err := cfg.normalize(); err != nil {
		return nil, err
	}
	v := newVerifier(cfg)
	v.current = func(kid string) *rsa.PublicKey { return ks.public[kid] }
	v.lookup = func(_ context.Context, kid string) (*rsa.PublicKey, error) {
		if k, ok := ks.public[kid]; ok {
			return k, nil
		}
		return nil, ErrUnknownKey
	}
	return &LocalVerifier{v: v}, nil
}

// Verify implements Verifier.
func (l *LocalVerifier) Verify(ctx context.Context, token string) (Principal, error) {
	return l.v.verify(ctx, token)
}
