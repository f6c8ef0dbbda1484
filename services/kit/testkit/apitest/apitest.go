// Package apitest is the component tests' HTTP client: it sends requests to a
// running service and checks every answer against what holds for every
// response of every service (no 5xx but a 503 with Retry-After, errors as
// problem+json) and against the
// service's contract (the operation's response in its OpenAPI document). Both
// services' tests drive their service through it, so they speak one dialect:
// Do, Try, Response.Expect, Decode, Problem, Fields, Metrics. Import it from
// _test.go files only.
package apitest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/progressive-overload/po/services/kit/problem"
	"github.com/progressive-overload/po/services/kit/testkit"
)

// Options adjust a Client.
type Options struct {
	// Check, when set, runs on every response after the shared checks: an
	// invariant of one service's answers (the account service's: no
	// password hash in any of them). A non-nil error is a violation.
	Check func(req *http.Request, r Response) error
}

// Client sends requests to one service at BaseURL and checks each answer.
type Client struct {
	// BaseURL is "http://<address>", without a trailing slash.
	BaseURL string
	// HTTP is the client requests go through; a test may use it for what
	// must bypass the checks (a benchmark's loop, say).
	HTTP   *http.Client
	router routers.Router
	check  func(req *http.Request, r Response) error
}

// New is a client of the service at baseURL whose contract is spec (the
// OpenAPI document's bytes, e.g. the service's api.Spec), which must itself
// be valid. Call Close when the test is done with it.
func New(t testing.TB, baseURL string, spec []byte, opts Options) *Client {
	t.Helper()
	doc := LoadSpec(t, spec)
	// Operations are matched by path alone, whatever the spec's servers say:
	// the service under test listens on a port of its own.
	doc.Servers = nil
	router, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	return &Client{
		BaseURL: strings.TrimSuffix(baseURL, "/"),
		// Enough idle connections for a test's hundred concurrent readers
		// to reuse theirs.
		HTTP:   &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 200}, Timeout: time.Minute},
		router: router,
		check:  opts.Check,
	}
}

// Close hangs up the client's idle connections, so that the server, stopped
// next, drains at once.
func (c *Client) Close() { c.HTTP.CloseIdleConnections() }

// LoadSpec parses an OpenAPI document and fails the test unless it is valid.
func LoadSpec(t testing.TB, spec []byte) *openapi3.T {
	t.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(spec)
	if err != nil {
		t.Fatalf("the OpenAPI document does not parse: %v", err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		t.Fatalf("the OpenAPI document is invalid: %v", err)
	}
	return doc
}

// FindRoute is the contract's operation for req.
func (c *Client) FindRoute(req *http.Request) (*routers.Route, map[string]string, error) {
	return c.router.FindRoute(req)
}

// Do sends a request and checks the answer: a transport failure fails the
// test at once, every check the answer breaks is reported (t.Errorf) and the
// test goes on with the answer. body is nil, a string or []byte sent as is,
// or any other value encoded as JSON; headers are name, value pairs.
func (c *Client) Do(t testing.TB, method, path, token string, body any, headers ...string) Response {
	t.Helper()
	r, violations, err := c.send(method, path, token, body, headers)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	for _, v := range violations {
		t.Errorf("%s %s: %v", method, path, v)
	}
	return r
}

// Try is Do for where a test may not fail from (another goroutine, a
// fuzz target's own checks): a transport failure and every broken check
// come back as the error, with the answer when there was one.
func (c *Client) Try(method, path, token string, body any, headers ...string) (Response, error) {
	r, violations, err := c.send(method, path, token, body, headers)
	if err != nil {
		return r, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if err := errors.Join(violations...); err != nil {
		return r, fmt.Errorf("%s %s: %w", method, path, err)
	}
	return r, nil
}

func (c *Client) send(method, path, token string, body any, headers []string) (Response, []error, error) {
	if len(headers)%2 != 0 {
		return Response{}, nil, fmt.Errorf("headers %q are not name, value pairs", headers)
	}
	req, _, err := testkit.NewRequest(method, c.BaseURL+path, token, body)
	if err != nil {
		return Response{}, nil, err
	}
	for i := 0; i < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, data, err := testkit.Do(c.HTTP, req)
	if err != nil {
		return Response{}, nil, err
	}
	r := Response{Status: res.StatusCode, Header: res.Header, Body: data}
	return r, c.violations(req, r), nil
}

// violations lists what r breaks of what holds for every answer, of the
// contract's operation for req, and of the service's own Check.
func (c *Client) violations(req *http.Request, r Response) []error {
	var out []error
	// A 503 with Retry-After is a service telling the client to come back
	// (admission control, a dependency down): tests that cause one expect it.
	// Any other 5xx is a bug.
	if r.Status >= 500 && (r.Status != http.StatusServiceUnavailable || r.Header.Get("Retry-After") == "") {
		out = append(out, fmt.Errorf("server error %s", r))
	}
	if ct := r.Header.Get("Content-Type"); r.Status >= 400 && !strings.HasPrefix(ct, problem.ContentType) {
		out = append(out, fmt.Errorf("error %d with Content-Type %q, want %s", r.Status, ct, problem.ContentType))
	}
	if err := c.validate(req, r); err != nil {
		out = append(out, err)
	}
	if c.check != nil {
		if err := c.check(req, r); err != nil {
			out = append(out, err)
		}
	}
	return out
}

// platformPaths are what kit/httpserver serves besides the contract: probes,
// metrics and the API docs.
var platformPaths = []string{"/healthz", "/readyz", "/metrics", "/api-docs"}

func isPlatform(path string) bool {
	for _, p := range platformPaths {
		if path == p || strings.HasPrefix(path, p+"/") {
			return true
		}
	}
	return false
}

func (c *Client) validate(req *http.Request, r Response) error {
	route, params, err := c.router.FindRoute(req)
	if err != nil {
		// A request the contract has no operation for is the platform's,
		// or else a client error (an unknown path, an empty id).
		if isPlatform(req.URL.Path) || r.Status >= 400 && r.Status < 500 {
			return nil
		}
		return fmt.Errorf("answered %d, but the contract has no such operation: %w", r.Status, err)
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{
			Request: req, PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc},
		},
		Status:  r.Status,
		Header:  r.Header,
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	in.SetBodyBytes(bytes.Clone(r.Body))
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		return fmt.Errorf("answer %s does not match the contract: %w", r, err)
	}
	return nil
}
