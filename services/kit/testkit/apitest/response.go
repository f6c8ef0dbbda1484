package apitest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/progressive-overload/po/services/kit/problem"
)

// Response is one HTTP answer, with its whole body.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r Response) String() string { return fmt.Sprintf("%d %s", r.Status, r.Body) }

// Expect fails the test unless r has status, and returns r.
func (r Response) Expect(t testing.TB, status int) Response {
	t.Helper()
	if r.Status != status {
		t.Fatalf("got %s, want status %d", r, status)
	}
	return r
}

// Decode unmarshals the JSON body into v.
func (r Response) Decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decode %s: %v", r, err)
	}
}

// Problem is the problem+json body (kit/problem's shape, which both services
// answer with); the test fails unless r is one, with its own status.
func (r Response) Problem(t testing.TB) problem.Problem {
	t.Helper()
	if ct := r.Header.Get("Content-Type"); ct != problem.ContentType {
		t.Fatalf("status %d with Content-Type %q, want %s: %s", r.Status, ct, problem.ContentType, r.Body)
	}
	var p problem.Problem
	r.Decode(t, &p)
	if p.Status != r.Status {
		t.Fatalf("problem status %d in a %d response", p.Status, r.Status)
	}
	return p
}

// Fields lists the invalid fields a problem names (a 422's errors), in the
// order it names them.
func (r Response) Fields(t testing.TB) []string {
	t.Helper()
	var out []string
	for _, e := range r.Problem(t).Errors {
		out = append(out, e.Field)
	}
	return out
}
