// Package testkit holds what the services' tests share against the local
// MySQL, Redis and RabbitMQ: a TestMain, per-test Redis key prefixes, broker
// clean-up, RSA keys and a service served on 127.0.0.1:0. Import it from
// _test.go files only.
package testkit

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/progressive-overload/po/services/kit/leaktest"
)

// The local servers the tests use, and the JWT iss and aud claims their
// services are configured with.
const (
	RedisAddr = "127.0.0.1:6379"
	AMQPURL   = "amqp://guest:guest@127.0.0.1:5672/"
	Issuer    = "progressive-overload"
	Audience  = "progressive-overload"
)

// Main runs a package's tests with go-redis quiet (it logs every failed dial,
// and outage tests make many on purpose) and fails when goroutines leak;
// extra goes to the leak check (e.g. redistest.StopSharedAtExit).
func Main(m *testing.M, extra ...goleak.Option) {
	redis.SetLogger(quietRedis{})
	leaktest.VerifyTestMain(m, extra...)
}

type quietRedis struct{}

func (quietRedis) Printf(context.Context, string, ...any) {}

// LogOutput is where a test's service logs: nowhere, or stderr when TEST_LOG
// is set.
func LogOutput() io.Writer {
	if os.Getenv("TEST_LOG") != "" {
		return os.Stderr
	}
	return io.Discard
}

// RandomHex is n random bytes in hex, for names no other test uses.
func RandomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// NewRedisPrefix is a Redis key prefix of the test's own ("t:<hex>:").
func NewRedisPrefix() string { return "t:" + RandomHex(6) + ":" }

// RedisPrefix is NewRedisPrefix with its keys deleted through rdb when the
// test ends (rdb must still be open then).
func RedisPrefix(t testing.TB, rdb redis.UniversalClient) string {
	p := NewRedisPrefix()
	t.Cleanup(func() { DeleteRedisKeys(rdb, p) })
	return p
}

// DeleteRedisKeys deletes every key starting with prefix.
func DeleteRedisKeys(rdb redis.UniversalClient, prefix string) {
	ctx := context.Background()
	keys, _ := scanKeys(rdb, prefix)
	for _, k := range keys {
		// One DEL per key: on a cluster the keys live in many slots.
		rdb.Del(ctx, k)
	}
}

// RedisKeys lists every key starting with prefix, failing t if Redis does
// not answer.
func RedisKeys(t testing.TB, rdb redis.UniversalClient, prefix string) []string {
	t.Helper()
	keys, err := scanKeys(rdb, prefix)
	if err != nil {
		t.Fatalf("scan %s*: %v", prefix, err)
	}
	return keys
}

// scanKeys scans rdb, or on a Redis Cluster each master, which holds only
// its own slots' keys.
func scanKeys(rdb redis.UniversalClient, prefix string) ([]string, error) {
	var (
		mu   sync.Mutex
		keys []string
	)
	scan := func(ctx context.Context, node *redis.Client) error {
		iter := node.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			mu.Lock()
			keys = append(keys, iter.Val())
			mu.Unlock()
		}
		return iter.Err()
	}
	ctx := context.Background()
	var err error
	switch c := rdb.(type) {
	case *redis.ClusterClient:
		err = c.ForEachMaster(ctx, scan)
	case *redis.Client:
		err = scan(ctx, c)
	default:
		err = fmt.Errorf("testkit: cannot scan a %T", rdb)
	}
	return keys, err
}

// DeleteBrokerObjects removes what one test declared on the shared vhost at
// url; deleting what does not exist succeeds.
func DeleteBrokerObjects(t testing.TB, url string, queues, exchanges []string) {
	conn, err := amqp.Dial(url)
	if err != nil {
		t.Errorf("amqp: %v", err)
		return
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		t.Errorf("amqp: %v", err)
		return
	}
	defer ch.Close()
	for _, q := range queues {
		if _, err := ch.QueueDelete(q, false, false, false); err != nil {
			t.Errorf("delete queue %s: %v", q, err)
			return
		}
	}
	for _, x := range exchanges {
		if err := ch.ExchangeDelete(x, false, false); err != nil {
			t.Errorf("delete exchange %s: %v", x, err)
			return
		}
	}
}

// RSAKeys are two 2048-bit keys generated once per test binary (slow under
// -race): a signing key and one the service has never seen.
var RSAKeys = sync.OnceValue(func() [2]*rsa.PrivateKey {
	var ks [2]*rsa.PrivateKey
	for i := range ks {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		ks[i] = k
	}
	return ks
})

// Eventually polls cond until it holds or a generous deadline passes; it
// never asserts how long anything took.
func Eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Server is a service that answers on a listener until its context ends.
type Server interface {
	Serve(ctx context.Context, ln net.Listener) error
	Close()
}

// Served is a Server running on 127.0.0.1:0.
type Served struct {
	// URL is "http://<address>".
	URL    string
	cancel context.CancelFunc
	done   chan error
}

// Serve runs srv on a free port of 127.0.0.1 until Stop; srv is closed and
// the test fails if no port can be had.
func Serve(t testing.TB, srv Server) *Served {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		srv.Close()
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Served{URL: "http://" + ln.Addr().String(), cancel: cancel, done: make(chan error, 1)}
	go func() { s.done <- srv.Serve(ctx, ln) }()
	return s
}

// Stop ends Serve's context and returns what Serve returned.
func (s *Served) Stop() error {
	s.cancel()
	return <-s.done
}

// Channel is a channel on the broker at url, whose connection is closed when
// the test ends.
func Channel(t testing.TB, url string) *amqp.Channel {
	t.Helper()
	conn, err := amqp.Dial(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

// DeclareExchange declares the topic exchange with the arguments kit/events
// uses, so that the declarations agree.
func DeclareExchange(t testing.TB, ch *amqp.Channel, exchange string) {
	t.Helper()
	if err := ch.ExchangeDeclare(exchange, amqp.ExchangeTopic, true, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
}

// Listen binds a queue of the test's own to exchange (declared if need be)
// with routingKey and returns its deliveries, acknowledged automatically,
// until the test ends.
func Listen(t testing.TB, url, exchange, routingKey string) <-chan amqp.Delivery {
	t.Helper()
	ch := Channel(t, url)
	DeclareExchange(t, ch, exchange)
	q, err := ch.QueueDeclare("", false, true, true, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.QueueBind(q.Name, routingKey, exchange, false, nil); err != nil {
		t.Fatal(err)
	}
	deliveries, err := ch.Consume(q.Name, "", true, true, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	return deliveries
}

// NewRequest is a request to url with a bearer token (none if empty) and a
// body: nil, a string or []byte sent as is, or any other value encoded as
// JSON (Content-Type application/json whenever there is a body). It returns
// the body's bytes too, for validating the request later.
func NewRequest(method, url, token string, body any) (*http.Request, []byte, error) {
	var raw []byte
	switch b := body.(type) {
	case nil:
	case string:
		raw = []byte(b)
	case []byte:
		raw = b
	default:
		var err error
		if raw, err = json.Marshal(b); err != nil {
			return nil, nil, err
		}
	}
	req, err := http.NewRequest(method, url, bytes.NewReader(raw))
	if err != nil {
		return nil, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return req, raw, nil
}

// Do sends req and reads the whole response body.
func Do(client *http.Client, req *http.Request) (*http.Response, []byte, error) {
	res, err := client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, nil, err
	}
	return res, data, nil
}
