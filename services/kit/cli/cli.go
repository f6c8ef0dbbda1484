// Package cli is the command line every service shares: a subcommand
// (`serve` by default), a context cancelled on SIGINT or SIGTERM, and the
// error printed as "<name>: <error>" with exit status 1.
package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
)

// Default is the subcommand run when none is named.
const Default = "serve"

// Command is one subcommand; ctx ends on SIGINT or SIGTERM.
type Command func(ctx context.Context) error

// Main runs the subcommand named by the first argument and exits with status
// 1, after printing "<name>: <error>" to stderr, if it fails.
func Main(name string, cmds map[string]Command) {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err := Run(ctx, name, os.Args[1:], os.Stdout, cmds)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		os.Exit(1)
	}
}

// Run runs the subcommand args[0] (Default when args is empty) with ctx. It
// refuses further arguments and unknown subcommands, and prints the usage to
// stdout for help, -h and --help.
func Run(ctx context.Context, name string, args []string, stdout io.Writer, cmds map[string]Command) error {
	cmd := Default
	if len(args) > 0 {
		cmd = args[0]
	}
	if len(args) > 1 {
		return fmt.Errorf("unexpected arguments after %q: %q", cmd, args[1:])
	}
	names := commandNames(cmds)
	switch cmd {
	case "-h", "--help", "help":
		_, err := fmt.Fprintf(stdout, "usage: %s [%s]  (configuration: environment variables, see docs/conventions.md)\n",
			name, strings.Join(names, "|"))
		return err
	}
	run, ok := cmds[cmd]
	if !ok {
		return fmt.Errorf("unknown command %q (want %s)", cmd, strings.Join(names, " or "))
	}
	return run(ctx)
}

// commandNames lists the subcommands, Default first, the others sorted.
func commandNames(cmds map[string]Command) []string {
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		if n != Default {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	if _, ok := cmds[Default]; ok {
		names = slices.Insert(names, 0, Default)
	}
	return names
}

// Server is a service ready to answer on a listener.
type Server interface {
	// Serve answers on ln until ctx ends, then releases everything.
	Serve(ctx context.Context, ln net.Listener) error
	// Close releases everything when Serve will not be called.
	Close()
}

// Listen listens on addr and runs srv.Serve there until ctx ends, logging
// the address (and attrs) once listening; srv is closed if addr is taken.
func Listen(ctx context.Context, log *slog.Logger, addr string, srv Server, attrs ...any) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		srv.Close()
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	log.Info("listening", append([]any{"addr", ln.Addr().String()}, attrs...)...)
	return srv.Serve(ctx, ln)
}
