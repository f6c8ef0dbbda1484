package apitest_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/progressive-overload/po/services/kit/problem"
	"github.com/progressive-overload/po/services/kit/testkit"
	"github.com/progressive-overload/po/services/kit/testkit/apitest"
)

// Fails on goroutines left behind: a client's idle connections, say.
func TestMain(m *testing.M) { testkit.Main(m) }

// spec is a contract of one operation: GET /things/{id} answers a thing or
// a problem.
const spec = `
openapi: 3.0.3
info: {title: things, version: "1"}
paths:
  /things/{id}:
    get:
      operationId: getThing
      parameters:
        - {name: id, in: path, required: true, schema: {type: integer, minimum: 1}}
      responses:
        "200":
          description: the thing
          content:
            application/json:
              schema:
                type: object
                required: [id, name]
                properties:
                  id: {type: integer}
                  name: {type: string}
        "404":
          description: no such thing
          content:
            application/problem+json:
              schema: {type: object, required: [status], properties: {status: {type: integer}}}
        "422":
          description: a bad id
          content:
            application/problem+json:
              schema: {type: object, required: [status], properties: {status: {type: integer}}}
`

// server answers each path with the status, Content-Type and body the test
// gives it.
func server(t *testing.T, answers map[string][3]string) *apitest.Client {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, ok := answers[r.URL.Path]
		if !ok {
			a = [3]string{"404", problem.ContentType, `{"type":"about:blank","title":"Not Found","status":404}`}
		}
		w.Header().Set("Content-Type", a[1])
		var status int
		fmt.Sscan(a[0], &status)
		w.WriteHeader(status)
		_, _ = w.Write([]byte(a[2]))
	}))
	t.Cleanup(srv.Close)
	c := apitest.New(t, srv.URL, []byte(spec), apitest.Options{
		Check: func(_ *http.Request, r apitest.Response) error {
			if strings.Contains(string(r.Body), "secret") {
				return fmt.Errorf("leaks a secret: %s", r.Body)
			}
			return nil
		},
	})
	t.Cleanup(c.Close)
	return c
}

func TestTryChecksEveryAnswer(t *testing.T) {
	c := server(t, map[string][3]string{
		"/things/1": {"200", "application/json", `{"id":1,"name":"one"}`},
		"/things/2": {"200", "application/json", `{"id":"two"}`},
		"/things/3": {"500", problem.ContentType, `{"status":500}`},
		"/things/4": {"404", "application/json", `{"status":404}`},
		"/things/5": {"200", "application/json", `{"id":5,"name":"secret"}`},
		"/things/6": {"422", problem.ContentType, `{"type":"urn:x","title":"Invalid","status":422,"errors":[{"field":"id","message":"bad"},{"field":"name","message":"bad"}]}`},
		"/healthz":  {"200", "text/plain", "ok"},
		"/other":    {"200", "application/json", `{}`},
	})
	for _, tc := range []struct {
		path string
		want string // in the error; "" for none
	}{
		{"/things/1", ""},
		{"/things/2", "does not match the contract"},
		{"/things/3", "server error"},
		{"/things/4", "Content-Type"},
		{"/things/5", "leaks a secret"},
		{"/things/6", ""},
		{"/things/7", ""}, // 404 problem+json
		{"/healthz", ""},  // the platform's, not the contract's
		{"/other", "the contract has no such operation"},
	} {
		r, err := c.Try("GET", tc.path, "", nil)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("GET %s: %v", tc.path, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("GET %s: error %v, want one saying %q", tc.path, err, tc.want)
		case r.Status == 0:
			t.Errorf("GET %s: no answer with the error", tc.path)
		}
	}

	r, err := c.Try("GET", "/things/6", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if p := r.Expect(t, 422).Problem(t); p.Type != "urn:x" || p.Title != "Invalid" {
		t.Errorf("problem %+v", p)
	}
	if f := r.Fields(t); !slices.Equal(f, []string{"id", "name"}) {
		t.Errorf("fields %v", f)
	}
	var thing struct{ Name string }
	c.Do(t, "GET", "/things/1", "", nil).Expect(t, 200).Decode(t, &thing)
	if thing.Name != "one" {
		t.Errorf("decoded %+v", thing)
	}
}

// recorder is a testing.TB that keeps what the code under test reports.
type recorder struct {
	testing.TB
	mu     sync.Mutex
	errors []string
	fatal  bool
}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}
func (r *recorder) Fatalf(format string, args ...any) {
	r.Errorf(format, args...)
	r.mu.Lock()
	r.fatal = true
	r.mu.Unlock()
	runtime.Goexit()
}

// run calls f with a recorder on a goroutine of its own, which Fatalf ends.
func run(t *testing.T, f func(testing.TB)) *recorder {
	rec := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(rec)
	}()
	<-done
	return rec
}

func TestDoReportsAndGoesOn(t *testing.T) {
	c := server(t, map[string][3]string{
		"/things/2": {"200", "application/json", `{"id":"two"}`},
	})
	var got apitest.Response
	rec := run(t, func(tb testing.TB) { got = c.Do(tb, "GET", "/things/2", "", nil) })
	if rec.fatal || len(rec.errors) != 1 || !strings.Contains(rec.errors[0], "GET /things/2") || got.Status != 200 {
		t.Errorf("Do on an answer off the contract: fatal %v, errors %q, answer %s", rec.fatal, rec.errors, got)
	}
	rec = run(t, func(tb testing.TB) { c.Do(tb, "GET", "/things/2", "", nil).Expect(tb, 201) })
	if !rec.fatal {
		t.Error("Expect of another status did not fail the test")
	}
	rec = run(t, func(tb testing.TB) { c.Do(tb, "GET", "/things/1", "", nil, "X-Odd") })
	if !rec.fatal {
		t.Error("an odd header list did not fail the test")
	}
	rec = run(t, func(tb testing.TB) { c.Do(tb, "GET", "/things/7", "", nil).Decode(tb, &struct{ Status string }{}) })
	if !rec.fatal {
		t.Error("a body that does not decode did not fail the test")
	}
	unreachable := apitest.New(t, "http://127.0.0.1:1", []byte(spec), apitest.Options{})
	t.Cleanup(unreachable.Close)
	rec = run(t, func(tb testing.TB) { unreachable.Do(tb, "GET", "/things/1", "", nil) })
	if !rec.fatal {
		t.Error("a transport failure did not fail the test")
	}
}

func TestProblemChecksItsShape(t *testing.T) {
	for name, r := range map[string]apitest.Response{
		"not problem+json": {Status: 404, Header: http.Header{"Content-Type": {"application/json"}}, Body: []byte(`{"status":404}`)},
		"another status":   {Status: 404, Header: http.Header{"Content-Type": {problem.ContentType}}, Body: []byte(`{"status":400}`)},
	} {
		if rec := run(t, func(tb testing.TB) { r.Problem(tb) }); !rec.fatal {
			t.Errorf("%s: Problem accepted %s", name, r)
		}
	}
}

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "requests_total"}, []string{"route", "code"})
	inFlight := prometheus.NewGauge(prometheus.GaugeOpts{Name: "in_flight"})
	reg.MustRegister(requests, inFlight)
	requests.WithLabelValues("/a", "200").Add(3)
	requests.WithLabelValues("/a", "404").Add(1)
	requests.WithLabelValues("/b", "200").Add(5)
	inFlight.Set(2)

	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	c := apitest.New(t, srv.URL, []byte(spec), apitest.Options{})
	t.Cleanup(c.Close)

	for name, m := range map[string]apitest.Metrics{"scraped": c.Metrics(t), "gathered": apitest.Gather(t, reg)} {
		for _, tc := range []struct {
			got, want float64
			what      string
		}{
			{m.Value("requests_total", "code", "200", "route", "/a"), 3, "one series"},
			{m.Value("requests_total", "route", "/a"), 0, "a subset of a series' labels"},
			{m.Value("requests_total", "route", "/c", "code", "200"), 0, "no such series"},
			{m.Sum("requests_total", "route", "/a"), 4, "the sum of a route"},
			{m.Sum("requests_total"), 9, "the sum of all"},
			{m.Value("in_flight"), 2, "a gauge"},
			{m.Value("no_such_metric"), 0, "no such family"},
		} {
			if tc.got != tc.want {
				t.Errorf("%s: %s = %v, want %v", name, tc.what, tc.got, tc.want)
			}
		}
	}
	if _, err := apitest.ParseMetrics([]byte("not the exposition format {")); err == nil {
		t.Error("ParseMetrics accepted garbage")
	}
}
