package chartkit_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/progressive-overload/po/hack/chartkit"
	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/lint/support"
)

// values.schema.json rejects typos and wrong types; the templates fail with a
// clear message when an external dependency lacks its address or credentials.
func TestValuesAreValidated(t *testing.T) {
	ch, err := chartkit.LoadChart()
	if err != nil {
		t.Fatal(err)
	}
	noKey := map[string]any{"account": map[string]any{"jwt": map[string]any{"existingSecret": "po-jwt"}}}
	for _, tc := range []struct {
		name string
		set  []string
		base map[string]any
		want string // substring of the error
	}{
		{"typo at the top", []string{"acount.replicaCount=3"}, nil, "acount"},
		{"typo in a service", []string{"account.replicaCont=3"}, nil, "replicaCont"},
		{"typo in a dependency", []string{"mysql.creat=false"}, nil, "creat"},
		{"typo in resources", []string{"account.resources.limits.memroy=1Gi"}, nil, "memroy"},
		{"string for a port", []string{"account.port=http"}, nil, "port"},
		{"port out of range", []string{"challenge.port=70000"}, nil, "port"},
		{"string for a boolean", []string{"redis.create=no"}, nil, "create"},
		{"unknown log level", []string{"common.logLevel=verbose"}, nil, "logLevel"},
		{"number for a duration", []string{"common.shutdownTimeout=15"}, nil, "shutdownTimeout"},
		{"no requests in flight", []string{"common.httpMaxInFlight=0"}, nil, "httpMaxInFlight"},
		{"number for the queue timeout", []string{"common.httpQueueTimeout=100"}, nil, "httpQueueTimeout"},
		{"bad duration", []string{"challenge.cache.ttl=30 seconds"}, nil, "ttl"},
		{"number for a retention", []string{"common.events.inboxRetention=168"}, nil, "inboxRetention"},
		{"typo in the event retentions", []string{"common.events.outboxRetension=1h"}, nil, "outboxRetension"},
		{"bad pull policy", []string{"image.pullPolicy=Sometimes"}, nil, "pullPolicy"},
		{"trusted proxy by name", []string{"common.trustedProxies[0]=ingress-nginx"}, nil, "trustedProxies"},
		{"trusted proxies as a string", []string{"common.trustedProxies=10.244.0.0/16"}, nil, "trustedProxies"},
		{"external MySQL without host", []string{"mysql.create=false", "account.database.existingSecret=a", "challenge.database.existingSecret=c"}, noKey, "mysql.host is required"},
		{"external MySQL without credentials", []string{"mysql.create=false", "mysql.host=db"}, noKey, "database.existingSecret"},
		{"external RabbitMQ without credentials", []string{"rabbitmq.create=false", "rabbitmq.host=mq"}, noKey, "rabbitmq.auth.existingSecret"},
		{"external Redis without host", []string{"redis.create=false"}, noKey, "redis.host"},
		{"admin without password Secret", []string{"account.admin.email=a@b.c"}, noKey, "account.admin.existingSecret is required"},
		{"ingress without hosts", []string{"ingress.enabled=true", "ingress.account.host=a.example.com"}, noKey, "/ingress/challenge/host"},
		{"half-configured ingress TLS", []string{"ingress.enabled=true", "ingress.account.host=a.example.com", "ingress.challenge.host=c.example.com", "ingress.tls.enabled=true"}, noKey, "tls"},
		{"HTTPRoute without a Gateway", []string{"httpRoute.enabled=true", "httpRoute.account.hostname=a.example.com", "httpRoute.challenge.hostname=c.example.com"}, noKey, "parentRefs"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vals, err := chartkit.Set(tc.base, tc.set...)
			if err != nil {
				t.Fatal(err)
			}
			_, err = chartkit.RenderChart(ch, vals, chartkit.Options{})
			if err == nil {
				t.Fatalf("values %v accepted", tc.set)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error does not mention %q: %v", tc.want, err)
			}
		})
	}
}

// `helm lint --strict` through Helm's library, for the defaults and the kind
// values (make helm-lint runs the helm binary too).
func TestHelmLint(t *testing.T) {
	kind, err := chartkit.ValuesFile(filepath.Join(chartkit.RepoRoot(), "k8s", "values-kind.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for name, vals := range map[string]map[string]any{"defaults": {}, "kind": kind} {
		l := action.NewLint()
		l.Strict = true
		l.Namespace = "po"
		l.KubeVersion = &chartutil.KubeVersion{Version: "v1.32.0", Major: "1", Minor: "32"}
		res := l.Run([]string{chartkit.ChartDir()}, vals)
		for _, e := range res.Errors {
			t.Errorf("%s: %v", name, e)
		}
		for _, m := range res.Messages {
			if m.Severity >= support.WarningSev { // INFO (e.g. "icon is recommended") is advice
				t.Errorf("%s: %s", name, m)
			}
		}
		if res.TotalChartsLinted != 1 {
			t.Errorf("%s: linted %d charts", name, res.TotalChartsLinted)
		}
	}
}
