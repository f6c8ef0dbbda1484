package service

import (
	"math"
	"net/netip"
	"time"

	"github.com/progressive-overload/po/services/kit/config"
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
	ShutdownTimeout time.Duration
	RedisURL        string
	AMQPURL         string
	AMQPExchange    string
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
		ShutdownTimeout: env.Duration("SHUTDOWN_TIMEOUT", 15*time.Second, 0, 10*time.Minute),
		RedisURL:        env.URL("REDIS_URL", "redis://127.0.0.1:6379/0", "redis", "rediss"),
		AMQPURL:         env.URL("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/", "amqp", "amqps"),
		AMQPExchange:    env.String("AMQP_EXCHANGE", "po.events"),
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
