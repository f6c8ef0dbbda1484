package service_test

import (
	"bytes"
	"context"
	"crypto/rsa"
	"crypto/x509"
	"database/sql"
	"encoding/pem"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/progressive-overload/po/services/kit/auth"
	"github.com/progressive-overload/po/services/kit/mysqldb"
	"github.com/progressive-overload/po/services/kit/mysqldb/mysqltest"
	"github.com/progressive-overload/po/services/kit/platform"
	"github.com/progressive-overload/po/services/kit/testkit"
	"github.com/progressive-overload/po/services/kit/testkit/apitest"

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
	*apitest.Client // the service's API, every answer checked against api/openapi.yaml
	t               testing.TB
	cfg             service.Config
	queues          string // the service's QueuePrefix
	svc             *service.Service
	clock           *testClock
	db              *sql.DB
	rdb             *redis.Client
	served          *testkit.Served
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

	h.Client = apitest.New(t, h.served.URL, api.Spec, apitest.Options{Check: noPasswordHash})
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
	// Clients hang up first, as they would; the server then drains at once.
	h.Close()
	if err := h.served.Stop(); err != nil {
		h.t.Errorf("serve: %v", err)
	}
	testkit.DeleteRedisKeys(h.rdb, h.cfg.RedisKeyPrefix)
	_ = h.rdb.Close()
	_ = h.db.Close()
}

func newService(ctx context.Context, cfg service.Config) (*service.Service, error) {
	return service.New(ctx, cfg, service.Options{Logger: testLogger()})
}

// noPasswordHash is the account service's own check of every answer: no
// password hash, in any form, ever leaves it.
func noPasswordHash(_ *http.Request, r apitest.Response) error {
	if bytes.Contains(r.Body, []byte("$argon2")) || bytes.Contains(bytes.ToLower(r.Body), []byte("passwordhash")) {
		return fmt.Errorf("the answer exposes a password hash: %s", r.Body)
	}
	return nil
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
	var got userJSON
	h.Do(t, "POST", "/auth/signup", "", map[string]string{
		"email": u.Email, "password": u.Password, "displayName": name,
	}).Expect(t, http.StatusCreated).Decode(t, &got)
	u.ID = got.Id
	return u
}

func (h *harness) login(t testing.TB, email, password string) apitest.Response {
	t.Helper()
	return h.Do(t, "POST", "/auth/login", "", map[string]string{"email": email, "password": password})
}

func (h *harness) tokens(t testing.TB, u user) tokenPair {
	t.Helper()
	var p tokenPair
	h.login(t, u.Email, u.Password).Expect(t, http.StatusOK).Decode(t, &p)
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
