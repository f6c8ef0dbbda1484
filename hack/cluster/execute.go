package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/progressive-overload/po/hack/chartkit"
	"github.com/progressive-overload/po/hack/devsecrets"
	"github.com/progressive-overload/po/hack/dockerengine"
	"github.com/progressive-overload/po/hack/offline"
	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/cli"
	"helm.sh/helm/v3/pkg/storage/driver"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/clientcmd"
	kindcluster "sigs.k8s.io/kind/pkg/cluster"
	kindcmd "sigs.k8s.io/kind/pkg/cmd"
	kindload "sigs.k8s.io/kind/pkg/cmd/kind/load/docker-image"
)

// ErrNoDocker is returned when Docker is missing or not running.
var ErrNoDocker = errors.New("docker is required: kind runs the cluster's nodes as Docker containers (install Docker and start it)")

// LookPath finds a tool; tests replace it.
var LookPath = exec.LookPath

// RequireTools checks that the required tools are on PATH and warns about the
// optional ones.
func RequireTools(required, optional []string, warn io.Writer) error {
	var missing []string
	for _, t := range required {
		if _, err := LookPath(t); err != nil {
			missing = append(missing, t)
		}
	}
	for _, t := range optional {
		if _, err := LookPath(t); err != nil {
			fmt.Fprintf(warn, "warning: %s not found on PATH; you need it to port-forward to the services (https://kubernetes.io/docs/tasks/tools/)\n", t)
		}
	}
	if len(missing) > 0 {
		if len(missing) == 1 && missing[0] == "docker" {
			return fmt.Errorf("docker not found on PATH: %w", ErrNoDocker)
		}
		return fmt.Errorf("missing tools on PATH: %s", strings.Join(missing, ", "))
	}
	return nil
}

// Provider returns kind's Docker provider.
func Provider() *kindcluster.Provider {
	return kindcluster.NewProvider(kindcluster.ProviderWithDocker(), kindcluster.ProviderWithLogger(kindcmd.NewLogger()))
}

// Exists reports whether the kind cluster exists.
func Exists(p *kindcluster.Provider, name string) (bool, error) {
	names, err := p.List()
	if err != nil {
		return false, fmt.Errorf("listing kind clusters: %w (is Docker running?)", err)
	}
	for _, n := range names {
		if n == name {
			return true, nil
		}
	}
	return false, nil
}

// Execute carries out the planned steps.
func Execute(ctx context.Context, c Config, steps []Step, p *kindcluster.Provider, out io.Writer) error {
	tags := map[string]string{} // service -> content tag
	for _, s := range steps {
		fmt.Fprintf(out, "==> %s\n", s)
		if err := execute(ctx, c, s, p, out, tags); err != nil {
			return fmt.Errorf("%s: %w", s.Kind, err)
		}
	}
	return nil
}

func execute(ctx context.Context, c Config, s Step, p *kindcluster.Provider, out io.Writer, tags map[string]string) error {
	switch s.Kind {
	case CheckTools:
		if err := RequireTools(s.Args, s.Optional, out); err != nil {
			return err
		}
		if err := exec.CommandContext(ctx, "docker", "info").Run(); err != nil {
			return fmt.Errorf("`docker info` failed (%v): %w", err, ErrNoDocker)
		}
	case BuildOffline:
		b := offline.Builder{Config: offline.Config{Root: c.Root, ToolsDir: c.ToolsDir, Docker: dockerengine.Client(), Log: out}}
		_, err := b.Ensure(ctx)
		return err
	case CreateCluster:
		return p.Create(c.Name,
			kindcluster.CreateWithConfigFile(c.KindConfig),
			kindcluster.CreateWithNodeImage(c.NodeImage),
			kindcluster.CreateWithWaitForReady(3*time.Minute),
			kindcluster.CreateWithDisplayUsage(false),
			kindcluster.CreateWithDisplaySalutation(false))
	case ReuseCluster:
		fmt.Fprintf(out, "kind cluster %q exists; reusing it\n", c.Name)
	case WriteKubecfg:
		cfg, err := p.KubeConfig(c.Name, false)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(c.Kubeconfig), 0o700); err != nil {
			return err
		}
		return os.WriteFile(c.Kubeconfig, []byte(cfg), 0o600)
	case BuildImage:
		cmd := exec.CommandContext(ctx, dockerengine.Client(), s.Args[1:]...)
		cmd.Dir = c.Root
		cmd.Stdout, cmd.Stderr = out, out
		cmd.Env = append(os.Environ(), "DOCKER_BUILDKIT=1")
		return cmd.Run()
	case TagImage:
		id, err := exec.CommandContext(ctx, "docker", "image", "inspect", "-f", "{{.Id}}", s.Image).Output()
		if err != nil {
			return err
		}
		tag := ContentTag(string(id))
		ref := strings.TrimSuffix(s.Image, ":dev") + ":" + tag
		if err := exec.CommandContext(ctx, "docker", "tag", s.Image, ref).Run(); err != nil {
			return err
		}
		tags[s.Service] = tag
	case LoadImages:
		var refs []string
		for _, img := range s.Args[1:] {
			svc := strings.TrimPrefix(strings.TrimSuffix(img, ":dev"), c.ImagePrefix)
			refs = append(refs, strings.TrimSuffix(img, ":dev")+":"+tags[svc])
		}
		refs = append(refs, s.Optional...)
		cmd := kindload.NewCommand(kindcmd.NewLogger(), kindcmd.StandardIOStreams())
		cmd.SetArgs(append(refs, "--name", s.Args[0]))
		cmd.SetContext(ctx)
		return cmd.Execute()
	case EnsureNS, ApplySecrets:
		cs, err := clientset(c.Kubeconfig)
		if err != nil {
			return err
		}
		if s.Kind == EnsureNS {
			_, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: c.Namespace}}, metav1.CreateOptions{})
			if apierrors.IsAlreadyExists(err) {
				return nil
			}
			return err
		}
		return applyDevSecrets(ctx, cs, c.DevSecrets, c.Namespace)
	case HelmUpgrade:
		return helmUpgrade(ctx, c, tags, out)
	case DeleteCluster:
		return p.Delete(c.Name, "")
	case PrintAccess:
		fmt.Fprintf(out, `
The system runs in kind cluster %[1]q, namespace %[2]q. Reach it with:

  export KUBECONFIG=%[3]s   # or: kubectl config use-context kind-%[1]s
  kubectl -n %[2]s port-forward svc/%[4]s-account 3000:3000 &
  kubectl -n %[2]s port-forward svc/%[4]s-challenge 3001:3001 &
  kubectl -n %[2]s port-forward svc/%[4]s-rabbitmq 15672:15672 &
%[5]s
Then http://localhost:3000/api-docs, http://localhost:3001/api-docs.
Passwords: .dev/k8s/dev-secrets.yaml. Delete it all: make down
`, c.Name, c.Namespace, c.Kubeconfig, fullname(c), monitoringAccess(c))
	default:
		return fmt.Errorf("unknown step %q", s.Kind)
	}
	return nil
}

// monitoringAccess is how to reach the dev monitoring: Grafana, or on an offline
// cluster (no Grafana image) Prometheus.
func monitoringAccess(c Config) string {
	if c.Offline {
		return fmt.Sprintf("  kubectl -n %s port-forward svc/%s-prometheus 9090:9090 &   # no Grafana offline\n", c.Namespace, fullname(c))
	}
	return fmt.Sprintf("  kubectl -n %s port-forward svc/%s-grafana 3002:3000 &      # Grafana: http://localhost:3002\n", c.Namespace, fullname(c))
}

// ContentTag turns a Docker image ID (sha256:...) into a tag: the same image
// content gives the same tag, so an unchanged build does not roll the pods.
func ContentTag(imageID string) string {
	id := strings.TrimPrefix(strings.TrimSpace(imageID), "sha256:")
	if len(id) > 12 {
		id = id[:12]
	}
	return "dev-" + id
}

func fullname(c Config) string {
	for _, v := range c.Values {
		vals, err := chartkit.ValuesFile(v)
		if err != nil {
			continue
		}
		if f, ok := vals["fullnameOverride"].(string); ok && f != "" {
			return f
		}
	}
	if strings.Contains(c.Release, "progressive-overload") {
		return c.Release
	}
	return c.Release + "-progressive-overload"
}

func clientset(kubeconfig string) (*kubernetes.Clientset, error) {
	rc, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, err
	}
	return kubernetes.NewForConfig(rc)
}

func applyDevSecrets(ctx context.Context, cs kubernetes.Interface, path, namespace string) error {
	if _, err := devsecrets.Ensure(path, namespace); err != nil {
		return err
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	dec := serializer.NewCodecFactory(scheme.Scheme, serializer.EnableStrict).UniversalDeserializer()
	for _, doc := range bytes.Split(b, []byte("\n---\n")) {
		obj, _, err := dec.Decode(doc, nil, nil)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		sec, ok := obj.(*corev1.Secret)
		if !ok {
			return fmt.Errorf("%s: unexpected %T", path, obj)
		}
		api := cs.CoreV1().Secrets(namespace)
		cur, err := api.Get(ctx, sec.Name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			_, err = api.Create(ctx, sec, metav1.CreateOptions{})
		case err == nil:
			cur.Data, cur.Labels = sec.Data, sec.Labels
			_, err = api.Update(ctx, cur, metav1.UpdateOptions{})
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// HelmValues merges the values files and sets each built service's image tag.
func HelmValues(c Config, tags map[string]string) (map[string]any, error) {
	var all []map[string]any
	for _, f := range c.Values {
		v, err := chartkit.ValuesFile(f)
		if err != nil {
			return nil, err
		}
		all = append(all, v)
	}
	vals := chartkit.Merge(all...)
	for svc, tag := range tags {
		vals = chartkit.Merge(vals, map[string]any{svc: map[string]any{"image": map[string]any{"tag": tag}}})
	}
	return vals, nil
}

// helmUpgrade is `helm upgrade --install --wait --wait-for-jobs` with Helm's library.
func helmUpgrade(ctx context.Context, c Config, tags map[string]string, out io.Writer) error {
	settings := cli.New()
	settings.KubeConfig = c.Kubeconfig
	settings.SetNamespace(c.Namespace)
	cfg := new(action.Configuration)
	if err := cfg.Init(settings.RESTClientGetter(), c.Namespace, "secret", func(string, ...any) {}); err != nil {
		return err
	}
	ch, err := loader.Load(c.Chart)
	if err != nil {
		return err
	}
	vals, err := HelmValues(c, tags)
	if err != nil {
		return err
	}
	hist := action.NewHistory(cfg)
	hist.Max = 1
	if _, err := hist.Run(c.Release); errors.Is(err, driver.ErrReleaseNotFound) {
		inst := action.NewInstall(cfg)
		inst.ReleaseName, inst.Namespace = c.Release, c.Namespace
		inst.Wait, inst.WaitForJobs, inst.Timeout = true, true, c.Wait
		rel, err := inst.RunWithContext(ctx, ch, vals)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "installed %s revision %d\n", rel.Name, rel.Version)
		return nil
	} else if err != nil {
		return err
	}
	up := action.NewUpgrade(cfg)
	up.Namespace = c.Namespace
	up.Wait, up.WaitForJobs, up.Timeout = true, true, c.Wait
	rel, err := up.RunWithContext(ctx, c.Release, ch, vals)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "upgraded %s to revision %d\n", rel.Name, rel.Version)
	return nil
}
