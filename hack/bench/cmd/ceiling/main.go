// Command bench-ceiling serves the benchmark's ceilings (see package
// ceiling): the most any service could do on this machine. The bench tool
// starts it; by hand:
//
//	bench-ceiling -addr 127.0.0.1:3102 -body-file page.json \
//	  -mysql 'root@tcp(127.0.0.1:3306)/po_bench_challenge' -redis redis://127.0.0.1:6379/0
package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	_ "github.com/go-sql-driver/mysql"
	"github.com/redis/go-redis/v9"

	"github.com/progressive-overload/po/hack/bench/ceiling"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench-ceiling:", err)
		os.Exit(1)
	}
}

func run() error {
	addr := flag.String("addr", "127.0.0.1:3102", "listen address")
	bodyFile := flag.String("body-file", "", "the fixed body (default: a synthetic page of -page-size logs)")
	dsn := flag.String("mysql", "", "go-sql-driver DSN of the challenge database (empty: /mysql answers 503)")
	redisURL := flag.String("redis", "", "Redis URL (empty: /redis answers 503)")
	prefix := flag.String("redis-prefix", "po:bench:ceiling:", "key prefix of the Redis bodies (prefix + user id)")
	pageSize := flag.Int("page-size", 20, "rows per MySQL page")
	conns := flag.Int("mysql-conns", 64, "MySQL pool size (the services use 64)")
	interpolate := flag.Bool("interpolate", true, "interpolate query arguments client-side (one round trip per query instead of prepare, execute, close)")
	flag.Parse()

	body := ceiling.SamplePage(1, *pageSize)
	if *bodyFile != "" {
		b, err := os.ReadFile(*bodyFile)
		if err != nil {
			return err
		}
		body = b
	}
	cfg := ceiling.Config{Body: body, RedisPrefix: *prefix, PageSize: *pageSize}
	if *redisURL != "" {
		opts, err := redis.ParseURL(*redisURL)
		if err != nil {
			return err
		}
		cfg.Redis = redis.NewClient(opts)
		defer cfg.Redis.Close()
	}
	if *dsn != "" {
		params := "parseTime=true&loc=UTC"
		if *interpolate {
			params += "&interpolateParams=true"
		}
		db, err := sql.Open("mysql", *dsn+sep(*dsn)+params)
		if err != nil {
			return err
		}
		db.SetMaxOpenConns(*conns)
		db.SetMaxIdleConns(*conns)
		db.SetConnMaxLifetime(5 * time.Minute)
		defer db.Close()
		cfg.DB = db
	}
	app := ceiling.New(cfg)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- app.Listen(*addr) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		return app.ShutdownWithTimeout(5 * time.Second)
	}
}

// sep is what goes before more DSN parameters.
func sep(dsn string) string {
	for i := 0; i < len(dsn); i++ {
		if dsn[i] == '?' {
			return "&"
		}
	}
	return "?"
}
