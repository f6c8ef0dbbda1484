// Package service wires the account service together: configuration →
// adapters (MySQL, Redis, RabbitMQ, signing keys) → application → HTTP port.
// The command (cmd/account) and the component tests both build it here, so
// the tests run exactly what production runs.
package service

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"
	// The tz database is embedded: zone names are validated and resolved
	// the same way on a distroless image (no /usr/share/zoneinfo) as here.
	_ "time/tzdata"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/progressive-overload/po/ent/account"
	"github.com/progressive-overload/po/ent/account/migrations"
	"github.com/progressive-overload/po/services/kit/auth"
	"github.com/progressive-overload/po/services/kit/dbmigrate"
	"github.com/progressive-overload/po/services/kit/events"
	"github.com/progressive-overload/po/services/kit/httpserver"
	"github.com/progressive-overload/po/services/kit/mysqldb"
	"github.com/progressive-overload/po/services/kit/redisclient"
	"github.com/progressive-overload/po/services/kit/retention"

	"github.com/progressive-overload/po/services/account/api"
	"github.com/progressive-overload/po/services/account/internal/adapters"
	"github.com/progressive-overload/po/services/account/internal/app"
	amqpport "github.com/progressive-overload/po/services/account/internal/ports/amqp"
	httpport "github.com/progressive-overload/po/services/account/internal/ports/http"
)

// Name is the service label on metrics and logs, and the events' source.
const Name = "account"

// Options are seams for tests; the zero value is production.
type Options struct {
	Logger   *slog.Logger         // default slog.Default()
	Registry *prometheus.Registry // default: a new one with Go and process collectors
	Now      func() time.Time     // default time.Now
	// QueuePrefix starts the names of the queues the service consumes from
	// (default Name). Queues live in a vhost, not under an exchange, so
	// services sharing a vhost in tests each need their own.
	QueuePrefix string
	// PruneInterval is how often expired refresh tokens and old inbox rows
	// are deleted (default events.DefaultPruneInterval, 5m).
	PruneInterval time.Duration
}

// Service is the assembled process.
type Service struct {
	HTTP      *httpserver.Server
	App       *app.Application
	Keys      *auth.KeySet
	cfg       Config
	log       *slog.Logger
	db        *sql.DB
	rdb       redis.UniversalClient
	publisher *events.Publisher
	relay     *events.Relay
	consumer  *events.Consumer
	closeOnce sync.Once

	pruneInterval time.Duration // of expired refresh tokens
}

// New connects to MySQL (which must answer and be migrated: the service is
// useless without it), prepares Redis and RabbitMQ (which may come up later),
// loads the signing keys and creates the configured admin if absent.
func New(ctx context.Context, cfg Config, opts Options) (_ *Service, err error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Registry == nil {
		opts.Registry = httpserver.NewRegistry()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.QueuePrefix == "" {
		opts.QueuePrefix = Name
	}
	if opts.PruneInterval <= 0 {
		opts.PruneInterval = events.DefaultPruneInterval
	}
	s := &Service{cfg: cfg, log: opts.Logger, pruneInterval: opts.PruneInterval}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()

	s.Keys, err = auth.LoadKeySet(cfg.JWTSigningKeyFile, cfg.JWTPreviousKeyFiles...)
	if err != nil {
		return nil, fmt.Errorf("JWT_SIGNING_KEY_FILE / JWT_PREVIOUS_KEY_FILES: %w", err)
	}
	signer, err := auth.NewSigner(s.Keys, auth.SignerConfig{
		Issuer: cfg.JWTIssuer, Audience: cfg.JWTAudience, TTL: cfg.AccessTokenTTL, Now: opts.Now,
	})
	if err != nil {
		return nil, err
	}
	verifier, err := auth.NewLocalVerifier(s.Keys, auth.VerifierConfig{
		Issuer: cfg.JWTIssuer, Audience: cfg.JWTAudience, Now: opts.Now,
	})
	if err != nil {
		return nil, err
	}
	hasher, err := adapters.NewArgon2Hasher(cfg.Argon2)
	if err != nil {
		return nil, err
	}

	s.db, err = mysqldb.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return nil, err
	}
	if err := dbmigrate.CheckCurrent(ctx, cfg.DatabaseURL, migrations.FS, Name); err != nil {
		return nil, err
	}
	client := account.NewClient(account.Driver(entsql.OpenDB(dialect.MySQL, s.db)))

	// So that the throttle's timeout cuts off a Redis that stopped
	// answering, with no retry spending that budget; nor a second dial.
	s.rdb, err = redisclient.New(cfg.RedisURL, redisclient.Options{DialerRetries: 1})
	if err != nil {
		return nil, fmt.Errorf("REDIS_URL: %w", err)
	}
	throttle := adapters.NewLoginThrottle(s.rdb, adapters.LoginThrottleOptions{
		MaxFailures: cfg.LoginMaxFailures,
		Window:      cfg.LoginLockout,
		Prefix:      cfg.RedisKeyPrefix,
		Logger:      opts.Logger,
		Now:         opts.Now,
	})

	httpOpts := cfg.HTTPOptions(Name, opts.Logger, opts.Registry)
	// MySQL only: without Redis sign-in throttling counts in memory, and
	// without RabbitMQ events wait in the outbox; neither should take
	// the pod out of service.
	httpOpts.ReadyChecks = []httpserver.Check{{Name: "mysql", Probe: s.db.PingContext}}
	httpOpts.OpenAPISpec = api.Spec
	s.HTTP = httpserver.New(httpOpts)

	eventMetrics := events.NewMetrics(opts.Registry)
	s.publisher, err = events.NewPublisher(events.PublisherOptions{
		URL:      cfg.AMQPURL,
		Exchange: cfg.AMQPExchange,
		Service:  Name,
		Metrics:  eventMetrics,
		Logger:   opts.Logger,
	})
	if err != nil {
		return nil, err
	}
	s.relay = events.NewRelay(s.db, s.publisher, events.RelayOptions{Logger: opts.Logger, Retention: cfg.OutboxRetention})

	s.App, err = app.New(ctx, app.Deps{
		Users:         adapters.NewUsers(client, s.relay.Notify),
		RefreshTokens: adapters.NewRefreshTokens(client),
		Hasher:        hasher,
		Throttle:      throttle,
		Tokens:        adapters.NewTokenIssuer(signer, cfg.AccessTokenTTL),
	}, app.Options{
		RefreshTokenTTL: cfg.RefreshTokenTTL, RefreshFamilyMaxAge: cfg.RefreshFamilyMaxAge, Logger: opts.Logger, Now: opts.Now})
	if err != nil {
		return nil, err
	}
	if cfg.AdminEmail != "" {
		created, err := s.App.EnsureAdmin(ctx, cfg.AdminEmail, cfg.AdminPassword)
		if err != nil {
			return nil, fmt.Errorf("create the admin from ADMIN_EMAIL/ADMIN_PASSWORD: %w", err)
		}
		if created {
			opts.Logger.Info("created the admin account", "email", strings.ToLower(strings.TrimSpace(cfg.AdminEmail)))
		}
	}
	if err := httpport.Register(s.HTTP.App, s.App, verifier, s.Keys); err != nil {
		return nil, err
	}

	s.consumer, err = events.NewConsumer(s.db, events.ConsumerOptions{
		URL:      cfg.AMQPURL,
		Exchange: cfg.AMQPExchange,
		Service:  opts.QueuePrefix,
		// Quorum queues, replacing classic ones of an earlier release.
		QueueType:     cfg.AMQPQueueType,
		DeliveryLimit: cfg.AMQPDeliveryLimit,
		Metrics:       eventMetrics,
		Logger:        opts.Logger,
		// The table's rows all belong to this consumer's subscriptions.
		InboxRetention: cfg.InboxRetention,
		PruneInterval:  opts.PruneInterval,
	})
	if err != nil {
		return nil, err
	}
	err = s.consumer.Subscribe(amqpport.ChallengeValidationSubscription, []string{amqpport.ChallengeCreatedType},
		amqpport.ChallengeCreatedHandler(s.App, adapters.ChallengeUserTx, s.relay.Notify))
	if err != nil {
		return nil, err
	}
	return s, nil
}

// Serve answers HTTP on ln, consumes events, runs the outbox relay and
// deletes expired refresh tokens until ctx ends; then it drains HTTP and the
// consumer's handlers, stops the relay and the pruning and closes every
// connection. The broker may be away at any point, start
// included: the consumer and the publisher keep reconnecting in the
// background while HTTP is served.
func (s *Service) Serve(ctx context.Context, ln net.Listener) error {
	defer s.Close()
	bg, stop := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Go(func() { _ = s.relay.Run(bg) })
	if s.cfg.ExpiredRefreshTokenRetention > 0 {
		wg.Go(func() { s.pruneRefreshTokens(bg) })
	}
	wg.Go(func() {
		err := s.consumer.Start(bg)
		if err != nil && !errors.Is(err, events.ErrClosed) && bg.Err() == nil {
			s.log.Error("event consumer did not start", "error", err)
		}
	})
	serving, served := context.WithCancel(ctx)
	consumerClosed := make(chan struct{})
	go func() {
		defer close(consumerClosed)
		<-serving.Done()
		// In parallel with the HTTP drain: both only finish work in flight.
		_ = s.consumer.Close()
	}()
	err := s.HTTP.Serve(serving, ln)
	served()
	<-consumerClosed
	// Requests and handlers have finished, so their events are in the
	// outbox; the relay may stop (the next start publishes whatever is left).
	stop()
	wg.Wait()
	return err
}

// pruneRefreshTokens deletes the refresh tokens that expired longer than
// EXPIRED_REFRESH_TOKEN_RETENTION ago (see app.Application.PruneRefreshTokens)
// at once and then every prune interval, until ctx ends (kit/retention).
func (s *Service) pruneRefreshTokens(ctx context.Context) {
	retention.Every(ctx, s.log, s.pruneInterval, func(ctx context.Context) (int64, error) {
		return s.App.PruneRefreshTokens(ctx, s.cfg.ExpiredRefreshTokenRetention)
	}, "table", "refresh_tokens", "retention", s.cfg.ExpiredRefreshTokenRetention)
}

// Close releases every connection. Serve calls it; call it yourself only
// when Serve was never called.
func (s *Service) Close() {
	s.closeOnce.Do(func() {
		// The consumer first: its handlers in flight still need the database.
		if s.consumer != nil {
			_ = s.consumer.Close()
		}
		if s.publisher != nil {
			_ = s.publisher.Close()
		}
		if s.rdb != nil {
			_ = s.rdb.Close()
		}
		if s.db != nil {
			_ = s.db.Close()
		}
	})
}

// Migrate creates the database if needed and applies the pending migrations;
// it returns how many it applied (0 when the schema is current).
func Migrate(ctx context.Context, dsn string) (int, error) {
	return dbmigrate.Migrate(ctx, dsn, migrations.FS)
}
