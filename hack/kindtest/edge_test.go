//go:build kind

package kindtest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/progressive-overload/po/hack/offline"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// edgeConfig routes /account/* and /challenge/* to the services' ClusterIP
// Services, as an ingress controller would: a connection that a terminating pod
// closes is retried on another (idempotent reads, and writes whose request never
// reached a server).
const edgeConfig = `global
  log stdout format raw local0 warning
defaults
  mode http
  log global
  option httplog
  timeout connect 2s
  timeout client 30s
  timeout server 30s
  retries 3
  option redispatch 1
  retry-on conn-failure empty-response response-timeout
frontend edge
  bind :8080
  use_backend account if { path_beg /account/ }
  default_backend challenge
backend account
  http-request replace-path /account(/.*) \1
  server svc po-account.po.svc.cluster.local:3000
backend challenge
  http-request replace-path /challenge(/.*) \1
  server svc po-challenge.po.svc.cluster.local:3001
`

// deployEdge runs the edge balancer in the release's namespace and returns its
// URL through a port-forward (the balancer's pod outlives the upgrade).
func (e *env) deployEdge(t *testing.T) string {
	t.Helper()
	image := "haproxy:2.6"
	if e.offline {
		image = offline.EdgeImage
		e.loadImage(t, image)
	}
	cs := e.clientset(t)
	ctx := context.Background()
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "kindtest-edge"}, Data: map[string]string{"haproxy.cfg": edgeConfig}}
	if _, err := cs.CoreV1().ConfigMaps(namespace).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	labels := map[string]string{"app": "kindtest-edge"}
	one, no, yes := int32(1), false, true
	uid := int64(99)
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "kindtest-edge"},
		Spec: appsv1.DeploymentSpec{
			Replicas: &one,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					AutomountServiceAccountToken: &no,
					Containers: []corev1.Container{{
						Name:            "haproxy",
						Image:           image,
						ImagePullPolicy: corev1.PullIfNotPresent,
						Command:         []string{"haproxy", "-W", "-db", "-f", "/etc/edge/haproxy.cfg"},
						Ports:           []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}},
						ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{
							TCPSocket: &corev1.TCPSocketAction{Port: intstrName("http")}}, PeriodSeconds: 1},
						SecurityContext: &corev1.SecurityContext{RunAsUser: &uid, RunAsNonRoot: &yes, AllowPrivilegeEscalation: &no,
							Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}},
						VolumeMounts: []corev1.VolumeMount{{Name: "config", MountPath: "/etc/edge"}},
					}},
					Volumes: []corev1.Volume{{Name: "config", VolumeSource: corev1.VolumeSource{
						ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "kindtest-edge"}}}}},
				},
			},
		},
	}
	if _, err := cs.AppsV1().Deployments(namespace).Create(ctx, dep, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "kindtest-edge"}, Spec: corev1.ServiceSpec{
		Selector: labels, Ports: []corev1.ServicePort{{Name: "http", Port: 8080, TargetPort: intstrName("http")}}}}
	if _, err := cs.CoreV1().Services(namespace).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cs.AppsV1().Deployments(namespace).Delete(ctx, "kindtest-edge", metav1.DeleteOptions{})
		_ = cs.CoreV1().Services(namespace).Delete(ctx, "kindtest-edge", metav1.DeleteOptions{})
		_ = cs.CoreV1().ConfigMaps(namespace).Delete(ctx, "kindtest-edge", metav1.DeleteOptions{})
	})
	deadline := time.Now().Add(2 * time.Minute)
	for {
		p, err := cs.AppsV1().Deployments(namespace).Get(ctx, "kindtest-edge", metav1.GetOptions{})
		if err == nil && p.Status.ReadyReplicas == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the edge balancer did not become ready: %+v %v", p.Status, err)
		}
		time.Sleep(time.Second)
	}
	return e.portForward(t, "kindtest-edge", 8080).url
}

// loadImage puts a local image into the node's containerd, as `kind load
// docker-image` does.
func (e *env) loadImage(t *testing.T, image string) {
	t.Helper()
	node := e.cluster + "-control-plane"
	cmd := exec.Command("sh", "-c", fmt.Sprintf("docker save %s | docker exec -i %s ctr -n k8s.io images import --digests --snapshotter=overlayfs -", image, node))
	cmd.Stderr = os.Stderr
	if out, err := cmd.Output(); err != nil {
		t.Fatalf("loading %s into %s: %v %s", image, node, err, strings.TrimSpace(string(out)))
	}
}

func intstrName(name string) intstr.IntOrString { return intstr.FromString(name) }
