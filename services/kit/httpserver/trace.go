package httpserver

import (
	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/progressive-overload/po/services/kit/tracing"
)

// startSpan opens the request's server span, continuing the caller's trace
// when its traceparent header names one, and puts it in the request's user
// context, where handlers, the database and Redis find it. It is only called
// when tracing is on (s.tracer set) and never for the platform's own
// endpoints, which the kubelet and Prometheus call every few seconds.
//
// The span is named when the request is done (finishSpan): only then is the
// route template known.
func (s *Server) startSpan(c *fiber.Ctx) trace.Span {
	ctx := tracing.Propagator().Extract(c.UserContext(), headerCarrier{&c.Request().Header})
	ctx, span := s.tracer.Start(ctx, c.Method(), trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(
			attribute.String("http.request.method", c.Method()),
			attribute.String("url.path", c.Path()),
		))
	c.SetUserContext(ctx)
	return span
}

// finishSpan names the span after the route template ("POST /challenges"),
// records the answer and ends it. Requests that matched no route, or were
// shed before routing, are named by their method alone: their paths are
// unbounded.
func finishSpan(span trace.Span, method, route string, code int) {
	if route != "unmatched" && route != "shed" {
		span.SetName(method + " " + route)
		span.SetAttributes(attribute.String("http.route", route))
	}
	span.SetAttributes(attribute.Int("http.response.status_code", code))
	if code >= 500 {
		span.SetStatus(codes.Error, "")
	}
	span.End()
}

// isPlatformPath reports the probes and the scrape endpoint, never traced.
func isPlatformPath(path string) bool {
	return path == "/healthz" || path == "/readyz" || path == "/metrics"
}

// headerCarrier reads and writes W3C trace context in fasthttp's request
// headers without copying them into a net/http Header first.
type headerCarrier struct{ h *fasthttp.RequestHeader }

func (hc headerCarrier) Get(key string) string { return string(hc.h.Peek(key)) }

func (hc headerCarrier) Set(key, value string) { hc.h.Set(key, value) }

func (hc headerCarrier) Keys() []string {
	var keys []string
	hc.h.VisitAll(func(k, _ []byte) { keys = append(keys, string(k)) })
	return keys
}
