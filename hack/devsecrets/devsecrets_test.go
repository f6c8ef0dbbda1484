package devsecrets

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/client-go/kubernetes/scheme"
)

func TestEnsureWritesOnceAndKeeps(t *testing.T) {
	path := filepath.Join(t.TempDir(), "k8s", "dev-secrets.yaml")
	wrote, err := Ensure(path, "po")
	if err != nil || !wrote {
		t.Fatalf("first Ensure: wrote=%v err=%v", wrote, err)
	}
	first, _ := os.ReadFile(path)
	wrote, err = Ensure(path, "po")
	if err != nil || wrote {
		t.Fatalf("second Ensure: wrote=%v err=%v", wrote, err)
	}
	second, _ := os.ReadFile(path)
	if !bytes.Equal(first, second) {
		t.Fatal("Ensure changed an existing file: the passwords would no longer match the data")
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	if _, err := Ensure(path, "other"); err == nil {
		t.Error("a file for another namespace was accepted")
	}
	if err := os.WriteFile(path, []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Ensure(path, "po"); err == nil {
		t.Error("a broken file was accepted")
	}
}

func TestGenerateDecodesStrictly(t *testing.T) {
	b, err := Generate("po")
	if err != nil {
		t.Fatal(err)
	}
	dec := serializer.NewCodecFactory(scheme.Scheme, serializer.EnableStrict).UniversalDeserializer()
	docs := bytes.Split(b, []byte("\n---\n"))
	if len(docs) != 2 {
		t.Fatalf("%d documents", len(docs))
	}
	got := map[string]*corev1.Secret{}
	for _, d := range docs {
		obj, _, err := dec.Decode(d, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		s := obj.(*corev1.Secret)
		got[s.Name] = s
	}
	cred := got[CredentialsSecret]
	if cred == nil || cred.Namespace != "po" {
		t.Fatalf("no %s in po", CredentialsSecret)
	}
	for _, k := range PasswordKeys {
		if len(cred.Data[k]) != 32 {
			t.Errorf("%s: %q", k, cred.Data[k])
		}
	}
	if string(cred.Data["redis-password"]) == string(cred.Data["rabbitmq-password"]) {
		t.Error("passwords repeat")
	}
	block, _ := pem.Decode(got[JWTSecret].Data[JWTKey])
	if block == nil {
		t.Fatal("no PEM")
	}
	if _, err := x509.ParsePKCS1PrivateKey(block.Bytes); err != nil {
		t.Fatal(err)
	}
}
