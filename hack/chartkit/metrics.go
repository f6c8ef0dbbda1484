package chartkit

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"
)

// DashboardQuery is one PromQL expression of a dashboard.
type DashboardQuery struct {
	Dashboard, Panel, Expr string
}

// DashboardFiles lists the chart's dashboards/*.json.
func DashboardFiles() ([]string, error) {
	return filepath.Glob(filepath.Join(ChartDir(), "dashboards", "*.json"))
}

type dashboardJSON struct {
	UID        string  `json:"uid"`
	Title      string  `json:"title"`
	Panels     []panel `json:"panels"`
	Templating struct {
		List []struct {
			Name  string          `json:"name"`
			Type  string          `json:"type"`
			Query json.RawMessage `json:"query"`
		} `json:"list"`
	} `json:"templating"`
}

type panel struct {
	ID         int             `json:"id"`
	Type       string          `json:"type"`
	Title      string          `json:"title"`
	Datasource json.RawMessage `json:"datasource"`
	GridPos    struct{ H, W, X, Y int }
	Targets    []struct {
		Expr       string          `json:"expr"`
		RefID      string          `json:"refId"`
		Datasource json.RawMessage `json:"datasource"`
	} `json:"targets"`
	Panels []panel `json:"panels"` // collapsed rows
}

// ReadDashboard parses a dashboard and returns its queries (panel targets and
// query variables), after checking its shape: a uid and title, unique panel
// ids, panels inside the 24-column grid, every non-row panel with at least one
// target, every target on the `${datasource}` variable.
func ReadDashboard(path string) ([]DashboardQuery, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var d dashboardJSON
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	name := filepath.Base(path)
	if d.UID == "" || d.Title == "" {
		return nil, fmt.Errorf("%s: no uid or title", name)
	}
	var out []DashboardQuery
	ids := map[int]bool{}
	var errs []string
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			if ids[p.ID] {
				errs = append(errs, fmt.Sprintf("panel id %d used twice", p.ID))
			}
			ids[p.ID] = true
			if p.GridPos.W <= 0 || p.GridPos.X+p.GridPos.W > 24 {
				errs = append(errs, fmt.Sprintf("panel %q: gridPos %+v outside the 24-column grid", p.Title, p.GridPos))
			}
			if p.Type == "row" {
				walk(p.Panels)
				continue
			}
			if len(p.Targets) == 0 {
				errs = append(errs, fmt.Sprintf("panel %q has no query", p.Title))
			}
			for _, tg := range p.Targets {
				if !strings.Contains(string(tg.Datasource), `"${datasource}"`) {
					errs = append(errs, fmt.Sprintf("panel %q: target datasource %s is not ${datasource}", p.Title, tg.Datasource))
				}
				if strings.TrimSpace(tg.Expr) == "" {
					errs = append(errs, fmt.Sprintf("panel %q: empty expr", p.Title))
				}
				out = append(out, DashboardQuery{name, p.Title, tg.Expr})
			}
		}
	}
	walk(d.Panels)
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		var q struct {
			Query string `json:"query"`
		}
		if err := json.Unmarshal(v.Query, &q); err != nil {
			var s string
			if err2 := json.Unmarshal(v.Query, &s); err2 != nil {
				errs = append(errs, fmt.Sprintf("variable %s: query %s", v.Name, v.Query))
				continue
			}
			q.Query = s
		}
		out = append(out, DashboardQuery{name, "variable " + v.Name, q.Query})
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%s: %s", name, strings.Join(errs, "; "))
	}
	return out, nil
}

var (
	// A selector as the dashboards write them: metric{...}. label_values(metric, l)
	// is the variable form.
	selectorRe    = regexp.MustCompile(`([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{`)
	labelValuesRe = regexp.MustCompile(`label_values\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*,`)
	// Any identifier that looks like a metric (has a known unit/type suffix).
	metricLikeRe = regexp.MustCompile(`\b([a-z_:][a-z0-9_:]*_(total|seconds|bucket|count|sum|pending|bytes|ratio))\b`)
	stringsRe    = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)
)

// QueryMetrics returns the metric names a query selects. Dashboards must write
// every selector as name{...} (so it can be found); an identifier that looks
// like a metric but is not written that way is an error.
func QueryMetrics(expr string) ([]string, error) {
	clean := stringsRe.ReplaceAllString(expr, `""`)
	set := map[string]bool{}
	for _, m := range selectorRe.FindAllStringSubmatch(clean, -1) {
		set[m[1]] = true
	}
	for _, m := range labelValuesRe.FindAllStringSubmatch(clean, -1) {
		set[m[1]] = true
	}
	for _, m := range metricLikeRe.FindAllStringSubmatch(clean, -1) {
		if !set[m[1]] {
			return nil, fmt.Errorf("%q: %s is not written as a selector name{...}", expr, m[1])
		}
	}
	if len(set) == 0 {
		return nil, fmt.Errorf("%q selects no metric", expr)
	}
	out := make([]string, 0, len(set))
	for n := range set {
		out = append(out, n)
	}
	sort.Strings(out)
	return out, nil
}

// MetricFamilies maps a metric family name to its type (counter, gauge,
// histogram, summary, or "" when unknown).
type MetricFamilies map[string]string

// Exports reports whether a series name is exported by a family: the family
// itself, or a histogram's _bucket/_sum/_count, or a summary's _sum/_count.
func (f MetricFamilies) Exports(series string) bool {
	if _, ok := f[series]; ok {
		return true
	}
	for suffix, types := range map[string][]string{"_bucket": {"histogram", ""}, "_sum": {"histogram", "summary", ""}, "_count": {"histogram", "summary", ""}} {
		base, ok := strings.CutSuffix(series, suffix)
		if !ok {
			continue
		}
		if t, ok := f[base]; ok {
			for _, want := range types {
				if t == want {
					return true
				}
			}
		}
	}
	return false
}

var contractMetricRe = regexp.MustCompile("`([a-z_:][a-z0-9_:]*)(\\{[^}`]*\\})?`( \\(histogram\\))?")

// ContractMetrics reads the metric families of docs/conventions.md, section
// "Metrics": every `name{labels}` item; "(histogram)" marks histograms.
func ContractMetrics(path string) (MetricFamilies, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	out := MetricFamilies{}
	in := false
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "## ") {
			in = strings.HasPrefix(line, "## Metrics")
			continue
		}
		if !in || !strings.HasPrefix(strings.TrimSpace(line), "- ") {
			continue
		}
		for _, m := range contractMetricRe.FindAllStringSubmatch(line, -1) {
			t := ""
			switch {
			case m[3] != "":
				t = "histogram"
			case strings.HasSuffix(m[1], "_total"):
				t = "counter"
			}
			out[m[1]] = t
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no metrics in a \"## Metrics\" section", path)
	}
	return out, nil
}

// ExpositionMetrics reads Prometheus text exposition (a /metrics response): the
// families declared by # TYPE lines and the names of samples without one.
func ExpositionMetrics(r io.Reader) (MetricFamilies, error) {
	out := MetricFamilies{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "":
		case strings.HasPrefix(line, "# TYPE "):
			f := strings.Fields(line)
			if len(f) >= 4 {
				out[f[2]] = f[3]
			}
		case strings.HasPrefix(line, "#"):
		default:
			name := line
			if i := strings.IndexAny(line, "{ "); i >= 0 {
				name = line[:i]
			}
			if !out.Exports(name) {
				out[name] = ""
			}
		}
	}
	return out, sc.Err()
}

// MetricsFrom reads the families exported at each source: an http(s) URL of a
// running service's /metrics, or a file holding such output.
func MetricsFrom(sources []string) (MetricFamilies, error) {
	out := MetricFamilies{}
	client := &http.Client{Timeout: 10 * time.Second}
	for _, src := range sources {
		var rc io.ReadCloser
		if strings.HasPrefix(src, "http://") || strings.HasPrefix(src, "https://") {
			resp, err := client.Get(src)
			if err != nil {
				return nil, err
			}
			if resp.StatusCode != http.StatusOK {
				resp.Body.Close()
				return nil, fmt.Errorf("%s: %s", src, resp.Status)
			}
			rc = resp.Body
		} else {
			f, err := os.Open(src)
			if err != nil {
				return nil, err
			}
			rc = f
		}
		fams, err := ExpositionMetrics(rc)
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", src, err)
		}
		if len(fams) == 0 {
			return nil, fmt.Errorf("%s: no metrics", src)
		}
		for k, v := range fams {
			out[k] = v
		}
	}
	return out, nil
}
