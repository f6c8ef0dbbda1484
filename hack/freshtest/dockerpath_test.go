//go:build fresh

package freshtest

// The Docker path of hack/scripts/ensure-deps.sh, on this machine's engine: the
// three dependencies as containers (no registry is reachable here, so the images
// are hack/offline's stand-ins, named with PO_DEV_*_IMAGE), on free loopback
// ports and under a prefix of the test's own, so that the machine's own MariaDB,
// Redis and RabbitMQ and a developer's po-dev-* containers are never touched.

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/redis/go-redis/v9"

	"github.com/progressive-overload/po/hack/offline"
	"github.com/progressive-overload/po/hack/reporoot"
	"github.com/progressive-overload/po/services/kit/testkit/localproc"
)

func TestDockerPath(t *testing.T) {
	ctx := deadlineCtx(t)
	root := reporoot.Dir()
	dir := os.Getenv("FRESH_TEST_DIR")
	if dir == "" {
		dir = t.TempDir()
	}
	docker := engine(t, ctx)

	// The stand-ins of hack/offline.
	images := map[string]string{"mysql": "po-offline/mysql:8.4", "redis": "po-offline/redis:7.4", "rabbitmq": "po-offline/rabbitmq:3.13-management"}
	logf, err := os.Create(filepath.Join(dir, "standins.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	t0 := time.Now()
	b := offline.Builder{Config: offline.Config{Root: root, Docker: docker, Log: logf}}
	if err := b.EnsureDebian(ctx); err != nil {
		t.Fatalf("debian base: %v (log %s)", err, logf.Name())
	}
	for _, img := range offline.Set(b.Config) {
		for _, ref := range images {
			if img.Ref == ref {
				if err := b.EnsureImage(ctx, img); err != nil {
					t.Fatalf("%s: %v (log %s)", ref, err, logf.Name())
				}
			}
		}
	}
	t.Logf("FIGURE the stand-in images built or found current: %s", time.Since(t0).Round(time.Second))

	ports, err := localproc.FreePorts(4)
	if err != nil {
		t.Fatal(err)
	}
	prefix := "po-devtest-" + randomHex(3)
	addr := func(i int) string { return "127.0.0.1:" + strconv.Itoa(ports[i]) }
	env := append(os.Environ(),
		"PO_DEV_DEPS=docker", "PO_DEV_CONTAINER_PREFIX="+prefix,
		"MYSQL_ADDR="+addr(0), "REDIS_ADDR="+addr(1), "AMQP_ADDR="+addr(2),
		"PO_DEV_RABBITMQ_MANAGEMENT_PORT="+strconv.Itoa(ports[3]),
		"PO_DEV_MYSQL_IMAGE="+images["mysql"], "PO_DEV_REDIS_IMAGE="+images["redis"], "PO_DEV_RABBITMQ_IMAGE="+images["rabbitmq"])
	script := filepath.Join(root, "hack", "scripts", "ensure-deps.sh")
	containers := func() map[string]string { // name -> id
		out, err := exec.Command(docker, "ps", "-a", "--filter", "label=org.progressive-overload.dev-dependency="+prefix,
			"--format", "{{.Names}} {{.ID}}").Output()
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]string{}
		for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			if f := strings.Fields(l); len(f) == 2 {
				m[f[0]] = f[1]
			}
		}
		return m
	}
	deps := func(args ...string) string {
		t.Helper()
		c, cancel := context.WithTimeout(ctx, 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(c, script, args...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err != nil {
			var logs strings.Builder
			for name := range containers() {
				l, _ := exec.Command(docker, "logs", "--tail", "20", name).CombinedOutput()
				fmt.Fprintf(&logs, "--- docker logs %s (last lines):\n%s", name, l)
			}
			t.Fatalf("ensure-deps.sh %s: %v:\n%s%s", strings.Join(args, " "), err, out, logs.String())
		}
		return string(out)
	}
	t.Cleanup(func() {
		for name := range containers() {
			_ = exec.Command(docker, "rm", "-f", "-v", name).Run()
		}
	})
	// A container of someone else's beside ours: clean must leave it.
	other := prefix + "-bystander"
	if out, err := exec.Command(docker, "run", "-d", "--name", other, "--label", "org.progressive-overload.dev-dependency=po-dev-other",
		images["redis"], "sleep", "300").CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command(docker, "rm", "-f", other).Run() })

	t0 = time.Now()
	out := deps("--test")
	t.Logf("FIGURE three containers created and answering: %s\n%s", time.Since(t0).Round(100*time.Millisecond), out)
	first := containers()
	for _, n := range []string{"mariadb", "redis", "rabbitmq"} {
		id, ok := first[prefix+"-"+n]
		if !ok {
			t.Fatalf("no container %s-%s: %v", prefix, n, first)
		}
		bindings, err := exec.Command(docker, "inspect", "--format", `{{range $p, $b := .HostConfig.PortBindings}}{{range $b}}{{.HostIp}} {{end}}{{end}}`, id).Output()
		if err != nil {
			t.Fatal(err)
		}
		for _, ip := range strings.Fields(string(bindings)) {
			if ip != "127.0.0.1" {
				t.Errorf("%s-%s publishes a port on %q, not on loopback only", prefix, n, ip)
			}
		}
	}
	checkServices(t, ctx, addr(0), addr(1), addr(2), ports[3])

	// Reused: nothing new when they run, started again when stopped.
	if out := deps(); strings.Contains(out, "running ") || strings.Contains(out, "starting") {
		t.Errorf("a second run with the containers up did something:\n%s", out)
	}
	if out, err := exec.Command(docker, "stop", prefix+"-redis").CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if out := deps(); !strings.Contains(out, "starting the existing container "+prefix+"-redis") {
		t.Errorf("a stopped container was not started again:\n%s", out)
	}
	if again := containers(); fmt.Sprint(again) != fmt.Sprint(first) {
		t.Errorf("containers changed: %v, then %v", first, again)
	}
	checkServices(t, ctx, addr(0), addr(1), addr(2), ports[3])

	// make clean's part: ours go, the bystander stays.
	deps("clean")
	if left := containers(); len(left) != 0 {
		t.Errorf("clean left %v", left)
	}
	if err := exec.Command(docker, "container", "inspect", other).Run(); err != nil {
		t.Errorf("clean removed a container it did not create (%s)", other)
	}
}

// checkServices speaks each protocol as the services and the tests do: root
// without a password over TCP, Redis PING, AMQP as guest, and the management
// API that the tests create their vhosts through.
func checkServices(t *testing.T, ctx context.Context, mysqlAddr, redisAddr, amqpAddr string, mgmtPort int) {
	t.Helper()
	db, err := sql.Open("mysql", "root@tcp("+mysqlAddr+")/")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var v string
	if err := db.QueryRowContext(ctx, "SELECT VERSION()").Scan(&v); err != nil {
		t.Errorf("MySQL as root@tcp without a password: %v", err)
	}
	rc := redis.NewClient(&redis.Options{Addr: redisAddr})
	defer rc.Close()
	if err := rc.Ping(ctx).Err(); err != nil {
		t.Errorf("Redis PING: %v", err)
	}
	conn, err := amqp.Dial("amqp://guest:guest@" + amqpAddr + "/")
	if err != nil {
		t.Errorf("AMQP as guest: %v", err)
	} else {
		conn.Close()
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d/api/overview", mgmtPort), nil)
	req.SetBasicAuth("guest", "guest")
	var status int
	for i := 0; i < 60; i++ { // the management listener may come a moment after AMQP's
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			status = resp.StatusCode
			resp.Body.Close()
			if status == http.StatusOK {
				break
			}
		}
		time.Sleep(500 * time.Millisecond)
	}
	if status != http.StatusOK {
		t.Errorf("RabbitMQ management API as guest: status %d", status)
	}
	t.Logf("MySQL %s, Redis, AMQP and the management API answer", v)
}
