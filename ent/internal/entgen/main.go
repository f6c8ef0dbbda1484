// Command entgen regenerates one ent package and, if its schema changed, adds
// a versioned migration for the change. It runs from a package's go:generate
// directive, in that package's directory:
//
//	go run github.com/progressive-overload/po/ent/internal/entgen -package <import path>
//
// The migration is computed the way ent's generated migrate.NamedDiff does
// (schema.Diff over the graph's tables, in replay mode): the existing
// migrations are replayed into a scratch database, the result is compared
// with the schema, and the difference is written as golang-migrate files plus
// atlas.sum. The scratch database lives on MYSQL_TEST_DSN's server (default
// the local MariaDB) and is dropped afterwards. Nothing is written when
// nothing changed, so running it twice leaves the tree as it was.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"ariga.io/atlas/sql/sqltool"
	"entgo.io/ent/dialect/sql/schema"
	"entgo.io/ent/entc"
	"entgo.io/ent/entc/gen"

	"github.com/progressive-overload/po/ent/internal/migcheck"
	"github.com/progressive-overload/po/services/kit/mysqldb"
	"github.com/progressive-overload/po/services/kit/mysqldb/mysqltest"
)

// features every generated package gets: versioned migrations, raw
// ExecContext/QueryContext on the client and Tx (the outbox relay and
// hand-written SQL), upserts (inbox, idempotent writes), SELECT ... FOR UPDATE
// and query modifiers. Not "intercept": its generated package imports both the
// root package and the node package of the same name (challenge and
// challenge/challenge) and does not compile; Client.Intercept works without it.
var features = []gen.Feature{
	gen.FeatureVersionedMigration,
	gen.FeatureExecQuery,
	gen.FeatureUpsert,
	gen.FeatureLock,
	gen.FeatureModifier,
}

func main() {
	log.SetFlags(0)
	log.SetPrefix("entgen: ")
	var (
		pkg        = flag.String("package", "", "import path of the generated package (required)")
		schemaDir  = flag.String("schema", "./schema", "schema package directory")
		target     = flag.String("target", ".", "output directory for generated code")
		migrations = flag.String("migrations", "./migrations", "golang-migrate directory")
		name       = flag.String("name", os.Getenv("MIGRATION_NAME"), "name of a new migration (default $MIGRATION_NAME, else init for the first, else schema)")
	)
	flag.Parse()
	if *pkg == "" {
		log.Fatal("-package is required")
	}
	if err := run(*pkg, *schemaDir, *target, *migrations, *name); err != nil {
		log.Fatal(err)
	}
}

func run(pkg, schemaDir, target, migrations, name string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	tables, err := generate(pkg, schemaDir, target)
	if err != nil {
		return err
	}
	return diff(ctx, tables, migrations, name)
}

// generate runs ent's code generation and returns the tables the schema
// describes (the same ones the generated migrate package holds).
func generate(pkg, schemaDir, target string) ([]*schema.Table, error) {
	abs, err := filepath.Abs(target)
	if err != nil {
		return nil, err
	}
	storage, err := gen.NewStorage("sql")
	if err != nil {
		return nil, err
	}
	cfg := &gen.Config{Package: pkg, Target: abs, Storage: storage, Features: features}
	// Mirrors entc.Generate: hide a runtime.go that imports the schema so a
	// broken previous generation cannot prevent loading the schema.
	undo, err := gen.PrepareEnv(cfg)
	if err != nil {
		return nil, err
	}
	graph, err := entc.LoadGraph(schemaDir, cfg)
	if err != nil {
		_ = undo()
		return nil, fmt.Errorf("load schema %s: %w", schemaDir, err)
	}
	if err := graph.Gen(); err != nil {
		_ = undo()
		return nil, fmt.Errorf("generate %s: %w", pkg, err)
	}
	return graph.Tables()
}

func diff(ctx context.Context, tables []*schema.Table, migrations, name string) error {
	if err := os.MkdirAll(migrations, 0o755); err != nil {
		return err
	}
	dir, err := sqltool.NewGolangMigrateDir(migrations)
	if err != nil {
		return err
	}
	if name == "" {
		name = "schema"
		files, err := filepath.Glob(filepath.Join(migrations, "*.up.sql"))
		if err != nil {
			return err
		}
		if len(files) == 0 {
			name = "init"
		}
	}

	dsn, drop, err := scratchDatabase(ctx)
	if err != nil {
		return err
	}
	defer drop()
	return schema.Diff(ctx, dsn, name, tables, migcheck.DiffOptions(dir)...)
}

// scratchDatabase creates an empty database for replaying migrations and
// returns its atlas URL and a func that drops it.
func scratchDatabase(ctx context.Context) (string, func(), error) {
	cfg, err := mysqldb.Config(mysqltest.ServerDSN())
	if err != nil {
		return "", nil, err
	}
	cfg.DBName = ""
	db, err := mysqldb.OpenConfig(ctx, cfg)
	if err != nil {
		return "", nil, fmt.Errorf("%w (entgen replays migrations on a scratch database there; set %s to use another server)", err, mysqltest.EnvDSN)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "entgen_" + hex.EncodeToString(b)
	if _, err := db.ExecContext(ctx, "CREATE DATABASE "+mysqldb.QuoteIdent(name)+" CHARACTER SET utf8mb4"); err != nil {
		_ = db.Close()
		return "", nil, fmt.Errorf("create scratch database: %w", err)
	}
	drop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := db.ExecContext(ctx, "DROP DATABASE IF EXISTS "+mysqldb.QuoteIdent(name)); err != nil {
			log.Printf("drop scratch database %s: %v", name, err)
		}
		_ = db.Close()
	}
	scratch := cfg.Clone()
	scratch.DBName = name
	u, err := migcheck.AtlasURL(scratch.FormatDSN())
	if err != nil {
		drop()
		return "", nil, err
	}
	return u, drop, nil
}
