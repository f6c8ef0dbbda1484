package netproxy_test

import (
	"bufio"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/progressive-overload/po/services/kit/testkit/netproxy"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// echoServer answers each line with the same line, until the test ends.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	echo := func(c net.Conn) {
		defer wg.Done()
		copied := make(chan struct{})
		go func() { _, _ = io.Copy(c, c); close(copied) }()
		select {
		case <-stop:
		case <-copied:
		}
		_ = c.Close()
		<-copied
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for c, err := ln.Accept(); err == nil; c, err = ln.Accept() {
			wg.Add(1)
			go echo(c)
		}
	}()
	t.Cleanup(func() {
		close(stop)
		_ = ln.Close()
		wg.Wait()
	})
	return ln.Addr().String()
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// roundTrip sends a line and reads the echo.
func roundTrip(c net.Conn, msg string) (string, error) {
	if err := c.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
		return "", err
	}
	if _, err := io.WriteString(c, msg+"\n"); err != nil {
		return "", err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSuffix(line, "\n"), err
}

func TestForwards(t *testing.T) {
	p := netproxy.Start(t, echoServer(t))
	for i, msg := range []string{"hello", "again"} {
		c := dial(t, p.Addr())
		got, err := roundTrip(c, msg)
		if err != nil || got != msg {
			t.Fatalf("connection %d: got %q, %v; want %q", i, got, err, msg)
		}
	}
	if s := p.String(); !strings.Contains(s, p.Addr()) {
		t.Errorf("String() = %q, want it to name %s", s, p.Addr())
	}
}

func TestCutClosesConnectionsAndRefusesNewOnes(t *testing.T) {
	p := netproxy.Start(t, echoServer(t))
	c := dial(t, p.Addr())
	if _, err := roundTrip(c, "before"); err != nil {
		t.Fatal(err)
	}

	p.Cut()
	// The open connection was closed by the proxy: reading ends at once.
	if err := c.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	_, err := c.Read(make([]byte, 1))
	var ne net.Error
	if err == nil || (errors.As(err, &ne) && ne.Timeout()) {
		t.Fatalf("read on a cut connection: %v, want EOF or reset", err)
	}
	// And new connections are refused.
	if c, err := net.DialTimeout("tcp", p.Addr(), 5*time.Second); err == nil {
		_ = c.Close()
		t.Fatal("dial succeeded while cut")
	}
	p.Cut() // a second Cut does nothing
}

func TestRestoreForwardsOnTheSameAddress(t *testing.T) {
	p := netproxy.Start(t, echoServer(t))
	addr := p.Addr()
	for round := range 3 {
		p.Cut()
		p.Restore(t)
		if p.Addr() != addr {
			t.Fatalf("address changed from %s to %s", addr, p.Addr())
		}
		c := dial(t, addr)
		if got, err := roundTrip(c, "after"); err != nil || got != "after" {
			t.Fatalf("round %d: got %q, %v", round, got, err)
		}
	}
}

// A target that refuses connections makes the proxy close what it accepted.
func TestUnreachableTarget(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	target := ln.Addr().String()
	_ = ln.Close()

	p := netproxy.Start(t, target)
	c := dial(t, p.Addr())
	if _, err := roundTrip(c, "nobody"); err == nil {
		t.Fatal("round trip through a proxy to nothing succeeded")
	}
}

// Open connections at the test's end are closed by the proxy's cleanup; goleak
// in TestMain checks that its goroutines are gone.
func TestCleanupEndsEverything(t *testing.T) {
	target := echoServer(t) // registered first, so cleaned up after the proxy
	p := netproxy.Start(t, target)
	for range 5 {
		c, err := net.Dial("tcp", p.Addr())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		if _, err := roundTrip(c, "x"); err != nil {
			t.Fatal(err)
		}
	}
}
