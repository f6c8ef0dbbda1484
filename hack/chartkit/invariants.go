package chartkit

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// PodTemplate is a pod template of a rendered workload.
type PodTemplate struct {
	Kind, Name string
	Template   corev1.PodTemplateSpec
	Claims     []string // StatefulSet volumeClaimTemplates: volumes too
}

// Pods returns the pod templates of Deployments, StatefulSets and Jobs.
func (r *Rendered) Pods() []PodTemplate {
	var out []PodTemplate
	for _, o := range r.Objects {
		switch v := o.Obj.(type) {
		case *appsv1.Deployment:
			out = append(out, PodTemplate{Kind: "Deployment", Name: v.Name, Template: v.Spec.Template})
		case *appsv1.StatefulSet:
			p := PodTemplate{Kind: "StatefulSet", Name: v.Name, Template: v.Spec.Template}
			for _, c := range v.Spec.VolumeClaimTemplates {
				p.Claims = append(p.Claims, c.Name)
			}
			out = append(out, p)
		case *batchv1.Job:
			out = append(out, PodTemplate{Kind: "Job", Name: v.Name, Template: v.Spec.Template})
		}
	}
	return out
}

// Find returns the object of the given kind and name, or nil.
func (r *Rendered) Find(kind, name string) any {
	for _, o := range r.Objects {
		if o.GVK.Kind == kind && o.Name == name {
			return o.Obj
		}
	}
	return nil
}

// Names returns "Kind/name" of every object, sorted.
func (r *Rendered) Names() []string {
	var out []string
	for _, o := range r.Objects {
		out = append(out, o.GVK.Kind+"/"+o.Name)
	}
	sort.Strings(out)
	return out
}

// Deployment returns the named Deployment or nil.
func (r *Rendered) Deployment(name string) *appsv1.Deployment {
	d, _ := r.Find("Deployment", name).(*appsv1.Deployment)
	return d
}

// Env returns a container's env as name -> EnvVar.
func Env(c corev1.Container) map[string]corev1.EnvVar {
	out := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		out[e.Name] = e
	}
	return out
}

// CheckOptions tells the invariants what the cluster provides outside the chart.
type CheckOptions struct {
	ReleaseName, Namespace string
	// ExternalSecrets are Secrets the values reference and the chart does not
	// render (they must exist in the cluster). Every one must be referenced.
	ExternalSecrets []string
}

var varRef = regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)

// CheckInvariants returns every violation of the chart's invariants in r.
func CheckInvariants(r *Rendered, o CheckOptions) []string {
	var errs []string
	fail := func(format string, a ...any) { errs = append(errs, fmt.Sprintf(format, a...)) }
	if o.ReleaseName == "" {
		o.ReleaseName = "po"
	}
	if o.Namespace == "" {
		o.Namespace = "po"
	}

	secrets := map[string]*corev1.Secret{}
	configMaps := map[string]*corev1.ConfigMap{}
	seen := map[string]bool{}
	for _, obj := range r.Objects {
		key := obj.GVK.Kind + "/" + obj.Name
		if seen[key] {
			fail("%s rendered twice", key)
		}
		seen[key] = true
		m, err := metaOf(obj.Obj)
		if err != nil {
			fail("%s: %v", key, err)
			continue
		}
		if m.GetNamespace() != o.Namespace {
			fail("%s: namespace %q, want the release namespace %q", key, m.GetNamespace(), o.Namespace)
		}
		l := m.GetLabels()
		if l["app.kubernetes.io/instance"] != o.ReleaseName || l["app.kubernetes.io/part-of"] != "progressive-overload" || l["app.kubernetes.io/component"] == "" {
			fail("%s: missing standard labels (instance, part-of, component): %v", key, l)
		}
		if len(obj.Name) > 63 {
			fail("%s: name longer than 63 characters", key)
		}
		switch v := obj.Obj.(type) {
		case *corev1.Secret:
			secrets[v.Name] = v
		case *corev1.ConfigMap:
			configMaps[v.Name] = v
		}
	}
	external := map[string]bool{}
	for _, s := range o.ExternalSecrets {
		external[s] = true
	}
	usedExternal := map[string]bool{}
	checkSecretRef := func(where, name, key string) {
		if s, ok := secrets[name]; ok {
			if _, ok := s.Data[key]; !ok && key != "" {
				if _, ok := s.StringData[key]; !ok {
					fail("%s: Secret %s has no key %q", where, name, key)
				}
			}
			return
		}
		if external[name] {
			usedExternal[name] = true
			return
		}
		fail("%s: Secret %s is neither rendered nor a declared external Secret", where, name)
	}

	pods := r.Pods()
	for _, p := range pods {
		where := p.Kind + "/" + p.Name
		spec := p.Template.Spec
		if spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken {
			fail("%s: automountServiceAccountToken must be false", where)
		}
		psc := spec.SecurityContext
		if psc == nil {
			psc = &corev1.PodSecurityContext{}
		}
		if p.Template.Labels["app.kubernetes.io/instance"] != o.ReleaseName || p.Template.Labels["app.kubernetes.io/component"] == "" {
			fail("%s: pod template without instance/component labels", where)
		}
		if p.Kind == "Job" && spec.RestartPolicy != corev1.RestartPolicyNever && spec.RestartPolicy != corev1.RestartPolicyOnFailure {
			fail("%s: Job restartPolicy %q", where, spec.RestartPolicy)
		}
		volumes := map[string]corev1.Volume{}
		for _, c := range p.Claims {
			volumes[c] = corev1.Volume{Name: c}
		}
		for _, v := range spec.Volumes {
			volumes[v.Name] = v
			switch {
			case v.Secret != nil:
				if len(v.Secret.Items) == 0 {
					checkSecretRef(where+" volume "+v.Name, v.Secret.SecretName, "")
				}
				for _, it := range v.Secret.Items {
					checkSecretRef(where+" volume "+v.Name, v.Secret.SecretName, it.Key)
				}
			case v.ConfigMap != nil:
				if configMaps[v.ConfigMap.Name] == nil {
					fail("%s volume %s: ConfigMap %s not rendered", where, v.Name, v.ConfigMap.Name)
				}
			case v.Projected != nil:
				for _, s := range v.Projected.Sources {
					if s.ConfigMap != nil && configMaps[s.ConfigMap.Name] == nil {
						fail("%s volume %s: ConfigMap %s not rendered", where, v.Name, s.ConfigMap.Name)
					}
				}
			}
		}
		all := append(append([]corev1.Container{}, spec.InitContainers...), spec.Containers...)
		if len(spec.Containers) == 0 {
			fail("%s: no containers", where)
		}
		for i, c := range all {
			cw := where + " container " + c.Name
			checkContainerSecurity(cw, psc, c.SecurityContext, fail)
			if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() {
				fail("%s: needs cpu and memory requests", cw)
			}
			if c.Resources.Limits.Memory().IsZero() {
				fail("%s: needs a memory limit", cw)
			}
			if c.Image == "" || !strings.Contains(c.Image, ":") || strings.HasSuffix(c.Image, ":latest") {
				fail("%s: image %q must carry a pinned tag", cw, c.Image)
			}
			for _, m := range c.VolumeMounts {
				if _, ok := volumes[m.Name]; !ok {
					fail("%s: mounts undefined volume %s", cw, m.Name)
				}
			}
			if sc := c.SecurityContext; sc != nil && sc.ReadOnlyRootFilesystem != nil && *sc.ReadOnlyRootFilesystem {
				if !mountsAt(c, "/tmp") {
					fail("%s: read-only root filesystem without a writable /tmp", cw)
				}
			}
			// Env: $(VAR) references resolve to variables defined earlier.
			defined := map[string]bool{}
			for _, e := range c.Env {
				for _, m := range varRef.FindAllStringSubmatch(e.Value, -1) {
					if !defined[m[1]] {
						fail("%s: env %s references $(%s) which is not defined before it", cw, e.Name, m[1])
					}
				}
				if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
					checkSecretRef(cw+" env "+e.Name, e.ValueFrom.SecretKeyRef.Name, e.ValueFrom.SecretKeyRef.Key)
				}
				if defined[e.Name] {
					fail("%s: env %s set twice", cw, e.Name)
				}
				defined[e.Name] = true
			}
			ports := map[string]int32{}
			for _, port := range c.Ports {
				if port.Name == "" {
					fail("%s: unnamed container port %d", cw, port.ContainerPort)
				}
				ports[port.Name] = port.ContainerPort
			}
			// Jobs and init containers run to completion: the API refuses
			// probes on init containers, and a Job has nothing to probe.
			if p.Kind == "Job" || i < len(spec.InitContainers) {
				continue
			}
			for name, pr := range map[string]*corev1.Probe{"startup": c.StartupProbe, "liveness": c.LivenessProbe, "readiness": c.ReadinessProbe} {
				if pr == nil {
					fail("%s: no %s probe", cw, name)
					continue
				}
				if pr.HTTPGet != nil {
					if pr.HTTPGet.Port.StrVal == "" || ports[pr.HTTPGet.Port.StrVal] == 0 {
						fail("%s: %s probe targets %q, not a named port of the container", cw, name, pr.HTTPGet.Port.String())
					}
				}
			}
		}
	}

	// Services select pods that exist and target named ports they expose.
	for _, obj := range r.Objects {
		switch v := obj.Obj.(type) {
		case *corev1.Service:
			where := "Service/" + v.Name
			if len(v.Spec.Selector) == 0 {
				fail("%s: no selector", where)
				continue
			}
			sel := labels.SelectorFromSet(v.Spec.Selector)
			matched := 0
			for _, p := range pods {
				if p.Kind == "Job" || !sel.Matches(labels.Set(p.Template.Labels)) {
					continue
				}
				matched++
				for _, sp := range v.Spec.Ports {
					if sp.TargetPort.StrVal == "" {
						fail("%s port %s: targetPort must be a port name", where, sp.Name)
						continue
					}
					if !exposes(p.Template.Spec, sp.TargetPort.StrVal) {
						fail("%s port %s: %s/%s exposes no port named %s", where, sp.Name, p.Kind, p.Name, sp.TargetPort.StrVal)
					}
				}
			}
			if matched == 0 {
				fail("%s: selector %v matches no rendered pod template", where, v.Spec.Selector)
			}
		case *policyv1.PodDisruptionBudget:
			if n := matchCount(pods, v.Spec.Selector, false); n == 0 {
				fail("PodDisruptionBudget/%s: selects no pods", v.Name)
			}
		case *autoscalingv2.HorizontalPodAutoscaler:
			d := r.Deployment(v.Spec.ScaleTargetRef.Name)
			if v.Spec.ScaleTargetRef.Kind != "Deployment" || d == nil {
				fail("HorizontalPodAutoscaler/%s: target %s/%s not rendered", v.Name, v.Spec.ScaleTargetRef.Kind, v.Spec.ScaleTargetRef.Name)
			} else if d.Spec.Replicas != nil {
				fail("HorizontalPodAutoscaler/%s: Deployment %s also sets replicas (they would fight)", v.Name, d.Name)
			}
		case *networkingv1.NetworkPolicy:
			if n := matchCount(pods, &v.Spec.PodSelector, true); n == 0 {
				fail("NetworkPolicy/%s: podSelector selects no pods", v.Name)
			}
			for _, in := range v.Spec.Ingress {
				for _, peer := range in.From {
					if peer.PodSelector == nil || len(peer.PodSelector.MatchExpressions) == 0 {
						continue
					}
					for _, e := range peer.PodSelector.MatchExpressions {
						if e.Key != "app.kubernetes.io/component" {
							continue
						}
						for _, comp := range e.Values {
							if n := matchCount(pods, &metav1.LabelSelector{MatchLabels: map[string]string{"app.kubernetes.io/component": comp}}, true); n == 0 {
								fail("NetworkPolicy/%s: allows component %s, which no rendered pod has", v.Name, comp)
							}
						}
					}
				}
			}
		case *ServiceMonitor:
			sel, err := metav1.LabelSelectorAsSelector(&v.Spec.Selector)
			if err != nil {
				fail("ServiceMonitor/%s: %v", v.Name, err)
				continue
			}
			found := false
			for _, so := range r.Objects {
				if svc, ok := so.Obj.(*corev1.Service); ok && sel.Matches(labels.Set(svc.Labels)) {
					for _, ep := range v.Spec.Endpoints {
						for _, sp := range svc.Spec.Ports {
							if sp.Name == ep.Port {
								found = true
							}
						}
					}
				}
			}
			if !found {
				fail("ServiceMonitor/%s: selects no Service with port %v", v.Name, v.Spec.Endpoints)
			}
		}
	}

	// Graceful shutdown fits in the grace period.
	for _, obj := range r.Objects {
		d, ok := obj.Obj.(*appsv1.Deployment)
		if !ok {
			continue
		}
		for _, c := range d.Spec.Template.Spec.Containers {
			st, ok := Env(c)["SHUTDOWN_TIMEOUT"]
			if !ok {
				continue
			}
			dur, err := time.ParseDuration(st.Value)
			if err != nil {
				fail("Deployment/%s: SHUTDOWN_TIMEOUT %q: %v", d.Name, st.Value, err)
				continue
			}
			var pre int64
			if c.Lifecycle == nil || c.Lifecycle.PreStop == nil || c.Lifecycle.PreStop.Sleep == nil {
				fail("Deployment/%s: no preStop sleep (rolling updates would drop requests)", d.Name)
			} else {
				pre = c.Lifecycle.PreStop.Sleep.Seconds
			}
			grace := int64(30)
			if g := d.Spec.Template.Spec.TerminationGracePeriodSeconds; g != nil {
				grace = *g
			}
			if time.Duration(grace)*time.Second <= time.Duration(pre)*time.Second+dur {
				fail("Deployment/%s: terminationGracePeriodSeconds %d <= preStop %ds + SHUTDOWN_TIMEOUT %s", d.Name, grace, pre, dur)
			}
		}
	}

	for _, s := range o.ExternalSecrets {
		if !usedExternal[s] {
			fail("external Secret %s is declared but nothing references it", s)
		}
	}
	return errs
}

func checkContainerSecurity(where string, psc *corev1.PodSecurityContext, sc *corev1.SecurityContext, fail func(string, ...any)) {
	if sc == nil {
		fail("%s: no securityContext", where)
		return
	}
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		fail("%s: allowPrivilegeEscalation must be false", where)
	}
	if sc.Privileged != nil && *sc.Privileged {
		fail("%s: privileged", where)
	}
	if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		fail("%s: readOnlyRootFilesystem must be true", where)
	}
	nonRoot := (sc.RunAsNonRoot != nil && *sc.RunAsNonRoot) || (sc.RunAsNonRoot == nil && psc.RunAsNonRoot != nil && *psc.RunAsNonRoot)
	if !nonRoot {
		fail("%s: runAsNonRoot must be true", where)
	}
	uid := sc.RunAsUser
	if uid == nil {
		uid = psc.RunAsUser
	}
	if uid == nil || *uid == 0 {
		fail("%s: needs a numeric non-zero runAsUser (runAsNonRoot cannot check a named USER)", where)
	}
	drop := false
	if sc.Capabilities != nil {
		for _, c := range sc.Capabilities.Drop {
			if c == "ALL" {
				drop = true
			}
		}
		if len(sc.Capabilities.Add) > 0 {
			fail("%s: adds capabilities %v", where, sc.Capabilities.Add)
		}
	}
	if !drop {
		fail("%s: capabilities must drop ALL", where)
	}
	seccomp := sc.SeccompProfile
	if seccomp == nil {
		seccomp = psc.SeccompProfile
	}
	if seccomp == nil || seccomp.Type != corev1.SeccompProfileTypeRuntimeDefault {
		fail("%s: seccompProfile must be RuntimeDefault", where)
	}
}

func mountsAt(c corev1.Container, path string) bool {
	for _, m := range c.VolumeMounts {
		if m.MountPath == path && !m.ReadOnly {
			return true
		}
	}
	return false
}

func exposes(spec corev1.PodSpec, port string) bool {
	for _, c := range spec.Containers {
		for _, p := range c.Ports {
			if p.Name == port {
				return true
			}
		}
	}
	return false
}

func matchCount(pods []PodTemplate, ls *metav1.LabelSelector, withJobs bool) int {
	sel, err := metav1.LabelSelectorAsSelector(ls)
	if err != nil || sel.Empty() {
		return 0
	}
	n := 0
	for _, p := range pods {
		if (withJobs || p.Kind != "Job") && sel.Matches(labels.Set(p.Template.Labels)) {
			n++
		}
	}
	return n
}

func metaOf(obj any) (metav1.Object, error) {
	if m, ok := obj.(metav1.Object); ok {
		return m, nil
	}
	if sm, ok := obj.(*ServiceMonitor); ok {
		return &sm.ObjectMeta, nil
	}
	return nil, fmt.Errorf("no object metadata")
}
