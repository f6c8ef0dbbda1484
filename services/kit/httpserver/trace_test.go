package httpserver

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/progressive-overload/po/services/kit/tracing"
)

// With tracing on, a request continues its caller's trace in a server span
// named after the route template, the handler sees that span in its
// context, probes are not traced, and the latency histogram carries the
// trace id as an exemplar, served in the OpenMetrics format.
func TestServerSpans(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	restore := tracing.Use(tp)
	t.Cleanup(func() { restore(); _ = tp.Shutdown(context.Background()) })

	s := newTestServer(t, Options{})
	var inHandler trace.SpanContext
	s.App.Get("/things/:id", func(c *fiber.Ctx) error {
		inHandler = trace.SpanContextFromContext(c.UserContext())
		return c.SendString("ok")
	})
	s.App.Get("/boom", func(c *fiber.Ctx) error { return errors.New("boom") })

	const traceID, parentID = "4bf92f3577b34da6a3ce929d0e0736aa", "00f067aa0ba902b7"
	req := httptest.NewRequest(http.MethodGet, "/things/42", nil)
	req.Header.Set("traceparent", "00-"+traceID+"-"+parentID+"-01")
	if resp, err := s.App.Test(req, -1); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /things/42: %v %v", resp, err)
	}
	for _, path := range []string{"/healthz", "/metrics", "/boom"} {
		if _, err := s.App.Test(httptest.NewRequest(http.MethodGet, path, nil), -1); err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
	}

	ended := rec.Ended()
	if len(ended) != 2 {
		t.Fatalf("%d spans, want 2 (the probe and the scrape are not traced): %v", len(ended), ended)
	}
	sp := ended[0]
	if sp.Name() != "GET /things/:id" || sp.SpanKind() != trace.SpanKindServer {
		t.Errorf("span %q of kind %v, want \"GET /things/:id\", server", sp.Name(), sp.SpanKind())
	}
	if sp.SpanContext().TraceID().String() != traceID || sp.Parent().SpanID().String() != parentID {
		t.Errorf("span in trace %s under %s, want the caller's %s under %s",
			sp.SpanContext().TraceID(), sp.Parent().SpanID(), traceID, parentID)
	}
	if inHandler.SpanID() != sp.SpanContext().SpanID() {
		t.Errorf("the handler's context has span %s, want the server span %s", inHandler.SpanID(), sp.SpanContext().SpanID())
	}
	attrs := map[attribute.Key]attribute.Value{}
	for _, kv := range sp.Attributes() {
		attrs[kv.Key] = kv.Value
	}
	if attrs["http.route"].AsString() != "/things/:id" || attrs["http.response.status_code"].AsInt64() != 200 {
		t.Errorf("attributes %v", sp.Attributes())
	}
	if boom := ended[1]; boom.Name() != "GET /boom" || boom.Status().Code != codes.Error {
		t.Errorf("failed request's span %q with status %v, want GET /boom, error", boom.Name(), boom.Status())
	}

	// The exemplar links the request's bucket to its trace.
	scrape := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	scrape.Header.Set("Accept", "application/openmetrics-text; version=1.0.0")
	resp, err := s.App.Test(scrape, -1)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	var found bool
	for line := range strings.Lines(string(body)) {
		if strings.HasPrefix(line, "http_request_duration_seconds_bucket{") && strings.Contains(line, `route="/things/:id"`) &&
			strings.Contains(line, `# {trace_id="`+traceID+`"}`) {
			found = true
		}
	}
	if !found {
		t.Errorf("no exemplar with trace %s on the /things/:id buckets in:\n%s", traceID, body)
	}
}

// With tracing off, requests open no span, and the scrape is the plain
// text format by default.
func TestServerWithoutTracing(t *testing.T) {
	s := newTestServer(t, Options{})
	if tracing.Enabled() || s.tracer != nil {
		t.Fatal("tracing on: no test may leave it on")
	}
	resp, err := s.App.Test(httptest.NewRequest(http.MethodGet, "/metrics", nil), -1)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("/metrics without Accept: %s, want the text format", ct)
	}
}
