package service_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/progressive-overload/po/services/kit/tracing"
)

// benchHarness is a service holding one user with a full first page of logs
// (20 of 25), the shape the load test reads.
func benchHarness(b *testing.B, opts ...harnessOption) (*harness, string, string) {
	b.Helper()
	h := newHarness(b, opts...)
	const uid = 601
	tok := h.user(b, uid)
	c := h.createChallenge(b, tok)
	for i := range 25 {
		h.logWorkout(b, tok, c.Id, 60+float64(i%4)*2.5)
	}
	path := userLogsPath(uid)
	if r := h.Do(b, "GET", path, tok, nil); r.Status != http.StatusOK {
		b.Fatalf("warm-up: %d %s", r.Status, r.Body)
	}
	return h, path, tok
}

// BenchmarkUserLogs measures GET /challenges/logs/{userId} through the whole
// server stack (request id, metrics, access log, JWT auth, routing, strict
// handler, cache, response) in process, without a socket, so allocs/op are
// the server's alone. "hit" is served from Redis, "hit-near" from the
// in-process tier in front of it (as make bench runs); "nocache" is the
// CACHE_ENABLED=false baseline that reads MySQL every time. Both run with
// tracing off, as a service without OTEL_EXPORTER_OTLP_ENDPOINT does;
// "hit-traced" and "nocache-traced" with tracing on, every request sampled
// and its spans batched to an exporter that drops them: the cost of the
// spans themselves, without a collector's network.
func BenchmarkUserLogs(b *testing.B) {
	for _, bc := range []struct {
		name   string
		opts   []harnessOption
		traced bool
	}{
		{"hit", nil, false},
		{"hit-near", []harnessOption{withNearCache(16 << 20)}, false},
		{"nocache", []harnessOption{withCacheDisabled()}, false},
		{"hit-traced", nil, true},
		{"nocache-traced", []harnessOption{withCacheDisabled()}, true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			if bc.traced {
				// Before the harness: the service decides whether to trace
				// as it is built.
				tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(tracetest.NewNoopExporter()))
				restore := tracing.Use(tp)
				b.Cleanup(func() { restore(); _ = tp.Shutdown(context.Background()) })
			}
			h, path, tok := benchHarness(b, bc.opts...)
			handler := h.svc.HTTP.App.Handler()
			var req fasthttp.Request
			req.Header.SetMethod("GET")
			req.SetRequestURI(path)
			req.Header.Set("Authorization", "Bearer "+tok)
			var ctx fasthttp.RequestCtx
			ctx.Init(&req, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}, nil)
			handler(&ctx)
			want := len(ctx.Response.Body())
			if ctx.Response.StatusCode() != http.StatusOK || want < 1000 {
				b.Fatalf("%d %s", ctx.Response.StatusCode(), ctx.Response.Body())
			}
			hits0 := h.cacheCount(b, "user-logs", "hit")
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				ctx.Response.Reset()
				handler(&ctx)
				if ctx.Response.StatusCode() != http.StatusOK || len(ctx.Response.Body()) != want {
					b.Fatalf("%d %s", ctx.Response.StatusCode(), ctx.Response.Body())
				}
			}
			b.StopTimer()
			if strings.HasPrefix(bc.name, "hit") && h.cacheCount(b, "user-logs", "hit")-hits0 < float64(b.N) {
				b.Fatal("not every request was a cache hit")
			}
		})
	}
}

// BenchmarkUserLogsLoopback is the same read over real TCP connections from
// parallel net/http clients: closer to the load test, but the client's own
// cost is included.
func BenchmarkUserLogsLoopback(b *testing.B) {
	h, path, tok := benchHarness(b)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		req, _ := http.NewRequest("GET", h.BaseURL+path, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		for pb.Next() {
			resp, err := h.HTTP.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
}
