// Package service wires the challenge service together: configuration →
// adapters (MySQL, Redis, RabbitMQ, JWKS) → application → HTTP port. The
// command (cmd/challenge) and the end-to-end tests both build it here, so the
// tests run exactly what production runs.
package service

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"
	// The tz database is embedded: zone names are validated and resolved
	// the same way on a distroless image (no /usr/share/zoneinfo) as here.
	_ "time/tzdata"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/progressive-overload/po/ent/challenge/migrations"
	"github.com/progressive-overload/po/services/challenge/api"
	"github.com/progressive-overload/po/services/challenge/internal/adapters"
	"github.com/progressive-overload/po/services/challenge/internal/app"
	amqpport "github.com/progressive-overload/po/services/challenge/internal/ports/amqp"
	httpport "github.com/progressive-overload/po/services/challenge/internal/ports/http"
	"github.com/progressive-overload/po/services/kit/auth"
	"github.com/progressive-overload/po/services/kit/cache"
	"github.com/progressive-overload/po/services/kit/dbmigrate"
	"github.com/progressive-overload/po/services/kit/events"
	"github.com/progressive-overload/po/services/kit/httpserver"
	"github.com/progressive-overload/po/services/kit/mysqldb"
	"github.com/progressive-overload/po/services/kit/redisclient"
)

// Name is the service label on metrics and logs.
const Name = "challenge"

// Options are seams for tests; the zero value is production.
type Options struct {
	Logger   *slog.Logger         // default slog.Default()
	Registry *prometheus.Registry // default: a new one with Go and process collectors
	Now      func() time.Time     // default time.Now
	// WrapRepository decorates the database adapter (tests count or pause
	// queries through it).
	WrapRepository func(app.Repository) app.Repository
	// QueuePrefix starts the names of the event consumer's queues
	// ("<prefix>.user-validated", ...) and is its metrics' service label;
	// default Name. Tests give each service their own, since queues outlive
	// the exchange they are bound to.
	QueuePrefix string
}

// Service is the assembled process.
type Service struct {
	HTTP      *httpserver.Server
	App       *app.Application
	Repo      *adapters.Repository
	cfg       Config
	log       *slog.Logger
	db        *sql.DB
	rdb       redis.UniversalClient
	cache     *cache.Cache
	verifier  *auth.RemoteVerifier
	publisher *events.Publisher
	relay     *events.Relay
	consumer  *events.Consumer
	// closeBoards stops the leaderboards' background work.
	closeBoards func()
	closeOnce   sync.Once
}

// New connects to MySQL (which must answer and be migrated: the service is
// useless without it) and prepares Redis, RabbitMQ and the JWKS client, which may come up
// later.
func New(ctx context.Context, cfg Config, opts Options) (_ *Service, err error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Registry == nil {
		opts.Registry = httpserver.NewRegistry()
	}
	s := &Service{cfg: cfg, log: opts.Logger}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()

	s.db, err = mysqldb.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return nil, err
	}
	if err := dbmigrate.CheckCurrent(ctx, cfg.DatabaseURL, migrations.FS, Name); err != nil {
		return nil, err
	}

	// Bounded by CACHE_TIMEOUT, without retries: a read falls back to MySQL.
	s.rdb, err = redisclient.New(cfg.RedisURL, redisclient.Options{})
	if err != nil {
		return nil, fmt.Errorf("REDIS_URL: %w", err)
	}
	s.cache = cache.New(s.rdb, cache.Options{
		Service:    Name,
		KeyPrefix:  cfg.CacheKeyPrefix,
		TTL:        cfg.CacheTTL,
		Timeout:    cfg.CacheTimeout,
		Enabled:    cfg.CacheEnabled,
		NearSize:   cfg.CacheNearSize,
		NearTTL:    cfg.CacheNearTTL,
		Registerer: opts.Registry,
		Logger:     opts.Logger,
	})

	metrics := events.NewMetrics(opts.Registry)
	s.publisher, err = events.NewPublisher(events.PublisherOptions{
		URL:      cfg.AMQPURL,
		Exchange: cfg.AMQPExchange,
		Service:  Name,
		Metrics:  metrics,
		Logger:   opts.Logger,
	})
	if err != nil {
		return nil, err
	}
	s.relay = events.NewRelay(s.db, s.publisher, events.RelayOptions{Logger: opts.Logger, Retention: cfg.OutboxRetention})

	s.verifier, err = auth.NewRemoteVerifier(auth.RemoteConfig{
		VerifierConfig: auth.VerifierConfig{Issuer: cfg.JWTIssuer, Audience: cfg.JWTAudience},
		JWKSURL:        cfg.JWKSURL,
		Logger:         opts.Logger,
	})
	if err != nil {
		return nil, err
	}

	s.Repo = adapters.NewRepository(s.db, s.relay.Notify)
	var repo app.Repository = s.Repo
	if opts.WrapRepository != nil {
		repo = opts.WrapRepository(repo)
	}
	gm, err := newGroupMetrics(opts.Registry)
	if err != nil {
		return nil, err
	}
	boards, closeBoards, err := leaderboards(s.rdb, cfg, opts.Registry, opts.Logger)
	if err != nil {
		return nil, err
	}
	s.closeBoards = closeBoards
	s.App = app.New(repo, app.Options{
		UserLogsCache:  adapters.NewCache(s.cache, adapters.CacheUserLogs),
		ProgressCache:  adapters.NewCache(s.cache, adapters.CacheProgress),
		RecordsCache:   adapters.NewCache(s.cache, adapters.CacheRecords),
		HistoryCache:   adapters.NewCache(s.cache, adapters.CacheHistory),
		Invalidator:    adapters.NewInvalidator(s.cache),
		Leaderboards:   boards,
		CountJoin:      gm.join,
		CountDeparture: gm.departure,
		Now:            opts.Now,
		Logger:         opts.Logger,
	})

	if opts.QueuePrefix == "" {
		opts.QueuePrefix = Name
	}
	s.consumer, err = events.NewConsumer(s.db, events.ConsumerOptions{
		URL:      cfg.AMQPURL,
		Exchange: cfg.AMQPExchange,
		Service:  opts.QueuePrefix,
		// Quorum queues, replacing classic ones of an earlier release.
		QueueType:     cfg.AMQPQueueType,
		DeliveryLimit: cfg.AMQPDeliveryLimit,
		Metrics:       metrics,
		Logger:        opts.Logger,
		// The table's rows all belong to this consumer's subscriptions.
		InboxRetention: cfg.InboxRetention,
	})
	if err != nil {
		return nil, err
	}
	if err := amqpport.Subscribe(s.consumer, s.App, func(tx *sql.Tx) app.TxRepository { return adapters.InTx(tx) }); err != nil {
		return nil, err
	}

	httpOpts := cfg.HTTPOptions(Name, opts.Logger, opts.Registry)
	// MySQL only: without Redis reads fall back to MySQL, and without
	// RabbitMQ events wait in the outbox; neither should take the pod out.
	httpOpts.ReadyChecks = []httpserver.Check{{Name: "mysql", Probe: s.db.PingContext}}
	httpOpts.OpenAPISpec = api.Spec
	s.HTTP = httpserver.New(httpOpts)
	if err := httpport.Register(s.HTTP.App, s.App, s.verifier); err != nil {
		return nil, err
	}
	return s, nil
}

// Serve answers HTTP on ln and runs the outbox relay, the event consumer and
// the JWKS refresher until ctx ends; then it drains HTTP, stops the
// background work and closes every connection.
func (s *Service) Serve(ctx context.Context, ln net.Listener) error {
	defer s.Close()
	// Fetch the JWKS before the first request rather than racing it: a
	// request whose lazy fetch meets the refresher's in-flight fetch, with
	// no keys yet, is rate limited and answered 503. A failure here is
	// fine (the account service may start later); requests fetch lazily.
	fctx, cancel := context.WithTimeout(ctx, auth.DefaultFetchTimeout)
	_ = s.verifier.Refresh(fctx)
	cancel()
	bg, stop := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Go(func() { _ = s.relay.Run(bg) })
	wg.Go(func() { _ = s.verifier.Run(bg) })
	wg.Go(func() {
		// Start waits for the first connection, but the consumer keeps
		// (re)connecting on its own whatever Start returns: a broker that is
		// down delays the events, never HTTP, hence the goroutine.
		if err := s.consumer.Start(bg); err != nil && bg.Err() == nil {
			s.log.Error("event consumer did not start", "err", err)
		}
	})
	err := s.HTTP.Serve(ctx, ln)
	// Requests have drained: their events are in the outbox, and the relay
	// may stop (the next start publishes whatever is left).
	stop()
	// Handlers in flight finish, commit and drop their stale cache keys
	// while MySQL and Redis are still open; unstarted deliveries go back to
	// the queue.
	_ = s.consumer.Close()
	wg.Wait()
	return err
}

// Close releases every connection. Serve calls it; call it yourself only
// when Serve was never called.
func (s *Service) Close() {
	s.closeOnce.Do(func() {
		if s.consumer != nil {
			_ = s.consumer.Close()
		}
		if s.publisher != nil {
			_ = s.publisher.Close()
		}
		if s.cache != nil {
			s.cache.Close()
		}
		if s.closeBoards != nil {
			s.closeBoards()
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
