package auth

import (
	"context"
	"testing"
)

// benchVerifier verifies one realistic token; cacheSize < 0 measures the
// full parse + RSA verification on every call.
func benchVerifier(b *testing.B, cacheSize int) (*LocalVerifier, string) {
	ks := mustKeySet(b, key(0))
	tok := mustSign(b, mustSigner(b, ks, nil), 12345, RoleUser)
	v := mustLocal(b, ks, VerifierConfig{CacheSize: cacheSize})
	if _, err := v.Verify(context.Background(), tok); err != nil {
		b.Fatal(err)
	}
	return v, tok
}

func BenchmarkVerifyCold(b *testing.B) {
	v, tok := benchVerifier(b, -1)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(ctx, tok); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyCached(b *testing.B) {
	v, tok := benchVerifier(b, 0)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(ctx, tok); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyCachedParallel(b *testing.B) {
	v, tok := benchVerifier(b, 0)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		for pb.Next() {
			if _, err := v.Verify(ctx, tok); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkSign(b *testing.B) {
	s := mustSigner(b, mustKeySet(b, key(0)), nil)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := s.Sign(Claims{UserID: 12345, Role: RoleUser}); err != nil {
			b.Fatal(err)
		}
	}
}
