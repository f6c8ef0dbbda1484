package httpserver

import (
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"
)

// httpMetrics holds the HTTP metrics named in docs/conventions.md; dashboards depend
// on these exact names and labels.
type httpMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// Buckets reach down to 250µs because cached reads finish well under a millisecond
// and the product is measured on their p99.
var durationBuckets = []float64{.00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

func newHTTPMetrics(reg prometheus.Registerer) *httpMetrics {
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "http_requests_total",
			Help: "HTTP requests served, by route template and status code.",
		}, []string{"service", "route", "method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "http_request_duration_seconds",
			Help:    "Time from request received to response written, by route template.",
			Buckets: durationBuckets,
		}, []string{"service", "route", "method"}),
	}
	reg.MustRegister(m.requests, m.duration)
	return m
}

// observe counts a request and its duration. With a traceID (the request's
// trace was sampled) the duration carries it as an exemplar, so the bucket of
// a slow request links to its trace; the client keeps the latest exemplar per
// bucket, and exports them in the OpenMetrics format only.
func (m *httpMetrics) observe(service, route, method string, code int, elapsed time.Duration, traceID string) {
	m.requests.WithLabelValues(service, route, method, strconv.Itoa(code)).Inc()
	h := m.duration.WithLabelValues(service, route, method)
	if traceID == "" {
		h.Observe(elapsed.Seconds())
		return
	}
	h.(prometheus.ExemplarObserver).ObserveWithExemplar(elapsed.Seconds(), prometheus.Labels{"trace_id": traceID})
}

// routeLabel is the route template ("/users/:id"), never the raw path: raw paths
// carry ids and would give every user their own time series.
func routeLabel(c *fiber.Ctx) string {
	r := c.Route()
	if r == nil || r.Path == "" || (r.Path == "/" && c.Path() != "/") || r.Path == "*" || r.Path == "/*" {
		return "unmatched"
	}
	return r.Path
}
