// Package redistest starts throwaway Redis deployments on loopback ports for
// tests: a Redis Cluster of three masters, and a primary watched by one
// Sentinel. They run Debian's redis-server (the same binary runs cluster
// nodes and sentinels) as child processes, each stopped by its pid when the
// test or the test binary ends, and a URL in the form kit/redisclient reads.
// Import it from _test.go files only.
package redistest

import (
	"bufio"
	"context"
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

	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/progressive-overload/po/services/kit/testkit/localproc"
)

// startTimeout bounds how long a deployment may take to come up; it is not
// a measurement, only where a broken start gives up.
const startTimeout = 30 * time.Second

// Cluster is a running Redis Cluster: three masters, no replicas, the 16384
// slots split evenly.
type Cluster struct {
	// Addrs are the masters' host:port, in slot order.
	Addrs []string
	s     *servers
}

// URL is the cluster's REDIS_URL (kit/redisclient): every master as a seed.
func (c *Cluster) URL() string {
	u := "redis+cluster://" + c.Addrs[0]
	for i, a := range c.Addrs[1:] {
		sep := "&"
		if i == 0 {
			sep = "?"
		}
		u += sep + "addr=" + a
	}
	return u
}

// Client is a cluster client for assertions, closed when t ends.
func (c *Cluster) Client(t testing.TB) *redis.ClusterClient {
	rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs})
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

// StopMaster kills master i (of Addrs), for a test of what a client does
// when one node of the cluster dies. Only on a cluster of the test's own
// (StartCluster), never on the shared one.
func (c *Cluster) StopMaster(i int) {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	p := c.s.procs[i]
	_ = p.Process.Kill()
	_ = p.Wait()
}

// StartCluster starts a cluster of the test's own, stopped when t ends.
func StartCluster(t testing.TB) *Cluster {
	t.Helper()
	dir := t.TempDir()
	c, err := startCluster(dir)
	if err != nil {
		t.Fatalf("redistest: %v", err)
	}
	t.Cleanup(c.s.stop)
	return c
}

var shared struct {
	sync.Mutex
	c   *Cluster
	err error
}

// SharedCluster is one cluster for the whole test binary, started by the
// first test that asks for it: a cluster takes a second or two to form, and
// the tests of a package can share one because each uses its own key
// prefix. The package's TestMain must pass StopSharedAtExit to its leak
// check, which stops it once all tests have run.
func SharedCluster(t testing.TB) *Cluster {
	t.Helper()
	shared.Lock()
	defer shared.Unlock()
	if shared.c == nil && shared.err == nil {
		dir, err := os.MkdirTemp("", "redistest-")
		if err == nil {
			shared.c, err = startCluster(dir)
			if err != nil {
				_ = os.RemoveAll(dir)
			}
		}
		shared.err = err
	}
	if shared.err != nil {
		t.Fatalf("redistest: %v", shared.err)
	}
	return shared.c
}

// StopSharedAtExit is the goleak option (for leaktest.VerifyTestMain or
// testkit.Main) that stops the shared cluster after the tests and the leak
// check, then exits with the tests' code. The cluster's processes hold no
// goroutine of the test binary, so the check runs with them still up.
func StopSharedAtExit() goleak.Option {
	return goleak.Cleanup(func(code int) {
		stopShared()
		os.Exit(code)
	})
}

func stopShared() {
	shared.Lock()
	defer shared.Unlock()
	if shared.c != nil {
		shared.c.s.stop()
		_ = os.RemoveAll(shared.c.s.dir)
		shared.c = nil
	}
}

// Sentinel is a Redis primary and one Sentinel monitoring it (quorum 1).
type Sentinel struct {
	// Master is the name the sentinel knows the primary by.
	Master string
	// Addr is the sentinel's host:port, PrimaryAddr the primary's.
	Addr, PrimaryAddr string
	s                 *servers
}

// URL is the REDIS_URL (kit/redisclient) that finds the primary through the
// sentinel.
func (s *Sentinel) URL() string {
	return "redis+sentinel://" + s.Addr + "?master_name=" + s.Master
}

// StartSentinel starts a primary and its sentinel, stopped when t ends.
func StartSentinel(t testing.TB) *Sentinel {
	t.Helper()
	s, err := startSentinel(t.TempDir())
	if err != nil {
		t.Fatalf("redistest: %v", err)
	}
	t.Cleanup(s.s.stop)
	return s
}

// servers are the child processes of one deployment.
type servers struct {
	dir   string
	mu    sync.Mutex
	procs []*exec.Cmd
}

// stop kills every process and reaps it. The data is throwaway, so there is
// nothing a graceful shutdown would save.
func (s *servers) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.procs {
		if p.ProcessState == nil { // not reaped yet (StopMaster reaps)
			_ = p.Process.Kill()
			_ = p.Wait()
		}
	}
	s.procs = nil
}

func serverBinary() (string, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return "", errors.New("redis-server is not installed (Debian: apt-get install redis-server; " +
			"its binary runs cluster nodes and sentinels): the Redis Cluster and Sentinel tests need it")
	}
	return bin, nil
}

// start runs redis-server with args, its output in dir/<name>.log, and
// waits until it answers PING.
func (s *servers) start(name, addr string, args ...string) error {
	bin, err := serverBinary()
	if err != nil {
		return err
	}
	logPath := filepath.Join(s.dir, name+".log")
	log, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer log.Close() // the child holds its own descriptor
	cmd := exec.Command(bin, args...)
	cmd.Dir = s.dir
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = localproc.DieWithParent()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", name, err)
	}
	s.mu.Lock()
	s.procs = append(s.procs, cmd)
	s.mu.Unlock()
	deadline := time.Now().Add(startTimeout)
	for !pings(addr) {
		if time.Now().After(deadline) {
			out, _ := os.ReadFile(logPath)
			return fmt.Errorf("%s did not answer on %s:\n%s", name, addr, tail(out, 2000))
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil
}

// pings sends a raw PING, so that no go-redis pool (whose failed dials leave
// goroutines behind for a while) is involved before the server is up.
func pings(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return false
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && strings.HasPrefix(line, "+PONG")
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// common are the flags of every server: loopback only, nothing on disk.
func common(port int) []string {
	return []string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--daemonize", "no"}
}

// attempts is how often a start is tried on new ports.
const attempts = 3

func startCluster(dir string) (*Cluster, error) {
	var err error
	for range attempts {
		var c *Cluster
		if c, err = tryCluster(dir); err == nil {
			return c, nil
		}
	}
	return nil, err
}

func tryCluster(dir string) (c *Cluster, err error) {
	const masters = 3
	ports, err := localproc.FreePorts(2 * masters) // client ports, then cluster bus ports
	if err != nil {
		return nil, err
	}
	s := &servers{dir: dir}
	defer func() {
		if err != nil {
			s.stop()
		}
	}()
	c = &Cluster{s: s}
	for i := range masters {
		port, bus := ports[i], ports[masters+i]
		addr := "127.0.0.1:" + strconv.Itoa(port)
		c.Addrs = append(c.Addrs, addr)
		args := append(common(port), "--cluster-enabled", "yes",
			"--cluster-config-file", filepath.Join(dir, fmt.Sprintf("nodes-%d.conf", port)),
			"--cluster-port", strconv.Itoa(bus))
		if err := s.start(fmt.Sprintf("node-%d", port), addr, args...); err != nil {
			return nil, err
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	clients := make([]*redis.Client, masters)
	for i, a := range c.Addrs {
		clients[i] = redis.NewClient(&redis.Options{Addr: a, MaxRetries: -1})
		defer clients[i].Close()
	}
	// What redis-cli --cluster create does, without needing redis-cli: a
	// distinct config epoch per node (so they need not settle one), an even
	// share of the slots each, then every node meets the first.
	const slots = 16384
	for i, rdb := range clients {
		lo, hi := i*slots/masters, (i+1)*slots/masters-1
		if err := rdb.Do(ctx, "CLUSTER", "SET-CONFIG-EPOCH", i+1).Err(); err != nil {
			return nil, fmt.Errorf("%s: CLUSTER SET-CONFIG-EPOCH: %w", c.Addrs[i], err)
		}
		if err := rdb.Do(ctx, "CLUSTER", "ADDSLOTSRANGE", lo, hi).Err(); err != nil {
			return nil, fmt.Errorf("%s: CLUSTER ADDSLOTSRANGE: %w", c.Addrs[i], err)
		}
	}
	for i := 1; i < masters; i++ {
		if err := clients[0].Do(ctx, "CLUSTER", "MEET", "127.0.0.1", ports[i], ports[masters+i]).Err(); err != nil {
			return nil, fmt.Errorf("CLUSTER MEET %s: %w", c.Addrs[i], err)
		}
	}
	// Ready when every node sees every node and every slot served.
	for i, rdb := range clients {
		for {
			info, err := rdb.ClusterInfo(ctx).Result()
			if err == nil && strings.Contains(info, "cluster_state:ok") &&
				strings.Contains(info, "cluster_known_nodes:"+strconv.Itoa(masters)+"\r") &&
				strings.Contains(info, "cluster_slots_ok:"+strconv.Itoa(slots)+"\r") {
				break
			}
			if ctx.Err() != nil {
				return nil, fmt.Errorf("cluster did not form (%s: %v):\n%s", c.Addrs[i], err, info)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return c, nil
}

func startSentinel(dir string) (*Sentinel, error) {
	var err error
	for range attempts {
		var s *Sentinel
		if s, err = trySentinel(dir); err == nil {
			return s, nil
		}
	}
	return nil, err
}

func trySentinel(dir string) (sn *Sentinel, err error) {
	ports, err := localproc.FreePorts(2)
	if err != nil {
		return nil, err
	}
	s := &servers{dir: dir}
	defer func() {
		if err != nil {
			s.stop()
		}
	}()
	sn = &Sentinel{Master: "po-primary", PrimaryAddr: "127.0.0.1:" + strconv.Itoa(ports[0]),
		Addr: "127.0.0.1:" + strconv.Itoa(ports[1]), s: s}
	if err := s.start(fmt.Sprintf("primary-%d", ports[0]), sn.PrimaryAddr, common(ports[0])...); err != nil {
		return nil, err
	}
	// A sentinel rewrites its configuration file, so it needs one of its own.
	conf := filepath.Join(dir, fmt.Sprintf("sentinel-%d.conf", ports[1]))
	body := fmt.Sprintf("port %d\nbind 127.0.0.1\ndir %s\nsentinel monitor %s 127.0.0.1 %d 1\n",
		ports[1], dir, sn.Master, ports[0])
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		return nil, err
	}
	if err := s.start(fmt.Sprintf("sentinel-%d", ports[1]), sn.Addr, conf, "--sentinel"); err != nil {
		return nil, err
	}
	return sn, nil
}
