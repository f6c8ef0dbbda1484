// Package platform is the configuration every service shares and the wiring
// that follows from it, loaded and applied once: the HTTP server
// (HTTP_ADDR, DEBUG_ADDR, TRUSTED_PROXIES, admission, body limit, drain), the
// database, logging, Redis, AMQP, the events retentions and the JWT claims
// (docs/conventions.md has the one table). A service's own Config embeds
// Config and adds its own variables.
package platform

import (
	"log/slog"
	"math"
	"net/netip"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/progressive-overload/po/services/kit/config"
	"github.com/progressive-overload/po/services/kit/httpserver"
	"github.com/progressive-overload/po/services/kit/logging"
	"github.com/progressive-overload/po/services/kit/redisclient"
)

// Config is the shared environment.
type Config struct {
	HTTPAddr       string
	DebugAddr      string
	TrustedProxies []netip.Prefix // X-Forwarded-For is believed from these (kit/httpserver.ClientIP)
	DatabaseURL    string
	LogLevel       string
	LogFormat      string // json | text
	// LogFlushInterval batches log lines (kit/logging.Buffered) into a write
	// this often; zero writes each line at once.
	LogFlushInterval time.Duration
	BodyLimit        int
	MaxInFlight      int           // requests handled at once (kit/httpserver admission control)
	QueueTimeout     time.Duration // how long a request beyond MaxInFlight waits before a 503
	ShutdownTimeout  time.Duration
	RedisURL         string
	AMQPURL          string // comma-separated when it names several nodes
	AMQPExchange     string
	// AMQPQueueType and AMQPDeliveryLimit are the consumers' queues
	// (kit/events ConsumerOptions.QueueType, DeliveryLimit).
	AMQPQueueType     string
	AMQPDeliveryLimit int
	// How long rows nobody needs any more are kept. Zero keeps them forever
	// (Load never returns zero).
	OutboxRetention time.Duration // published outbox rows, after publishing
	InboxRetention  time.Duration // inbox rows: the consumer's deduplication window
	JWTIssuer       string
	JWTAudience     string
}

// Defaults are what differs between the services' defaults.
type Defaults struct {
	HTTPAddr    string // e.g. ":3000"
	DatabaseURL string // e.g. "root@tcp(127.0.0.1:3306)/po_account"
}

// LoadMigrate reads what `<svc> migrate` needs: the database and logging.
// Invalid variables are reported by env.Err.
func LoadMigrate(env *config.Env, d Defaults) Config {
	return Config{
		DatabaseURL: env.String("DATABASE_URL", d.DatabaseURL),
		LogLevel:    env.OneOf("LOG_LEVEL", "info", "debug", "info", "warn", "error"),
		LogFormat:   env.OneOf("LOG_FORMAT", "json", "json", "text"),
	}
}

// Load reads the shared configuration of `<svc> serve`. Invalid variables
// are reported by env.Err, together with the service's own.
func Load(env *config.Env, d Defaults) Config {
	c := LoadMigrate(env, d)
	c.LogFlushInterval = env.Duration("LOG_FLUSH_INTERVAL", logging.DefaultFlushInterval, 0, 10*time.Second)
	c.HTTPAddr = env.String("HTTP_ADDR", d.HTTPAddr)
	c.DebugAddr = env.String("DEBUG_ADDR", "")
	c.TrustedProxies = env.Prefixes("TRUSTED_PROXIES")
	c.BodyLimit = env.Int("HTTP_BODY_LIMIT", 1<<20, 1024, math.MaxInt32)
	c.MaxInFlight = env.Int("HTTP_MAX_IN_FLIGHT", httpserver.DefaultMaxInFlight, 1, 1<<20)
	c.QueueTimeout = env.Duration("HTTP_QUEUE_TIMEOUT", httpserver.DefaultQueueTimeout, time.Millisecond, 10*time.Second)
	c.ShutdownTimeout = env.Duration("SHUTDOWN_TIMEOUT", 15*time.Second, 0, 10*time.Minute)
	// One server, a Redis Cluster or a Sentinel primary (kit/redisclient).
	c.RedisURL = env.URL("REDIS_URL", "redis://127.0.0.1:6379/0", redisclient.Schemes...)
	// One broker, or the nodes of a cluster with no balancer in front, tried
	// in turn (kit/events).
	c.AMQPURL = strings.Join(env.URLs("AMQP_URL", []string{"amqp://guest:guest@127.0.0.1:5672/"}, "amqp", "amqps"), ",")
	c.AMQPExchange = env.String("AMQP_EXCHANGE", "po.events")
	c.AMQPQueueType = env.OneOf("AMQP_QUEUE_TYPE", "quorum", "quorum", "classic")
	c.AMQPDeliveryLimit = env.Int("AMQP_DELIVERY_LIMIT", 10, 1, 1000)
	c.OutboxRetention = env.Duration("OUTBOX_RETENTION", 168*time.Hour, time.Minute, 8760*time.Hour)
	c.InboxRetention = env.Duration("INBOX_RETENTION", 168*time.Hour, time.Hour, 8760*time.Hour)
	c.JWTIssuer = env.String("JWT_ISSUER", "progressive-overload")
	c.JWTAudience = env.String("JWT_AUDIENCE", "progressive-overload")
	return c
}

// HTTPOptions are the kit/httpserver options c sets; the caller adds its
// readiness checks and its contract (ReadyChecks, OpenAPISpec).
func (c Config) HTTPOptions(service string, log *slog.Logger, reg *prometheus.Registry) httpserver.Options {
	return httpserver.Options{
		Service:         service,
		Logger:          log,
		Registry:        reg,
		BodyLimit:       c.BodyLimit,
		MaxInFlight:     c.MaxInFlight,
		QueueTimeout:    c.QueueTimeout,
		ShutdownTimeout: c.ShutdownTimeout,
		DebugAddr:       c.DebugAddr,
		TrustedProxies:  c.TrustedProxies,
	}
}
