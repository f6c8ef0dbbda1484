package adapters

import (
	"context"
	"errors"

	"github.com/progressive-overload/po/services/challenge/internal/app"
	"github.com/progressive-overload/po/services/kit/ranking"
)

// LeaderboardName is the boards' name: the "name" label of the ranking_*
// metrics and a segment of their keys (<prefix>leaderboard:{<group id>}).
const LeaderboardName = "leaderboard"

// Leaderboards is app.Leaderboards on kit/ranking: Redis sorted sets, one
// per group, kept in step after each commit, rebuilt from MySQL under
// singleflight when missing (never with a stale load), computed from MySQL
// (at most MaxFallbacks boards at once) while Redis is down. The group id is
// the keys' hash tag, so a board's keys share a Redis Cluster slot.
type Leaderboards struct{ s *ranking.Store }

var _ app.Leaderboards = Leaderboards{}

// NewLeaderboards wraps a store.
func NewLeaderboards(s *ranking.Store) Leaderboards { return Leaderboards{s: s} }

func (l Leaderboards) Page(ctx context.Context, board string, offset, limit int, load app.BoardLoader) (app.BoardPage, error) {
	p, err := l.s.Page(ctx, board, offset, limit, loader(load))
	if err != nil {
		return app.BoardPage{}, boardErr(err)
	}
	out := app.BoardPage{Total: p.Total, Source: string(p.Source), Entries: make([]app.RankedEntry, len(p.Entries))}
	for i, e := range p.Entries {
		out.Entries[i] = fromRanked(e)
	}
	return out, nil
}

func (l Leaderboards) Rank(ctx context.Context, board, member string, load app.BoardLoader) (app.RankedEntry, bool, error) {
	r, ok, err := l.s.Rank(ctx, board, member, loader(load))
	if err != nil {
		return app.RankedEntry{}, false, boardErr(err)
	}
	return fromRanked(r), ok, nil
}

func (l Leaderboards) Upsert(ctx context.Context, board string, e app.BoardEntry) error {
	return l.s.Upsert(ctx, board, ranking.Entry{Member: e.Member, Score: e.Score, Tiebreak: e.Tiebreak, Payload: e.Payload})
}

func (l Leaderboards) Remove(ctx context.Context, board, member string) error {
	return l.s.Remove(ctx, board, member)
}

func loader(load app.BoardLoader) ranking.LoadFunc {
	return func(ctx context.Context, board string) ([]ranking.Entry, error) {
		entries, err := load(ctx, board)
		if err != nil {
			return nil, err
		}
		out := make([]ranking.Entry, len(entries))
		for i, e := range entries {
			out[i] = ranking.Entry{Member: e.Member, Score: e.Score, Tiebreak: e.Tiebreak, Payload: e.Payload}
		}
		return out, nil
	}
}

func fromRanked(r ranking.Ranked) app.RankedEntry {
	return app.RankedEntry{
		BoardEntry: app.BoardEntry{Member: r.Member, Score: r.Score, Tiebreak: r.Tiebreak, Payload: r.Payload},
		Rank:       r.Rank,
	}
}

func boardErr(err error) error {
	if errors.Is(err, ranking.ErrOverloaded) {
		return app.ErrLeaderboardOverloaded
	}
	return err
}
