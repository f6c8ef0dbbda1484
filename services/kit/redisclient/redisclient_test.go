package redisclient_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/progressive-overload/po/services/kit/redisclient"
	"github.com/progressive-overload/po/services/kit/redisclient/redistest"
	"github.com/progressive-overload/po/services/kit/testkit"
)

func TestMain(m *testing.M) { testkit.Main(m, redistest.StopSharedAtExit()) }

func newClient(t *testing.T, url string, o redisclient.Options) redis.UniversalClient {
	t.Helper()
	rdb, err := redisclient.New(url, o)
	if err != nil {
		t.Fatalf("New(%q): %v", url, err)
	}
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

// The scheme alone decides the kind of client, and every kind gets the
// settings the services rely on.
func TestNewPicksTheClientByScheme(t *testing.T) {
	t.Run("single", func(t *testing.T) {
		rdb := newClient(t, "redis://u:p@127.0.0.1:6390/3?dial_timeout=2s", redisclient.Options{DialerRetries: 1})
		c, ok := rdb.(*redis.Client)
		if !ok {
			t.Fatalf("%T, want *redis.Client", rdb)
		}
		o := c.Options()
		if o.Addr != "127.0.0.1:6390" || o.DB != 3 || o.Username != "u" || o.Password != "p" || o.TLSConfig != nil {
			t.Fatalf("options %+v", o)
		}
		// go-redis stores "no retries" (-1) as 0 once the client exists.
		if !o.ContextTimeoutEnabled || o.MaxRetries != 0 || o.DialerRetries != 1 || o.Protocol != 2 {
			t.Fatalf("ContextTimeoutEnabled %v, MaxRetries %d, DialerRetries %d, Protocol %d", o.ContextTimeoutEnabled, o.MaxRetries, o.DialerRetries, o.Protocol)
		}
	})
	t.Run("protocol from the URL", func(t *testing.T) {
		c := newClient(t, "redis://127.0.0.1:6390?protocol=3", redisclient.Options{}).(*redis.Client)
		if p := c.Options().Protocol; p != 3 {
			t.Fatalf("Protocol %d, want the URL's 3", p)
		}
	})
	t.Run("single tls", func(t *testing.T) {
		c := newClient(t, "rediss://h.example:6380", redisclient.Options{}).(*redis.Client)
		if o := c.Options(); o.TLSConfig == nil || o.TLSConfig.ServerName != "h.example" {
			t.Fatalf("TLS %+v", o.TLSConfig)
		}
	})
	t.Run("cluster", func(t *testing.T) {
		rdb := newClient(t, "redis+cluster://:pw@127.0.0.1:7000/0?addr=127.0.0.1:7001&addr=127.0.0.1:7002", redisclient.Options{DialerRetries: 1})
		c, ok := rdb.(*redis.ClusterClient)
		if !ok {
			t.Fatalf("%T, want *redis.ClusterClient", rdb)
		}
		o := c.Options()
		if got := strings.Join(o.Addrs, ","); got != "127.0.0.1:7000,127.0.0.1:7001,127.0.0.1:7002" || o.Password != "pw" {
			t.Fatalf("addrs %s, password %q", got, o.Password)
		}
		if !o.ContextTimeoutEnabled || o.MaxRetries != -1 || o.DialerRetries != 1 || o.MaxRedirects != 3 || o.Protocol != 2 {
			t.Fatalf("ContextTimeoutEnabled %v, MaxRetries %d, DialerRetries %d, MaxRedirects %d",
				o.ContextTimeoutEnabled, o.MaxRetries, o.DialerRetries, o.MaxRedirects)
		}
	})
	t.Run("sentinel", func(t *testing.T) {
		// A failover client is a *redis.Client whose dialer asks the sentinels.
		rdb := newClient(t, "rediss+sentinel://127.0.0.1:26379/2?master_name=m&addr=127.0.0.1:26380", redisclient.Options{})
		c, ok := rdb.(*redis.Client)
		if !ok {
			t.Fatalf("%T, want *redis.Client", rdb)
		}
		if o := c.Options(); o.DB != 2 || !o.ContextTimeoutEnabled || o.MaxRetries != 0 || o.TLSConfig == nil {
			t.Fatalf("DB %d, ContextTimeoutEnabled %v, MaxRetries %d, TLS %v", o.DB, o.ContextTimeoutEnabled, o.MaxRetries, o.TLSConfig != nil)
		}
	})
}

func TestNewRefusesAmbiguousURLs(t *testing.T) {
	for _, tc := range []struct{ url, want string }{
		{"http://127.0.0.1:6379", "scheme"},
		{"redis+ring://127.0.0.1:6379", "scheme"},
		{"memcache+cluster://127.0.0.1:6379", "scheme"},
		{"redis+cluster://127.0.0.1:7000/2", "only database 0"},
		{"redis+sentinel://127.0.0.1:26379", "master_name"},
		{"redis+cluster://127.0.0.1:7000?addr=nohost", "addr"},
		{"redis://127.0.0.1:6379?no_such_option=1", "no_such_option"},
		{"redis://:secret@127.0.0.1:6379/x", "database"},
		{"redis://:secret@[::1", "not a URL"},
	} {
		_, err := redisclient.New(tc.url, redisclient.Options{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%q) = %v, want an error about %q", tc.url, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("New(%q): the error shows the password: %v", tc.url, err)
		}
	}
}

// Real servers: a single node, a 3-master cluster (keys spread over every
// master) and a primary found through its sentinel.
func TestNewTalksToEveryDeployment(t *testing.T) {
	ctx := context.Background()
	t.Run("single", func(t *testing.T) {
		rdb := newClient(t, "redis://"+testkit.RedisAddr+"/0", redisclient.Options{})
		p := testkit.NewRedisPrefix()
		t.Cleanup(func() { testkit.DeleteRedisKeys(rdb, p) })
		if err := rdb.Set(ctx, p+"k", "v", 0).Err(); err != nil {
			t.Fatal(err)
		}
		if v, err := rdb.Get(ctx, p+"k").Result(); err != nil || v != "v" {
			t.Fatalf("%q, %v", v, err)
		}
	})
	t.Run("cluster", func(t *testing.T) {
		cl := redistest.SharedCluster(t)
		rdb := newClient(t, cl.URL(), redisclient.Options{})
		cc := rdb.(*redis.ClusterClient)
		p := testkit.NewRedisPrefix()
		t.Cleanup(func() { testkit.DeleteRedisKeys(rdb, p) })
		masters := map[string]bool{}
		for i := range 30 {
			k := fmt.Sprintf("%sk%d", p, i)
			if err := rdb.Set(ctx, k, i, 0).Err(); err != nil {
				t.Fatal(err)
			}
			m, err := cc.MasterForKey(ctx, k)
			if err != nil {
				t.Fatal(err)
			}
			masters[m.Options().Addr] = true
		}
		if len(masters) != 3 {
			t.Fatalf("30 keys landed on %d masters, want all 3: %v", len(masters), masters)
		}
		var mu sync.Mutex
		seen := 0
		err := cc.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
			n, err := m.DBSize(ctx).Result()
			mu.Lock()
			seen += int(n)
			mu.Unlock()
			return err
		})
		if err != nil || seen < 30 {
			t.Fatalf("masters hold %d keys, want at least 30 (%v)", seen, err)
		}
	})
	t.Run("sentinel", func(t *testing.T) {
		sn := redistest.StartSentinel(t)
		rdb := newClient(t, sn.URL(), redisclient.Options{})
		if err := rdb.Set(ctx, "k", "through the sentinel", 0).Err(); err != nil {
			t.Fatal(err)
		}
		primary := redis.NewClient(&redis.Options{Addr: sn.PrimaryAddr})
		defer primary.Close()
		if v, err := primary.Get(ctx, "k").Result(); err != nil || v != "through the sentinel" {
			t.Fatalf("primary holds %q, %v", v, err)
		}
	})
}
