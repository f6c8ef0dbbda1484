package auth

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

const (
	// MinKeyBits is the smallest RSA modulus accepted anywhere in this package.
	MinKeyBits = 2048
	// MaxKeyBits bounds the modulus because RSA verification cost grows with
	// it: a hostile JWKS or PEM must not make every request expensive.
	MaxKeyBits = 8192
)

// ParsePrivateKeyPEM returns the first RSA private key in data, PKCS#1
// ("RSA PRIVATE KEY") or PKCS#8 ("PRIVATE KEY"). Other PEM blocks before it
// (certificates, parameters) are skipped.
func ParsePrivateKeyPEM(data []byte) (*rsa.PrivateKey, error) {
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return nil, errors.New("auth: no RSA private key PEM block found")
		}
		switch block.Type {
		case "RSA PRIVATE KEY", "PRIVATE KEY", "ENCRYPTED PRIVATE KEY":
			return privateFromBlock(block)
		}
	}
}

func privateFromBlock(block *pem.Block) (*rsa.PrivateKey, error) {
	if _, ok := block.Headers["Proc-Type"]; ok || block.Type == "ENCRYPTED PRIVATE KEY" {
		return nil, errors.New("auth: encrypted private keys are not supported")
	}
	key, err := parsePrivateBlock(block)
	if err != nil {
		return nil, err
	}
	if err := checkPublicKey(&key.PublicKey); err != nil {
		return nil, err
	}
	return key, nil
}

func parsePrivateBlock(block *pem.Block) (*rsa.PrivateKey, error) {
	if block.Type == "RSA PRIVATE KEY" {
		key, err := x509.ParsePKCS1PrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("auth: parse PKCS#1 private key: %w", err)
		}
		return key, nil
	}
	parsed, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("auth: parse PKCS#8 private key: %w", err)
	}
	key, ok := parsed.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("auth: PKCS#8 key is %T, want RSA", parsed)
	}
	return key, nil
}

// ParsePublicKeyPEM returns the RSA public key of the first key block in data.
// It accepts public keys (PKIX "PUBLIC KEY", PKCS#1 "RSA PUBLIC KEY") and,
// because retired signing keys are usually kept as the original private key
// files, private keys too.
func ParsePublicKeyPEM(data []byte) (*rsa.PublicKey, error) {
	rest := data
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return nil, errors.New("auth: no RSA key PEM block found")
		}
		var pub *rsa.PublicKey
		switch block.Type {
		case "PUBLIC KEY":
			parsed, err := x509.ParsePKIXPublicKey(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("auth: parse PKIX public key: %w", err)
			}
			k, ok := parsed.(*rsa.PublicKey)
			if !ok {
				return nil, fmt.Errorf("auth: public key is %T, want RSA", parsed)
			}
			pub = k
		case "RSA PUBLIC KEY":
			k, err := x509.ParsePKCS1PublicKey(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("auth: parse PKCS#1 public key: %w", err)
			}
			pub = k
		case "RSA PRIVATE KEY", "PRIVATE KEY", "ENCRYPTED PRIVATE KEY":
			priv, err := privateFromBlock(block)
			if err != nil {
				return nil, err
			}
			return &priv.PublicKey, nil
		default:
			continue
		}
		if err := checkPublicKey(pub); err != nil {
			return nil, err
		}
		return pub, nil
	}
}

// LoadPrivateKeyFile reads an RSA private key PEM file (see ParsePrivateKeyPEM).
func LoadPrivateKeyFile(path string) (*rsa.PrivateKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("auth: read signing key: %w", err)
	}
	key, err := ParsePrivateKeyPEM(data)
	if err != nil {
		return nil, fmt.Errorf("%w (file %s)", err, path)
	}
	return key, nil
}

// LoadPublicKeyFile reads an RSA public or private key PEM file and returns the
// public key (see ParsePublicKeyPEM).
func LoadPublicKeyFile(path string) (*rsa.PublicKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("auth: read key: %w", err)
	}
	key, err := ParsePublicKeyPEM(data)
	if err != nil {
		return nil, fmt.Errorf("%w (file %s)", err, path)
	}
	return key, nil
}

// checkPublicKey rejects keys that are weak or that crypto/rsa would refuse at
// verification time, so the failure shows at load time instead.
func checkPublicKey(pub *rsa.PublicKey) error {
	if pub == nil || pub.N == nil {
		return errors.New("auth: missing RSA key")
	}
	if bits := pub.N.BitLen(); bits < MinKeyBits || bits > MaxKeyBits {
		return fmt.Errorf("auth: RSA key has %d bits, want %d to %d", bits, MinKeyBits, MaxKeyBits)
	}
	if pub.E < 3 || pub.E > 1<<31-1 || pub.E%2 == 0 {
		return fmt.Errorf("auth: unsupported RSA public exponent %d", pub.E)
	}
	return nil
}

// Thumbprint is the RFC 7638 JWK thumbprint of pub: base64url (no padding) of
// the SHA-256 of its canonical JWK {"e","kty","n"}. It is the key's kid.
func Thumbprint(pub *rsa.PublicKey) string {
	n, e := encodeModulus(pub), encodeExponent(pub)
	var b strings.Builder
	b.Grow(len(n) + len(e) + 32)
	b.WriteString(`{"e":"`)
	b.WriteString(e)
	b.WriteString(`","kty":"RSA","n":"`)
	b.WriteString(n)
	b.WriteString(`"}`)
	sum := sha256.Sum256([]byte(b.String()))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func encodeModulus(pub *rsa.PublicKey) string {
	return base64.RawURLEncoding.EncodeToString(pub.N.Bytes())
}

func encodeExponent(pub *rsa.PublicKey) string {
	return base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes())
}

// KeySet is the account service's keys: one signing key and the retired keys
// whose tokens are still accepted. All of them are published in the JWKS, so
// a rotation is: make the new key the signing key, list the old one as
// previous until its last token has expired, then drop it. A KeySet is
// immutable and safe for concurrent use.
type KeySet struct {
	signing   *rsa.PrivateKey
	signingID string
	ids       []string
	public    map[string]*rsa.PublicKey
	jwks      []byte
}

// NewKeySet builds a KeySet. Previous keys equal to the signing key or to each
// other are kept once.
func NewKeySet(signing *rsa.PrivateKey, previous ...*rsa.PublicKey) (*KeySet, error) {
	if signing == nil {
		return nil, errors.New("auth: signing key is required")
	}
	if err := checkPublicKey(&signing.PublicKey); err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	ks := &KeySet{
		signing:   signing,
		signingID: Thumbprint(&signing.PublicKey),
		public:    make(map[string]*rsa.PublicKey, 1+len(previous)),
	}
	ks.add(ks.signingID, &signing.PublicKey)
	for i, pub := range previous {
		if err := checkPublicKey(pub); err != nil {
			return nil, fmt.Errorf("previous key %d: %w", i+1, err)
		}
		ks.add(Thumbprint(pub), pub)
	}
	jwks, err := marshalJWKS(ks.ids, ks.public)
	if err != nil {
		return nil, err
	}
	ks.jwks = jwks
	return ks, nil
}

func (ks *KeySet) add(kid string, pub *rsa.PublicKey) {
	if _, dup := ks.public[kid]; dup {
		return
	}
	ks.public[kid] = pub
	ks.ids = append(ks.ids, kid)
}

// LoadKeySet loads the signing key and the previous keys from PEM files.
// Empty or blank previous paths are ignored so a comma-split environment
// variable can be passed as is.
func LoadKeySet(signingFile string, previousFiles ...string) (*KeySet, error) {
	signing, err := LoadPrivateKeyFile(signingFile)
	if err != nil {
		return nil, err
	}
	var previous []*rsa.PublicKey
	for _, path := range previousFiles {
		path = strings.TrimSpace(path)
		if path == "" {
			continue
		}
		pub, err := LoadPublicKeyFile(path)
		if err != nil {
			return nil, err
		}
		previous = append(previous, pub)
	}
	return NewKeySet(signing, previous...)
}

// SigningKeyID is the kid of the key new tokens are signed with.
func (ks *KeySet) SigningKeyID() string { return ks.signingID }

// KeyIDs lists every accepted kid, the signing key first.
func (ks *KeySet) KeyIDs() []string { return slices.Clone(ks.ids) }

// PublicKey returns the accepted key with this kid.
func (ks *KeySet) PublicKey(kid string) (*rsa.PublicKey, bool) {
	pub, ok := ks.public[kid]
	return pub, ok
}

// JWKS is the RFC 7517 JSON Web Key Set of every accepted key.
func (ks *KeySet) JWKS() []byte { return slices.Clone(ks.jwks) }

// GenerateKeyFile writes a new PKCS#8 RSA private key to path with mode 0600,
// creating missing parent directories with mode 0700. It never overwrites: if
// path exists the error wraps fs.ErrExist, so callers such as `make run` can
// treat that as "already have a key".
func GenerateKeyFile(path string, bits int) (err error) {
	if bits < MinKeyBits || bits > MaxKeyBits {
		return fmt.Errorf("auth: key size %d bits, want %d to %d", bits, MinKeyBits, MaxKeyBits)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("auth: create key directory: %w", err)
	}
	// Open before generating: generation is slow and pointless if the file
	// is already there, and O_EXCL also closes the race with a parallel run.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("auth: create key file: %w", err)
	}
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("auth: close key file: %w", cerr)
		}
		if err != nil {
			_ = os.Remove(path)
		}
	}()
	key, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		return fmt.Errorf("auth: generate key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("auth: encode key: %w", err)
	}
	if err := pem.Encode(f, &pem.Block{Type: "PRIVATE KEY", Bytes: der}); err != nil {
		return fmt.Errorf("auth: write key file: %w", err)
	}
	return nil
}
