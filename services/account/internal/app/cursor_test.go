package app_test

import (
	"math"
	"testing"

	"github.com/progressive-overload/po/services/account/internal/app"
)

func TestCursorRoundTrip(t *testing.T) {
	for _, id := range []int64{1, 42, math.MaxInt64} {
		got, err := app.DecodeCursor(app.EncodeCursor(id))
		if err != nil || got != id {
			t.Errorf("round trip of %d: %d, %v", id, got, err)
		}
	}
	if got, err := app.DecodeCursor(""); got != 0 || err != nil {
		t.Errorf("empty cursor: %d, %v", got, err)
	}
	for _, bad := range []string{"!", "MA", "LTE", "MDE", "KzE", "OTIyMzM3MjAzNjg1NDc3NTgwOA", "MQ==", "eA"} {
		if _, err := app.DecodeCursor(bad); err == nil {
			t.Errorf("DecodeCursor(%q) accepted", bad)
		}
	}
}

func FuzzDecodeCursor(f *testing.F) {
	for _, s := range []string{"", "MQ", "MA", "!!", "OTIyMzM3MjAzNjg1NDc3NTgwNw"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := app.DecodeCursor(s)
		if err != nil || s == "" {
			return
		}
		if id <= 0 || app.EncodeCursor(id) != s {
			t.Fatalf("DecodeCursor(%q) = %d, which encodes differently", s, id)
		}
	})
}
