package httpserver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/progressive-overload/po/services/kit/leaktest"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/progressive-overload/po/services/kit/problem"
)

func TestMain(m *testing.M) { leaktest.VerifyTestMain(m) }

// serve runs s on a loopback port and returns its address and a stop function
// that shuts it down and checks Serve's result; stop is also called when the
// test ends, and may be called more than once.
func serve(t *testing.T, s *Server) (addr string, stop func()) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, ln) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-served; err != nil {
				t.Errorf("Serve = %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return ln.Addr().String(), stop
}

func newTestServer(t *testing.T, opts Options) *Server {
	t.Helper()
	opts.Service = "test"
	opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	s := New(opts)
	s.App.Get("/users/:id", func(c *fiber.Ctx) error { return c.SendString("user " + c.Params("id")) })
	s.App.Post("/echo", func(c *fiber.Ctx) error {
		var v map[string]any
		if err := json.Unmarshal(c.Body(), &v); err != nil {
			return problem.BadRequest("malformed JSON")
		}
		return c.JSON(v)
	})
	s.App.Get("/panic", func(c *fiber.Ctx) error { panic("boom") })
	s.App.Get("/fail", func(c *fiber.Ctx) error { return errors.New("db password=secret unreachable") })
	s.App.Get("/limited", func(c *fiber.Ctx) error { return problem.TooManyRequests("slow down", 30) })
	return s
}

func do(t *testing.T, s *Server, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	resp, err := s.App.Test(req, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, body
}

func decodeProblem(t *testing.T, resp *http.Response, body []byte) problem.Problem {
	t.Helper()
	if ct := resp.Header.Get("Content-Type"); ct != problem.ContentType {
		t.Fatalf("Content-Type = %q, want %q (body %s)", ct, problem.ContentType, body)
	}
	var p problem.Problem
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatalf("problem body %q: %v", body, err)
	}
	if p.Status != resp.StatusCode || p.Title == "" {
		t.Fatalf("problem %+v does not match status %d", p, resp.StatusCode)
	}
	return p
}

func TestErrorsAreProblems(t *testing.T) {
	s := newTestServer(t, Options{BodyLimit: 64})
	tests := []struct {
		name   string
		req    *http.Request
		status int
	}{
		{"unknown route", httptest.NewRequest("GET", "/nope", nil), 404},
		{"wrong method", httptest.NewRequest("DELETE", "/echo", nil), 405},
		{"malformed body", httptest.NewRequest("POST", "/echo", strings.NewReader("{")), 400},
		{"panic", httptest.NewRequest("GET", "/panic", nil), 500},
		{"internal error", httptest.NewRequest("GET", "/fail", nil), 500},
		{"rate limited", httptest.NewRequest("GET", "/limited", nil), 429},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := do(t, s, tt.req)
			if resp.StatusCode != tt.status {
				t.Fatalf("status = %d, want %d (body %s)", resp.StatusCode, tt.status, body)
			}
			p := decodeProblem(t, resp, body)
			if strings.Contains(p.Detail, "secret") {
				t.Fatalf("internal error text leaked: %q", p.Detail)
			}
			if resp.Header.Get("X-Request-Id") == "" {
				t.Fatal("no X-Request-Id on an error response")
			}
		})
	}
	resp, _ := do(t, s, httptest.NewRequest("GET", "/limited", nil))
	if got := resp.Header.Get("Retry-After"); got != "30" {
		t.Fatalf("Retry-After = %q, want 30", got)
	}
}

func TestRequestIDPropagates(t *testing.T) {
	s := newTestServer(t, Options{})
	req := httptest.NewRequest("GET", "/users/1", nil)
	req.Header.Set("X-Request-Id", "abc-123")
	resp, _ := do(t, s, req)
	if got := resp.Header.Get("X-Request-Id"); got != "abc-123" {
		t.Fatalf("X-Request-Id = %q", got)
	}
}

func TestMetricsUseRouteTemplates(t *testing.T) {
	s := newTestServer(t, Options{})
	for _, id := range []string{"1", "2", "3"} {
		do(t, s, httptest.NewRequest("GET", "/users/"+id, nil))
	}
	do(t, s, httptest.NewRequest("GET", "/no/such/path", nil))
	if got := testutil.ToFloat64(s.metrics.requests.WithLabelValues("test", "/users/:id", "GET", "200")); got != 3 {
		t.Fatalf("requests for /users/:id = %v, want 3", got)
	}
	if got := testutil.ToFloat64(s.metrics.requests.WithLabelValues("test", "unmatched", "GET", "404")); got != 1 {
		t.Fatalf("unmatched 404s = %v, want 1", got)
	}
	_, body := do(t, s, httptest.NewRequest("GET", "/metrics", nil))
	for _, want := range []string{`http_requests_total{code="200",method="GET",route="/users/:id",service="test"} 3`, "http_request_duration_seconds_bucket", "go_goroutines"} {
		if !bytes.Contains(body, []byte(want)) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if bytes.Contains(body, []byte(`route="/users/1"`)) {
		t.Error("raw path used as a label")
	}
}

func TestReadiness(t *testing.T) {
	healthy := true
	s := newTestServer(t, Options{ReadyChecks: []Check{{Name: "mysql", Probe: func(context.Context) error {
		if healthy {
			return nil
		}
		return errors.New("connection refused")
	}}}})
	if resp, body := do(t, s, httptest.NewRequest("GET", "/readyz", nil)); resp.StatusCode != 200 {
		t.Fatalf("ready = %d %s", resp.StatusCode, body)
	}
	healthy = false
	resp, body := do(t, s, httptest.NewRequest("GET", "/readyz", nil))
	if resp.StatusCode != 503 {
		t.Fatalf("ready with failing check = %d", resp.StatusCode)
	}
	if p := decodeProblem(t, resp, body); len(p.Errors) != 1 || p.Errors[0].Field != "mysql" {
		t.Fatalf("failing check not named: %s", body)
	}
	if resp, _ := do(t, s, httptest.NewRequest("GET", "/healthz", nil)); resp.StatusCode != 200 {
		t.Fatalf("liveness must not depend on dependencies: %d", resp.StatusCode)
	}
}

func TestAPIDocs(t *testing.T) {
	spec := []byte("openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths: {}\n")
	s := newTestServer(t, Options{OpenAPISpec: spec})
	resp, body := do(t, s, httptest.NewRequest("GET", "/api-docs/openapi.yaml", nil))
	if resp.StatusCode != 200 || !bytes.Equal(body, spec) {
		t.Fatalf("spec = %d %q", resp.StatusCode, body)
	}
	if resp, _ := do(t, s, httptest.NewRequest("GET", "/api-docs", nil)); resp.StatusCode != 301 || resp.Header.Get("Location") != "/api-docs/" {
		t.Fatalf("/api-docs = %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, body = do(t, s, httptest.NewRequest("GET", "/api-docs/", nil))
	if resp.StatusCode != 200 || !bytes.Contains(body, []byte("swagger")) || !bytes.Contains(body, []byte("/api-docs/openapi.yaml")) {
		t.Fatalf("swagger ui = %d %.200s", resp.StatusCode, body)
	}
	if bytes.Contains(body, []byte("cdn")) || bytes.Contains(body, []byte("unpkg")) {
		t.Fatal("swagger ui loads assets from a CDN")
	}
}

// The body limit is enforced by the HTTP parser before routing, so it is checked
// over a real connection rather than through App.Test.
func TestBodyLimitOverRealConnection(t *testing.T) {
	s := newTestServer(t, Options{BodyLimit: 64})
	addr, _ := serve(t, s)
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Post("http://"+addr+"/echo", "application/json",
		strings.NewReader(`{"a":"`+strings.Repeat("x", 200)+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("status = %d, want 413 (%s)", resp.StatusCode, body)
	}
	decodeProblem(t, resp, body)
}

// TestGracefulShutdown checks that a request in flight when shutdown begins still
// completes, that new connections are refused afterwards, and (via goleak) that
// nothing is left running.
func TestGracefulShutdown(t *testing.T) {
	s := newTestServer(t, Options{ShutdownTimeout: 5 * time.Second})
	started := make(chan struct{})
	release := make(chan struct{})
	s.App.Get("/slow", func(c *fiber.Ctx) error {
		close(started)
		<-release
		return c.SendString("done")
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, ln) }()

	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	got := make(chan string, 1)
	go func() {
		resp, err := client.Get("http://" + ln.Addr().String() + "/slow")
		if err != nil {
			got <- "error: " + err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		got <- string(b)
	}()
	<-started
	cancel()
	time.Sleep(50 * time.Millisecond) // let shutdown begin while the request is in flight
	close(release)
	if body := <-got; body != "done" {
		t.Fatalf("in-flight request = %q, want done", body)
	}
	if err := <-served; err != nil {
		t.Fatalf("Serve = %v", err)
	}
	if _, err := client.Get("http://" + ln.Addr().String() + "/healthz"); err == nil {
		t.Fatal("server still accepts connections after shutdown")
	}
	client.CloseIdleConnections()
}

// TestProfilerOnlyOnDebugAddr checks that /debug/pprof/ answers on DebugAddr, not on
// the API port, and that the debug listener closes with Serve.
func TestProfilerOnlyOnDebugAddr(t *testing.T) {
	free, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	debugAddr := free.Addr().String()
	free.Close()
	s := newTestServer(t, Options{DebugAddr: debugAddr})
	addr, stop := serve(t, s)
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	get := func(url string) (int, string) {
		t.Helper()
		var lastErr error
		for range 50 { // the debug listener opens as Serve starts
			resp, err := client.Get(url)
			if err != nil {
				lastErr = err
				time.Sleep(10 * time.Millisecond)
				continue
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			return resp.StatusCode, string(b)
		}
		t.Fatalf("GET %s: %v", url, lastErr)
		return 0, ""
	}
	if code, body := get("http://" + debugAddr + "/debug/pprof/"); code != http.StatusOK || !strings.Contains(body, "goroutine") {
		t.Fatalf("debug listener: %d %.200s", code, body)
	}
	if code, body := get("http://" + debugAddr + "/debug/pprof/heap?debug=1"); code != http.StatusOK || !strings.Contains(body, "heap profile") {
		t.Fatalf("heap profile: %d %.200s", code, body)
	}
	if code, _ := get("http://" + addr + "/debug/pprof/"); code != http.StatusNotFound {
		t.Fatalf("API port serves the profiler: %d, want 404", code)
	}
	stop()
	if _, err := client.Get("http://" + debugAddr + "/debug/pprof/"); err == nil {
		t.Fatal("debug listener still accepts connections after shutdown")
	}
}
