// Package migcheck holds what the generator and the migration tests of both
// ent packages share: the atlas URL of a go-sql-driver DSN, the check that a
// migration directory is in sync with its schema, and information_schema
// readers.
package migcheck

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"ariga.io/atlas/sql/sqltool"
	"entgo.io/ent/dialect"
	"entgo.io/ent/dialect/sql/schema"
	"github.com/go-sql-driver/mysql"

	"github.com/progressive-overload/po/services/kit/mysqldb/mysqltest"
)

// AtlasURL converts a go-sql-driver DSN (tcp only) to the mysql:// URL form
// atlas and ent's migrate.NamedDiff take.
func AtlasURL(dsn string) (string, error) {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return "", err
	}
	if cfg.Net != "tcp" {
		return "", fmt.Errorf("atlas URL needs a tcp address, got %s", cfg.Net)
	}
	u := url.URL{Scheme: "mysql", Host: cfg.Addr, Path: "/" + cfg.DBName}
	if cfg.Passwd != "" {
		u.User = url.UserPassword(cfg.User, cfg.Passwd)
	} else {
		u.User = url.User(cfg.User)
	}
	return u.String(), nil
}

// DiffOptions are the options the generator diffs with, so the in-sync check
// sees exactly what a regeneration would produce.
func DiffOptions(dir *sqltool.GolangMigrateDir) []schema.MigrateOption {
	return []schema.MigrateOption{
		schema.WithDir(dir),
		schema.WithMigrationMode(schema.ModeReplay),
		schema.WithDialect(dialect.MySQL),
		schema.WithFormatter(sqltool.GolangMigrateFormatter),
		schema.WithDropColumn(true),
		schema.WithDropIndex(true),
	}
}

// CheckInSync fails t unless replaying the migration directory dir (its .sql
// files and atlas.sum) yields exactly tables: a schema change without a
// regenerated migration, or an edited migration file, fails here before it
// reaches a database.
func CheckInSync(t *testing.T, tables []*schema.Table, dir fs.FS) {
	t.Helper()
	tmp := t.TempDir()
	before := copyDir(t, dir, tmp)
	if !slices.Contains(before, "atlas.sum") {
		t.Fatal("migration directory has no atlas.sum")
	}
	mdir, err := sqltool.NewGolangMigrateDir(tmp)
	if err != nil {
		t.Fatal(err)
	}
	u, err := AtlasURL(mysqltest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := schema.Diff(context.Background(), u, "pending", tables, DiffOptions(mdir)...); err != nil {
		t.Fatalf("replaying migrations: %v", err)
	}
	after := listDir(t, tmp)
	if !slices.Equal(before, after) {
		var added []string
		for _, f := range after {
			if !slices.Contains(before, f) {
				b, _ := os.ReadFile(filepath.Join(tmp, f))
				added = append(added, f+":\n"+string(b))
			}
		}
		t.Fatalf("the schema has changes no migration covers; run `cd ent && go generate ./...`. Pending:\n%s", strings.Join(added, "\n"))
	}
}

func copyDir(t *testing.T, src fs.FS, dst string) []string {
	t.Helper()
	entries, err := fs.ReadDir(src, ".")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() || (!strings.HasSuffix(e.Name(), ".sql") && e.Name() != "atlas.sum") {
			continue
		}
		b, err := fs.ReadFile(src, e.Name())
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return listDir(t, dst)
}

func listDir(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// Index is one index as information_schema describes it.
type Index struct {
	Unique  bool
	Columns []string // in index order
}

// Indexes returns the indexes of table in the connected database by name.
func Indexes(t *testing.T, db *sql.DB, table string) map[string]Index {
	t.Helper()
	rows, err := db.Query(`SELECT INDEX_NAME, NON_UNIQUE, COLUMN_NAME FROM information_schema.STATISTICS
		WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? ORDER BY INDEX_NAME, SEQ_IN_INDEX`, table)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]Index{}
	for rows.Next() {
		var name, col string
		var nonUnique int
		if err := rows.Scan(&name, &nonUnique, &col); err != nil {
			t.Fatal(err)
		}
		idx := out[name]
		idx.Unique = nonUnique == 0
		idx.Columns = append(idx.Columns, col)
		out[name] = idx
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// Tables returns the base tables of the connected database, sorted.
func Tables(t *testing.T, db *sql.DB) []string {
	t.Helper()
	rows, err := db.Query(`SELECT TABLE_NAME FROM information_schema.TABLES
		WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_NAME`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		out = append(out, name)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// ColumnTypes returns COLUMN_TYPE (plus " NULL" for nullable columns and
// " DEFAULT x" where a default is set) of every column of table, by name,
// in a form that reads the same on MariaDB and MySQL 8: integer display
// widths (MariaDB's bigint(20)) and quotes around defaults are dropped.
func ColumnTypes(t *testing.T, db *sql.DB, table string) map[string]string {
	t.Helper()
	rows, err := db.Query(`SELECT COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, COLUMN_DEFAULT FROM information_schema.COLUMNS
		WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?`, table)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var name, typ, nullable string
		var def sql.NullString
		if err := rows.Scan(&name, &typ, &nullable, &def); err != nil {
			t.Fatal(err)
		}
		typ = displayWidth.ReplaceAllString(typ, "$1")
		if nullable == "YES" {
			typ += " NULL"
		}
		// MariaDB reports "NULL" for "no default" on nullable columns.
		if def.Valid && def.String != "NULL" {
			typ += " DEFAULT " + strings.Trim(def.String, "'")
		}
		out[name] = typ
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

var displayWidth = regexp.MustCompile(`^((?:tiny|small|medium|big)?int)\(\d+\)`)

// DeleteRule returns the ON DELETE rule of the foreign key from table's
// column to another table.
func DeleteRule(t *testing.T, db *sql.DB, table, column string) string {
	t.Helper()
	var rule string
	err := db.QueryRow(`SELECT rc.DELETE_RULE FROM information_schema.REFERENTIAL_CONSTRAINTS rc
		JOIN information_schema.KEY_COLUMN_USAGE k
		  ON k.CONSTRAINT_SCHEMA = rc.CONSTRAINT_SCHEMA AND k.CONSTRAINT_NAME = rc.CONSTRAINT_NAME
		WHERE rc.CONSTRAINT_SCHEMA = DATABASE() AND k.TABLE_NAME = ? AND k.COLUMN_NAME = ?`, table, column).Scan(&rule)
	if err != nil {
		t.Fatalf("foreign key on %s.%s: %v", table, column, err)
	}
	return rule
}
