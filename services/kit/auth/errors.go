package auth

import (
	"errors"
	"net/http"
)

var (
	// ErrUnauthorized matches every *UnauthorizedError with errors.Is.
	ErrUnauthorized = errors.New("unauthorized")
	// ErrUnknownKey is the cause when a token's kid is not an accepted key.
	ErrUnknownKey = errors.New("auth: unknown signing key")
	// ErrKeysUnavailable is the cause when a RemoteVerifier has no usable
	// JWKS and cannot fetch one.
	ErrKeysUnavailable = errors.New("auth: verification keys unavailable")
)

// UnauthorizedError is a request without valid credentials: HTTP 401.
// Error() is only the client-safe Detail; the underlying cause, for logs and
// errors.Is, is reached through Unwrap.
type UnauthorizedError struct {
	Detail string
	Err    error
	// missing is set when the request carried no credentials at all, which
	// RFC 6750 section 3.1 answers without an error code.
	missing bool
}

func (e *UnauthorizedError) Error() string { return e.Detail }

// StatusCode is 401.
func (e *UnauthorizedError) StatusCode() int { return http.StatusUnauthorized }

func (e *UnauthorizedError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrUnauthorized) true for every UnauthorizedError.
func (e *UnauthorizedError) Is(target error) bool { return target == ErrUnauthorized }

// WWWAuthenticate is the challenge header value for this error; Middleware
// sets it on the response, and an error renderer that resets headers can
// set it again from here.
func (e *UnauthorizedError) WWWAuthenticate() string {
	if e.missing {
		return "Bearer"
	}
	return `Bearer error="invalid_token"`
}

// UnavailableError means a token could not be checked because the keys to
// check it with could not be obtained: HTTP 503, since the fault is ours and
// answering 401 would make clients throw away good tokens.
type UnavailableError struct {
	Detail string
	Err    error
}

func (e *UnavailableError) Error() string { return e.Detail }

// StatusCode is 503.
func (e *UnavailableError) StatusCode() int { return http.StatusServiceUnavailable }

func (e *UnavailableError) Unwrap() error { return e.Err }

func unauthorized(detail string, cause error) *UnauthorizedError {
	return &UnauthorizedError{Detail: detail, Err: cause}
}
