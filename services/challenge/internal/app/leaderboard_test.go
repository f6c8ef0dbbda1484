package app

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/progressive-overload/po/services/challenge/internal/domain"
)

func TestEntryPayloadRoundTrip(t *testing.T) {
	gain := 2.92
	for _, v := range []EntryView{
		{UserID: 7, DisplayName: "Ada", Sessions: 2, TargetsMet: 2, Volume: 3062.5, BestE1RMGain: &gain,
			ReachedAt: time.Date(2026, 1, 7, 18, 0, 0, 123000, time.UTC)},
		{UserID: 1<<63 - 1, DisplayName: "User 9223372036854775807", ReachedAt: time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)},
		{UserID: 8, DisplayName: "Ünïcödé 名前", Sessions: 5, TargetsMet: 0, Volume: 36, ReachedAt: time.Date(2999, 12, 31, 23, 59, 59, 0, time.UTC)},
	} {
		b, err := EncodeEntryPayload(v)
		if err != nil {
			t.Fatal(err)
		}
		got, err := DecodeEntryPayload(b)
		if err != nil || !reflect.DeepEqual(got, v) {
			t.Fatalf("%+v → %s → %+v, %v", v, b, got, err)
		}
		// What a board stores is never more than the view: no rank, no
		// adherence, no note, no email.
		var fields map[string]any
		if err := json.Unmarshal(b, &fields); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"rank", "adherence", "note", "email"} {
			if _, ok := fields[k]; ok {
				t.Fatalf("payload holds %q: %s", k, b)
			}
		}
	}
}

func TestDisplayName(t *testing.T) {
	for in, want := range map[string]string{"Ada": "Ada", "  Ada ": "Ada", "": "User 42", "   ": "User 42"} {
		if got := DisplayName(42, in); got != want {
			t.Errorf("DisplayName(42, %q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzDecodeEntryPayload: a payload is decoded only if it names a positive
// user, a non-empty name of at most 100 characters, counts with targets met
// ≤ sessions, a finite non-negative volume and a reach time of a four-digit
// year; whatever it accepts re-encodes to a payload that decodes the same.
func FuzzDecodeEntryPayload(f *testing.F) {
	for _, seed := range []string{
		`{"userId":7,"displayName":"Ada","sessions":2,"targetsMet":2,"volume":3062.5,"bestE1rmGain":2.92,"reachedAt":"2026-01-07T18:00:00Z"}`,
		`{"userId":7,"displayName":"Ada","sessions":0,"targetsMet":0,"volume":0,"bestE1rmGain":null,"reachedAt":"2026-01-07T18:00:00Z"}`,
		`{"userId":0,"displayName":"A","sessions":0,"targetsMet":0,"volume":0,"bestE1rmGain":null,"reachedAt":"2026-01-07T18:00:00Z"}`,
		`{"userId":7,"displayName":"","sessions":1,"targetsMet":2,"volume":-1,"reachedAt":"0001-01-01T00:00:00Z"}`,
		`{"userId":7,"displayName":"A","extra":1}`, `{}`, `null`, `[]`, ``, `{"userId":7}{"userId":8}`,
		`{"userId":7,"displayName":"\ud800","sessions":1,"targetsMet":1,"volume":1e308,"reachedAt":"2026-01-07T18:00:00+14:00"}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := DecodeEntryPayload(b)
		if err != nil {
			return
		}
		if v.UserID <= 0 || v.DisplayName == "" || v.TargetsMet > v.Sessions || v.TargetsMet < 0 ||
			v.Volume < 0 || math.IsInf(v.Volume, 0) || v.ReachedAt.Location() != time.UTC {
			t.Fatalf("accepted %s as %+v", b, v)
		}
		again, err := EncodeEntryPayload(v)
		if err != nil {
			t.Fatalf("re-encode %+v: %v", v, err)
		}
		w, err := DecodeEntryPayload(again)
		if err != nil || !reflect.DeepEqual(v, w) {
			t.Fatalf("%s → %+v → %s → %+v, %v", b, v, again, w, err)
		}
	})
}

// FuzzDecodeLeaderboardCursor: a cursor decodes exactly when it is one
// EncodeLeaderboardCursor makes for an offset 1..1000, to that offset;
// anything else is a 422 on cursor.
func FuzzDecodeLeaderboardCursor(f *testing.F) {
	for _, s := range []string{"", EncodeLeaderboardCursor(1), EncodeLeaderboardCursor(1000), EncodeLeaderboardCursor(1001),
		EncodeChallengeCursor(5), "cjA", "cjAx", "cjE=", "====", "r1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		off, err := DecodeLeaderboardCursor(s)
		if err != nil {
			var ve *domain.ValidationError
			if !errors.As(err, &ve) || ve.Fields[0].Field != "cursor" {
				t.Fatalf("%q: %v is not a 422 on cursor", s, err)
			}
			return
		}
		if s == "" {
			if off != 0 {
				t.Fatalf("empty cursor → %d", off)
			}
			return
		}
		if off < 1 || off > domain.MaxGroupParticipants || EncodeLeaderboardCursor(off) != s {
			t.Fatalf("%q → %d", s, off)
		}
	})
}

// ComputedBoards ranks as the Redis store does: score descending, then
// tiebreak, then member; pages are slices of that order.
func TestComputedBoards(t *testing.T) {
	entries := []BoardEntry{
		{Member: "3", Score: 5, Tiebreak: "b"},
		{Member: "1", Score: 7, Tiebreak: "z"},
		{Member: "2", Score: 5, Tiebreak: "a"},
		{Member: "5", Score: 5, Tiebreak: "b"},
		{Member: "4", Score: 0, Tiebreak: "a"},
	}
	load := func(context.Context, string) ([]BoardEntry, error) { return append([]BoardEntry(nil), entries...), nil }
	ctx := context.Background()
	p, err := ComputedBoards{}.Page(ctx, "1", 1, 3, load)
	if err != nil || p.Total != 5 || p.Source != "fallback" {
		t.Fatalf("page %+v %v", p, err)
	}
	var got []string
	for _, e := range p.Entries {
		got = append(got, strconv.Itoa(e.Rank)+":"+e.Member)
	}
	if want := []string{"2:2", "3:3", "4:5"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("page %v, want %v", got, want)
	}
	if p, _ := (ComputedBoards{}).Page(ctx, "1", 5, 3, load); len(p.Entries) != 0 || p.Total != 5 {
		t.Fatalf("page past the end %+v", p)
	}
	if r, ok, err := (ComputedBoards{}).Rank(ctx, "1", "4", load); !ok || err != nil || r.Rank != 5 {
		t.Fatalf("rank of 4: %+v %v %v", r, ok, err)
	}
	if _, ok, _ := (ComputedBoards{}).Rank(ctx, "1", "9", load); ok {
		t.Fatal("a member not on the board ranked")
	}
}

// entryView answers what DecodeEntryPayload does, from memory the second
// time, errors included (never remembered); the memo stays within its
// bound.
func TestEntryViewRemembersDecodedPayloads(t *testing.T) {
	a := New(nil, Options{})
	a.payloads = newMemo[string, EntryView](3)
	payload := func(uid int64) []byte {
		b, err := EncodeEntryPayload(EntryView{UserID: uid, DisplayName: "U", Sessions: 1, TargetsMet: 1, Volume: 10,
			ReachedAt: time.Date(2026, 1, 7, 0, 0, 0, 0, time.UTC)})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for round := range 2 {
		for uid := int64(1); uid <= 3; uid++ {
			p := payload(uid)
			want, _ := DecodeEntryPayload(p)
			got, err := a.entryView(p)
			if err != nil || !reflect.DeepEqual(got, want) {
				t.Fatalf("round %d, user %d: %+v %v, want %+v", round, uid, got, err, want)
			}
		}
	}
	if n := len(a.payloads.m); n != 3 {
		t.Fatalf("%d payloads remembered, want 3", n)
	}
	a.entryView(payload(4))
	if n := len(a.payloads.m); n != 1 {
		t.Fatalf("%d payloads remembered past the bound of 3, want 1 (started over)", n)
	}
	bad := []byte(`{"userId":0}`)
	if _, err := a.entryView(bad); err == nil {
		t.Fatal("a bad payload decoded")
	}
	if _, err := a.entryView(bad); err == nil {
		t.Fatal("a bad payload decoded the second time")
	}
}
