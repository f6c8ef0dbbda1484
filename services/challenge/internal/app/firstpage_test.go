package app

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/progressive-overload/po/services/kit/paging"
)

// firstPageRowsFor makes n rows newest first, with notes that need escapes
// on some, so items differ in length and the offsets matter.
func firstPageRowsFor(n int, r *rand.Rand) []LogView {
	rows := make([]LogView, n)
	at := time.Date(2026, 3, 1, 18, 0, 0, 123456000, time.UTC)
	for i := range rows {
		at = at.Add(-time.Duration(r.IntN(48)+1) * time.Hour)
		v := LogView{ID: int64(1000 - i), ChallengeID: int64(r.IntN(5) + 1), UserID: 7, PerformedAt: at,
			Sets: r.IntN(10) + 1, Reps: r.IntN(20) + 1, Value: float64(r.IntN(4000)) / 8, CreatedAt: at.Add(time.Minute)}
		if r.IntN(3) == 0 {
			v.Note = fmt.Sprintf("set %d <felt> \"good\" \u2028 %s", i, string(rune(0x1F4AA)))
		}
		rows[i] = v
	}
	return rows
}

// Every page size's slice of the entry is the uncached page of that size,
// byte for byte, and names the same next cursor.
func TestFirstPageSliceMatchesUncachedPage(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, total := range []int{0, 1, 2, 19, 20, 21, 22, 57, 99, 100, 101, 150} {
		all := firstPageRowsFor(total, r)
		entries := map[int][]byte{}
		for _, size := range []int{smallFirstPage, fullFirstPage} {
			fetched := all[:min(total, size+1)] // what the loader's query returns
			entry, err := encodeFirstPage(fetched, size)
			if err != nil {
				t.Fatal(err)
			}
			entries[size] = entry
		}
		for limit := 1; limit <= paging.MaxLimit; limit++ {
			want, err := encodeLogPage(logPage(all[:min(total, limit+1)], limit))
			if err != nil {
				t.Fatal(err)
			}
			size := firstPageSize(limit)
			got, err := sliceFirstPage(entries[size], limit, size)
			if err != nil {
				t.Fatalf("%d rows, limit %d: %v", total, limit, err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("%d rows, limit %d:\n got %s\nwant %s", total, limit, got, want)
			}
		}
	}
}

func TestFirstPageRefusesWhatItDidNotWrite(t *testing.T) {
	good, err := encodeFirstPage(firstPageRowsFor(3, rand.New(rand.NewPCG(3, 4))), smallFirstPage)
	if err != nil {
		t.Fatal(err)
	}
	full, err := encodeFirstPage(firstPageRowsFor(21, rand.New(rand.NewPCG(3, 4))), smallFirstPage)
	if err != nil {
		t.Fatal(err)
	}
	for name, entry := range map[string][]byte{
		"empty":                     {},
		"the old format: bare JSON": []byte(`{"items":[],"nextCursor":null}`),
		"truncated header":          good[:firstPageHeader+firstPageEntry],
		"truncated body":            good[:len(good)-1],
		"more flag not a bool":      append([]byte{firstPageMagic, 0, 0, 2}, good[4:]...),
		"more with a short page":    append([]byte{firstPageMagic, 0, 3, 1}, good[4:]...),
		"count over the size":       append([]byte{firstPageMagic, 0, 21, 0}, good[4:]...),
	} {
		if b, err := sliceFirstPage(entry, 20, smallFirstPage); err == nil {
			t.Errorf("%s: sliced to %q, want an error", name, b)
		}
	}
	// A default page's entry cannot serve a larger page, even one it holds
	// all the rows of.
	for _, entry := range [][]byte{good, full} {
		if b, err := sliceFirstPage(entry, 21, smallFirstPage); err == nil {
			t.Errorf("limit 21 of a default page's entry: sliced to %q, want an error", b)
		}
	}
}

// FuzzSliceFirstPage: whatever Redis hands back, slicing returns an error
// or a page, never a panic.
func FuzzSliceFirstPage(f *testing.F) {
	good, err := encodeFirstPage(firstPageRowsFor(5, rand.New(rand.NewPCG(5, 6))), smallFirstPage)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good, 3, true)
	f.Add(good[:30], 5, false)
	f.Add([]byte{firstPageMagic, 0, 1, 0, 255, 255, 255, 255}, 1, true)
	f.Fuzz(func(t *testing.T, entry []byte, limit int, small bool) {
		size := fullFirstPage
		if small {
			size = smallFirstPage
		}
		_, _ = sliceFirstPage(entry, limit, size)
	})
}
