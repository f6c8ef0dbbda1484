// Package netproxy is a TCP proxy for tests that simulate a network outage:
// it forwards every connection to a real server, and Cut and Restore take it
// down and bring it back on the same address, as a client sees a server or a
// network going away and coming back.
//
// It uses only the standard library, so any test package may import it.
package netproxy

import (
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

const (
	// dialTimeout bounds connecting to the target, and so how long Cut can
	// wait for an accept in progress.
	dialTimeout = 10 * time.Second
	// restoreWait is how long Restore retries binding the address again.
	restoreWait = 5 * time.Second
)

// Proxy forwards TCP connections from a fixed local address to a target.
type Proxy struct {
	target string
	addr   string // fixed for the proxy's life: clients were told it

	mu    sync.Mutex
	ln    net.Listener // nil while cut
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup // the accept loop and the copiers
}

// Start listens on 127.0.0.1 on a free port and forwards each connection to
// target. The proxy is cut when the test ends, and every goroutine it started
// has ended by then.
func Start(tb testing.TB, target string) *Proxy {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("netproxy: listen: %v", err)
	}
	p := &Proxy{target: target, addr: ln.Addr().String(), conns: map[net.Conn]struct{}{}}
	p.serve(ln)
	tb.Cleanup(p.Cut)
	return p
}

// Addr is the proxy's host:port, the same for its whole life.
func (p *Proxy) Addr() string { return p.addr }

// String is for messages.
func (p *Proxy) String() string { return fmt.Sprintf("proxy %s→%s", p.addr, p.target) }

// Cut is an outage: the listener closes, so new connections are refused, and
// every open connection is closed on both sides. It returns once none of the
// proxy's goroutines runs any more. Cutting a cut proxy does nothing.
func (p *Proxy) Cut() {
	p.mu.Lock()
	if p.ln != nil {
		_ = p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		_ = c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// Restore ends an outage: the proxy listens on its address again and forwards
// new connections. The port was released by Cut; binding it again is retried
// for a few seconds in case the kernel is slow to let it go, and failing after
// that fails the test. Restore must be called from the test's goroutine, on a
// cut proxy.
func (p *Proxy) Restore(tb testing.TB) {
	tb.Helper()
	p.mu.Lock()
	up := p.ln != nil
	p.mu.Unlock()
	if up {
		tb.Fatalf("netproxy: Restore of %s, which is not cut", p)
	}
	deadline := time.Now().Add(restoreWait)
	for {
		ln, err := net.Listen("tcp", p.addr)
		if err == nil {
			p.serve(ln)
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("netproxy: listen again on %s: %v", p.addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (p *Proxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.wg.Add(1)
	p.mu.Unlock()
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return // closed by Cut
			}
			p.forward(ln, c)
		}
	}()
}

// forward connects c to the target unless the proxy was cut meanwhile; a
// connection that cannot reach the target is closed.
func (p *Proxy) forward(ln net.Listener, c net.Conn) {
	up, err := net.DialTimeout("tcp", p.target, dialTimeout)
	if err != nil {
		_ = c.Close()
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != ln { // cut while dialling
		_ = c.Close()
		_ = up.Close()
		return
	}
	p.conns[c] = struct{}{}
	p.conns[up] = struct{}{}
	p.wg.Add(2)
	var once sync.Once
	done := func() { // either direction ending ends both
		once.Do(func() {
			_ = c.Close()
			_ = up.Close()
			p.mu.Lock()
			delete(p.conns, c)
			delete(p.conns, up)
			p.mu.Unlock()
		})
	}
	pipe := func(dst, src net.Conn) {
		defer p.wg.Done()
		_, _ = io.Copy(dst, src)
		done()
	}
	go pipe(up, c)
	go pipe(c, up)
}
