package app

import (
	"errors"
	"fmt"
	"math"
	"time"
)

var (
	// ErrInvalidCredentials: wrong email or wrong password (never says which).
	ErrInvalidCredentials = errors.New("invalid email or password")
	// ErrInvalidRefreshToken: unknown, expired or revoked refresh token, or
	// one whose sign-in is older than the refresh family's maximum age.
	ErrInvalidRefreshToken = errors.New("invalid or expired refresh token")
	// ErrRefreshTokenReused: a spent refresh token was presented again; its
	// whole family has been revoked.
	ErrRefreshTokenReused = errors.New("refresh token was already used; every token of this sign-in has been revoked")
	// ErrUnauthenticated: the token is valid but its account no longer exists
	// or is not active.
	ErrUnauthenticated = errors.New("the account of this token is not active")
	// ErrAccountSuspended: right password, suspended account.
	ErrAccountSuspended = errors.New("the account is suspended")
	// ErrForbidden: the caller may not do this; wrapped with the reason.
	ErrForbidden = errors.New("forbidden")
	// ErrConflict: the request clashes with the current state; wrapped with the reason.
	ErrConflict = errors.New("conflict")
)

func forbidden(reason string) error { return fmt.Errorf("%w: %s", ErrForbidden, reason) }
func conflict(reason string) error  { return fmt.Errorf("%w: %s", ErrConflict, reason) }

// RateLimitedError: too many failed attempts; retry after RetryAfter.
type RateLimitedError struct {
	RetryAfter time.Duration
}

func (e *RateLimitedError) Error() string {
	return fmt.Sprintf("too many failed sign-in attempts; retry in %d seconds", e.RetryAfterSeconds())
}

// RetryAfterSeconds rounds RetryAfter up to whole seconds, at least 1.
func (e *RateLimitedError) RetryAfterSeconds() int {
	s := math.Ceil(e.RetryAfter.Seconds())
	if s < 1 {
		return 1
	}
	return int(s)
}
