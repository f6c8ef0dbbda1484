package chartkit_test

import (
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/progressive-overload/po/hack/chartkit"
)

// PO_METRICS_FROM points the dashboard test at what the services really export:
// a comma-separated list of /metrics URLs of running services or files holding
// their output, e.g.
//
//	PO_METRICS_FROM=http://localhost:3000/metrics,http://localhost:3001/metrics make chart-test
//
// Without it the names are checked against docs/conventions.md ("Metrics").
const metricsFromEnv = "PO_METRICS_FROM"

func referenceMetrics(t *testing.T) (chartkit.MetricFamilies, string) {
	t.Helper()
	if v := strings.TrimSpace(os.Getenv(metricsFromEnv)); v != "" {
		fams, err := chartkit.MetricsFrom(strings.Split(v, ","))
		if err != nil {
			t.Fatalf("%s: %v", metricsFromEnv, err)
		}
		return fams, v
	}
	fams, err := chartkit.ContractMetrics(chartkit.ConventionsPath())
	if err != nil {
		t.Fatal(err)
	}
	return fams, "docs/conventions.md"
}

// Every metric a dashboard queries is exported, and every metric of the contract
// is on a dashboard.
func TestDashboardsQueryExportedMetrics(t *testing.T) {
	files, err := chartkit.DashboardFiles()
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 2 {
		t.Fatalf("dashboards: %v", files)
	}
	exported, from := referenceMetrics(t)
	used := map[string]bool{}
	for _, f := range files {
		qs, err := chartkit.ReadDashboard(f)
		if err != nil {
			t.Error(err)
			continue
		}
		for _, q := range qs {
			names, err := chartkit.QueryMetrics(q.Expr)
			if err != nil {
				t.Errorf("%s / %s: %v", q.Dashboard, q.Panel, err)
				continue
			}
			for _, n := range names {
				used[n] = true
				if !exported.Exports(n) {
					t.Errorf("%s / %s: %s is not exported (per %s)", q.Dashboard, q.Panel, n, from)
				}
			}
		}
	}
	contract, err := chartkit.ContractMetrics(chartkit.ConventionsPath())
	if err != nil {
		t.Fatal(err)
	}
	var missing []string
	for fam, typ := range contract {
		ok := used[fam]
		if typ == "histogram" {
			ok = ok || used[fam+"_bucket"]
		}
		if !ok {
			missing = append(missing, fam)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("contract metrics on no dashboard: %v", missing)
	}
}

// The checker itself: it finds selectors, refuses bare metric names, and knows
// histogram series.
func TestQueryMetricsChecker(t *testing.T) {
	got, err := chartkit.QueryMetrics(`histogram_quantile(0.9, sum by (le) (rate(http_request_duration_seconds_bucket{service=~"$service",route="/x{y}"}[5m]))) / sum(outbox_pending{})`)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, ",") != "http_request_duration_seconds_bucket,outbox_pending" {
		t.Errorf("got %v", got)
	}
	if _, err := chartkit.QueryMetrics(`sum(rate(http_requests_total[5m]))`); err == nil {
		t.Error("bare metric name accepted")
	}
	fams, err := chartkit.ExpositionMetrics(strings.NewReader(`# HELP http_request_duration_seconds x
# TYPE http_request_duration_seconds histogram
http_request_duration_seconds_bucket{le="0.1"} 1
# TYPE http_requests_total counter
http_requests_total{code="200"} 3
go_goroutines 7
`))
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]bool{
		"http_request_duration_seconds_bucket": true, "http_requests_total": true, "go_goroutines": true,
		"http_requests_total_bucket": false, "cache_requests_total": false,
	} {
		if fams.Exports(name) != want {
			t.Errorf("Exports(%s) = %v, want %v", name, !want, want)
		}
	}
}
