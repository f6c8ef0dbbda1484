package e2e

import (
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// proxy forwards TCP connections from a fixed local address to target. Cut
// closes the listener and every connection through it, so the services see
// both a dropped connection and a refused reconnect, as when the broker goes
// away; Restore listens on the same address again.
type proxy struct {
	target string
	addr   string // fixed for the proxy's life: the services were told it

	mu    sync.Mutex
	ln    net.Listener // nil while cut
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup // accept loops and copiers
}

func startProxy(t testing.TB, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("proxy: %v", err)
	}
	p := &proxy{target: target, addr: ln.Addr().String(), conns: map[net.Conn]struct{}{}}
	p.serve(ln)
	t.Cleanup(p.Cut)
	return p
}

// Addr is host:port to give the services.
func (p *proxy) Addr() string { return p.addr }

// Cut stops forwarding: the listener closes (new connections are refused)
// and every open connection is dropped. It returns once nothing of the
// proxy runs any more.
func (p *proxy) Cut() {
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

// Restore listens on the proxy's address again. The port was just released,
// so binding it again normally succeeds at once; a few retries cover a slow
// kernel, and failing after them fails the test.
func (p *proxy) Restore(t testing.TB) {
	t.Helper()
	var err error
	for range 50 {
		var ln net.Listener
		ln, err = net.Listen("tcp", p.addr)
		if err == nil {
			p.serve(ln)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("proxy: listen again on %s: %v", p.addr, err)
}

func (p *proxy) serve(ln net.Listener) {
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

// forward connects c to the target unless the proxy was cut meanwhile.
func (p *proxy) forward(ln net.Listener, c net.Conn) {
	up, err := net.DialTimeout("tcp", p.target, 10*time.Second)
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
	done := func() {
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

// String is for messages.
func (p *proxy) String() string { return fmt.Sprintf("proxy %s→%s", p.addr, p.target) }
