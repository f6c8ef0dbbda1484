package httpserver

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"
)

// ipServer is a server answering GET /ip with ClientIP, logging into logs.
func ipServer(t *testing.T, trusted ...string) (*Server, *bytes.Buffer) {
	t.Helper()
	var prefixes []netip.Prefix
	for _, p := range trusted {
		prefixes = append(prefixes, netip.MustParsePrefix(p))
	}
	logs := &bytes.Buffer{}
	s := New(Options{
		Service:        "test",
		Logger:         slog.New(slog.NewJSONHandler(logs, nil)),
		TrustedProxies: prefixes,
	})
	s.App.Get("/ip", func(c *fiber.Ctx) error { return c.SendString(ClientIP(c)) })
	return s, logs
}

// serveFrom runs one GET /ip through the app's real request path (Fiber's
// handler on a fasthttp request context) as if it came over a connection
// from peer, with one X-Forwarded-For header line per xff.
func serveFrom(t *testing.T, app *fiber.App, peer string, xff ...string) string {
	t.Helper()
	var req fasthttp.Request
	req.Header.SetMethod(fiber.MethodGet)
	req.SetRequestURI("/ip")
	for _, v := range xff {
		req.Header.Add(fiber.HeaderXForwardedFor, v)
	}
	var ctx fasthttp.RequestCtx
	ctx.Init(&req, net.TCPAddrFromAddrPort(netip.MustParseAddrPort(peer)), nil)
	app.Handler()(&ctx)
	if code := ctx.Response.StatusCode(); code != http.StatusOK {
		t.Fatalf("GET /ip from %s: %d %s", peer, code, ctx.Response.Body())
	}
	return string(ctx.Response.Body())
}

// The trusted proxies of TestClientIP: a pod network, a single load balancer
// address, an IPv6 range, and an IPv4-mapped IPv6 prefix (172.16.0.0/12).
var testTrusted = []string{"10.0.0.0/8", "192.168.1.1/32", "2001:db8:1::/48", "::ffff:172.16.0.0/108"}

func TestClientIP(t *testing.T) {
	t.Parallel()
	const (
		proxy  = "10.0.0.2:50000" // a trusted peer
		client = "198.51.100.1"   // the real client
	)
	for _, tc := range []struct {
		name    string
		trusted bool // testTrusted, else none
		peer    string
		xff     []string
		want    string
	}{
		// No proxy trusted: the peer, whatever the header says.
		{"no trust, no header", false, "203.0.113.5:1234", nil, "203.0.113.5"},
		{"no trust, forged header", false, "203.0.113.5:1234", []string{client}, "203.0.113.5"},
		{"no trust, peer in a usual proxy range", false, proxy, []string{client}, "10.0.0.2"},

		// Untrusted peer: the header is ignored (spoofing).
		{"untrusted peer spoofs", true, "203.0.113.5:1234", []string{client}, "203.0.113.5"},
		{"untrusted peer claims a proxy chain", true, "203.0.113.5:1234", []string{"1.2.3.4, 10.1.1.1"}, "203.0.113.5"},
		{"untrusted IPv6 peer", true, "[2001:db8:9::5]:443", []string{client}, "2001:db8:9::5"},

		// Trusted peer.
		{"trusted peer, no header", true, proxy, nil, "10.0.0.2"},
		{"trusted peer, empty header", true, proxy, []string{""}, "10.0.0.2"},
		{"one hop", true, proxy, []string{client}, client},
		{"spoofed left entry", true, proxy, []string{"1.2.3.4, " + client}, client},
		{"spoofed proxy address on the left", true, proxy, []string{"10.1.1.1, " + client}, client},
		{"chain of trusted proxies", true, proxy, []string{"1.2.3.4, " + client + ", 10.1.1.1, 192.168.1.1"}, client},
		{"single trusted address", true, "192.168.1.1:80", []string{"1.2.3.4, " + client}, client},
		{"address next to the single one is not trusted", true, "192.168.1.1:80", []string{"1.2.3.4, " + client + ", 192.168.1.2"}, "192.168.1.2"},
		{"spaces and tabs", true, proxy, []string{" \t1.2.3.4 ,\t" + client + " \t"}, client},
		{"empty elements", true, proxy, []string{"1.2.3.4,, " + client + " , ,10.1.1.1,"}, client},

		// Several header lines are one list, in order.
		{"lines: client in the last", true, proxy, []string{"1.2.3.4", client}, client},
		{"lines: client in the first, proxy in the last", true, proxy, []string{"1.2.3.4, " + client, "10.1.1.1"}, client},
		{"lines: proxies across lines", true, proxy, []string{"1.2.3.4", client + ", 10.1.1.1", "10.2.2.2, 192.168.1.1"}, client},

		// Everything trusted: the leftmost entry, the address the first proxy saw.
		{"all trusted", true, proxy, []string{"10.5.5.5, 10.1.1.1"}, "10.5.5.5"},
		{"all trusted across lines", true, proxy, []string{"10.5.5.5", "10.1.1.1"}, "10.5.5.5"},

		// Garbage ends the walk at the last address accepted, never left of it.
		{"garbage only", true, proxy, []string{"unknown"}, "10.0.0.2"},
		{"garbage after the client", true, proxy, []string{"1.2.3.4, not-an-ip"}, "10.0.0.2"},
		{"garbage hides a spoof", true, proxy, []string{"1.2.3.4, garbage, 10.1.1.1"}, "10.1.1.1"},
		{"garbage left of the client", true, proxy, []string{"garbage, " + client}, client},
		{"garbage line left of the client", true, proxy, []string{"%%%", client}, client},
		{"prefix is not an address", true, proxy, []string{"198.51.100.0/24"}, "10.0.0.2"},
		{"oversized", true, proxy, []string{strings.Repeat("9", 300)}, "10.0.0.2"},

		// Address forms.
		{"entry with a port", true, proxy, []string{client + ":4711"}, client},
		{"IPv6 entry", true, proxy, []string{"2001:db8:2::7"}, "2001:db8:2::7"},
		{"bracketed IPv6 entry", true, proxy, []string{"[2001:db8:2::7]"}, "2001:db8:2::7"},
		{"bracketed IPv6 entry with a port", true, proxy, []string{"[2001:db8:2::7]:8080"}, "2001:db8:2::7"},
		{"IPv6 entry with a zone", true, proxy, []string{"fe80::1%eth0"}, "fe80::1"},
		{"IPv4-mapped entry", true, proxy, []string{"::ffff:" + client}, client},
		{"IPv4-mapped proxy entry is trusted", true, proxy, []string{client + ", ::ffff:10.1.1.1"}, client},
		{"IPv6 trusted peer", true, "[2001:db8:1::5]:443", []string{"1.2.3.4, 2001:db8:2::7, 2001:db8:1::9"}, "2001:db8:2::7"},
		{"IPv4-mapped trusted peer", true, "[::ffff:10.0.0.2]:1", []string{client}, client},
		{"IPv4-mapped untrusted peer", true, "[::ffff:203.0.113.5]:1", []string{client}, "203.0.113.5"},
		{"zoned peer", true, "[fe80::1%eth0]:1", []string{client}, "fe80::1"},
		{"peer in the IPv4-mapped prefix", true, "172.16.3.3:1", []string{client}, client},
		{"peer outside the IPv4-mapped prefix", true, "172.32.0.1:1", []string{client}, "172.32.0.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var s *Server
			if tc.trusted {
				s, _ = ipServer(t, testTrusted...)
			} else {
				s, _ = ipServer(t)
			}
			if got := serveFrom(t, s.App, tc.peer, tc.xff...); got != tc.want {
				t.Errorf("peer %s, X-Forwarded-For %q: ClientIP = %q, want %q", tc.peer, tc.xff, got, tc.want)
			}
		})
	}
}

// Outside an app New built (no trusted proxies known), ClientIP is the peer.
func TestClientIPOnAForeignApp(t *testing.T) {
	t.Parallel()
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	app.Get("/ip", func(c *fiber.Ctx) error { return c.SendString(ClientIP(c)) })
	if got := serveFrom(t, app, "10.0.0.2:1", "198.51.100.1"); got != "10.0.0.2" {
		t.Fatalf("ClientIP = %q, want the peer", got)
	}
	var ctx fasthttp.RequestCtx // no connection at all: never empty
	c := app.AcquireCtx(&ctx)
	defer app.ReleaseCtx(c)
	if got := ClientIP(c); got != "0.0.0.0" {
		t.Fatalf("ClientIP without a connection = %q", got)
	}
}

func TestTrustedProxiesNormalised(t *testing.T) {
	t.Parallel()
	tp := newTrustedProxies([]netip.Prefix{
		{}, // invalid: dropped
		netip.MustParsePrefix("10.1.2.3/16"),
		netip.MustParsePrefix("::ffff:192.0.2.0/120"),
		netip.MustParsePrefix("2001:db8::1/128"),
	})
	want := []netip.Prefix{
		netip.MustParsePrefix("10.1.0.0/16"),
		netip.MustParsePrefix("192.0.2.0/24"),
		netip.MustParsePrefix("2001:db8::1/128"),
	}
	if tp == nil || len(tp.prefixes) != len(want) {
		t.Fatalf("prefixes %v, want %v", tp, want)
	}
	for i := range want {
		if tp.prefixes[i] != want[i] {
			t.Errorf("prefix %d = %s, want %s", i, tp.prefixes[i], want[i])
		}
	}
	if newTrustedProxies(nil) != nil || newTrustedProxies([]netip.Prefix{{}}) != nil {
		t.Error("no valid prefix should give no trust")
	}
}

// The access log's "remote" is ClientIP, not the proxy.
func TestAccessLogRemoteIsTheClient(t *testing.T) {
	t.Parallel()
	s, logs := ipServer(t, "10.0.0.0/8")
	serveFrom(t, s.App, "10.0.0.2:1", "1.2.3.4, 198.51.100.1")
	serveFrom(t, s.App, "203.0.113.5:1", "198.51.100.1")
	var remotes []string
	for _, line := range bytes.Split(bytes.TrimSpace(logs.Bytes()), []byte("\n")) {
		var rec struct {
			Msg    string `json:"msg"`
			Remote string `json:"remote"`
		}
		if err := json.Unmarshal(line, &rec); err != nil {
			t.Fatalf("log line %s: %v", line, err)
		}
		if rec.Msg == "request" {
			remotes = append(remotes, rec.Remote)
		}
	}
	if strings.Join(remotes, " ") != "198.51.100.1 203.0.113.5" {
		t.Fatalf("access log remotes %q, want [198.51.100.1 203.0.113.5]", remotes)
	}
}

// Over a real TCP connection from 127.0.0.1: trusted, the forwarded client;
// not trusted, the peer.
func TestClientIPOverRealConnection(t *testing.T) {
	for _, tc := range []struct {
		name    string
		trusted []string
		want    string
	}{
		{"loopback trusted", []string{"127.0.0.1/32"}, "198.51.100.1"},
		{"other proxies trusted", []string{"10.0.0.0/8"}, "127.0.0.1"},
		{"none trusted", nil, "127.0.0.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := ipServer(t, tc.trusted...)
			addr, _ := serve(t, s)
			req, err := http.NewRequest(http.MethodGet, "http://"+addr+"/ip", nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Add("X-Forwarded-For", "1.2.3.4, 198.51.100.1")
			client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || string(body) != tc.want {
				t.Fatalf("GET /ip: %d %q, want %q", resp.StatusCode, body, tc.want)
			}
		})
	}
}
