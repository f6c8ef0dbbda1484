package adapters

import (
	"context"
	"database/sql"
	"fmt"

	entsql "entgo.io/ent/dialect/sql"

	"github.com/progressive-overload/po/ent/account"
	"github.com/progressive-overload/po/ent/account/user"

	"github.com/progressive-overload/po/services/account/internal/app"
	"github.com/progressive-overload/po/services/account/internal/domain"
	"github.com/progressive-overload/po/services/kit/mysqldb"
)

// ChallengeUserTx is app.ChallengeUserTx on a consumer's transaction (the
// events consumer's, which holds the delivery's inbox row).
func ChallengeUserTx(tx *sql.Tx) app.ChallengeUserTx {
	return challengeUserTx{client: account.NewClient(account.Driver(mysqldb.TxDriver(tx))), tx: tx}
}

// challengeUserTx implements app.ChallengeUserTx on the consumer's transaction.
type challengeUserTx struct {
	client *account.Client // runs on tx
	tx     *sql.Tx
}

var _ app.ChallengeUserTx = challengeUserTx{}

func (t challengeUserTx) LockUser(ctx context.Context, id int64) (domain.User, error) {
	// MariaDB has no FOR SHARE; MySQL 8 still accepts the older spelling.
	u, err := t.client.User.Query().
		Where(user.ID(id)).
		ForShare(entsql.WithLockClause("LOCK IN SHARE MODE")).
		Only(ctx)
	if account.IsNotFound(err) {
		return domain.User{}, domain.ErrNotFound
	}
	if err != nil {
		return domain.User{}, fmt.Errorf("lock user %d: %w", id, err)
	}
	return toDomainUser(u)
}

func (t challengeUserTx) Emit(ctx context.Context, evts ...domain.Event) error {
	if len(evts) == 0 {
		return nil
	}
	return enqueue(ctx, t.tx, evts)
}
