package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/progressive-overload/po/hack/chartkit"
)

// dashboardMetrics reads the dashboards and returns every metric name their
// queries select, each with the places ("dashboard / panel") that use it.
func dashboardMetrics(files []string) (map[string][]string, error) {
	used := map[string][]string{}
	var errs []string
	for _, f := range files {
		qs, err := chartkit.ReadDashboard(f)
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		for _, q := range qs {
			names, err := chartkit.QueryMetrics(q.Expr)
			if err != nil {
				errs = append(errs, fmt.Sprintf("%s / %s: %v", q.Dashboard, q.Panel, err))
				continue
			}
			for _, n := range names {
				used[n] = append(used[n], q.Dashboard+" / "+q.Panel)
			}
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	if len(used) == 0 {
		return nil, fmt.Errorf("no metric in dashboards %v", files)
	}
	return used, nil
}

// unexported returns, sorted, the used metric names that no family of
// exported exports (a histogram's _bucket/_sum/_count series count as
// exported by the histogram).
func unexported(used map[string][]string, exported chartkit.MetricFamilies) []string {
	var out []string
	for n := range used {
		if !exported.Exports(n) {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// withBogusQuery copies dashboard src into dir with one more query on
// metric added to its first panel that has targets, and returns the copy.
func withBogusQuery(t *testing.T, src, dir, metric string) string {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	var d map[string]any
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	panels, _ := d["panels"].([]any)
	added := false
	for _, p := range panels {
		pm, _ := p.(map[string]any)
		targets, _ := pm["targets"].([]any)
		if len(targets) == 0 {
			continue
		}
		first, _ := targets[0].(map[string]any)
		pm["targets"] = append(targets, map[string]any{
			"datasource": first["datasource"],
			"expr":       `sum(rate(` + metric + `{service=~"$service"}[$__rate_interval]))`,
			"refId":      "BOGUS",
		})
		added = true
		break
	}
	if !added {
		t.Fatalf("%s: no panel with targets", src)
	}
	out, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(dir, filepath.Base(src))
	if err := os.WriteFile(dst, out, 0o600); err != nil {
		t.Fatal(err)
	}
	return dst
}

// TestDashboardsQueryRunningServices checks that every metric name in the
// chart's dashboards' queries is exported by a running service's /metrics,
// after traffic that makes every family the dashboards use appear.
func TestDashboardsQueryRunningServices(t *testing.T) {
	files, err := chartkit.DashboardFiles()
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 2 {
		t.Fatalf("dashboards: %v", files)
	}
	used, err := dashboardMetrics(files)
	if err != nil {
		t.Fatal(err)
	}

	// The comparison can fail: a copy of a dashboard with a query on a
	// metric nobody exports is reported, and only that metric.
	t.Run("checker reports an unexported metric", func(t *testing.T) {
		const bogus = "po_bogus_metric_total"
		contract, err := chartkit.ContractMetrics(chartkit.ConventionsPath())
		if err != nil {
			t.Fatal(err)
		}
		copied := slices.Clone(files)
		copied[0] = withBogusQuery(t, files[0], t.TempDir(), bogus)
		got, err := dashboardMetrics(copied)
		if err != nil {
			t.Fatal(err)
		}
		if missing := unexported(got, contract); !slices.Equal(missing, []string{bogus}) {
			t.Errorf("unexported = %v, want [%s]", missing, bogus)
		}
		if missing := unexported(used, contract); len(missing) != 0 {
			t.Errorf("real dashboards against the contract: unexported %v", missing)
		}
	})

	s := newSystem(t)
	ada := s.signUp(t, "dash") // signup + login
	c := s.createChallenge(t, ada.Token)
	s.waitStatus(t, ada.Token, c.Id, "active") // challenge.created → user.validated
	s.challenge.api.Do(t, http.MethodPost, fmt.Sprintf("/challenges/%d/logs", c.Id), ada.Token,
		map[string]any{"sets": 5, "reps": 5, "value": 60}).Expect(t, http.StatusCreated)
	logsPath := fmt.Sprintf("/challenges/logs/%d", ada.ID)
	progressPath := fmt.Sprintf("/challenges/%d/progress", c.Id)
	// Read until each cache has answered a hit: the first read misses and
	// fills, a later one hits (polled: a fill may land after the answer).
	poll(t, "cache hits on user-logs and progress", func() bool {
		s.challenge.api.Do(t, http.MethodGet, logsPath, ada.Token, nil).Expect(t, http.StatusOK)
		s.challenge.api.Do(t, http.MethodGet, progressPath, ada.Token, nil).Expect(t, http.StatusOK)
		m := s.challenge.api.Metrics(t)
		return m.Sum("cache_requests_total", "cache", "user-logs", "result", "hit") > 0 &&
			m.Sum("cache_requests_total", "cache", "progress", "result", "hit") > 0
	}, nil)
	poll(t, "events published and consumed by both services", func() bool {
		return published(t, s.challenge, "challenge.created") > 0 &&
			published(t, s.account, "user.validated") > 0 &&
			consumed(t, s.account, "challenge.created", "ok") > 0 &&
			consumed(t, s.challenge, "user.validated", "ok") > 0
	}, nil)

	exported, err := chartkit.MetricsFrom([]string{s.account.url + "/metrics", s.challenge.url + "/metrics"})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range unexported(used, exported) {
		t.Errorf("%s is exported by neither service; used by %s", n, strings.Join(used[n], ", "))
	}
	names := make([]string, 0, len(used))
	for n := range used {
		names = append(names, n)
	}
	sort.Strings(names)
	t.Logf("dashboards use %d metrics, checked against both services' /metrics: %v", len(names), names)
}
