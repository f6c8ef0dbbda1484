// Package httpserver is the one Fiber application factory both services use: the
// same middleware chain, error format, probes, metrics, API docs and shutdown.
package httpserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/gofiber/fiber/v2/middleware/recover"
	"github.com/gofiber/fiber/v2/middleware/requestid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/swaggest/swgui/v5emb"
	"go.opentelemetry.io/otel/trace"

	"github.com/progressive-overload/po/services/kit/problem"
	"github.com/progressive-overload/po/services/kit/tracing"
)

// Check is one dependency /readyz verifies.
type Check struct {
	Name  string
	Probe func(ctx context.Context) error
}

// Options configure a server. Zero values get production defaults.
type Options struct {
	Service         string // label on every metric and log line
	Logger          *slog.Logger
	Registry        *prometheus.Registry // nil: a new registry with Go and process collectors
	BodyLimit       int                  // bytes; default 1 MiB
	ShutdownTimeout time.Duration        // default 15s
	ReadyChecks     []Check
	ReadyTimeout    time.Duration // per /readyz call; default 2s
	OpenAPISpec     []byte        // served at /api-docs/openapi.yaml with Swagger UI at /api-docs
	// DebugAddr, when set, is a second listener serving the Go profiler at
	// /debug/pprof/ for as long as Serve runs. Empty (the default) serves none.
	DebugAddr string
	// TrustedProxies are the addresses of the reverse proxies in front of the
	// service (ingress controller, load balancer): only a request whose TCP
	// peer is one of them has its X-Forwarded-For read, and then only the
	// entries trusted proxies appended (see ClientIP). Empty (the default):
	// every client is its TCP peer and the header is ignored.
	TrustedProxies []netip.Prefix
	// MaxInFlight bounds the requests handled at once; /healthz, /readyz and
	// /metrics are never held back. A request beyond it waits up to
	// QueueTimeout for a slot and is then answered 503 with Retry-After, so an
	// overloaded service sheds load instead of growing a goroutine stack per
	// queued request until it is OOM-killed. A quarter of the slots run on the
	// connection's goroutine (cheapest while the service is quiet), the rest
	// on at most as many reused handler goroutines, so only these grow deep
	// stacks, however many connections are open. 0: DefaultMaxInFlight; negative: no bound (handlers
	// run on the connection's goroutine, counted for http_requests_in_flight).
	MaxInFlight int
	// QueueTimeout is how long a request beyond MaxInFlight waits for a slot.
	// 0: DefaultQueueTimeout; negative: refused at once.
	QueueTimeout time.Duration
}

// Server wraps the Fiber app with its lifecycle.
type Server struct {
	App      *fiber.App
	Registry *prometheus.Registry
	opts     Options
	log      *slog.Logger
	metrics  *httpMetrics
	admit    *admission
	trusted  *trustedProxies // nil: none
	draining atomic.Bool
	shedLog  shedLog
	// tracer is set when tracing is on (kit/tracing): requests get server
	// spans and slow buckets of the latency histogram exemplars.
	tracer trace.Tracer
}

// NewRegistry is a metrics registry with the Go runtime and process
// collectors, what /metrics serves when Options.Registry is nil.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// New builds the app with the middleware chain and platform endpoints installed;
// the caller adds its own routes to s.App.
func New(opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.BodyLimit <= 0 {
		opts.BodyLimit = 1 << 20
	}
	if opts.ShutdownTimeout <= 0 {
		opts.ShutdownTimeout = 15 * time.Second
	}
	if opts.ReadyTimeout <= 0 {
		opts.ReadyTimeout = 2 * time.Second
	}
	if opts.Registry == nil {
		opts.Registry = NewRegistry()
	}
	if opts.MaxInFlight == 0 {
		opts.MaxInFlight = DefaultMaxInFlight
	}
	if opts.QueueTimeout == 0 {
		opts.QueueTimeout = DefaultQueueTimeout
	}
	s := &Server{Registry: opts.Registry, opts: opts, log: opts.Logger, trusted: newTrustedProxies(opts.TrustedProxies)}
	if tracing.Enabled() {
		s.tracer = tracing.Tracer()
	}
	s.metrics = newHTTPMetrics(opts.Registry)
	s.admit = newAdmission(opts, opts.Registry)
	s.App = fiber.New(fiber.Config{
		AppName:               opts.Service,
		DisableStartupMessage: true,
		BodyLimit:             opts.BodyLimit,
		ErrorHandler:          s.handleError,
		// Params and bodies are copied so values handed to goroutines (singleflight,
		// events) are never overwritten by the next request on the same buffer.
		Immutable:    true,
		ReadTimeout:  30 * time.Second,
		WriteTimeout: 30 * time.Second,
		IdleTimeout:  120 * time.Second,
	})
	s.App.Use(s.observe)
	s.App.Use(recover.New(recover.Config{
		EnableStackTrace: true,
		StackTraceHandler: func(c *fiber.Ctx, e any) {
			stack := debug.Stack()
			if hp, ok := e.(*handlerPanic); ok { // raised again from a handler goroutine
				e, stack = hp.value, hp.stack
			}
			s.log.Error("panic serving request", "panic", fmt.Sprint(e), "path", c.Path(), "stack", string(stack))
		},
	}))
	// After observe and recover: refusals are measured and logged, and a
	// handler's panic is recovered and still frees its slot.
	s.App.Use(s.admit.handle)
	s.App.Get("/healthz", func(c *fiber.Ctx) error {
		return c.JSON(fiber.Map{"status": "ok"})
	})
	s.App.Get("/readyz", s.ready)
	s.App.Get("/metrics", adaptor.HTTPHandler(promhttp.HandlerFor(opts.Registry, promhttp.HandlerOpts{
		Registry: opts.Registry,
		// Exemplars (trace ids on the latency histogram) exist only in the
		// OpenMetrics format; a scraper asking for it gets them, one asking for
		// the text format (curl, older Prometheus) gets that as before.
		EnableOpenMetrics: true,
	})))
	if len(opts.OpenAPISpec) > 0 {
		s.mountAPIDocs()
	}
	return s
}

// observe gives every request an id, renders errors immediately (so the status is
// known here), and records the access log line and the HTTP metrics.
func (s *Server) observe(c *fiber.Ctx) error {
	start := time.Now()
	if s.trusted != nil {
		c.Locals(trustedProxiesKey{}, s.trusted) // for ClientIP
	}
	rid := c.Get(fiber.HeaderXRequestID)
	if rid == "" || len(rid) > 128 {
		rid = requestid.ConfigDefault.Generator()
	}
	c.Set(fiber.HeaderXRequestID, rid)
	c.Locals("requestid", rid)
	var span trace.Span // nil unless tracing is on: nothing is allocated for it otherwise
	if s.tracer != nil && !isPlatformPath(c.Path()) {
		span = s.startSpan(c)
	}

	if err := c.Next(); err != nil {
		if herr := s.handleError(c, err); herr != nil {
			return herr
		}
	}
	code := c.Response().StatusCode()
	route := routeLabel(c)
	shed := code == fiber.StatusServiceUnavailable && wasShed(c)
	if shed {
		// Refused before routing: no template is known, and "unmatched" would
		// mix the refusals with 404s.
		route = "shed"
	}
	elapsed := time.Since(start)
	var traceID string // set when this request's trace is sampled
	if span != nil {
		if sc := span.SpanContext(); sc.IsSampled() {
			traceID = sc.TraceID().String()
		}
		finishSpan(span, c.Method(), route, code)
	}
	s.metrics.observe(s.opts.Service, route, c.Method(), code, elapsed, traceID)

	// Probes and scrapes arrive every few seconds from the platform; logging them
	// would drown the requests people care about.
	if code < 400 && (route == "/healthz" || route == "/readyz" || route == "/metrics") {
		return nil
	}
	// A shed request is the service protecting itself: a warning, at most
	// one a second (see shedLogEvery).
	if shed {
		s.logShed(c, rid, elapsed)
		return nil
	}
	level := slog.LevelInfo
	if code >= 500 {
		level = slog.LevelError
	} else if code >= 400 {
		level = slog.LevelWarn
	}
	attrs := []slog.Attr{
		slog.String("request_id", rid),
		slog.String("method", c.Method()),
		slog.String("route", route),
		slog.String("path", c.Path()),
		slog.Int("status", code),
		slog.Float64("duration_ms", float64(elapsed.Microseconds())/1000),
		slog.String("remote", ClientIP(c)),
	}
	if traceID != "" {
		// From a log line to its trace.
		attrs = append(attrs, slog.String("trace_id", traceID))
	}
	s.log.LogAttrs(c.UserContext(), level, "request", attrs...)
	return nil
}

// shedLogEvery bounds the access-log lines of shed requests to one a second:
// an overloaded service refuses thousands a second, and a line for each would
// spend the CPU it is short of, exactly then. http_requests_shed_total counts
// every one; the line that is written says how many went unlogged before it.
const shedLogEvery = time.Second

// shedLog lets one shed request a second through to the log.
type shedLog struct {
	next     atomic.Int64 // unix nanoseconds before which lines are skipped
	unlogged atomic.Int64
}

func (l *shedLog) allow(now time.Time) (unlogged int64, ok bool) {
	n := l.next.Load()
	if now.UnixNano() < n || !l.next.CompareAndSwap(n, now.Add(shedLogEvery).UnixNano()) {
		l.unlogged.Add(1)
		return 0, false
	}
	return l.unlogged.Swap(0), true
}

func (s *Server) logShed(c *fiber.Ctx, rid string, elapsed time.Duration) {
	unlogged, ok := s.shedLog.allow(time.Now())
	if !ok {
		return
	}
	// A warning, not an error: the service is protecting itself.
	s.log.LogAttrs(c.UserContext(), slog.LevelWarn, "request",
		slog.String("request_id", rid),
		slog.String("method", c.Method()),
		slog.String("route", "shed"),
		slog.String("path", c.Path()),
		slog.Int("status", c.Response().StatusCode()),
		slog.Float64("duration_ms", float64(elapsed.Microseconds())/1000),
		slog.String("remote", ClientIP(c)),
		slog.Int64("shed_unlogged_before", unlogged),
	)
}

// handleError renders any error as problem+json.
func (s *Server) handleError(c *fiber.Ctx, err error) error {
	var fe *fiber.Error
	if errors.As(err, &fe) {
		// Fiber's own errors (404 route, 405, 413 body limit, bad body) carry terse texts.
		err = problem.New(fe.Code, fe.Message)
	}
	p, internal := problem.From(err)
	if internal {
		s.log.Error("request failed", "error", err.Error(), "path", c.Path(), "request_id", c.Locals("requestid"))
	}
	if p.Instance == "" {
		p.Instance = c.OriginalURL()
		if len(p.Instance) > 256 {
			p.Instance = p.Instance[:256]
		}
	}
	if ra := p.RetryAfterHeader(); ra != "" {
		c.Set(fiber.HeaderRetryAfter, ra)
	}
	return WriteProblem(c, p)
}

// WriteProblem writes p with the problem+json media type.
func WriteProblem(c *fiber.Ctx, p *problem.Problem) error {
	c.Status(p.Status)
	if err := c.JSON(p); err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, problem.ContentType)
	return nil
}

func (s *Server) ready(c *fiber.Ctx) error {
	if s.draining.Load() {
		return problem.New(http.StatusServiceUnavailable, "shutting down")
	}
	ctx, cancel := context.WithTimeout(c.UserContext(), s.opts.ReadyTimeout)
	defer cancel()
	failed := map[string]string{}
	for _, chk := range s.opts.ReadyChecks {
		if err := chk.Probe(ctx); err != nil {
			failed[chk.Name] = err.Error()
		}
	}
	if len(failed) > 0 {
		s.log.Warn("not ready", "failed", failed)
		p := problem.New(http.StatusServiceUnavailable, "dependencies unavailable")
		for name := range failed {
			p.Errors = append(p.Errors, problem.FieldError{Field: name, Message: "unreachable"})
		}
		return p
	}
	return c.JSON(fiber.Map{"status": "ready"})
}

func (s *Server) mountAPIDocs() {
	spec := s.opts.OpenAPISpec
	s.App.Get("/api-docs/openapi.yaml", func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderContentType, "application/yaml")
		return c.Send(spec)
	})
	ui := adaptor.HTTPHandler(v5emb.New(s.opts.Service+" API", "/api-docs/openapi.yaml", "/api-docs/"))
	// Fiber matches "/api-docs" and "/api-docs/" alike; only the form without the
	// slash is redirected, because the UI loads its assets relative to the page.
	s.App.Get("/api-docs/*", func(c *fiber.Ctx) error {
		if c.Path() == "/api-docs" {
			return c.Redirect("/api-docs/", http.StatusMovedPermanently)
		}
		return ui(c)
	})
}

// Serve answers on ln until ctx is cancelled, then stops accepting, marks itself not
// ready, and drains in-flight requests for up to ShutdownTimeout.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	dln, err := s.listenDebug()
	if err != nil {
		_ = ln.Close()
		return err
	}
	if dln != nil {
		dctx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); s.serveDebug(dctx, dln) }()
		defer func() { stop(); <-done }()
	}
	errc := make(chan error, 1)
	go func() { errc <- s.App.Listener(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	s.draining.Store(true)
	s.log.Info("shutting down", "timeout", s.opts.ShutdownTimeout.String())
	err = s.App.ShutdownWithTimeout(s.opts.ShutdownTimeout)
	if lerr := <-errc; lerr != nil && err == nil {
		err = lerr
	}
	return err
}

// Run listens on addr and serves until ctx is cancelled.
func (s *Server) Run(ctx context.Context, addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	s.log.Info("listening", "addr", ln.Addr().String())
	return s.Serve(ctx, ln)
}
