package service_test

import (
	"net/http"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/progressive-overload/po/services/challenge/api"
	"github.com/progressive-overload/po/services/challenge/internal/service"
	"github.com/progressive-overload/po/services/kit/config"
	"github.com/progressive-overload/po/services/kit/platform"
	"github.com/progressive-overload/po/services/kit/testkit/apitest"
)

func TestConfigDefaults(t *testing.T) {
	c, err := service.LoadConfig(config.FromMap(nil))
	if err != nil {
		t.Fatal(err)
	}
	want := service.Config{
		Config: platform.Config{
			HTTPAddr:          ":3001",
			DatabaseURL:       "root@tcp(127.0.0.1:3306)/po_challenge",
			LogLevel:          "info",
			LogFormat:         "json",
			LogFlushInterval:  100 * time.Millisecond,
			BodyLimit:         1 << 20,
			MaxInFlight:       256,
			QueueTimeout:      100 * time.Millisecond,
			ShutdownTimeout:   15 * time.Second,
			RedisURL:          "redis://127.0.0.1:6379/0",
			AMQPURL:           "amqp://guest:guest@127.0.0.1:5672/",
			AMQPExchange:      "po.events",
			AMQPQueueType:     "quorum",
			AMQPDeliveryLimit: 10,
			OutboxRetention:   168 * time.Hour,
			InboxRetention:    168 * time.Hour,
			JWTIssuer:         "progressive-overload",
			JWTAudience:       "progressive-overload",
		},
		JWKSURL:        "http://127.0.0.1:3000/.well-known/jwks.json",
		CacheEnabled:   true,
		CacheTTL:       30 * time.Second,
		CacheKeyPrefix: "po:challenge:",
		CacheTimeout:   50 * time.Millisecond,
		CacheNearSize:  0,
		CacheNearTTL:   5 * time.Second,
	}
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("defaults:\n got %+v\nwant %+v", c, want)
	}
}

func TestConfigReportsEveryBadVariable(t *testing.T) {
	_, err := service.LoadConfig(config.FromMap(map[string]string{
		"CACHE_ENABLED": "maybe", "CACHE_TTL": "30", "CACHE_TIMEOUT": "0s", "JWKS_URL": "jwks.json",
		"LOG_FORMAT": "xml", "REDIS_URL": "http://x", "HTTP_BODY_LIMIT": "1", "TRUSTED_PROXIES": "10.244.0.0/16,ingress",
		"HTTP_MAX_IN_FLIGHT": "0", "HTTP_QUEUE_TIMEOUT": "100",
	}))
	if err == nil {
		t.Fatal("bad configuration accepted")
	}
	for _, name := range []string{"CACHE_ENABLED", "CACHE_TTL", "CACHE_TIMEOUT", "JWKS_URL", "LOG_FORMAT", "REDIS_URL", "HTTP_BODY_LIMIT", `TRUSTED_PROXIES: "ingress"`, "HTTP_MAX_IN_FLIGHT", "HTTP_QUEUE_TIMEOUT"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error does not name %s: %v", name, err)
		}
	}
	c, err := service.LoadConfig(config.FromMap(map[string]string{"CACHE_ENABLED": "false", "CACHE_TTL": "5s", "LOG_FORMAT": "text", "HTTP_MAX_IN_FLIGHT": "64", "HTTP_QUEUE_TIMEOUT": "250ms"}))
	if err != nil || c.CacheEnabled || c.CacheTTL != 5*time.Second || c.LogFormat != "text" || c.MaxInFlight != 64 || c.QueueTimeout != 250*time.Millisecond {
		t.Fatalf("%+v %v", c, err)
	}
}

func TestConfigRetentions(t *testing.T) {
	c, err := service.LoadConfig(config.FromMap(map[string]string{"OUTBOX_RETENTION": "30m", "INBOX_RETENTION": "720h"}))
	if err != nil || c.OutboxRetention != 30*time.Minute || c.InboxRetention != 720*time.Hour {
		t.Fatalf("%+v %v", c, err)
	}
	// The inbox's retention is its deduplication window: minutes are refused.
	_, err = service.LoadConfig(config.FromMap(map[string]string{"OUTBOX_RETENTION": "forever", "INBOX_RETENTION": "30m"}))
	for _, name := range []string{"OUTBOX_RETENTION", "INBOX_RETENTION"} {
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("error does not name %s: %v", name, err)
		}
	}
}

func TestConfigTrustedProxies(t *testing.T) {
	c, err := service.LoadConfig(config.FromMap(map[string]string{"TRUSTED_PROXIES": "10.244.0.0/16, 192.0.2.10,2001:db8::/64"}))
	if err != nil {
		t.Fatal(err)
	}
	want := []netip.Prefix{netip.MustParsePrefix("10.244.0.0/16"), netip.MustParsePrefix("192.0.2.10/32"), netip.MustParsePrefix("2001:db8::/64")}
	if !reflect.DeepEqual(c.TrustedProxies, want) {
		t.Fatalf("TrustedProxies = %v, want %v", c.TrustedProxies, want)
	}
}

// The response validator finds the contract's operation for every route the
// tests call (otherwise it could only skip validation).
func TestSpecRoutes(t *testing.T) {
	c := apitest.New(t, "http://127.0.0.1:1", api.Spec, apitest.Options{})
	for _, tc := range []struct{ method, path, op string }{
		{"GET", "/challenges?limit=5", "listChallenges"},
		{"POST", "/challenges", "createChallenge"},
		{"GET", "/challenges/logs/7", "listUserLogs"},
		{"GET", "/challenges/7", "getChallenge"},
		{"PATCH", "/challenges/7", "updateChallenge"},
		{"DELETE", "/challenges/7", "deleteChallenge"},
		{"GET", "/challenges/7/logs", "listChallengeLogs"},
		{"POST", "/challenges/7/logs", "createWorkoutLog"},
		{"GET", "/challenges/7/progress", "getProgress"},
	} {
		req, _ := http.NewRequest(tc.method, "http://127.0.0.1:1"+tc.path, nil)
		route, _, err := c.FindRoute(req)
		if err != nil || route.Operation.OperationID != tc.op {
			t.Errorf("%s %s: %v %v, want %s", tc.method, tc.path, route, err, tc.op)
		}
	}
}
