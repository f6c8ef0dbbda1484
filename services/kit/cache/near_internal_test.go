package cache

import (
	"fmt"
	"testing"
	"time"
)

type nearClock struct{ t time.Time }

func (c *nearClock) now() time.Time { return c.t }

// epoch is what get returns on a miss: the shard's epoch now.
func (n *near) epoch(key string) uint64 {
	s := n.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.epoch
}

func trustedNear(maxBytes int, ttl time.Duration, clock *nearClock) *near {
	n := newNear(maxBytes, ttl, clock.now)
	n.healthy.Store(true)
	return n
}

func TestNearServesUntilItsTTL(t *testing.T) {
	clock := &nearClock{t: time.Unix(1000, 0)}
	n := trustedNear(1<<20, time.Second, clock)
	if !n.put("k", []byte("v"), false, n.epoch("k")) {
		t.Fatal("put refused on a quiet shard")
	}
	if v, nf, ok, _ := n.get("k"); !ok || nf || string(v) != "v" {
		t.Fatalf("get: %q %v %v", v, nf, ok)
	}
	clock.t = clock.t.Add(999 * time.Millisecond)
	if _, _, ok, _ := n.get("k"); !ok {
		t.Fatal("expired before its TTL")
	}
	clock.t = clock.t.Add(time.Millisecond)
	if _, _, ok, _ := n.get("k"); ok {
		t.Fatal("served after its TTL")
	}
	if _, entries := n.size(); entries != 0 {
		t.Fatalf("%d entries after expiry, want the expired one dropped", entries)
	}
}

func TestNearKeepsNotFound(t *testing.T) {
	n := trustedNear(1<<20, time.Second, &nearClock{t: time.Unix(1, 0)})
	n.put("gone", nil, true, n.epoch("gone"))
	if _, nf, ok, _ := n.get("gone"); !ok || !nf {
		t.Fatalf("not found placeholder: nf=%v ok=%v", nf, ok)
	}
}

// The bound holds in bytes, and what goes is the least recently used.
func TestNearEvictsLeastRecentlyUsedWithinItsBound(t *testing.T) {
	clock := &nearClock{t: time.Unix(1, 0)}
	const per = 4096
	n := trustedNear(per*nearShards, time.Hour, clock)
	val := make([]byte, 1000)
	// Keys of one shard, so the shard's bound is what is exercised.
	var keys []string
	for i := 0; len(keys) < 8; i++ {
		k := fmt.Sprint("key", i)
		if n.shard(k) == n.shard("key0") {
			keys = append(keys, k)
		}
	}
	for _, k := range keys[:3] {
		n.put(k, val, false, n.epoch(k))
	}
	_, _, _, _ = n.get(keys[0]) // now keys[1] is the least recently used
	n.put(keys[3], val, false, n.epoch(keys[3]))
	if _, _, ok, _ := n.get(keys[1]); ok {
		t.Error("the least recently used entry survived an insert over the bound")
	}
	for _, k := range []string{keys[0], keys[2], keys[3]} {
		if _, _, ok, _ := n.get(k); !ok {
			t.Errorf("%s evicted, want only the least recently used gone", k)
		}
	}
	for _, k := range keys {
		n.put(k, val, false, n.epoch(k))
	}
	if b, _ := n.size(); b > per*nearShards {
		t.Fatalf("%d bytes held, bound %d", b, per*nearShards)
	}
	if s := n.shard(keys[0]); s.bytes > per {
		t.Fatalf("shard holds %d bytes, bound %d", s.bytes, per)
	}
	if n.put("huge", make([]byte, per), false, n.epoch("huge")) {
		t.Error("a value larger than a shard was kept")
	}
}

// A value fetched before an invalidation of its shard arrived is not kept:
// it may be the very value the invalidation removed.
func TestNearRefusesAFetchThatRacedAnInvalidation(t *testing.T) {
	n := trustedNear(1<<20, time.Hour, &nearClock{t: time.Unix(1, 0)})
	// The epoch a miss hands out is the one put checks.
	_, _, _, e := n.get("k")
	n.invalidate("k")
	if n.put("k", []byte("old"), false, e) {
		t.Fatal("kept a value fetched before the invalidation")
	}
	e = n.epoch("k")
	n.clear()
	if n.put("k", []byte("old"), false, e) {
		t.Fatal("kept a value fetched before a clear")
	}
	if !n.put("k", []byte("new"), false, n.epoch("k")) {
		t.Fatal("refused a value fetched after the invalidation")
	}
}

func TestNearUntrustedIsBypassed(t *testing.T) {
	n := trustedNear(1<<20, time.Hour, &nearClock{t: time.Unix(1, 0)})
	n.put("k", []byte("v"), false, n.epoch("k"))
	n.healthy.Store(false)
	if _, _, ok, _ := n.get("k"); ok {
		t.Fatal("served while the invalidation channel is down")
	}
	if n.put("k2", []byte("v"), false, n.epoch("k2")) {
		t.Fatal("kept a value while the invalidation channel is down")
	}
}

func TestNearMessageRoundTrip(t *testing.T) {
	at := time.Unix(1700000000, 123456789)
	origin, got, key, ok := parseNearMessage(nearMessage("abc", at, "po:challenge:user-logs:{p. 42}"))
	if !ok || origin != "abc" || !got.Equal(at) || key != "po:challenge:user-logs:{p. 42}" {
		t.Fatalf("%q %v %q %v", origin, got, key, ok)
	}
	for _, bad := range []string{"", "abc", "abc 12", "abc x key", " 12 key", "abc 12 "} {
		if _, _, _, ok := parseNearMessage(bad); ok {
			t.Errorf("parsed %q", bad)
		}
	}
}
