package ranking_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/progressive-overload/po/services/kit/ranking"
	"github.com/progressive-overload/po/services/kit/redisclient"
	"github.com/progressive-overload/po/services/kit/redisclient/redistest"
	"github.com/progressive-overload/po/services/kit/testkit"
)

func TestMain(m *testing.M) {
	testkit.Main(m,
		// go-redis probes a refused address once a second until its pool is closed,
		// and only notices the close after the sleep in progress.
		goleak.IgnoreAnyFunction("github.com/redis/go-redis/v9/internal/pool.(*ConnPool).tryDial"),
		redistest.StopSharedAtExit(),
	)
}

// A backend is a Redis deployment the store must behave the same on. The
// cluster is what the hash tags are for: every script names a board's three
// keys, which a cluster refuses unless they share a slot.
type backend struct {
	name string
	url  func(t testing.TB) string
}

var backends = []backend{
	{"single", func(testing.TB) string { return "redis://" + testkit.RedisAddr + "/0" }},
	{"cluster", func(t testing.TB) string { return redistest.SharedCluster(t).URL() }},
}

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

// fixture is a Store under test, a second client on the same Redis for
// assertions, and the test's registry.
type fixture struct {
	rdb    redis.UniversalClient
	reg    *prometheus.Registry
	store  *ranking.Store
	prefix string
}

const name = "leaderboard"

func (b backend) fixture(t testing.TB, opts ranking.Options) *fixture {
	t.Helper()
	return buildFixture(t, b.client(t), b.client(t), opts)
}

// singleFixture builds a Store whose client reaches addr (the real Redis, a
// proxy to it, or nothing at all); assertions go to the real Redis.
func singleFixture(t testing.TB, addr string, opts ranking.Options) *fixture {
	t.Helper()
	client, err := redisclient.New("redis://"+addr+"/0", redisclient.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close() })
	return buildFixture(t, backends[0].client(t), client, opts)
}

func buildFixture(t testing.TB, rdb, client redis.UniversalClient, opts ranking.Options) *fixture {
	t.Helper()
	f := &fixture{rdb: rdb, reg: prometheus.NewRegistry(), prefix: testkit.RedisPrefix(t, rdb)}
	opts.Prefix = f.prefix
	opts.Name = name
	opts.Registry = f.reg
	opts.Logger = slog.New(slog.NewTextHandler(t.Output(), nil))
	if opts.Timeout == 0 {
		// The machine is shared and the race detector slow: a 50ms budget would
		// turn some reads into fallbacks. Tests about timeouts set their own.
		opts.Timeout = 5 * time.Second
	}
	s, err := ranking.New(client, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	f.store = s
	return f
}

func (f *fixture) zsetKey(board string) string { return f.prefix + name + ":{" + board + "}" }
func (f *fixture) hashKey(board string) string { return f.zsetKey(board) + ":e" }
func (f *fixture) versionKey(board string) string {
	return f.zsetKey(board) + ":v"
}

func (f *fixture) exists(t testing.TB, key string) bool {
	t.Helper()
	n, err := f.rdb.Exists(context.Background(), key).Result()
	if err != nil {
		t.Fatal(err)
	}
	return n == 1
}

// count reads one series of a counter or gauge family, labels given as
// name=value pairs besides name="leaderboard".
func (f *fixture) count(t testing.TB, family string, labels ...string) int {
	t.Helper()
	mfs, err := f.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"name": name}
	for _, l := range labels {
		k, v, _ := strings.Cut(l, "=")
		want[k] = v
	}
	for _, mf := range mfs {
		if mf.GetName() != family {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			if len(m.GetLabel()) != len(want) {
				continue
			}
			for _, l := range m.GetLabel() {
				if want[l.GetName()] != l.GetValue() {
					continue next
				}
			}
			if g := m.GetGauge(); g != nil {
				return int(g.GetValue())
			}
			return int(m.GetCounter().GetValue())
		}
	}
	return 0
}

func (f *fixture) reads(t testing.TB, source string) int {
	return f.count(t, "ranking_reads_total", "source="+source)
}

// source is the database: the entries of each board, and the loads made.
type source struct {
	mu     sync.Mutex
	boards map[string][]ranking.Entry
	loads  int
	// hook, when set, runs inside each load after the entries were read
	// (what the load returns is already decided).
	hook func(board string)
}

func newSource() *source { return &source{boards: map[string][]ranking.Entry{}} }

func (s *source) put(board string, es ...ranking.Entry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range es {
		i := slices.IndexFunc(s.boards[board], func(x ranking.Entry) bool { return x.Member == e.Member })
		if i >= 0 {
			s.boards[board][i] = e
		} else {
			s.boards[board] = append(s.boards[board], e)
		}
	}
}

func (s *source) remove(board, member string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.boards[board] = slices.DeleteFunc(s.boards[board], func(x ranking.Entry) bool { return x.Member == member })
}

func (s *source) load(_ context.Context, board string) ([]ranking.Entry, error) {
	s.mu.Lock()
	s.loads++
	// A copy, with copies of the payloads: the store owns what it gets.
	es := make([]ranking.Entry, len(s.boards[board]))
	for i, e := range s.boards[board] {
		e.Payload = slices.Clone(e.Payload)
		es[i] = e
	}
	hook := s.hook
	s.mu.Unlock()
	if hook != nil {
		hook(board)
	}
	return es, nil
}

func (s *source) n() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.loads
}

// members lists a page's members in order.
func members(p ranking.Page) []string {
	out := make([]string, len(p.Entries))
	for i, e := range p.Entries {
		out[i] = e.Member
	}
	return out
}

// checkPage fails t unless p holds exactly want (in order, payloads and
// scores included), ranked from offset+1, out of total.
func checkPage(t testing.TB, p ranking.Page, offset, total int, src ranking.Source, want ...ranking.Entry) {
	t.Helper()
	if p.Source != src || p.Total != total || len(p.Entries) != len(want) {
		t.Fatalf("page %v (total %d, source %s); want %d entries of %d from %s", members(p), p.Total, p.Source, len(want), total, src)
	}
	for i, e := range p.Entries {
		w := want[i]
		if e.Member != w.Member || e.Score != w.Score || e.Tiebreak != w.Tiebreak || string(e.Payload) != string(w.Payload) || e.Rank != offset+i+1 {
			t.Fatalf("entry %d: %+v (payload %q); want %+v (payload %q) at rank %d", i, e, e.Payload, w, w.Payload, offset+i+1)
		}
	}
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
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Go(func() { _, _ = io.Copy(io.Discard, c) })
		}
	})
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

func entry(member string, score float64, tiebreak string) ranking.Entry {
	return ranking.Entry{Member: member, Score: score, Tiebreak: tiebreak, Payload: []byte(`{"m":"` + member + `"}`)}
}
