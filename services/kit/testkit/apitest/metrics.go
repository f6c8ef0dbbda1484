package apitest

import (
	"bytes"
	"fmt"
	"net/http"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Metrics is one reading of a service's metrics, by family name.
type Metrics map[string]*dto.MetricFamily

// Metrics scrapes GET /metrics, as Prometheus does.
func (c *Client) Metrics(t testing.TB) Metrics {
	t.Helper()
	r := c.Do(t, http.MethodGet, "/metrics", "", nil).Expect(t, http.StatusOK)
	m, err := ParseMetrics(r.Body)
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	return m
}

// ParseMetrics reads the Prometheus text exposition format.
func ParseMetrics(text []byte) (Metrics, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(bytes.NewReader(text))
	if err != nil {
		return nil, fmt.Errorf("metrics exposition: %w", err)
	}
	return mfs, nil
}

// Gather reads a registry directly, without a request.
func Gather(t testing.TB, g prometheus.Gatherer) Metrics {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	m := Metrics{}
	for _, mf := range mfs {
		m[mf.GetName()] = mf
	}
	return m
}

// Value is the value of the series of name whose labels (name, value pairs)
// are exactly labels, 0 when there is none: a counter's or gauge's value,
// a histogram's or summary's count.
func (m Metrics) Value(name string, labels ...string) float64 {
	want := pairs(labels)
	for _, s := range m[name].GetMetric() {
		if len(s.GetLabel()) == len(want) && includes(s, want) {
			return value(s)
		}
	}
	return 0
}

// Sum adds up the series of name whose labels include labels (name, value
// pairs): the whole of what several routes, codes or services count.
func (m Metrics) Sum(name string, labels ...string) float64 {
	want := pairs(labels)
	var sum float64
	for _, s := range m[name].GetMetric() {
		if includes(s, want) {
			sum += value(s)
		}
	}
	return sum
}

func pairs(labels []string) map[string]string {
	if len(labels)%2 != 0 {
		panic(fmt.Sprintf("apitest: labels %q are not name, value pairs", labels))
	}
	out := make(map[string]string, len(labels)/2)
	for i := 0; i < len(labels); i += 2 {
		out[labels[i]] = labels[i+1]
	}
	return out
}

func includes(s *dto.Metric, want map[string]string) bool {
	n := 0
	for _, lp := range s.GetLabel() {
		if v, ok := want[lp.GetName()]; ok {
			if v != lp.GetValue() {
				return false
			}
			n++
		}
	}
	return n == len(want)
}

func value(s *dto.Metric) float64 {
	switch {
	case s.Counter != nil:
		return s.GetCounter().GetValue()
	case s.Gauge != nil:
		return s.GetGauge().GetValue()
	case s.Histogram != nil:
		return float64(s.GetHistogram().GetSampleCount())
	case s.Summary != nil:
		return float64(s.GetSummary().GetSampleCount())
	default:
		return s.GetUntyped().GetValue()
	}
}
