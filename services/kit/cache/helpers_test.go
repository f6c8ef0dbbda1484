package cache_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/progressive-overload/po/services/kit/cache"
	"github.com/progressive-overload/po/services/kit/redisclient"
	"github.com/progressive-overload/po/services/kit/redisclient/redistest"
	"github.com/progressive-overload/po/services/kit/testkit"
)

const redisAddr = "127.0.0.1:6379"

func TestMain(m *testing.M) {
	// The outage tests make go-redis log every failed dial; the assertions say more.
	redis.SetLogger(quietLogger{})
	goleak.VerifyTestMain(m,
		// go-redis probes a refused address once a second until its pool is closed,
		// and only notices the close after the sleep in progress.
		goleak.IgnoreAnyFunction("github.com/redis/go-redis/v9/internal/pool.(*ConnPool).tryDial"),
		redistest.StopSharedAtExit(),
	)
}

// A backend is a Redis deployment the cache must behave the same on. The
// cluster is what the hash tags in the key layout are for: the fill and
// invalidate scripts name two keys, which a cluster refuses unless they
// share a slot.
type backend struct {
	name string
	url  func(t testing.TB) string // a REDIS_URL, for kit/redisclient
}

var backends = []backend{
	{"single", func(testing.TB) string { return "redis://" + redisAddr + "/0" }},
	{"cluster", func(t testing.TB) string { return redistest.SharedCluster(t).URL() }},
}

// onEachBackend runs test as one subtest per backend.
func onEachBackend(t *testing.T, test func(t *testing.T, b backend)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { test(t, b) })
	}
}

// client connects to b as the services do, closed when t ends.
func (b backend) client(t testing.TB) redis.UniversalClient {
	t.Helper()
	rdb, err := redisclient.New(b.url(t), redisclient.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

// fixture builds a Cache on b, with a second client for assertions.
func (b backend) fixture(t testing.TB, opts cache.Options) *fixture {
	t.Helper()
	rdb := b.client(t)
	return buildFixture(t, rdb, b.client(t), opts)
}

type quietLogger struct{}

func (quietLogger) Printf(context.Context, string, ...any) {}

// newClient is configured as services must configure theirs: without
// ContextTimeoutEnabled the cache's Timeout could not bound a call.
func newClient(t testing.TB, addr string) *redis.Client {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

// testPrefix gives the test its own key space and removes it afterwards
// through rdb, which must still be open then.
func testPrefix(t testing.TB, rdb redis.UniversalClient) string {
	t.Helper()
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	prefix := "t:" + hex.EncodeToString(b[:]) + ":"
	t.Cleanup(func() {
		ctx := context.Background()
		// One DEL per key: on a cluster the keys live in many slots.
		for _, k := range testkit.RedisKeys(t, rdb, prefix) {
			if err := rdb.Del(ctx, k).Err(); err != nil {
				t.Errorf("del %s: %v", k, err)
			}
		}
	})
	return prefix
}

type fixture struct {
	rdb    redis.UniversalClient // talks to the real Redis directly, for assertions
	reg    *prometheus.Registry
	cache  *cache.Cache
	prefix string
}

// newFixture builds a Cache whose client reaches the single test Redis at
// addr (the real one, a proxy to it, or nothing at all).
func newFixture(t testing.TB, addr string, opts cache.Options) *fixture {
	t.Helper()
	return buildFixture(t, newClient(t, redisAddr), newClient(t, addr), opts)
}

// buildFixture builds a Cache on client; rdb reaches the same Redis directly.
func buildFixture(t testing.TB, rdb, client redis.UniversalClient, opts cache.Options) *fixture {
	t.Helper()
	f := &fixture{
		rdb:    rdb,
		reg:    prometheus.NewRegistry(),
		prefix: testPrefix(t, rdb),
	}
	opts.Service = "svc"
	if opts.Timeout == 0 {
		// The machine running the tests is shared and the race detector is slow: a
		// 50ms budget would turn some hits into errors and the counts would flake.
		// Tests about timeouts set their own.
		opts.Timeout = 5 * time.Second
	}
	opts.Logger = slog.New(slog.NewTextHandler(t.Output(), nil))
	opts.KeyPrefix = f.prefix
	opts.Registerer = f.reg
	f.cache = cache.New(client, opts)
	t.Cleanup(f.cache.Close)
	return f
}

// keys lists the test's keys.
func (f *fixture) keys(t testing.TB) []string { return testkit.RedisKeys(t, f.rdb, f.prefix) }

func (f *fixture) valueKey(name, key string) string { return f.prefix + name + ":{" + key + "}" }

// assertCounts compares the whole cache_requests_total family for one cache name,
// so an unexpected series or label fails too.
func (f *fixture) assertCounts(t testing.TB, name string, hit, miss, errs int) {
	t.Helper()
	want := fmt.Sprintf(`
# HELP cache_requests_total Cache reads by cache name and result (hit, miss, error: Redis failed or was skipped and the read went to the source).
# TYPE cache_requests_total counter
cache_requests_total{cache=%[1]q,result="error",service="svc"} %[4]d
cache_requests_total{cache=%[1]q,result="hit",service="svc"} %[2]d
cache_requests_total{cache=%[1]q,result="miss",service="svc"} %[3]d
`, name, hit, miss, errs)
	if err := testutil.GatherAndCompare(f.reg, strings.NewReader(want), "cache_requests_total"); err != nil {
		t.Error(err)
	}
}

// count reads one series, for tests that poll.
func (f *fixture) count(t testing.TB, name, result string) int {
	t.Helper()
	mfs, err := f.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "cache_requests_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			var c, r string
			for _, l := range m.GetLabel() {
				switch l.GetName() {
				case "cache":
					c = l.GetValue()
				case "result":
					r = l.GetValue()
				}
			}
			if c == name && r == result {
				return int(m.GetCounter().GetValue())
			}
		}
	}
	return 0
}

// countingLoader returns body and counts its calls.
type countingLoader struct {
	mu    sync.Mutex
	calls int
	body  []byte
	err   error
}

func (l *countingLoader) load(context.Context) ([]byte, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls++
	return l.body, l.err
}

func (l *countingLoader) n() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.calls
}

// closedAddr is an address nothing listens on.
func closedAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

// blackhole accepts connections and never answers: a Redis that is up but stuck.
func blackhole(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
		wg    sync.WaitGroup
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, _ = io.Copy(io.Discard, c)
			}()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		for _, c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

var errBoom = errors.New("boom")

// stored is the value in a raw Redis entry of a value: without its tag, and
// without the refresh time of a renewable one; "" for anything else.
func stored(raw string) string {
	switch {
	case strings.HasPrefix(raw, "v"):
		return raw[1:]
	case strings.HasPrefix(raw, "w") && len(raw) >= 9:
		return raw[9:]
	}
	return ""
}
