package dbmigrate_test

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/progressive-overload/po/services/kit/dbmigrate"
	"github.com/progressive-overload/po/services/kit/mysqldb"
	"github.com/progressive-overload/po/services/kit/mysqldb/mysqltest"
)

// Two statements in one file: golang-migrate sends a file as one query, so
// this only works on a multiStatements connection.
var base = fstest.MapFS{
	"1_accounts.up.sql": {Data: []byte(
		"CREATE TABLE accounts (id BIGINT PRIMARY KEY AUTO_INCREMENT, email VARCHAR(254) NOT NULL);\n" +
			"CREATE UNIQUE INDEX accounts_email ON accounts (email);\n")},
	"1_accounts.down.sql": {Data: []byte("DROP TABLE accounts;\n")},
	"2_name.up.sql":       {Data: []byte("ALTER TABLE accounts ADD COLUMN name VARCHAR(100) NOT NULL DEFAULT '';\n")},
	"2_name.down.sql":     {Data: []byte("ALTER TABLE accounts DROP COLUMN name;\n")},
	// Not a migration: ignored like the atlas.sum next to generated files.
	"atlas.sum": {Data: []byte("h1:x\n")},
}

func with(fsys fstest.MapFS, name, sql string) fstest.MapFS {
	out := fstest.MapFS{}
	for k, v := range fsys {
		out[k] = v
	}
	out[name] = &fstest.MapFile{Data: []byte(sql)}
	return out
}

func columns(t *testing.T, dsn, table string) []string {
	t.Helper()
	db, err := mysqldb.Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.QueryContext(t.Context(), `SELECT COLUMN_NAME FROM information_schema.COLUMNS
		WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION`, table)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			t.Fatal(err)
		}
		out = append(out, c)
	}
	return out
}

func TestUpAppliesPendingOnly(t *testing.T) {
	ctx := t.Context()
	dsn := mysqltest.NewDatabase(t)

	v, dirty, err := dbmigrate.Version(ctx, dsn)
	if err != nil || v != 0 || dirty {
		t.Fatalf("Version of an empty database = %d, %v, %v; want 0, false, nil", v, dirty, err)
	}
	if cols := columns(t, dsn, dbmigrate.Table); len(cols) != 0 {
		t.Fatalf("Version created %s", dbmigrate.Table)
	}

	n, err := dbmigrate.Up(ctx, dsn, base)
	if err != nil || n != 2 {
		t.Fatalf("Up = %d, %v; want 2, nil", n, err)
	}
	if got := strings.Join(columns(t, dsn, "accounts"), ","); got != "id,email,name" {
		t.Fatalf("accounts columns = %s", got)
	}
	if v, dirty, err := dbmigrate.Version(ctx, dsn); err != nil || v != 2 || dirty {
		t.Fatalf("Version = %d, %v, %v; want 2, false, nil", v, dirty, err)
	}

	n, err = dbmigrate.Up(ctx, dsn, base)
	if err != nil || n != 0 {
		t.Fatalf("Up again = %d, %v; want 0, nil", n, err)
	}

	next := with(base, "3_created.up.sql", "ALTER TABLE accounts ADD COLUMN created_at DATETIME(6) NULL;")
	n, err = dbmigrate.Up(ctx, dsn, next)
	if err != nil || n != 1 {
		t.Fatalf("Up with one new migration = %d, %v; want 1, nil", n, err)
	}
	if v, _, _ := dbmigrate.Version(ctx, dsn); v != 3 {
		t.Fatalf("Version = %d, want 3", v)
	}
}

func TestDirtyDatabaseIsReported(t *testing.T) {
	ctx := t.Context()
	dsn := mysqltest.NewDatabase(t)
	// The first statement succeeds and cannot be rolled back (DDL), the
	// second fails: the database is left between versions 2 and 3.
	broken := with(base, "3_broken.up.sql",
		"ALTER TABLE accounts ADD COLUMN nickname VARCHAR(50) NULL;\nALTER TABLE no_such_table ADD COLUMN x INT;\n")

	n, err := dbmigrate.Up(ctx, dsn, broken)
	if err == nil || !strings.Contains(err.Error(), "no_such_table") {
		t.Fatalf("Up with a failing migration: err = %v", err)
	}
	if n != 2 {
		t.Errorf("applied before the failure = %d, want 2", n)
	}
	if v, dirty, err := dbmigrate.Version(ctx, dsn); err != nil || v != 3 || !dirty {
		t.Fatalf("Version = %d, %v, %v; want 3, dirty", v, dirty, err)
	}

	_, err = dbmigrate.Up(ctx, dsn, broken)
	var de *dbmigrate.DirtyError
	if !errors.As(err, &de) || de.Version != 3 || !strings.Contains(err.Error(), "dirty") {
		t.Fatalf("Up on a dirty database: err = %v, want a DirtyError at 3", err)
	}

	// The repair: undo the half-applied step by hand, record version 2,
	// and migrate with the corrected file.
	db, err := mysqldb.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, "ALTER TABLE accounts DROP COLUMN nickname"); err != nil {
		t.Fatal(err)
	}
	if err := dbmigrate.Force(ctx, dsn, broken, 2); err != nil {
		t.Fatal(err)
	}
	if v, dirty, err := dbmigrate.Version(ctx, dsn); err != nil || v != 2 || dirty {
		t.Fatalf("Version after Force = %d, %v, %v; want 2, clean", v, dirty, err)
	}
	fixed := with(base, "3_broken.up.sql", "ALTER TABLE accounts ADD COLUMN nickname VARCHAR(50) NULL;\n")
	if n, err := dbmigrate.Up(ctx, dsn, fixed); err != nil || n != 1 {
		t.Fatalf("Up after the repair = %d, %v; want 1, nil", n, err)
	}
	if got := strings.Join(columns(t, dsn, "accounts"), ","); got != "id,email,name,nickname" {
		t.Fatalf("accounts columns after the repair = %s", got)
	}
}

func TestConcurrentUpAppliesOnce(t *testing.T) {
	ctx := t.Context()
	dsn := mysqltest.NewDatabase(t)
	// Not idempotent: applying it twice would fail on the duplicate table.
	fsys := with(base, "3_audit.up.sql", "CREATE TABLE audit (id BIGINT PRIMARY KEY);")

	const runners = 4
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		applied int
		errs    []error
	)
	for range runners {
		wg.Go(func() {
			n, err := dbmigrate.Up(ctx, dsn, fsys)
			mu.Lock()
			defer mu.Unlock()
			applied += n
			if err != nil {
				errs = append(errs, err)
			}
		})
	}
	wg.Wait()
	if len(errs) > 0 || applied != 3 {
		t.Fatalf("%d concurrent Ups applied %d in total (want 3), errors %v", runners, applied, errs)
	}
}

func TestUpErrors(t *testing.T) {
	ctx := t.Context()
	_, err := dbmigrate.Up(ctx, "root@tcp(127.0.0.1:1)/x", base)
	if err == nil || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Errorf("unreachable server: err = %v", err)
	}
	_, err = dbmigrate.Up(ctx, mysqltest.ServerDSN(), base)
	if err == nil || !strings.Contains(err.Error(), "names no database") {
		t.Errorf("DSN without a database: err = %v", err)
	}
}
