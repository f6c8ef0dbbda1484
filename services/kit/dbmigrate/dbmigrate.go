// Package dbmigrate applies versioned SQL migrations (golang-migrate file
// layout: <version>_<name>.up.sql) to a MySQL/MariaDB database.
package dbmigrate

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/golang-migrate/migrate/v4"
	"github.com/golang-migrate/migrate/v4/database"
	mysqlmigrate "github.com/golang-migrate/migrate/v4/database/mysql"
	"github.com/golang-migrate/migrate/v4/source/iofs"

	"github.com/progressive-overload/po/services/kit/mysqldb"
)

// Table is where the applied version is recorded (golang-migrate's default,
// so its CLI can inspect or force the same database).
const Table = "schema_migrations"

// The server-side advisory lock waits 10 s (GET_LOCK in golang-migrate's
// driver); the client-side timeout must be longer or it could give up while
// the lock request is still pending and later succeeds, leaving the lock held.
const lockTimeout = 30 * time.Second

// lockRetryDelay spaces attempts while another instance holds the lock.
const lockRetryDelay = time.Second

// DirtyError means an earlier run failed part-way through a migration. MySQL
// cannot roll back DDL, so the schema is somewhere between two versions and
// only a person can tell which.
type DirtyError struct {
	Database string
	Version  uint
}

func (e *DirtyError) Error() string {
	return fmt.Sprintf("database %q is dirty at migration %d: a previous run failed part-way "+
		"and MySQL cannot roll DDL back; repair the schema by hand until it matches a version, "+
		"record that version (UPDATE %s SET version = <version>, dirty = 0), then migrate again",
		e.Database, e.Version, Table)
}

// Up applies every migration in migrations (files at its root) not yet
// applied to the database in dsn and returns how many this call applied. A
// database that is already up to date is not an error (0, nil). Several
// instances may run Up on one database at once: each migration is applied
// by exactly one of them, the others wait for the lock until ctx ends.
// Cancelling ctx stops between migrations, never inside one.
func Up(ctx context.Context, dsn string, migrations fs.FS) (int, error) {
	m, name, err := open(ctx, dsn, migrations)
	if err != nil {
		return 0, err
	}
	defer m.Close()

	// One migration per locked step, so the count is exact even when other
	// instances apply some of the pending migrations in between.
	applied := 0
	for {
		if err := ctx.Err(); err != nil {
			return applied, fmt.Errorf("migrate %s: stopped after %d migrations: %w", name, applied, err)
		}
		err := m.Steps(1)
		var dirty migrate.ErrDirty
		switch {
		case err == nil:
			applied++
		// Steps reports "no next migration" with the bare sentinel; a
		// database at a version the files do not contain gets a wrapped one.
		case err == os.ErrNotExist: //nolint:errorlint // identity is the point
			return applied, nil
		case errors.Is(err, database.ErrLocked):
			select {
			case <-ctx.Done():
			case <-time.After(lockRetryDelay):
			}
		case errors.As(err, &dirty):
			return applied, &DirtyError{Database: name, Version: uint(dirty.Version)}
		default:
			return applied, fmt.Errorf("migrate %s: %w", name, err)
		}
	}
}

// Force records version as applied and clean without running anything, as
// the UPDATE that DirtyError advises does; no binary exposes it, tests and
// tools do.
// version -1 records that no migration is applied.
func Force(ctx context.Context, dsn string, migrations fs.FS, version int) error {
	m, name, err := open(ctx, dsn, migrations)
	if err != nil {
		return err
	}
	defer m.Close()
	if err := m.Force(version); err != nil {
		return fmt.Errorf("migrate %s: force version %d: %w", name, version, err)
	}
	return nil
}

// Version returns the last applied migration version of the database in dsn
// (0 when none has been applied) and whether that migration failed part-way.
// Unlike Up it changes nothing, not even creating the version table.
func Version(ctx context.Context, dsn string) (version uint, dirty bool, err error) {
	db, err := mysqldb.Open(ctx, dsn)
	if err != nil {
		return 0, false, err
	}
	defer db.Close()
	var v int64
	err = db.QueryRowContext(ctx, "SELECT version, dirty FROM "+mysqldb.QuoteIdent(Table)+" LIMIT 1").Scan(&v, &dirty)
	var me *mysql.MySQLError
	switch {
	case errors.Is(err, sql.ErrNoRows), errors.As(err, &me) && me.Number == 1146: // no such table
		return 0, false, nil
	case err != nil:
		return 0, false, fmt.Errorf("read migration version: %w", err)
	case v < 0: // golang-migrate's "nil version"
		return 0, false, nil
	}
	return uint(v), dirty, nil
}

// open connects golang-migrate to dsn on a connection of its own, since
// migration files hold several statements and need multiStatements, which
// the services' pools must not enable.
func open(ctx context.Context, dsn string, migrations fs.FS) (_ *migrate.Migrate, name string, err error) {
	cfg, err := mysqldb.Config(dsn)
	if err != nil {
		return nil, "", err
	}
	if cfg.DBName == "" {
		return nil, "", errors.New("dbmigrate: the DSN names no database")
	}
	name = cfg.DBName
	cfg.MultiStatements = true
	// An ALTER on a large table may legitimately run for minutes.
	cfg.ReadTimeout, cfg.WriteTimeout = 0, 0
	db, err := mysqldb.OpenConfig(ctx, cfg)
	if err != nil {
		return nil, "", err
	}
	drv, err := mysqlmigrate.WithInstance(db, &mysqlmigrate.Config{DatabaseName: name, MigrationsTable: Table})
	if err != nil {
		_ = db.Close()
		return nil, "", fmt.Errorf("migrate %s: %w", name, err)
	}
	src, err := iofs.New(migrations, ".")
	if err != nil {
		_ = drv.Close()
		return nil, "", fmt.Errorf("migrate %s: read migrations: %w", name, err)
	}
	m, err := migrate.NewWithInstance("iofs", src, "mysql", drv)
	if err != nil {
		_ = src.Close()
		_ = drv.Close()
		return nil, "", fmt.Errorf("migrate %s: %w", name, err)
	}
	m.LockTimeout = lockTimeout
	return m, name, nil
}
