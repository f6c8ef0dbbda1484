package ranking

// The write path: Upsert, Remove and Drop after the database commit, and the
// background drop of a board whose update failed.

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/redis/go-redis/v9"
)

// Upsert puts e on the board, or moves it there. Call it after the database
// commit that changed the entry: the board's version moves, so a rebuild that
// loaded before the commit does not write, and on a board in Redis the entry
// is replaced in place (the board keeps its expiry). On a board not in Redis
// only the version moves; the next read rebuilds it.
//
// It runs even if ctx is already cancelled (the commit happened), bounded by
// Options.WriteTimeout. If Redis fails it returns nil all the same: the board
// may now be stale in Redis, so it is dropped in the background until Redis
// takes the drop (or until its TTL has made that moot), and this process reads
// it from the source meanwhile. Only invalid arguments are errors.
func (s *Store) Upsert(ctx context.Context, board string, e Entry) error {
	if err := checkBoard(board); err != nil {
		return err
	}
	if err := checkEntry(&e); err != nil {
		return err
	}
	return s.update(ctx, board, opUpsert, upsertScript,
		e.Member, zscore(e.Score), zmember(e.Tiebreak, e.Member), hvalue(e.Tiebreak, e.Payload), zsetGrace.Milliseconds())
}

// Remove takes member off the board (it left, or was deleted); like Upsert,
// after the commit, and nil whatever Redis does.
func (s *Store) Remove(ctx context.Context, board, member string) error {
	if err := checkBoard(board); err != nil {
		return err
	}
	if err := checkMember(member); err != nil {
		return err
	}
	return s.update(ctx, board, opRemove, removeScript, member)
}

// Drop forgets the board: the next read rebuilds it from the source, and a
// rebuild loading now does not write. Like Upsert, nil whatever Redis does.
func (s *Store) Drop(ctx context.Context, board string) error {
	if err := checkBoard(board); err != nil {
		return err
	}
	return s.update(ctx, board, opDrop, dropScript)
}

// update runs one update script: ARGV the version's TTL and seed
// (bumpVersion), then args.
func (s *Store) update(ctx context.Context, board string, op int, script *redis.Script, args ...any) error {
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.opts.WriteTimeout)
	defer cancel()
	err := script.Run(wctx, s.rdb, s.keys(board), append(s.versionArgs(), args...)...).Err()
	if err == nil {
		s.m.updates[op][resultOK].Inc()
		return nil
	}
	s.m.updates[op][resultDeferred].Inc()
	queued := s.retry.Add([]string{board}, s.giveUp())
	level := slog.LevelWarn
	if !queued {
		// Nothing will drop the board, and this process will trust it again:
		// stale until its TTL.
		level = slog.LevelError
	}
	s.log.Log(ctx, level, "ranking update failed; the board is dropped in the background and read from the source here until then",
		"board", board, "op", opNames[op], "queued", queued, "err", err)
	return nil
}

func (s *Store) versionArgs() []any {
	return []any{s.versionTTL.Milliseconds(), rand.Int64N(1 << 52)}
}

// giveUp is when a board's drop stops being retried: by then every board
// that may miss the failed update has expired. A rebuild that loaded before the
// update may have written after it (the failed update did not move the
// version), so that is two TTLs, not one.
func (s *Store) giveUp() time.Time { return time.Now().Add(2 * maxTTL(s.opts.TTL)) }

// dropAll is the retrier's send: one pipeline of drops for the boards pending.
func (s *Store) dropAll(ctx context.Context, boards []string) error {
	ctx, cancel := context.WithTimeout(ctx, s.opts.WriteTimeout)
	defer cancel()
	// Pipelined reports the first failed command's error.
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, b := range boards {
			// EVAL, not EVALSHA: a pipeline cannot fall back on NOSCRIPT.
			dropScript.Eval(ctx, p, s.keys(b), s.versionArgs()...)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("drop %d boards: %w", len(boards), err)
	}
	return nil
}
