package tracing_test

import (
	"context"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/progressive-overload/po/services/kit/tracing"
)

func TestConfigured(t *testing.T) {
	for _, tc := range []struct {
		name    string
		env     map[string]string
		want    bool
		wantErr bool
	}{
		{"nothing set", nil, false, false},
		{"endpoint", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, true, false},
		{"traces endpoint", map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, true, false},
		{"sdk disabled", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_SDK_DISABLED": "true"}, false, false},
		{"exporter none", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_TRACES_EXPORTER": "none"}, false, false},
		{"exporter otlp", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_TRACES_EXPORTER": "otlp"}, true, false},
		{"exporter zipkin", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_TRACES_EXPORTER": "zipkin"}, false, true},
		{"http/protobuf", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"}, true, false},
		{"grpc", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, false, true},
		{"traces grpc", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4317", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "grpc"}, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tracing.Configured(func(k string) string { return tc.env[k] })
			if got != tc.want || (err != nil) != tc.wantErr {
				t.Errorf("Configured = %v, %v; want %v, error %v", got, err, tc.want, tc.wantErr)
			}
		})
	}
}

// Without an endpoint Setup installs nothing: tracing stays off.
func TestSetupWithoutEndpointStaysOff(t *testing.T) {
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "")
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "")
	shutdown, err := tracing.Setup(context.Background(), "svc", "v1")
	if err != nil {
		t.Fatal(err)
	}
	if tracing.Enabled() {
		t.Error("tracing on without an endpoint")
	}
	if err := shutdown(context.Background()); err != nil {
		t.Error(err)
	}
}

// With an endpoint Setup turns tracing on, and its shutdown turns it off again.
func TestSetupWithEndpoint(t *testing.T) {
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1")
	shutdown, err := tracing.Setup(context.Background(), "svc", "v1")
	if err != nil {
		t.Fatal(err)
	}
	if !tracing.Enabled() {
		t.Error("tracing off with an endpoint")
	}
	// Nothing was recorded, so nothing is sent to the unreachable endpoint.
	if err := shutdown(context.Background()); err != nil {
		t.Error(err)
	}
	if tracing.Enabled() {
		t.Error("tracing still on after shutdown")
	}
}

func TestChildOnly(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	defer func() { _ = tp.Shutdown(context.Background()) }()
	child := tracing.ChildOnly(tp).Tracer("test")

	ctx, orphan := child.Start(context.Background(), "orphan")
	if orphan.IsRecording() || orphan.SpanContext().IsValid() || ctx != context.Background() {
		t.Error("a span without a parent was started")
	}
	orphan.End()

	pctx, parent := tp.Tracer("test").Start(context.Background(), "parent")
	_, kid := child.Start(pctx, "kid")
	kid.End()
	parent.End()
	ended := rec.Ended()
	if len(ended) != 2 || ended[0].Name() != "kid" || ended[0].Parent().SpanID() != parent.SpanContext().SpanID() {
		t.Errorf("ended spans %v, want kid under parent, then parent", ended)
	}
}
