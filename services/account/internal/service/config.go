package service

import (
	"errors"
	"math"
	"net/netip"
	"time"

	"github.com/progressive-overload/po/services/kit/config"
	"github.com/progressive-overload/po/services/kit/httpserver"

	"github.com/progressive-overload/po/services/account/internal/adapters"
)

// Config is the service's environment (docs/conventions.md).
type Config struct {
	HTTPAddr            string
	DebugAddr           string
	TrustedProxies      []netip.Prefix // X-Forwarded-For is believed from these (kit/httpserver.ClientIP)
	DatabaseURL         string
	LogLevel            string
	LogFormat           string // json | text
	BodyLimit           int
	MaxInFlight         int           // requests handled at once (kit/httpserver admission control)
	QueueTimeout        time.Duration // how long a request beyond MaxInFlight waits before a 503
	ShutdownTimeout     time.Duration
	RedisURL            string
	RedisKeyPrefix      string
	AMQPURL             string
	AMQPExchange        string
	JWTIssuer           string
	JWTAudience         string
	JWTSigningKeyFile   string
	JWTPreviousKeyFiles []string
	AccessTokenTTL      time.Duration
	RefreshTokenTTL     time.Duration
	RefreshFamilyMaxAge time.Duration // absolute lifetime of a sign-in; caps RefreshTokenTTL when smaller
	AdminEmail          string
	AdminPassword       string
	LoginMaxFailures    int
	LoginLockout        time.Duration
	Argon2              adapters.Argon2Params

	// How long rows nobody needs any more are kept. Zero keeps them forever
	// (LoadConfig never returns zero).
	OutboxRetention              time.Duration // published outbox rows, after publishing
	InboxRetention               time.Duration // inbox rows: the consumer's deduplication window
	ExpiredRefreshTokenRetention time.Duration // refresh tokens, after they expired
}

// LoadConfig reads the configuration of `account serve` and reports every
// invalid variable at once.
func LoadConfig(env *config.Env) (Config, error) {
	c := loadCommon(env)
	c.HTTPAddr = env.String("HTTP_ADDR", ":3000")
	c.DebugAddr = env.String("DEBUG_ADDR", "")
	c.TrustedProxies = env.Prefixes("TRUSTED_PROXIES")
	c.BodyLimit = env.Int("HTTP_BODY_LIMIT", 1<<20, 1024, math.MaxInt32)
	c.MaxInFlight = env.Int("HTTP_MAX_IN_FLIGHT", httpserver.DefaultMaxInFlight, 1, 1<<20)
	c.QueueTimeout = env.Duration("HTTP_QUEUE_TIMEOUT", httpserver.DefaultQueueTimeout, time.Millisecond, 10*time.Second)
	c.ShutdownTimeout = env.Duration("SHUTDOWN_TIMEOUT", 15*time.Second, 0, 10*time.Minute)
	c.RedisURL = env.URL("REDIS_URL", "redis://127.0.0.1:6379/0", "redis", "rediss")
	c.RedisKeyPrefix = env.String("REDIS_KEY_PREFIX", "po:account:")
	c.AMQPURL = env.URL("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/", "amqp", "amqps")
	c.AMQPExchange = env.String("AMQP_EXCHANGE", "po.events")
	c.OutboxRetention = env.Duration("OUTBOX_RETENTION", 168*time.Hour, time.Minute, 8760*time.Hour)
	c.InboxRetention = env.Duration("INBOX_RETENTION", 168*time.Hour, time.Hour, 8760*time.Hour)
	c.JWTIssuer = env.String("JWT_ISSUER", "progressive-overload")
	c.JWTAudience = env.String("JWT_AUDIENCE", "progressive-overload")
	c.JWTSigningKeyFile = env.Required("JWT_SIGNING_KEY_FILE")
	c.JWTPreviousKeyFiles = env.List("JWT_PREVIOUS_KEY_FILES")
	c.AccessTokenTTL = env.Duration("ACCESS_TOKEN_TTL", 15*time.Minute, time.Minute, 24*time.Hour)
	c.RefreshTokenTTL = env.Duration("REFRESH_TOKEN_TTL", 720*time.Hour, time.Second, 8760*time.Hour)
	c.RefreshFamilyMaxAge = env.Duration("REFRESH_FAMILY_MAX_AGE", 2160*time.Hour, time.Hour, math.MaxInt64)
	c.ExpiredRefreshTokenRetention = env.Duration("EXPIRED_REFRESH_TOKEN_RETENTION", 24*time.Hour, time.Hour, 8760*time.Hour)
	c.AdminEmail = env.String("ADMIN_EMAIL", "")
	c.AdminPassword = env.String("ADMIN_PASSWORD", "")
	c.LoginMaxFailures = env.Int("LOGIN_MAX_FAILURES", 5, 1, 1000)
	c.LoginLockout = env.Duration("LOGIN_LOCKOUT", 15*time.Minute, time.Second, 24*time.Hour)
	d := adapters.DefaultArgon2Params
	c.Argon2 = adapters.Argon2Params{
		MemoryKiB:   uint32(env.Int("PASSWORD_HASH_MEMORY_KIB", int(d.MemoryKiB), adapters.MinArgon2MemoryKiB, adapters.MaxArgon2MemoryKiB)),
		Iterations:  uint32(env.Int("PASSWORD_HASH_ITERATIONS", int(d.Iterations), 1, adapters.MaxArgon2Iterations)),
		Parallelism: uint8(env.Int("PASSWORD_HASH_PARALLELISM", int(d.Parallelism), 1, 16)),
	}
	var errs []error
	if err := env.Err(); err != nil {
		errs = append(errs, err)
	}
	if (c.AdminEmail == "") != (c.AdminPassword == "") {
		errs = append(errs, errors.New("ADMIN_EMAIL and ADMIN_PASSWORD: set both or neither"))
	}
	if err := c.Argon2.Validate(); err != nil {
		errs = append(errs, errors.New("PASSWORD_HASH_*: "+err.Error()))
	}
	return c, errors.Join(errs...)
}

// LoadMigrateConfig reads what `account migrate` needs: the database and logging.
func LoadMigrateConfig(env *config.Env) (Config, error) {
	c := loadCommon(env)
	return c, env.Err()
}

func loadCommon(env *config.Env) Config {
	return Config{
		DatabaseURL: env.String("DATABASE_URL", "root@tcp(127.0.0.1:3306)/po_account"),
		LogLevel:    env.OneOf("LOG_LEVEL", "info", "debug", "info", "warn", "error"),
		LogFormat:   env.OneOf("LOG_FORMAT", "json", "json", "text"),
	}
}
