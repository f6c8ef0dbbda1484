package app

import (
	"encoding/base64"
	"errors"
	"testing"
	"time"

	"github.com/progressive-overload/po/services/challenge/internal/domain"
	"github.com/progressive-overload/po/services/kit/paging"
)

func TestLogCursorRoundTrip(t *testing.T) {
	for _, c := range []LogCursor{
		{PerformedAt: time.Date(2026, 1, 5, 7, 30, 0, 123456000, time.UTC), ID: 1},
		{PerformedAt: time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), ID: 1<<63 - 1},
	} {
		s := EncodeLogCursor(c)
		got, err := DecodeLogCursor(s)
		if err != nil || got == nil || !got.PerformedAt.Equal(c.PerformedAt) || got.ID != c.ID {
			t.Fatalf("%+v → %q → %+v, %v", c, s, got, err)
		}
	}
	if c, err := DecodeLogCursor(""); c != nil || err != nil {
		t.Fatalf("empty cursor: %v %v", c, err)
	}
}

func TestChallengeCursorRoundTrip(t *testing.T) {
	s := EncodeChallengeCursor(42)
	if id, err := DecodeChallengeCursor(s); id != 42 || err != nil {
		t.Fatalf("%q → %d, %v", s, id, err)
	}
	// One list's cursor is not the other's.
	if _, err := DecodeLogCursor(s); err == nil {
		t.Fatal("a challenge cursor decoded as a log cursor")
	}
}

func TestBadCursors(t *testing.T) {
	enc := base64.RawURLEncoding.EncodeToString
	for _, s := range []string{
		"x", "====", "bA", enc([]byte("l")), enc([]byte("l1.")), enc([]byte("l.1")), enc([]byte("l01.1")),
		enc([]byte("l1.-1")), enc([]byte("l1.0")), enc([]byte("l1.+2")), enc([]byte("l1.2.3")),
		enc([]byte("l99999999999999999999.1")), enc([]byte("c1")), string(make([]byte, 300)),
	} {
		_, err := DecodeLogCursor(s)
		var ve *domain.ValidationError
		if !errors.As(err, &ve) || ve.Fields[0].Field != "cursor" {
			t.Errorf("DecodeLogCursor(%q) = %v, want a 422 on cursor", s, err)
		}
	}
}

// Decoding never panics, and whatever decodes has exactly one spelling.
func FuzzDecodeLogCursor(f *testing.F) {
	f.Add(EncodeLogCursor(LogCursor{PerformedAt: time.Unix(1767600000, 0), ID: 7}))
	f.Add("bDE3Njc2MDAwMDAwMDAwMDAuNw")
	f.Add("YzE")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := DecodeLogCursor(s)
		if err != nil || c == nil {
			return
		}
		if again := EncodeLogCursor(*c); again != s {
			t.Fatalf("%q decodes to %+v which encodes as %q", s, c, again)
		}
	})
}

func FuzzDecodeChallengeCursor(f *testing.F) {
	f.Add(EncodeChallengeCursor(9))
	f.Add("bDE")
	f.Fuzz(func(t *testing.T, s string) {
		id, err := DecodeChallengeCursor(s)
		if err != nil || id == 0 {
			return
		}
		if again := EncodeChallengeCursor(id); again != s {
			t.Fatalf("%q decodes to %d which encodes as %q", s, id, again)
		}
	})
}

func TestSplitOwner(t *testing.T) {
	for in, want := range map[string]int64{"42\n{}": 42, "1\n": 1} {
		owner, body, ok := splitOwner([]byte(in))
		if !ok || owner != want || string(body) != in[len(in)-len(body):] {
			t.Fatalf("%q → %d %q %v", in, owner, body, ok)
		}
	}
	for _, in := range []string{"", "\n{}", "x\n{}", "42{}"} {
		if _, _, ok := splitOwner([]byte(in)); ok {
			t.Fatalf("%q accepted", in)
		}
	}
}

func TestPageSize(t *testing.T) {
	n := func(v int) *int { return &v }
	if got, err := pageSize(nil); got != paging.DefaultLimit || err != nil {
		t.Fatal(got, err)
	}
	for _, bad := range []int{0, -1, paging.MaxLimit + 1} {
		if _, err := pageSize(n(bad)); err == nil {
			t.Fatalf("limit %d accepted", bad)
		}
	}
	if got, _ := pageSize(n(paging.MaxLimit)); got != paging.MaxLimit {
		t.Fatal(got)
	}
}
