package adapters

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/progressive-overload/po/ent/account"
	"github.com/progressive-overload/po/ent/account/refreshtoken"
	"github.com/progressive-overload/po/ent/account/user"
	"github.com/progressive-overload/po/services/kit/events"
	"github.com/progressive-overload/po/services/kit/mysqldb"

	"github.com/progressive-overload/po/services/account/internal/app"
	"github.com/progressive-overload/po/services/account/internal/domain"
)

// EventSource is the envelope's source of every event this service emits.
const EventSource = "account"

// Users implements app.UserRepository with ent on MySQL.
type Users struct {
	client *account.Client
	// afterEmit runs after a transaction that emitted events commits (the
	// outbox relay's Notify), so they leave without waiting for its poll.
	afterEmit func()
}

// NewUsers wraps client; afterEmit may be nil.
func NewUsers(client *account.Client, afterEmit func()) *Users {
	if afterEmit == nil {
		afterEmit = func() {}
	}
	return &Users{client: client, afterEmit: afterEmit}
}

// RefreshTokens implements app.RefreshTokenRepository with ent on MySQL.
type RefreshTokens struct {
	client *account.Client
}

// NewRefreshTokens wraps client.
func NewRefreshTokens(client *account.Client) *RefreshTokens {
	return &RefreshTokens{client: client}
}

var (
	_ app.UserRepository         = (*Users)(nil)
	_ app.RefreshTokenRepository = (*RefreshTokens)(nil)
)

func toDomainUser(u *account.User) (domain.User, error) {
	return domain.UnmarshalUserFromDatabase(u.ID, u.Email, u.PasswordHash, u.DisplayName,
		domain.Role(u.Role), domain.Status(u.Status), u.TimeZone, u.CreatedAt.UTC(), u.UpdatedAt.UTC())
}

func notFound(err error) error {
	if account.IsNotFound(err) {
		return domain.ErrNotFound
	}
	return err
}

// Create implements app.UserRepository.
func (r *Users) Create(ctx context.Context, u domain.User) (domain.User, error) {
	created, err := r.client.User.Create().
		SetEmail(u.Email()).
		SetPasswordHash(u.PasswordHash()).
		SetDisplayName(u.DisplayName()).
		SetRole(user.Role(u.Role())).
		SetStatus(user.Status(u.Status())).
		SetTimeZone(u.TimeZone()).
		Save(ctx)
	if mysqldb.IsDuplicateKey(err) {
		return domain.User{}, domain.ErrEmailTaken
	}
	if err != nil {
		return domain.User{}, fmt.Errorf("create user: %w", err)
	}
	return toDomainUser(created)
}

// ByID implements app.UserRepository.
func (r *Users) ByID(ctx context.Context, id int64) (domain.User, error) {
	u, err := r.client.User.Get(ctx, id)
	if err != nil {
		return domain.User{}, notFound(err)
	}
	return toDomainUser(u)
}

// ByEmail implements app.UserRepository.
func (r *Users) ByEmail(ctx context.Context, email string) (domain.User, error) {
	u, err := r.client.User.Query().Where(user.Email(email)).Only(ctx)
	if err != nil {
		return domain.User{}, notFound(err)
	}
	return toDomainUser(u)
}

// List implements app.UserRepository.
func (r *Users) List(ctx context.Context, afterID int64, limit int) ([]domain.User, error) {
	rows, err := r.client.User.Query().
		Where(user.IDGT(afterID)).
		Order(user.ByID()).
		Limit(limit).
		All(ctx)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	out := make([]domain.User, len(rows))
	for i, u := range rows {
		if out[i], err = toDomainUser(u); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Update implements app.UserRepository.
func (r *Users) Update(ctx context.Context, id int64, fn func(context.Context, *domain.User, app.UserTx) error) (domain.User, error) {
	var out domain.User
	var utx *userTx
	err := inTx(ctx, r.client, func(tx *account.Tx) error {
		utx = &userTx{tx: tx}
		cur, err := tx.User.Query().Where(user.ID(id)).ForUpdate().Only(ctx)
		if err != nil {
			return notFound(err)
		}
		before, err := toDomainUser(cur)
		if err != nil {
			return err
		}
		u := before
		if err := fn(ctx, &u, utx); err != nil {
			return err
		}
		if u == before {
			out = u
			return nil
		}
		upd := tx.User.UpdateOne(cur)
		if u.Email() != before.Email() {
			upd.SetEmail(u.Email())
		}
		if u.PasswordHash() != before.PasswordHash() {
			upd.SetPasswordHash(u.PasswordHash())
		}
		if u.DisplayName() != before.DisplayName() {
			upd.SetDisplayName(u.DisplayName())
		}
		if u.Role() != before.Role() {
			upd.SetRole(user.Role(u.Role()))
		}
		if u.Status() != before.Status() {
			upd.SetStatus(user.Status(u.Status()))
		}
		if u.TimeZone() != before.TimeZone() {
			upd.SetTimeZone(u.TimeZone())
		}
		saved, err := upd.Save(ctx)
		if mysqldb.IsDuplicateKey(err) {
			return domain.ErrEmailTaken
		}
		if err != nil {
			return fmt.Errorf("update user %d: %w", id, err)
		}
		out, err = toDomainUser(saved)
		return err
	})
	if err != nil {
		return domain.User{}, err
	}
	if utx.emitted {
		r.afterEmit()
	}
	return out, nil
}

// userTx implements app.UserTx on an ent transaction.
type userTx struct {
	tx      *account.Tx
	emitted bool
}

func (t *userTx) RevokeRefreshTokens(ctx context.Context, userID int64, at time.Time) error {
	_, err := t.tx.RefreshToken.Update().
		Where(refreshtoken.UserID(userID), refreshtoken.RevokedAtIsNil()).
		SetRevokedAt(at).
		Save(ctx)
	if err != nil {
		return fmt.Errorf("revoke refresh tokens of user %d: %w", userID, err)
	}
	return nil
}

func (t *userTx) Emit(ctx context.Context, evts ...domain.Event) error {
	if len(evts) == 0 {
		return nil
	}
	if err := enqueue(ctx, t.tx, evts); err != nil {
		return err
	}
	t.emitted = true
	return nil
}

// enqueue writes evts to the outbox through exec, the caller's transaction.
func enqueue(ctx context.Context, exec events.Execer, evts []domain.Event) error {
	envelopes := make([]events.Event, len(evts))
	for i, e := range evts {
		data, err := eventData(e)
		if err != nil {
			return err
		}
		env, err := events.NewEvent(EventSource, e.EventType(), data)
		if err != nil {
			return err
		}
		envelopes[i] = env
	}
	return events.Enqueue(ctx, exec, envelopes...)
}

// eventData is each event's data member (docs/conventions.md).
func eventData(e domain.Event) (any, error) {
	type userData struct {
		UserID int64 `json:"userId"`
	}
	type validatedData struct {
		ChallengeID int64  `json:"challengeId"`
		UserID      int64  `json:"userId"`
		TimeZone    string `json:"timeZone"`
		DisplayName string `json:"displayName"`
	}
	type updatedData struct {
		UserID      int64  `json:"userId"`
		TimeZone    string `json:"timeZone"`
		DisplayName string `json:"displayName"`
	}
	type rejectedData struct {
		ChallengeID int64  `json:"challengeId"`
		UserID      int64  `json:"userId"`
		Reason      string `json:"reason"`
	}
	switch e := e.(type) {
	case domain.UserDeleted:
		return userData{UserID: e.UserID}, nil
	case domain.UserSuspended:
		return userData{UserID: e.UserID}, nil
	case domain.UserValidated:
		return validatedData{ChallengeID: e.ChallengeID, UserID: e.UserID, TimeZone: e.TimeZone, DisplayName: e.DisplayName}, nil
	case domain.UserUpdated:
		return updatedData{UserID: e.UserID, TimeZone: e.TimeZone, DisplayName: e.DisplayName}, nil
	case domain.UserRejected:
		return rejectedData{ChallengeID: e.ChallengeID, UserID: e.UserID, Reason: e.Reason}, nil
	}
	return nil, fmt.Errorf("no wire format for event %T", e)
}

// Create implements app.RefreshTokenRepository.
func (r *RefreshTokens) Create(ctx context.Context, t domain.RefreshToken) error {
	return createRefreshToken(ctx, r.client.RefreshToken, t)
}

func createRefreshToken(ctx context.Context, c *account.RefreshTokenClient, t domain.RefreshToken) error {
	_, err := c.Create().
		SetUserID(t.UserID).
		SetFamilyID(t.FamilyID).
		SetTokenHash(t.Hash).
		SetExpiresAt(t.ExpiresAt).
		SetFamilyStartedAt(t.FamilyStartedAt).
		Save(ctx)
	if err != nil {
		return fmt.Errorf("create refresh token: %w", err)
	}
	return nil
}

// InTx implements app.RefreshTokenRepository.
func (r *RefreshTokens) InTx(ctx context.Context, fn func(context.Context, app.RefreshTokenTx) error) error {
	return inTx(ctx, r.client, func(tx *account.Tx) error { return fn(ctx, refreshTx{tx}) })
}

// RevokeFamilyByHash implements app.RefreshTokenRepository.
func (r *RefreshTokens) RevokeFamilyByHash(ctx context.Context, hash string, at time.Time) error {
	t, err := r.client.RefreshToken.Query().Where(refreshtoken.TokenHash(hash)).Only(ctx)
	if account.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("find refresh token: %w", err)
	}
	return revokeFamily(ctx, r.client.RefreshToken, t.FamilyID, at)
}

// DeleteExpired implements app.RefreshTokenRepository: one statement, so it
// locks at most limit rows, found through the expires_at index.
func (r *RefreshTokens) DeleteExpired(ctx context.Context, before time.Time, limit int) (int, error) {
	res, err := r.client.ExecContext(ctx, "DELETE FROM "+refreshtoken.Table+
		" WHERE "+refreshtoken.FieldExpiresAt+" < ? ORDER BY "+refreshtoken.FieldExpiresAt+" LIMIT ?", before.UTC(), limit)
	if err != nil {
		return 0, fmt.Errorf("delete expired refresh tokens: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("delete expired refresh tokens: %w", err)
	}
	return int(n), nil
}

func revokeFamily(ctx context.Context, c *account.RefreshTokenClient, family string, at time.Time) error {
	_, err := c.Update().
		Where(refreshtoken.FamilyID(family), refreshtoken.RevokedAtIsNil()).
		SetRevokedAt(at).
		Save(ctx)
	if err != nil {
		return fmt.Errorf("revoke refresh token family: %w", err)
	}
	return nil
}

// refreshTx implements app.RefreshTokenTx.
type refreshTx struct{ tx *account.Tx }

func (t refreshTx) LockByHash(ctx context.Context, hash string) (domain.RefreshToken, error) {
	rt, err := t.tx.RefreshToken.Query().Where(refreshtoken.TokenHash(hash)).ForUpdate().Only(ctx)
	if err != nil {
		return domain.RefreshToken{}, notFound(err)
	}
	return domain.RefreshToken{
		ID:              rt.ID,
		UserID:          rt.UserID,
		FamilyID:        rt.FamilyID,
		Hash:            rt.TokenHash,
		ExpiresAt:       rt.ExpiresAt.UTC(),
		FamilyStartedAt: rt.FamilyStartedAt.UTC(),
		UsedAt:          rt.UsedAt,
		RevokedAt:       rt.RevokedAt,
	}, nil
}

func (t refreshTx) User(ctx context.Context, id int64) (domain.User, error) {
	u, err := t.tx.User.Get(ctx, id)
	if err != nil {
		return domain.User{}, notFound(err)
	}
	return toDomainUser(u)
}

func (t refreshTx) MarkUsed(ctx context.Context, id int64, at time.Time) error {
	if err := t.tx.RefreshToken.UpdateOneID(id).SetUsedAt(at).Exec(ctx); err != nil {
		return fmt.Errorf("mark refresh token used: %w", err)
	}
	return nil
}

func (t refreshTx) RevokeFamily(ctx context.Context, family string, at time.Time) error {
	return revokeFamily(ctx, t.tx.RefreshToken, family, at)
}

func (t refreshTx) Create(ctx context.Context, rt domain.RefreshToken) error {
	return createRefreshToken(ctx, t.tx.RefreshToken, rt)
}

// inTx runs fn in a READ COMMITTED transaction, committing when it returns
// nil. READ COMMITTED takes no gap locks, which removes most deadlocks
// between concurrent writers of one table; a transaction the server still
// picks as a deadlock victim (or whose lock wait timed out) is run again by
// mysqldb.InTx, so fn must not keep state across calls.
func inTx(ctx context.Context, client *account.Client, fn func(*account.Tx) error) error {
	return mysqldb.InTx(ctx, func(ctx context.Context) (*account.Tx, error) {
		return client.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelReadCommitted})
	}, fn)
}
