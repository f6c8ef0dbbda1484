package chaos

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/progressive-overload/po/hack/bench"
)

// Replica is one process of a service, restartable on the same ports.
type Replica struct {
	Service  string // account or challenge
	Index    int    // 1-based
	HTTPPort int
	Debug    int
	bin      string
	env      []string
	logDir   string

	mu   sync.Mutex
	proc *bench.Proc
	gen  int
}

// Name is e.g. "challenge-2", the HAProxy server name too.
func (r *Replica) Name() string { return fmt.Sprintf("%s-%d", r.Service, r.Index) }

// Addr is the HTTP listen address.
func (r *Replica) Addr() string { return "127.0.0.1:" + strconv.Itoa(r.HTTPPort) }

// URL is the replica's own base URL (not through the balancer).
func (r *Replica) URL() string { return "http://" + r.Addr() }

// Incarnation names the current process, for the counters.
func (r *Replica) Incarnation() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return fmt.Sprintf("%s#%d", r.Name(), r.gen)
}

// Start starts the process and waits for /readyz.
func (r *Replica) Start(ctx context.Context) error {
	r.mu.Lock()
	r.gen++
	gen := r.gen
	r.mu.Unlock()
	if err := bench.PortFree(r.Addr()); err != nil {
		return err
	}
	p, err := bench.StartProc(r.Name(), r.bin, []string{"serve"}, r.env, filepath.Join(r.logDir, fmt.Sprintf("%s.%d.log", r.Name(), gen)))
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.proc = p
	r.mu.Unlock()
	return bench.WaitReady(ctx, p, r.URL()+"/readyz", 60*time.Second)
}

// Kill sends SIGKILL and waits for the process to be gone.
func (r *Replica) Kill() error {
	p := r.current()
	if p == nil {
		return nil
	}
	if err := p.Signal(syscall.SIGKILL); err != nil {
		return err
	}
	<-p.Done()
	return nil
}

// Stop sends SIGTERM and waits for the drain (SHUTDOWN_TIMEOUT) to finish.
func (r *Replica) Stop() error {
	p := r.current()
	if p == nil {
		return nil
	}
	return p.Stop(30 * time.Second)
}

func (r *Replica) current() *bench.Proc {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.proc
}

// Pid is the current process' pid, 0 when none runs.
func (r *Replica) Pid() int {
	p := r.current()
	if p == nil {
		return 0
	}
	if ok, _ := p.Exited(); ok {
		return 0
	}
	return p.Pid()
}

// Metrics fetches /metrics from the replica itself.
func (r *Replica) Metrics(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, r.URL()+"/metrics", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// Databases of the run (on its own MariaDB).
const (
	AccountDB   = "po_account"
	ChallengeDB = "po_challenge"
)

// ServiceEnv is the environment of a replica; the values the load relies
// on are explicit rather than defaults.
func ServiceEnv(svc string, httpPort, debugPort int, db *MariaDB, redisAddr, amqpURL, keyFile, jwksURL string) []string {
	env := []string{
		"HTTP_ADDR=127.0.0.1:" + strconv.Itoa(httpPort),
		"DEBUG_ADDR=127.0.0.1:" + strconv.Itoa(debugPort),
		"REDIS_URL=redis://" + redisAddr + "/0",
		"AMQP_URL=" + amqpURL,
		"AMQP_EXCHANGE=po.events",
		"LOG_FORMAT=json",
		"LOG_LEVEL=info",
		"SHUTDOWN_TIMEOUT=10s",
		// Only the balancer on loopback forwards requests.
		"TRUSTED_PROXIES=127.0.0.1",
	}
	switch svc {
	case "account":
		env = append(env,
			"DATABASE_URL="+db.DSN(AccountDB),
			"JWT_SIGNING_KEY_FILE="+keyFile,
			"JWT_PREVIOUS_KEY_FILES=",
			"ACCESS_TOKEN_TTL=6h",
			// The users sign in once at the start; the load never hashes.
			"PASSWORD_HASH_MEMORY_KIB=1024", "PASSWORD_HASH_ITERATIONS=1", "PASSWORD_HASH_PARALLELISM=1",
		)
	case "challenge":
		env = append(env,
			"DATABASE_URL="+db.DSN(ChallengeDB),
			"JWKS_URL="+jwksURL,
			"CACHE_ENABLED=true",
		)
	}
	return env
}

// BuildServices builds the account and challenge binaries and genkey into dir.
func BuildServices(ctx context.Context, root, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return bench.RunCmd(ctx, root, []string{"GOWORK=" + filepath.Join(root, "go.work")}, "go", "build", "-trimpath", "-o", dir+string(os.PathSeparator),
		"./services/account/cmd/account", "./services/challenge/cmd/challenge", "./services/kit/auth/cmd/genkey")
}
