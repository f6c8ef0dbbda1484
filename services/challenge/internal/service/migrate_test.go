package service_test

import (
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/progressive-overload/po/services/kit/mysqldb/mysqltest"
	"github.com/progressive-overload/po/services/kit/platform"
	"github.com/progressive-overload/po/services/kit/testkit"

	"github.com/progressive-overload/po/services/challenge/internal/service"
)

// TestServeRefusesAnUnmigratedDatabase: like the account service, `serve`
// names the fix instead of failing request by request; after `challenge
// migrate` it starts, and a second migrate applies nothing.
func TestServeRefusesAnUnmigratedDatabase(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	cfg := service.Config{
		Config: platform.Config{
			DatabaseURL:  mysqltest.NewDatabase(t),
			RedisURL:     "redis://" + testkit.RedisAddr + "/0",
			AMQPURL:      testkit.AMQPURL,
			AMQPExchange: "t." + testkit.RandomHex(6) + ".events",
			JWTIssuer:    testkit.Issuer,
			JWTAudience:  testkit.Audience,
		},
		JWKSURL:      "http://127.0.0.1:1/.well-known/jwks.json",
		CacheTTL:     time.Second,
		CacheTimeout: 50 * time.Millisecond,
	}
	opts := service.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), QueuePrefix: "t_" + testkit.RandomHex(6)}
	if _, err := service.New(ctx, cfg, opts); err == nil || !strings.Contains(err.Error(), "run `challenge migrate` first") {
		t.Fatalf("serve on an empty database: %v", err)
	}
	if n, err := service.Migrate(ctx, cfg.DatabaseURL); err != nil || n == 0 {
		t.Fatalf("first migrate: applied %d, %v", n, err)
	}
	if n, err := service.Migrate(ctx, cfg.DatabaseURL); err != nil || n != 0 {
		t.Fatalf("second migrate: applied %d, %v; want 0", n, err)
	}
	svc, err := service.New(ctx, cfg, opts)
	if err != nil {
		t.Fatalf("serve after migrate: %v", err)
	}
	svc.Close()
}
