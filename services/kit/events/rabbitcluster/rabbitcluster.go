// Package rabbitcluster starts a throwaway RabbitMQ cluster of three nodes on
// loopback ports for tests, beside whatever broker the machine runs: each
// node has its own name, AMQP and distribution ports, configuration, data and
// logs, and the three share an Erlang cookie of their own. A test stops and
// restarts nodes under load and asks where a quorum queue's leader is.
//
// It runs the scripts of an installed RabbitMQ (Debian's rabbitmq-server
// package: /usr/lib/rabbitmq/bin; RABBITMQ_SCRIPTS_DIR names another
// directory), not the /usr/sbin wrappers, which switch to the rabbitmq user
// and so to the machine's node's cookie. Each node is a child process of the
// test binary, the Erlang VM itself, stopped by its pid when the test ends
// and killed by the kernel if the test binary dies first. Import it from
// _test.go files only.
package rabbitcluster

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/progressive-overload/po/services/kit/testkit/localproc"
)

// Size is the number of nodes: the smallest cluster in which a quorum queue
// survives the loss of one.
const Size = 3

// ScriptsDirEnv overrides where rabbitmq-server and rabbitmqctl are found.
const ScriptsDirEnv = "RABBITMQ_SCRIPTS_DIR"

const defaultScriptsDir = "/usr/lib/rabbitmq/bin"

// startTimeout bounds how long a node may take to boot or a command to run;
// it only stops a broken start from hanging, nothing measures it.
const startTimeout = 2 * time.Minute

// Cluster is three running nodes joined into one cluster.
type Cluster struct {
	Nodes []*Node
	dir   string // HOME of every node and every rabbitmqctl: the cookie
	bin   string // the scripts directory
}

// Node is one RabbitMQ node of the cluster.
type Node struct {
	Name     string // e.g. po-1234-5f3a-2@localhost
	Port     int    // AMQP, on 127.0.0.1
	DistPort int    // Erlang distribution, on 127.0.0.1
	c        *Cluster
	dir      string

	mu   sync.Mutex
	proc *exec.Cmd     // nil while stopped
	done chan struct{} // closed once proc has been reaped
	gen  int           // how many times it was started, for the log's name
}

// Start starts a cluster of the test's own and stops every node when t ends,
// whether the test passed or not.
func Start(t testing.TB) *Cluster {
	t.Helper()
	bin := os.Getenv(ScriptsDirEnv)
	if bin == "" {
		bin = defaultScriptsDir
	}
	for _, s := range []string{"rabbitmq-server", "rabbitmqctl"} {
		if _, err := os.Stat(filepath.Join(bin, s)); err != nil {
			t.Fatalf("rabbitcluster: %s not found in %s (Debian: apt-get install rabbitmq-server; %s names another directory): the cluster tests need it",
				s, bin, ScriptsDirEnv)
		}
	}
	c := &Cluster{dir: t.TempDir(), bin: bin}
	t.Cleanup(func() {
		c.stopAll()
		if t.Failed() {
			c.logTails(t)
		}
	})
	if err := c.start(); err != nil {
		t.Fatalf("rabbitcluster: %v", err)
	}
	return c
}

// URL is the cluster's AMQP_URL for the default vhost (kit/events): every
// node's URL, comma-separated.
func (c *Cluster) URL() string {
	urls := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		urls[i] = n.URL()
	}
	return strings.Join(urls, ",")
}

// URL is the node's AMQP URL for the default vhost.
func (n *Node) URL() string { return fmt.Sprintf("amqp://guest:guest@127.0.0.1:%d/", n.Port) }

// Node returns the node called name, or nil.
func (c *Cluster) Node(name string) *Node {
	for _, n := range c.Nodes {
		if n.Name == name {
			return n
		}
	}
	return nil
}

func (c *Cluster) start() error {
	cookie := make([]byte, 16)
	_, _ = rand.Read(cookie)
	// Erlang refuses a cookie file others may read.
	if err := os.WriteFile(filepath.Join(c.dir, ".erlang.cookie"), []byte(hex.EncodeToString(cookie)), 0o400); err != nil {
		return err
	}
	ports, err := localproc.FreePorts(2 * Size)
	if err != nil {
		return err
	}
	// epmd knows nodes by name, and other test binaries start clusters too.
	prefix := fmt.Sprintf("po-%d-%s", os.Getpid(), hex.EncodeToString(cookie[:2]))
	for i := range Size {
		n := &Node{Name: fmt.Sprintf("%s-%d@localhost", prefix, i+1), Port: ports[2*i], DistPort: ports[2*i+1], c: c,
			dir: filepath.Join(c.dir, strconv.Itoa(i+1))}
		if err := n.configure(); err != nil {
			return err
		}
		c.Nodes = append(c.Nodes, n)
	}
	// The nodes boot in parallel: booting is most of the time a cluster takes.
	errs := make([]error, Size)
	var wg sync.WaitGroup
	for i, n := range c.Nodes {
		wg.Go(func() { errs[i] = n.boot() })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	// One after the other: each join changes the cluster's membership, which
	// the first node coordinates.
	first := c.Nodes[0]
	for _, n := range c.Nodes[1:] {
		for _, args := range [][]string{{"stop_app"}, {"join_cluster", first.Name}, {"start_app"}} {
			if _, err := n.ctl(args...); err != nil {
				return err
			}
		}
	}
	_, err = first.ctl("await_online_nodes", strconv.Itoa(Size))
	return err
}

// configure writes the node's own files, so that it reads nothing of
// /etc/rabbitmq (which describes the machine's node and its port).
func (n *Node) configure() error {
	if err := os.MkdirAll(n.dir, 0o700); err != nil {
		return err
	}
	files := map[string]string{
		"enabled_plugins":   "[].\n",
		"rabbitmq-env.conf": "",
		"rabbitmq.conf":     fmt.Sprintf("listeners.tcp.local = 127.0.0.1:%d\n", n.Port),
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(n.dir, name), []byte(body), 0o600); err != nil {
			return err
		}
	}
	return nil
}

// env is the environment of the node and of rabbitmqctl aimed at it: the
// test binary's, without what would point either at another node.
func (n *Node) env() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "RABBITMQ_") && !strings.HasPrefix(kv, "ERL_") && !strings.HasPrefix(kv, "HOME=") {
			env = append(env, kv)
		}
	}
	return append(env,
		"HOME="+n.c.dir,
		"RABBITMQ_CONF_ENV_FILE="+filepath.Join(n.dir, "rabbitmq-env.conf"),
		"RABBITMQ_CONFIG_FILE="+filepath.Join(n.dir, "rabbitmq.conf"),
		"RABBITMQ_ENABLED_PLUGINS_FILE="+filepath.Join(n.dir, "enabled_plugins"),
		"RABBITMQ_NODENAME="+n.Name,
		"ERL_EPMD_ADDRESS=127.0.0.1",
	)
}

func (n *Node) serverEnv() []string {
	return append(n.env(),
		"RABBITMQ_NODE_IP_ADDRESS=127.0.0.1",
		"RABBITMQ_NODE_PORT="+strconv.Itoa(n.Port),
		"RABBITMQ_DIST_PORT="+strconv.Itoa(n.DistPort),
		"RABBITMQ_MNESIA_BASE="+filepath.Join(n.dir, "mnesia"),
		"RABBITMQ_LOG_BASE="+filepath.Join(n.dir, "log"),
		// The script then execs the VM instead of waiting for it as a
		// child: the pid is the node's, and so is the parent-death signal.
		// -noinput keeps the shell that the variable would open away.
		"RABBITMQ_ALLOW_INPUT=1",
		// Loopback only; and schedulers that sleep when idle rather than
		// spin, on machines whose few cores the tests share.
		"RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=-noinput -kernel inet_dist_use_interface {127,0,0,1} +sbwt none +sbwtdcpu none +sbwtdio none",
	)
}

// boot starts the node's process and waits until it accepts AMQP
// connections.
func (n *Node) boot() error {
	n.mu.Lock()
	if n.proc != nil {
		n.mu.Unlock()
		return fmt.Errorf("%s is running", n.Name)
	}
	n.gen++
	logPath := filepath.Join(n.dir, fmt.Sprintf("node.%d.log", n.gen))
	log, err := os.Create(logPath)
	if err != nil {
		n.mu.Unlock()
		return err
	}
	defer log.Close() // the child holds its own descriptor
	cmd := exec.Command(filepath.Join(n.c.bin, "rabbitmq-server"))
	cmd.Env = n.serverEnv()
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = localproc.DieWithParent()
	if err := cmd.Start(); err != nil {
		n.mu.Unlock()
		return fmt.Errorf("start %s: %w", n.Name, err)
	}
	done := make(chan struct{})
	n.proc, n.done = cmd, done
	n.mu.Unlock()
	go func() {
		_ = cmd.Wait()
		close(done)
	}()

	addr := "127.0.0.1:" + strconv.Itoa(n.Port)
	deadline := time.Now().Add(startTimeout)
	for {
		select {
		case <-done:
			out, _ := os.ReadFile(logPath)
			return fmt.Errorf("%s exited while booting:\n%s", n.Name, tail(out, 3000))
		default:
		}
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			_ = c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			out, _ := os.ReadFile(logPath)
			return fmt.Errorf("%s does not listen on %s after %s:\n%s", n.Name, addr, startTimeout, tail(out, 3000))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Restart starts a stopped node again on its ports and data, and waits until
// it runs and has rejoined the cluster.
func (n *Node) Restart(t testing.TB) {
	t.Helper()
	if err := n.boot(); err != nil {
		t.Fatalf("rabbitcluster: %v", err)
	}
	if _, err := n.ctl("await_startup"); err != nil {
		t.Fatalf("rabbitcluster: %v", err)
	}
	if _, err := n.ctl("await_online_nodes", strconv.Itoa(Size)); err != nil {
		t.Fatalf("rabbitcluster: %v", err)
	}
}

// Stop stops the node the way an operator does (rabbitmqctl stop: clients
// are disconnected, queue leadership moves to the other nodes) and waits
// for its process to end.
func (n *Node) Stop(t testing.TB) {
	t.Helper()
	n.mu.Lock()
	proc, done := n.proc, n.done
	n.mu.Unlock()
	if proc == nil {
		t.Fatalf("rabbitcluster: %s is not running", n.Name)
	}
	if _, err := n.ctl("stop"); err != nil {
		t.Errorf("rabbitcluster: %v", err)
	}
	select {
	case <-done:
	case <-time.After(startTimeout):
		t.Errorf("rabbitcluster: %s still runs %s after rabbitmqctl stop; killing it", n.Name, startTimeout)
		_ = proc.Process.Kill()
		<-done
	}
	n.mu.Lock()
	n.proc, n.done = nil, nil
	n.mu.Unlock()
}

// Kill ends the node with SIGKILL, as a crash would, and waits for it.
func (n *Node) Kill() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.proc == nil {
		return
	}
	_ = n.proc.Process.Kill()
	<-n.done
	n.proc, n.done = nil, nil
}

// Running reports whether the node's process runs.
func (n *Node) Running() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.proc != nil
}

// Pid is the node's process id, 0 while it is stopped.
func (n *Node) Pid() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.proc == nil {
		return 0
	}
	return n.proc.Process.Pid
}

// stopAll kills every node: the data is the test's and thrown away, so a
// graceful stop would save nothing.
func (c *Cluster) stopAll() {
	for _, n := range c.Nodes {
		n.Kill()
	}
}

// Ctl runs rabbitmqctl against the node and returns its output.
func (n *Node) Ctl(t testing.TB, args ...string) string {
	t.Helper()
	out, err := n.ctl(args...)
	if err != nil {
		t.Fatalf("rabbitcluster: %v", err)
	}
	return out
}

func (n *Node) ctl(args ...string) (string, error) {
	return n.run("rabbitmqctl", args...)
}

func (n *Node) run(tool string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(n.c.bin, tool), append([]string{"-n", n.Name, "-q"}, args...)...)
	cmd.Env = n.env()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%s -n %s %s: %w: %s %s", tool, n.Name, strings.Join(args, " "), err,
			bytes.TrimSpace(stdout.Bytes()), bytes.TrimSpace(stderr.Bytes()))
	}
	return stdout.String(), nil
}

// Queue is what the cluster says of a queue of the default vhost.
type Queue struct {
	Name    string   `json:"name"`
	Type    string   `json:"type"`
	Leader  string   `json:"leader"`  // the node of a quorum queue's leader
	Members []string `json:"members"` // the nodes holding a replica
	Online  []string `json:"online"`  // the members that run now
}

// Queues lists the default vhost's queues, asked of any running node.
func (c *Cluster) Queues(t testing.TB) []Queue {
	t.Helper()
	for _, n := range c.Nodes {
		if !n.Running() {
			continue
		}
		out := n.Ctl(t, "list_queues", "--formatter", "json", "name", "type", "leader", "members", "online")
		var qs []Queue
		if err := json.Unmarshal([]byte(out), &qs); err != nil {
			t.Fatalf("rabbitcluster: list_queues: %v:\n%s", err, out)
		}
		return qs
	}
	t.Fatal("rabbitcluster: no node runs")
	return nil
}

// Queue is one queue of Queues; the test fails when there is none so named.
func (c *Cluster) Queue(t testing.TB, name string) Queue {
	t.Helper()
	for _, q := range c.Queues(t) {
		if q.Name == name {
			return q
		}
	}
	t.Fatalf("rabbitcluster: no queue %s", name)
	return Queue{}
}

// Connection is a client's connection to the cluster.
type Connection struct {
	Name string // the client-provided connection name
	Node string // the node it is connected to
}

// Connections lists the clients' connections to every running node.
func (c *Cluster) Connections(t testing.TB) []Connection {
	t.Helper()
	for _, n := range c.Nodes {
		if !n.Running() {
			continue
		}
		out := n.Ctl(t, "list_connections", "--formatter", "json", "port", "client_properties")
		var rows []struct {
			Port  int     `json:"port"`
			Props [][]any `json:"client_properties"` // [key, type, value]
		}
		if err := json.Unmarshal([]byte(out), &rows); err != nil {
			t.Fatalf("rabbitcluster: list_connections: %v:\n%s", err, out)
		}
		conns := make([]Connection, 0, len(rows))
		for _, r := range rows {
			var conn Connection
			for _, p := range r.Props {
				if len(p) == 3 && p[0] == "connection_name" {
					conn.Name, _ = p[2].(string)
				}
			}
			for _, m := range c.Nodes {
				if m.Port == r.Port {
					conn.Node = m.Name
				}
			}
			conns = append(conns, conn)
		}
		return conns
	}
	t.Fatal("rabbitcluster: no node runs")
	return nil
}

// logTails puts the end of each node's log into the test's output: the
// directory goes when the test ends.
func (c *Cluster) logTails(t testing.TB) {
	for _, n := range c.Nodes {
		out, err := os.ReadFile(filepath.Join(n.dir, "log", strings.TrimSuffix(n.Name, "@localhost")+"@localhost.log"))
		if err != nil {
			t.Logf("%s: no log: %v", n.Name, err)
			continue
		}
		t.Logf("%s: end of its log:\n%s", n.Name, tail(out, 6000))
	}
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}
