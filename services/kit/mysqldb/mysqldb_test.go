package mysqldb_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/progressive-overload/po/services/kit/mysqldb"
	"github.com/progressive-overload/po/services/kit/mysqldb/mysqltest"
)

func TestConfigForcesTimeHandling(t *testing.T) {
	cfg, err := mysqldb.Config("app:secret@tcp(db:3306)/po_account?parseTime=false&loc=Local&readTimeout=7s")
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.ParseTime || cfg.Loc != time.UTC || cfg.Params["time_zone"] != "'+00:00'" {
		t.Errorf("parseTime %v loc %v time_zone %q, want true, UTC, '+00:00'", cfg.ParseTime, cfg.Loc, cfg.Params["time_zone"])
	}
	if cfg.ReadTimeout != 7*time.Second {
		t.Errorf("readTimeout %v, want the DSN's 7s kept", cfg.ReadTimeout)
	}
	if cfg.Timeout == 0 || cfg.WriteTimeout == 0 {
		t.Errorf("dial timeout %v write timeout %v, want defaults set", cfg.Timeout, cfg.WriteTimeout)
	}
	if cfg.DBName != "po_account" || cfg.Addr != "db:3306" || cfg.User != "app" {
		t.Errorf("lost DSN parts: %+v", cfg)
	}

	if _, err := mysqldb.Config("not a dsn"); err == nil {
		t.Error("Config accepted a malformed DSN")
	}
}

func TestOpenPoolAndTimes(t *testing.T) {
	ctx := t.Context()
	db, err := mysqldb.Open(ctx, mysqltest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	if got := db.Stats().MaxOpenConnections; got != mysqldb.MaxOpenConns {
		t.Errorf("MaxOpenConnections = %d, want %d", got, mysqldb.MaxOpenConns)
	}
	var tz string
	if err := db.QueryRowContext(ctx, "SELECT @@session.time_zone").Scan(&tz); err != nil {
		t.Fatal(err)
	}
	if tz != "+00:00" {
		t.Errorf("session time_zone = %q, want +00:00", tz)
	}

	if _, err := db.ExecContext(ctx, "CREATE TABLE t (at DATETIME(6) NOT NULL)"); err != nil {
		t.Fatal(err)
	}
	// A non-UTC instant with nanoseconds: it must come back as the same
	// instant, in UTC, cut (not rounded) to microseconds on any server.
	paris := time.FixedZone("CET", 3600)
	in := time.Date(2026, 3, 2, 19, 30, 0, 123456789, paris)
	if _, err := db.ExecContext(ctx, "INSERT INTO t (at) VALUES (?)", in); err != nil {
		t.Fatal(err)
	}
	var out time.Time
	if err := db.QueryRowContext(ctx, "SELECT at FROM t").Scan(&out); err != nil {
		t.Fatal(err)
	}
	if want := in.Truncate(time.Microsecond); !out.Equal(want) || out.Location() != time.UTC {
		t.Errorf("read back %v, want %v in UTC", out, want)
	}
	var wall string
	if err := db.QueryRowContext(ctx, "SELECT CAST(at AS CHAR) FROM t").Scan(&wall); err != nil {
		t.Fatal(err)
	}
	if wall != "2026-03-02 18:30:00.123456" {
		t.Errorf("stored wall time %q, want the UTC wall time 2026-03-02 18:30:00.123456", wall)
	}
}

func TestOpenExplainsFailures(t *testing.T) {
	ctx := t.Context()

	// Port 1 on loopback: nothing listens there, so the dial is refused.
	_, err := mysqldb.Open(ctx, "root@tcp(127.0.0.1:1)/po_account")
	if err == nil || !strings.Contains(err.Error(), "mysql at 127.0.0.1:1 unreachable") {
		t.Errorf("unreachable server: err = %v", err)
	}

	server, err := mysql.ParseDSN(mysqltest.ServerDSN())
	if err != nil {
		t.Fatal(err)
	}
	server.DBName = "t_does_not_exist_" + fmt.Sprint(time.Now().UnixNano())
	_, err = mysqldb.Open(ctx, server.FormatDSN())
	if err == nil || !strings.Contains(err.Error(), "has no database") || !strings.Contains(err.Error(), server.Addr) {
		t.Errorf("missing database: err = %v", err)
	}
	var me *mysql.MySQLError
	if !errors.As(err, &me) {
		t.Errorf("missing database: the driver error is not wrapped: %v", err)
	}
}

func TestEnsureDatabase(t *testing.T) {
	ctx := t.Context()
	server, err := mysql.ParseDSN(mysqltest.ServerDSN())
	if err != nil {
		t.Fatal(err)
	}
	// A name containing a backtick proves the identifier is quoted.
	name := fmt.Sprintf("t_ensure_%d`x", time.Now().UnixNano())
	server.DBName = name
	dsn := server.FormatDSN()

	admin, err := mysqldb.Open(ctx, mysqltest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		defer admin.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+mysqldb.QuoteIdent(name)); err != nil {
			t.Error(err)
		}
	})

	for range 2 { // the second call finds it and must not fail
		if err := mysqldb.EnsureDatabase(ctx, dsn); err != nil {
			t.Fatal(err)
		}
	}
	var charset string
	err = admin.QueryRowContext(ctx,
		"SELECT DEFAULT_CHARACTER_SET_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?", name).Scan(&charset)
	if err != nil {
		t.Fatal(err)
	}
	if charset != "utf8mb4" {
		t.Errorf("charset = %q, want utf8mb4", charset)
	}
	db, err := mysqldb.Open(ctx, dsn)
	if err != nil {
		t.Fatalf("open the ensured database: %v", err)
	}
	_ = db.Close()

	server.DBName = ""
	if err := mysqldb.EnsureDatabase(ctx, server.FormatDSN()); err == nil {
		t.Error("EnsureDatabase accepted a DSN without a database")
	}
}

func TestIsDuplicateKey(t *testing.T) {
	ctx := t.Context()
	db, err := mysqldb.Open(ctx, mysqltest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, "CREATE TABLE u (email VARCHAR(254) NOT NULL UNIQUE)"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, "INSERT INTO u VALUES ('a@example.com')"); err != nil {
		t.Fatal(err)
	}
	_, dup := db.ExecContext(ctx, "INSERT INTO u VALUES ('a@example.com')")
	if !mysqldb.IsDuplicateKey(dup) {
		t.Errorf("IsDuplicateKey(%v) = false", dup)
	}
	if !mysqldb.IsDuplicateKey(fmt.Errorf("create user: %w", dup)) {
		t.Error("IsDuplicateKey does not see through wrapping")
	}
	_, other := db.ExecContext(ctx, "INSERT INTO nope VALUES (1)")
	if other == nil || mysqldb.IsDuplicateKey(other) {
		t.Errorf("IsDuplicateKey(%v) = true for a missing table", other)
	}
	if mysqldb.IsDuplicateKey(nil) {
		t.Error("IsDuplicateKey(nil) = true")
	}
}

// The services' own pools must keep multiStatements off (it widens SQL
// injection); dbmigrate opens its own connection for migration scripts.
func TestOpenRejectsMultiStatements(t *testing.T) {
	db, err := mysqldb.Open(t.Context(), mysqltest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var one int
	err = db.QueryRowContext(t.Context(), "SELECT 1; SELECT 2").Scan(&one)
	if err == nil {
		t.Fatal("a service pool ran two statements in one query")
	}
}

// Arguments are interpolated by the driver (one round trip, no server-side
// prepare); awkward strings must still come back byte for byte, and a DSN that
// says interpolateParams=false is obeyed.
func TestArgumentsInterpolatedSafely(t *testing.T) {
	ctx := t.Context()
	dsn := mysqltest.NewDatabase(t)
	db, err := mysqldb.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1) // session counters below are per connection
	if _, err := db.ExecContext(ctx, "CREATE TABLE t (s VARCHAR(200) CHARACTER SET utf8mb4 NOT NULL)"); err != nil {
		t.Fatal(err)
	}
	prepares := func() int {
		t.Helper()
		var name string
		var n int
		if err := db.QueryRowContext(ctx, "SHOW SESSION STATUS LIKE 'Com_stmt_prepare'").Scan(&name, &n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := prepares()
	awkward := []string{`it's`, `back\slash`, `"quoted"`, "nul\x00byte", `'; DROP TABLE t; --`, "üñí©ødé 🏋️", `\'`, "%_"}
	for _, s := range awkward {
		if _, err := db.ExecContext(ctx, "INSERT INTO t (s) VALUES (?)", s); err != nil {
			t.Fatalf("insert %q: %v", s, err)
		}
		var got string
		if err := db.QueryRowContext(ctx, "SELECT s FROM t WHERE s = ?", s).Scan(&got); err != nil || got != s {
			t.Errorf("round trip of %q = %q, %v", s, got, err)
		}
	}
	if n := prepares() - before; n != 0 {
		t.Errorf("%d server-side prepares for %d queries with arguments, want 0 (interpolated)", n, 2*len(awkward))
	}

	cfg, err := mysqldb.Config(dsn + "?interpolateParams=false")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.InterpolateParams {
		t.Error("interpolateParams=false in the DSN was overridden")
	}
}
