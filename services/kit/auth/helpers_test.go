package auth

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/progressive-overload/po/services/kit/leaktest"
)

func TestMain(m *testing.M) { leaktest.VerifyTestMain(m) }

const (
	testIssuer   = "test-issuer"
	testAudience = "test-audience"
)

// RSA key generation is slow (more so under -race), so the tests share a
// few keys.
var testKeys = sync.OnceValue(func() [3]*rsa.PrivateKey {
	var keys [3]*rsa.PrivateKey
	for i := range keys {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		keys[i] = k
	}
	return keys
})

func key(i int) *rsa.PrivateKey { return testKeys()[i] }

// clock is a settable time source so expiry and rate limits are tested
// without sleeping.
type clock struct{ ns atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	c.ns.Store(time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC).UnixNano())
	return c
}

func (c *clock) Now() time.Time          { return time.Unix(0, c.ns.Load()).UTC() }
func (c *clock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

func mustKeySet(t testing.TB, signing *rsa.PrivateKey, previous ...*rsa.PrivateKey) *KeySet {
	t.Helper()
	pubs := make([]*rsa.PublicKey, len(previous))
	for i, p := range previous {
		pubs[i] = &p.PublicKey
	}
	ks, err := NewKeySet(signing, pubs...)
	if err != nil {
		t.Fatal(err)
	}
	return ks
}

func mustSigner(t testing.TB, ks *KeySet, now func() time.Time) *Signer {
	t.Helper()
	s, err := NewSigner(ks, SignerConfig{Issuer: testIssuer, Audience: testAudience, TTL: 15 * time.Minute, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mustSign(t testing.TB, s *Signer, id int64, role Role) string {
	t.Helper()
	tok, _, err := s.Sign(Claims{UserID: id, Role: role})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func mustLocal(t testing.TB, ks *KeySet, cfg VerifierConfig) *LocalVerifier {
	t.Helper()
	if cfg.Issuer == "" {
		cfg.Issuer = testIssuer
	}
	if cfg.Audience == "" {
		cfg.Audience = testAudience
	}
	v, err := NewLocalVerifier(ks, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// validClaims are claims our signer would produce at now, as a map so tests
// can break them one at a time.
func validClaims(now time.Time) jwt.MapClaims {
	return jwt.MapClaims{
		"iss":  testIssuer,
		"aud":  []string{testAudience},
		"sub":  "42",
		"role": "user",
		"iat":  now.Unix(),
		"exp":  now.Add(15 * time.Minute).Unix(),
		"jti":  "j",
	}
}

// signRaw builds a token with any method, key, kid and claims, for the
// attacks and malformed cases the Signer refuses to produce.
func signRaw(t testing.TB, method jwt.SigningMethod, signKey any, kid string, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(signKey)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func writePEM(t testing.TB, dir, name, typ string, der []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func pkcs8(t testing.TB, k any) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func pkix(t testing.TB, k any) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return der
}
