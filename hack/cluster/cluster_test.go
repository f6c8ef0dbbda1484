package cluster

import (
	"errors"
	"github.com/progressive-overload/po/hack/offline"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/progressive-overload/po/hack/chartkit"
	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"
	k8syaml "sigs.k8s.io/yaml"
)

func TestParseDefaults(t *testing.T) {
	t.Setenv("PO_TOOLS_DIR", "/tools")
	c, err := Parse([]string{"up"}, "/repo", io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := Config{Command: "up", Name: "po", KindConfig: "/repo/k8s/kind-config.yaml", Namespace: "po", Release: "po",
		Chart: "/repo/charts/progressive-overload", Values: []string{"/repo/k8s/values-kind.yaml"},
		DevSecrets: "/repo/.dev/k8s/dev-secrets.yaml", Kubeconfig: "/repo/.dev/k8s/kubeconfig",
		Services: []string{"account", "challenge"}, ImagePrefix: "progressive-overload/", Build: true, Wait: 10 * time.Minute, Root: "/repo", ToolsDir: "/tools", Version: "dev"}
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("got  %+v\nwant %+v", c, want)
	}
}

func TestParseOffline(t *testing.T) {
	c, err := Parse([]string{"up", "-offline"}, "/repo", io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c.Values, []string{"/repo/k8s/values-kind.yaml", "/repo/k8s/values-offline.yaml"}) {
		t.Errorf("values %v: want the offline stand-ins on top of the kind values", c.Values)
	}
	if c.NodeImage != offline.NodeImage || !reflect.DeepEqual(c.StandIns, offline.StandIns) {
		t.Errorf("node image %q, stand-ins %v", c.NodeImage, c.StandIns)
	}
	steps := Plan(c, false)
	if steps[1].Kind != BuildOffline {
		t.Errorf("step 2 is %s, want the offline images built before the cluster", steps[1].Kind)
	}
	var create, load *Step
	for i := range steps {
		switch steps[i].Kind {
		case CreateCluster:
			create = &steps[i]
		case LoadImages:
			load = &steps[i]
		}
	}
	if create == nil || create.Args[len(create.Args)-1] != offline.NodeImage {
		t.Errorf("create: %+v, want the offline node image", create)
	}
	if load == nil || !reflect.DeepEqual(load.Optional, offline.StandIns) {
		t.Errorf("load: %+v, want the stand-ins loaded too", load)
	}
	if c, _ := Parse([]string{"up", "-offline", "-values", "x.yaml"}, "/repo", io.Discard); !reflect.DeepEqual(c.Values, []string{"/repo/x.yaml"}) {
		t.Errorf("explicit -values must replace the defaults: %v", c.Values)
	}
}

func TestParseFlagsAndErrors(t *testing.T) {
	c, err := Parse([]string{"up", "-name", "x", "-values", "a.yaml", "-values", "/abs/b.yaml", "-services", "account", "-build=false", "-wait", "2m"}, "/r", io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Name != "x" || !reflect.DeepEqual(c.Values, []string{"/r/a.yaml", "/abs/b.yaml"}) || !reflect.DeepEqual(c.Services, []string{"account"}) || c.Build || c.Wait != 2*time.Minute {
		t.Fatalf("%+v", c)
	}
	for _, args := range [][]string{nil, {"-name", "x"}, {"start"}, {"up", "extra"}, {"up", "-wait", "0s"}, {"up", "-nope"}, {"up", "-services", ""}} {
		if _, err := Parse(args, "/r", io.Discard); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
}

func kinds(steps []Step) []StepKind {
	var out []StepKind
	for _, s := range steps {
		out = append(out, s.Kind)
	}
	return out
}

func TestPlanUp(t *testing.T) {
	c, _ := Parse([]string{"up"}, "/repo", io.Discard)
	fresh := Plan(c, false)
	want := []StepKind{CheckTools, CreateCluster, WriteKubecfg, BuildImage, TagImage, BuildImage, TagImage, LoadImages, EnsureNS, ApplySecrets, HelmUpgrade, PrintAccess}
	if got := kinds(fresh); !reflect.DeepEqual(got, want) {
		t.Fatalf("fresh plan %v\nwant %v", got, want)
	}
	again := Plan(c, true)
	want[1] = ReuseCluster
	if got := kinds(again); !reflect.DeepEqual(got, want) {
		t.Fatalf("second plan %v\nwant %v (a second `up` reuses the cluster, nothing else changes)", got, want)
	}
	build := fresh[3]
	if strings.Join(build.Args, " ") != "docker build -f /repo/services/Dockerfile --target runtime --build-arg SERVICE=account --build-arg VERSION=dev -t progressive-overload/account:dev /repo" {
		t.Errorf("build %v", build.Args)
	}
	if got := fresh[7].Args; !reflect.DeepEqual(got, []string{"po", "progressive-overload/account:dev", "progressive-overload/challenge:dev"}) {
		t.Errorf("load %v", got)
	}
	if got := fresh[10].Args; !reflect.DeepEqual(got, []string{"po", "/repo/charts/progressive-overload", "po", "/repo/k8s/values-kind.yaml"}) {
		t.Errorf("helm %v", got)
	}
	c.Build = false
	if got := kinds(Plan(c, true)); reflect.DeepEqual(got, want) || len(got) != 7 {
		t.Errorf("-build=false plan %v", got)
	}
}

func TestPlanDown(t *testing.T) {
	c, _ := Parse([]string{"down"}, "/repo", io.Discard)
	if got := Plan(c, true); len(got) != 1 || got[0].Kind != DeleteCluster || got[0].Args[0] != "po" {
		t.Errorf("down %v", got)
	}
	if got := Plan(c, false); len(got) != 0 {
		t.Errorf("down without a cluster: %v", got)
	}
}

func TestRequireTools(t *testing.T) {
	old := LookPath
	defer func() { LookPath = old }()
	LookPath = func(name string) (string, error) { return "", errors.New("not found") }
	var warn strings.Builder
	err := RequireTools([]string{"docker"}, []string{"kubectl"}, &warn)
	if !errors.Is(err, ErrNoDocker) {
		t.Errorf("missing docker: %v", err)
	}
	if !strings.Contains(warn.String(), "kubectl not found") {
		t.Errorf("no kubectl warning: %q", warn.String())
	}
	LookPath = func(name string) (string, error) {
		if name == "kubectl" {
			return "", errors.New("not found")
		}
		return "/usr/bin/" + name, nil
	}
	if err := RequireTools([]string{"docker"}, []string{"kubectl"}, io.Discard); err != nil {
		t.Errorf("kubectl is optional: %v", err)
	}
}

func TestContentTag(t *testing.T) {
	if got := ContentTag("sha256:0123456789abcdef0123\n"); got != "dev-0123456789ab" {
		t.Errorf("got %s", got)
	}
}

func TestHelmValuesSetContentTags(t *testing.T) {
	root := chartkit.RepoRoot()
	c, _ := Parse([]string{"up"}, root, io.Discard)
	vals, err := HelmValues(c, map[string]string{"account": "dev-aaa", "challenge": "dev-bbb"})
	if err != nil {
		t.Fatal(err)
	}
	r, err := chartkit.Render(vals, chartkit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for svc, tag := range map[string]string{"account": "dev-aaa", "challenge": "dev-bbb"} {
		d := r.Deployment("po-" + svc)
		if d == nil || d.Spec.Template.Spec.Containers[0].Image != "progressive-overload/"+svc+":"+tag {
			t.Errorf("%s image not set to %s", svc, tag)
		}
	}
	if fullname(c) != "po" {
		t.Errorf("fullname %s", fullname(c))
	}
}

// The kind config decodes strictly into kind's own v1alpha4 types.
func TestKindConfig(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(chartkit.RepoRoot(), "k8s", "kind-config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg v1alpha4.Cluster
	if err := k8syaml.UnmarshalStrict(b, &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.Kind != "Cluster" || cfg.APIVersion != "kind.x-k8s.io/v1alpha4" || len(cfg.Nodes) == 0 || cfg.Nodes[0].Role != v1alpha4.ControlPlaneRole {
		t.Fatalf("%+v", cfg)
	}
	for _, m := range cfg.Nodes[0].ExtraPortMappings {
		if m.ListenAddress != "127.0.0.1" {
			t.Errorf("port %d listens on %q, want loopback only", m.HostPort, m.ListenAddress)
		}
		if m.HostPort == 3000 || m.HostPort == 3001 || m.HostPort == 3002 || m.HostPort == 15672 {
			t.Errorf("host port %d collides with the port-forwards", m.HostPort)
		}
	}
}
