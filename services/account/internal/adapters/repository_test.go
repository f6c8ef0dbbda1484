package adapters

import (
	"context"
	"reflect"
	"slices"
	"testing"
	"time"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"

	"github.com/progressive-overload/po/ent/account"
	"github.com/progressive-overload/po/ent/account/migrations"
	"github.com/progressive-overload/po/ent/account/refreshtoken"
	"github.com/progressive-overload/po/services/kit/dbmigrate"
	"github.com/progressive-overload/po/services/kit/mysqldb"
	"github.com/progressive-overload/po/services/kit/mysqldb/mysqltest"

	"github.com/progressive-overload/po/services/account/internal/app"
	"github.com/progressive-overload/po/services/account/internal/domain"
)

// migratedClient is an ent client on a fresh, migrated database.
func migratedClient(t *testing.T) *account.Client {
	t.Helper()
	ctx := t.Context()
	dsn := mysqltest.NewDatabase(t)
	if _, err := dbmigrate.Up(ctx, dsn, migrations.FS); err != nil {
		t.Fatal(err)
	}
	db, err := mysqldb.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return account.NewClient(account.Driver(entsql.OpenDB(dialect.MySQL, db)))
}

// DeleteExpired takes at most limit tokens, the earliest expired first, and
// never one expiring at or after the cutoff, used or revoked or not.
func TestRefreshTokensDeleteExpired(t *testing.T) {
	ctx := t.Context()
	client := migratedClient(t)
	u, err := client.User.Create().SetEmail("prune@example.com").SetPasswordHash("x").SetDisplayName("Prune").Save(ctx)
	if err != nil {
		t.Fatal(err)
	}
	repo := NewRefreshTokens(client)
	cutoff := time.Date(2026, 1, 10, 12, 0, 0, 0, time.UTC)
	// Named so that hash order is expiry order.
	for _, tok := range []struct {
		name    string
		expires time.Time
	}{
		{"c", cutoff.Add(-time.Microsecond)}, // expired just before the cutoff
		{"a", cutoff.Add(-72 * time.Hour)},   // the earliest
		{"d", cutoff},                        // expires at the cutoff: kept
		{"b", cutoff.Add(-48 * time.Hour)},
		{"e", cutoff.Add(720 * time.Hour)}, // live
	} {
		if err := repo.Create(ctx, domain.RefreshToken{
			UserID: u.ID, FamilyID: "family", Hash: pad64(tok.name), ExpiresAt: tok.expires,
			FamilyStartedAt: cutoff.Add(-2160 * time.Hour),
		}); err != nil {
			t.Fatal(err)
		}
	}
	// Spent and revoked tokens go by their expiry like the others.
	if _, err := client.RefreshToken.Update().Where(refreshtoken.TokenHash(pad64("a"))).SetRevokedAt(cutoff).Save(ctx); err != nil {
		t.Fatal(err)
	}
	left := func() []string {
		hashes, err := client.RefreshToken.Query().Order(refreshtoken.ByTokenHash()).Select(refreshtoken.FieldTokenHash).Strings(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for i, h := range hashes {
			hashes[i] = h[:1]
		}
		return hashes
	}

	for _, step := range []struct {
		deleted int
		left    []string
	}{
		{2, []string{"c", "d", "e"}},
		{1, []string{"d", "e"}},
		{0, []string{"d", "e"}},
	} {
		n, err := repo.DeleteExpired(ctx, cutoff, 2)
		if err != nil {
			t.Fatal(err)
		}
		if got := left(); n != step.deleted || !slices.Equal(got, step.left) {
			t.Fatalf("DeleteExpired deleted %d, left %v; want %d and %v", n, got, step.deleted, step.left)
		}
	}
}

// A token reads back as it was created, its family's start included.
func TestRefreshTokensRoundTrip(t *testing.T) {
	ctx := t.Context()
	client := migratedClient(t)
	u, err := client.User.Create().SetEmail("rt@example.com").SetPasswordHash("x").SetDisplayName("RT").Save(ctx)
	if err != nil {
		t.Fatal(err)
	}
	repo := NewRefreshTokens(client)
	want := domain.RefreshToken{
		UserID: u.ID, FamilyID: "family", Hash: pad64("f"),
		ExpiresAt:       time.Date(2026, 2, 1, 12, 0, 0, 123456000, time.UTC),
		FamilyStartedAt: time.Date(2026, 1, 1, 12, 0, 0, 654321000, time.UTC),
	}
	if err := repo.Create(ctx, want); err != nil {
		t.Fatal(err)
	}
	var got domain.RefreshToken
	err = repo.InTx(ctx, func(ctx context.Context, tx app.RefreshTokenTx) error {
		got, err = tx.LockByHash(ctx, want.Hash)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	want.ID = got.ID
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("read back %+v, want %+v", got, want)
	}
}

// pad64 makes a 64-character token hash starting with s.
func pad64(s string) string {
	for len(s) < 64 {
		s += "0"
	}
	return s
}
