package cli_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"

	"github.com/progressive-overload/po/services/kit/cli"
)

func TestRunDispatches(t *testing.T) {
	var ran []string
	cmds := map[string]cli.Command{
		"serve":   func(context.Context) error { ran = append(ran, "serve"); return nil },
		"migrate": func(context.Context) error { ran = append(ran, "migrate"); return errors.New("boom") },
	}
	ctx := t.Context()
	var out bytes.Buffer
	if err := cli.Run(ctx, "svc", nil, &out, cmds); err != nil {
		t.Fatal(err)
	}
	if err := cli.Run(ctx, "svc", []string{"migrate"}, &out, cmds); err == nil || err.Error() != "boom" {
		t.Errorf("migrate: %v, want its error", err)
	}
	if strings.Join(ran, ",") != "serve,migrate" {
		t.Errorf("ran %v, want serve then migrate", ran)
	}
	err := cli.Run(ctx, "svc", []string{"nope"}, &out, cmds)
	if err == nil || err.Error() != `unknown command "nope" (want serve or migrate)` {
		t.Errorf("unknown command: %v", err)
	}
	err = cli.Run(ctx, "svc", []string{"serve", "x"}, &out, cmds)
	if err == nil || !strings.Contains(err.Error(), "unexpected arguments") {
		t.Errorf("extra arguments: %v", err)
	}
	if err := cli.Run(ctx, "svc", []string{"--help"}, &out, cmds); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "usage: svc [serve|migrate]") {
		t.Errorf("usage %q", out.String())
	}
	if len(ran) != 2 {
		t.Errorf("ran %v after errors and help, want nothing more", ran)
	}
}

type server struct {
	served, closed bool
}

func (s *server) Serve(ctx context.Context, ln net.Listener) error {
	s.served = true
	return ln.Close()
}

func (s *server) Close() { s.closed = true }

func TestListen(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	var s server
	if err := cli.Listen(t.Context(), log, "127.0.0.1:0", &s); err != nil || !s.served || s.closed {
		t.Errorf("err %v served %v closed %v, want served", err, s.served, s.closed)
	}
	var bad server
	if err := cli.Listen(t.Context(), log, "256.0.0.1:0", &bad); err == nil || bad.served || !bad.closed {
		t.Errorf("err %v served %v closed %v, want an error and closed", err, bad.served, bad.closed)
	}
}
