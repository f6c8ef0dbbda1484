//go:build kind

// Package kindtest is `make kind-test`: the deploy path run for real. It brings
// up a kind cluster of its own with `make up` (sigs.k8s.io/kind as a library,
// hack/cluster), then checks what our users do with it: every pod Ready, the
// README's walk-through through `kubectl port-forward`, Prometheus scraping both
// services for every dashboard query, an idempotent second `make up`, pod kills
// that lose no acknowledged write, a `helm upgrade` under load with no failed
// request, and `tilt ci` plus a live update. `make down` removes it all, even
// when a step fails.
//
// Figures (times, request counts) are logged, never asserted: the machine is
// shared. KIND_IMAGES=offline (the default of make kind-test here) builds every
// image on this machine (hack/offline); upstream pulls them.
package kindtest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/progressive-overload/po/hack/chartkit"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

const (
	namespace = "po"
	release   = "po"
)

// env is one test cluster and the tools to drive it.
type env struct {
	root, dir  string // repository; this run's state (kubeconfig, secrets, logs)
	cluster    string
	kubeconfig string
	kubectl    string
	offline    bool
	cs         *kubernetes.Clientset
}

func newEnv(t *testing.T) *env {
	t.Helper()
	kubectl := os.Getenv("PO_KUBECTL")
	if kubectl == "" {
		t.Fatal("PO_KUBECTL is not set: run make kind-test, which builds kubectl")
	}
	dir := os.Getenv("KIND_TEST_DIR")
	if dir == "" {
		dir = t.TempDir()
	}
	e := &env{
		root:       chartkit.RepoRoot(),
		dir:        dir,
		cluster:    envOr("KIND_TEST_CLUSTER", "po-kindtest"),
		kubeconfig: filepath.Join(dir, "kubeconfig"),
		kubectl:    kubectl,
		offline:    envOr("KIND_IMAGES", "offline") == "offline",
	}
	// A cluster of its own, without the host port mappings of k8s/kind-config.yaml,
	// so that it never collides with a developer's `make up` cluster.
	if err := os.WriteFile(filepath.Join(dir, "kind.yaml"), []byte("kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n  - role: control-plane\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return e
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// upFlags are po-cluster's flags for this env's cluster.
func (e *env) upFlags(extra ...string) string {
	f := []string{"-name", e.cluster, "-kind-config", filepath.Join(e.dir, "kind.yaml"),
		"-kubeconfig", e.kubeconfig, "-dev-secrets", filepath.Join(e.dir, "dev-secrets.yaml")}
	return strings.Join(append(f, extra...), " ")
}

// make runs a make target of the repository, its output into the test log file.
func (e *env) make(t *testing.T, timeout time.Duration, args ...string) (time.Duration, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	images := "upstream"
	if e.offline {
		images = "offline"
	}
	cmd := exec.CommandContext(ctx, "make", append([]string{"-C", e.root, "KIND_IMAGES=" + images}, args...)...)
	log, err := os.OpenFile(filepath.Join(e.dir, "make.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	fmt.Fprintf(log, "\n### make %s\n", strings.Join(args, " "))
	cmd.Stdout, cmd.Stderr = log, log
	start := time.Now()
	err = cmd.Run()
	if err != nil {
		err = fmt.Errorf("make %s: %w (log: %s)", strings.Join(args, " "), err, log.Name())
	}
	return time.Since(start), err
}

func (e *env) clientset(t *testing.T) *kubernetes.Clientset {
	t.Helper()
	if e.cs == nil {
		rc, err := clientcmd.BuildConfigFromFlags("", e.kubeconfig)
		if err != nil {
			t.Fatal(err)
		}
		if e.cs, err = kubernetes.NewForConfig(rc); err != nil {
			t.Fatal(err)
		}
	}
	return e.cs
}

// pods lists the release's pods that are not being deleted.
func (e *env) pods(t *testing.T) []corev1.Pod {
	t.Helper()
	list, err := e.clientset(t).CoreV1().Pods(namespace).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out []corev1.Pod
	for _, p := range list.Items {
		if p.DeletionTimestamp == nil && p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed {
			out = append(out, p)
		}
	}
	return out
}

func ready(p corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func component(p corev1.Pod) string { return p.Labels["app.kubernetes.io/component"] }

// waitReady waits until every pod of the release is Ready and, when want is
// given, those components each have a Ready pod that is not in skip.
func (e *env) waitReady(t *testing.T, timeout time.Duration, skip map[string]bool, want ...string) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		pods, notReady, have := e.pods(t), []string{}, map[string]bool{}
		for _, p := range pods {
			if !ready(p) {
				notReady = append(notReady, p.Name)
			} else if !skip[string(p.UID)] {
				have[component(p)] = true
			}
		}
		missing := []string{}
		for _, w := range want {
			if !have[w] {
				missing = append(missing, w)
			}
		}
		if len(pods) > 0 && len(notReady) == 0 && len(missing) == 0 {
			return time.Since(start)
		}
		if time.Since(start) > timeout {
			t.Fatalf("after %s: pods not ready %v, components without a new ready pod %v", timeout, notReady, missing)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// podState is uid -> restart count of every container.
func (e *env) podState(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, p := range e.pods(t) {
		var rs []string
		for _, c := range p.Status.ContainerStatuses {
			rs = append(rs, fmt.Sprintf("%s=%d", c.Name, c.RestartCount))
		}
		out[p.Name+"/"+string(p.UID)] = strings.Join(rs, ",")
	}
	return out
}

func TestKindCluster(t *testing.T) {
	e := newEnv(t)
	t.Logf("cluster %s, state in %s, images %s", e.cluster, e.dir, map[bool]string{true: "offline", false: "upstream"}[e.offline])
	// make down, even when a step fails: the cluster, the kind network and an
	// engine that make up started go with it.
	t.Cleanup(func() {
		if d, err := e.make(t, 5*time.Minute, "down", "UP_FLAGS="+e.upFlags()); err != nil {
			t.Errorf("make down: %v", err)
		} else {
			t.Logf("make down: %s", d.Round(time.Second))
		}
		out, _ := exec.Command("docker", "ps", "-a", "--filter", "label=io.x-k8s.kind.cluster="+e.cluster, "-q").Output()
		if strings.TrimSpace(string(out)) != "" {
			t.Errorf("make down left the node containers of %s: %s", e.cluster, out)
		}
	})

	d, err := e.make(t, 30*time.Minute, "up", "UP_FLAGS="+e.upFlags())
	if err != nil {
		t.Fatal(err)
	}
	ready := e.waitReady(t, 5*time.Minute, nil, "account", "challenge", "mysql", "redis", "rabbitmq", "prometheus")
	t.Logf("FIGURE make up (cluster created, images built or current, helm --wait): %s; every pod Ready %s later", d.Round(time.Second), ready.Round(time.Second))
	for _, p := range e.pods(t) {
		for _, c := range p.Status.InitContainerStatuses {
			if c.State.Terminated == nil || c.State.Terminated.ExitCode != 0 {
				t.Errorf("pod %s: init container %s did not complete: %+v", p.Name, c.Name, c.State)
			}
		}
	}

	sys := e.system(t)
	t.Run("walk-through through port-forward", func(t *testing.T) { sys.walkThrough(t) })
	t.Run("Prometheus scrapes both services for every dashboard query", func(t *testing.T) { e.prometheus(t, sys) })
	t.Run("a second make up changes nothing", func(t *testing.T) {
		before := e.podState(t)
		d, err := e.make(t, 15*time.Minute, "up", "UP_FLAGS="+e.upFlags())
		if err != nil {
			t.Fatal(err)
		}
		after := e.podState(t)
		t.Logf("FIGURE second make up: %s", d.Round(time.Second))
		if fmt.Sprint(before) != fmt.Sprint(after) {
			t.Errorf("pods or restarts changed:\nbefore %v\nafter  %v", before, after)
		}
	})
	t.Run("pod kills recover with no acknowledged write lost", func(t *testing.T) { e.podKills(t, sys) })
	t.Run("helm upgrade under load fails no request", func(t *testing.T) { e.upgradeUnderLoad(t) })
	t.Run("tilt ci and a live update", func(t *testing.T) { e.tilt(t) })
}
