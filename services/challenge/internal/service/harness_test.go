package service_test

import (
	"bytes"
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/redis/go-redis/v9"

	"github.com/progressive-overload/po/services/challenge/api"
	"github.com/progressive-overload/po/services/challenge/api/client"
	"github.com/progressive-overload/po/services/challenge/internal/app"
	"github.com/progressive-overload/po/services/challenge/internal/domain"
	amqpport "github.com/progressive-overload/po/services/challenge/internal/ports/amqp"
	"github.com/progressive-overload/po/services/challenge/internal/service"
	"github.com/progressive-overload/po/services/kit/auth"
	"github.com/progressive-overload/po/services/kit/events"
	"github.com/progressive-overload/po/services/kit/mysqldb/mysqltest"
	"github.com/progressive-overload/po/services/kit/platform"
	"github.com/progressive-overload/po/services/kit/testkit"
)

func TestMain(m *testing.M) { testkit.Main(m) }

// keys are the signing key and one the service has never seen, generated
// once per test binary (slow under -race).
func keys(testing.TB) (*rsa.PrivateKey, *rsa.PrivateKey) {
	ks := testkit.RSAKeys()
	return ks[0], ks[1]
}

// harness is one running challenge service on 127.0.0.1:0 with its own
// database, Redis key prefix and AMQP exchange, and a JWKS server the
// service's real RemoteVerifier fetches keys from.
type harness struct {
	t        testing.TB
	base     string
	svc      *service.Service
	cfg      service.Config
	reg      *prometheus.Registry
	rdb      *redis.Client // direct, for inspecting keys
	signer   *auth.Signer
	client   *http.Client
	repo     *spyRepo
	spec     *openapi3.T
	router   routers.Router
	served   *testkit.Served
	validate bool
	// queuePrefix names the service's event queues, as its own exchange
	// does for what it publishes: queues are durable and shared by the
	// whole broker, so no two tests (or a running service) may share one.
	queuePrefix string
	account     *accountPublisher
}

// accountPublisher sends what the account service would; created on first use.
type accountPublisher struct {
	once sync.Once
	pub  *events.Publisher
}

type harnessOptions struct {
	redisURL     string
	cacheEnabled bool
	cacheTimeout time.Duration
	amqpURL      string
	logOutput    io.Writer
}

type harnessOption func(*harnessOptions)

func withRedisURL(u string) harnessOption { return func(o *harnessOptions) { o.redisURL = u } }
func withCacheDisabled() harnessOption    { return func(o *harnessOptions) { o.cacheEnabled = false } }
func withAMQPURL(u string) harnessOption  { return func(o *harnessOptions) { o.amqpURL = u } }

func newHarness(t testing.TB, opts ...harnessOption) *harness {
	t.Helper()
	o := harnessOptions{
		redisURL:     "redis://" + testkit.RedisAddr + "/0",
		cacheEnabled: true,
		// Generous: the race detector and parallel helpers make a healthy
		// Redis slow at times, and a timeout would count as an error, not
		// the hit or miss a test expects. The outage test uses a closed
		// port, which fails at once whatever the timeout.
		cacheTimeout: 5 * time.Second,
		amqpURL:      testkit.AMQPURL,
		logOutput:    testkit.LogOutput(),
	}
	for _, f := range opts {
		f(&o)
	}
	signing, _ := keys(t)
	ks, err := auth.NewKeySet(signing)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := auth.NewSigner(ks, auth.SignerConfig{Issuer: testkit.Issuer, Audience: testkit.Audience})
	if err != nil {
		t.Fatal(err)
	}
	jwks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(ks.JWKS())
	}))
	t.Cleanup(jwks.Close)

	prefix := testkit.NewRedisPrefix()
	cfg := service.Config{
		Config: platform.Config{
			HTTPAddr:        "127.0.0.1:0",
			DatabaseURL:     mysqltest.NewDatabase(t),
			LogLevel:        "info",
			LogFormat:       "json",
			BodyLimit:       1 << 20,
			ShutdownTimeout: 10 * time.Second,
			RedisURL:        o.redisURL,
			AMQPURL:         o.amqpURL,
			AMQPExchange:    "t." + testkit.RandomHex(6) + ".events",
			JWTIssuer:       testkit.Issuer,
			JWTAudience:     testkit.Audience,
		},
		JWKSURL:        jwks.URL + "/.well-known/jwks.json",
		CacheEnabled:   o.cacheEnabled,
		CacheTTL:       30 * time.Second,
		CacheKeyPrefix: prefix,
		CacheTimeout:   o.cacheTimeout,
	}
	log := slog.New(slog.NewJSONHandler(o.logOutput, nil))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := service.Migrate(ctx, cfg.DatabaseURL); err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, cfg: cfg, signer: signer, reg: prometheus.NewRegistry(), validate: true,
		queuePrefix: "t_" + testkit.RandomHex(6), account: &accountPublisher{}}
	h.repo = &spyRepo{}
	svc, err := service.New(ctx, cfg, service.Options{
		Logger:   log,
		Registry: h.reg,
		WrapRepository: func(r app.Repository) app.Repository {
			h.repo.Repository = r
			return h.repo
		},
		QueuePrefix: h.queuePrefix,
	})
	if err != nil {
		t.Fatal(err)
	}
	h.svc = svc
	h.served = testkit.Serve(t, svc)
	h.base = h.served.URL

	h.client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 200}, Timeout: time.Minute}
	h.rdb = redis.NewClient(&redis.Options{Addr: testkit.RedisAddr})
	h.spec, h.router = loadSpec(t, h.base)
	// Cleanups run last-registered first: stop the service (whose publisher
	// and consumer would declare them again), then remove its keys, queues
	// and exchanges.
	t.Cleanup(func() {
		testkit.DeleteBrokerObjects(t, testkit.AMQPURL, h.queues(), []string{cfg.AMQPExchange, cfg.AMQPExchange + ".dlx"})
	})
	t.Cleanup(func() { h.cleanRedis(); _ = h.rdb.Close() })
	t.Cleanup(h.close)
	return h
}

func (h *harness) close() {
	// Clients hang up first, as they would; the server then drains at once.
	h.client.CloseIdleConnections()
	if err := h.served.Stop(); err != nil {
		h.t.Errorf("serve: %v", err)
	}
}

// cleanRedis deletes the test's keys.
func (h *harness) cleanRedis() {
	testkit.DeleteRedisKeys(h.rdb, h.cfg.CacheKeyPrefix)
}

func loadSpec(t testing.TB, base string) (*openapi3.T, routers.Router) {
	t.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(api.Spec)
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		t.Fatalf("api/openapi.yaml is invalid: %v", err)
	}
	doc.Servers = openapi3.Servers{{URL: base}}
	router, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	return doc, router
}

// with is h reporting to t (a subtest).
func (h *harness) with(t testing.TB) *harness {
	c := *h
	c.t = t
	return &c
}

// token mints a bearer token the way the account service does.
func (h *harness) token(userID int64, role auth.Role) string {
	h.t.Helper()
	tok, _, err := h.signer.Sign(auth.Claims{UserID: userID, Role: role})
	if err != nil {
		h.t.Fatal(err)
	}
	return tok
}

func (h *harness) user(id int64) string  { return h.token(id, auth.RoleUser) }
func (h *harness) admin(id int64) string { return h.token(id, auth.RoleAdmin) }

type response struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r response) json(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decode %s: %v", r.Body, err)
	}
}

// problem decodes a problem+json body.
type problemDoc struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Errors []struct {
		Field   string `json:"field"`
		Message string `json:"message"`
	} `json:"errors"`
}

func (r response) problem(t testing.TB) problemDoc {
	t.Helper()
	if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("status %d with Content-Type %q, want application/problem+json: %s", r.Status, ct, r.Body)
	}
	var p problemDoc
	r.json(t, &p)
	if p.Status != r.Status {
		t.Fatalf("problem status %d in a %d response", p.Status, r.Status)
	}
	return p
}

func (p problemDoc) fields() []string {
	var out []string
	for _, e := range p.Errors {
		out = append(out, e.Field)
	}
	return out
}

// do sends a request (body: nil, a string sent as is, or a value encoded as
// JSON) and validates the response against api/openapi.yaml.
func (h *harness) do(method, path, token string, body any) response {
	h.t.Helper()
	r, err := h.try(method, path, token, body)
	if err != nil {
		h.t.Fatal(err)
	}
	return r
}

func (h *harness) try(method, path, token string, body any) (response, error) {
	req, raw, err := testkit.NewRequest(method, h.base+path, token, body)
	if err != nil {
		return response{}, err
	}
	resp, data, err := testkit.Do(h.client, req)
	if err != nil {
		return response{}, err
	}
	out := response{Status: resp.StatusCode, Header: resp.Header, Body: data}
	// The API is what the contract covers; probes, metrics and docs are the platform's.
	if h.validate && strings.HasPrefix(path, "/challenges") {
		if err := h.validateResponse(req, raw, out); err != nil {
			return out, fmt.Errorf("%s %s → %d violates api/openapi.yaml: %v\nbody: %s", method, path, out.Status, err, data)
		}
	}
	return out, nil
}

func (h *harness) validateResponse(req *http.Request, body []byte, r response) error {
	req = req.Clone(context.Background())
	req.Body = io.NopCloser(bytes.NewReader(body))
	route, params, err := h.router.FindRoute(req)
	if err != nil {
		// A path the contract does not have (e.g. an empty id) must be a
		// client error, which the problem checks of the callers cover.
		if r.Status >= 400 && r.Status < 500 {
			return nil
		}
		return fmt.Errorf("no route in the spec: %w", err)
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{
			Request: req, PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc},
		},
		Status:  r.Status,
		Header:  r.Header,
		Body:    io.NopCloser(bytes.NewReader(r.Body)),
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	return openapi3filter.ValidateResponse(context.Background(), in)
}

// --- domain helpers -------------------------------------------------------

// The contract's types (api/client, generated from api/openapi.yaml): the
// tests keep no copy of a shape.
type (
	challengeJSON = client.Challenge
	logJSON       = client.WorkoutLog
	logList       = client.WorkoutLogList
)

func squatBody() map[string]any {
	return map[string]any{
		"title": "Squat to 80", "exercise": "Back squat", "unit": "kg",
		"startValue": 60, "increment": 2.5, "incrementEvery": 1,
		"sessionsPerWeek": 3, "weeks": 8, "startDate": "2026-01-05",
	}
}

func (h *harness) createChallenge(token string) challengeJSON {
	h.t.Helper()
	r := h.do("POST", "/challenges", token, squatBody())
	if r.Status != http.StatusCreated {
		h.t.Fatalf("create challenge: %d %s", r.Status, r.Body)
	}
	var c challengeJSON
	r.json(h.t, &c)
	return c
}

var logClock = struct {
	sync.Mutex
	next time.Time
}{next: time.Date(2026, 1, 5, 7, 0, 0, 0, time.UTC)}

// nextPerformedAt hands out distinct past times so logs sort predictably.
func nextPerformedAt() time.Time {
	logClock.Lock()
	defer logClock.Unlock()
	logClock.next = logClock.next.Add(time.Hour)
	return logClock.next
}

func (h *harness) logWorkout(token string, challengeID int64, value float64) logJSON {
	h.t.Helper()
	r := h.do("POST", "/challenges/"+strconv.FormatInt(challengeID, 10)+"/logs", token, map[string]any{
		"performedAt": nextPerformedAt().Format(time.RFC3339Nano), "sets": 5, "reps": 5, "value": value,
	})
	if r.Status != http.StatusCreated {
		h.t.Fatalf("log workout: %d %s", r.Status, r.Body)
	}
	var l logJSON
	r.json(h.t, &l)
	return l
}

func userLogsPath(userID int64) string { return "/challenges/logs/" + strconv.FormatInt(userID, 10) }

// --- metrics --------------------------------------------------------------

// counter reads a counter of the service's registry by name and labels.
func (h *harness) counter(name string, labels map[string]string) float64 {
	h.t.Helper()
	mfs, err := h.reg.Gather()
	if err != nil {
		h.t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if matches(m, labels) {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

func matches(m *dto.Metric, labels map[string]string) bool {
	n := 0
	for _, lp := range m.GetLabel() {
		if v, ok := labels[lp.GetName()]; ok {
			if v != lp.GetValue() {
				return false
			}
			n++
		}
	}
	return n == len(labels)
}

func (h *harness) cacheCount(cache, result string) float64 {
	return h.counter("cache_requests_total", map[string]string{"service": "challenge", "cache": cache, "result": result})
}

// scrape reads /metrics over HTTP, as Prometheus does, and returns the value
// of the sample whose line starts with prefix.
func (h *harness) scrape(prefix string) float64 {
	h.t.Helper()
	r := h.do("GET", "/metrics", "", nil)
	for _, line := range strings.Split(string(r.Body), "\n") {
		if strings.HasPrefix(line, prefix) {
			v, err := strconv.ParseFloat(strings.TrimSpace(line[len(prefix):]), 64)
			if err != nil {
				h.t.Fatalf("metric line %q: %v", line, err)
			}
			return v
		}
	}
	return 0
}

// --- Redis ----------------------------------------------------------------

func (h *harness) userLogsKey(userID int64) string {
	return fmt.Sprintf("%suser-logs:{p.%d}", h.cfg.CacheKeyPrefix, userID)
}

func (h *harness) progressKey(challengeID int64) string {
	return fmt.Sprintf("%sprogress:{%d}", h.cfg.CacheKeyPrefix, challengeID)
}

func (h *harness) keyExists(key string) bool {
	h.t.Helper()
	n, err := h.rdb.Exists(context.Background(), key).Result()
	if err != nil {
		h.t.Fatal(err)
	}
	return n == 1
}

// --- repository spy -------------------------------------------------------

// spyRepo is the real repository with counters, and a pause that holds a
// UserLogs call after its query returned, so a test can force an
// interleaving of that read with a write.
type spyRepo struct {
	app.Repository
	userLogs      atomic.Int64
	progressLoads atomic.Int64
	mu            sync.Mutex
	pause         *pause
}

type pause struct {
	loaded  chan struct{} // closed when the paused call has read the database
	release chan struct{} // close to let it return
}

// pauseNextUserLogs arms the pause for the next UserLogs call.
func (s *spyRepo) pauseNextUserLogs() *pause {
	p := &pause{loaded: make(chan struct{}), release: make(chan struct{})}
	s.mu.Lock()
	s.pause = p
	s.mu.Unlock()
	return p
}

func (s *spyRepo) UserLogs(ctx context.Context, userID int64, after *app.LogCursor, limit int) ([]app.LogView, error) {
	s.userLogs.Add(1)
	rows, err := s.Repository.UserLogs(ctx, userID, after, limit)
	s.mu.Lock()
	p := s.pause
	s.pause = nil
	s.mu.Unlock()
	if p != nil {
		close(p.loaded)
		<-p.release
	}
	return rows, err
}

func (s *spyRepo) ChallengeWithLogs(ctx context.Context, id int64) (*domain.Challenge, []domain.WorkoutLog, error) {
	s.progressLoads.Add(1)
	return s.Repository.ChallengeWithLogs(ctx, id)
}

// --- AMQP -----------------------------------------------------------------

// queue is the name of the service's queue for a subscription.
func (h *harness) queue(sub string) string { return h.queuePrefix + "." + sub }

// queues lists every queue the service's consumer declares.
func (h *harness) queues() []string {
	var qs []string
	for _, s := range amqpport.Subscriptions() {
		q := h.queue(s.Name)
		qs = append(qs, q, q+".retry", q+".dlq")
	}
	return qs
}

// publish sends events to the service's exchange the way the account
// service's relay does, retrying while the broker returns them unroutable:
// until the consumer, which starts in the background, has bound its queues.
// One at a time, so that a retry never sends again one that was routed.
func (h *harness) publish(evts ...events.Event) {
	h.t.Helper()
	for _, evt := range evts {
		h.publishOne(evt)
	}
}

func (h *harness) publishOne(evt events.Event) {
	h.t.Helper()
	h.account.once.Do(func() {
		pub, err := events.NewPublisher(events.PublisherOptions{
			URL: testkit.AMQPURL, Exchange: h.cfg.AMQPExchange, Service: "account",
			Metrics: events.NewMetrics(prometheus.NewRegistry()), Logger: slog.New(slog.DiscardHandler),
		})
		if err != nil {
			h.t.Fatal(err)
		}
		h.account.pub = pub
		// Before the harness's cleanups, which delete the exchange it would
		// declare again.
		h.t.Cleanup(func() { _ = pub.Close() })
	})
	testkit.Eventually(h.t, "the broker routing the events to a queue", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err := h.account.pub.Publish(ctx, evt)
		if err != nil && !errors.Is(err, events.ErrUnroutable) && !errors.Is(err, events.ErrNotConnected) {
			h.t.Fatalf("publish: %v", err)
		}
		return err == nil
	})
}

// accountEvent is an event as the account service publishes it.
func accountEvent(t testing.TB, typ string, data any) events.Event {
	t.Helper()
	evt, err := events.NewEvent("account", typ, data)
	if err != nil {
		t.Fatal(err)
	}
	return evt
}

// consumed reads events_consumed_total of the service's consumer.
func (h *harness) consumed(typ, result string) float64 {
	return h.counter("events_consumed_total", map[string]string{"service": h.queuePrefix, "type": typ, "result": result})
}

// waitSettled waits until the consumer has acknowledged (or dead-lettered) n
// messages of typ with result. Hooks run after the commit and before the ack,
// so the cache has been invalidated by then.
func (h *harness) waitSettled(typ, result string, n int) {
	h.t.Helper()
	testkit.Eventually(h.t, fmt.Sprintf("%d %s messages settled as %s", n, typ, result), func() bool {
		return h.consumed(typ, result) >= float64(n)
	})
	if got := h.consumed(typ, result); got != float64(n) {
		h.t.Fatalf("%v %s messages settled as %s, want %d", got, typ, result, n)
	}
}

// waitForGoroutines waits until n goroutines have a frame containing fn in
// their stacks (e.g. readers parked on one singleflight call).
func waitForGoroutines(t testing.TB, fn string, n int) {
	t.Helper()
	testkit.Eventually(t, fmt.Sprintf("%d goroutines in %s", n, fn), func() bool {
		buf := make([]byte, 1<<22)
		buf = buf[:runtime.Stack(buf, true)]
		count := 0
		for _, g := range strings.Split(string(buf), "\n\n") {
			if strings.Contains(g, fn) {
				count++
			}
		}
		return count >= n
	})
}
