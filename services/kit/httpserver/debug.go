package httpserver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"time"
)

// debugMux serves the Go profiler. It is built by hand rather than by importing
// net/http/pprof for its side effect, which would put the profiler on
// http.DefaultServeMux where any handler built on it could expose it.
func debugMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

// serveDebug answers /debug/pprof/ on ln until ctx ends. The profiler is on a
// listener of its own, never on the API port: a profile costs CPU and reveals
// internals, so it must be reachable only where the operator chose (DEBUG_ADDR,
// typically 127.0.0.1 or a port-forward).
func (s *Server) serveDebug(ctx context.Context, ln net.Listener) {
	srv := &http.Server{
		Handler:           debugMux(),
		ReadHeaderTimeout: 10 * time.Second,
	}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		s.log.Error("debug listener failed", "err", err)
	}
}

// listenDebug opens Options.DebugAddr, if set.
func (s *Server) listenDebug() (net.Listener, error) {
	if s.opts.DebugAddr == "" {
		return nil, nil
	}
	ln, err := net.Listen("tcp", s.opts.DebugAddr)
	if err != nil {
		return nil, fmt.Errorf("listen on DEBUG_ADDR %s: %w", s.opts.DebugAddr, err)
	}
	s.log.Info("profiler listening", "addr", ln.Addr().String(), "path", "/debug/pprof/")
	return ln, nil
}
