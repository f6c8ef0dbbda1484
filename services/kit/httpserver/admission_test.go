package httpserver

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/valyala/fasthttp"

	"github.com/progressive-overload/po/services/kit/problem"
)

type result struct {
	status  int
	header  http.Header
	body    []byte
	elapsed time.Duration
	err     error
}

// liveServer serves s on a loopback port until the test ends and returns a GET
// function that runs in the background.
func liveServer(t *testing.T, s *Server) (get func(path string) <-chan result, getNow func(path string) result) {
	t.Helper()
	addr, _ := serve(t, s)
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	t.Cleanup(client.CloseIdleConnections)
	getNow = func(path string) result {
		start := time.Now()
		resp, err := client.Get("http://" + addr + path)
		if err != nil {
			return result{err: err}
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		return result{status: resp.StatusCode, header: resp.Header, body: body, elapsed: time.Since(start), err: err}
	}
	get = func(path string) <-chan result {
		ch := make(chan result, 1)
		go func() { ch <- getNow(path) }()
		return ch
	}
	return get, getNow
}

// blockingRoute adds GET /block, whose handler reports on entered and then waits
// for a value on (or the closing of) release.
func blockingRoute(s *Server) (entered, release chan struct{}) {
	entered, release = make(chan struct{}, 16), make(chan struct{})
	s.App.Get("/block", func(c *fiber.Ctx) error {
		entered <- struct{}{}
		<-release
		return c.SendString("done")
	})
	return entered, release
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func wantOK(t *testing.T, what string, r result) {
	t.Helper()
	if r.err != nil || r.status != http.StatusOK {
		t.Fatalf("%s = %d %v (%s), want 200", what, r.status, r.err, r.body)
	}
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestAdmissionQueuesThenSheds: with two slots taken, a third request waits and
// is served when a slot frees within the queue timeout; a fourth, finding none
// free for the whole timeout, is answered 503 problem+json with Retry-After,
// counted and logged as a warning, while the platform endpoints still answer.
func TestAdmissionQueuesThenSheds(t *testing.T) {
	const queueTimeout = 300 * time.Millisecond
	s := newTestServer(t, Options{MaxInFlight: 2, QueueTimeout: queueTimeout})
	var logs lockedBuffer
	s.log = slog.New(slog.NewJSONHandler(&logs, nil))
	entered, release := blockingRoute(s)
	get, getNow := liveServer(t, s)

	first, second := get("/block"), get("/block")
	<-entered
	<-entered
	if n := s.admit.active.Load(); n != 2 {
		t.Fatalf("in flight = %d, want 2", n)
	}

	third := get("/block")
	eventually(t, "the third request to queue", func() bool { return s.admit.queued.Load() == 1 })
	release <- struct{}{} // the first or the second finishes; the third takes its slot
	<-entered
	eventually(t, "the third request to leave the queue", func() bool { return s.admit.queued.Load() == 0 })
	if n := s.admit.active.Load(); n != 2 {
		t.Fatalf("in flight = %d after a slot freed, want 2", n)
	}

	fourth := get("/block")
	eventually(t, "the fourth request to queue", func() bool { return s.admit.queued.Load() == 1 })
	// Saturated: the platform endpoints still answer, without waiting.
	for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
		r := getNow(path)
		wantOK(t, path+" while saturated", r)
		if r.elapsed >= queueTimeout {
			t.Errorf("%s took %s: it waited for a slot", path, r.elapsed)
		}
	}

	r := <-fourth
	if r.err != nil || r.status != http.StatusServiceUnavailable {
		t.Fatalf("fourth = %d %v (%s), want 503", r.status, r.err, r.body)
	}
	resp := &http.Response{StatusCode: r.status, Header: r.header}
	decodeProblem(t, resp, r.body)
	if ra := r.header.Get("Retry-After"); ra != "1" {
		t.Errorf("Retry-After = %q, want 1", ra)
	}
	if r.header.Get("X-Request-Id") == "" {
		t.Error("no X-Request-Id on a shed response")
	}
	if r.elapsed < queueTimeout {
		t.Errorf("shed after %s, before the %s queue timeout", r.elapsed, queueTimeout)
	}
	if got := testutil.ToFloat64(s.admit.shed); got != 1 {
		t.Errorf("http_requests_shed_total = %v, want 1", got)
	}
	if got := testutil.ToFloat64(s.metrics.requests.WithLabelValues("test", "shed", "GET", "503")); got != 1 {
		t.Errorf(`http_requests_total{route="shed",code="503"} = %v, want 1`, got)
	}
	m := getNow("/metrics")
	wantOK(t, "/metrics", m)
	for _, want := range []string{`http_requests_shed_total{service="test"} 1`, `http_requests_in_flight{service="test"} 2`, `http_requests_queued{service="test"} 0`} {
		if !bytes.Contains(m.body, []byte(want)) {
			t.Errorf("/metrics lacks %q", want)
		}
	}

	close(release)
	for name, ch := range map[string]<-chan result{"first": first, "second": second, "third": third} {
		r := <-ch
		wantOK(t, name, r)
		if string(r.body) != "done" {
			t.Errorf("%s = %q", name, r.body)
		}
	}
	eventually(t, "the slots to free", func() bool { return s.admit.active.Load() == 0 })
	wantOK(t, "a request after the load", getNow("/users/1"))

	var shedLine string
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, `"status":503`) {
			shedLine = line
		}
	}
	if !strings.Contains(shedLine, `"level":"WARN"`) || !strings.Contains(shedLine, `"route":"shed"`) {
		t.Errorf("shed request logged as %q, want a WARN line with route shed", shedLine)
	}
}

// A negative QueueTimeout refuses at once; a panicking handler frees its slot.
func TestAdmissionRefusesAtOnceAndFreesOnPanic(t *testing.T) {
	s := newTestServer(t, Options{MaxInFlight: 1, QueueTimeout: -1})
	// The only handler goroutine takes the next request once it is back in
	// its loop, a moment after the previous answer was sent; refusing at once
	// means a request arriving in that moment is shed. So each request may
	// be refused for a while, but must get through: a slot a panic never
	// freed would refuse it for good.
	through := func(path string) (*http.Response, []byte) {
		var resp *http.Response
		var body []byte
		eventually(t, path+" to be admitted", func() bool {
			resp, body = do(t, s, httptest.NewRequest("GET", path, nil))
			return resp.StatusCode != http.StatusServiceUnavailable
		})
		return resp, body
	}
	for range 3 {
		if resp, body := through("/panic"); resp.StatusCode != 500 {
			t.Fatalf("panic = %d %s", resp.StatusCode, body)
		}
	}
	if resp, body := through("/users/1"); resp.StatusCode != 200 {
		t.Fatalf("after panics = %d %s", resp.StatusCode, body)
	}

	entered, release := blockingRoute(s)
	get, getNow := liveServer(t, s)
	held := get("/block")
	<-entered
	r := getNow("/users/2")
	if r.status != http.StatusServiceUnavailable || r.elapsed > time.Second {
		t.Fatalf("with the only slot held = %d after %s (%s), want an immediate 503", r.status, r.elapsed, r.body)
	}
	close(release)
	wantOK(t, "held request", <-held)
}

// A negative MaxInFlight sets no bound but still counts the requests in flight.
func TestAdmissionUnbounded(t *testing.T) {
	s := newTestServer(t, Options{MaxInFlight: -1})
	entered, release := blockingRoute(s)
	get, _ := liveServer(t, s)
	const n = 8
	results := make([]<-chan result, n)
	for i := range results {
		results[i] = get("/block")
	}
	for range n {
		<-entered
	}
	if got := s.admit.active.Load(); got != n {
		t.Errorf("in flight = %d, want %d", got, n)
	}
	close(release)
	for _, ch := range results {
		wantOK(t, "unbounded request", <-ch)
	}
	eventually(t, "the count to return to 0", func() bool { return s.admit.active.Load() == 0 })
	if got := testutil.ToFloat64(s.admit.shed); got != 0 {
		t.Errorf("shed = %v, want 0", got)
	}
}

func TestAdmissionDefaults(t *testing.T) {
	s := newTestServer(t, Options{})
	if s.admit.max+s.admit.inlineMax != DefaultMaxInFlight || s.admit.timeout != DefaultQueueTimeout {
		t.Fatalf("max %d+%d inline, timeout %s; want %d, %s", s.admit.max, s.admit.inlineMax, s.admit.timeout, DefaultMaxInFlight, DefaultQueueTimeout)
	}
}

// Handlers run inline on a quarter of the MaxInFlight slots and on handler
// goroutines for the rest, reused while requests come and gone after
// handlerIdle without any.
func TestAdmissionHandlerGoroutines(t *testing.T) {
	const limit = 4
	s := newTestServer(t, Options{MaxInFlight: limit})
	entered, release := blockingRoute(s)
	get, getNow := liveServer(t, s)
	var held []<-chan result
	for range limit {
		held = append(held, get("/block"))
		<-entered
	}
	// A quarter of the slots run on the connection's goroutine, the rest on
	// handler goroutines.
	if n, i := s.admit.workers.Load(), s.admit.inline.Load(); n != limit-limit/4 || i != limit/4 {
		t.Fatalf("handler goroutines = %d, inline = %d; want %d and %d", n, i, limit-limit/4, limit/4)
	}
	if n := s.admit.active.Load(); n != limit {
		t.Fatalf("in flight = %d, want %d", n, limit)
	}
	close(release)
	for _, ch := range held {
		wantOK(t, "held request", <-ch)
	}
	eventually(t, "idle handler goroutines to exit", func() bool { return s.admit.workers.Load() == 0 })
	// One request at a time: each runs inline, no handler goroutine starts.
	for i := range 20 {
		wantOK(t, "sequential request", getNow("/users/"+strconv.Itoa(i)))
		if n := s.admit.workers.Load(); n != 0 {
			t.Fatalf("a quiet server started %d handler goroutines", n)
		}
	}
	if n := s.admit.workers.Load(); n > limit {
		t.Fatalf("handler goroutines = %d, more than %d", n, limit)
	}
	eventually(t, "idle handler goroutines to exit", func() bool { return s.admit.workers.Load() == 0 })
}

// A handler's panic crosses back to the request's goroutine: recovered, logged
// with the handler's own stack, rendered as before (a problem keeps its
// status); runtime.Goexit in a handler ends only its handler goroutine.
func TestAdmissionHandlerPanics(t *testing.T) {
	s := newTestServer(t, Options{MaxInFlight: 2})
	var logs lockedBuffer
	s.log = slog.New(slog.NewJSONHandler(&logs, nil))
	s.App.Get("/panic-problem", func(c *fiber.Ctx) error { panic(problem.Conflict("taken")) })
	s.App.Get("/goexit", func(c *fiber.Ctx) error { runtime.Goexit(); return nil })
	resp, body := do(t, s, httptest.NewRequest("GET", "/panic", nil))
	if resp.StatusCode != 500 {
		t.Fatalf("panic = %d %s", resp.StatusCode, body)
	}
	if p := decodeProblem(t, resp, body); strings.Contains(p.Detail, "boom") {
		t.Fatalf("panic value shown to the client: %s", body)
	}
	if !strings.Contains(logs.String(), `"panic":"boom"`) || !strings.Contains(logs.String(), "newTestServer.func3") {
		t.Errorf("panic log lacks the value or the handler's stack:\n%s", logs.String())
	}
	if resp, body := do(t, s, httptest.NewRequest("GET", "/panic-problem", nil)); resp.StatusCode != 409 {
		t.Fatalf("panic with a problem = %d %s, want 409", resp.StatusCode, body)
	}
	before := s.admit.workers.Load()
	if resp, body := do(t, s, httptest.NewRequest("GET", "/goexit", nil)); resp.StatusCode != 500 {
		t.Fatalf("Goexit = %d %s, want 500", resp.StatusCode, body)
	}
	if after := s.admit.workers.Load(); after > before {
		t.Fatalf("handler goroutines %d after Goexit, %d before: the ended one is still counted", after, before)
	}
	for i := range 4 {
		if resp, body := do(t, s, httptest.NewRequest("GET", "/users/"+strconv.Itoa(i), nil)); resp.StatusCode != 200 {
			t.Fatalf("after panics = %d %s", resp.StatusCode, body)
		}
	}
	if n := s.admit.active.Load(); n != 0 {
		t.Fatalf("in flight = %d after every request ended", n)
	}
}

// BenchmarkAdmission measures what admission control adds to a request that
// finds a free slot: an app with only a trivial route, without and with the
// middleware, serially and from every core.
func BenchmarkAdmission(b *testing.B) {
	newApp := func(limit int) fasthttp.RequestHandler {
		app := fiber.New(fiber.Config{DisableStartupMessage: true})
		if limit != 0 {
			a := newAdmission(Options{Service: "bench", MaxInFlight: limit, QueueTimeout: DefaultQueueTimeout}, NewRegistry())
			app.Use(a.handle)
		}
		app.Get("/x", func(c *fiber.Ctx) error { return c.SendStatus(fiber.StatusNoContent) })
		return app.Handler()
	}
	newCtx := func() *fasthttp.RequestCtx {
		var req fasthttp.Request
		req.SetRequestURI("/x")
		req.Header.SetMethod(fasthttp.MethodGet)
		ctx := &fasthttp.RequestCtx{}
		ctx.Init(&req, nil, nil)
		return ctx
	}
	for _, bc := range []struct {
		name  string
		limit int
	}{{"without", 0}, {"bounded", DefaultMaxInFlight}, {"unbounded", -1}} {
		h := newApp(bc.limit)
		b.Run(bc.name, func(b *testing.B) {
			ctx := newCtx()
			b.ReportAllocs()
			for b.Loop() {
				h(ctx)
			}
			if ctx.Response.StatusCode() != fiber.StatusNoContent {
				b.Fatalf("status %d", ctx.Response.StatusCode())
			}
		})
		b.Run(bc.name+"-parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				ctx := newCtx()
				for pb.Next() {
					h(ctx)
				}
			})
		})
	}
}

// Under overload the shed requests are counted, every one, but logged at most
// once a second, the line saying how many went unlogged before it.
func TestShedRequestsLoggedOncePerSecond(t *testing.T) {
	s := newTestServer(t, Options{MaxInFlight: 1, QueueTimeout: -1})
	var logs lockedBuffer
	s.log = slog.New(slog.NewJSONHandler(&logs, nil))
	entered, release := blockingRoute(s)
	get, getNow := liveServer(t, s)
	held := get("/block")
	<-entered
	const refused = 20
	for range refused {
		if r := getNow("/users/1"); r.status != http.StatusServiceUnavailable {
			t.Fatalf("with the only slot held = %d, want 503", r.status)
		}
	}
	if got := testutil.ToFloat64(s.admit.shed); got != refused {
		t.Errorf("http_requests_shed_total = %v, want %d", got, refused)
	}
	shedLines := func() []string {
		var out []string
		for _, line := range strings.Split(logs.String(), "\n") {
			if strings.Contains(line, `"route":"shed"`) {
				out = append(out, line)
			}
		}
		return out
	}
	if lines := shedLines(); len(lines) != 1 || !strings.Contains(lines[0], `"shed_unlogged_before":0`) {
		t.Fatalf("%d shed lines within a second (want 1, the first):\n%s", len(lines), strings.Join(lines, "\n"))
	}
	time.Sleep(shedLogEvery)
	if r := getNow("/users/1"); r.status != http.StatusServiceUnavailable {
		t.Fatalf("= %d, want 503", r.status)
	}
	lines := shedLines()
	if len(lines) != 2 || !strings.Contains(lines[1], fmt.Sprintf(`"shed_unlogged_before":%d`, refused-1)) {
		t.Fatalf("after a second, shed lines:\n%s\nwant a second one counting the %d unlogged", strings.Join(lines, "\n"), refused-1)
	}
	close(release)
	wantOK(t, "held request", <-held)
}
