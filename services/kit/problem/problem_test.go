package problem

import (
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"syscall"
	"testing"

	"github.com/go-sql-driver/mysql"
)

type coded struct{ status int }

func (c coded) Error() string   { return "coded failure" }
func (c coded) StatusCode() int { return c.status }

func TestFromMapsErrors(t *testing.T) {
	tests := []struct {
		name         string
		err          error
		wantStatus   int
		wantInternal bool
	}{
		{"problem", Conflict("taken"), 409, false},
		{"wrapped problem", fmt.Errorf("ctx: %w", NotFound("x")), 404, false},
		{"4xx status coder", coded{401}, 401, false},
		{"5xx status coder", coded{503}, 503, true},
		{"plain error", errors.New("dial tcp 10.0.0.1: refused"), 500, true},
		{"nonsense status", coded{42}, 500, true},
		{"database refused", fmt.Errorf("begin transaction: %w", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}), 503, true},
		{"connection dropped", fmt.Errorf("insert: %w", mysql.ErrInvalidConn), 503, true},
		{"bad connection", fmt.Errorf("query: %w", driver.ErrBadConn), 503, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, internal := From(tt.err)
			if p.Status != tt.wantStatus || internal != tt.wantInternal {
				t.Fatalf("From = %d internal=%v, want %d internal=%v", p.Status, internal, tt.wantStatus, tt.wantInternal)
			}
			if tt.name != "5xx status coder" && p.Status == 503 && p.RetryAfterHeader() != "1" {
				t.Fatalf("503 without Retry-After: %q", p.RetryAfterHeader())
			}
			if internal && p.Detail == tt.err.Error() {
				t.Fatalf("internal error text leaked into detail: %q", p.Detail)
			}
		})
	}
}

func TestValidationJSON(t *testing.T) {
	p := Validation(FieldError{Field: "email", Message: "must be an email address"})
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if got["status"] != float64(http.StatusUnprocessableEntity) || got["type"] != TypeValidation {
		t.Fatalf("unexpected document %s", b)
	}
	fields := got["errors"].([]any)
	if fields[0].(map[string]any)["field"] != "email" {
		t.Fatalf("field not named: %s", b)
	}
}

func TestTooManyRequestsRetryAfter(t *testing.T) {
	if h := TooManyRequests("slow down", 0).RetryAfterHeader(); h != "1" {
		t.Fatalf("Retry-After = %q, want at least 1", h)
	}
	if p := Unavailable("at capacity", 0); p.Status != http.StatusServiceUnavailable || p.RetryAfterHeader() != "1" {
		t.Fatalf("Unavailable = %d Retry-After %q, want 503 and at least 1", p.Status, p.RetryAfterHeader())
	}
	if h := New(400, "").RetryAfterHeader(); h != "" {
		t.Fatalf("Retry-After on 400 = %q", h)
	}
}
