package httpport

import (
	"bytes"
	"encoding/json"
	"math"
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
