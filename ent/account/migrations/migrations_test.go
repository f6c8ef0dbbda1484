package migrations_test

import (
	"database/sql"
	"io/fs"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"

	"github.com/progressive-overload/po/ent/account"
	"github.com/progressive-overload/po/ent/account/migrate"
	"github.com/progressive-overload/po/ent/account/migrations"
	"github.com/progressive-overload/po/ent/account/refreshtoken"
	"github.com/progressive-overload/po/ent/account/user"
	"github.com/progressive-overload/po/ent/internal/migcheck"
	"github.com/progressive-overload/po/services/kit/dbmigrate"
	"github.com/progressive-overload/po/services/kit/mysqldb"
	"github.com/progressive-overload/po/services/kit/mysqldb/mysqltest"
)

// migrated returns a pool on a fresh database with every migration applied.
func migrated(t *testing.T) *sql.DB {
	t.Helper()
	ctx := t.Context()
	dsn := mysqltest.NewDatabase(t)
	ups, err := fs.Glob(migrations.FS, "*.up.sql")
	if err != nil || len(ups) == 0 {
		t.Fatalf("no up migrations embedded (err %v)", err)
	}
	n, err := dbmigrate.Up(ctx, dsn, migrations.FS)
	if err != nil {
		t.Fatal(err)
	}
	if n != len(ups) {
		t.Fatalf("first Up applied %d migrations, want %d", n, len(ups))
	}
	db, err := mysqldb.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func TestUpTwiceIsNoop(t *testing.T) {
	ctx := t.Context()
	dsn := mysqltest.NewDatabase(t)
	first, err := dbmigrate.Up(ctx, dsn, migrations.FS)
	if err != nil || first == 0 {
		t.Fatalf("first Up: applied %d, err %v", first, err)
	}
	again, err := dbmigrate.Up(ctx, dsn, migrations.FS)
	if err != nil || again != 0 {
		t.Fatalf("second Up: applied %d, err %v; want 0, nil", again, err)
	}
	v, dirty, err := dbmigrate.Version(ctx, dsn)
	if err != nil || dirty || v == 0 {
		t.Fatalf("Version = %d, dirty %v, err %v", v, dirty, err)
	}
}

func TestMigrationsMatchSchema(t *testing.T) {
	migcheck.CheckInSync(t, migrate.Tables, os.DirFS("."))
}

func TestTablesAndIndexes(t *testing.T) {
	db := migrated(t)

	want := []string{"inbox_messages", "outbox_events", "refresh_tokens", dbmigrate.Table, "users"}
	if got := migcheck.Tables(t, db); !slices.Equal(got, want) {
		t.Fatalf("tables = %v, want %v", got, want)
	}

	idx := func(unique bool, cols ...string) migcheck.Index { return migcheck.Index{Unique: unique, Columns: cols} }
	for table, want := range map[string]map[string]migcheck.Index{
		"users": {
			"PRIMARY": idx(true, "id"),
			"email":   idx(true, "email"),
		},
		"refresh_tokens": {
			"PRIMARY":                 idx(true, "id"),
			"token_hash":              idx(true, "token_hash"),
			"refreshtoken_family_id":  idx(false, "family_id"),
			"refreshtoken_user_id":    idx(false, "user_id"),
			"refreshtoken_expires_at": idx(false, "expires_at"),
		},
		"outbox_events": {
			"PRIMARY":                     idx(true, "id"),
			"event_id":                    idx(true, "event_id"),
			"outboxevent_published_at_id": idx(false, "published_at", "id"),
		},
		"inbox_messages": {
			"PRIMARY":                          idx(true, "id"),
			"inboxmessage_consumer_message_id": idx(true, "consumer", "message_id"),
			"inboxmessage_processed_at":        idx(false, "processed_at"),
		},
	} {
		if got := migcheck.Indexes(t, db, table); !reflect.DeepEqual(got, want) {
			t.Errorf("indexes of %s:\n got %v\nwant %v", table, got, want)
		}
	}
	if rule := migcheck.DeleteRule(t, db, "refresh_tokens", "user_id"); rule != "CASCADE" {
		t.Errorf("refresh_tokens.user_id ON DELETE %s, want CASCADE", rule)
	}

	// The outbox and inbox layouts are a contract (docs/conventions.md).
	for table, want := range map[string]map[string]string{
		"outbox_events": {
			"id": "bigint", "event_id": "varchar(36)", "event_type": "varchar(64)",
			"payload": "longblob", "created_at": "datetime(6)", "published_at": "datetime(6) NULL",
			"attempts": "int DEFAULT 0", "trace_context": "text NULL",
		},
		"inbox_messages": {
			"id": "bigint", "consumer": "varchar(64)", "message_id": "varchar(64)",
			"processed_at": "datetime(6)",
		},
		"users": {
			"id": "bigint", "email": "varchar(254)", "password_hash": "varchar(255)",
			"display_name": "varchar(100)", "role": "enum('user','admin') DEFAULT user",
			"status":     "enum('active','suspended','deleted') DEFAULT active",
			"time_zone":  "varchar(64) DEFAULT UTC",
			"created_at": "datetime(6)", "updated_at": "datetime(6)",
		},
		"refresh_tokens": {
			"id": "bigint", "user_id": "bigint", "family_id": "varchar(36)", "token_hash": "varchar(64)",
			"expires_at": "datetime(6)", "family_started_at": "datetime(6)",
			"used_at": "datetime(6) NULL", "revoked_at": "datetime(6) NULL", "created_at": "datetime(6)",
		},
	} {
		if got := migcheck.ColumnTypes(t, db, table); !reflect.DeepEqual(got, want) {
			t.Errorf("columns of %s:\n got %v\nwant %v", table, got, want)
		}
	}
}

func TestClientRoundTrip(t *testing.T) {
	ctx := t.Context()
	db := migrated(t)
	client := account.NewClient(account.Driver(entsql.OpenDB(dialect.MySQL, db)))

	ann, err := client.User.Create().
		SetEmail(strings.ToLower("Ann@Example.com")).
		SetPasswordHash("$argon2id$v=19$m=65536,t=3,p=2$c2FsdA$aGFzaA").
		SetDisplayName("Ann Über").
		Save(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got, err := client.User.Query().Where(user.Email("ann@example.com")).Only(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != ann.ID || got.DisplayName != "Ann Über" || got.Role != user.RoleUser || got.Status != user.StatusActive {
		t.Fatalf("read back %+v, want the created user with defaults", got)
	}
	if !got.CreatedAt.Equal(ann.CreatedAt) || got.CreatedAt.Location() != time.UTC {
		t.Errorf("created_at read back %v, saved %v: want equal and UTC", got.CreatedAt, ann.CreatedAt)
	}

	t.Run("email differing only by case is a duplicate", func(t *testing.T) {
		_, err := client.User.Create().
			SetEmail(strings.ToLower("ANN@example.COM")).
			SetPasswordHash("x").SetDisplayName("Impostor").
			Save(ctx)
		if !account.IsConstraintError(err) || !mysqldb.IsDuplicateKey(err) {
			t.Fatalf("err = %v, want a duplicate-key constraint error", err)
		}
	})

	t.Run("email not lower-cased is refused", func(t *testing.T) {
		_, err := client.User.Create().
			SetEmail("Bob@example.com").SetPasswordHash("x").SetDisplayName("Bob").
			Save(ctx)
		if !account.IsValidationError(err) {
			t.Fatalf("err = %v, want a validation error", err)
		}
	})

	t.Run("updated_at moves on update", func(t *testing.T) {
		before := got.UpdatedAt
		// The clock must visibly advance at microsecond precision.
		for !schemaNow().After(before) {
			time.Sleep(time.Microsecond)
		}
		upd, err := got.Update().SetStatus(user.StatusSuspended).Save(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !upd.UpdatedAt.After(before) || !upd.CreatedAt.Equal(ann.CreatedAt) {
			t.Fatalf("after update created_at %v updated_at %v, was %v/%v", upd.CreatedAt, upd.UpdatedAt, ann.CreatedAt, before)
		}
	})

	t.Run("refresh tokens follow their user on delete", func(t *testing.T) {
		family := "0190a6a4-7d1b-7c1e-9a7b-4f7a2b3c4d5e"
		started := schemaNow().Add(-time.Hour)
		tok, err := client.RefreshToken.Create().
			SetUserID(ann.ID).
			SetFamilyID(family).
			SetTokenHash(strings.Repeat("ab", 32)).
			SetExpiresAt(time.Now().Add(time.Hour)).
			SetFamilyStartedAt(started).
			Save(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if tok.UsedAt != nil || tok.RevokedAt != nil {
			t.Fatalf("new token has used_at %v revoked_at %v", tok.UsedAt, tok.RevokedAt)
		}
		back, err := client.RefreshToken.Get(ctx, tok.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !back.FamilyStartedAt.Equal(started) || back.FamilyStartedAt.Location() != time.UTC {
			t.Errorf("family_started_at read back %v, saved %v: want equal and UTC", back.FamilyStartedAt, started)
		}
		_, err = client.RefreshToken.Create().
			SetUserID(ann.ID).SetFamilyID(family).
			SetTokenHash(strings.Repeat("ab", 32)).
			SetExpiresAt(time.Now().Add(time.Hour)).
			SetFamilyStartedAt(started).
			Save(ctx)
		if !mysqldb.IsDuplicateKey(err) {
			t.Fatalf("second token with the same hash: err = %v, want duplicate key", err)
		}
		n, err := client.User.QueryRefreshTokens(ann).Where(refreshtoken.FamilyID(family)).Count(ctx)
		if err != nil || n != 1 {
			t.Fatalf("tokens of family = %d, err %v; want 1", n, err)
		}

		if err := client.User.DeleteOneID(ann.ID).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		if n, err := client.RefreshToken.Query().Count(ctx); err != nil || n != 0 {
			t.Fatalf("tokens after deleting the user = %d, err %v; want 0", n, err)
		}
	})
}

func TestOutboxAndInbox(t *testing.T) {
	ctx := t.Context()
	db := migrated(t)
	client := account.NewClient(account.Driver(entsql.OpenDB(dialect.MySQL, db)))

	tx, err := client.Tx(ctx)
	if err != nil {
		t.Fatal(err)
	}
	payload := []byte(`{"id":"0190a6a4-7d1b-7c1e-9a7b-4f7a2b3c4d5e","type":"user.deleted","data":{"userId":"1"}}`)
	ev, err := tx.OutboxEvent.Create().
		SetEventID("0190a6a4-7d1b-7c1e-9a7b-4f7a2b3c4d5e").
		SetEventType("user.deleted").
		SetPayload(payload).
		Save(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The relay's hand-written SQL runs on the same transaction (sql/execquery).
	var pending int
	rows, err := tx.QueryContext(ctx, "SELECT COUNT(*) FROM outbox_events WHERE published_at IS NULL")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		if err := rows.Scan(&pending); err != nil {
			t.Fatal(err)
		}
	}
	_ = rows.Close()
	if pending != 1 {
		t.Fatalf("pending inside the tx = %d, want 1", pending)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}

	got, err := client.OutboxEvent.Get(ctx, ev.ID)
	if err != nil {
		t.Fatal(err)
	}
	if string(got.Payload) != string(payload) || got.PublishedAt != nil || got.Attempts != 0 {
		t.Fatalf("outbox row read back %+v", got)
	}

	if _, err := client.InboxMessage.Create().SetConsumer("account").SetMessageID("m1").Save(ctx); err != nil {
		t.Fatal(err)
	}
	_, err = client.InboxMessage.Create().SetConsumer("account").SetMessageID("m1").Save(ctx)
	if !mysqldb.IsDuplicateKey(err) {
		t.Fatalf("same message twice for one consumer: err = %v, want duplicate key", err)
	}
	if _, err := client.InboxMessage.Create().SetConsumer("other").SetMessageID("m1").Save(ctx); err != nil {
		t.Fatalf("same message for another consumer: %v", err)
	}
}

// schemaNow is the clock the schema defaults use, at their precision.
func schemaNow() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// TestFamilyStartedAtBackfill applies the migrations before
// refresh_family_started_at, stores tokens, then applies the rest: existing
// tokens take their own created_at as their family's start.
func TestFamilyStartedAtBackfill(t *testing.T) {
	ctx := t.Context()
	dsn := mysqltest.NewDatabase(t)
	before, rest := migrationsBefore(t, "20261124210500_refresh_family_started_at")
	if _, err := dbmigrate.Up(ctx, dsn, before); err != nil {
		t.Fatal(err)
	}
	db, err := mysqldb.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	if _, err := db.ExecContext(ctx, "INSERT INTO users (id, email, password_hash, display_name, created_at, updated_at) VALUES (1, 'ann@example.com', 'x', 'Ann', ?, ?)",
		schemaNow(), schemaNow()); err != nil {
		t.Fatal(err)
	}
	created := []time.Time{
		time.Date(2026, 1, 2, 3, 4, 5, 123456000, time.UTC),
		time.Date(2026, 2, 3, 4, 5, 6, 654321000, time.UTC),
	}
	for i, at := range created {
		if _, err := db.ExecContext(ctx, "INSERT INTO refresh_tokens (user_id, family_id, token_hash, expires_at, created_at) VALUES (1, 'f', ?, ?, ?)",
			strings.Repeat(string(rune('a'+i)), 64), at.Add(720*time.Hour), at); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := dbmigrate.Up(ctx, dsn, migrations.FS); err != nil || n != rest {
		t.Fatalf("Up applied %d, err %v; want %d, nil", n, err, rest)
	}
	client := account.NewClient(account.Driver(entsql.OpenDB(dialect.MySQL, db)))
	toks, err := client.RefreshToken.Query().Order(refreshtoken.ByID()).All(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(toks) != len(created) {
		t.Fatalf("%d tokens after migrating, want %d", len(toks), len(created))
	}
	for i, tok := range toks {
		if !tok.FamilyStartedAt.Equal(created[i]) {
			t.Errorf("token %d: family_started_at %v, want its created_at %v", i, tok.FamilyStartedAt, created[i])
		}
	}
	if got := migcheck.ColumnTypes(t, db, "refresh_tokens")["family_started_at"]; got != "datetime(6)" {
		t.Errorf("family_started_at is %q after the backfill, want NOT NULL datetime(6)", got)
	}
}

// TestExistingUsersKeepUTC applies the migrations before user_time_zone,
// stores an account, then applies the rest: its days stay UTC days.
func TestExistingUsersKeepUTC(t *testing.T) {
	ctx := t.Context()
	dsn := mysqltest.NewDatabase(t)
	before, rest := migrationsBefore(t, "_user_time_zone.")
	if _, err := dbmigrate.Up(ctx, dsn, before); err != nil {
		t.Fatal(err)
	}
	db, err := mysqldb.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	if _, err := db.ExecContext(ctx, "INSERT INTO users (id, email, password_hash, display_name, created_at, updated_at) VALUES (1, 'ann@example.com', 'x', 'Ann', ?, ?)",
		schemaNow(), schemaNow()); err != nil {
		t.Fatal(err)
	}
	if n, err := dbmigrate.Up(ctx, dsn, migrations.FS); err != nil || n != rest {
		t.Fatalf("Up applied %d, err %v; want %d, nil", n, err, rest)
	}
	client := account.NewClient(account.Driver(entsql.OpenDB(dialect.MySQL, db)))
	u, err := client.User.Get(ctx, 1)
	if err != nil || u.TimeZone != "UTC" {
		t.Fatalf("existing user's zone %q, %v", u.TimeZone, err)
	}
}

// migrationsBefore is the database as it was before a migration: every
// migration older than the one whose file name contains marker, and how many
// up migrations (that one and any added after it) Up applies on top.
func migrationsBefore(t *testing.T, marker string) (fstest.MapFS, int) {
	t.Helper()
	names, err := fs.Glob(migrations.FS, "*.sql")
	if err != nil {
		t.Fatal(err)
	}
	version := ""
	for _, name := range names {
		if strings.Contains(name, marker) {
			version = strings.SplitN(name, "_", 2)[0]
			break
		}
	}
	if version == "" {
		t.Fatalf("no migration named like %q", marker)
	}
	before, rest := fstest.MapFS{}, 0
	for _, name := range names {
		switch {
		case name < version:
			b, err := fs.ReadFile(migrations.FS, name)
			if err != nil {
				t.Fatal(err)
			}
			before[name] = &fstest.MapFile{Data: b}
		case strings.HasSuffix(name, ".up.sql"):
			rest++
		}
	}
	return before, rest
}
