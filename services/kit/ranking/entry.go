package ranking

// Validation of arguments, the order of entries, and their encoding in Redis.

import (
	"fmt"
	"math"
	"strings"
)

const (
	// MaxIDLen bounds a board's and a member's length in bytes.
	MaxIDLen = 128
	// MaxTiebreakLen bounds an entry's Tiebreak in bytes.
	MaxTiebreakLen = 64
	// MaxLimit bounds a page's size.
	MaxLimit = 1000
)

func checkBoard(board string) error {
	switch {
	case board == "":
		return fmt.Errorf("%w board: empty", ErrInvalid)
	case len(board) > MaxIDLen:
		return fmt.Errorf("%w board: %d bytes, at most %d", ErrInvalid, len(board), MaxIDLen)
	case strings.ContainsAny(board, "{}"):
		// The board is the keys' hash tag: a brace would cut it short.
		return fmt.Errorf("%w board %q: braces", ErrInvalid, board)
	}
	return nil
}

func checkMember(member string) error {
	switch {
	case member == "":
		return fmt.Errorf("%w member: empty", ErrInvalid)
	case len(member) > MaxIDLen:
		return fmt.Errorf("%w member: %d bytes, at most %d", ErrInvalid, len(member), MaxIDLen)
	}
	return nil
}

// checkEntry validates what Upsert is given and what a LoadFunc returns.
func checkEntry(e *Entry) error {
	if err := checkMember(e.Member); err != nil {
		return err
	}
	switch {
	case math.IsNaN(e.Score) || math.IsInf(e.Score, 0):
		return fmt.Errorf("%w member %q: score %v is not finite", ErrInvalid, e.Member, e.Score)
	case len(e.Tiebreak) > MaxTiebreakLen:
		return fmt.Errorf("%w member %q: tiebreak of %d bytes, at most %d", ErrInvalid, e.Member, len(e.Tiebreak), MaxTiebreakLen)
	case strings.IndexByte(e.Tiebreak, 0) >= 0:
		// NUL separates the tiebreak from the member in the zset.
		return fmt.Errorf("%w member %q: NUL in tiebreak", ErrInvalid, e.Member)
	}
	return nil
}

func checkPage(board string, offset, limit int, load LoadFunc) error {
	if err := checkBoard(board); err != nil {
		return err
	}
	switch {
	case offset < 0:
		return fmt.Errorf("%w offset %d: negative", ErrInvalid, offset)
	case limit < 1 || limit > MaxLimit:
		return fmt.Errorf("%w limit %d: not in 1..%d", ErrInvalid, limit, MaxLimit)
	case load == nil:
		return fmt.Errorf("%w: nil LoadFunc", ErrInvalid)
	}
	return nil
}

// compare orders entries as the board does: score descending, then tiebreak
// ascending, then member ascending, bytewise. It is the order Redis gives the
// zset members (see zmember): equal negated scores order by the member's
// bytes, and as the tiebreak holds no NUL, "<tiebreak>\x00<member>" compares
// as the tiebreak, then the member.
func compare(a, b *Entry) int {
	switch {
	case a.Score > b.Score:
		return -1
	case a.Score < b.Score:
		return 1
	}
	if c := strings.Compare(a.Tiebreak, b.Tiebreak); c != 0 {
		return c
	}
	return strings.Compare(a.Member, b.Member)
}

// zmember is an entry's member of the zset.
func zmember(tiebreak, member string) string { return tiebreak + "\x00" + member }

// hvalue is an entry's value in the hash: its tiebreak (from which, with the
// member, an update finds the entry's zset member) and its payload.
func hvalue(tiebreak string, payload []byte) string {
	return tiebreak + "\x00" + string(payload)
}

// zscore is the zset score of an entry: negated, so that ascending is best first.
func zscore(score float64) float64 { return -score }

// decode is the entry a zset member, its zset score and its hash value stand for.
func decode(zm string, score float64, hv string) (Entry, error) {
	i := strings.IndexByte(zm, 0)
	if i < 0 {
		return Entry{}, fmt.Errorf("zset member %q without a separator", zm)
	}
	tiebreak, member := zm[:i], zm[i+1:]
	if len(hv) <= len(tiebreak) || hv[:len(tiebreak)] != tiebreak || hv[len(tiebreak)] != 0 {
		return Entry{}, fmt.Errorf("member %q: hash value does not start with its tiebreak", member)
	}
	return Entry{
		Member:   member,
		Score:    -score,
		Tiebreak: tiebreak,
		Payload:  []byte(hv[len(tiebreak)+1:]),
	}, nil
}
