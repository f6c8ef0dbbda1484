package chartkit_test

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/progressive-overload/po/hack/chartkit"
	"github.com/progressive-overload/po/hack/devsecrets"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8slabels "k8s.io/apimachinery/pkg/labels"
	k8syaml "sigs.k8s.io/yaml"
)

const fullDefault = "po-progressive-overload" // release "po", no override

// external is the value set for a cluster's managed MySQL, Redis and RabbitMQ,
// with every credential in a Secret the operator created.
var external = map[string]any{
	"mysql": map[string]any{"create": false, "host": "mysql.db.internal", "port": 3307},
	"account": map[string]any{
		"database": map[string]any{"existingSecret": "po-account-db", "passwordKey": "password"},
		"jwt":      map[string]any{"existingSecret": "po-jwt", "key": "signing.pem"},
	},
	"challenge": map[string]any{"database": map[string]any{"existingSecret": "po-challenge-db", "passwordKey": "password"}},
	"redis":     map[string]any{"create": false, "host": "redis.cache.internal", "database": 2},
	"rabbitmq": map[string]any{"create": false, "host": "mq.internal", "vhost": "po",
		"auth": map[string]any{"username": "po-app", "existingSecret": "po-amqp", "passwordKey": "password"}},
}

// urlSecrets gives each dependency's whole URL through a Secret.
var urlSecrets = map[string]any{
	"mysql":     map[string]any{"create": false},
	"account":   map[string]any{"database": map[string]any{"urlSecret": map[string]any{"name": "po-urls", "key": "account-dsn"}}, "jwt": map[string]any{"existingSecret": "po-jwt"}},
	"challenge": map[string]any{"database": map[string]any{"urlSecret": map[string]any{"name": "po-urls", "key": "challenge-dsn"}}},
	"redis":     map[string]any{"create": false, "urlSecret": map[string]any{"name": "po-urls", "key": "redis"}},
	"rabbitmq":  map[string]any{"create": false, "urlSecret": map[string]any{"name": "po-urls", "key": "amqp"}},
}

type chartCase struct {
	name string
	// genKey keeps the chart's JWT key generation (an RSA-4096 keygen, seconds
	// of CPU); other cases reference an existing key Secret instead.
	genKey   bool
	values   map[string]any
	opts     chartkit.Options
	external []string // Secrets the values reference that the chart must not render
	fullname string
	check    func(t *testing.T, r *chartkit.Rendered)
}

func kindValues(t testing.TB) map[string]any {
	v, err := chartkit.ValuesFile(filepath.Join(chartkit.RepoRoot(), "k8s", "values-kind.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func cases(t *testing.T) []chartCase {
	withAPI := chartkit.Options{APIVersions: []string{chartkit.ServiceMonitorAPI, chartkit.PrometheusRuleAPI}}
	return []chartCase{
		{name: "defaults", genKey: true, check: func(t *testing.T, r *chartkit.Rendered) {
			mustHave(t, r, "StatefulSet/"+fullDefault+"-mysql", "StatefulSet/"+fullDefault+"-redis", "StatefulSet/"+fullDefault+"-rabbitmq",
				"PodDisruptionBudget/"+fullDefault+"-account", "PodDisruptionBudget/"+fullDefault+"-challenge",
				"ConfigMap/"+fullDefault+"-dashboard-overview", "ConfigMap/"+fullDefault+"-dashboard-events")
			mustNotHave(t, r, "ServiceMonitor", "HorizontalPodAutoscaler", "NetworkPolicy")
			acc := container(t, r, fullDefault+"-account")
			wantEnv(t, acc, "DATABASE_URL", "po_account:$(PO_DATABASE_PASSWORD)@tcp("+fullDefault+"-mysql:3306)/po_account")
			wantEnv(t, acc, "REDIS_URL", "redis://:$(PO_REDIS_PASSWORD)@"+fullDefault+"-redis:6379/0")
			wantEnv(t, acc, "AMQP_URL", "amqp://po:$(PO_AMQP_PASSWORD)@"+fullDefault+"-rabbitmq:5672/")
			wantEnv(t, acc, "HTTP_ADDR", ":3000")
			ch := container(t, r, fullDefault+"-challenge")
			wantEnv(t, ch, "HTTP_ADDR", ":3001")
			wantEnv(t, ch, "JWKS_URL", "http://"+fullDefault+"-account:3000/.well-known/jwks.json")
			wantEnv(t, ch, "DATABASE_URL", "po_challenge:$(PO_DATABASE_PASSWORD)@tcp("+fullDefault+"-mysql:3306)/po_challenge")
			// No proxy trusted unless configured: X-Forwarded-For is ignored.
			wantEnv(t, acc, "TRUSTED_PROXIES", "")
			wantEnv(t, ch, "TRUSTED_PROXIES", "")
			// Admission control on by default, as in kit/httpserver.
			for _, c := range []corev1.Container{acc, ch} {
				wantEnv(t, c, "HTTP_MAX_IN_FLIGHT", "256")
				wantEnv(t, c, "HTTP_QUEUE_TIMEOUT", "100ms")
			}
			if acc.Image != "progressive-overload/account:0.1.0" || ch.Image != "progressive-overload/challenge:0.1.0" {
				t.Errorf("images %s, %s: want the chart's appVersion as tag", acc.Image, ch.Image)
			}
			checkGeneratedJWTKey(t, r, acc)
			wantNoHooks(t, r)
		}},
		{name: "kind values", values: kindValues(t), fullname: "po",
			external: []string{"po-dev-credentials", "po-dev-jwt"},
			check: func(t *testing.T, r *chartkit.Rendered) {
				mustHave(t, r, "Deployment/po-prometheus", "Deployment/po-grafana", "Service/po-grafana", "Service/po-account-pods")
				mustNotHave(t, r, "Secret", "PodDisruptionBudget")
				acc := container(t, r, "po-account")
				wantEnv(t, acc, "ADMIN_EMAIL", "admin@progressive-overload.local")
				if !strings.HasSuffix(acc.Image, ":dev") {
					t.Errorf("kind image %s: want tag dev", acc.Image)
				}
				wantNoHooks(t, r)
				checkDevSecretKeys(t, r)
			}},
		{name: "external dependencies", values: external,
			external: []string{"po-account-db", "po-challenge-db", "po-amqp", "po-jwt"},
			check: func(t *testing.T, r *chartkit.Rendered) {
				mustNotHave(t, r, "StatefulSet", "Secret/"+fullDefault+"-mysql", "Secret/"+fullDefault+"-jwt")
				acc := container(t, r, fullDefault+"-account")
				wantEnv(t, acc, "DATABASE_URL", "po_account:$(PO_DATABASE_PASSWORD)@tcp(mysql.db.internal:3307)/po_account")
				wantEnv(t, acc, "REDIS_URL", "redis://redis.cache.internal:6379/2")
				wantEnv(t, acc, "AMQP_URL", "amqp://po-app:$(PO_AMQP_PASSWORD)@mq.internal:5672/po")
				wantEnv(t, acc, "JWT_SIGNING_KEY_FILE", "/etc/po/jwt/signing.pem")
				wantNoHooks(t, r)
			}},
		{name: "external URL secrets", values: urlSecrets, external: []string{"po-urls", "po-jwt"},
			check: func(t *testing.T, r *chartkit.Rendered) {
				for _, name := range []string{fullDefault + "-account", fullDefault + "-challenge"} {
					env := chartkit.Env(container(t, r, name))
					for _, v := range []string{"DATABASE_URL", "REDIS_URL", "AMQP_URL"} {
						if env[v].ValueFrom == nil || env[v].ValueFrom.SecretKeyRef == nil || env[v].ValueFrom.SecretKeyRef.Name != "po-urls" {
							t.Errorf("%s: %s should come from Secret po-urls, got %+v", name, v, env[v])
						}
					}
				}
				wantNoHooks(t, r)
			}},
		{name: "prometheus operator API present", opts: withAPI,
			values: map[string]any{"serviceMonitor": map[string]any{"release": "kube-prometheus-stack"}},
			check: func(t *testing.T, r *chartkit.Rendered) {
				for _, svc := range []string{"account", "challenge"} {
					sm, ok := r.Find("ServiceMonitor", fullDefault+"-"+svc).(*chartkit.ServiceMonitor)
					if !ok {
						t.Fatalf("no ServiceMonitor for %s with the API present", svc)
					}
					if sm.Labels["release"] != "kube-prometheus-stack" || sm.Spec.Endpoints[0].Path != "/metrics" {
						t.Errorf("ServiceMonitor %s: labels %v endpoints %+v", sm.Name, sm.Labels, sm.Spec.Endpoints)
					}
				}
				pr, ok := r.Find("PrometheusRule", fullDefault+"-alerts").(*chartkit.PrometheusRule)
				if !ok {
					t.Fatal("no PrometheusRule with the API present")
				}
				checkAlerts(t, pr.Spec)
			}},
		{name: "ingress with TLS from cert-manager, and HTTPRoutes",
			values: map[string]any{
				"ingress": map[string]any{"enabled": true, "className": "nginx",
					"account": map[string]any{"host": "accounts.example.com"}, "challenge": map[string]any{"host": "challenges.example.com"},
					"tls": map[string]any{"enabled": true, "certManager": map[string]any{"clusterIssuer": "letsencrypt"}}},
				"httpRoute": map[string]any{"enabled": true, "parentRefs": []any{map[string]any{"name": "public", "namespace": "gateway", "sectionName": "https"}},
					"account": map[string]any{"hostname": "accounts.example.com"}, "challenge": map[string]any{"hostname": "challenges.example.com"}},
			},
			check: func(t *testing.T, r *chartkit.Rendered) {
				ing, ok := r.Find("Ingress", fullDefault).(*networkingv1.Ingress)
				if !ok {
					t.Fatal("no Ingress")
				}
				if ing.Annotations["cert-manager.io/cluster-issuer"] != "letsencrypt" || len(ing.Spec.TLS) != 1 || ing.Spec.TLS[0].SecretName != fullDefault+"-tls" {
					t.Errorf("TLS: annotations %v, tls %+v", ing.Annotations, ing.Spec.TLS)
				}
				if ing.Spec.IngressClassName == nil || *ing.Spec.IngressClassName != "nginx" {
					t.Errorf("ingressClassName %v", ing.Spec.IngressClassName)
				}
				for _, rule := range ing.Spec.Rules {
					for _, p := range rule.HTTP.Paths {
						if p.Path == "/" || strings.HasPrefix(p.Path, "/metrics") || strings.HasPrefix(p.Path, "/healthz") || strings.HasPrefix(p.Path, "/readyz") {
							t.Errorf("%s%s is routed from outside", rule.Host, p.Path)
						}
						svc, ok := r.Find("Service", p.Backend.Service.Name).(*corev1.Service)
						if !ok || len(svc.Spec.Ports) == 0 || svc.Spec.Ports[0].Name != p.Backend.Service.Port.Name {
							t.Errorf("%s%s: backend %+v is not a named port of a Service", rule.Host, p.Path, p.Backend.Service)
						}
					}
				}
				for _, svc := range []string{"account", "challenge"} {
					hr, ok := r.Find("HTTPRoute", fullDefault+"-"+svc).(*chartkit.HTTPRoute)
					if !ok {
						t.Fatalf("no HTTPRoute for %s", svc)
					}
					if hr.Spec.ParentRefs[0].Name != "public" || hr.Spec.Hostnames[0] != svc+"s.example.com" || hr.Spec.Rules[0].BackendRefs[0].Name != fullDefault+"-"+svc {
						t.Errorf("HTTPRoute %s: %+v", hr.Name, hr.Spec)
					}
				}
			}},
		{name: "prometheus operator API absent", check: func(t *testing.T, r *chartkit.Rendered) {
			mustNotHave(t, r, "ServiceMonitor", "PrometheusRule")
		}},
		{name: "service monitor forced without the API",
			values: map[string]any{"serviceMonitor": map[string]any{"force": true}},
			check: func(t *testing.T, r *chartkit.Rendered) {
				mustHave(t, r, "ServiceMonitor/"+fullDefault+"-account", "ServiceMonitor/"+fullDefault+"-challenge")
				if r.Find("ServiceMonitor", fullDefault+"-account").(*chartkit.ServiceMonitor).Labels["release"] != "" {
					t.Error("release label set though serviceMonitor.release is empty")
				}
			}},
		{name: "service monitor disabled with the API", opts: withAPI,
			values: map[string]any{"serviceMonitor": map[string]any{"enabled": false}},
			check:  func(t *testing.T, r *chartkit.Rendered) { mustNotHave(t, r, "ServiceMonitor") }},
		{name: "monitoring off", values: map[string]any{"dashboards": map[string]any{"enabled": false}, "serviceMonitor": map[string]any{"enabled": false}},
			opts: withAPI,
			check: func(t *testing.T, r *chartkit.Rendered) {
				mustNotHave(t, r, "ServiceMonitor", "ConfigMap/"+fullDefault+"-dashboard-overview", "Deployment/"+fullDefault+"-grafana")
			}},
		{name: "dev monitoring", values: map[string]any{"devMonitoring": map[string]any{"enabled": true}},
			check: func(t *testing.T, r *chartkit.Rendered) {
				mustHave(t, r, "Deployment/"+fullDefault+"-prometheus", "Deployment/"+fullDefault+"-grafana", "Secret/"+fullDefault+"-grafana",
					"Service/"+fullDefault+"-account-pods", "Service/"+fullDefault+"-challenge-pods")
				cm := r.Find("ConfigMap", fullDefault+"-prometheus").(*corev1.ConfigMap)
				for _, want := range []string{fullDefault + "-account-pods.po.svc", fullDefault + "-challenge-pods.po.svc", "port: 3000", "port: 3001"} {
					if !strings.Contains(cm.Data["prometheus.yml"], want) {
						t.Errorf("prometheus.yml lacks %q:\n%s", want, cm.Data["prometheus.yml"])
					}
				}
				g := container(t, r, fullDefault+"-grafana")
				wantEnv(t, g, "GF_AUTH_ANONYMOUS_ENABLED", "true")
				wantEnv(t, g, "GF_AUTH_ANONYMOUS_ORG_ROLE", "Viewer")
			}},
		{name: "tracing off by default",
			check: func(t *testing.T, r *chartkit.Rendered) {
				mustNotHave(t, r, "Deployment/"+fullDefault+"-jaeger")
				for _, svc := range []string{"account", "challenge"} {
					for name := range chartkit.Env(container(t, r, fullDefault+"-"+svc)) {
						if strings.HasPrefix(name, "OTEL_") {
							t.Errorf("%s: %s set with tracing off", svc, name)
						}
					}
				}
			}},
		{name: "tracing to the dev Jaeger", values: map[string]any{
			"tracing":       map[string]any{"jaeger": map[string]any{"enabled": true}},
			"networkPolicy": map[string]any{"enabled": true}},
			check: func(t *testing.T, r *chartkit.Rendered) {
				mustHave(t, r, "Deployment/"+fullDefault+"-jaeger", "Service/"+fullDefault+"-jaeger", "NetworkPolicy/"+fullDefault+"-jaeger")
				for _, svc := range []string{"account", "challenge"} {
					c := container(t, r, fullDefault+"-"+svc)
					wantEnv(t, c, "OTEL_EXPORTER_OTLP_ENDPOINT", "http://"+fullDefault+"-jaeger:4318")
					wantEnv(t, c, "OTEL_TRACES_SAMPLER", "parentbased_always_on")
					if _, ok := chartkit.Env(c)["OTEL_TRACES_SAMPLER_ARG"]; ok {
						t.Errorf("%s: OTEL_TRACES_SAMPLER_ARG set though samplerArg is empty", svc)
					}
				}
				for _, f := range []flow{
					{"account", "jaeger", 4318, true}, {"challenge", "jaeger", 4318, true},
					{"mysql", "jaeger", 4318, false}, {"account", "jaeger", 16686, false}, {"jaeger", "account", 3000, false},
				} {
					if got := allowed(t, r, f.from, f.to, f.port); got != f.want {
						t.Errorf("%s -> %s:%d allowed %v, want %v", f.from, f.to, f.port, got, f.want)
					}
				}
				if !allowed(t, r, "jaeger", dnsPeer, 53) {
					t.Error("jaeger cannot reach DNS")
				}
			}},
		{name: "tracing to a collector", values: map[string]any{
			"tracing": map[string]any{"endpoint": "http://otel-collector.observability:4318", "sampler": "parentbased_traceidratio",
				"samplerArg": "0.25", "jaeger": map[string]any{"enabled": true}},
			"networkPolicy": map[string]any{"enabled": true}},
			check: func(t *testing.T, r *chartkit.Rendered) {
				for _, svc := range []string{"account", "challenge"} {
					c := container(t, r, fullDefault+"-"+svc)
					wantEnv(t, c, "OTEL_EXPORTER_OTLP_ENDPOINT", "http://otel-collector.observability:4318")
					wantEnv(t, c, "OTEL_TRACES_SAMPLER", "parentbased_traceidratio")
					wantEnv(t, c, "OTEL_TRACES_SAMPLER_ARG", "0.25")
				}
				for _, f := range []flow{
					{"account", externalPeer, 4318, true}, {"challenge", externalPeer, 4318, true}, {"account", externalPeer, 4317, false},
				} {
					if got := allowed(t, r, f.from, f.to, f.port); got != f.want {
						t.Errorf("%s -> %s:%d allowed %v, want %v", f.from, f.to, f.port, got, f.want)
					}
				}
			}},
		{name: "autoscaling", values: map[string]any{
			"account":   map[string]any{"autoscaling": map[string]any{"enabled": true}},
			"challenge": map[string]any{"autoscaling": map[string]any{"enabled": true, "maxReplicas": 10}}},
			check: func(t *testing.T, r *chartkit.Rendered) {
				mustHave(t, r, "HorizontalPodAutoscaler/"+fullDefault+"-account", "HorizontalPodAutoscaler/"+fullDefault+"-challenge")
			}},
		{name: "network policies", values: map[string]any{"networkPolicy": map[string]any{"enabled": true}, "devMonitoring": map[string]any{"enabled": true}},
			check: func(t *testing.T, r *chartkit.Rendered) {
				mustHave(t, r, "NetworkPolicy/"+fullDefault+"-default-deny", "NetworkPolicy/"+fullDefault+"-mysql")
				for _, f := range []flow{
					{"account", "mysql", 3306, true}, {"account", "redis", 6379, true}, {"account", "rabbitmq", 5672, true},
					{"challenge", "mysql", 3306, true}, {"challenge", "redis", 6379, true}, {"challenge", "rabbitmq", 5672, true},
					{"challenge", "account", 3000, true}, // JWKS
					{"prometheus", "account", 3000, true}, {"prometheus", "challenge", 3001, true}, {"grafana", "prometheus", 9090, true},
					{"account", "challenge", 3001, false}, {"redis", "mysql", 3306, false}, {"rabbitmq", "account", 3000, false},
					{"challenge", "mysql", 3307, false}, {"grafana", "mysql", 3306, false}, {"prometheus", "mysql", 3306, false},
					{"mysql", "redis", 6379, false}, {"account", "prometheus", 9090, false},
				} {
					if got := allowed(t, r, f.from, f.to, f.port); got != f.want {
						t.Errorf("%s -> %s:%d allowed %v, want %v", f.from, f.to, f.port, got, f.want)
					}
				}
				for _, c := range []string{"account", "challenge", "mysql", "redis", "rabbitmq", "prometheus", "grafana"} {
					if !allowed(t, r, c, dnsPeer, 53) {
						t.Errorf("%s cannot reach DNS", c)
					}
				}
			}},
		{name: "network policies with external dependencies", values: chartkit.Merge(external, map[string]any{"networkPolicy": map[string]any{"enabled": true}}),
			external: []string{"po-account-db", "po-challenge-db", "po-amqp", "po-jwt"},
			check: func(t *testing.T, r *chartkit.Rendered) {
				mustNotHave(t, r, "NetworkPolicy/"+fullDefault+"-mysql")
				for _, f := range []flow{
					{"account", externalPeer, 3307, true}, {"challenge", externalPeer, 5672, true}, {"account", externalPeer, 6379, true},
					{"account", externalPeer, 22, false}, {"challenge", externalPeer, 443, false},
				} {
					if got := allowed(t, r, f.from, f.to, f.port); got != f.want {
						t.Errorf("%s -> %s:%d allowed %v, want %v", f.from, f.to, f.port, got, f.want)
					}
				}
			}},
		{name: "admin, key rotation, registry", values: map[string]any{
			"image":   map[string]any{"registry": "ghcr.io/", "tag": "1.2.3"},
			"account": map[string]any{"admin": map[string]any{"email": "root@example.com", "existingSecret": "po-admin"}, "jwt": map[string]any{"previousKeys": []any{map[string]any{"secret": "po-jwt-old", "key": "private.pem"}}}},
			"common":  map[string]any{"extraEnv": []any{map[string]any{"name": "GOMAXPROCS", "value": "2"}}}},
			external: []string{"po-admin", "po-jwt-old"},
			check: func(t *testing.T, r *chartkit.Rendered) {
				acc := container(t, r, fullDefault+"-account")
				wantEnv(t, acc, "ADMIN_EMAIL", "root@example.com")
				wantEnv(t, acc, "JWT_PREVIOUS_KEY_FILES", "/etc/po/jwt-previous/0/private.pem")
				wantEnv(t, acc, "GOMAXPROCS", "2")
				if acc.Image != "ghcr.io/progressive-overload/account:1.2.3" {
					t.Errorf("image %s", acc.Image)
				}
			}},
		{name: "trusted proxies", values: map[string]any{"common": map[string]any{"trustedProxies": []any{"10.244.0.0/16", "192.0.2.10", "2001:db8::/64"}}},
			check: func(t *testing.T, r *chartkit.Rendered) {
				for _, svc := range []string{"account", "challenge"} {
					wantEnv(t, container(t, r, fullDefault+"-"+svc), "TRUSTED_PROXIES", "10.244.0.0/16,192.0.2.10,2001:db8::/64")
				}
			}},
		{name: "admission control", values: map[string]any{"common": map[string]any{"httpMaxInFlight": 1048576, "httpQueueTimeout": "250ms"}},
			check: func(t *testing.T, r *chartkit.Rendered) {
				for _, svc := range []string{"account", "challenge"} {
					c := container(t, r, fullDefault+"-"+svc)
					wantEnv(t, c, "HTTP_MAX_IN_FLIGHT", "1048576")
					wantEnv(t, c, "HTTP_QUEUE_TIMEOUT", "250ms")
				}
			}},
		{name: "other release name", opts: chartkit.Options{ReleaseName: "progressive-overload", Namespace: "prod"}, fullname: "progressive-overload",
			check: func(t *testing.T, r *chartkit.Rendered) {
				wantEnv(t, container(t, r, "progressive-overload-challenge"), "JWKS_URL", "http://progressive-overload-account:3000/.well-known/jwks.json")
			}},
	}
}

func TestChartRendersAndKeepsInvariants(t *testing.T) {
	contract, err := chartkit.ReadEnvContract(chartkit.ConventionsPath())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range cases(t) {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if _, set := chartkit.Path(tc.values, "account.jwt.existingSecret"); !set && !tc.genKey {
				tc.values = chartkit.Merge(tc.values, map[string]any{"account": map[string]any{"jwt": map[string]any{"existingSecret": "po-jwt"}}})
				tc.external = append(tc.external, "po-jwt")
			}
			r, err := chartkit.Render(tc.values, tc.opts)
			if err != nil {
				t.Fatalf("render: %v", err)
			}
			rel, ns := tc.opts.ReleaseName, tc.opts.Namespace
			if rel == "" {
				rel, ns = "po", "po"
			}
			for _, e := range chartkit.CheckInvariants(r, chartkit.CheckOptions{ReleaseName: rel, Namespace: ns, ExternalSecrets: tc.external}) {
				t.Error(e)
			}
			full := tc.fullname
			if full == "" {
				full = fullDefault
			}
			checkServiceEnv(t, r, full, contract)
			checkMigrateInit(t, r, full)
			if !strings.Contains(r.Notes, "port-forward svc/"+full+"-account 3000:3000") || !strings.Contains(r.Notes, "port-forward svc/"+full+"-challenge 3001:3001") {
				t.Errorf("NOTES.txt lacks the port-forward commands:\n%s", r.Notes)
			}
			if tc.check != nil {
				tc.check(t, r)
			}
		})
	}
}

// checkServiceEnv: every variable of docs/conventions.md is set on the service
// containers, except the optional ones (set only when configured).
func checkServiceEnv(t *testing.T, r *chartkit.Rendered, full string, contract chartkit.EnvContract) {
	t.Helper()
	// DEBUG_ADDR (the profiler) is for a developer's port-forward, set through
	// extraEnv when wanted, never by default.
	optional := map[string]bool{"ADMIN_EMAIL": true, "ADMIN_PASSWORD": true, "JWT_PREVIOUS_KEY_FILES": true, "DEBUG_ADDR": true}
	// Tracing: OTEL_EXPORTER_OTLP_ENDPOINT and the sampler only when an
	// endpoint or the dev Jaeger is configured (the "tracing" cases); the
	// SDK's other variables through extraEnv.
	for _, name := range contract.For("account") {
		if strings.HasPrefix(name, "OTEL_") {
			optional[name] = true
		}
	}
	for _, svc := range []string{"account", "challenge"} {
		c := container(t, r, full+"-"+svc)
		env := chartkit.Env(c)
		for _, name := range contract.For(svc) {
			if _, ok := env[name]; !ok && !optional[name] {
				t.Errorf("%s: %s (docs/conventions.md) is not set", svc, name)
			}
		}
		if _, ok := env["ADMIN_EMAIL"]; ok != (env["ADMIN_PASSWORD"].ValueFrom != nil) {
			t.Errorf("%s: ADMIN_EMAIL and ADMIN_PASSWORD (from a Secret) go together", svc)
		}
		if svc == "account" {
			path := env["JWT_SIGNING_KEY_FILE"].Value
			if !mountedFile(c, r.Deployment(full+"-account").Spec.Template.Spec, path) {
				t.Errorf("account: JWT_SIGNING_KEY_FILE %s is not a file of a mounted Secret volume", path)
			}
			for _, p := range strings.Split(env["JWT_PREVIOUS_KEY_FILES"].Value, ",") {
				if p != "" && !mountedFile(c, r.Deployment(full+"-account").Spec.Template.Spec, p) {
					t.Errorf("account: previous key %s is not mounted", p)
				}
			}
		}
		if _, limited := c.Resources.Limits[corev1.ResourceMemory]; limited {
			ref := env["GOMEMLIMIT"].ValueFrom
			if ref == nil || ref.ResourceFieldRef == nil || ref.ResourceFieldRef.Resource != "limits.memory" {
				t.Errorf("%s: a memory limit without GOMEMLIMIT from it (%+v): the Go heap would grow into the OOM killer", svc, env["GOMEMLIMIT"])
			}
		}
		if len(c.Args) != 1 || c.Args[0] != "serve" {
			t.Errorf("%s: args %v, want [serve]", svc, c.Args)
		}
	}
}

func checkMigrateInit(t *testing.T, r *chartkit.Rendered, full string) {
	t.Helper()
	for _, svc := range []string{"account", "challenge"} {
		name := full + "-" + svc
		var dep *appsv1.Deployment
		for _, o := range r.Objects {
			if d, ok := o.Obj.(*appsv1.Deployment); ok && d.Name == name {
				dep = d
			}
		}
		if dep == nil {
			t.Errorf("no Deployment %s", name)
			continue
		}
		inits := dep.Spec.Template.Spec.InitContainers
		if len(inits) != 1 || inits[0].Name != "migrate" {
			t.Errorf("%s: init containers %v, want one named migrate", name, inits)
			continue
		}
		c, main := inits[0], dep.Spec.Template.Spec.Containers[0]
		if len(c.Args) != 1 || c.Args[0] != "migrate" {
			t.Errorf("%s migrate: args %v, want [migrate]", name, c.Args)
		}
		if c.Image != main.Image {
			t.Errorf("%s migrate: image %s differs from the service's %s", name, c.Image, main.Image)
		}
		if _, ok := chartkit.Env(c)["DATABASE_URL"]; !ok || !reflect.DeepEqual(chartkit.Env(c)["DATABASE_URL"], chartkit.Env(main)["DATABASE_URL"]) {
			t.Errorf("%s migrate: DATABASE_URL missing or different from the service's", name)
		}
		if !reflect.DeepEqual(c.SecurityContext, main.SecurityContext) {
			t.Errorf("%s migrate: securityContext differs from the service's", name)
		}
	}
}

// wantNoHooks: migrations are init containers, so nothing waits on a Helm hook
// (a post-install hook never runs under `helm install --wait` while the services
// it would migrate are unready).
func wantNoHooks(t *testing.T, r *chartkit.Rendered) {
	t.Helper()
	for _, o := range r.Objects {
		if _, ok := o.Obj.(*batchv1.Job); ok || o.Hook {
			t.Errorf("unexpected Job or Helm hook %s %s (%s)", o.GVK.Kind, o.Name, o.Source)
		}
	}
}

func mountedFile(c corev1.Container, spec corev1.PodSpec, path string) bool {
	for _, m := range c.VolumeMounts {
		if !strings.HasPrefix(path, m.MountPath+"/") {
			continue
		}
		rel := strings.TrimPrefix(path, m.MountPath+"/")
		for _, v := range spec.Volumes {
			if v.Name == m.Name && v.Secret != nil {
				for _, it := range v.Secret.Items {
					if it.Path == rel {
						return true
					}
				}
			}
		}
	}
	return false
}

func checkGeneratedJWTKey(t *testing.T, r *chartkit.Rendered, acc corev1.Container) {
	t.Helper()
	s, ok := r.Find("Secret", fullDefault+"-jwt").(*corev1.Secret)
	if !ok {
		t.Fatal("no generated JWT Secret")
	}
	if s.Annotations["helm.sh/resource-policy"] != "keep" {
		t.Error("generated JWT key is not kept on uninstall")
	}
	block, _ := pem.Decode(s.Data["private.pem"])
	if block == nil {
		t.Fatal("private.pem is not PEM")
	}
	var key *rsa.PrivateKey
	switch block.Type {
	case "RSA PRIVATE KEY":
		k, err := x509.ParsePKCS1PrivateKey(block.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		key = k
	default:
		t.Fatalf("PEM block %q", block.Type)
	}
	if key.N.BitLen() < 2048 {
		t.Errorf("RSA key of %d bits", key.N.BitLen())
	}
}

func container(t *testing.T, r *chartkit.Rendered, deployment string) corev1.Container {
	t.Helper()
	d := r.Deployment(deployment)
	if d == nil {
		t.Fatalf("no Deployment %s in %v", deployment, r.Names())
	}
	return d.Spec.Template.Spec.Containers[0]
}

func wantEnv(t *testing.T, c corev1.Container, name, value string) {
	t.Helper()
	e, ok := chartkit.Env(c)[name]
	if !ok {
		t.Errorf("container %s: %s not set", c.Name, name)
		return
	}
	if e.Value != value {
		t.Errorf("container %s: %s = %q, want %q", c.Name, name, e.Value, value)
	}
}

// mustHave: "Kind/name" entries that must be rendered.
func mustHave(t *testing.T, r *chartkit.Rendered, names ...string) {
	t.Helper()
	all := r.Names()
	for _, n := range names {
		if !slices.Contains(all, n) {
			t.Errorf("%s not rendered; have %v", n, all)
		}
	}
}

// mustNotHave: "Kind" or "Kind/name" entries that must not be rendered.
func mustNotHave(t *testing.T, r *chartkit.Rendered, names ...string) {
	t.Helper()
	for _, o := range r.Objects {
		for _, n := range names {
			if n == o.GVK.Kind || n == o.GVK.Kind+"/"+o.Name {
				t.Errorf("%s/%s rendered, want no %s", o.GVK.Kind, o.Name, n)
			}
		}
	}
}

// Generated credentials are random per render (what `lookup` then keeps), so no
// fixed password can hide in the chart.
func TestGeneratedSecretsAreRandom(t *testing.T) {
	get := func() map[string][]byte {
		r, err := chartkit.Render(map[string]any{"account": map[string]any{"jwt": map[string]any{"existingSecret": "x"}}}, chartkit.Options{})
		if err != nil {
			t.Fatal(err)
		}
		out := map[string][]byte{}
		for _, o := range r.Objects {
			if s, ok := o.Obj.(*corev1.Secret); ok {
				for k, v := range s.Data {
					out[s.Name+"/"+k] = v
				}
			}
		}
		return out
	}
	a, b := get(), get()
	if len(a) < 4 {
		t.Fatalf("only %d generated values: %v", len(a), a)
	}
	for k, v := range a {
		if len(v) < 24 {
			t.Errorf("%s: %d characters, want at least 24", k, len(v))
		}
		if string(v) == string(b[k]) {
			t.Errorf("%s: same value in two renders: not generated", k)
		}
	}
}

// The StatefulSets' volumeClaimTemplates are immutable: their labels must not
// carry anything that changes between chart versions.
func TestVolumeClaimTemplatesAreStable(t *testing.T) {
	r, err := chartkit.Render(nil, chartkit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, o := range r.Objects {
		if s, ok := o.Obj.(*appsv1.StatefulSet); ok {
			for _, vct := range s.Spec.VolumeClaimTemplates {
				n++
				for k := range vct.Labels {
					if k == "helm.sh/chart" || k == "app.kubernetes.io/version" {
						t.Errorf("StatefulSet %s: volumeClaimTemplate label %s changes on upgrade", s.Name, k)
					}
				}
			}
		}
	}
	if n != 3 {
		t.Errorf("%d volumeClaimTemplates, want 3 (MySQL, Redis, RabbitMQ)", n)
	}
}

// Every key k8s/values-kind.yaml reads from the dev Secrets is one that
// hack/devsecrets writes.
func checkDevSecretKeys(t *testing.T, r *chartkit.Rendered) {
	t.Helper()
	keys := map[string][]string{devsecrets.CredentialsSecret: devsecrets.PasswordKeys, devsecrets.JWTSecret: {devsecrets.JWTKey}}
	n := 0
	for _, p := range r.Pods() {
		for _, c := range p.Template.Spec.Containers {
			for _, e := range c.Env {
				if e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil {
					continue
				}
				ref := e.ValueFrom.SecretKeyRef
				if want, ok := keys[ref.Name]; ok {
					n++
					if !slices.Contains(want, ref.Key) {
						t.Errorf("%s/%s env %s: key %s/%s is not written by hack/devsecrets", p.Kind, p.Name, e.Name, ref.Name, ref.Key)
					}
				}
			}
		}
		for _, v := range p.Template.Spec.Volumes {
			if v.Secret != nil && v.Secret.SecretName == devsecrets.JWTSecret {
				n++
				for _, it := range v.Secret.Items {
					if it.Key != devsecrets.JWTKey {
						t.Errorf("%s: JWT key %s", p.Name, it.Key)
					}
				}
			}
		}
	}
	if n < 8 {
		t.Errorf("only %d references to the dev Secrets", n)
	}
}

// checkAlerts: the rendered rules are the chart's rules/alerts.yaml, and every alert
// has a summary, a description and a runbook section in docs/operations.md.
func checkAlerts(t *testing.T, got chartkit.RuleFile) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(chartkit.ChartDir(), "rules", "alerts.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var want chartkit.RuleFile
	if err := k8syaml.UnmarshalStrict(b, &want); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("rendered rules differ from rules/alerts.yaml:\n%+v\n%+v", got, want)
	}
	ops, err := os.ReadFile(filepath.Join(chartkit.RepoRoot(), "docs", "operations.md"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, g := range want.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				continue
			}
			n++
			if r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
				t.Errorf("%s: no summary or description", r.Alert)
			}
			anchor := strings.TrimPrefix(r.Annotations["runbook_url"], "docs/operations.md#")
			if anchor != strings.ToLower(r.Alert) || !strings.Contains(string(ops), "\n### "+r.Alert+"\n") {
				t.Errorf("%s: runbook_url %q, want docs/operations.md#%s with a section '### %s' there", r.Alert, r.Annotations["runbook_url"], strings.ToLower(r.Alert), r.Alert)
			}
		}
	}
	if n < 8 {
		t.Errorf("%d alerts, want the eight of docs/operations.md", n)
	}
}

type flow struct {
	from, to string // components; or dnsPeer, externalPeer
	port     int32
	want     bool
}

const (
	dnsPeer      = "kube-dns" // the cluster's resolver, outside the release
	externalPeer = "an external address"
)

// podLabels are the pod template labels of each component the chart renders.
func podLabels(r *chartkit.Rendered) map[string]map[string]string {
	out := map[string]map[string]string{}
	for _, o := range r.Objects {
		var l map[string]string
		switch w := o.Obj.(type) {
		case *appsv1.Deployment:
			l = w.Spec.Template.Labels
		case *appsv1.StatefulSet:
			l = w.Spec.Template.Labels
		default:
			continue
		}
		out[l["app.kubernetes.io/component"]] = l
	}
	return out
}

func selects(sel metav1.LabelSelector, labels map[string]string) bool {
	s, err := metav1.LabelSelectorAsSelector(&sel)
	return err == nil && s.Matches(k8slabels.Set(labels))
}

// allowed evaluates the rendered NetworkPolicies as a CNI that enforces them
// would, for a TCP (or, to DNS, UDP) connection from a pod of one component to a
// pod of another (or to DNS, or an address outside the cluster) on port.
func allowed(t *testing.T, r *chartkit.Rendered, from, to string, port int32) bool {
	t.Helper()
	pods := podLabels(r)
	src, ok := pods[from]
	if !ok {
		t.Fatalf("no pods of %s", from)
	}
	dst := pods[to]
	dnsLabels := map[string]string{"k8s-app": "kube-dns"}
	peerMatches := func(peers []networkingv1.NetworkPolicyPeer, labels map[string]string, inRelease bool) bool {
		if len(peers) == 0 {
			return true // no `to`/`from`: any address
		}
		for _, p := range peers {
			switch {
			case p.IPBlock != nil:
				if !inRelease {
					return true
				}
			case p.NamespaceSelector != nil:
				// Another namespace's pods; kube-system's for DNS.
				if to == dnsPeer && p.PodSelector != nil && selects(*p.PodSelector, dnsLabels) {
					return true
				}
			case p.PodSelector != nil:
				if inRelease && selects(*p.PodSelector, labels) {
					return true
				}
			}
		}
		return false
	}
	portMatches := func(ports []networkingv1.NetworkPolicyPort) bool {
		if len(ports) == 0 {
			return true
		}
		for _, p := range ports {
			if p.Port != nil && p.Port.IntVal == port {
				return true
			}
		}
		return false
	}
	egressOK, egressPolicies := false, 0
	ingressOK, ingressPolicies := false, 0
	for _, o := range r.Objects {
		np, ok := o.Obj.(*networkingv1.NetworkPolicy)
		if !ok {
			continue
		}
		has := func(pt networkingv1.PolicyType) bool {
			for _, x := range np.Spec.PolicyTypes {
				if x == pt {
					return true
				}
			}
			return false
		}
		if selects(np.Spec.PodSelector, src) && has(networkingv1.PolicyTypeEgress) {
			egressPolicies++
			for _, e := range np.Spec.Egress {
				if peerMatches(e.To, dst, dst != nil) && portMatches(e.Ports) {
					egressOK = true
				}
			}
		}
		if dst != nil && selects(np.Spec.PodSelector, dst) && has(networkingv1.PolicyTypeIngress) {
			ingressPolicies++
			for _, in := range np.Spec.Ingress {
				if peerMatches(in.From, src, true) && portMatches(in.Ports) {
					ingressOK = true
				}
			}
		}
	}
	if egressPolicies == 0 {
		egressOK = true
	}
	if dst == nil || ingressPolicies == 0 { // outside the release: its own policies, not ours
		ingressOK = true
	}
	return egressOK && ingressOK
}
