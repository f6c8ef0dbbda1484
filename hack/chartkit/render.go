// Package chartkit renders the progressive-overload Helm chart with Helm's own Go
// library and decodes every rendered object strictly into Kubernetes' API types,
// so that tests (fast, in `make chart-test`, and against a real API server, in
// `make cluster-test`) look at typed objects instead of YAML text.
package chartkit

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/releaseutil"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/client-go/kubernetes/scheme"
	k8syaml "sigs.k8s.io/yaml"

	"github.com/progressive-overload/po/hack/reporoot"
)

// ServiceMonitorAPI and PrometheusRuleAPI are the API versions and kinds the
// chart's Capabilities gates check.
const (
	ServiceMonitorAPI = "monitoring.coreos.com/v1/ServiceMonitor"
	PrometheusRuleAPI = "monitoring.coreos.com/v1/PrometheusRule"
)

// RepoRoot is the repository root (hack/reporoot).
func RepoRoot() string { return reporoot.Dir() }

// ChartDir is charts/progressive-overload in the repository.
func ChartDir() string { return filepath.Join(RepoRoot(), "charts", "progressive-overload") }

// Options select what a render sees of the cluster.
type Options struct {
	ReleaseName string // default "po"
	Namespace   string // default "po"
	KubeVersion string // default "v1.32.0"
	// APIVersions added to the default set, e.g. ServiceMonitorAPI.
	APIVersions []string
	// IsUpgrade renders as `helm upgrade` would (.Release.IsUpgrade).
	IsUpgrade bool
}

func (o Options) withDefaults() Options {
	if o.ReleaseName == "" {
		o.ReleaseName = "po"
	}
	if o.Namespace == "" {
		o.Namespace = "po"
	}
	if o.KubeVersion == "" {
		o.KubeVersion = "v1.32.0"
	}
	return o
}

// Object is one rendered manifest: where it came from, its raw YAML, and the
// strictly decoded typed object.
type Object struct {
	Source string // template path, e.g. progressive-overload/templates/services.yaml
	Hook   bool   // rendered as a Helm hook
	YAML   []byte
	GVK    schema.GroupVersionKind
	Name   string
	Obj    any // *appsv1.Deployment, *corev1.Service, ..., *ServiceMonitor
}

// Rendered is the result of one render.
type Rendered struct {
	Objects []Object
	Notes   string
	Values  map[string]any // the coalesced values the templates saw
}

// LoadChart loads the chart from the repository.
func LoadChart() (*chart.Chart, error) { return loader.Load(ChartDir()) }

// Render renders the chart the way `helm template` does (client only: `lookup`
// finds nothing) and decodes every object strictly.
func Render(vals map[string]any, opts Options) (*Rendered, error) {
	ch, err := LoadChart()
	if err != nil {
		return nil, err
	}
	return RenderChart(ch, vals, opts)
}

// RenderChart is Render for an already loaded chart.
func RenderChart(ch *chart.Chart, vals map[string]any, opts Options) (*Rendered, error) {
	opts = opts.withDefaults()
	kv, err := chartutil.ParseKubeVersion(opts.KubeVersion)
	if err != nil {
		return nil, err
	}
	cfg := &action.Configuration{}
	inst := action.NewInstall(cfg)
	inst.DryRun = true
	inst.DryRunOption = "client"
	inst.ClientOnly = true
	inst.Replace = true
	inst.IsUpgrade = opts.IsUpgrade
	inst.ReleaseName = opts.ReleaseName
	inst.Namespace = opts.Namespace
	inst.KubeVersion = kv
	inst.APIVersions = chartutil.VersionSet(opts.APIVersions)
	inst.DisableOpenAPIValidation = true
	rel, err := inst.RunWithContext(context.Background(), ch, deepCopy(vals))
	if err != nil {
		return nil, err
	}
	out := &Rendered{Notes: rel.Info.Notes, Values: rel.Config}
	if merged, err := chartutil.CoalesceValues(ch, deepCopy(vals)); err == nil {
		out.Values = merged
	}
	add := func(source, manifest string, hook bool) error {
		objs, err := DecodeManifest(manifest)
		if err != nil {
			return fmt.Errorf("%s: %w", source, err)
		}
		for i := range objs {
			objs[i].Source = source
			objs[i].Hook = hook
		}
		out.Objects = append(out.Objects, objs...)
		return nil
	}
	manifests := releaseutil.SplitManifests(rel.Manifest)
	keys := make([]string, 0, len(manifests))
	for k := range manifests {
		keys = append(keys, k)
	}
	sort.Sort(releaseutil.BySplitManifestsOrder(keys))
	for _, k := range keys {
		m := manifests[k]
		src := "manifest"
		if strings.HasPrefix(m, "---\n# Source: ") || strings.HasPrefix(m, "# Source: ") {
			line := strings.SplitN(strings.TrimPrefix(m, "---\n"), "\n", 2)[0]
			src = strings.TrimPrefix(line, "# Source: ")
		}
		if err := add(src, m, false); err != nil {
			return nil, err
		}
	}
	for _, h := range rel.Hooks {
		if err := add(h.Path, h.Manifest, true); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// DecodeManifest splits a multi-document YAML stream and decodes each non-empty
// document strictly: Kubernetes kinds into their API types with the strict
// serializer (an unknown or duplicate field is an error), the Prometheus
// Operator's ServiceMonitor into ServiceMonitor with unknown fields rejected.
// Any other kind is an error: the chart must render nothing this package cannot
// check.
func DecodeManifest(manifest string) ([]Object, error) {
	codecs := serializer.NewCodecFactory(scheme.Scheme, serializer.EnableStrict)
	dec := codecs.UniversalDeserializer()
	var out []Object
	for _, doc := range splitYAML(manifest) {
		var meta struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
			Metadata   struct {
				Name string `json:"name"`
			} `json:"metadata"`
		}
		if err := k8syaml.Unmarshal([]byte(doc), &meta); err != nil {
			return nil, fmt.Errorf("parse YAML: %w\n%s", err, doc)
		}
		if meta.Kind == "" && meta.APIVersion == "" {
			continue // comments only
		}
		gv, err := schema.ParseGroupVersion(meta.APIVersion)
		if err != nil {
			return nil, err
		}
		gvk := gv.WithKind(meta.Kind)
		var obj any
		switch {
		case gvk.Group == "monitoring.coreos.com" && gvk.Kind == "ServiceMonitor":
			sm := &ServiceMonitor{}
			if err := k8syaml.UnmarshalStrict([]byte(doc), sm); err != nil {
				return nil, fmt.Errorf("ServiceMonitor %s: %w", meta.Metadata.Name, err)
			}
			obj = sm
		case gvk.Group == "monitoring.coreos.com" && gvk.Kind == "PrometheusRule":
			pr := &PrometheusRule{}
			if err := k8syaml.UnmarshalStrict([]byte(doc), pr); err != nil {
				return nil, fmt.Errorf("PrometheusRule %s: %w", meta.Metadata.Name, err)
			}
			obj = pr
		case gvk.Group == "gateway.networking.k8s.io" && gvk.Kind == "HTTPRoute":
			hr := &HTTPRoute{}
			if err := k8syaml.UnmarshalStrict([]byte(doc), hr); err != nil {
				return nil, fmt.Errorf("HTTPRoute %s: %w", meta.Metadata.Name, err)
			}
			obj = hr
		case scheme.Scheme.Recognizes(gvk):
			o, _, err := dec.Decode([]byte(doc), nil, nil)
			if err != nil {
				return nil, fmt.Errorf("%s %s: %w", gvk.Kind, meta.Metadata.Name, err)
			}
			obj = o
		default:
			return nil, fmt.Errorf("%s %s: kind not known to the checks", gvk, meta.Metadata.Name)
		}
		out = append(out, Object{YAML: []byte(doc), GVK: gvk, Name: meta.Metadata.Name, Obj: obj})
	}
	return out, nil
}

func splitYAML(s string) []string {
	var docs []string
	var cur bytes.Buffer
	for _, line := range strings.SplitAfter(s, "\n") {
		if strings.TrimRight(line, "\r\n") == "---" {
			docs = append(docs, cur.String())
			cur.Reset()
			continue
		}
		cur.WriteString(line)
	}
	docs = append(docs, cur.String())
	var out []string
	for _, d := range docs {
		if strings.TrimSpace(d) != "" {
			out = append(out, d)
		}
	}
	return out
}

// deepCopy copies values through JSON so a render never mutates the caller's map.
func deepCopy(v map[string]any) map[string]any {
	if v == nil {
		return map[string]any{}
	}
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		panic(err)
	}
	return out
}
