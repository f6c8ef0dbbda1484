package events

import (
	"context"
	"database/sql"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/progressive-overload/po/services/kit/retention"
)

// pruneStatementTimeout bounds one DELETE, so a stuck statement cannot hold
// up the loop (or a Close waiting for it) for long.
const pruneStatementTimeout = 30 * time.Second

// DefaultPruneInterval is how often a consumer prunes its inbox and a relay
// its outbox.
const DefaultPruneInterval = retention.DefaultInterval

// pruneEvery runs pruneTable on table now and then every interval until ctx
// ends (kit/retention). The relay (outbox) and the consumer (inbox) each run
// one.
func pruneEvery(ctx context.Context, db *sql.DB, log *slog.Logger, interval time.Duration, table, column string, retain time.Duration, deleted prometheus.Counter) {
	retention.Every(ctx, log, interval, func(ctx context.Context) (int64, error) {
		return pruneTable(ctx, db, table, column, retain, deleted)
	}, "table", table, "retention", retain)
}

// pruneTable deletes the rows of table whose column (a DATETIME holding UTC,
// indexed) is older than retain by the database's UTC clock, oldest first,
// in chunks (kit/retention), and adds them to deleted. It returns how many
// rows it deleted. Rows where column is NULL are never deleted. table and
// column are constants of this package, never input.
func pruneTable(ctx context.Context, db *sql.DB, table, column string, retain time.Duration, deleted prometheus.Counter) (int64, error) {
	q := "DELETE FROM " + table + " WHERE " + column + " < DATE_SUB(UTC_TIMESTAMP(6), INTERVAL ? MICROSECOND) ORDER BY " + column + " LIMIT ?"
	return retention.Pass(ctx, func(ctx context.Context, limit int) (int64, error) {
		ctx, cancel := context.WithTimeout(ctx, pruneStatementTimeout)
		defer cancel()
		res, err := db.ExecContext(ctx, q, retain.Microseconds(), limit)
		if err != nil {
			return 0, err
		}
		n, err := res.RowsAffected()
		deleted.Add(float64(n))
		return n, err
	})
}
