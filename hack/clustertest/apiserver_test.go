//go:build cluster

// Package clustertest holds the slow checks of `make cluster-test`: the chart
// installed into a real kube-apiserver (backed by etcd, both built from the Go
// module proxy and cached by the Makefile), and the Tiltfile evaluated by a real
// Tilt. The Makefile passes the binaries in PO_ETCD, PO_KUBE_APISERVER, PO_HELM
// and PO_TILT.
package clustertest

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/progressive-overload/po/services/kit/testkit/localproc"
)

const token = "po-cluster-test-token"

// APIServer is a running etcd + kube-apiserver pair on loopback.
type APIServer struct {
	Kubeconfig string
	Client     *kubernetes.Clientset
	Dir        string
}

func tool(t *testing.T, env string) string {
	t.Helper()
	p := os.Getenv(env)
	if p == "" {
		t.Fatalf("%s is not set: run these tests with `make cluster-test`, which builds the tools and sets it", env)
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("%s=%s: %v", env, p, err)
	}
	return p
}

func freePort(t *testing.T) int {
	t.Helper()
	p, err := localproc.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

type process struct {
	name, logPath string
	cmd           *exec.Cmd
	done          chan struct{}
}

func (p *process) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
}

func (p *process) tail() string {
	b, _ := os.ReadFile(p.logPath)
	if len(b) > 3000 {
		b = b[len(b)-3000:]
	}
	return fmt.Sprintf("--- %s log (tail) ---\n%s", p.name, b)
}

func startProcess(name, bin, logDir string, args ...string) (*process, error) {
	logPath := filepath.Join(logDir, name+".log")
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	p := &process{name: name, logPath: logPath, cmd: cmd, done: make(chan struct{})}
	go func() { cmd.Wait(); logf.Close(); close(p.done) }()
	return p, nil
}

// waitHTTP polls url until it answers 200, the process exits, or timeout.
func waitHTTP(p *process, url string, hdr map[string]string, timeout time.Duration) error {
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	deadline := time.Now().Add(timeout)
	var last string
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			return fmt.Errorf("%s exited before %s answered", p.name, url)
		default:
		}
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("%s not ready after %s: %s", url, timeout, last)
}

// StartAPIServer starts etcd and kube-apiserver for the test (stopped at
// cleanup). Ports are picked free just before use; should another process take
// one in between, the attempt is retried with new ports.
func StartAPIServer(t *testing.T) *APIServer {
	t.Helper()
	var errs []string
	for attempt := 1; attempt <= 3; attempt++ {
		a, procs, err := startAPIServer(t, fmt.Sprintf("attempt%d", attempt))
		if err == nil {
			t.Cleanup(func() {
				for i := len(procs) - 1; i >= 0; i-- {
					procs[i].stop()
					if t.Failed() {
						t.Log(procs[i].tail())
					}
				}
			})
			return a
		}
		msg := err.Error()
		for _, p := range procs {
			p.stop()
			msg += "\n" + p.tail()
		}
		errs = append(errs, msg)
		t.Logf("API server attempt %d failed: %v", attempt, err)
	}
	t.Fatalf("could not start etcd + kube-apiserver:\n%s", strings.Join(errs, "\n\n"))
	return nil
}

func startAPIServer(t *testing.T, sub string) (*APIServer, []*process, error) {
	etcd, apiserver := tool(t, "PO_ETCD"), tool(t, "PO_KUBE_APISERVER")
	dir := filepath.Join(t.TempDir(), sub)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, err
	}
	var procs []*process
	clientPort, peerPort, securePort := freePort(t), freePort(t), freePort(t)
	if clientPort == peerPort || peerPort == securePort || clientPort == securePort {
		return nil, nil, fmt.Errorf("port picked twice")
	}
	clientURL := fmt.Sprintf("http://127.0.0.1:%d", clientPort)
	peerURL := fmt.Sprintf("http://127.0.0.1:%d", peerPort)
	ep, err := startProcess("etcd", etcd, dir,
		"--data-dir", filepath.Join(dir, "etcd"),
		"--listen-client-urls", clientURL, "--advertise-client-urls", clientURL,
		"--listen-peer-urls", peerURL, "--initial-advertise-peer-urls", peerURL,
		"--initial-cluster", "default="+peerURL, "--log-level", "warn")
	if err != nil {
		return nil, procs, err
	}
	procs = append(procs, ep)
	if err := waitHTTP(ep, clientURL+"/health", nil, 60*time.Second); err != nil {
		return nil, procs, err
	}

	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, procs, err
	}
	pub, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	saKey := write("sa.key", pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}))
	saPub := write("sa.pub", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}))
	tokens := write("tokens.csv", []byte(token+`,admin,admin-uid,"system:masters"`+"\n"))
	ap, err := startProcess("kube-apiserver", apiserver, dir,
		"--etcd-servers="+clientURL,
		"--bind-address=127.0.0.1",
		fmt.Sprintf("--secure-port=%d", securePort),
		"--cert-dir="+filepath.Join(dir, "certs"),
		"--service-cluster-ip-range=10.96.0.0/16",
		"--service-account-issuer=https://kubernetes.default.svc",
		"--service-account-key-file="+saPub,
		"--service-account-signing-key-file="+saKey,
		"--token-auth-file="+tokens,
		"--authorization-mode=RBAC")
	if err != nil {
		return nil, procs, err
	}
	procs = append(procs, ap)
	server := fmt.Sprintf("https://127.0.0.1:%d", securePort)
	// Generous: on a loaded 2-core machine the first start takes a while.
	if err := waitHTTP(ap, server+"/readyz", map[string]string{"Authorization": "Bearer " + token}, 3*time.Minute); err != nil {
		return nil, procs, err
	}

	kubeconfig := write("kubeconfig", []byte(fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: test
  cluster:
    server: %s
    insecure-skip-tls-verify: true
users:
- name: admin
  user:
    token: %s
contexts:
- name: test
  context:
    cluster: test
    user: admin
current-context: test
`, server, token)))
	rc, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, procs, err
	}
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, procs, err
	}
	v, err := cs.Discovery().ServerVersion()
	if err != nil {
		return nil, procs, err
	}
	if !strings.HasPrefix(v.GitVersion, "v1.") {
		t.Fatalf("server version %q: the binary was linked without its version", v.GitVersion)
	}
	return &APIServer{Kubeconfig: kubeconfig, Client: cs, Dir: dir}, procs, nil
}

// Namespace creates a namespace with its `default` ServiceAccount (no
// controller-manager runs to create it, and pods cannot be admitted without it).
func (a *APIServer) Namespace(t *testing.T, name string) {
	t.Helper()
	ctx := context.Background()
	if _, err := a.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	if _, err := a.Client.CoreV1().ServiceAccounts(name).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
}
