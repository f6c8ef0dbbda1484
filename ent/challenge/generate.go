// Package challenge is the generated ent client of the challenge service's
// database; the schema is in ./schema and the migrations in ./migrations.
package challenge

//go:generate go run github.com/progressive-overload/po/ent/internal/entgen -package github.com/progressive-overload/po/ent/challenge
