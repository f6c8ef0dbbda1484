package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/redis/go-redis/v9"

	accountapi "github.com/progressive-overload/po/services/account/api"
	challengeapi "github.com/progressive-overload/po/services/challenge/api"
	"github.com/progressive-overload/po/services/kit/events/vhosttest"
	"github.com/progressive-overload/po/services/kit/testkit/apitest"
	"github.com/progressive-overload/po/services/kit/testkit/netproxy"
)

const (
	// waitLimit only stops a broken test from hanging; nothing asserts speed.
	waitLimit = 90 * time.Second
	exchange  = "po.events"
	// amqpCreds are the broker credentials the services and the test use.
	amqpCreds = "guest:guest"
)

// The queues the services declare (docs/conventions.md, "<service>.<name>");
// the inbox's consumer column holds the same names.
const (
	queueValidation    = "account.challenge-validation"
	queueUserValidated = "challenge.user-validated"
	queueUserRejected  = "challenge.user-rejected"
	queueUserDeleted   = "challenge.user-deleted"
	queueUserSuspended = "challenge.user-suspended"
)

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func mysqlServerDSN() string { return envOr("MYSQL_TEST_DSN", "root@tcp(127.0.0.1:3306)/") }
func redisAddr() string      { return envOr("REDIS_ADDR", "127.0.0.1:6379") }
func amqpAddr() string       { return envOr("AMQP_ADDR", "127.0.0.1:5672") }

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// system is one test's copy of the whole platform: both services as real
// processes, each with a database of its own, one Redis prefix, one vhost,
// and a proxy between each service and the broker.
type system struct {
	t  *testing.T
	id string

	vhost      string
	amqpDirect string // the vhost, bypassing the proxies

	rdb         *redis.Client
	redisPrefix string // every key of this system starts with it
	cachePrefix string // the challenge service's CACHE_KEY_PREFIX

	accountDB, challengeDB       *sql.DB
	accountProxy, challengeProxy *netproxy.Proxy
	account, challenge           *process

	adminEmail, adminPassword string
}

// newSystem starts the platform; extraEnv (NAME=value) is given to both
// services on top of the test's settings.
func newSystem(t *testing.T, extraEnv ...string) *system {
	t.Helper()
	id := randomHex(6)
	s := &system{
		t:             t,
		id:            id,
		vhost:         "t_" + id,
		redisPrefix:   "t:" + id + ":",
		adminEmail:    "admin-" + id + "@e2e.example.com",
		adminPassword: "admin-" + randomHex(8),
	}
	s.cachePrefix = s.redisPrefix + "challenge:"
	logDir := t.TempDir() // removed last: the logs outlive the processes
	t.Cleanup(func() {
		if t.Failed() {
			for _, name := range []string{"account", "challenge"} {
				t.Logf("--- last lines of %s's log ---\n%s", name, tail(filepath.Join(logDir, name+".log"), 60))
			}
		}
	})

	// RabbitMQ: a vhost of its own, so the services' fixed queue names
	// cannot meet another test's.
	admin, err := vhosttest.New(s.vhost)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := admin.DeleteVhost(s.vhost); err != nil {
			t.Errorf("deleting vhost %s through %s: %v", s.vhost, admin, err)
		}
	})
	s.amqpDirect = "amqp://" + amqpCreds + "@" + amqpAddr() + "/" + s.vhost

	// MySQL: `migrate` creates the databases; the test drops them.
	server, err := mysql.ParseDSN(mysqlServerDSN())
	if err != nil {
		t.Fatalf("MYSQL_TEST_DSN: %v", err)
	}
	dsn := func(db string) string {
		c := server.Clone()
		c.DBName = db
		c.ParseTime = true
		c.Loc = time.UTC
		return c.FormatDSN()
	}
	root, err := sql.Open("mysql", dsn(""))
	if err != nil {
		t.Fatal(err)
	}
	accountDBName, challengeDBName := "t_"+id+"_account", "t_"+id+"_challenge"
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for _, db := range []string{accountDBName, challengeDBName} {
			if _, err := root.ExecContext(ctx, "DROP DATABASE IF EXISTS `"+db+"`"); err != nil {
				t.Errorf("dropping database %s: %v", db, err)
			}
		}
		_ = root.Close()
	})

	// Redis: one prefix for both services' keys.
	s.rdb = redis.NewClient(&redis.Options{Addr: redisAddr()})
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		keys, err := s.redisKeys(ctx, "*")
		if err == nil && len(keys) > 0 {
			err = s.rdb.Del(ctx, keys...).Err()
		}
		if err != nil {
			t.Errorf("removing redis keys %s*: %v", s.redisPrefix, err)
		}
		_ = s.rdb.Close()
	})

	s.accountProxy = netproxy.Start(t, amqpAddr())
	s.challengeProxy = netproxy.Start(t, amqpAddr())

	keyFile := filepath.Join(t.TempDir(), "jwt-signing.pem")
	if out, err := exec.Command(filepath.Join(bin, "genkey"), "-out", keyFile).CombinedOutput(); err != nil {
		t.Fatalf("genkey: %v: %s", err, out)
	}

	common := []string{
		"LOG_FORMAT=json",
		"LOG_LEVEL=info",
		"HTTP_ADDR=127.0.0.1:0",
		"REDIS_URL=redis://" + redisAddr() + "/0",
		"AMQP_EXCHANGE=" + exchange,
		"SHUTDOWN_TIMEOUT=10s",
	}
	common = append(common, extraEnv...)
	accountEnv := append([]string{
		"DATABASE_URL=" + dsn(accountDBName),
		"AMQP_URL=amqp://" + amqpCreds + "@" + s.accountProxy.Addr() + "/" + s.vhost,
		"JWT_SIGNING_KEY_FILE=" + keyFile,
		"JWT_PREVIOUS_KEY_FILES=",
		"REDIS_KEY_PREFIX=" + s.redisPrefix + "account:",
		"ADMIN_EMAIL=" + s.adminEmail,
		"ADMIN_PASSWORD=" + s.adminPassword,
		// Cheap hashing: the tests sign many users in on a shared machine.
		"PASSWORD_HASH_MEMORY_KIB=1024",
		"PASSWORD_HASH_ITERATIONS=1",
		"PASSWORD_HASH_PARALLELISM=1",
	}, common...)
	challengeEnv := append([]string{
		"DATABASE_URL=" + dsn(challengeDBName),
		"AMQP_URL=amqp://" + amqpCreds + "@" + s.challengeProxy.Addr() + "/" + s.vhost,
		"CACHE_ENABLED=true",
		"CACHE_KEY_PREFIX=" + s.cachePrefix,
		// Entries outlive the test, so only an invalidation removes one; and
		// a loaded machine must not turn cache calls into fallbacks.
		"CACHE_TTL=1h",
		"CACHE_TIMEOUT=5s",
		// The near tier is opt-in; on here, so the flows run through it and
		// its metrics are exported for the dashboards' check.
		"CACHE_NEAR_SIZE_MB=4",
	}, common...)

	migrate(t, "account", accountEnv)
	migrate(t, "challenge", challengeEnv)
	s.accountDB = openDB(t, dsn(accountDBName))
	s.challengeDB = openDB(t, dsn(challengeDBName))

	s.account = startProcess(t, "account", accountapi.Spec, filepath.Join(logDir, "account.log"), accountEnv)
	challengeEnv = append(challengeEnv, "JWKS_URL="+s.account.url+"/.well-known/jwks.json")
	s.challenge = startProcess(t, "challenge", challengeapi.Spec, filepath.Join(logDir, "challenge.log"), challengeEnv)

	// Both consumers have declared and bound their queues and are
	// consuming: events published from now on reach them.
	s.waitConsumers(queueValidation, queueUserValidated, queueUserRejected, queueUserDeleted, queueUserSuspended)
	return s
}

func openDB(t *testing.T, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(4)
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func migrate(t *testing.T, name string, env []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(bin, name), "migrate")
	cmd.Env = append(os.Environ(), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s migrate: %v\n%s", name, err, out)
	}
}

// process is a running service binary.
type process struct {
	name    string
	url     string          // http://host:port it listens on
	api     *apitest.Client // its API, every answer checked against its contract
	logPath string
	cmd     *exec.Cmd
	cancel  context.CancelFunc
	done    chan struct{} // closed when it has exited
}

// startProcess runs `name serve` with env added to the test's environment
// and waits until it listens; its api checks answers against spec. At cleanup it gets SIGTERM and is waited for
// (SIGKILL only if it has not exited 30s later); an exit other than a clean
// one fails the test.
func startProcess(t *testing.T, name string, spec []byte, logPath string, env []string) *process {
	t.Helper()
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, filepath.Join(bin, name), "serve")
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 30 * time.Second
	if err := cmd.Start(); err != nil {
		cancel()
		_ = logFile.Close()
		t.Fatalf("starting %s: %v", name, err)
	}
	p := &process{name: name, logPath: logPath, cmd: cmd, cancel: cancel, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		_ = logFile.Close()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.cancel()
		<-p.done // bounded: WaitDelay kills it 30s after the SIGTERM
		if code := p.cmd.ProcessState.ExitCode(); code != 0 {
			t.Errorf("%s exited with %s after SIGTERM", name, p.cmd.ProcessState)
		}
	})

	deadline := time.Now().Add(waitLimit)
	for {
		if addr := listeningAddr(logPath); addr != "" {
			p.url = "http://" + addr
			p.api = apitest.New(t, p.url, spec, apitest.Options{})
			t.Cleanup(p.api.Close)
			return p
		}
		select {
		case <-p.done:
			t.Fatalf("%s exited before listening (%s):\n%s", name, cmd.ProcessState, tail(logPath, 40))
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not listening after %s:\n%s", name, waitLimit, tail(logPath, 40))
		}
	}
}

// listeningAddr finds the address in the service's `"msg":"listening"` log
// line (it was given port 0).
func listeningAddr(logPath string) string {
	b, err := os.ReadFile(logPath)
	if err != nil {
		return ""
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		var line struct {
			Msg  string `json:"msg"`
			Addr string `json:"addr"`
		}
		if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "listening" && line.Addr != "" {
			if _, _, err := net.SplitHostPort(line.Addr); err == nil {
				return line.Addr
			}
		}
	}
	return ""
}

func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// waitConsumers polls the broker (directly, not through a proxy) until
// every queue exists with at least one consumer.
func (s *system) waitConsumers(queues ...string) {
	s.t.Helper()
	conn, err := amqp.Dial(s.amqpDirect)
	if err != nil {
		s.t.Fatalf("connecting to the test's vhost: %v", err)
	}
	defer conn.Close()
	var last error
	poll(s.t, "consumers on "+strings.Join(queues, ", "), func() bool {
		for _, q := range queues {
			n, err := queueConsumers(conn, q)
			if err != nil || n == 0 {
				last = fmt.Errorf("%s: %d consumers, %v", q, n, err)
				return false
			}
		}
		return true
	}, func() string { return fmt.Sprint(last) })
}

// queueConsumers declares q passively on a fresh channel: a missing queue
// closes the channel it was asked on.
func queueConsumers(conn *amqp.Connection, q string) (int, error) {
	ch, err := conn.Channel()
	if err != nil {
		return 0, err
	}
	defer func() { _ = ch.Close() }()
	info, err := ch.QueueDeclarePassive(q, true, false, false, false, nil)
	if err != nil {
		return 0, err
	}
	return info.Consumers, nil
}

// redisKeys lists this system's keys matching prefix+pattern.
func (s *system) redisKeys(ctx context.Context, pattern string) ([]string, error) {
	var keys []string
	iter := s.rdb.Scan(ctx, 0, s.redisPrefix+pattern, 500).Iterator()
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	return keys, iter.Err()
}

// poll calls cond until it holds or waitLimit passes; then it fails the test
// with what describe says about the last attempt. It bounds the wait only:
// nothing asserts how long the condition took.
func poll(t testing.TB, what string, cond func() bool, describe func() string) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !cond() {
		if time.Now().After(deadline) {
			msg := ""
			if describe != nil {
				msg = ": " + describe()
			}
			t.Fatalf("waiting for %s: still not the case after %s%s", what, waitLimit, msg)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// count runs a COUNT(*) query.
func count(t testing.TB, db *sql.DB, query string, args ...any) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var n int
	if err := db.QueryRowContext(ctx, query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// waitQueued polls until queue q holds at least n ready messages.
func (s *system) waitQueued(t testing.TB, q string, n int) {
	t.Helper()
	conn, err := amqp.Dial(s.amqpDirect)
	if err != nil {
		t.Fatalf("connecting to the test's vhost: %v", err)
	}
	defer conn.Close()
	var last string
	poll(t, fmt.Sprintf("%d messages in %s", n, q), func() bool {
		ch, err := conn.Channel()
		if err != nil {
			last = err.Error()
			return false
		}
		defer func() { _ = ch.Close() }()
		info, err := ch.QueueDeclarePassive(q, true, false, false, false, nil)
		if err != nil {
			last = err.Error()
			return false
		}
		last = fmt.Sprintf("%d ready", info.Messages)
		return info.Messages >= n
	}, func() string { return last })
}

// logged reports whether the process has logged a JSON line with message
// msg for which match (nil: any) holds.
func (p *process) logged(msg string, match func(line map[string]any) bool) bool {
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		return false
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		var line map[string]any
		if json.Unmarshal(sc.Bytes(), &line) == nil && line["msg"] == msg && (match == nil || match(line)) {
			return true
		}
	}
	return false
}
