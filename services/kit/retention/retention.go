// Package retention deletes what tables that only grow no longer need, the
// same way wherever it is done (the events outbox and inbox, the account
// service's refresh tokens): in chunks, a bounded number per pass, one pass
// at start and then one every interval.
package retention

import (
	"context"
	"log/slog"
	"time"
)

// A pass deletes at most Chunk rows per statement, so no statement holds
// many row locks or builds a large undo log next to the transactions writing
// the table, and at most MaxChunks statements, so a large backlog (a
// retention just turned on, say) is worked off over several passes rather
// than in one long burst.
const (
	Chunk     = 1000
	MaxChunks = 20
)

// DefaultInterval is how often a pass runs unless a caller says otherwise.
const DefaultInterval = 5 * time.Minute

// Pass calls deleteChunk with Chunk until it deletes fewer rows than that, it
// fails, or MaxChunks statements ran, and returns how many rows were deleted
// in all. deleteChunk deletes at most limit rows, oldest first, and reports
// how many it deleted.
func Pass(ctx context.Context, deleteChunk func(ctx context.Context, limit int) (int64, error)) (int64, error) {
	var total int64
	for range MaxChunks {
		n, err := deleteChunk(ctx, Chunk)
		total += n
		if err != nil || n < Chunk {
			return total, err
		}
	}
	return total, nil
}

// Every runs pass now and then every interval until ctx ends, logging a
// failure at warn and what it deleted at debug, with what (e.g. "table",
// "outbox_events") as attributes. Every replica may run it: deletes by age
// are idempotent, replicas only share the work.
func Every(ctx context.Context, log *slog.Logger, interval time.Duration, pass func(context.Context) (int64, error), what ...any) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		n, err := pass(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			log.Warn("prune failed", append(what, "error", err, "deleted", n)...)
		case n > 0:
			log.Debug("pruned rows", append(what, "deleted", n)...)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
