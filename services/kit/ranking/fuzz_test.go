package ranking

import (
	"bytes"
	"cmp"
	"errors"
	"math"
	"strings"
	"testing"
)

// FuzzEntry checks, for any entry, that validation follows the documented
// rules (and wraps ErrInvalid); that a valid entry's Redis encoding decodes
// back to it; and that the order compare gives two valid entries is the order
// Redis gives their zset members (negated score, then the member's bytes).
// The seed corpus is in testdata/fuzz/FuzzEntry besides the cases below.
func FuzzEntry(f *testing.F) {
	f.Add("42", 100.5, "2024-01-01T00:00:00", []byte(`{"name":"a"}`), "7", 100.5, "2024-01-01T00:00:01")
	f.Add("1", 0.0, "", []byte{}, "2", math.Copysign(0, -1), "")
	f.Add("a", 1.0, "ab", []byte("x"), "b", 1.0, "a")
	f.Add("é", -1e300, "\xff", []byte("\x00"), "e", 1e-300, "\x01")
	f.Add("", math.NaN(), "a\x00b", []byte(nil), "{b}", math.Inf(1), strings.Repeat("t", 65))
	f.Fuzz(func(t *testing.T, member string, score float64, tiebreak string, payload []byte, member2 string, score2 float64, tiebreak2 string) {
		a := Entry{Member: member, Score: score, Tiebreak: tiebreak, Payload: payload}
		err := checkEntry(&a)
		valid := member != "" && len(member) <= MaxIDLen &&
			!math.IsNaN(score) && !math.IsInf(score, 0) &&
			len(tiebreak) <= MaxTiebreakLen && !strings.Contains(tiebreak, "\x00")
		if (err == nil) != valid {
			t.Fatalf("checkEntry(%+v) = %v; the rules say valid=%v", a, err, valid)
		}
		if err != nil && !errors.Is(err, ErrInvalid) {
			t.Fatalf("checkEntry error %v does not wrap ErrInvalid", err)
		}
		boardValid := member != "" && len(member) <= MaxIDLen && !strings.ContainsAny(member, "{}")
		if berr := checkBoard(member); (berr == nil) != boardValid || (berr != nil && !errors.Is(berr, ErrInvalid)) {
			t.Fatalf("checkBoard(%q) = %v; the rules say valid=%v", member, berr, boardValid)
		}
		if !valid {
			return
		}

		zm, hv := zmember(tiebreak, member), hvalue(tiebreak, payload)
		got, err := decode(zm, zscore(score), hv)
		if err != nil {
			t.Fatalf("decode(%q, %q): %v", zm, hv, err)
		}
		if got.Member != member || got.Tiebreak != tiebreak || !bytes.Equal(got.Payload, payload) ||
			math.Float64bits(got.Score) != math.Float64bits(score) {
			t.Fatalf("round trip of %+v gave %+v", a, got)
		}
		if tiebreakOf(hv) != tiebreak {
			t.Fatalf("tiebreakOf(%q) = %q, want %q", hv, tiebreakOf(hv), tiebreak)
		}

		b := Entry{Member: member2, Score: score2, Tiebreak: tiebreak2}
		if checkEntry(&b) != nil {
			return
		}
		redis := cmp.Compare(zscore(a.Score), zscore(b.Score))
		if redis == 0 {
			redis = strings.Compare(zm, zmember(b.Tiebreak, b.Member))
		}
		if c := compare(&a, &b); c != redis {
			t.Fatalf("compare(%+v, %+v) = %d; Redis orders them %d", a, b, c, redis)
		}
	})
}
