// Command account is the account service.
//
//	account [serve]   answer HTTP on HTTP_ADDR (default)
//	account migrate   create the database if needed and apply migrations
//
// Configuration comes from the environment (docs/conventions.md).
package main

import (
	"context"
	"os"
	"time"

	"github.com/progressive-overload/po/services/kit/cli"
	"github.com/progressive-overload/po/services/kit/config"
	"github.com/progressive-overload/po/services/kit/logging"
	"github.com/progressive-overload/po/services/kit/tracing"

	"github.com/progressive-overload/po/services/account/internal/service"
)

// version is set at build time (-ldflags "-X main.version=..."); traces
// carry it as service.version.
var version = "dev"

func main() {
	cli.Main(service.Name, map[string]cli.Command{"serve": serve, "migrate": migrate})
}

func serve(ctx context.Context) error {
	cfg, err := service.LoadConfig(config.FromEnviron())
	if err != nil {
		return err
	}
	// Flushed when Listen returns: after the drain, so the shutdown's own
	// lines are written too.
	out := logging.NewBuffered(os.Stdout, cfg.LogFlushInterval)
	defer out.Close()
	log := logging.New(out, service.Name, cfg.LogLevel, cfg.LogFormat)
	// Before the service is built: its parts decide then whether to trace.
	stopTracing, err := tracing.Setup(ctx, service.Name, version)
	if err != nil {
		return err
	}
	// After the drain (Listen returns once requests and handlers are done),
	// so their last spans are flushed too.
	defer func() {
		fctx, cancel := context.WithTimeout(context.Background(), tracing.ShutdownTimeout)
		defer cancel()
		if err := stopTracing(fctx); err != nil {
			log.Warn("traces not flushed", "error", err)
		}
	}()
	startCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	svc, err := service.New(startCtx, cfg, service.Options{Logger: log})
	cancel()
	if err != nil {
		return err
	}
	return cli.Listen(ctx, log, cfg.HTTPAddr, svc, "version", version, "tracing", tracing.Enabled())
}

func migrate(ctx context.Context) error {
	cfg, err := service.LoadMigrateConfig(config.FromEnviron())
	if err != nil {
		return err
	}
	log := logging.New(os.Stdout, service.Name, cfg.LogLevel, cfg.LogFormat)
	n, err := service.Migrate(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	log.Info("migrations applied", "count", n)
	return nil
}
