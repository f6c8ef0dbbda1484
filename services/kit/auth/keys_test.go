package auth

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"io/fs"
	"math/big"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"
)

func TestThumbprintRFC7638Example(t *testing.T) {
	// The RSA key of RFC 7638 section 3.1 and its published thumbprint.
	const n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAt" +
		"VT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn6" +
		"4tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FD" +
		"W2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n9" +
		"1CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINH" +
		"aQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
	nb, err := base64.RawURLEncoding.DecodeString(n)
	if err != nil {
		t.Fatal(err)
	}
	pub := &rsa.PublicKey{N: new(big.Int).SetBytes(nb), E: 65537}
	if got, want := Thumbprint(pub), "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"; got != want {
		t.Fatalf("Thumbprint = %s, want %s", got, want)
	}
}

func TestParsePrivateKeyPEMFormats(t *testing.T) {
	k := key(0)
	pkcs1 := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)})
	p8 := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8(t, k)})
	// A leading non-key block (as in a bundle) must be skipped.
	withParams := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1, 2, 3}}), p8...)
	for name, data := range map[string][]byte{"pkcs1": pkcs1, "pkcs8": p8, "bundle": withParams} {
		got, err := ParsePrivateKeyPEM(data)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !got.Equal(k) {
			t.Fatalf("%s: parsed a different key", name)
		}
		pub, err := ParsePublicKeyPEM(data)
		if err != nil || !pub.Equal(&k.PublicKey) {
			t.Fatalf("%s: public from private: %v", name, err)
		}
	}
}

func TestParsePublicKeyPEMFormats(t *testing.T) {
	k := &key(1).PublicKey
	for name, block := range map[string]*pem.Block{
		"pkix":  {Type: "PUBLIC KEY", Bytes: pkix(t, k)},
		"pkcs1": {Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(k)},
	} {
		got, err := ParsePublicKeyPEM(pem.EncodeToMemory(block))
		if err != nil || !got.Equal(k) {
			t.Fatalf("%s: %v", name, err)
		}
	}
}

func TestParseKeyPEMRejects(t *testing.T) {
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string][]byte{
		"empty":       nil,
		"not pem":     []byte("hello"),
		"garbage der": pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{0x30, 0x01, 0x00}}),
		"ec":          pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8(t, ec)}),
		"encrypted":   pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: []byte{1}}),
		"legacy encrypted": pem.EncodeToMemory(&pem.Block{
			Type: "RSA PRIVATE KEY", Headers: map[string]string{"Proc-Type": "4,ENCRYPTED"},
			Bytes: x509.MarshalPKCS1PrivateKey(key(0)),
		}),
		"1024 bits": pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(small)}),
	}
	for name, data := range cases {
		if _, err := ParsePrivateKeyPEM(data); err == nil {
			t.Errorf("ParsePrivateKeyPEM(%s) succeeded", name)
		}
	}
	pubCases := map[string][]byte{
		"ec public":   pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pkix(t, &ec.PublicKey)}),
		"small":       pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pkix(t, &small.PublicKey)}),
		"encrypted":   cases["encrypted"],
		"not pem":     cases["not pem"],
		"garbage der": pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: []byte{0x30}}),
	}
	for name, data := range pubCases {
		if _, err := ParsePublicKeyPEM(data); err == nil {
			t.Errorf("ParsePublicKeyPEM(%s) succeeded", name)
		}
	}
}

func TestNewKeySetRejectsBadKeys(t *testing.T) {
	if _, err := NewKeySet(nil); err == nil {
		t.Fatal("nil signing key accepted")
	}
	even := &rsa.PublicKey{N: key(1).N, E: 4}
	if _, err := NewKeySet(key(0), even); err == nil {
		t.Fatal("even exponent accepted")
	}
}

func TestLoadKeySet(t *testing.T) {
	dir := t.TempDir()
	signing := writePEM(t, dir, "signing.pem", "PRIVATE KEY", pkcs8(t, key(0)))
	prevPriv := writePEM(t, dir, "prev.pem", "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(key(1)))
	prevPub := writePEM(t, dir, "prev2.pub", "PUBLIC KEY", pkix(t, &key(2).PublicKey))

	// Blank entries and a repeat of the signing key come from sloppy env
	// values and must not break or duplicate anything.
	ks, err := LoadKeySet(signing, " "+prevPriv+" ", "", prevPub, signing)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{Thumbprint(&key(0).PublicKey), Thumbprint(&key(1).PublicKey), Thumbprint(&key(2).PublicKey)}
	if got := ks.KeyIDs(); !slices.Equal(got, want) {
		t.Fatalf("KeyIDs = %v, want %v", got, want)
	}
	if ks.SigningKeyID() != want[0] {
		t.Fatalf("SigningKeyID = %s", ks.SigningKeyID())
	}
	for i, kid := range want {
		pub, ok := ks.PublicKey(kid)
		if !ok || !pub.Equal(&key(i).PublicKey) {
			t.Fatalf("PublicKey(%s) wrong", kid)
		}
	}
	if _, ok := ks.PublicKey("nope"); ok {
		t.Fatal("unknown kid found")
	}

	if _, err := LoadKeySet(filepath.Join(dir, "missing.pem")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing signing file: %v", err)
	}
	if _, err := LoadKeySet(signing, filepath.Join(dir, "missing.pem")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing previous file: %v", err)
	}
	// A public key cannot sign.
	if _, err := LoadKeySet(prevPub); err == nil {
		t.Fatal("public key accepted as signing key")
	}
}

func TestGenerateKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nested", "dir", "dev.pem")
	if err := GenerateKeyFile(path, 2048); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Fatalf("mode %o, want 600", perm)
	}
	k, err := LoadPrivateKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if k.N.BitLen() != 2048 {
		t.Fatalf("%d bits", k.N.BitLen())
	}
	before, _ := os.ReadFile(path)
	if err := GenerateKeyFile(path, 2048); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("second call: %v, want fs.ErrExist", err)
	}
	after, _ := os.ReadFile(path)
	if !bytes.Equal(before, after) {
		t.Fatal("existing key was overwritten")
	}
	for _, bits := range []int{1024, 16384} {
		p := filepath.Join(t.TempDir(), "k.pem")
		if err := GenerateKeyFile(p, bits); err == nil {
			t.Fatalf("%d bits accepted", bits)
		}
		if _, err := os.Stat(p); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("%d bits left a file behind", bits)
		}
	}
}

func TestJWKSDocument(t *testing.T) {
	ks := mustKeySet(t, key(0), key(1))
	var doc struct {
		Keys []map[string]string `json:"keys"`
	}
	if err := json.Unmarshal(ks.JWKS(), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Keys) != 2 {
		t.Fatalf("%d keys", len(doc.Keys))
	}
	for i, k := range doc.Keys {
		if k["kty"] != "RSA" || k["use"] != "sig" || k["alg"] != "RS256" || k["e"] != "AQAB" {
			t.Fatalf("key %d: %v", i, k)
		}
		if k["kid"] != Thumbprint(&key(i).PublicKey) {
			t.Fatalf("key %d kid %s", i, k["kid"])
		}
		if len(k) != 6 {
			t.Fatalf("key %d has extra members: %v", i, k)
		}
	}
	keys, err := ParseJWKS(ks.JWKS())
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if !keys[Thumbprint(&key(i).PublicKey)].Equal(&key(i).PublicKey) {
			t.Fatalf("key %d does not round-trip", i)
		}
	}
	// JWKS hands out a copy: callers cannot corrupt what the handler serves.
	b := ks.JWKS()
	b[0] = 'X'
	if ks.JWKS()[0] != '{' {
		t.Fatal("JWKS shares its buffer")
	}
}

func TestJWKSHandler(t *testing.T) {
	ks := mustKeySet(t, key(0), key(1))
	app := fiber.New()
	app.Get(JWKSPath, JWKSHandler(ks))
	resp, err := app.Test(httptest.NewRequest("GET", "/.well-known/jwks.json", nil))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if got := resp.Header.Get("Cache-Control"); got != "public, max-age=300" {
		t.Fatalf("Cache-Control %q", got)
	}
	if got := resp.Header.Get("Content-Type"); !strings.HasPrefix(got, "application/json") {
		t.Fatalf("Content-Type %q", got)
	}
	if !bytes.Equal(body, ks.JWKS()) {
		t.Fatalf("body %s", body)
	}
}

func TestParseJWKSSkipsUnusableKeys(t *testing.T) {
	good := func(i int) JWK {
		pub := &key(i).PublicKey
		return JWK{Kty: "RSA", Kid: Thumbprint(pub), N: encodeModulus(pub), E: encodeExponent(pub)}
	}
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	withUse, withAlg := good(1), good(1)
	withUse.Kid, withUse.Use = "enc", "enc"
	withAlg.Kid, withAlg.Alg = "hs", "HS256"
	noKid := good(1)
	noKid.Kid = ""
	badN := good(1)
	badN.Kid, badN.N = "badn", "***"
	padded := good(1)
	padded.Kid, padded.N = "padded", padded.N+"=="
	bigE := good(1)
	bigE.Kid, bigE.E = "bige", base64.RawURLEncoding.EncodeToString([]byte{1, 0, 0, 0, 1})
	evenE := good(1)
	evenE.Kid, evenE.E = "evene", "Ag"
	dup := good(2)
	dup.Kid = good(0).Kid
	set := JWKSet{Keys: []JWK{
		good(0),
		{Kty: "EC", Kid: "ec"},
		withUse, withAlg, noKid, badN, padded, bigE, evenE, dup,
		{Kty: "RSA", Kid: "small", N: encodeModulus(&small.PublicKey), E: "AQAB"},
	}}
	data, _ := json.Marshal(set)
	keys, err := ParseJWKS(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || !keys[good(0).Kid].Equal(&key(0).PublicKey) {
		t.Fatalf("got %d keys: %v", len(keys), keys)
	}

	for name, doc := range map[string]string{
		"not json":   "nope",
		"no keys":    `{"keys":[]}`,
		"null":       `null`,
		"only ec":    `{"keys":[{"kty":"EC","kid":"a"}]}`,
		"keys wrong": `{"keys":{}}`,
	} {
		if _, err := ParseJWKS([]byte(doc)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
