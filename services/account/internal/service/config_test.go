package service_test

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/progressive-overload/po/services/kit/config"
	"github.com/progressive-overload/po/services/kit/platform"

	"github.com/progressive-overload/po/services/account/internal/adapters"
	"github.com/progressive-overload/po/services/account/internal/service"
)

func TestConfigDefaults(t *testing.T) {
	t.Parallel()
	c, err := service.LoadConfig(config.FromMap(map[string]string{"JWT_SIGNING_KEY_FILE": "/keys/signing.pem"}))
	if err != nil {
		t.Fatal(err)
	}
	want := service.Config{
		Config: platform.Config{
			HTTPAddr:          ":3000",
			DatabaseURL:       "root@tcp(127.0.0.1:3306)/po_account",
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
			JWTIssuer:         "progressive-overload",
			JWTAudience:       "progressive-overload",
		},
		RedisKeyPrefix:    "po:account:",
		JWTSigningKeyFile: "/keys/signing.pem",
		AccessTokenTTL:    15 * time.Minute,
		RefreshTokenTTL:   720 * time.Hour,
		LoginMaxFailures:  5,
		LoginLockout:      15 * time.Minute,
		Argon2:            adapters.DefaultArgon2Params,
	}
	want.OutboxRetention, want.InboxRetention, want.ExpiredRefreshTokenRetention = 168*time.Hour, 168*time.Hour, 24*time.Hour
	want.RefreshFamilyMaxAge = 2160 * time.Hour
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("defaults\n got %+v\nwant %+v", c, want)
	}
}

func TestConfigReportsEveryProblem(t *testing.T) {
	t.Parallel()
	_, err := service.LoadConfig(config.FromMap(map[string]string{
		"ACCESS_TOKEN_TTL":   "forever",
		"LOGIN_MAX_FAILURES": "0",
		"REDIS_URL":          "http://x",
		"ADMIN_EMAIL":        "admin@example.com",
		"LOG_FORMAT":         "xml",
		"TRUSTED_PROXIES":    "10.244.0.0/16, 10.0.0.0/40",
		"HTTP_MAX_IN_FLIGHT": "-1",
		"HTTP_QUEUE_TIMEOUT": "1h",
	}))
	if err == nil {
		t.Fatal("no error")
	}
	for _, name := range []string{"JWT_SIGNING_KEY_FILE", "ACCESS_TOKEN_TTL", "LOGIN_MAX_FAILURES", "REDIS_URL", "ADMIN_PASSWORD", "LOG_FORMAT", `TRUSTED_PROXIES: "10.0.0.0/40"`, "HTTP_MAX_IN_FLIGHT", "HTTP_QUEUE_TIMEOUT"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error does not name %s:\n%v", name, err)
		}
	}
}

func TestConfigRetentions(t *testing.T) {
	t.Parallel()
	c, err := service.LoadConfig(config.FromMap(map[string]string{
		"JWT_SIGNING_KEY_FILE":            "/k/new.pem",
		"OUTBOX_RETENTION":                "30m",
		"INBOX_RETENTION":                 "720h",
		"EXPIRED_REFRESH_TOKEN_RETENTION": "48h",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.OutboxRetention != 30*time.Minute || c.InboxRetention != 720*time.Hour || c.ExpiredRefreshTokenRetention != 48*time.Hour {
		t.Errorf("retentions %s %s %s, want 30m 720h 48h", c.OutboxRetention, c.InboxRetention, c.ExpiredRefreshTokenRetention)
	}
	// The inbox's retention is its deduplication window: minutes are refused.
	_, err = service.LoadConfig(config.FromMap(map[string]string{
		"JWT_SIGNING_KEY_FILE":            "/k/new.pem",
		"OUTBOX_RETENTION":                "0s",
		"INBOX_RETENTION":                 "30m",
		"EXPIRED_REFRESH_TOKEN_RETENTION": "a day",
	}))
	for _, name := range []string{"OUTBOX_RETENTION", "INBOX_RETENTION", "EXPIRED_REFRESH_TOKEN_RETENTION"} {
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("error does not name %s:\n%v", name, err)
		}
	}
}

func TestConfigRefreshFamilyMaxAge(t *testing.T) {
	t.Parallel()
	for v, want := range map[string]time.Duration{
		"1h":     time.Hour,
		"24h":    24 * time.Hour, // below REFRESH_TOKEN_TTL: allowed, it caps the tokens
		"8760h":  8760 * time.Hour,
		"87600h": 87600 * time.Hour,
	} {
		c, err := service.LoadConfig(config.FromMap(map[string]string{"JWT_SIGNING_KEY_FILE": "/k", "REFRESH_FAMILY_MAX_AGE": v}))
		if err != nil || c.RefreshFamilyMaxAge != want {
			t.Errorf("REFRESH_FAMILY_MAX_AGE=%s: %s, %v; want %s", v, c.RefreshFamilyMaxAge, err, want)
		}
	}
	for _, v := range []string{"59m", "0s", "-1h", "90 days"} {
		_, err := service.LoadConfig(config.FromMap(map[string]string{"JWT_SIGNING_KEY_FILE": "/k", "REFRESH_FAMILY_MAX_AGE": v}))
		if err == nil || !strings.Contains(err.Error(), "REFRESH_FAMILY_MAX_AGE") {
			t.Errorf("REFRESH_FAMILY_MAX_AGE=%q: err %v, want one naming the variable", v, err)
		}
	}
}

func TestMigrateConfigNeedsNoKey(t *testing.T) {
	t.Parallel()
	c, err := service.LoadMigrateConfig(config.FromMap(map[string]string{"DATABASE_URL": "u@tcp(db:3306)/x"}))
	if err != nil || c.DatabaseURL != "u@tcp(db:3306)/x" {
		t.Fatalf("%+v %v", c, err)
	}
}

func TestConfigLists(t *testing.T) {
	t.Parallel()
	c, err := service.LoadConfig(config.FromMap(map[string]string{
		"JWT_SIGNING_KEY_FILE":      "/k/new.pem",
		"JWT_PREVIOUS_KEY_FILES":    " /k/old1.pem, ,/k/old2.pem ",
		"PASSWORD_HASH_MEMORY_KIB":  "65536",
		"PASSWORD_HASH_ITERATIONS":  "3",
		"PASSWORD_HASH_PARALLELISM": "2",
		"TRUSTED_PROXIES":           "10.244.0.0/16, ,192.0.2.10,fd00::/8",
		"HTTP_MAX_IN_FLIGHT":        "1024",
		"HTTP_QUEUE_TIMEOUT":        "250ms",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(c.JWTPreviousKeyFiles, "|") != "/k/old1.pem|/k/old2.pem" {
		t.Errorf("previous keys %q", c.JWTPreviousKeyFiles)
	}
	if c.Argon2 != (adapters.Argon2Params{MemoryKiB: 65536, Iterations: 3, Parallelism: 2}) {
		t.Errorf("argon2 %+v", c.Argon2)
	}
	want := []netip.Prefix{netip.MustParsePrefix("10.244.0.0/16"), netip.MustParsePrefix("192.0.2.10/32"), netip.MustParsePrefix("fd00::/8")}
	if !reflect.DeepEqual(c.TrustedProxies, want) {
		t.Errorf("trusted proxies %v, want %v", c.TrustedProxies, want)
	}
	if c.MaxInFlight != 1024 || c.QueueTimeout != 250*time.Millisecond {
		t.Errorf("admission %d %s, want 1024 250ms", c.MaxInFlight, c.QueueTimeout)
	}
}
