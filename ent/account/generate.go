// Package account is the generated ent client of the account service's
// database; the schema is in ./schema and the migrations in ./migrations.
package account

//go:generate go run github.com/progressive-overload/po/ent/internal/entgen -package github.com/progressive-overload/po/ent/account
