package auth

import (
	"context"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/golang-jwt/jwt/v5"
)

func TestSignVerifyRoundTrip(t *testing.T) {
	clk := newClock()
	ks := mustKeySet(t, key(0))
	s := mustSigner(t, ks, clk.Now)
	tok, exp, err := s.Sign(Claims{UserID: 42, Role: RoleAdmin})
	if err != nil {
		t.Fatal(err)
	}
	if want := clk.Now().Add(15 * time.Minute); !exp.Equal(want) {
		t.Fatalf("expiresAt %v, want %v", exp, want)
	}

	parsed, _, err := jwt.NewParser().ParseUnverified(tok, jwt.MapClaims{})
	if err != nil {
		t.Fatal(err)
	}
	if parsed.Header["alg"] != "RS256" || parsed.Header["kid"] != ks.SigningKeyID() || parsed.Header["typ"] != "JWT" {
		t.Fatalf("header %v", parsed.Header)
	}
	c := parsed.Claims.(jwt.MapClaims)
	if c["sub"] != "42" || c["role"] != "admin" || c["iss"] != testIssuer {
		t.Fatalf("claims %v", c)
	}
	if aud, _ := c.GetAudience(); len(aud) != 1 || aud[0] != testAudience {
		t.Fatalf("aud %v", c["aud"])
	}
	if c["iat"] != float64(clk.Now().Unix()) || c["exp"] != float64(exp.Unix()) {
		t.Fatalf("iat/exp %v %v", c["iat"], c["exp"])
	}
	if jti, _ := c["jti"].(string); len(jti) < 16 {
		t.Fatalf("jti %q", c["jti"])
	}
	tok2 := mustSign(t, s, 42, RoleAdmin)
	if tok2 == tok {
		t.Fatal("two tokens for the same claims and time are identical: jti is not unique")
	}

	v := mustLocal(t, ks, VerifierConfig{Now: clk.Now})
	for range 2 { // cold, then cached
		p, err := v.Verify(context.Background(), tok)
		if err != nil {
			t.Fatal(err)
		}
		if p != (Principal{UserID: 42, Role: RoleAdmin}) {
			t.Fatalf("principal %+v", p)
		}
	}
}

func TestSignRejectsBadClaims(t *testing.T) {
	s := mustSigner(t, mustKeySet(t, key(0)), nil)
	for _, c := range []Claims{{UserID: 0, Role: RoleUser}, {UserID: -1, Role: RoleUser}, {UserID: 1}, {UserID: 1, Role: "root"}} {
		if _, _, err := s.Sign(c); err == nil {
			t.Errorf("Sign(%+v) succeeded", c)
		}
	}
	ks := mustKeySet(t, key(0))
	for _, cfg := range []SignerConfig{{Audience: "a"}, {Issuer: "i"}, {Issuer: "i", Audience: "a", TTL: time.Millisecond}} {
		if _, err := NewSigner(ks, cfg); err == nil {
			t.Errorf("NewSigner(%+v) succeeded", cfg)
		}
	}
	if _, err := NewSigner(nil, SignerConfig{Issuer: "i", Audience: "a"}); err == nil {
		t.Error("NewSigner(nil) succeeded")
	}
}

func TestVerifierConfigValidation(t *testing.T) {
	ks := mustKeySet(t, key(0))
	for _, cfg := range []VerifierConfig{
		{Audience: "a"}, {Issuer: "i"},
		{Issuer: "i", Audience: "a", Leeway: -time.Second},
		{Issuer: "i", Audience: "a", CacheTTL: -time.Second},
	} {
		if _, err := NewLocalVerifier(ks, cfg); err == nil {
			t.Errorf("NewLocalVerifier(%+v) succeeded", cfg)
		}
	}
	if _, err := NewLocalVerifier(nil, VerifierConfig{Issuer: "i", Audience: "a"}); err == nil {
		t.Error("NewLocalVerifier(nil) succeeded")
	}
}

func TestRotation(t *testing.T) {
	clk := newClock()
	oldSet := mustKeySet(t, key(0))
	rotated := mustKeySet(t, key(1), key(0)) // new signing key, old one still published
	retired := mustKeySet(t, key(1))         // old key dropped

	oldTok := mustSign(t, mustSigner(t, oldSet, clk.Now), 7, RoleUser)
	newSigner := mustSigner(t, rotated, clk.Now)
	newTok := mustSign(t, newSigner, 8, RoleUser)

	parsed, _, _ := jwt.NewParser().ParseUnverified(newTok, jwt.MapClaims{})
	if parsed.Header["kid"] != Thumbprint(&key(1).PublicKey) {
		t.Fatalf("new token kid %v, want the new key's", parsed.Header["kid"])
	}

	v := mustLocal(t, rotated, VerifierConfig{Now: clk.Now})
	for _, tok := range []string{oldTok, newTok} {
		if _, err := v.Verify(context.Background(), tok); err != nil {
			t.Fatalf("during rotation: %v", err)
		}
	}
	v = mustLocal(t, retired, VerifierConfig{Now: clk.Now})
	if _, err := v.Verify(context.Background(), oldTok); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("token of a retired key: %v, want ErrUnknownKey", err)
	}
	if _, err := v.Verify(context.Background(), newTok); err != nil {
		t.Fatal(err)
	}
}

// expectRejected checks the error shape every bad token must produce.
func expectRejected(t *testing.T, v Verifier, tok string, cause error) {
	t.Helper()
	p, err := v.Verify(context.Background(), tok)
	if err == nil {
		t.Fatalf("accepted, principal %+v", p)
	}
	var ue *UnauthorizedError
	if !errors.As(err, &ue) || ue.StatusCode() != 401 || !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("error %T %v, want *UnauthorizedError", err, err)
	}
	if cause != nil && !errors.Is(err, cause) {
		t.Fatalf("error %v, want cause %v", err, cause)
	}
	if p != (Principal{}) {
		t.Fatalf("principal %+v returned with error", p)
	}
}

func TestVerifyRejects(t *testing.T) {
	clk := newClock()
	now := clk.Now()
	ks := mustKeySet(t, key(0))
	kid := ks.SigningKeyID()
	v := mustLocal(t, ks, VerifierConfig{Now: clk.Now})
	good := signRaw(t, jwt.SigningMethodRS256, key(0), kid, validClaims(now))
	if _, err := v.Verify(context.Background(), good); err != nil {
		t.Fatalf("baseline token rejected: %v", err)
	}

	with := func(k string, val any) jwt.MapClaims {
		c := validClaims(now)
		if val == nil {
			delete(c, k)
		} else {
			c[k] = val
		}
		return c
	}
	pubPEM := pkix(t, &key(0).PublicKey)

	cases := []struct {
		name  string
		token string
		cause error
	}{
		{"expired beyond leeway", signRaw(t, jwt.SigningMethodRS256, key(0), kid, with("exp", now.Add(-31*time.Second).Unix())), jwt.ErrTokenExpired},
		{"no exp", signRaw(t, jwt.SigningMethodRS256, key(0), kid, with("exp", nil)), jwt.ErrTokenRequiredClaimMissing},
		{"nbf in future", signRaw(t, jwt.SigningMethodRS256, key(0), kid, with("nbf", now.Add(time.Minute).Unix())), jwt.ErrTokenNotValidYet},
		{"iat in future", signRaw(t, jwt.SigningMethodRS256, key(0), kid, with("iat", now.Add(time.Minute).Unix())), jwt.ErrTokenUsedBeforeIssued},
		{"no iat", signRaw(t, jwt.SigningMethodRS256, key(0), kid, with("iat", nil)), errNoIssuedAt},
		{"wrong iss", signRaw(t, jwt.SigningMethodRS256, key(0), kid, with("iss", "evil")), jwt.ErrTokenInvalidIssuer},
		{"no iss", signRaw(t, jwt.SigningMethodRS256, key(0), kid, with("iss", nil)), jwt.ErrTokenRequiredClaimMissing},
		{"wrong aud", signRaw(t, jwt.SigningMethodRS256, key(0), kid, with("aud", "other")), jwt.ErrTokenInvalidAudience},
		{"no aud", signRaw(t, jwt.SigningMethodRS256, key(0), kid, with("aud", nil)), jwt.ErrTokenRequiredClaimMissing},
		{"sub zero", signRaw(t, jwt.SigningMethodRS256, key(0), kid, with("sub", "0")), errBadSubject},
		{"sub negative", signRaw(t, jwt.SigningMethodRS256, key(0), kid, with("sub", "-3")), errBadSubject},
		{"sub plus", signRaw(t, jwt.SigningMethodRS256, key(0), kid, with("sub", "+3")), errBadSubject},
		{"sub leading zero", signRaw(t, jwt.SigningMethodRS256, key(0), kid, with("sub", "03")), errBadSubject},
		{"sub text", signRaw(t, jwt.SigningMethodRS256, key(0), kid, with("sub", "bob")), errBadSubject},
		{"sub overflow", signRaw(t, jwt.SigningMethodRS256, key(0), kid, with("sub", "9223372036854775808")), errBadSubject},
		{"sub missing", signRaw(t, jwt.SigningMethodRS256, key(0), kid, with("sub", nil)), errBadSubject},
		{"sub number", signRaw(t, jwt.SigningMethodRS256, key(0), kid, with("sub", 42)), jwt.ErrTokenMalformed},
		{"role unknown", signRaw(t, jwt.SigningMethodRS256, key(0), kid, with("role", "root")), errBadRole},
		{"role case", signRaw(t, jwt.SigningMethodRS256, key(0), kid, with("role", "Admin")), errBadRole},
		{"role missing", signRaw(t, jwt.SigningMethodRS256, key(0), kid, with("role", nil)), errBadRole},
		{"alg none", signRaw(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, kid, validClaims(now)), jwt.ErrTokenSignatureInvalid},
		{"HS256 with the public key as secret", signRaw(t, jwt.SigningMethodHS256, pubPEM, kid, validClaims(now)), jwt.ErrTokenSignatureInvalid},
		{"RS512", signRaw(t, jwt.SigningMethodRS512, key(0), kid, validClaims(now)), jwt.ErrTokenSignatureInvalid},
		{"PS256", signRaw(t, jwt.SigningMethodPS256, key(0), kid, validClaims(now)), jwt.ErrTokenSignatureInvalid},
		{"unknown kid", signRaw(t, jwt.SigningMethodRS256, key(1), Thumbprint(&key(1).PublicKey), validClaims(now)), ErrUnknownKey},
		{"no kid", signRaw(t, jwt.SigningMethodRS256, key(0), "", validClaims(now)), ErrUnknownKey},
		{"right kid, other key", signRaw(t, jwt.SigningMethodRS256, key(1), kid, validClaims(now)), jwt.ErrTokenSignatureInvalid},
		{"tampered payload", tamper(t, good, func(c map[string]any) { c["role"] = "admin" }), jwt.ErrTokenSignatureInvalid},
		{"tampered sub", tamper(t, good, func(c map[string]any) { c["sub"] = "1" }), jwt.ErrTokenSignatureInvalid},
		{"stripped signature", good[:strings.LastIndexByte(good, '.')+1], jwt.ErrTokenSignatureInvalid},
		{"two segments", good[:strings.LastIndexByte(good, '.')], jwt.ErrTokenMalformed},
		{"four segments", good + ".x", jwt.ErrTokenMalformed},
		{"empty", "", jwt.ErrTokenMalformed},
		{"huge", strings.Repeat("a", maxTokenLen+1), jwt.ErrTokenMalformed},
		{"garbage", "not.a.token", jwt.ErrTokenMalformed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { expectRejected(t, v, tc.token, tc.cause) })
	}
}

// tamper rewrites the payload of tok and keeps its signature.
func tamper(t *testing.T, tok string, edit func(map[string]any)) string {
	t.Helper()
	parts := strings.Split(tok, ".")
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	edit(c)
	raw, _ = json.Marshal(c)
	parts[1] = base64.RawURLEncoding.EncodeToString(raw)
	return strings.Join(parts, ".")
}

func TestVerifyLeeway(t *testing.T) {
	clk := newClock()
	ks := mustKeySet(t, key(0))
	tok := mustSign(t, mustSigner(t, ks, clk.Now), 5, RoleUser)
	// Cache off so each call really checks the claims.
	v := mustLocal(t, ks, VerifierConfig{Now: clk.Now, CacheSize: -1, Leeway: 30 * time.Second})
	clk.Advance(15*time.Minute + 29*time.Second)
	if _, err := v.Verify(context.Background(), tok); err != nil {
		t.Fatalf("within leeway: %v", err)
	}
	clk.Advance(time.Second)
	expectRejected(t, v, tok, jwt.ErrTokenExpired)
}

func TestCachedVerificationNeverOutlivesExp(t *testing.T) {
	clk := newClock()
	ks := mustKeySet(t, key(0))
	tok := mustSign(t, mustSigner(t, ks, clk.Now), 5, RoleUser)
	// A cache TTL longer than the token makes exp the only thing that can
	// expire the entry; counting key lookups tells cold from cached.
	v := mustLocal(t, ks, VerifierConfig{Now: clk.Now, Leeway: time.Nanosecond, CacheTTL: time.Hour})
	lookups := 0
	lookup := v.v.lookup
	v.v.lookup = func(ctx context.Context, kid string) (*rsa.PublicKey, error) {
		lookups++
		return lookup(ctx, kid)
	}
	verify := func(wantLookups int) {
		t.Helper()
		if _, err := v.Verify(context.Background(), tok); err != nil {
			t.Fatal(err)
		}
		if lookups != wantLookups {
			t.Fatalf("%d key lookups, want %d", lookups, wantLookups)
		}
	}
	verify(1)
	clk.Advance(15*time.Minute - time.Nanosecond)
	verify(1) // still cached just before exp
	clk.Advance(time.Nanosecond)
	verify(2) // at exp the cache must not answer; the leeway still accepts
	clk.Advance(time.Nanosecond)
	expectRejected(t, v, tok, jwt.ErrTokenExpired)
}

func TestCacheTTLCapsEntries(t *testing.T) {
	clk := newClock()
	ks := mustKeySet(t, key(0))
	tok := mustSign(t, mustSigner(t, ks, clk.Now), 5, RoleUser)
	v := mustLocal(t, ks, VerifierConfig{Now: clk.Now, CacheTTL: 10 * time.Second})
	if _, err := v.Verify(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	e, ok := v.v.cache.get(tok)
	if !ok {
		t.Fatal("not cached")
	}
	if want := clk.Now().Add(10 * time.Second).UnixNano(); e.expires != want {
		t.Fatalf("entry expires %d, want %d", e.expires, want)
	}
}

func TestCacheIsBounded(t *testing.T) {
	clk := newClock()
	ks := mustKeySet(t, key(0))
	s := mustSigner(t, ks, clk.Now)
	const size = 8
	v := mustLocal(t, ks, VerifierConfig{Now: clk.Now, CacheSize: size})
	var toks []string
	for i := range 50 {
		toks = append(toks, mustSign(t, s, int64(i+1), RoleUser))
	}
	for round := range 2 {
		for i, tok := range toks {
			p, err := v.Verify(context.Background(), tok)
			if err != nil || p.UserID != int64(i+1) {
				t.Fatalf("round %d token %d: %+v %v", round, i, p, err)
			}
			if n := v.v.cache.len(); n > size {
				t.Fatalf("cache holds %d entries, bound is %d", n, size)
			}
		}
	}
}

func TestCacheOwnsItsKeys(t *testing.T) {
	ks := mustKeySet(t, key(0))
	tok := mustSign(t, mustSigner(t, ks, nil), 5, RoleUser)
	v := mustLocal(t, ks, VerifierConfig{})
	// Fiber hands out header values that alias a buffer it reuses for the
	// next request; simulate that and then overwrite the buffer.
	buf := []byte(tok)
	aliased := unsafe.String(&buf[0], len(buf))
	if _, err := v.Verify(context.Background(), aliased); err != nil {
		t.Fatal(err)
	}
	for i := range buf {
		buf[i] = 'x'
	}
	if _, ok := v.v.cache.get(tok); !ok {
		t.Fatal("cache key changed when the caller's buffer was reused")
	}
}

func TestVerifyConcurrent(t *testing.T) {
	clk := newClock()
	ks := mustKeySet(t, key(0))
	s := mustSigner(t, ks, clk.Now)
	v := mustLocal(t, ks, VerifierConfig{Now: clk.Now, CacheSize: 4})
	toks := make([]string, 12)
	for i := range toks {
		toks[i] = mustSign(t, s, int64(i+1), RoleUser)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Go(func() {
			for i := range 30 {
				n := (g + i) % len(toks)
				p, err := v.Verify(context.Background(), toks[n])
				if err == nil && p.UserID != int64(n+1) {
					err = fmt.Errorf("token %d gave user %d", n, p.UserID)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func TestErrorsAreClientSafe(t *testing.T) {
	ks := mustKeySet(t, key(0))
	v := mustLocal(t, ks, VerifierConfig{})
	_, err := v.Verify(context.Background(), "eyJzZWNyZXQiOiJsZWFrIn0.e30.c2ln")
	if err == nil || strings.Contains(err.Error(), "leak") || strings.Contains(err.Error(), "secret") {
		t.Fatalf("error %q", err)
	}
}

// The tz claim travels as signed; a token without it (issued before the
// claim existed) has an empty zone and is as valid as before.
func TestTimeZoneClaim(t *testing.T) {
	ks := mustKeySet(t, key(0))
	s := mustSigner(t, ks, nil)
	v := mustLocal(t, ks, VerifierConfig{})
	for _, zone := range []string{"Europe/Berlin", ""} {
		tok, _, err := s.Sign(Claims{UserID: 7, Role: RoleUser, TimeZone: zone})
		if err != nil {
			t.Fatal(err)
		}
		p, err := v.Verify(context.Background(), tok)
		if err != nil || p != (Principal{UserID: 7, Role: RoleUser, TimeZone: zone}) {
			t.Fatalf("zone %q: %+v, %v", zone, p, err)
		}
	}
}
