// Command account is the account service.
//
//	account [serve]   answer HTTP on HTTP_ADDR (default)
//	account migrate   create the database if needed and apply migrations
//
// Configuration comes from the environment (docs/conventions.md).
package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/progressive-overload/po/services/kit/config"
	"github.com/progressive-overload/po/services/kit/logging"

	"github.com/progressive-overload/po/services/account/internal/service"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "account:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	cmd := "serve"
	if len(args) > 0 {
		cmd = args[0]
	}
	if len(args) > 1 {
		return fmt.Errorf("unexpected arguments after %q: %q", cmd, args[1:])
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	switch cmd {
	case "serve":
		cfg, err := service.LoadConfig(config.FromEnviron())
		if err != nil {
			return err
		}
		log := logging.New(os.Stdout, service.Name, cfg.LogLevel, cfg.LogFormat)
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
		log.Info("listening", "addr", ln.Addr().String())
		return svc.Serve(ctx, ln)
	case "migrate":
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
	case "-h", "--help", "help":
		fmt.Println("usage: account [serve|migrate]  (configuration: environment variables, see docs/conventions.md)")
		return nil
	default:
		return errors.New("unknown command " + fmt.Sprintf("%q", cmd) + " (want serve or migrate)")
	}
}
