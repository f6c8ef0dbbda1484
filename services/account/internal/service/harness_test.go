package service_test

import (
	"bytes"
	"context"
	"crypto/rsa"
	"crypto/x509"
	"database/sql"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/redis/go-redis/v9"

	"github.com/progressive-overload/po/services/kit/auth"
	"github.com/progressive-overload/po/services/kit/mysqldb"
	"github.com/progressive-overload/po/services/kit/mysqldb/mysqltest"
	"github.com/progressive-overload/po/services/kit/platform"
	"github.com/progressive-overload/po/services/kit/testkit"

	"github.com/progressive-overload/po/services/account/api"
	"github.com/progressive-overload/po/services/account/api/client"
	"github.com/progressive-overload/po/services/account/internal/adapters"
	amqpport "github.com/progressive-overload/po/services/account/internal/ports/amqp"
	"github.com/progressive-overload/po/services/account/internal/service"
)

func TestMain(m *testing.M) { testkit.Main(m) }

const (
	adminEmail = "admin@example.com"
	adminPass  = "admin password 1"
)

// testClock is the service's clock: real time plus an offset tests advance.
type testClock struct{ offset atomic.Int64 }

func (c *testClock) Now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *testClock) Advance(d time.Duration) { c.offset.Add(int64(d)) }

// harness is one running account service on 127.0.0.1:0 with its own
// database, Redis key prefix, AMQP exchange and queue names.
type harness struct {
	t      testing.TB
	base   string
	cfg    service.Config
	queues string // the service's QueuePrefix
	svc    *service.Service
	clock  *testClock
	client *http.Client
	router routers.Router
	db     *sql.DB
	rdb    *redis.Client
	served *testkit.Served
}

type harnessOption func(*service.Config)

func withLogin(maxFailures int, lockout time.Duration) harnessOption {
	return func(c *service.Config) { c.LoginMaxFailures, c.LoginLockout = maxFailures, lockout }
}
func withRedisURL(u string) harnessOption { return func(c *service.Config) { c.RedisURL = u } }
func withAMQPURL(u string) harnessOption  { return func(c *service.Config) { c.AMQPURL = u } }

// withTrustedProxies is TRUSTED_PROXIES: the test client (127.0.0.1) plays
// the ingress when the list covers it.
func withTrustedProxies(prefixes ...string) harnessOption {
	return func(c *service.Config) {
		c.TrustedProxies = nil
		for _, p := range prefixes {
			c.TrustedProxies = append(c.TrustedProxies, netip.MustParsePrefix(p))
		}
	}
}

// withPreviousKey lists the second test key as a previous signing key.
func withPreviousKey(t testing.TB) harnessOption {
	file := writeKey(t, testkit.RSAKeys()[1])
	return func(c *service.Config) { c.JWTPreviousKeyFiles = []string{file} }
}

func writeKey(t testing.TB, key *rsa.PrivateKey) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "key.pem")
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

// testConfig is a configuration for a fresh database; the signing key file
// is written to a temporary directory.
func testConfig(t testing.TB) service.Config {
	t.Helper()
	keyFile := writeKey(t, testkit.RSAKeys()[0])
	return service.Config{
		Config: platform.Config{
			HTTPAddr:        "127.0.0.1:0",
			DatabaseURL:     mysqltest.NewDatabase(t),
			LogLevel:        "info",
			LogFormat:       "json",
			BodyLimit:       1 << 20,
			ShutdownTimeout: 10 * time.Second,
			RedisURL:        "redis://" + testkit.RedisAddr + "/0",
			AMQPURL:         testkit.AMQPURL,
			AMQPExchange:    "t." + testkit.RandomHex(6) + ".events",
			JWTIssuer:       testkit.Issuer,
			JWTAudience:     testkit.Audience,
		},
		RedisKeyPrefix:    testkit.NewRedisPrefix(),
		JWTSigningKeyFile: keyFile,
		AccessTokenTTL:    15 * time.Minute,
		RefreshTokenTTL:   720 * time.Hour,
		AdminEmail:        adminEmail,
		AdminPassword:     adminPass,
		LoginMaxFailures:  5,
		LoginLockout:      15 * time.Minute,
		// Cheap hashing: the suite signs in hundreds of times under -race.
		// The production parameters are tested in the adapters package.
		Argon2: adapters.Argon2Params{MemoryKiB: 1024, Iterations: 1, Parallelism: 1},
	}
}

func testLogger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(testkit.LogOutput(), nil))
}

func newHarness(t testing.TB, opts ...harnessOption) *harness {
	t.Helper()
	cfg := testConfig(t)
	for _, o := range opts {
		o(&cfg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := service.Migrate(ctx, cfg.DatabaseURL); err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, cfg: cfg, clock: &testClock{}, queues: "t." + testkit.RandomHex(6) + ".account"}
	// PruneInterval only matters to tests that turn a retention on.
	svc, err := service.New(ctx, cfg, service.Options{Logger: testLogger(), Now: h.clock.Now, QueuePrefix: h.queues, PruneInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	h.svc = svc
	h.served = testkit.Serve(t, svc)
	h.base = h.served.URL

	h.client = &http.Client{Transport: &http.Transport{}, Timeout: time.Minute}
	h.router = specRouter(t)
	h.rdb = redis.NewClient(&redis.Options{Addr: testkit.RedisAddr})
	h.db, err = mysqldb.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	// Registered first, so it runs once the service has stopped redeclaring.
	t.Cleanup(func() {
		testkit.DeleteBrokerObjects(t, testkit.AMQPURL, h.consumerQueues(), []string{cfg.AMQPExchange, cfg.AMQPExchange + ".dlx"})
	})
	t.Cleanup(h.close)
	return h
}

func (h *harness) close() {
	if err := h.served.Stop(); err != nil {
		h.t.Errorf("serve: %v", err)
	}
	h.client.CloseIdleConnections()
	testkit.DeleteRedisKeys(h.rdb, h.cfg.RedisKeyPrefix)
	_ = h.rdb.Close()
	_ = h.db.Close()
}

// loadDoc loads api/openapi.yaml.
func loadDoc(t testing.TB) *openapi3.T {
	t.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(api.Spec)
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		t.Fatalf("api/openapi.yaml is invalid: %v", err)
	}
	return doc
}

func newService(ctx context.Context, cfg service.Config) (*service.Service, error) {
	return service.New(ctx, cfg, service.Options{Logger: testLogger()})
}

// specRouter routes requests to the operations of api/openapi.yaml (the
// file, not the generated copy), after checking the document itself.
func specRouter(t testing.TB) routers.Router {
	t.Helper()
	doc := loadDoc(t)
	doc.Servers = nil
	router, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	return router
}

// response is one HTTP answer, already checked against the spec.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r response) String() string { return fmt.Sprintf("%d %s", r.Status, r.Body) }

// decode unmarshals the body into v.
func (r response) decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decode %s: %v", r, err)
	}
}

// problem is the problem+json body.
type problemBody struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Errors []struct {
		Field   string `json:"field"`
		Message string `json:"message"`
	} `json:"errors"`
}

func (r response) problem(t testing.TB) problemBody {
	t.Helper()
	var p problemBody
	r.decode(t, &p)
	if p.Status != r.Status {
		t.Fatalf("problem status %d on a %d response", p.Status, r.Status)
	}
	return p
}

// fields lists the invalid fields a 422 names.
func (r response) fields(t testing.TB) []string {
	t.Helper()
	var out []string
	for _, e := range r.problem(t).Errors {
		out = append(out, e.Field)
	}
	return out
}

// request sends a request and checks the response against the spec. body is
// sent as is when it is a string or []byte, else marshalled as JSON.
func (h *harness) request(t testing.TB, method, path, token string, body any, headers ...string) response {
	t.Helper()
	req, _, err := testkit.NewRequest(method, h.base+path, token, body)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, data, err := testkit.Do(h.client, req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	r := response{Status: res.StatusCode, Header: res.Header, Body: data}
	h.checkResponse(t, req, r)
	return r
}

// checkResponse validates r against the operation of req in the spec, and
// checks what holds for every response: no 5xx, no password hash, errors
// as problem+json.
func (h *harness) checkResponse(t testing.TB, req *http.Request, r response) {
	t.Helper()
	if r.Status >= 500 {
		t.Errorf("%s %s: server error %s", req.Method, req.URL.Path, r)
	}
	if bytes.Contains(r.Body, []byte("$argon2")) || bytes.Contains(bytes.ToLower(r.Body), []byte("passwordhash")) {
		t.Errorf("%s %s: response exposes a password hash: %s", req.Method, req.URL.Path, r.Body)
	}
	if r.Status >= 400 && !strings.HasPrefix(r.Header.Get("Content-Type"), "application/problem+json") {
		t.Errorf("%s %s: error %d with Content-Type %q", req.Method, req.URL.Path, r.Status, r.Header.Get("Content-Type"))
	}
	route, params, err := h.router.FindRoute(req)
	if err != nil {
		return // not an API operation (404 for unknown paths): checked above
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 r.Status,
		Header:                 r.Header,
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	in.SetBodyBytes(r.Body)
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		t.Errorf("%s %s: response %s does not match the spec: %v", req.Method, req.URL.Path, r, err)
	}
}

func (h *harness) expect(t testing.TB, r response, status int) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("got %s, want status %d", r, status)
	}
}

// user is an account a test signed up, with its credentials.
type user struct {
	ID       int64
	Email    string
	Password string
}

// The contract's types (api/client, generated from api/openapi.yaml): the
// tests keep no copy of a shape.
type (
	userJSON  = client.User
	tokenPair = client.TokenPair
)

func (h *harness) signup(t testing.TB, name string) user {
	t.Helper()
	u := user{Email: name + "-" + testkit.RandomHex(4) + "@example.com", Password: "password " + testkit.RandomHex(4)}
	r := h.request(t, "POST", "/auth/signup", "", map[string]string{
		"email": u.Email, "password": u.Password, "displayName": name,
	})
	h.expect(t, r, http.StatusCreated)
	var got userJSON
	r.decode(t, &got)
	u.ID = got.Id
	return u
}

func (h *harness) login(t testing.TB, email, password string) response {
	t.Helper()
	return h.request(t, "POST", "/auth/login", "", map[string]string{"email": email, "password": password})
}

func (h *harness) tokens(t testing.TB, u user) tokenPair {
	t.Helper()
	r := h.login(t, u.Email, u.Password)
	h.expect(t, r, http.StatusOK)
	var p tokenPair
	r.decode(t, &p)
	return p
}

func (h *harness) adminTokens(t testing.TB) tokenPair {
	t.Helper()
	return h.tokens(t, user{Email: adminEmail, Password: adminPass})
}

// sign mints a token with key for userID, issued at issuedAt.
func sign(t testing.TB, key *rsa.PrivateKey, userID int64, role auth.Role, issuedAt time.Time) string {
	t.Helper()
	ks, err := auth.NewKeySet(key)
	if err != nil {
		t.Fatal(err)
	}
	s, err := auth.NewSigner(ks, auth.SignerConfig{
		Issuer: testkit.Issuer, Audience: testkit.Audience, TTL: 15 * time.Minute,
		Now: func() time.Time { return issuedAt },
	})
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := s.Sign(auth.Claims{UserID: userID, Role: role})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// consumerQueues lists every queue the service declares.
func (h *harness) consumerQueues() []string {
	q := h.queues + "." + amqpport.ChallengeValidationSubscription
	return []string{q, q + ".retry", q + ".dlq"}
}
