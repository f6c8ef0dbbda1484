//go:build kind

package kindtest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/progressive-overload/po/services/kit/testkit/localproc"
)

// tilt runs `tilt ci` on the repository's Tiltfile against the test cluster,
// then `tilt up` and a source edit: the new binary is compiled on the host,
// synced into the running container and the process restarted, with no pod
// restart. It works on a copy of the repository, so the edit never touches the
// checkout.
func (e *env) tilt(t *testing.T) {
	tiltBin := os.Getenv("PO_TILT")
	if tiltBin == "" {
		t.Fatal("PO_TILT is not set: run make kind-test, which builds Tilt")
	}
	work := filepath.Join(e.dir, "tilt-repo")
	if out, err := exec.Command("sh", "-c", fmt.Sprintf(
		"mkdir -p %[2]s && tar -C %[1]s --exclude=./.git --exclude=./.dev --exclude=./bin -cf - . | tar -C %[2]s -xf -", e.root, work)).CombinedOutput(); err != nil {
		t.Fatalf("copying the repository: %v %s", err, out)
	}
	// The dev Secrets make up applied: Tilt applies the same file, so no password
	// changes under the running MySQL.
	devDir := filepath.Join(work, ".dev")
	if err := os.MkdirAll(filepath.Join(devDir, "k8s"), 0o700); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(e.dir, "dev-secrets.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(devDir, "k8s", "dev-secrets.yaml"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	images := "upstream"
	if e.offline {
		images = "offline"
	}
	environ := append(os.Environ(), "KUBECONFIG="+e.kubeconfig, "PO_KIND_CLUSTER="+e.cluster, "KIND_IMAGES="+images,
		// Tilt runs helm and kind (to load images into the cluster) from PATH.
		"PATH="+os.Getenv("PO_TOOL_PATH")+":"+os.Getenv("PATH"))
	port := freePort(t)
	tiltCmd := func(ctx context.Context, args ...string) *exec.Cmd {
		cmd := exec.CommandContext(ctx, tiltBin, args...)
		cmd.Dir, cmd.Env = work, environ
		return cmd
	}
	logf, err := os.Create(filepath.Join(e.dir, "tilt.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	ci := tiltCmd(ctx, "ci", "--port", fmt.Sprint(port), "--web-mode", "prod", "--timeout", "8m")
	ci.Stdout, ci.Stderr = logf, logf
	start := time.Now()
	if err := ci.Run(); err != nil {
		t.Fatalf("tilt ci: %v (log: %s)", err, logf.Name())
	}
	t.Logf("FIGURE tilt ci: all resources healthy in %s", time.Since(start).Round(time.Second))

	up := tiltCmd(ctx, "up", "--stream", "--port", fmt.Sprint(port), "--web-mode", "prod")
	up.Stdout, up.Stderr = logf, logf
	up.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := up.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = syscall.Kill(-up.Process.Pid, syscall.SIGINT)
		done := make(chan struct{})
		go func() { _ = up.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = syscall.Kill(-up.Process.Pid, syscall.SIGKILL)
			<-done
		}
	}()
	builds := func() (int, string) {
		out, err := tiltCmd(ctx, "get", "uiresource", "challenge-compile", "--port", fmt.Sprint(port), "-o", "json").Output()
		if err != nil {
			return -1, ""
		}
		var r struct {
			Status struct {
				BuildHistory []struct{ Error string } `json:"buildHistory"`
				UpdateStatus string                   `json:"updateStatus"`
			} `json:"status"`
		}
		_ = json.Unmarshal(out, &r)
		return len(r.Status.BuildHistory), r.Status.UpdateStatus
	}
	waitFor := func(what string, timeout time.Duration, ok func() bool) {
		deadline := time.Now().Add(timeout)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("tilt up: %s not within %s (log: %s)", what, timeout, logf.Name())
			}
			time.Sleep(time.Second)
		}
	}
	var before int
	waitFor("challenge-compile built", 5*time.Minute, func() bool { n, s := builds(); before = n; return n >= 1 && s == "ok" })
	waitFor("challenge ready", 5*time.Minute, func() bool {
		out, err := tiltCmd(ctx, "wait", "--for=condition=Ready", "uiresource/challenge", "--timeout=1s", "--port", fmt.Sprint(port)).CombinedOutput()
		return err == nil && len(out) >= 0
	})
	pod := e.challengePod(t)

	// The edit: a comment at the end of the challenge's main.go.
	main := filepath.Join(work, "services", "challenge", "cmd", "challenge", "main.go")
	f, err := os.OpenFile(main, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, "\n// live update test %d\n", time.Now().UnixNano())
	f.Close()
	edited := time.Now()
	waitFor("a rebuild after the edit", 3*time.Minute, func() bool { n, s := builds(); return n > before && s == "ok" })
	waitFor("the process restarted in the same container", 2*time.Minute, func() bool {
		out, _ := exec.Command(e.kubectl, "--kubeconfig", e.kubeconfig, "-n", namespace, "logs", pod.name, "-c", "challenge").CombinedOutput()
		return strings.Contains(string(out), "restart.sh: new build synced")
	})
	t.Logf("FIGURE live update: source edit to restarted process %s", time.Since(edited).Round(time.Second))
	after := e.challengePod(t)
	if after.uid != pod.uid || after.restarts != pod.restarts {
		t.Errorf("live update restarted the pod: before %+v, after %+v", pod, after)
	}
}

type podID struct {
	name, uid string
	restarts  int32
}

func (e *env) challengePod(t *testing.T) podID {
	t.Helper()
	list, err := e.clientset(t).CoreV1().Pods(namespace).List(context.Background(), metav1.ListOptions{LabelSelector: "app.kubernetes.io/component=challenge"})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range list.Items {
		if p.DeletionTimestamp == nil && ready(p) && len(p.Status.ContainerStatuses) > 0 {
			return podID{p.Name, string(p.UID), p.Status.ContainerStatuses[0].RestartCount}
		}
	}
	t.Fatal("no ready challenge pod")
	return podID{}
}

func freePort(t *testing.T) int {
	t.Helper()
	p, err := localproc.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return p
}
