// Package redisclient builds the go-redis client that a REDIS_URL names: one
// Redis server, a Redis Cluster, or a primary that Redis Sentinel watches and
// fails over. Both services get their client here, so that they read
// REDIS_URL the same way and the client behaves the same in each.
//
// The scheme names the deployment, so a URL never means two things:
//
//	redis://[user:pass@]host:port[/db][?opts]                   one server (rediss: TLS)
//	redis+cluster://[user:pass@]host:port[?addr=host:port...]   Redis Cluster seed nodes
//	redis+sentinel://[suser:spass@]host:port[/db]?master_name=M[&addr=host:port...][&password=P]
//
// Each takes a TLS variant (rediss+cluster, rediss+sentinel). The rest of
// the URL is go-redis' own: redis.ParseURL, redis.ParseClusterURL and
// redis.ParseFailoverURL, after the "+cluster" or "+sentinel" is taken off
// the scheme. For Sentinel, the user and password in front of the host are
// the sentinels' and the query's username and password the primary's, as in
// go-redis. A cluster has only database 0, so a cluster URL with another
// database is refused rather than silently ignored.
package redisclient

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/redis/go-redis/extra/redisotel/v9"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel"

	"github.com/progressive-overload/po/services/kit/tracing"
)

// Schemes are the URL schemes New accepts; kit/platform checks REDIS_URL
// against them.
var Schemes = []string{"redis", "rediss", "redis+cluster", "rediss+cluster", "redis+sentinel", "rediss+sentinel"}

// Options tune what the URL does not say.
type Options struct {
	// DialerRetries is how often a failed dial is retried; 0 keeps go-redis'
	// default (5). The account service dials once: its login throttle has a
	// memory fallback and should not spend its timeout on redials.
	DialerRetries int
}

// New returns the client rawURL names (see the package comment), configured
// the way the services use Redis: context deadlines bound socket reads too
// (or a timeout could not cut off a Redis that stopped answering), RESP2
// (see apply), and a failed command is not retried (the caller falls back at once instead of
// spending its budget on a Redis that just failed). A cluster still follows
// MOVED and ASK redirects (max_redirects, default 3): those are the cluster
// telling the client where a slot lives, not a failure.
//
// New does not contact Redis. Errors never repeat the URL, which may hold a
// password.
func New(rawURL string, o Options) (redis.UniversalClient, error) {
	rdb, err := newClient(rawURL, o)
	if err != nil {
		return nil, err
	}
	if tracing.Enabled() {
		// go-redis' own instrumentation: a span per command or pipeline,
		// without the arguments (keys hold user ids; values, tokens), and
		// only inside a trace under way: the near tier's subscriber and the
		// login throttle's housekeeping open none of their own.
		err := redisotel.InstrumentTracing(rdb,
			redisotel.WithTracerProvider(tracing.ChildOnly(otel.GetTracerProvider())),
			redisotel.WithDBStatement(false),
			redisotel.WithCallerEnabled(false))
		if err != nil {
			_ = rdb.Close()
			return nil, fmt.Errorf("tracing redis: %w", err)
		}
	}
	return rdb, nil
}

func newClient(rawURL string, o Options) (redis.UniversalClient, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, errors.New("not a URL")
	}
	base, kind, _ := strings.Cut(u.Scheme, "+")
	if base != "redis" && base != "rediss" {
		return nil, fmt.Errorf("scheme %q is not one of %s", u.Scheme, strings.Join(Schemes, ", "))
	}
	plain := *u
	plain.Scheme = base
	switch kind {
	case "":
		opts, err := redis.ParseURL(plain.String())
		if err != nil {
			return nil, err
		}
		o.apply(&opts.ContextTimeoutEnabled, &opts.MaxRetries, &opts.DialerRetries, &opts.Protocol)
		return redis.NewClient(opts), nil
	case "cluster":
		if db := strings.Trim(u.Path, "/"); db != "" && db != "0" {
			return nil, fmt.Errorf("a Redis Cluster has only database 0, not %q", db)
		}
		plain.Path = ""
		opts, err := redis.ParseClusterURL(plain.String())
		if err != nil {
			return nil, err
		}
		o.apply(&opts.ContextTimeoutEnabled, &opts.MaxRetries, &opts.DialerRetries, &opts.Protocol)
		return redis.NewClusterClient(opts), nil
	case "sentinel":
		opts, err := redis.ParseFailoverURL(plain.String())
		if err != nil {
			return nil, err
		}
		if opts.MasterName == "" {
			return nil, errors.New("a Sentinel URL needs ?master_name=<name of the monitored primary>")
		}
		o.apply(&opts.ContextTimeoutEnabled, &opts.MaxRetries, &opts.DialerRetries, &opts.Protocol)
		return redis.NewFailoverClient(opts), nil
	}
	return nil, fmt.Errorf("scheme %q is not one of %s", u.Scheme, strings.Join(Schemes, ", "))
}

// apply sets what every kind of client shares, on its own options struct.
//
// RESP2 unless the URL asks for another protocol (?protocol=3): on RESP3
// go-redis probes the connection for push notifications before every
// command, about 4% of the cached hot read's CPU in a profile, and nothing
// here uses pushes (the near cache's invalidations come over pub/sub, which
// RESP2 has).
func (o Options) apply(contextTimeout *bool, maxRetries, dialerRetries, protocol *int) {
	*contextTimeout = true
	*maxRetries = -1
	if o.DialerRetries > 0 {
		*dialerRetries = o.DialerRetries
	}
	if *protocol == 0 {
		*protocol = 2
	}
}
