package adapters

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	ent "github.com/progressive-overload/po/ent/challenge"
	entchallenge "github.com/progressive-overload/po/ent/challenge/challenge"
	"github.com/progressive-overload/po/services/challenge/internal/app"
	"github.com/progressive-overload/po/services/challenge/internal/domain"
	"github.com/progressive-overload/po/services/kit/mysqldb"
)

// TxRepository is app.TxRepository on a transaction someone else owns: the
// event consumer's, which commits it together with the message's inbox row.
type TxRepository struct {
	tx     *sql.Tx
	client *ent.Client
}

var _ app.TxRepository = (*TxRepository)(nil)

// InTx binds a repository to tx. It never commits or rolls back.
func InTx(tx *sql.Tx) *TxRepository {
	return &TxRepository{tx: tx, client: ent.NewClient(ent.Driver(mysqldb.TxDriver(tx)))}
}

func (r *TxRepository) UpdateChallenge(ctx context.Context, id int64, fn func(c *domain.Challenge) error) (*domain.Challenge, error) {
	return updateChallenge(ctx, r.client.Challenge, id, fn)
}

// TransitionUserChallenges locks all the user's challenges first, so that
// the ids it reports as changed are exactly the rows the UPDATE changes: a
// concurrent request cannot move one in or out of t.From in between.
func (r *TxRepository) TransitionUserChallenges(ctx context.Context, userID int64, t domain.BulkTransition) (app.UserChallenges, error) {
	rows, err := r.client.Challenge.Query().
		Where(entchallenge.UserID(userID)).
		Order(entchallenge.ByID()).
		ForUpdate().
		All(ctx)
	if err != nil {
		return app.UserChallenges{}, fmt.Errorf("lock challenges of user %d: %w", userID, err)
	}
	var res app.UserChallenges
	for _, row := range rows {
		res.All = append(res.All, row.ID)
		if t.Moves(domain.Status(row.Status)) {
			res.Changed = append(res.Changed, row.ID)
		}
	}
	if len(res.Changed) == 0 {
		return res, nil
	}
	// Plain SQL because ent cannot express GREATEST: updated_at never moves
	// backwards (see domain.BulkTransition), even when this pod's clock is
	// behind the one that wrote the row.
	args := make([]any, 0, 3+len(res.Changed))
	args = append(args, string(t.To), t.Reason, t.At)
	for _, id := range res.Changed {
		args = append(args, id)
	}
	q := "UPDATE challenges SET status = ?, status_reason = ?, updated_at = GREATEST(updated_at, CAST(? AS DATETIME(6))) WHERE id IN (?" +
		strings.Repeat(", ?", len(res.Changed)-1) + ")"
	if _, err := r.tx.ExecContext(ctx, q, args...); err != nil {
		return app.UserChallenges{}, fmt.Errorf("%s challenges of user %d: %w", t.To, userID, err)
	}
	return res, nil
}

// SetUserProfile stores what p carries as of asOf unless the stored
// profile is newer, in one statement; it reports whether the row now
// differs. The assignments run left to right, so each member is decided
// against the old as_of before as_of moves; a member p does not carry keeps
// its stored value (or the default of a new row: UTC, no name).
func (r *TxRepository) SetUserProfile(ctx context.Context, userID int64, p app.ProfileUpdate, asOf time.Time) (bool, error) {
	zone := p.TimeZone
	if zone == "" {
		zone = "UTC"
	}
	res, err := r.tx.ExecContext(ctx,
		"INSERT INTO user_profiles (id, time_zone, display_name, as_of) VALUES (?, ?, ?, ?) "+
			"ON DUPLICATE KEY UPDATE "+
			"time_zone = IF(? AND VALUES(as_of) >= as_of, VALUES(time_zone), time_zone), "+
			"display_name = IF(? AND VALUES(as_of) >= as_of, VALUES(display_name), display_name), "+
			"as_of = GREATEST(as_of, VALUES(as_of))",
		userID, zone, p.DisplayName, asOf.UTC().Truncate(time.Microsecond), p.TimeZone != "", p.DisplayName != "")
	if err != nil {
		return false, fmt.Errorf("set profile of user %d: %w", userID, err)
	}
	// 1: inserted, 2: changed, 0: nothing changed (MySQL's upsert counts).
	n, err := res.RowsAffected()
	return n > 0, err
}

// UserChallengeIDs lists the ids of the user's challenges.
func (r *TxRepository) UserChallengeIDs(ctx context.Context, userID int64) ([]int64, error) {
	ids, err := r.client.Challenge.Query().Where(entchallenge.UserID(userID)).Order(entchallenge.ByID()).IDs(ctx)
	if err != nil {
		return nil, fmt.Errorf("challenges of user %d: %w", userID, err)
	}
	return ids, nil
}
