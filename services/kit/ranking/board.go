package ranking

import (
	"fmt"
	"slices"
)

// memBoard is a board computed in memory from a LoadFunc: what a rebuild answers
// its readers with, and the whole of a fallback. Shared by concurrent readers,
// it is never modified once built.
type memBoard struct {
	entries []Entry        // in board order
	index   map[string]int // member → position in entries
}

// newBoard validates and sorts entries (in place: the LoadFunc gave them up).
func newBoard(entries []Entry) (*memBoard, error) {
	for i := range entries {
		if err := checkEntry(&entries[i]); err != nil {
			return nil, fmt.Errorf("loaded entry %d: %w", i, err)
		}
	}
	slices.SortFunc(entries, func(a, b Entry) int { return compare(&a, &b) })
	index := make(map[string]int, len(entries))
	for i := range entries {
		m := entries[i].Member
		if _, dup := index[m]; dup {
			return nil, fmt.Errorf("%w: loaded member %q twice", ErrInvalid, m)
		}
		index[m] = i
	}
	return &memBoard{entries: entries, index: index}, nil
}

func (b *memBoard) page(offset, limit int) Page {
	total := len(b.entries)
	if offset > total {
		offset = total
	}
	end := offset + min(limit, total-offset)
	out := make([]Ranked, 0, end-offset)
	for i := offset; i < end; i++ {
		out = append(out, Ranked{Entry: b.entries[i], Rank: i + 1})
	}
	return Page{Entries: out, Total: total}
}

func (b *memBoard) rank(member string) (Ranked, bool) {
	i, ok := b.index[member]
	if !ok {
		return Ranked{}, false
	}
	return Ranked{Entry: b.entries[i], Rank: i + 1}, true
}
