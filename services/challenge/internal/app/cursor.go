package app

import (
	"time"

	"github.com/progressive-overload/po/services/challenge/internal/domain"
	"github.com/progressive-overload/po/services/kit/paging"
)

// Cursors are kit/paging cursors. Logs: kind "l", keys performed_at (unix
// µs) and id; challenges: kind "c", key id. The kind keeps one list's cursor
// from being accepted by the other.
const (
	logCursorKind       = "l"
	challengeCursorKind = "c"
)

// EncodeLogCursor is the cursor of the page after the log at c.
func EncodeLogCursor(c LogCursor) string {
	return paging.EncodeCursor(logCursorKind, c.PerformedAt.UnixMicro(), c.ID)
}

// DecodeLogCursor parses a cursor from EncodeLogCursor; "" is the first page
// (nil). Anything else that does not parse is a 422 on "cursor".
func DecodeLogCursor(s string) (*LogCursor, error) {
	if s == "" {
		return nil, nil
	}
	k, ok := paging.DecodeCursor(s, logCursorKind, 2)
	if !ok {
		return nil, errBadCursor
	}
	return &LogCursor{PerformedAt: time.UnixMicro(k[0]).UTC(), ID: k[1]}, nil
}

// EncodeChallengeCursor is the cursor of the page after challenge id.
func EncodeChallengeCursor(id int64) string {
	return paging.EncodeCursor(challengeCursorKind, id)
}

// DecodeChallengeCursor parses a cursor from EncodeChallengeCursor; "" is 0.
func DecodeChallengeCursor(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	k, ok := paging.DecodeCursor(s, challengeCursorKind, 1)
	if !ok {
		return 0, errBadCursor
	}
	return k[0], nil
}

var errBadCursor = domain.Invalid("cursor", paging.CursorMessage)

// Weeks: kind "w", key the day number of the week's Monday (weekDay).
const weekCursorKind = "w"

// EncodeWeekCursor is the cursor of the page of weeks before weekDay.
func EncodeWeekCursor(weekDay int64) string {
	return paging.EncodeCursor(weekCursorKind, weekDay)
}

// DecodeWeekCursor parses a cursor from EncodeWeekCursor; "" is 0 (the
// first page). Anything else that does not parse is a 422 on "cursor".
func DecodeWeekCursor(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	k, ok := paging.DecodeCursor(s, weekCursorKind, 1)
	if !ok {
		return 0, errBadCursor
	}
	return k[0], nil
}

// Groups ("g", key the group id), invites ("i", the invite id) and
// leaderboard pages ("r", the offset of the page's first entry: a board is
// ranked, not keyed, so its pages are positions).
const (
	groupCursorKind       = "g"
	inviteCursorKind      = "i"
	leaderboardCursorKind = "r"
)

func encodeIDCursor(kind string, id int64) string { return paging.EncodeCursor(kind, id) }

// decodeIDCursor parses a cursor of kind with one positive key; "" is 0.
func decodeIDCursor(kind, s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	k, ok := paging.DecodeCursor(s, kind, 1)
	if !ok {
		return 0, errBadCursor
	}
	return k[0], nil
}

// EncodeLeaderboardCursor is the cursor of the page starting at offset (> 0).
func EncodeLeaderboardCursor(offset int) string {
	return paging.EncodeCursor(leaderboardCursorKind, int64(offset))
}

// DecodeLeaderboardCursor parses a cursor from EncodeLeaderboardCursor; ""
// is the first page (0). An offset past any board's size is refused too.
func DecodeLeaderboardCursor(s string) (int, error) {
	off, err := decodeIDCursor(leaderboardCursorKind, s)
	if err != nil || off > domain.MaxGroupParticipants {
		return 0, errBadCursor
	}
	return int(off), nil
}
