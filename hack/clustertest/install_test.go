//go:build cluster

package clustertest

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/progressive-overload/po/hack/chartkit"
	"github.com/progressive-overload/po/hack/cluster"
	"github.com/progressive-overload/po/hack/devsecrets"
	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/release"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/kubernetes/scheme"
)

func helmConfig(t *testing.T, a *APIServer, ns string) *action.Configuration {
	t.Helper()
	flags := genericclioptions.NewConfigFlags(true)
	kc, cache := a.Kubeconfig, t.TempDir() // fresh discovery cache: sees CRDs created since
	flags.KubeConfig, flags.Namespace, flags.CacheDir = &kc, &ns, &cache
	cfg := new(action.Configuration)
	if err := cfg.Init(flags, ns, "secret", func(string, ...any) {}); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// install runs `helm install` (no --wait: no kubelet runs, nothing becomes
// ready), so every object goes through the real API server's validation. The
// chart has no hooks (migrations are init containers).
func install(t *testing.T, a *APIServer, name, ns string, vals map[string]any) *release.Release {
	t.Helper()
	ch, err := chartkit.LoadChart()
	if err != nil {
		t.Fatal(err)
	}
	cfg := helmConfig(t, a, ns)
	inst := action.NewInstall(cfg)
	inst.ReleaseName, inst.Namespace = name, ns
	inst.Timeout = time.Minute
	rel, err := inst.RunWithContext(context.Background(), ch, vals)
	if err != nil {
		t.Fatalf("install %s: %v", name, err)
	}
	checkLive(t, cfg, rel)
	return rel
}

func upgrade(t *testing.T, a *APIServer, name, ns string, vals map[string]any) *release.Release {
	t.Helper()
	ch, err := chartkit.LoadChart()
	if err != nil {
		t.Fatal(err)
	}
	cfg := helmConfig(t, a, ns)
	up := action.NewUpgrade(cfg)
	up.Namespace = ns
	up.Timeout = time.Minute
	rel, err := up.RunWithContext(context.Background(), name, ch, vals)
	if err != nil {
		t.Fatalf("upgrade %s: %v", name, err)
	}
	checkLive(t, cfg, rel)
	return rel
}

// checkLive: every object of the release exists in the API server.
func checkLive(t *testing.T, cfg *action.Configuration, rel *release.Release) {
	t.Helper()
	res, err := cfg.KubeClient.Build(bytes.NewBufferString(rel.Manifest), false)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) < 8 {
		t.Fatalf("release %s has only %d objects", rel.Name, len(res))
	}
	for _, info := range res {
		if err := info.Get(); err != nil {
			t.Errorf("%s %s not in the API server: %v", info.Mapping.GroupVersionKind.Kind, info.Name, err)
		}
	}
}

func secretData(t *testing.T, a *APIServer, ns, name string) map[string][]byte {
	t.Helper()
	s, err := a.Client.CoreV1().Secrets(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return s.Data
}

func deployment(t *testing.T, a *APIServer, ns, name string) *appsv1.Deployment {
	t.Helper()
	d, err := a.Client.AppsV1().Deployments(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestChartInstallsIntoARealAPIServer(t *testing.T) {
	a := StartAPIServer(t)

	t.Run("defaults: generated secrets survive upgrades", func(t *testing.T) {
		const ns, name = "prod", "progressive-overload"
		a.Namespace(t, ns)
		install(t, a, name, ns, nil)
		secrets := map[string]map[string][]byte{}
		for _, s := range []string{"mysql", "redis", "rabbitmq", "jwt"} {
			secrets[s] = secretData(t, a, ns, name+"-"+s)
			if len(secrets[s]) == 0 {
				t.Fatalf("generated Secret %s is empty", s)
			}
		}
		// An upgrade that changes things, including what a StatefulSet may not
		// change: it must pass, and `lookup` must keep every generated value.
		rel := upgrade(t, a, name, ns, chartkit.MustSet(nil,
			"image.tag=0.2.0", "account.replicaCount=3", "mysql.resources.limits.memory=2Gi",
			"account.jwt.accessTokenTTL=10m", "networkPolicy.enabled=true"))
		if rel.Version != 2 {
			t.Fatalf("revision %d", rel.Version)
		}
		for s, before := range secrets {
			after := secretData(t, a, ns, name+"-"+s)
			for k, v := range before {
				if !bytes.Equal(after[k], v) {
					t.Errorf("Secret %s key %s changed on upgrade", s, k)
				}
			}
		}
		d := deployment(t, a, ns, name+"-account")
		if img := d.Spec.Template.Spec.Containers[0].Image; img != "progressive-overload/account:0.2.0" || *d.Spec.Replicas != 3 {
			t.Errorf("upgrade not applied: %s x%d", img, *d.Spec.Replicas)
		}
	})

	t.Run("kind values, as make up installs them, converge", func(t *testing.T) {
		const ns = "po"
		a.Namespace(t, ns)
		b, err := devsecrets.Generate(ns)
		if err != nil {
			t.Fatal(err)
		}
		dec := serializer.NewCodecFactory(scheme.Scheme, serializer.EnableStrict).UniversalDeserializer()
		for _, doc := range bytes.Split(b, []byte("\n---\n")) {
			obj, _, err := dec.Decode(doc, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := a.Client.CoreV1().Secrets(ns).Create(context.Background(), obj.(*corev1.Secret), metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		c, err := cluster.Parse([]string{"up"}, chartkit.RepoRoot(), os.Stderr)
		if err != nil {
			t.Fatal(err)
		}
		vals, err := cluster.HelmValues(c, map[string]string{"account": "dev-0123456789ab", "challenge": "dev-ba9876543210"})
		if err != nil {
			t.Fatal(err)
		}
		install(t, a, c.Release, ns, vals)
		gen := deployment(t, a, ns, "po-account").Generation
		upgrade(t, a, c.Release, ns, vals) // `make up` again, nothing changed
		if g := deployment(t, a, ns, "po-account").Generation; g != gen {
			t.Errorf("an unchanged `make up` changed the Deployment (generation %d -> %d): pods would roll", gen, g)
		}
	})

	t.Run("external dependencies, behind an Ingress", func(t *testing.T) {
		const ns = "ext"
		a.Namespace(t, ns)
		install(t, a, "po", ns, chartkit.MustSet(nil,
			"mysql.create=false", "mysql.host=mysql.db.internal",
			"account.database.existingSecret=po-account-db", "challenge.database.existingSecret=po-challenge-db",
			"redis.create=false", "redis.urlSecret.name=po-urls",
			"rabbitmq.create=false", "rabbitmq.host=mq.internal", "rabbitmq.auth.existingSecret=po-amqp",
			"account.jwt.existingSecret=po-jwt",
			// The Ingress, with TLS from a Secret, through the real API server's validation.
			"ingress.enabled=true", "ingress.account.host=accounts.example.com", "ingress.challenge.host=challenges.example.com",
			"ingress.tls.enabled=true", "ingress.tls.secretName=po-tls"))
	})

	t.Run("the API server rejects what the schema lets through", func(t *testing.T) {
		const ns = "neg"
		a.Namespace(t, ns)
		ch, err := chartkit.LoadChart()
		if err != nil {
			t.Fatal(err)
		}
		inst := action.NewInstall(helmConfig(t, a, ns))
		inst.ReleaseName, inst.Namespace = "po", ns
		_, err = inst.RunWithContext(context.Background(), ch, chartkit.MustSet(nil, "account.jwt.existingSecret=x", "account.podLabels.team=not a valid label value!"))
		if err == nil {
			t.Fatal("an invalid label value was accepted: this test could not catch a broken object")
		}
	})

	t.Run("Prometheus Operator API present: ServiceMonitors, everything on", func(t *testing.T) {
		crd, err := os.ReadFile(filepath.Join("testdata", "servicemonitor-crd.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		const ns = "mon"
		a.Namespace(t, ns)
		cfg := helmConfig(t, a, ns)
		res, err := cfg.KubeClient.Build(bytes.NewReader(crd), false)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cfg.KubeClient.Create(res); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(30 * time.Second)
		for {
			if _, err := a.Client.Discovery().ServerResourcesForGroupVersion("monitoring.coreos.com/v1"); err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("ServiceMonitor CRD not served")
			}
			time.Sleep(200 * time.Millisecond)
		}
		rel := install(t, a, "po", ns, chartkit.MustSet(nil,
			"serviceMonitor.release=kube-prometheus-stack", "devMonitoring.enabled=true", "networkPolicy.enabled=true",
			"account.autoscaling.enabled=true", "challenge.autoscaling.enabled=true",
			"account.admin.email=root@example.com", "account.admin.existingSecret=po-admin"))
		if !strings.Contains(rel.Manifest, "kind: ServiceMonitor") {
			t.Fatal("no ServiceMonitor although the API server serves monitoring.coreos.com/v1")
		}
		upgrade(t, a, "po", ns, chartkit.MustSet(nil, "serviceMonitor.release=kube-prometheus-stack", "devMonitoring.enabled=true"))
	})
}
