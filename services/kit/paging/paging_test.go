package paging_test

import (
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/progressive-overload/po/services/kit/paging"
)

func TestCursorRoundTrip(t *testing.T) {
	for _, c := range []struct {
		kind string
		keys []int64
	}{{"", []int64{1}}, {"", []int64{math.MaxInt64}}, {"c", []int64{42}}, {"l", []int64{math.MaxInt64, math.MaxInt64}}} {
		s := paging.EncodeCursor(c.kind, c.keys...)
		if len(s) > paging.MaxCursorLen {
			t.Errorf("%v: cursor %q is longer than %d", c, s, paging.MaxCursorLen)
		}
		got, ok := paging.DecodeCursor(s, c.kind, len(c.keys))
		if !ok || !slices.Equal(got, c.keys) {
			t.Errorf("%v: round trip %v, %v", c, got, ok)
		}
	}
}

func TestBadCursors(t *testing.T) {
	log := paging.EncodeCursor("l", 5, 6)
	for _, c := range []struct{ s, kind string }{
		{"", ""}, {"!", ""}, {"MA", ""}, {"LTE", ""}, {"MDE", ""}, {"KzE", ""}, {"MQ==", ""},
		{"OTIyMzM3MjAzNjg1NDc3NTgwOA", ""}, // MaxInt64 + 1
		{paging.EncodeCursor("c", 1), "l"}, {log, "c"}, {log[:len(log)-1] + "\n" + log[len(log)-1:], "l"},
		{strings.Repeat("A", paging.MaxCursorLen+1), ""},
	} {
		if keys, ok := paging.DecodeCursor(c.s, c.kind, 1); ok {
			t.Errorf("DecodeCursor(%q, %q) = %v", c.s, c.kind, keys)
		}
	}
	if _, ok := paging.DecodeCursor(log, "l", 1); ok {
		t.Error("a two-key cursor decoded as one key")
	}
}

func FuzzDecodeCursor(f *testing.F) {
	for _, s := range []string{"", "MQ", "MA", "!!", "bDEuMg", "YzE"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, c := range []struct {
			kind string
			n    int
		}{{"", 1}, {"c", 1}, {"l", 2}} {
			keys, ok := paging.DecodeCursor(s, c.kind, c.n)
			if ok && paging.EncodeCursor(c.kind, keys...) != s {
				t.Fatalf("DecodeCursor(%q, %q) = %v, which encodes differently", s, c.kind, keys)
			}
		}
	})
}

func TestLimit(t *testing.T) {
	n := func(v int) *int { return &v }
	for _, c := range []struct {
		in   *int
		want int
		ok   bool
	}{{nil, 20, true}, {n(1), 1, true}, {n(100), 100, true}, {n(0), 0, false}, {n(101), 101, false}, {n(-1), -1, false}} {
		if got, ok := paging.Limit(c.in); got != c.want || ok != c.ok {
			t.Errorf("Limit(%v) = %d, %v", c.in, got, ok)
		}
	}
}
