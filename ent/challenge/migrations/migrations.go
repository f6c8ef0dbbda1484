// Package migrations holds the challenge database's versioned schema migrations in
// golang-migrate layout (<version>_<name>.up.sql / .down.sql), generated from
// ../schema by `go generate` in the parent package. Never edit an applied
// migration: atlas.sum pins every file, and the generator refuses to run
// when a file no longer matches it.
package migrations

import "embed"

// FS holds the migration files at its root, ready for dbmigrate.Up.
//
//go:embed *.sql
var FS embed.FS
