package httpport

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"testing"
	"time"

	"github.com/progressive-overload/po/services/challenge/internal/app"
)

// The logs pages are encoded by a hand-written encoder (app.LogPage.AppendJSON,
// measured: it took json.Marshal's reflection off the hottest read), the one
// copy of the WorkoutLogList shape outside the contract. It must say exactly
// what the contract's type says: every page decodes into the generated
// WorkoutLogList with no member unknown to it, and carries the same values
// as the contract's encoding of the same logs (toWorkoutLog, the handlers'
// mapping). app's TestLogPageJSON holds it byte for byte to json.Marshal.
func TestLogPageEncoderMatchesTheContract(t *testing.T) {
	t0 := time.Date(2026, 3, 14, 18, 5, 11, 482113000, time.UTC)
	cursor := "bDE3NzM1MTE1MTE0ODIxMTMuOTAyMTA"
	logs := []app.LogView{
		{ID: 1, ChallengeID: 2, UserID: 3, PerformedAt: t0, Sets: 5, Reps: 5, Value: 62.5, CreatedAt: t0.Add(time.Minute)},
		{ID: math.MaxInt64, ChallengeID: math.MaxInt64, UserID: math.MaxInt64, PerformedAt: t0.In(time.FixedZone("X", -9000)),
			Sets: 100, Reps: 1000, Value: 99999.99, Note: "felt \"strong\" <b>\u2028 ünïcode\n\ttab", CreatedAt: t0.Add(time.Nanosecond)},
		{ID: 7, ChallengeID: 8, UserID: 9, PerformedAt: t0, Sets: 1, Reps: 1, Value: 1e-7, Note: "x", CreatedAt: t0},
	}
	for _, page := range []app.LogPage{
		{Items: []app.LogView{}},
		{Items: logs},
		{Items: logs[:1], NextCursor: &cursor},
	} {
		body, err := page.AppendJSON(nil)
		if err != nil {
			t.Fatal(err)
		}
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		var got WorkoutLogList
		if err := dec.Decode(&got); err != nil {
			t.Fatalf("%s does not decode as the contract's WorkoutLogList: %v", body, err)
		}
		want := WorkoutLogList{Items: make([]WorkoutLog, len(page.Items)), NextCursor: page.NextCursor}
		for i, v := range page.Items {
			want.Items[i] = toWorkoutLog(v)
		}
		g, _ := json.Marshal(got)
		w, err := json.Marshal(want)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(g, w) {
			t.Errorf("the encoder says\n%s\nthe contract's type says\n%s", g, w)
		}
	}
}

// The fast path takes only the query strings the contract check passes
// unchanged; everything else goes to the generated binder and the check.
func TestFirstPageLimit(t *testing.T) {
	for _, tc := range []struct {
		query string
		limit Limit
		ok    bool
	}{
		{"", 0, true},
		{"limit=1", 1, true},
		{"limit=10", 10, true},
		{"limit=99", 99, true},
		{"limit=100", 100, true},
		{"limit=0", 0, false},
		{"limit=101", 0, false},
		{"limit=999", 0, false},
		{"limit=1000", 0, false},
		{"limit=010", 0, false},
		{"limit=+10", 0, false},
		{"limit=-1", 0, false},
		{"limit=1e1", 0, false},
		{"limit=", 0, false},
		{"limit", 0, false},
		{"Limit=10", 0, false},
		{"limit=10&cursor=abc", 0, false},
		{"cursor=abc", 0, false},
		{"limit=10&", 0, false},
		{"limit=%31", 0, false},
	} {
		limit, ok := firstPageLimit([]byte(tc.query))
		if limit != tc.limit || ok != tc.ok {
			t.Errorf("firstPageLimit(%q) = %d, %v; want %d, %v", tc.query, limit, ok, tc.limit, tc.ok)
		}
	}
}

// Every limit the fast path accepts is one the generated binder would bind
// to the same value: the round trip through strconv agrees for all of them.
func FuzzFirstPageLimit(f *testing.F) {
	for _, s := range []string{"", "limit=10", "limit=100", "limit=0", "limit=abc", "limit=10&cursor=x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, query string) {
		limit, ok := firstPageLimit([]byte(query))
		if !ok {
			return
		}
		if query == "" {
			if limit != 0 {
				t.Fatalf("no query gave limit %d", limit)
			}
			return
		}
		if limit < minPageLimit || limit > maxPageLimit {
			t.Fatalf("%q gave limit %d outside the contract", query, limit)
		}
		if want := "limit=" + strconv.Itoa(int(limit)); query != want {
			t.Fatalf("%q accepted as limit %d, whose canonical query is %q", query, limit, want)
		}
	})
}
