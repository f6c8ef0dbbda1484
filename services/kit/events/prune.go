package events

import (
	"context"
	"database/sql"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// A prune pass deletes at most pruneChunk rows per statement, so no statement
// holds many row locks or builds a large undo log next to the transactions
// writing the table, and at most pruneMaxChunks statements, so a large
// backlog (a retention just turned on, say) is worked off over several passes
// rather than in one long burst.
const (
	pruneChunk     = 1000
	pruneMaxChunks = 20
	// pruneStatementTimeout bounds one DELETE, so a stuck statement cannot
	// hold up the loop (or a Close waiting for it) for long.
	pruneStatementTimeout = 30 * time.Second
)

// DefaultPruneInterval is how often a consumer prunes its inbox and a relay
// its outbox.
const DefaultPruneInterval = 5 * time.Minute

// pruneEvery runs pruneTable on table now and then every interval until ctx
// ends, logging failures and what it deleted. The relay (outbox) and the
// consumer (inbox) each run one.
func pruneEvery(ctx context.Context, db *sql.DB, log *slog.Logger, interval time.Duration, table, column string, retention time.Duration, deleted prometheus.Counter) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		n, err := pruneTable(ctx, db, table, column, retention, deleted)
		switch {
		case err != nil && ctx.Err() == nil:
			log.Warn("prune failed", "table", table, "error", err, "deleted", n)
		case n > 0:
			log.Debug("pruned rows", "table", table, "deleted", n, "retention", retention)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// pruneTable deletes the rows of table whose column (a DATETIME holding UTC,
// indexed) is older than retention by the database's UTC clock, oldest first,
// in chunks, and adds them to deleted. It returns how many rows it deleted.
// Rows where column is NULL are never deleted. table and column are
// constants of this package, never input.
func pruneTable(ctx context.Context, db *sql.DB, table, column string, retention time.Duration, deleted prometheus.Counter) (int64, error) {
	q := "DELETE FROM " + table + " WHERE " + column + " < DATE_SUB(UTC_TIMESTAMP(6), INTERVAL ? MICROSECOND) ORDER BY " + column + " LIMIT ?"
	var total int64
	for range pruneMaxChunks {
		n, err := pruneChunkOnce(ctx, db, q, retention.Microseconds())
		total += n
		deleted.Add(float64(n))
		if err != nil || n < pruneChunk {
			return total, err
		}
	}
	return total, nil
}

func pruneChunkOnce(ctx context.Context, db *sql.DB, q string, retentionMicros int64) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, pruneStatementTimeout)
	defer cancel()
	res, err := db.ExecContext(ctx, q, retentionMicros, pruneChunk)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
