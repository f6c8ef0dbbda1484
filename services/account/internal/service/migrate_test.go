package service_test

import (
	"context"
	"database/sql"
	"io/fs"
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"

	"github.com/progressive-overload/po/ent/account/migrations"
	"github.com/progressive-overload/po/services/kit/mysqldb"

	"github.com/progressive-overload/po/services/account/internal/service"
)

// TestMigrate: `account migrate` creates a missing database, applies every
// migration, and a second run is a no-op; `serve` refuses an unmigrated one.
func TestMigrate(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	cfg := testConfig(t)

	// Start from no database at all (the cleanup of testConfig drops it).
	dsn, err := mysql.ParseDSN(cfg.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	name := dsn.DBName
	server := dsn.Clone()
	server.DBName = ""
	admin, err := mysqldb.Open(ctx, server.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if _, err := admin.ExecContext(ctx, "DROP DATABASE "+mysqldb.QuoteIdent(name)); err != nil {
		t.Fatal(err)
	}

	if _, err := newService(ctx, cfg); err == nil || !strings.Contains(err.Error(), "has no database") {
		t.Fatalf("serve on a missing database: %v", err)
	}
	if err := mysqldb.EnsureDatabase(ctx, cfg.DatabaseURL); err != nil {
		t.Fatal(err)
	}
	if _, err := newService(ctx, cfg); err == nil || !strings.Contains(err.Error(), "account migrate") {
		t.Fatalf("serve on an empty database: %v", err)
	}
	if _, err := admin.ExecContext(ctx, "DROP DATABASE "+mysqldb.QuoteIdent(name)); err != nil {
		t.Fatal(err)
	}

	ups, err := fs.Glob(migrations.FS, "*.up.sql")
	if err != nil || len(ups) == 0 {
		t.Fatalf("no migrations embedded (%v)", err)
	}
	n, err := service.Migrate(ctx, cfg.DatabaseURL)
	if err != nil || n != len(ups) {
		t.Fatalf("first migrate: applied %d, err %v; want %d", n, err, len(ups))
	}
	tables := listTables(ctx, t, admin, name)
	n, err = service.Migrate(ctx, cfg.DatabaseURL)
	if err != nil || n != 0 {
		t.Fatalf("second migrate: applied %d, err %v; want 0", n, err)
	}
	if again := listTables(ctx, t, admin, name); strings.Join(again, ",") != strings.Join(tables, ",") {
		t.Fatalf("tables changed: %v -> %v", tables, again)
	}
	for _, want := range []string{"inbox_messages", "outbox_events", "refresh_tokens", "schema_migrations", "users"} {
		if !strings.Contains(","+strings.Join(tables, ",")+",", ","+want+",") {
			t.Errorf("table %s missing from %v", want, tables)
		}
	}
	svc, err := newService(ctx, cfg)
	if err != nil {
		t.Fatalf("serve after migrate: %v", err)
	}
	svc.Close()
}

func listTables(ctx context.Context, t *testing.T, db *sql.DB, schema string) []string {
	t.Helper()
	rows, err := db.QueryContext(ctx, "SELECT table_name FROM information_schema.tables WHERE table_schema = ? ORDER BY table_name", schema)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
