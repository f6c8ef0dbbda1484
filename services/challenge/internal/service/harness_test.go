package service_test

import (
	"context"
	"crypto/rsa"
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

	"github.com/go-sql-driver/mysql"
	"github.com/prometheus/client_golang/prometheus"
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
	"github.com/progressive-overload/po/services/kit/testkit/apitest"
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
	*apitest.Client // the service's API, every answer checked against api/openapi.yaml
	t               testing.TB
	svc             *service.Service
	cfg             service.Config
	reg             *prometheus.Registry
	rdb             *redis.Client // direct, for inspecting keys
	signer          *auth.Signer
	repo            *spyRepo
	served          *testkit.Served
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
	nearSize     int
	databaseVia  func(dsn string) string
}

type harnessOption func(*harnessOptions)

func withRedisURL(u string) harnessOption   { return func(o *harnessOptions) { o.redisURL = u } }
func withCacheDisabled() harnessOption      { return func(o *harnessOptions) { o.cacheEnabled = false } }
func withAMQPURL(u string) harnessOption    { return func(o *harnessOptions) { o.amqpURL = u } }
func withNearCache(bytes int) harnessOption { return func(o *harnessOptions) { o.nearSize = bytes } }

// withDatabaseVia reaches the test's database at addr (a netproxy) instead.
func withDatabaseVia(addr string) harnessOption {
	return func(o *harnessOptions) {
		o.databaseVia = func(dsn string) string {
			c, err := mysql.ParseDSN(dsn)
			if err != nil {
				panic(err)
			}
			c.Addr = addr
			return c.FormatDSN()
		}
	}
}

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
		CacheNearSize:  o.nearSize,
		CacheNearTTL:   time.Minute,
	}
	if o.databaseVia != nil {
		cfg.DatabaseURL = o.databaseVia(cfg.DatabaseURL)
	}
	log := slog.New(slog.NewJSONHandler(o.logOutput, nil))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := service.Migrate(ctx, cfg.DatabaseURL); err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, cfg: cfg, signer: signer, reg: prometheus.NewRegistry(),
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
	h.Client = apitest.New(t, h.served.URL, api.Spec, apitest.Options{})
	h.rdb = redis.NewClient(&redis.Options{Addr: testkit.RedisAddr})
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
	h.Close()
	if err := h.served.Stop(); err != nil {
		h.t.Errorf("serve: %v", err)
	}
}

// cleanRedis deletes the test's keys.
func (h *harness) cleanRedis() {
	testkit.DeleteRedisKeys(h.rdb, h.cfg.CacheKeyPrefix)
}

// token mints a bearer token the way the account service does.
func (h *harness) token(t testing.TB, userID int64, role auth.Role) string {
	t.Helper()
	tok, _, err := h.signer.Sign(auth.Claims{UserID: userID, Role: role})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func (h *harness) user(t testing.TB, id int64) string  { return h.token(t, id, auth.RoleUser) }
func (h *harness) admin(t testing.TB, id int64) string { return h.token(t, id, auth.RoleAdmin) }

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

func (h *harness) createChallenge(t testing.TB, token string) challengeJSON {
	t.Helper()
	r := h.Do(t, "POST", "/challenges", token, squatBody())
	if r.Status != http.StatusCreated {
		t.Fatalf("create challenge: %d %s", r.Status, r.Body)
	}
	var c challengeJSON
	r.Decode(t, &c)
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

func (h *harness) logWorkout(t testing.TB, token string, challengeID int64, value float64) logJSON {
	t.Helper()
	r := h.Do(t, "POST", "/challenges/"+strconv.FormatInt(challengeID, 10)+"/logs", token, map[string]any{
		"performedAt": nextPerformedAt().Format(time.RFC3339Nano), "sets": 5, "reps": 5, "value": value,
	})
	if r.Status != http.StatusCreated {
		t.Fatalf("log workout: %d %s", r.Status, r.Body)
	}
	var l logJSON
	r.Decode(t, &l)
	return l
}

func userLogsPath(userID int64) string { return "/challenges/logs/" + strconv.FormatInt(userID, 10) }

// --- metrics --------------------------------------------------------------

// cacheCount reads cache_requests_total from the service's registry.
func (h *harness) cacheCount(t testing.TB, cache, result string) float64 {
	t.Helper()
	return apitest.Gather(t, h.reg).Value("cache_requests_total", "service", "challenge", "cache", cache, "result", result)
}

// --- Redis ----------------------------------------------------------------

func (h *harness) userLogsKey(userID int64) string {
	return fmt.Sprintf("%suser-logs:{s.%d}", h.cfg.CacheKeyPrefix, userID)
}

func (h *harness) progressKey(challengeID int64) string {
	return fmt.Sprintf("%sprogress:{%d}", h.cfg.CacheKeyPrefix, challengeID)
}

func (h *harness) keyExists(t testing.TB, key string) bool {
	t.Helper()
	n, err := h.rdb.Exists(context.Background(), key).Result()
	if err != nil {
		t.Fatal(err)
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
	boardLoads    atomic.Int64 // whole leaderboards read from MySQL
	lockedWrites  atomic.Int64 // writes that queued for a challenge's lock
	groupReads    atomic.Int64 // groups read from MySQL (GetGroup)
	challengeRead atomic.Int64 // challenges read from MySQL without a lock (GetChallenge)
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

func (s *spyRepo) BoardMembers(ctx context.Context, groupID, userID int64) ([]app.BoardMember, error) {
	if userID == 0 {
		s.boardLoads.Add(1)
	}
	return s.Repository.BoardMembers(ctx, groupID, userID)
}

func (s *spyRepo) GetChallenge(ctx context.Context, id int64) (*domain.Challenge, error) {
	s.challengeRead.Add(1)
	return s.Repository.GetChallenge(ctx, id)
}

func (s *spyRepo) GetGroup(ctx context.Context, id int64) (*domain.Group, error) {
	s.groupReads.Add(1)
	return s.Repository.GetGroup(ctx, id)
}

func (s *spyRepo) AddLog(ctx context.Context, challengeID int64,
	fn func(c *domain.Challenge, zone *time.Location, history func() ([]domain.WorkoutLog, error)) (domain.WorkoutLog, error),
) (app.LogView, *domain.Challenge, error) {
	s.lockedWrites.Add(1)
	return s.Repository.AddLog(ctx, challengeID, fn)
}

func (s *spyRepo) ChangeLog(ctx context.Context, challengeID, logID int64,
	fn func(c *domain.Challenge, zone *time.Location, logs []domain.WorkoutLog, i int) (domain.WorkoutLog, bool, error),
) (app.LogView, *domain.Challenge, error) {
	s.lockedWrites.Add(1)
	return s.Repository.ChangeLog(ctx, challengeID, logID, fn)
}

func (s *spyRepo) UpdateChallenge(ctx context.Context, id int64, fn func(c *domain.Challenge) error) (*domain.Challenge, error) {
	s.lockedWrites.Add(1)
	return s.Repository.UpdateChallenge(ctx, id, fn)
}

func (s *spyRepo) DeleteChallenge(ctx context.Context, id int64, check func(c *domain.Challenge, p *domain.Participant) error) (*domain.Challenge, error) {
	s.lockedWrites.Add(1)
	return s.Repository.DeleteChallenge(ctx, id, check)
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
func (h *harness) publish(t testing.TB, evts ...events.Event) {
	t.Helper()
	for _, evt := range evts {
		h.publishOne(t, evt)
	}
}

func (h *harness) publishOne(t testing.TB, evt events.Event) {
	t.Helper()
	h.account.once.Do(func() {
		pub, err := events.NewPublisher(events.PublisherOptions{
			URL: testkit.AMQPURL, Exchange: h.cfg.AMQPExchange, Service: "account",
			Metrics: events.NewMetrics(prometheus.NewRegistry()), Logger: slog.New(slog.DiscardHandler),
		})
		if err != nil {
			t.Fatal(err)
		}
		h.account.pub = pub
		// Before the harness's cleanups, which delete the exchange it would
		// declare again.
		h.t.Cleanup(func() { _ = pub.Close() })
	})
	testkit.Eventually(t, "the broker routing the events to a queue", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err := h.account.pub.Publish(ctx, evt)
		if err != nil && !errors.Is(err, events.ErrUnroutable) && !errors.Is(err, events.ErrNotConnected) {
			t.Fatalf("publish: %v", err)
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

// consumed reads events_consumed_total of the service's consumer from its
// registry.
func (h *harness) consumed(t testing.TB, typ, result string) float64 {
	t.Helper()
	return apitest.Gather(t, h.reg).Value("events_consumed_total", "service", h.queuePrefix, "type", typ, "result", result)
}

// waitSettled waits until the consumer has acknowledged (or dead-lettered) n
// messages of typ with result. Hooks run after the commit and before the ack,
// so the cache has been invalidated by then.
func (h *harness) waitSettled(t testing.TB, typ, result string, n int) {
	t.Helper()
	testkit.Eventually(t, fmt.Sprintf("%d %s messages settled as %s", n, typ, result), func() bool {
		return h.consumed(t, typ, result) >= float64(n)
	})
	if got := h.consumed(t, typ, result); got != float64(n) {
		t.Fatalf("%v %s messages settled as %s, want %d", got, typ, result, n)
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
