package domain_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/progressive-overload/po/services/account/internal/domain"
)

func TestNewEmail(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"ada@example.com", "ada@example.com", true},
		{"  Ada.Lovelace@Example.COM\t", "ada.lovelace@example.com", true},
		{"a+tag@sub.example.org", "a+tag@sub.example.org", true},
		{"admin@localhost", "admin@localhost", true},
		{"", "", false},
		{"   ", "", false},
		{"ada", "", false},
		{"ada@", "", false},
		{"@example.com", "", false},
		{"Ada <ada@example.com>", "", false},
		{"<ada@example.com>", "", false},
		{"a b@example.com", "", false},
		{"a@b@c", "", false},
		{strings.Repeat("a", 64) + "@" + strings.Repeat("b", 186) + ".com", "", false}, // 255 characters
		{"ada@exa\xffmple.com", "", false},
	} {
		got, err := domain.NewEmail(tc.in)
		if (err == nil) != tc.ok || got.String() != tc.want {
			t.Errorf("NewEmail(%q) = %q, %v; want %q ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestValidatePassword(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"12345678", true},
		{"correct horse battery staple", true},
		{"ümlautsß", true}, // 8 characters, more bytes
		{strings.Repeat("x", 128), true},
		{"1234567", false},
		{strings.Repeat("x", 129), false},
		{"        ", false},
		{"\t\n \u00a0\u2003\t\n ", false},
		{"", false},
		{"abcdefg\xff", false},
	} {
		if err := domain.ValidatePassword(tc.in); (err == nil) != tc.ok {
			t.Errorf("ValidatePassword(%q) = %v, want ok=%v", tc.in, err, tc.ok)
		}
	}
}

func TestNewDisplayName(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"Ada", "Ada", true},
		{"  Ada Lovelace  ", "Ada Lovelace", true},
		{strings.Repeat("é", 100), strings.Repeat("é", 100), true},
		{"", "", false},
		{"   ", "", false},
		{strings.Repeat("x", 101), "", false},
		{"a\x00b", "", false},
		{"a\nb", "", false},
	} {
		got, err := domain.NewDisplayName(tc.in)
		if (err == nil) != tc.ok || got.String() != tc.want {
			t.Errorf("NewDisplayName(%q) = %q, %v; want %q ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func FuzzNewEmail(f *testing.F) {
	for _, s := range []string{"ada@example.com", " A@B.C ", "<a@b>", "\"a b\"@c.d", "a@[1.2.3.4]", "x", "İ@example.com"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := domain.NewEmail(s)
		if err != nil {
			return
		}
		got := e.String()
		if got != strings.ToLower(got) || got != strings.TrimSpace(got) || !utf8.ValidString(got) ||
			utf8.RuneCountInString(got) > domain.MaxEmailLen {
			t.Fatalf("NewEmail(%q) = %q: not normalised", s, got)
		}
		again, err := domain.NewEmail(got)
		if err != nil || again != e {
			t.Fatalf("NewEmail(%q) = %q does not validate again: %v", s, got, err)
		}
	})
}

func FuzzValidatePassword(f *testing.F) {
	for _, s := range []string{"12345678", "       ", "", "\xff\xff\xff\xff\xff\xff\xff\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if domain.ValidatePassword(s) != nil {
			return
		}
		n := utf8.RuneCountInString(s)
		if n < domain.MinPasswordLen || n > domain.MaxPasswordLen || strings.TrimSpace(s) == "" {
			t.Fatalf("accepted %q", s)
		}
	})
}

func FuzzNewDisplayName(f *testing.F) {
	for _, s := range []string{"Ada", " ", "a\x00", "\u202eevil"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := domain.NewDisplayName(s)
		if err != nil {
			return
		}
		if d.String() == "" || utf8.RuneCountInString(d.String()) > domain.MaxDisplayNameLen || d.String() != strings.TrimSpace(d.String()) {
			t.Fatalf("NewDisplayName(%q) = %q", s, d)
		}
	})
}
