//go:build cluster

package clustertest

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/progressive-overload/po/hack/chartkit"
	appsv1 "k8s.io/api/apps/v1"
)

// The parts of `tilt alpha tiltfile-result` this test reads.
type tiltResult struct {
	Manifests []struct {
		Name                 string
		Labels               map[string]string
		ResourceDependencies []string
		ImageTargets         []struct {
			Selector       string `json:"selector"`
			LiveUpdateSpec struct {
				Syncs []struct {
					LocalPath     string `json:"localPath"`
					ContainerPath string `json:"containerPath"`
				} `json:"syncs"`
				Execs []struct {
					Args []string `json:"args"`
				} `json:"execs"`
			}
			BuildDetails struct {
				Target             string   `json:"target"`
				DockerfileContents string   `json:"dockerfileContents"`
				Args               []string `json:"args"` // --build-arg KEY=VALUE
			}
		}
		DeployTarget struct {
			YAML                    string `json:"yaml"`
			PortForwardTemplateSpec *struct {
				Forwards []struct {
					LocalPort     int `json:"localPort"`
					ContainerPort int `json:"containerPort"`
				} `json:"forwards"`
			} `json:"portForwardTemplateSpec"`
			UpdateCmdSpec *struct {
				Args []string `json:"args"`
			}
			Deps []string
		}
	}
	Error any
}

func TestTiltfileEvaluates(t *testing.T) {
	tilt, helm := tool(t, "PO_TILT"), tool(t, "PO_HELM")
	root := chartkit.RepoRoot()
	devDir := t.TempDir()
	cmd := exec.Command(tilt, "alpha", "tiltfile-result", "-f", filepath.Join(root, "Tiltfile"))
	cmd.Dir = root
	cmd.Env = append(os.Environ(),
		"PATH="+filepath.Dir(helm)+string(os.PathListSeparator)+os.Getenv("PATH"),
		"PO_DEV_DIR="+devDir,
		"TILT_DISABLE_ANALYTICS=1")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("tilt alpha tiltfile-result: %v\n%s", err, stderr.String())
	}
	var res tiltResult
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		t.Fatalf("%v\n%s", err, stdout.String())
	}
	if res.Error != nil {
		t.Fatalf("Tiltfile error: %v", res.Error)
	}
	if _, err := os.Stat(filepath.Join(devDir, "k8s", "dev-secrets.yaml")); err != nil {
		t.Errorf("the Tiltfile did not create the dev Secrets under PO_DEV_DIR: %v", err)
	}

	byName := map[string]int{}
	for i, m := range res.Manifests {
		byName[m.Name] = i
	}
	wantLabels := map[string]string{
		"account": "services", "challenge": "services",
		"account-compile": "compile", "challenge-compile": "compile",
		"mysql": "infra", "redis": "infra", "rabbitmq": "infra",
		"grafana": "monitoring", "prometheus": "monitoring",
	}
	for name, label := range wantLabels {
		i, ok := byName[name]
		if !ok {
			t.Errorf("no resource %s; have %v", name, keys(byName))
			continue
		}
		if _, ok := res.Manifests[i].Labels[label]; !ok {
			t.Errorf("%s: labels %v, want %s", name, res.Manifests[i].Labels, label)
		}
	}
	if t.Failed() {
		return
	}

	forwards := map[string][2]int{"account": {3000, 3000}, "challenge": {3001, 3001}, "grafana": {3002, 3000}, "rabbitmq": {15672, 15672}}
	for name, want := range forwards {
		pf := res.Manifests[byName[name]].DeployTarget.PortForwardTemplateSpec
		if pf == nil || len(pf.Forwards) != 1 || pf.Forwards[0].LocalPort != want[0] || pf.Forwards[0].ContainerPort != want[1] {
			t.Errorf("%s: port-forwards %+v, want localhost:%d -> %d", name, pf, want[0], want[1])
		}
	}

	for _, svc := range []string{"account", "challenge"} {
		m := res.Manifests[byName[svc]]
		if !slices.Contains(m.ResourceDependencies, svc+"-compile") || !slices.Contains(m.ResourceDependencies, "mysql") {
			t.Errorf("%s: resource deps %v", svc, m.ResourceDependencies)
		}
		if len(m.ImageTargets) != 1 {
			t.Fatalf("%s: %d image targets", svc, len(m.ImageTargets))
		}
		it := m.ImageTargets[0]
		if it.Selector != "progressive-overload/"+svc || it.BuildDetails.Target != "dev" {
			t.Errorf("%s: image %s target %q", svc, it.Selector, it.BuildDetails.Target)
		}
		if !strings.Contains(it.BuildDetails.DockerfileContents, "FROM debian:bookworm-slim AS dev") {
			t.Errorf("%s: Tilt does not build services/Dockerfile", svc)
		}
		if !slices.Contains(it.BuildDetails.Args, "SERVICE="+svc) {
			t.Errorf("%s: build args %v, want SERVICE=%s", svc, it.BuildDetails.Args, svc)
		}
		lu := it.LiveUpdateSpec
		// The dev image runs /app/service; restart.sh swaps in /app/sync/<its basename>.
		if len(lu.Syncs) != 1 || lu.Syncs[0].LocalPath != ".dev/bin/linux/"+svc || lu.Syncs[0].ContainerPath != "/app/sync/service" {
			t.Errorf("%s: live update syncs %+v", svc, lu.Syncs)
		}
		if len(lu.Execs) != 1 || !strings.Contains(strings.Join(lu.Execs[0].Args, " "), "touch /tmp/po-restart") {
			t.Errorf("%s: live update execs %+v (restart.sh waits for /tmp/po-restart)", svc, lu.Execs)
		}
		objs, err := chartkit.DecodeManifest(m.DeployTarget.YAML)
		if err != nil {
			t.Fatalf("%s: %v", svc, err)
		}
		var dep *appsv1.Deployment
		for _, o := range objs {
			if d, ok := o.Obj.(*appsv1.Deployment); ok {
				dep = d
			}
		}
		if dep == nil {
			t.Fatalf("%s: no Deployment in the resource", svc)
		}
		c := dep.Spec.Template.Spec.Containers[0]
		if c.Image != "progressive-overload/"+svc+":dev" {
			t.Errorf("%s: image %s", svc, c.Image)
		}
		if c.SecurityContext.ReadOnlyRootFilesystem == nil || *c.SecurityContext.ReadOnlyRootFilesystem {
			t.Errorf("%s: read-only root filesystem under Tilt: live update cannot write the binary", svc)
		}

		comp := res.Manifests[byName[svc+"-compile"]].DeployTarget
		if comp.UpdateCmdSpec == nil || !strings.Contains(strings.Join(comp.UpdateCmdSpec.Args, " "), "GOOS=linux go build -trimpath -o .dev/bin/linux/"+svc+" ./services/"+svc+"/cmd/"+svc) {
			t.Errorf("%s-compile: %+v", svc, comp.UpdateCmdSpec)
		}
		for _, dep := range []string{"services/" + svc, "services/kit", "ent"} {
			if !slices.Contains(comp.Deps, filepath.Join(root, dep)) {
				t.Errorf("%s-compile does not watch %s: %v", svc, dep, comp.Deps)
			}
		}
	}
}

func keys(m map[string]int) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
