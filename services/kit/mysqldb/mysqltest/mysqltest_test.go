package mysqltest_test

import (
	"testing"

	"github.com/go-sql-driver/mysql"

	"github.com/progressive-overload/po/services/kit/mysqldb"
	"github.com/progressive-overload/po/services/kit/mysqldb/mysqltest"
)

func TestNewDatabaseIsPrivateAndDropped(t *testing.T) {
	var names []string
	for range 2 {
		t.Run("owner", func(t *testing.T) {
			dsn := mysqltest.NewDatabase(t)
			cfg, err := mysql.ParseDSN(dsn)
			if err != nil {
				t.Fatal(err)
			}
			db, err := mysqldb.Open(t.Context(), dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			var current string
			var tables int
			if err := db.QueryRowContext(t.Context(), "SELECT DATABASE()").Scan(&current); err != nil {
				t.Fatal(err)
			}
			err = db.QueryRowContext(t.Context(),
				"SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()").Scan(&tables)
			if err != nil {
				t.Fatal(err)
			}
			if current != cfg.DBName || len(current) < 3 || current[:2] != "t_" || tables != 0 {
				t.Fatalf("database %q (DSN names %q) with %d tables, want an empty t_<random>", current, cfg.DBName, tables)
			}
			names = append(names, current)
		})
	}
	if len(names) != 2 || names[0] == names[1] {
		t.Fatalf("databases %v, want two distinct", names)
	}

	// The subtests have ended, so their cleanups have run.
	cfg, err := mysqldb.Config(mysqltest.ServerDSN())
	if err != nil {
		t.Fatal(err)
	}
	cfg.DBName = ""
	db, err := mysqldb.OpenConfig(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, name := range names {
		var n int
		err := db.QueryRowContext(t.Context(),
			"SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?", name).Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Errorf("database %s still exists after its test ended", name)
		}
	}
}
