// Package problem is the one error shape every API answers with: RFC 9457
// "application/problem+json", so clients handle every failure the same way.
package problem

import (
	"database/sql/driver"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"

	"github.com/go-sql-driver/mysql"
)

// ContentType is the media type of a problem document.
const ContentType = "application/problem+json"

// Type URIs for the problems clients may want to tell apart by machine.
const (
	TypeBlank      = "about:blank"
	TypeValidation = "urn:progressive-overload:problem:validation"
	TypeRateLimit  = "urn:progressive-overload:problem:rate-limited"
)

// FieldError names one invalid request field (JSON name) and why.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Problem is an RFC 9457 problem detail; it is also an error so application code
// can return it and let the HTTP layer render it.
type Problem struct {
	Type     string       `json:"type"`
	Title    string       `json:"title"`
	Status   int          `json:"status"`
	Detail   string       `json:"detail,omitempty"`
	Instance string       `json:"instance,omitempty"`
	Errors   []FieldError `json:"errors,omitempty"`
	// RetryAfter, when set, becomes the Retry-After header (seconds).
	RetryAfter int `json:"-"`
}

func (p *Problem) Error() string {
	if p.Detail != "" {
		return fmt.Sprintf("%d %s: %s", p.Status, p.Title, p.Detail)
	}
	return fmt.Sprintf("%d %s", p.Status, p.Title)
}

// StatusCode lets generic error handling read the status without importing this package.
func (p *Problem) StatusCode() int { return p.Status }

// New builds a problem with the standard title for status.
func New(status int, detail string) *Problem {
	return &Problem{Type: TypeBlank, Title: http.StatusText(status), Status: status, Detail: detail}
}

// BadRequest is for a body or parameter that cannot be parsed at all.
func BadRequest(detail string) *Problem { return New(http.StatusBadRequest, detail) }

// Unauthorized is for a missing or invalid credential.
func Unauthorized(detail string) *Problem { return New(http.StatusUnauthorized, detail) }

// Forbidden is for an authenticated caller who may not touch the resource.
func Forbidden(detail string) *Problem { return New(http.StatusForbidden, detail) }

// NotFound is for a resource that does not exist (or that the caller may not know of).
func NotFound(detail string) *Problem { return New(http.StatusNotFound, detail) }

// Conflict is for a request that clashes with the resource's current state.
func Conflict(detail string) *Problem { return New(http.StatusConflict, detail) }

// Validation is a 422 naming every invalid field.
func Validation(fields ...FieldError) *Problem {
	return &Problem{
		Type:   TypeValidation,
		Title:  "Your request has invalid fields",
		Status: http.StatusUnprocessableEntity,
		Detail: "see errors for each invalid field",
		Errors: fields,
	}
}

// TooManyRequests is a 429 telling the client when to retry.
func TooManyRequests(detail string, retryAfterSeconds int) *Problem {
	p := New(http.StatusTooManyRequests, detail)
	p.Type = TypeRateLimit
	if retryAfterSeconds < 1 {
		retryAfterSeconds = 1
	}
	p.RetryAfter = retryAfterSeconds
	return p
}

// Unavailable is a 503 telling the client when to retry: the server is at
// capacity (kit/httpserver admission control) or briefly unable to serve.
func Unavailable(detail string, retryAfterSeconds int) *Problem {
	p := New(http.StatusServiceUnavailable, detail)
	if retryAfterSeconds < 1 {
		retryAfterSeconds = 1
	}
	p.RetryAfter = retryAfterSeconds
	return p
}

// RetryAfterHeader renders RetryAfter for the Retry-After header ("" when unset).
func (p *Problem) RetryAfterHeader() string {
	if p.RetryAfter <= 0 {
		return ""
	}
	return strconv.Itoa(p.RetryAfter)
}

// statusCoder is implemented by errors of other packages (auth, fiber) that carry a status.
type statusCoder interface{ StatusCode() int }

// From converts any error into the problem to render. Errors that carry no status are
// internal: their text is not shown to the client (it may hold SQL or addresses), so
// internal reports whether the caller should log it.
func From(err error) (p *Problem, internal bool) {
	if errors.As(err, &p) {
		return p, false
	}
	var sc statusCoder
	if errors.As(err, &sc) {
		status := sc.StatusCode()
		if status >= 400 && status < 500 {
			return New(status, err.Error()), false
		}
		if status >= 500 && status < 600 {
			return New(status, ""), true
		}
	}
	if dependencyDown(err) {
		// Retrying is the right thing for the client to do, and a 500 would say
		// the request itself broke something.
		return Unavailable("a dependency of the service is briefly unavailable; retry shortly", 1), true
	}
	return New(http.StatusInternalServerError, "an unexpected error occurred; it has been logged"), true
}

// dependencyDown reports errors that mean the database (or another backend
// reached over the network) could not be reached or dropped the connection:
// a MariaDB restart answers every request that needs it this way until it
// is back. Nothing was written: a transaction that loses its connection is
// rolled back by the server.
func dependencyDown(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) || errors.Is(err, driver.ErrBadConn) || errors.Is(err, mysql.ErrInvalidConn)
}
