// Package domain holds the account service's rules: what a valid email,
// password and display name are, the account's roles and states and the
// transitions between them. Pure Go, no I/O.
package domain
