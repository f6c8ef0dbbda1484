package auth

import (
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"

	"github.com/gofiber/fiber/v2"
)

// JWKSPath is where the account service publishes its keys.
const JWKSPath = "/.well-known/jwks.json"

// jwksCacheControl lets verifiers and proxies reuse the document briefly;
// rotation publishes the next key well before it signs, so five minutes of
// staleness is harmless and unknown kids trigger a refresh anyway.
const jwksCacheControl = "public, max-age=300"

// JWK is one RFC 7517 JSON Web Key, limited to the members an RS256 key uses.
type JWK struct {
	Kty string `json:"kty"`
	Use string `json:"use,omitempty"`
	Alg string `json:"alg,omitempty"`
	Kid string `json:"kid,omitempty"`
	N   string `json:"n,omitempty"`
	E   string `json:"e,omitempty"`
}

// JWKSet is an RFC 7517 JSON Web Key Set document.
type JWKSet struct {
	Keys []JWK `json:"keys"`
}

func marshalJWKS(ids []string, keys map[string]*rsa.PublicKey) ([]byte, error) {
	set := JWKSet{Keys: make([]JWK, 0, len(ids))}
	for _, kid := range ids {
		pub := keys[kid]
		set.Keys = append(set.Keys, JWK{
			Kty: "RSA", Use: "sig", Alg: "RS256", Kid: kid,
			N: encodeModulus(pub), E: encodeExponent(pub),
		})
	}
	data, err := json.Marshal(set)
	if err != nil {
		return nil, fmt.Errorf("auth: encode JWKS: %w", err)
	}
	return data, nil
}

// ParseJWKS returns the RS256 signature keys of a JWKS document by kid.
// Following RFC 7517 section 5, members it cannot use (other key types or
// algorithms, encryption keys, missing kid, malformed or out-of-range values)
// are skipped rather than failing the document; the first key wins for a
// repeated kid. It fails when no usable key remains.
func ParseJWKS(data []byte) (map[string]*rsa.PublicKey, error) {
	var set JWKSet
	if err := json.Unmarshal(data, &set); err != nil {
		return nil, fmt.Errorf("auth: decode JWKS: %w", err)
	}
	keys := make(map[string]*rsa.PublicKey, len(set.Keys))
	for _, jwk := range set.Keys {
		if jwk.Kty != "RSA" || jwk.Kid == "" ||
			(jwk.Use != "" && jwk.Use != "sig") || (jwk.Alg != "" && jwk.Alg != "RS256") {
			continue
		}
		if _, dup := keys[jwk.Kid]; dup {
			continue
		}
		pub, err := jwkPublicKey(jwk)
		if err != nil {
			continue
		}
		keys[jwk.Kid] = pub
	}
	if len(keys) == 0 {
		return nil, errors.New("auth: JWKS holds no usable RS256 key")
	}
	return keys, nil
}

func jwkPublicKey(jwk JWK) (*rsa.PublicKey, error) {
	// Length checks before decoding keep a huge member from costing a big
	// allocation; 4/3 accounts for base64 expansion.
	if len(jwk.N) > MaxKeyBits/8*4/3+4 || len(jwk.E) > 8 {
		return nil, errors.New("auth: JWK member too long")
	}
	n, err := base64.RawURLEncoding.DecodeString(jwk.N)
	if err != nil {
		return nil, fmt.Errorf("auth: JWK n: %w", err)
	}
	e, err := base64.RawURLEncoding.DecodeString(jwk.E)
	if err != nil {
		return nil, fmt.Errorf("auth: JWK e: %w", err)
	}
	if len(e) == 0 || len(e) > 4 {
		return nil, errors.New("auth: JWK e out of range")
	}
	var exp uint64
	for _, b := range e {
		exp = exp<<8 | uint64(b)
	}
	if exp > 1<<31-1 {
		return nil, errors.New("auth: JWK e out of range")
	}
	pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(exp)}
	if err := checkPublicKey(pub); err != nil {
		return nil, err
	}
	return pub, nil
}

// JWKSHandler serves ks.JWKS() for GET JWKSPath.
func JWKSHandler(ks *KeySet) fiber.Handler {
	body := ks.JWKS()
	return func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderCacheControl, jwksCacheControl)
		c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
		return c.Send(body)
	}
}
