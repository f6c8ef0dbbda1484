package httpserver

import (
	"bytes"
	"net/netip"

	"github.com/gofiber/fiber/v2"
)

// ClientIP returns the address of the client that sent c's request, as text
// (IPv4 dotted, IPv6 without zone; IPv4-mapped IPv6 addresses are given as
// IPv4). It is never empty: when nothing better is known it is the TCP peer,
// and "0.0.0.0" when even that is unknown (a Unix socket).
//
// The TCP peer is the answer unless it is one of Options.TrustedProxies. Only
// then is X-Forwarded-For read, every line of it, entry by entry from the
// right, the end trusted proxies append to: entries that are themselves
// trusted proxies are passed over, and the first one that is not is the
// client. So a client that writes its own X-Forwarded-For cannot choose its
// address: what it wrote is to the left of the address the first trusted proxy
// appended for it, where the walk has stopped already.
//
// When the walk runs out without meeting an untrusted address (every entry is
// a trusted proxy: a request from inside the trusted network), the client is
// the leftmost entry, the address the first proxy in the chain saw, or the peer
// when the header is absent. An entry that is not an address (garbage,
// "unknown") also ends the walk, with the same answer: the last address
// accepted, or the peer. Entries may carry a port ("192.0.2.1:4711",
// "[2001:db8::1]:4711"); empty entries are ignored.
//
// On an app that New did not build, or with no trusted proxies, ClientIP is
// the TCP peer.
//
// Fiber's own ProxyHeader setting is not used: with it, c.IP() is the
// header's leftmost entry, which the client writes itself.
func ClientIP(c *fiber.Ctx) string {
	return clientAddr(c).String()
}

// trustedProxiesKey is the Locals key under which observe leaves the server's
// trusted proxies for ClientIP.
type trustedProxiesKey struct{}

func clientAddr(c *fiber.Ctx) netip.Addr {
	peer := peerAddr(c)
	t, _ := c.Locals(trustedProxiesKey{}).(*trustedProxies)
	if !t.contains(peer) {
		return peer
	}
	return t.forwardedClient(c.Request().Header.PeekAll(fiber.HeaderXForwardedFor), peer)
}

// peerAddr is the TCP peer of the connection.
func peerAddr(c *fiber.Ctx) netip.Addr {
	if a, ok := netip.AddrFromSlice(c.Context().RemoteIP()); ok {
		return normalizeAddr(a)
	}
	return netip.IPv4Unspecified()
}

func normalizeAddr(a netip.Addr) netip.Addr { return a.Unmap().WithZone("") }

// trustedProxies is the set of addresses whose X-Forwarded-For is believed.
type trustedProxies struct{ prefixes []netip.Prefix }

// newTrustedProxies normalises ps (IPv4-mapped IPv6 prefixes become IPv4 ones,
// host bits are cleared; invalid prefixes are dropped); nil when none is left.
func newTrustedProxies(ps []netip.Prefix) *trustedProxies {
	var out []netip.Prefix
	for _, p := range ps {
		if !p.IsValid() {
			continue
		}
		a, bits := p.Addr(), p.Bits()
		if a.Is4In6() && bits >= 96 {
			a, bits = a.Unmap(), bits-96
		}
		out = append(out, netip.PrefixFrom(a, bits).Masked())
	}
	if len(out) == 0 {
		return nil
	}
	return &trustedProxies{prefixes: out}
}

func (t *trustedProxies) contains(a netip.Addr) bool {
	if t == nil {
		return false
	}
	for _, p := range t.prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// forwardedClient walks the X-Forwarded-For lines from the right (see
// ClientIP); peer is the trusted proxy the request came from.
func (t *trustedProxies) forwardedClient(lines [][]byte, peer netip.Addr) netip.Addr {
	client := peer
	for i := len(lines) - 1; i >= 0; i-- {
		line := lines[i]
		for len(line) > 0 {
			var entry []byte
			if j := bytes.LastIndexByte(line, ','); j >= 0 {
				entry, line = line[j+1:], line[:j]
			} else {
				entry, line = line, nil
			}
			entry = bytes.TrimSpace(entry)
			if len(entry) == 0 {
				continue // RFC 9110 5.6.1: empty list elements are ignored
			}
			a, ok := parseForwardedAddr(string(entry))
			if !ok {
				return client
			}
			if !t.contains(a) {
				return a
			}
			client = a
		}
	}
	return client
}

// parseForwardedAddr parses one X-Forwarded-For entry: an address, possibly
// in brackets, possibly with a port.
func parseForwardedAddr(s string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(s); err == nil {
		return normalizeAddr(a), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return normalizeAddr(ap.Addr()), true
	}
	if n := len(s); n > 2 && s[0] == '[' && s[n-1] == ']' {
		if a, err := netip.ParseAddr(s[1 : n-1]); err == nil && a.Is6() {
			return normalizeAddr(a), true
		}
	}
	return netip.Addr{}, false
}
