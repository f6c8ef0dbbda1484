package app

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/progressive-overload/po/services/challenge/internal/domain"
)

func testWeeks(n int) []domain.WeekStats {
	var out []domain.WeekStats
	e := 81.67
	for i := range n {
		// Newest first, as domain.WeeklyHistory returns them.
		out = append(out, domain.WeekStats{
			WeekStart: domain.MustDate(2026, 1, 5).AddDays(7 * (n - 1 - i)), Logs: i + 1, Sets: 3, Volume: 1567.5, BestE1RM: &e,
		})
	}
	return out
}

type historyPageJSON struct {
	Exercise   string     `json:"exercise"`
	Unit       string     `json:"unit"`
	Items      []WeekView `json:"items"`
	NextCursor *string    `json:"nextCursor"`
}

// Walking the pages of every size yields every week once, in order, and
// each page is valid JSON whose items equal json.Marshal's.
func TestSliceHistoryWalk(t *testing.T) {
	for _, n := range []int{0, 1, 2, 7} {
		entry, err := encodeHistory(42, `Squat "heavy" <3>`, domain.UnitKg, testWeeks(n))
		if err != nil {
			t.Fatal(err)
		}
		if owner, err := historyOwner(entry); owner != 42 || err != nil {
			t.Fatalf("owner %d, %v", owner, err)
		}
		for limit := 1; limit <= 8; limit++ {
			var got []WeekView
			var before int64
			for pages := 0; ; pages++ {
				b, err := sliceHistory(entry, before, limit)
				if err != nil {
					t.Fatal(err)
				}
				var p historyPageJSON
				if err := json.Unmarshal(b, &p); err != nil {
					t.Fatalf("n %d limit %d: %v in %s", n, limit, err, b)
				}
				if p.Exercise != `Squat "heavy" <3>` || p.Unit != "kg" || p.Items == nil || len(p.Items) > limit {
					t.Fatalf("page %s", b)
				}
				got = append(got, p.Items...)
				if p.NextCursor == nil {
					break
				}
				if before, err = DecodeWeekCursor(*p.NextCursor); err != nil || pages > n {
					t.Fatalf("cursor %q: %v after %d pages", *p.NextCursor, err, pages)
				}
			}
			if len(got) != n {
				t.Fatalf("n %d limit %d: %d weeks", n, limit, len(got))
			}
			for i, w := range testWeeks(n) {
				if got[i].WeekStart != w.WeekStart.String() || got[i].Logs != w.Logs {
					t.Fatalf("week %d: %+v", i, got[i])
				}
			}
		}
	}
}

// A cursor between weeks, or past the oldest, still pages correctly.
func TestSliceHistoryCursorAnywhere(t *testing.T) {
	entry, _ := encodeHistory(1, "Row", domain.UnitLb, testWeeks(3))
	newest := weekDay(testWeeks(3)[0].WeekStart)
	for before, want := range map[int64]int{newest + 100: 3, newest + 1: 3, newest: 2, newest - 3: 2, newest - 14: 0, 1: 0} {
		b, err := sliceHistory(entry, before, 10)
		var p historyPageJSON
		if err != nil || json.Unmarshal(b, &p) != nil || len(p.Items) != want || p.NextCursor != nil {
			t.Fatalf("before %d: %s %v, want %d weeks", before, b, err, want)
		}
	}
}

func TestWeekCursor(t *testing.T) {
	d := weekDay(domain.MustDate(2026, 1, 5))
	if got, err := DecodeWeekCursor(EncodeWeekCursor(d)); got != d || err != nil {
		t.Fatalf("%d → %d, %v", d, got, err)
	}
	var ve *domain.ValidationError
	for _, s := range []string{EncodeLogCursor(LogCursor{PerformedAt: time.Unix(1, 0), ID: 1}), EncodeChallengeCursor(3), "x"} {
		if _, err := DecodeWeekCursor(s); !errors.As(err, &ve) || ve.Fields[0].Field != "cursor" {
			t.Fatalf("%q: %v", s, err)
		}
	}
}

// Decoding never panics, and whatever decodes has exactly one spelling.
func FuzzDecodeWeekCursor(f *testing.F) {
	f.Add(EncodeWeekCursor(20458))
	f.Add("dzE")
	f.Add("YzE")
	f.Fuzz(func(t *testing.T, s string) {
		d, err := DecodeWeekCursor(s)
		if err != nil || d == 0 {
			return
		}
		if again := EncodeWeekCursor(d); again != s {
			t.Fatalf("%q decodes to %d which encodes as %q", s, d, again)
		}
	})
}

// A cached entry that is damaged (a truncated value, another format under
// the key) is refused with an error, never a panic or a page of garbage
// presented as JSON.
func FuzzSliceHistory(f *testing.F) {
	good, _ := encodeHistory(7, "Squat", domain.UnitKg, testWeeks(3))
	f.Add(good, int64(0), 2)
	f.Add(good[:len(good)-5], int64(0), 3)
	f.Add(good[:20], int64(20000), 1)
	f.Add([]byte("H"), int64(0), 1)
	f.Fuzz(func(t *testing.T, entry []byte, before int64, limit int) {
		if limit < 1 || limit > 100 {
			return
		}
		if _, err := historyOwner(entry); err != nil {
			return
		}
		b, err := sliceHistory(entry, before, limit)
		if err != nil {
			return
		}
		if len(b) < 2 || b[0] != '{' || b[len(b)-1] != '}' {
			t.Fatalf("page %q", b)
		}
	})
}
