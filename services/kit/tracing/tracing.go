// Package tracing sets up OpenTelemetry tracing for a service from the
// standard OTEL_* environment variables, and holds the few pieces the rest of
// the kit shares: whether tracing is on, the tracer, the propagator, and a
// provider that only continues traces.
//
// Tracing is on only when an OTLP endpoint is configured
// (OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) and
// neither OTEL_SDK_DISABLED=true nor OTEL_TRACES_EXPORTER=none says
// otherwise. Then spans are exported over OTLP/HTTP with protobuf (the
// exporter, the sampler and the batch processor read their OTEL_* variables
// themselves), and W3C trace context and baggage are propagated. Otherwise
// Setup installs nothing: the global provider stays OpenTelemetry's no-op, and
// the kit's instrumentation (kit/httpserver, kit/mysqldb, kit/cache,
// kit/events, redis through Instrument) checks Enabled once and stays out of
// the way, so a service without a collector pays nothing per request.
//
// Setup must run before the service's components are built: they decide
// whether to trace when they are constructed.
package tracing

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/embedded"
	"go.opentelemetry.io/otel/trace/noop"
)

// ScopeName is the instrumentation scope of the kit's own spans.
const ScopeName = "github.com/progressive-overload/po/services/kit"

var enabled atomic.Bool

// Enabled reports whether spans are being recorded and exported (Setup found
// an endpoint, or a test called Use).
func Enabled() bool { return enabled.Load() }

// Tracer is the kit's tracer on the global provider.
func Tracer() trace.Tracer { return otel.Tracer(ScopeName) }

// Propagator is the global propagator: W3C tracecontext and baggage once
// Setup or Use ran.
func Propagator() propagation.TextMapPropagator { return otel.GetTextMapPropagator() }

// Use installs tp as the global provider with the W3C propagators and turns
// Enabled on; the returned function puts back what was there. Setup uses it;
// tests use it with an in-memory exporter.
func Use(tp trace.TracerProvider) (restore func()) {
	prevTP, prevProp, prevOn := otel.GetTracerProvider(), otel.GetTextMapPropagator(), enabled.Load()
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	enabled.Store(true)
	return func() {
		enabled.Store(prevOn)
		otel.SetTracerProvider(prevTP)
		otel.SetTextMapPropagator(prevProp)
	}
}

// Configured reports whether the environment getenv reads asks for tracing
// (see the package comment), and refuses settings this build cannot honour:
// another exporter than otlp, or OTLP over gRPC.
func Configured(getenv func(string) string) (bool, error) {
	if strings.EqualFold(strings.TrimSpace(getenv("OTEL_SDK_DISABLED")), "true") {
		return false, nil
	}
	switch exp := strings.TrimSpace(getenv("OTEL_TRACES_EXPORTER")); exp {
	case "none":
		return false, nil
	case "", "otlp":
	default:
		return false, fmt.Errorf("OTEL_TRACES_EXPORTER=%q: only otlp (or none) is supported", exp)
	}
	if getenv("OTEL_EXPORTER_OTLP_ENDPOINT") == "" && getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") == "" {
		return false, nil
	}
	for _, name := range []string{"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"} {
		if p := strings.TrimSpace(getenv(name)); p != "" && p != "http/protobuf" {
			return false, fmt.Errorf("%s=%q: only http/protobuf is supported", name, p)
		}
	}
	return true, nil
}

// Setup installs the OTLP/HTTP exporting provider when the environment asks
// for tracing (see Configured) and returns the function that flushes and
// stops it; call that after the service has drained, with a deadline. When
// tracing is off it installs nothing and the returned function does nothing.
//
// The resource is service.name = service (OTEL_SERVICE_NAME overrides it),
// service.version = version, plus OTEL_RESOURCE_ATTRIBUTES.
func Setup(ctx context.Context, service, version string) (shutdown func(context.Context) error, err error) {
	noShutdown := func(context.Context) error { return nil }
	on, err := Configured(os.Getenv)
	if err != nil || !on {
		return noShutdown, err
	}
	exp, err := otlptracehttp.New(ctx)
	if err != nil {
		return noShutdown, fmt.Errorf("tracing: OTLP exporter: %w", err)
	}
	// Later options win: the environment overrides the defaults.
	res, err := resource.New(ctx,
		resource.WithAttributes(
			attribute.String("service.name", service),
			attribute.String("service.version", version),
		),
		resource.WithTelemetrySDK(),
		resource.WithFromEnv(),
	)
	if err != nil && res == nil {
		return noShutdown, fmt.Errorf("tracing: resource: %w", err)
	}
	// The sampler (OTEL_TRACES_SAMPLER, default parentbased_always_on) and
	// the batch processor (OTEL_BSP_*) read the environment themselves.
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	restore := Use(tp)
	return func(ctx context.Context) error {
		err := tp.Shutdown(ctx)
		restore()
		if err != nil {
			return fmt.Errorf("tracing: flushing spans: %w", err)
		}
		return nil
	}, nil
}

// ShutdownTimeout bounds the final flush; an unreachable collector must not
// hold up a pod's termination.
const ShutdownTimeout = 5 * time.Second

// ChildOnly wraps tp so that spans are started only inside a trace that is
// already under way; without a parent, Start returns the context unchanged
// and a non-recording span. Libraries that would otherwise open a trace of
// their own for every background statement or command (the outbox relay's
// polls, the consumers' inbox prunes) get it, so traces are requests and
// events, not housekeeping.
func ChildOnly(tp trace.TracerProvider) trace.TracerProvider {
	return childOnlyProvider{tp: tp}
}

type childOnlyProvider struct {
	embedded.TracerProvider
	tp trace.TracerProvider
}

func (p childOnlyProvider) Tracer(name string, opts ...trace.TracerOption) trace.Tracer {
	return childOnlyTracer{t: p.tp.Tracer(name, opts...)}
}

type childOnlyTracer struct {
	embedded.Tracer
	t trace.Tracer
}

var noopSpan = noop.Span{}

func (t childOnlyTracer) Start(ctx context.Context, name string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return ctx, noopSpan
	}
	return t.t.Start(ctx, name, opts...)
}

// ErrorStatus marks span failed with err's text, when err is not nil.
func ErrorStatus(span trace.Span, err error) {
	if err == nil {
		return
	}
	span.RecordError(err)
	span.SetStatus(codes.Error, err.Error())
}
