package domain_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/progressive-overload/po/services/challenge/internal/domain"
)

// FuzzParseInviteCode: a code is accepted exactly when it is 43 characters
// of unpadded base64url in canonical form (the oracle: the standard
// library's strict decoder and re-encoding); what is accepted round-trips
// and hashes like the bytes it names; the rest is a 422 on code.
func FuzzParseInviteCode(f *testing.F) {
	good, _ := domain.NewInviteCode(nil)
	f.Add(good.String())
	f.Add(strings.Repeat("A", 43))
	f.Add(strings.Repeat("A", 42) + "B")
	f.Add(strings.Repeat("_", 43))
	f.Add(strings.Repeat("A", 42) + "=")
	f.Add("")
	f.Add(strings.Repeat("A", 21) + "\r" + strings.Repeat("A", 21))
	f.Add(strings.Repeat("é", 22))
	f.Fuzz(func(t *testing.T, s string) {
		c, err := domain.ParseInviteCode(s)
		raw, oerr := base64.RawURLEncoding.Strict().DecodeString(s)
		valid := len(s) == 43 && oerr == nil && len(raw) == 32 &&
			base64.RawURLEncoding.EncodeToString(raw) == s && !strings.ContainsAny(s, "\r\n")
		if err != nil {
			var ve *domain.ValidationError
			if !errors.As(err, &ve) || len(ve.Fields) != 1 || ve.Fields[0].Field != "code" {
				t.Fatalf("ParseInviteCode(%q): %v is not a 422 on code", s, err)
			}
			if valid {
				t.Fatalf("ParseInviteCode refused %q: %v", s, err)
			}
			return
		}
		if !valid {
			t.Fatalf("ParseInviteCode accepted %q", s)
		}
		if c.String() != s {
			t.Fatalf("%q reads back as %q", s, c.String())
		}
		again, err := domain.NewInviteCode(bytes.NewReader(raw))
		if err != nil || again.Hash() != c.Hash() {
			t.Fatalf("hash of %q differs from its bytes': %v", s, err)
		}
	})
}

// FuzzNewInvite: the body of POST /challenges/groups/{id}/invites as the
// domain sees it. expiresAt is accepted exactly in (now, now+366d], a cap
// exactly in 2..1000; refusals name only those fields; accepted invites
// carry what was asked and are usable at once.
func FuzzNewInvite(f *testing.F) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	f.Add(true, now.Add(time.Hour).UnixMicro(), true, 2)
	f.Add(true, now.UnixMicro(), false, 0)
	f.Add(true, now.Add(366*24*time.Hour).UnixMicro(), true, 1000)
	f.Add(true, now.Add(366*24*time.Hour+time.Microsecond).UnixMicro(), true, 1001)
	f.Add(false, int64(0), true, 1)
	f.Add(false, int64(0), true, -5)
	f.Fuzz(func(t *testing.T, hasExpiry bool, micros int64, hasCap bool, maxP int) {
		var spec domain.InviteSpec
		expiry := time.UnixMicro(micros).UTC()
		if hasExpiry {
			spec.ExpiresAt = &expiry
		}
		if hasCap {
			spec.MaxParticipants = &maxP
		}
		inv, code, err := domain.NewInvite(5, spec, nil, now)
		expiryOK := !hasExpiry || (expiry.After(now) && !expiry.After(now.Add(366*24*time.Hour)))
		capOK := !hasCap || (maxP >= 2 && maxP <= 1000)
		if err != nil {
			checkValidationError(t, err, map[string]bool{"expiresAt": true, "maxParticipants": true})
			var ve *domain.ValidationError
			errors.As(err, &ve)
			_, expiryBad := ve.Field("expiresAt")
			_, capBad := ve.Field("maxParticipants")
			if expiryBad == expiryOK || capBad == capOK {
				t.Fatalf("spec %v/%v %v/%v: %v", hasExpiry, expiry, hasCap, maxP, err)
			}
			return
		}
		if !expiryOK || !capOK {
			t.Fatalf("accepted expiry %v (%v) cap %d (%v)", expiry, hasExpiry, maxP, hasCap)
		}
		if hasExpiry != !inv.ExpiresAt().IsZero() || (hasExpiry && !inv.ExpiresAt().Equal(expiry)) {
			t.Fatalf("expiresAt %v, asked %v", inv.ExpiresAt(), expiry)
		}
		if (hasCap && inv.MaxParticipants() != maxP) || (!hasCap && inv.MaxParticipants() != 0) {
			t.Fatalf("cap %d, asked %d", inv.MaxParticipants(), maxP)
		}
		if !inv.Usable(now) || inv.CodeHash() != code.Hash() || inv.GroupID() != 5 {
			t.Fatalf("invite %+v", inv)
		}
	})
}
