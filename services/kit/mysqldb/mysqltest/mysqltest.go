// Package mysqltest gives each integration test a database of its own on a
// real MySQL/MariaDB server, so tests can run in parallel and leave nothing
// behind.
package mysqltest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/progressive-overload/po/services/kit/mysqldb"
)

// EnvDSN names the variable holding the server DSN tests create their
// databases on; any database name in it is ignored.
const EnvDSN = "MYSQL_TEST_DSN"

// DefaultDSN is the local development server.
const DefaultDSN = "root@tcp(127.0.0.1:3306)/"

// ServerDSN returns the DSN of the server tests use, without a database.
func ServerDSN() string {
	if dsn := os.Getenv(EnvDSN); dsn != "" {
		return dsn
	}
	return DefaultDSN
}

// NewDatabase creates an empty database t_<random> on the test server and
// returns a DSN that selects it. The database is dropped when the test ends.
// A server that cannot be reached fails the test: silently skipping would
// let a broken setup pass CI.
func NewDatabase(t testing.TB) string {
	t.Helper()
	cfg, err := mysqldb.Config(ServerDSN())
	if err != nil {
		t.Fatalf("mysqltest: %s: %v", EnvDSN, err)
	}
	cfg.DBName = ""

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := mysqldb.OpenConfig(ctx, cfg)
	if err != nil {
		t.Fatalf("mysqltest: %v (set %s to use another server)", err, EnvDSN)
	}
	t.Cleanup(func() { _ = db.Close() })

	name := "t_" + randomHex(8)
	if _, err := db.ExecContext(ctx, "CREATE DATABASE "+mysqldb.QuoteIdent(name)+" CHARACTER SET utf8mb4"); err != nil {
		t.Fatalf("mysqltest: create database %s: %v", name, err)
	}
	// Registered after the Close above, so it runs first (cleanups are LIFO).
	// It cannot use t.Context: that is already cancelled when cleanups run.
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := db.ExecContext(ctx, "DROP DATABASE IF EXISTS "+mysqldb.QuoteIdent(name)); err != nil {
			t.Errorf("mysqltest: drop database %s: %v", name, err)
		}
	})

	// Built from the DSN as given, so callers see their own settings rather
	// than this package's connection tweaks.
	out, err := mysql.ParseDSN(ServerDSN())
	if err != nil {
		t.Fatalf("mysqltest: %s: %v", EnvDSN, err)
	}
	out.DBName = name
	return out.FormatDSN()
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
