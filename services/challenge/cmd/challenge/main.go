// Command challenge is the challenge service.
//
//	challenge [serve]   answer HTTP on HTTP_ADDR (default)
//	challenge migrate   create the database if needed and apply migrations
//
// Configuration comes from the environment (docs/conventions.md).
package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/progressive-overload/po/services/challenge/internal/service"
	"github.com/progressive-overload/po/services/kit/config"
	"github.com/progressive-overload/po/services/kit/logging"
)

// version is set at build time (-ldflags "-X main.version=...").
var version = "dev"

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "challenge:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	cmd := "serve"
	if len(args) > 0 {
		cmd = args[0]
	}
	cfg, err := service.LoadConfig(config.FromEnviron())
	if err != nil {
		return err
	}
	log := logging.New(os.Stdout, service.Name, cfg.LogLevel, cfg.LogFormat)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	switch cmd {
	case "serve":
		startCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
		svc, err := service.New(startCtx, cfg, service.Options{Logger: log})
		cancel()
		if err != nil {
			return err
		}
		ln, err := net.Listen("tcp", cfg.HTTPAddr)
		if err != nil {
			svc.Close()
			return fmt.Errorf("listen on %s: %w", cfg.HTTPAddr, err)
		}
		log.Info("listening", "addr", ln.Addr().String(), "version", version, "cache", cfg.CacheEnabled)
		return svc.Serve(ctx, ln)
	case "migrate":
		return service.Migrate(ctx, cfg, log)
	default:
		return fmt.Errorf("unknown command %q (want serve or migrate)", cmd)
	}
}
