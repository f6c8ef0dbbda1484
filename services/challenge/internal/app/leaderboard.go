package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/progressive-overload/po/services/challenge/internal/domain"
)

// Leaderboards keeps one ranked board per group (kit/ranking: Redis sorted
// sets) in step with MySQL, which stays the truth: every committed change
// of a participant's logs or place brings their entry up to date (Upsert,
// Remove), and a board that is missing is rebuilt from MySQL through load.
// Entries rank by Score, higher first, then by Tiebreak, smaller first.
type Leaderboards interface {
	// Page is the entries at offset..offset+limit-1 and the board's size.
	Page(ctx context.Context, board string, offset, limit int, load BoardLoader) (BoardPage, error)
	// Rank is one member's entry and rank; false when not on the board.
	Rank(ctx context.Context, board, member string, load BoardLoader) (RankedEntry, bool, error)
	// Upsert adds or replaces a member's entry; call it after the commit.
	Upsert(ctx context.Context, board string, e BoardEntry) error
	// Remove takes a member off; call it after the commit.
	Remove(ctx context.Context, board, member string) error
}

// ErrLeaderboardOverloaded: the board could not be read from Redis nor
// computed from MySQL within the store's bounds; the ports answer 503 with
// Retry-After.
var ErrLeaderboardOverloaded = errors.New("leaderboard overloaded")

// BoardEntry is one member of a board. Payload is the entry's JSON as the
// API shows it, less what is computed when read (rank, adherence).
type BoardEntry struct {
	Member   string
	Score    float64
	Tiebreak string
	Payload  []byte
}

// RankedEntry is an entry with its rank (1 for the first).
type RankedEntry struct {
	BoardEntry
	Rank int
}

// BoardPage is one page of a board; Source says where it came from:
// "redis", "rebuild" (Redis, after rebuilding the board from MySQL) or
// "fallback" (computed from MySQL, Redis being unavailable).
type BoardPage struct {
	Entries []RankedEntry
	Total   int
	Source  string
}

// BoardLoader reads a whole board from MySQL.
type BoardLoader func(ctx context.Context, board string) ([]BoardEntry, error)

// ComputedBoards is Leaderboards without Redis: every read computes the
// board from MySQL (bounded: a group has at most domain.MaxGroupParticipants
// members), and writes have nothing to keep in step.
type ComputedBoards struct{}

var _ Leaderboards = ComputedBoards{}

func (ComputedBoards) Page(ctx context.Context, board string, offset, limit int, load BoardLoader) (BoardPage, error) {
	ranked, err := rankAll(ctx, board, load)
	if err != nil {
		return BoardPage{}, err
	}
	p := BoardPage{Total: len(ranked), Source: "fallback"}
	if offset < len(ranked) {
		p.Entries = ranked[offset:min(len(ranked), offset+limit)]
	}
	return p, nil
}

func (ComputedBoards) Rank(ctx context.Context, board, member string, load BoardLoader) (RankedEntry, bool, error) {
	ranked, err := rankAll(ctx, board, load)
	if err != nil {
		return RankedEntry{}, false, err
	}
	for _, e := range ranked {
		if e.Member == member {
			return e, true, nil
		}
	}
	return RankedEntry{}, false, nil
}

func (ComputedBoards) Upsert(context.Context, string, BoardEntry) error { return nil }
func (ComputedBoards) Remove(context.Context, string, string) error     { return nil }

// rankAll orders a loaded board as the store does: score descending, then
// tiebreak, then member.
func rankAll(ctx context.Context, board string, load BoardLoader) ([]RankedEntry, error) {
	entries, err := load(ctx, board)
	if err != nil {
		return nil, err
	}
	slices.SortFunc(entries, func(a, b BoardEntry) int {
		switch {
		case a.Score != b.Score:
			if a.Score > b.Score {
				return -1
			}
			return 1
		case a.Tiebreak != b.Tiebreak:
			return strings.Compare(a.Tiebreak, b.Tiebreak)
		}
		return strings.Compare(a.Member, b.Member)
	})
	out := make([]RankedEntry, len(entries))
	for i, e := range entries {
		out[i] = RankedEntry{BoardEntry: e, Rank: i + 1}
	}
	return out, nil
}

// EntryView is one leaderboard entry as the API shows it: a display name
// and progress, never notes or emails.
type EntryView struct {
	Rank         int       `json:"rank"`
	UserID       int64     `json:"userId"`
	DisplayName  string    `json:"displayName"`
	Adherence    float64   `json:"adherence"`
	Sessions     int       `json:"sessions"`
	TargetsMet   int       `json:"targetsMet"`
	Volume       float64   `json:"volume"`
	BestE1RMGain *float64  `json:"bestE1rmGain"`
	ReachedAt    time.Time `json:"reachedAt"`
}

// LeaderboardView is one page of a group's leaderboard.
type LeaderboardView struct {
	GroupID      int64
	PlannedSoFar int
	Total        int
	Items        []EntryView
	You          *EntryView
	NextCursor   string
	Source       string
}

// entryPayload is what a board stores of an entry: the view less what
// depends on the read (rank, adherence's denominator).
type entryPayload struct {
	UserID       int64     `json:"userId"`
	DisplayName  string    `json:"displayName"`
	Sessions     int       `json:"sessions"`
	TargetsMet   int       `json:"targetsMet"`
	Volume       float64   `json:"volume"`
	BestE1RMGain *float64  `json:"bestE1rmGain"`
	ReachedAt    time.Time `json:"reachedAt"`
}

// maxPayloadLen bounds what DecodeEntryPayload reads: a payload is about
// 200 bytes, its display name at most 100 characters.
const maxPayloadLen = 2048

// DecodeEntryPayload parses a stored entry's payload, refusing anything
// EncodeEntryPayload cannot have made: the store is shared, and a corrupt
// member must fail its read rather than show garbage.
func DecodeEntryPayload(b []byte) (EntryView, error) {
	var p entryPayload
	if len(b) > maxPayloadLen {
		return EntryView{}, errors.New("leaderboard payload too long")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return EntryView{}, fmt.Errorf("leaderboard payload: %w", err)
	}
	if dec.More() {
		return EntryView{}, errors.New("leaderboard payload: trailing data")
	}
	switch {
	case p.UserID <= 0:
		return EntryView{}, errors.New("leaderboard payload: user id must be positive")
	case !utf8.ValidString(p.DisplayName) || p.DisplayName == "" || utf8.RuneCountInString(p.DisplayName) > maxDisplayName:
		return EntryView{}, errors.New("leaderboard payload: bad display name")
	case p.Sessions < 0 || p.TargetsMet < 0 || p.TargetsMet > p.Sessions:
		return EntryView{}, errors.New("leaderboard payload: bad counts")
	case p.Volume < 0 || math.IsInf(p.Volume, 0):
		return EntryView{}, errors.New("leaderboard payload: bad volume")
	case p.BestE1RMGain != nil && math.IsInf(*p.BestE1RMGain, 0):
		return EntryView{}, errors.New("leaderboard payload: bad gain")
	case p.ReachedAt.IsZero() || p.ReachedAt.Year() < 2000 || p.ReachedAt.Year() > 9999:
		return EntryView{}, errors.New("leaderboard payload: bad reach time")
	}
	return EntryView{UserID: p.UserID, DisplayName: p.DisplayName, Sessions: p.Sessions, TargetsMet: p.TargetsMet,
		Volume: p.Volume, BestE1RMGain: p.BestE1RMGain, ReachedAt: p.ReachedAt.UTC()}, nil
}

// EncodeEntryPayload is what a board stores of v (rank and adherence are
// left out).
func EncodeEntryPayload(v EntryView) ([]byte, error) {
	return json.Marshal(entryPayload{UserID: v.UserID, DisplayName: v.DisplayName, Sessions: v.Sessions,
		TargetsMet: v.TargetsMet, Volume: v.Volume, BestE1RMGain: v.BestE1RMGain, ReachedAt: v.ReachedAt.UTC()})
}

// maxDisplayName is the account service's limit.
const maxDisplayName = 100

// DisplayName is what a board shows of a user: the name the account
// service's events last carried, "User <id>" until one arrived (the window
// between joining and the validation, or a user no event named since names
// were carried).
func DisplayName(userID int64, name string) string {
	if name = strings.TrimSpace(name); name != "" {
		return name
	}
	return "User " + strconv.FormatInt(userID, 10)
}

func memberOf(userID int64) string { return strconv.FormatInt(userID, 10) }

// boardEntry computes a member's entry.
func boardEntry(g *domain.Group, m BoardMember, now time.Time) (BoardEntry, error) {
	zone, _ := Zone(m.Zone) // an unknown zone groups in UTC, as progress does
	uid := m.Participant.UserID()
	st := domain.ComputeStanding(g.Plan(), m.Logs, zone, m.Participant.JoinedAt(), now)
	payload, err := EncodeEntryPayload(EntryView{UserID: uid, DisplayName: DisplayName(uid, m.DisplayName),
		Sessions: st.Sessions, TargetsMet: st.TargetsMet, Volume: st.Volume, BestE1RMGain: st.BestE1RMGain,
		ReachedAt: st.ReachedAt})
	if err != nil {
		return BoardEntry{}, err
	}
	return BoardEntry{Member: memberOf(uid), Score: st.Score(), Tiebreak: st.Tiebreak(uid), Payload: payload}, nil
}

// boardLoader reads g's whole board from MySQL: one query for its members
// with their profiles, one for their logs.
func (a *Application) boardLoader(g *domain.Group) BoardLoader {
	return func(ctx context.Context, _ string) ([]BoardEntry, error) {
		members, err := a.repo.BoardMembers(ctx, g.ID(), 0)
		if err != nil {
			return nil, err
		}
		now := a.now()
		out := make([]BoardEntry, 0, len(members))
		for _, m := range members {
			e, err := boardEntry(g, m, now)
			if err != nil {
				return nil, err
			}
			out = append(out, e)
		}
		return out, nil
	}
}

// Leaderboard is one page of a group's board, for its participants (pending
// or active) and admins; 404 for anyone else. You is the caller's own entry
// wherever it ranks.
func (a *Application) Leaderboard(ctx context.Context, actor Actor, groupID int64, limit *int, cursor string) (LeaderboardView, error) {
	var invalid []domain.FieldError
	n, err := pageSize(limit)
	invalid = appendFieldErrors(invalid, err)
	offset, err := DecodeLeaderboardCursor(cursor)
	invalid = appendFieldErrors(invalid, err)
	if len(invalid) > 0 {
		return LeaderboardView{}, &domain.ValidationError{Fields: invalid}
	}
	g, p, _, err := a.accessVia(ctx, actor, groupID, a.boardGroup)
	if err != nil {
		return LeaderboardView{}, err
	}
	load := a.boardLoader(g)
	board := groupKey(g.ID())
	page, err := a.boards.Page(ctx, board, offset, n, load)
	if err != nil {
		return LeaderboardView{}, err
	}
	planned := domain.PlannedSoFar(g.Plan(), a.now())
	v := LeaderboardView{GroupID: g.ID(), PlannedSoFar: planned, Total: page.Total, Source: page.Source,
		Items: make([]EntryView, 0, len(page.Entries))}
	for _, e := range page.Entries {
		ev, err := a.rankedView(e, planned)
		if err != nil {
			return LeaderboardView{}, err
		}
		v.Items = append(v.Items, ev)
	}
	if end := offset + len(page.Entries); len(page.Entries) == n && end < page.Total {
		v.NextCursor = EncodeLeaderboardCursor(end)
	}
	if p != nil && p.Status().OnBoard() {
		me := memberOf(p.UserID())
		for _, e := range v.Items {
			if e.UserID == p.UserID() {
				v.You = &e
				break
			}
		}
		if v.You == nil {
			e, ok, err := a.boards.Rank(ctx, board, me, load)
			if err != nil {
				return LeaderboardView{}, err
			}
			if ok {
				ev, err := a.rankedView(e, planned)
				if err != nil {
					return LeaderboardView{}, err
				}
				v.You = &ev
			}
		}
	}
	return v, nil
}

func (a *Application) rankedView(e RankedEntry, planned int) (EntryView, error) {
	v, err := a.entryView(e.Payload)
	if err != nil {
		return EntryView{}, fmt.Errorf("entry %q: %w", e.Member, err)
	}
	v.Rank = e.Rank
	v.Adherence = domain.Adherence(v.TargetsMet, planned)
	return v, nil
}

// boardGroup is the group of a leaderboard read, from MySQL the first time
// and from memory after that. A leaderboard needs only what a group never
// changes once created: its id, owner and plan (whether it is open to
// joining, and when that last changed, are not read on this path), and
// groups are never deleted. So the copy cannot be stale in anything the
// read uses, and the access check's one MySQL read left is the caller's
// place, which does change. In the bench's groups phase the group's read
// was 17% of the service's CPU.
func (a *Application) boardGroup(ctx context.Context, id int64) (*domain.Group, error) {
	if g, ok := a.groups.get(id); ok {
		return g, nil
	}
	g, err := a.repo.GetGroup(ctx, id)
	if err != nil {
		return nil, err
	}
	a.groups.put(id, g)
	return g, nil
}

// entryView is DecodeEntryPayload, remembered by the payload's bytes: a
// page decodes each of its entries on every read, and the same payloads
// come back until their members log again. A pure function of the bytes,
// so what it remembers cannot go stale. In the bench's groups phase the
// decoding was 10% of the service's CPU.
func (a *Application) entryView(payload []byte) (EntryView, error) {
	if v, ok := getBytes(a.payloads, payload); ok {
		return v, nil
	}
	v, err := DecodeEntryPayload(payload)
	if err != nil {
		return EntryView{}, err
	}
	a.payloads.put(string(payload), v)
	return v, nil
}

// refreshLocks serialize the refreshes of one entry (striped: entries that
// share a stripe wait for each other, which costs a few milliseconds at most).
var refreshLocks [64]sync.Mutex

// BoardRef names one member of one group's board.
type BoardRef struct{ GroupID, UserID int64 }

// refreshBoard brings userID's entry on the group's board in step with
// MySQL: recomputed from their logs while they are pending or active,
// removed otherwise. Call it after the commit that changed them, before the
// answer (a participant's next read sees their new log). A failure is
// logged, not returned: the write has committed, and the store rebuilds a
// board it could not keep (kit/ranking).
func (a *Application) refreshBoard(ctx context.Context, groupID, userID int64) {
	if err := a.refreshBoardErr(ctx, groupID, userID); err != nil {
		a.log.WarnContext(ctx, "update leaderboard", "group_id", groupID, "user_id", userID, "err", err)
	}
}

func (a *Application) refreshBoardErr(ctx context.Context, groupID, userID int64) error {
	// Two refreshes of one entry in this process run one after the other,
	// each reading MySQL after its own commit: the last to write has read
	// every commit before it, so a slower refresh of an older state cannot
	// land last. (Across replicas that can still happen, rarely: the entry
	// is then behind until its next change, or the board's TTL rebuilds it.)
	mu := &refreshLocks[uint64(groupID*31+userID)%uint64(len(refreshLocks))]
	mu.Lock()
	defer mu.Unlock()
	board := groupKey(groupID)
	members, err := a.repo.BoardMembers(ctx, groupID, userID)
	if err != nil {
		return err
	}
	if len(members) == 0 {
		return a.boards.Remove(ctx, board, memberOf(userID))
	}
	g, err := a.repo.GetGroup(ctx, groupID)
	if err != nil {
		return err
	}
	e, err := boardEntry(g, members[0], a.now())
	if err != nil {
		return err
	}
	return a.boards.Upsert(ctx, board, e)
}
