package service

import (
	"math"
	"net/netip"
	"time"

	"github.com/progressive-overload/po/services/kit/config"
	"github.com/progressive-overload/po/services/kit/httpserver"
)

// Config is the service's environment (docs/conventions.md).
type Config struct {
	HTTPAddr        string
	DebugAddr       string
	TrustedProxies  []netip.Prefix // X-Forwarded-For is believed from these (kit/httpserver.ClientIP)
	DatabaseURL     string
	LogLevel        string
	LogFormat       string // json | text
	BodyLimit       int
	MaxInFlight     int           // requests handled at once (kit/httpserver admission control)
	QueueTimeout    time.Duration // how long a request beyond MaxInFlight waits before a 503
	ShutdownTimeout time.Duration
	RedisURL        string
	AMQPURL         string
	AMQPExchange    string
	OutboxRetention time.Duration // published outbox rows are kept this long (0: forever; LoadConfig never returns 0)
	InboxRetention  time.Duration // inbox rows likewise: the consumer's deduplication window
	JWTIssuer       string
	JWTAudience     string
	JWKSURL         string
	CacheEnabled    bool
	CacheTTL        time.Duration
	CacheKeyPrefix  string
	CacheTimeout    time.Duration
}

// LoadConfig reads the configuration and reports every invalid variable at once.
func LoadConfig(env *config.Env) (Config, error) {
	c := Config{
		HTTPAddr:        env.String("HTTP_ADDR", ":3001"),
		DebugAddr:       env.String("DEBUG_ADDR", ""),
		TrustedProxies:  env.Prefixes("TRUSTED_PROXIES"),
		DatabaseURL:     env.String("DATABASE_URL", "root@tcp(127.0.0.1:3306)/po_challenge"),
		LogLevel:        env.OneOf("LOG_LEVEL", "info", "debug", "info", "warn", "error"),
		LogFormat:       env.OneOf("LOG_FORMAT", "json", "json", "text"),
		BodyLimit:       env.Int("HTTP_BODY_LIMIT", 1<<20, 1024, math.MaxInt32),
		MaxInFlight:     env.Int("HTTP_MAX_IN_FLIGHT", httpserver.DefaultMaxInFlight, 1, 1<<20),
		QueueTimeout:    env.Duration("HTTP_QUEUE_TIMEOUT", httpserver.DefaultQueueTimeout, time.Millisecond, 10*time.Second),
		ShutdownTimeout: env.Duration("SHUTDOWN_TIMEOUT", 15*time.Second, 0, 10*time.Minute),
		RedisURL:        env.URL("REDIS_URL", "redis://127.0.0.1:6379/0", "redis", "rediss"),
		AMQPURL:         env.URL("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/", "amqp", "amqps"),
		AMQPExchange:    env.String("AMQP_EXCHANGE", "po.events"),
		OutboxRetention: env.Duration("OUTBOX_RETENTION", 168*time.Hour, time.Minute, 8760*time.Hour),
		InboxRetention:  env.Duration("INBOX_RETENTION", 168*time.Hour, time.Hour, 8760*time.Hour),
		JWTIssuer:       env.String("JWT_ISSUER", "progressive-overload"),
		JWTAudience:     env.String("JWT_AUDIENCE", "progressive-overload"),
		JWKSURL:         env.URL("JWKS_URL", "http://127.0.0.1:3000/.well-known/jwks.json", "http", "https"),
		CacheEnabled:    env.Bool("CACHE_ENABLED", true),
		CacheTTL:        env.Duration("CACHE_TTL", 30*time.Second, time.Second, 24*time.Hour),
		CacheKeyPrefix:  env.String("CACHE_KEY_PREFIX", "po:challenge:"),
		CacheTimeout:    env.Duration("CACHE_TIMEOUT", 50*time.Millisecond, time.Millisecond, 10*time.Second),
	}
	return c, env.Err()
}
