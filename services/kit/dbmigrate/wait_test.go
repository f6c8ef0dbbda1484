package dbmigrate_test

import (
	"net"
	"testing"
	"testing/fstest"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/progressive-overload/po/services/kit/dbmigrate"
	"github.com/progressive-overload/po/services/kit/mysqldb/mysqltest"
	"github.com/progressive-overload/po/services/kit/testkit/netproxy"
)

// A MySQL that is down when migrate starts and comes back within
// UnreachableWait is waited for: the migrations apply, nothing fails.
func TestMigrateWaitsForAnUnreachableMySQL(t *testing.T) {
	dsn := mysqltest.NewDatabase(t)
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	proxy := netproxy.Start(t, cfg.Addr)
	proxy.Cut()
	cfg.Addr = proxy.Addr()
	migrations := fstest.MapFS{"1_init.up.sql": {Data: []byte("CREATE TABLE t (id INT PRIMARY KEY);")}, "1_init.down.sql": {Data: []byte("DROP TABLE t;")}}
	done := make(chan error, 1)
	go func() {
		n, err := dbmigrate.Migrate(t.Context(), cfg.FormatDSN(), migrations)
		if err == nil && n != 1 {
			t.Errorf("applied %d migrations, want 1", n)
		}
		done <- err
	}()
	time.Sleep(time.Second)
	select {
	case err := <-done:
		t.Fatalf("migrate gave up while MySQL was briefly away: %v", err)
	default:
	}
	proxy.Restore(t)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("migrate after MySQL came back: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("migrate did not finish after MySQL came back")
	}
}

// A server that answers with an error is not waited for.
func TestMigrateFailsAtOnceWhenMySQLRefusesTheUser(t *testing.T) {
	cfg, err := mysql.ParseDSN(mysqltest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg.User, cfg.Passwd = "no_such_user", "wrong"
	start := time.Now()
	if _, err := dbmigrate.Migrate(t.Context(), cfg.FormatDSN(), fstest.MapFS{}); err == nil {
		t.Fatal("a refused user migrated")
	}
	if d := time.Since(start); d > dbmigrate.UnreachableWait/2 {
		t.Errorf("a refused user was retried for %s", d)
	}
}

// Past UnreachableWait, an address where nothing listens is an error.
func TestMigrateGivesUpOnAnAddressThatNeverAnswers(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	old := dbmigrate.UnreachableWait
	dbmigrate.UnreachableWait = 500 * time.Millisecond
	t.Cleanup(func() { dbmigrate.UnreachableWait = old })
	cfg := mysql.NewConfig()
	cfg.Net, cfg.Addr, cfg.User, cfg.DBName = "tcp", addr, "root", "po_never"
	if _, err := dbmigrate.Migrate(t.Context(), cfg.FormatDSN(), fstest.MapFS{}); err == nil {
		t.Fatal("migrate against a closed port succeeded")
	}
}
