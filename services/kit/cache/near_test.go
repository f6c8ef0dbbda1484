package cache_test

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"

	"github.com/progressive-overload/po/services/kit/cache"
	"github.com/progressive-overload/po/services/kit/testkit/netproxy"
)

var nearOpts = cache.Options{Enabled: true, NearSize: 1 << 20, NearTTL: time.Minute}

// replicaOf is a second process's Cache on f's key space, reaching Redis at
// addr, with a registry of its own.
func replicaOf(t testing.TB, f *fixture, addr string, opts cache.Options) (*cache.Cache, *prometheus.Registry) {
	t.Helper()
	return replicaOn(t, f, newClient(t, addr), opts)
}

// replicaOn is replicaOf through rdb.
func replicaOn(t testing.TB, f *fixture, rdb redis.UniversalClient, opts cache.Options) (*cache.Cache, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	opts.Service, opts.KeyPrefix, opts.Registerer = "svc", f.prefix, reg
	opts.Timeout = 5 * time.Second
	opts.Logger = slog.New(slog.NewTextHandler(t.Output(), nil))
	c := cache.New(rdb, opts)
	t.Cleanup(c.Close)
	return c, reg
}

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func nearCount(t testing.TB, reg *prometheus.Registry, result string) int {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "cache_near_requests_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "result" && l.GetValue() == result {
					return int(m.GetCounter().GetValue())
				}
			}
		}
	}
	return 0
}

func get(t testing.TB, c *cache.Cache, src *countingLoader) string {
	t.Helper()
	b, err := c.Named("n").Get(context.Background(), "k", src.load)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func (l *countingLoader) set(body string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.body = []byte(body)
}

// A write through replica A: A's next read sees it at once, and B's near
// tier drops the old value when A's invalidation arrives.
func TestNearCoherentAcrossReplicas(t *testing.T) {
	// On a cluster too: the script's PUBLISH reaches subscribers on every node.
	onEachBackend(t, func(t *testing.T, be backend) {
		f := be.fixture(t, nearOpts)
		a := f.cache
		b, bReg := replicaOn(t, f, be.client(t), nearOpts)
		waitFor(t, "both near tiers to subscribe", func() bool { return cache.NearTrusted(a) && cache.NearTrusted(b) })

		src := &countingLoader{body: []byte("v1")}
		if got := get(t, b, src); got != "v1" {
			t.Fatalf("first read %q", got)
		}
		if got := get(t, b, src); got != "v1" || nearCount(t, bReg, "hit") != 1 {
			t.Fatalf("second read %q with %d near hits, want a near hit", got, nearCount(t, bReg, "hit"))
		}
		if got := get(t, a, src); got != "v1" {
			t.Fatalf("A's first read %q", got)
		}

		src.set("v2") // the write commits, then invalidates
		if err := a.Named("n").Invalidate(context.Background(), "k"); err != nil {
			t.Fatal(err)
		}
		if got := get(t, a, src); got != "v2" {
			t.Fatalf("the writer read %q right after its write, want v2", got)
		}
		waitFor(t, "B to see A's write", func() bool { return get(t, b, src) == "v2" })
		if n := testutil.CollectAndCount(bReg, "cache_near_invalidation_delay_seconds"); n != 1 {
			t.Fatalf("%d delay series on B, want one", n)
		}
		if loads := src.n(); loads != 2 {
			t.Errorf("%d loads, want one per version", loads)
		}
	})
}

// While B's invalidation channel is cut, B serves nothing from its near
// tier; once it is back, what B held before is gone, so a write made
// during the outage is seen.
func TestNearBypassedWhileItsChannelIsDown(t *testing.T) {
	f := newFixture(t, redisAddr, nearOpts)
	a := f.cache
	proxy := netproxy.Start(t, redisAddr)
	b, bReg := replicaOf(t, f, proxy.Addr(), nearOpts)
	waitFor(t, "B's near tier to subscribe", func() bool { return cache.NearTrusted(b) })

	src := &countingLoader{body: []byte("v1")}
	get(t, b, src)
	if cache.NearEntries(b) != 1 {
		t.Fatalf("B holds %d near entries, want 1", cache.NearEntries(b))
	}

	proxy.Cut()
	waitFor(t, "B to stop trusting its near tier", func() bool { return !cache.NearTrusted(b) })
	src.set("v2")
	if err := a.Named("n").Invalidate(context.Background(), "k"); err != nil {
		t.Fatal(err)
	}
	if got := get(t, b, src); got != "v2" {
		t.Fatalf("B read %q with its channel down, want the source's v2", got)
	}
	if nearCount(t, bReg, "bypass") == 0 {
		t.Error("no bypass counted while the channel was down")
	}

	proxy.Restore(t)
	waitFor(t, "B's near tier to subscribe again", func() bool { return cache.NearTrusted(b) })
	if got := get(t, b, src); got != "v2" {
		t.Fatalf("B read %q after the outage, want v2", got)
	}
	hits := nearCount(t, bReg, "hit")
	if got := get(t, b, src); got != "v2" || nearCount(t, bReg, "hit") != hits+1 {
		t.Fatalf("B read %q, near hits %d → %d: want the near tier serving again", got, hits, nearCount(t, bReg, "hit"))
	}
}

func TestNearOffByDefault(t *testing.T) {
	f := newFixture(t, redisAddr, cache.Options{Enabled: true})
	if cache.NearTrusted(f.cache) {
		t.Fatal("a near tier without NearSize")
	}
	src := &countingLoader{body: []byte("v")}
	get(t, f.cache, src)
	get(t, f.cache, src)
	f.assertCounts(t, "n", 1, 1, 0)
	if n := testutil.CollectAndCount(f.reg, "cache_near_requests_total"); n != 0 {
		t.Fatalf("%d near series without a near tier", n)
	}
}

// The writer's own read-after-write with a reader of the same process in
// between: the reader misses the near tier just after the writer dropped its
// entry, reads the old value from Redis before the writer's script runs,
// and offers it to the near tier after the write has finished. It must not
// be kept, or the writer's next read would answer the old value.
func TestNearKeepsNoValueReadBeforeTheWritersRedisInvalidation(t *testing.T) {
	f := newFixture(t, redisAddr, nearOpts)
	c := f.cache
	waitFor(t, "the near tier to subscribe", func() bool { return cache.NearTrusted(c) })
	src := &countingLoader{body: []byte("v1")}
	get(t, c, src) // v1 in Redis and in the near tier

	writerPaused, releaseWriter := make(chan struct{}), make(chan struct{})
	readerRead, releaseReader := make(chan struct{}), make(chan struct{})
	var writerOnce, readerOnce sync.Once
	cache.SetNearRaceHooks(c,
		func() { writerOnce.Do(func() { close(writerPaused); <-releaseWriter }) },
		func() { readerOnce.Do(func() { close(readerRead); <-releaseReader }) })

	src.set("v2") // the write commits
	invalidated := make(chan error, 1)
	go func() { invalidated <- c.Named("n").Invalidate(context.Background(), "k") }()
	<-writerPaused // the near entry is gone, Redis still holds v1
	read := make(chan string, 1)
	go func() {
		b, _ := c.Named("n").Get(context.Background(), "k", src.load)
		read <- string(b)
	}()
	<-readerRead // the reader holds v1 from Redis
	close(releaseWriter)
	if err := <-invalidated; err != nil {
		t.Fatal(err)
	}
	close(releaseReader)
	if got := <-read; got != "v1" {
		t.Fatalf("the concurrent reader answered %q; it read Redis before the write finished", got)
	}
	if got := get(t, c, src); got != "v2" {
		t.Fatalf("the writer's next read answered %q, want v2: the racing reader's value was kept", got)
	}
}
