package bench

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"
)

func TestTokenSubject(t *testing.T) {
	payload := base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"1234","role":"user"}`))
	id, err := TokenSubject("eyJhbGciOiJSUzI1NiJ9." + payload + ".sig")
	if err != nil || id != 1234 {
		t.Fatalf("%d %v", id, err)
	}
	for _, bad := range []string{"x", "a.b.c", "a." + base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"admin"}`)) + ".c"} {
		if _, err := TokenSubject(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestSplitSQL(t *testing.T) {
	got := SplitSQL("-- create \"a\" table\nCREATE TABLE `a` (`id` bigint);\n-- b\nCREATE TABLE `b` (\n  `id` bigint\n);\n\n")
	if len(got) != 2 || got[0] != "CREATE TABLE `a` (`id` bigint)" || !strings.HasPrefix(got[1], "CREATE TABLE `b` (") || strings.HasSuffix(got[1], ";") {
		t.Fatalf("%q", got)
	}
}

func TestPlanStartLetsSeededPlansRunOn(t *testing.T) {
	now := time.Date(2026, 11, 25, 15, 4, 5, 0, time.UTC)
	for _, p := range seedPlans {
		s := planStart(now, p.weeks)
		end := s.AddDate(0, 0, 7*p.weeks)
		if !s.Before(now) || !end.After(now) || s.Hour() != 0 {
			t.Errorf("%s: plan %s..%s does not contain now", p.title, s, end)
		}
	}
}

func TestLockIsExclusive(t *testing.T) {
	root := t.TempDir()
	a, err := Lock(root)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Lock(root); err == nil || !strings.Contains(err.Error(), "another bench run") {
		t.Fatalf("second lock: %v", err)
	}
	a.Close()
	b, err := Lock(root)
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	b.Close()
}
