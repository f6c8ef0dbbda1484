package auth

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

func FuzzBearerToken(f *testing.F) {
	for _, s := range []string{"", "Bearer abc", "bearer a.b.c", "Bearer  x==", "Basic a", "Bearer a=b", "Bearer \x00", "Bearer é"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		tok, err := bearerToken(header)
		if err != nil {
			if tok != "" || !errors.Is(err, ErrUnauthorized) {
				t.Fatalf("error %v with token %q", err, tok)
			}
			return
		}
		if !isB64Token(tok) || !strings.HasSuffix(header, tok) || len(tok) > maxTokenLen {
			t.Fatalf("bearerToken(%q) = %q", header, tok)
		}
		if again, err := bearerToken("Bearer " + tok); err != nil || again != tok {
			t.Fatalf("not stable: %q %v", again, err)
		}
	})
}

// FuzzVerify feeds arbitrary strings to the verifier. Since the fuzzer cannot
// forge RS256 signatures, the only strings that may verify are the tokens
// the test signed itself.
func FuzzVerify(f *testing.F) {
	clk := newClock()
	ks := mustKeySet(f, key(0))
	signer := mustSigner(f, ks, clk.Now)
	valid := map[string]Principal{}
	for i, role := range []Role{RoleUser, RoleAdmin} {
		tok := mustSign(f, signer, int64(i+1), role)
		valid[tok] = Principal{UserID: int64(i + 1), Role: role}
		f.Add(tok)
		parts := strings.Split(tok, ".")
		f.Add(parts[0] + "." + parts[1] + ".")
		f.Add(parts[0] + ".." + parts[2])
	}
	now := clk.Now()
	f.Add(signRaw(f, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, ks.SigningKeyID(), validClaims(now)))
	f.Add(signRaw(f, jwt.SigningMethodHS256, pkix(f, &key(0).PublicKey), ks.SigningKeyID(), validClaims(now)))
	f.Add("eyJhbGciOiJSUzI1NiJ9.e30.")
	f.Add("...")
	f.Add("")

	v := mustLocal(f, ks, VerifierConfig{Now: clk.Now, CacheSize: 64})
	// The property below is only meaningful if the real tokens do verify.
	for tok, want := range valid {
		if p, err := v.Verify(context.Background(), tok); err != nil || p != want {
			f.Fatalf("seed token: %+v %v", p, err)
		}
	}
	f.Fuzz(func(t *testing.T, tok string) {
		p, err := v.Verify(context.Background(), tok)
		if err != nil {
			var ue *UnauthorizedError
			if !errors.As(err, &ue) {
				t.Fatalf("error %T %v", err, err)
			}
			return
		}
		if want, ok := valid[tok]; !ok || p != want {
			t.Fatalf("accepted %q as %+v", tok, p)
		}
	})
}

func FuzzParseJWKS(f *testing.F) {
	f.Add(mustKeySet(f, key(0), key(1)).JWKS())
	f.Add([]byte(`{"keys":[{"kty":"RSA","kid":"a","n":"AQAB","e":"AQAB"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"RSA","kid":"a","n":"","e":"AAAAAAAA"}]}`))
	f.Add([]byte(`{"keys":null}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		keys, err := ParseJWKS(data)
		if err != nil {
			if keys != nil {
				t.Fatal("keys returned with an error")
			}
			return
		}
		if len(keys) == 0 {
			t.Fatal("success without keys")
		}
		for kid, k := range keys {
			if kid == "" {
				t.Fatal("empty kid accepted")
			}
			if err := checkPublicKey(k); err != nil {
				t.Fatalf("unusable key accepted: %v", err)
			}
		}
	})
}

func FuzzParseKeyPEM(f *testing.F) {
	k := key(0)
	f.Add(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}))
	f.Add(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8(f, k)}))
	f.Add(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pkix(f, &k.PublicKey)}))
	f.Add(pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&k.PublicKey)}))
	f.Add([]byte("-----BEGIN PRIVATE KEY-----\nMAA=\n-----END PRIVATE KEY-----\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if priv, err := ParsePrivateKeyPEM(data); err == nil {
			if err := checkPublicKey(&priv.PublicKey); err != nil {
				t.Fatalf("weak private key accepted: %v", err)
			}
		}
		if pub, err := ParsePublicKeyPEM(data); err == nil {
			if err := checkPublicKey(pub); err != nil {
				t.Fatalf("weak public key accepted: %v", err)
			}
		}
	})
}

// isB64Token is RFC 6750's b64token grammar, held against the grammar
// written as a regular expression.
var b64TokenGrammar = regexp.MustCompile(`^[A-Za-z0-9\-._~+/]+=*$`)

func FuzzIsB64Token(f *testing.F) {
	for b := range 256 {
		f.Add(string([]byte{byte(b)}))
		f.Add("ab" + string([]byte{byte(b)}) + "==")
	}
	for _, s := range []string{"", "=", "a=", "a=b", "eyJhbGciOiJSUzI1NiJ9.e30.c2ln", "a.b-c_d~e+f/g=="} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := isB64Token(s), b64TokenGrammar.MatchString(s); got != want {
			t.Fatalf("isB64Token(%q) = %v, the grammar says %v", s, got, want)
		}
	})
}
