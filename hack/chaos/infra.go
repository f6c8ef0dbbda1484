package chaos

// The run's own MariaDB, Redis, RabbitMQ and HAProxy: child processes on
// free loopback ports with their state under the run's temporary directory.

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/progressive-overload/po/hack/bench"

	"github.com/progressive-overload/po/services/kit/testkit/localproc"
)

// FreePort is localproc.FreePort: never the same port twice in a run, and
// never one rabbitmqctl needs.
func FreePort() (int, error) { return localproc.FreePort() }

// waitTCP polls addr until it accepts a connection, p exits or timeout passes.
func waitTCP(ctx context.Context, p *bench.Proc, addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		if p != nil {
			if ok, err := p.Exited(); ok {
				return fmt.Errorf("%s exited before it listened on %s (%v); last output:\n%s", p.Name, addr, err, p.Tail(3000))
			}
		}
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: nothing listens after %s", addr, timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Service is a dependency the run can stop and start again.
type Service interface {
	Name() string
	Start(ctx context.Context) error
	Stop() error
	Pid() int
}

// MariaDB is a mariadbd on its own datadir, port and socket.
type MariaDB struct {
	Dir  string
	Port int
	proc *bench.Proc
	gen  int
}

// NewMariaDB creates the datadir with mariadb-install-db.
func NewMariaDB(ctx context.Context, dir string) (*MariaDB, error) {
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	m := &MariaDB{Dir: dir, Port: port}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	// Root by password (none) over TCP rather than unix_socket auth: the
	// services connect as root@tcp like against the shared instance.
	args := []string{"--no-defaults", "--datadir=" + m.dataDir(), "--auth-root-authentication-method=normal", "--skip-test-db"}
	if os.Geteuid() == 0 {
		args = append(args, "--user=root")
	}
	if err := bench.RunCmd(ctx, dir, nil, "mariadb-install-db", args...); err != nil {
		return nil, fmt.Errorf("mariadb-install-db: %w", err)
	}
	return m, nil
}

func (m *MariaDB) dataDir() string { return filepath.Join(m.Dir, "data") }

// Name is the process' name.
func (m *MariaDB) Name() string { return "mariadb" }

// Addr is host:port.
func (m *MariaDB) Addr() string { return "127.0.0.1:" + strconv.Itoa(m.Port) }

// DSN is a go-sql-driver DSN for database db.
func (m *MariaDB) DSN(db string) string { return "root@tcp(" + m.Addr() + ")/" + db }

// Start starts mariadbd and waits until it answers queries.
func (m *MariaDB) Start(ctx context.Context) error {
	m.gen++
	args := []string{"--no-defaults", "--datadir=" + m.dataDir(), "--socket=" + filepath.Join(m.Dir, "mysqld.sock"),
		"--port=" + strconv.Itoa(m.Port), "--bind-address=127.0.0.1", "--pid-file=" + filepath.Join(m.Dir, "mysqld.pid"),
		"--skip-log-bin", "--innodb-buffer-pool-size=128M", "--max-connections=500",
		// The same durability as a production default: a commit is on disk
		// before it is acknowledged, so a restart must lose nothing.
		"--innodb-flush-log-at-trx-commit=1", "--skip-name-resolve"}
	if os.Geteuid() == 0 {
		args = append(args, "--user=root")
	}
	p, err := bench.StartProc("mariadb", "/usr/sbin/mariadbd", args, nil, filepath.Join(m.Dir, fmt.Sprintf("mariadbd.%d.log", m.gen)))
	if err != nil {
		return err
	}
	m.proc = p
	db, err := sql.Open("mysql", m.DSN(""))
	if err != nil {
		return err
	}
	defer db.Close()
	deadline := time.Now().Add(60 * time.Second)
	for {
		if ok, err := p.Exited(); ok {
			return fmt.Errorf("mariadbd exited (%v): %s", err, p.Tail(3000))
		}
		if err := db.PingContext(ctx); err == nil {
			return nil
		} else if time.Now().After(deadline) {
			return fmt.Errorf("mariadbd on %s not answering: %w", m.Addr(), err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Stop shuts mariadbd down cleanly (SIGTERM).
func (m *MariaDB) Stop() error {
	if m.proc == nil {
		return nil
	}
	err := m.proc.Stop(60 * time.Second)
	m.proc = nil
	return err
}

// Pid is mariadbd's pid, 0 when stopped.
func (m *MariaDB) Pid() int {
	if m.proc == nil {
		return 0
	}
	return m.proc.Pid()
}

// Version is the server's version string.
func (m *MariaDB) Version(ctx context.Context) string {
	db, err := sql.Open("mysql", m.DSN(""))
	if err != nil {
		return ""
	}
	defer db.Close()
	var v string
	_ = db.QueryRowContext(ctx, "SELECT VERSION()").Scan(&v)
	return v
}

// Redis is a redis-server without persistence: a restart empties it.
type Redis struct {
	Dir  string
	Port int
	proc *bench.Proc
	gen  int
}

// NewRedis picks Redis' port.
func NewRedis(dir string) (*Redis, error) {
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	return &Redis{Dir: dir, Port: port}, os.MkdirAll(dir, 0o755)
}

// Name is the process' name.
func (r *Redis) Name() string { return "redis" }

// Addr is host:port.
func (r *Redis) Addr() string { return "127.0.0.1:" + strconv.Itoa(r.Port) }

// Start starts redis-server and waits for its PONG.
func (r *Redis) Start(ctx context.Context) error {
	r.gen++
	p, err := bench.StartProc("redis", "redis-server", []string{"--bind", "127.0.0.1", "--port", strconv.Itoa(r.Port),
		"--save", "", "--appendonly", "no", "--dir", r.Dir, "--daemonize", "no"}, nil, filepath.Join(r.Dir, fmt.Sprintf("redis.%d.log", r.gen)))
	if err != nil {
		return err
	}
	r.proc = p
	if err := waitTCP(ctx, p, r.Addr(), 30*time.Second); err != nil {
		return err
	}
	c := redis.NewClient(&redis.Options{Addr: r.Addr()})
	defer c.Close()
	return c.Ping(ctx).Err()
}

// Stop stops redis-server (SIGTERM).
func (r *Redis) Stop() error {
	if r.proc == nil {
		return nil
	}
	err := r.proc.Stop(20 * time.Second)
	r.proc = nil
	return err
}

// Pid is redis-server's pid, 0 when stopped.
func (r *Redis) Pid() int {
	if r.proc == nil {
		return 0
	}
	return r.proc.Pid()
}

// RabbitMQ is a broker node of its own beside the machine's: its own node
// name (epmd, shared, tells nodes apart by name), AMQP and distribution
// ports, configuration, mnesia and log directories, and Erlang cookie
// (HOME), with no plugins.
type RabbitMQ struct {
	Dir            string
	Node           string
	Port, DistPort int
	proc           *bench.Proc
	gen            int
}

// The scripts behind Debian's /usr/sbin wrappers, which would switch to the
// rabbitmq user and its HOME (the shared node's cookie).
const (
	rabbitServer = "/usr/lib/rabbitmq/bin/rabbitmq-server"
	rabbitCtl    = "/usr/lib/rabbitmq/bin/rabbitmqctl"
)

// NewRabbitMQ writes the node's configuration.
func NewRabbitMQ(dir string) (*RabbitMQ, error) {
	r := &RabbitMQ{Dir: dir, Node: fmt.Sprintf("chaos-%d@localhost", os.Getpid())}
	var err error
	if r.Port, err = FreePort(); err != nil {
		return nil, err
	}
	if r.DistPort, err = FreePort(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	files := map[string]string{
		"enabled_plugins": "[].\n",
		// Not /etc/rabbitmq's files: they name the shared node and its port.
		"rabbitmq-env.conf": "",
		"rabbitmq.conf":     fmt.Sprintf("listeners.tcp.local = 127.0.0.1:%d\n", r.Port),
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			return nil, err
		}
	}
	return r, nil
}

func (r *RabbitMQ) env() []string {
	return []string{
		"HOME=" + r.Dir,
		"RABBITMQ_CONF_ENV_FILE=" + filepath.Join(r.Dir, "rabbitmq-env.conf"),
		"RABBITMQ_CONFIG_FILE=" + filepath.Join(r.Dir, "rabbitmq.conf"),
		"RABBITMQ_ENABLED_PLUGINS_FILE=" + filepath.Join(r.Dir, "enabled_plugins"),
		"RABBITMQ_NODENAME=" + r.Node,
		"RABBITMQ_NODE_IP_ADDRESS=127.0.0.1",
		"RABBITMQ_NODE_PORT=" + strconv.Itoa(r.Port),
		"RABBITMQ_DIST_PORT=" + strconv.Itoa(r.DistPort),
		"RABBITMQ_MNESIA_BASE=" + filepath.Join(r.Dir, "mnesia"),
		"RABBITMQ_LOG_BASE=" + filepath.Join(r.Dir, "log"),
		"ERL_EPMD_ADDRESS=127.0.0.1",
		"RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=-kernel inet_dist_use_interface {127,0,0,1}",
	}
}

// Name is the process' name.
func (r *RabbitMQ) Name() string { return "rabbitmq" }

// URL is the AMQP URL of the default vhost.
func (r *RabbitMQ) URL() string { return fmt.Sprintf("amqp://guest:guest@127.0.0.1:%d/", r.Port) }

// Start boots the node and waits until it accepts AMQP connections.
func (r *RabbitMQ) Start(ctx context.Context) error {
	r.gen++
	p, err := bench.StartProc("rabbitmq", rabbitServer, nil, r.env(), filepath.Join(r.Dir, fmt.Sprintf("rabbitmq.%d.log", r.gen)))
	if err != nil {
		return err
	}
	r.proc = p
	return waitTCP(ctx, p, "127.0.0.1:"+strconv.Itoa(r.Port), 120*time.Second)
}

// Stop stops the node: SIGTERM to the wrapper script, which stops the VM.
func (r *RabbitMQ) Stop() error {
	if r.proc == nil {
		return nil
	}
	err := r.proc.Stop(60 * time.Second)
	r.proc = nil
	return err
}

// Pid is the wrapper script's pid (the VM is its child, same process group).
func (r *RabbitMQ) Pid() int {
	if r.proc == nil {
		return 0
	}
	return r.proc.Pid()
}

// Version asks the node its RabbitMQ version.
func (r *RabbitMQ) Version(ctx context.Context) string {
	cmd := exec.CommandContext(ctx, rabbitCtl, "-n", r.Node, "-q", "version")
	cmd.Env = append(os.Environ(), r.env()...)
	out, err := cmd.Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// HAProxy balances each service over its replicas.
type HAProxy struct {
	Dir  string
	proc *bench.Proc
}

// Backend is one balanced service.
type Backend struct {
	Name    string
	Port    int      // the frontend's port
	Servers []string // host:port of each replica
}

// HAProxyConfig renders the configuration: one frontend and backend per
// service, health checks on /readyz, retries only where nothing was sent.
func HAProxyConfig(backends []Backend, statsSocket string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `global
    maxconn 4096
    stats socket %s mode 600 level admin
    log stdout format raw local0 notice

defaults
    mode http
    log global
    option httplog
    option dontlognull
    timeout connect 1s
    timeout client 30s
    timeout server 30s
    timeout http-keep-alive 10s
    # A connection that could not be made sent nothing: trying another
    # replica cannot duplicate a write. Nothing else is retried.
    retries 2
    retry-on conn-failure
    option redispatch 1
`, statsSocket)
	for _, be := range backends {
		fmt.Fprintf(&b, `
frontend %[1]s
    bind 127.0.0.1:%[2]d
    default_backend %[1]s

backend %[1]s
    balance roundrobin
    option httpchk GET /readyz
    http-check expect status 200
    default-server inter 500ms fastinter 250ms downinter 500ms fall 2 rise 2
`, be.Name, be.Port)
		for i, s := range be.Servers {
			fmt.Fprintf(&b, "    server %s-%d %s check\n", be.Name, i+1, s)
		}
	}
	return b.String()
}

// ServerState is a server's status in HAProxy's `show stat` (UP, DOWN, ...).
type ServerState struct{ Backend, Server, Status string }

// ParseShowStat reads the servers' states from `show stat` CSV.
func ParseShowStat(csv string) []ServerState {
	var out []ServerState
	cols := map[string]int{}
	sc := bufio.NewScanner(strings.NewReader(csv))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "# ") {
			for i, c := range strings.Split(strings.TrimPrefix(line, "# "), ",") {
				cols[c] = i
			}
			continue
		}
		f := strings.Split(line, ",")
		get := func(name string) string {
			i, ok := cols[name]
			if !ok || i >= len(f) {
				return ""
			}
			return f[i]
		}
		if sv := get("svname"); sv != "" && sv != "FRONTEND" && sv != "BACKEND" {
			out = append(out, ServerState{Backend: get("pxname"), Server: sv, Status: get("status")})
		}
	}
	return out
}

// EnsureHAProxy installs Debian's haproxy when it is missing and the tool
// runs as root on a Debian-like system.
func EnsureHAProxy(ctx context.Context, logf func(string, ...any)) (string, error) {
	return bench.EnsureDebianPackage(ctx, "haproxy", "haproxy", "/usr/sbin/haproxy", logf)
}

// StartHAProxy writes the configuration and runs haproxy in the foreground.
func StartHAProxy(ctx context.Context, bin, dir string, backends []Backend) (*HAProxy, error) {
	h := &HAProxy{Dir: dir}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	cfg := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(cfg, []byte(HAProxyConfig(backends, h.socket())), 0o600); err != nil {
		return nil, err
	}
	if err := bench.RunCmd(ctx, dir, nil, bin, "-c", "-q", "-f", cfg); err != nil {
		return nil, fmt.Errorf("haproxy config: %w", err)
	}
	p, err := bench.StartProc("haproxy", bin, []string{"-db", "-f", cfg}, nil, filepath.Join(dir, "haproxy.log"))
	if err != nil {
		return nil, err
	}
	h.proc = p
	for _, be := range backends {
		if err := waitTCP(ctx, p, "127.0.0.1:"+strconv.Itoa(be.Port), 20*time.Second); err != nil {
			return h, err
		}
	}
	return h, nil
}

func (h *HAProxy) socket() string { return filepath.Join(h.Dir, "haproxy.sock") }

// States asks HAProxy the state of every server.
func (h *HAProxy) States() ([]ServerState, error) {
	c, err := net.DialTimeout("unix", h.socket(), time.Second)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte("show stat\n")); err != nil {
		return nil, err
	}
	var b strings.Builder
	buf := make([]byte, 32<<10)
	for {
		n, err := c.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return ParseShowStat(b.String()), nil
}

// WaitState waits until HAProxy reports server of backend in status (UP or DOWN).
func (h *HAProxy) WaitState(ctx context.Context, backend, server, status string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	last := "unknown"
	for {
		st, err := h.States()
		if err == nil {
			for _, s := range st {
				if s.Backend == backend && s.Server == server {
					last = s.Status
					if strings.HasPrefix(s.Status, status) {
						return nil
					}
				}
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("haproxy: %s/%s is %s, not %s, after %s", backend, server, last, status, timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Stop stops haproxy.
func (h *HAProxy) Stop() error {
	if h == nil || h.proc == nil {
		return nil
	}
	err := h.proc.Stop(10 * time.Second)
	h.proc = nil
	return err
}

// Pid is haproxy's pid.
func (h *HAProxy) Pid() int {
	if h == nil || h.proc == nil {
		return 0
	}
	return h.proc.Pid()
}
