// Package bench is the load generator and report writer behind `make bench`:
// open-loop attacks at a fixed rate (vegeta), a closed-loop search for the
// highest rate under a p99 bound, the ceilings (hack/bench/ceiling), the
// orchestration of the real services, and the tables and charts of
// docs/benchmarks.md.
package bench

import (
	"math"
	"slices"
	"strings"
	"time"
)

// Summary is what one attack produced.
type Summary struct {
	Requests int           // requests sent and answered or failed
	OK       int           // 2xx answers
	Mean     time.Duration // over every request, failed ones included
	P50      time.Duration
	P90      time.Duration
	P95      time.Duration
	P99      time.Duration
	P999     time.Duration
	Max      time.Duration
	Wall     time.Duration  // first request sent to last answer received
	Rate     float64        // requested rate (per second), 0 when closed
	Codes    map[int]int    // status code (0: transport error) -> count
	Errors   map[string]int // error text -> count, at most maxErrorKinds kinds
	// The machine's work behind the figures, so a reader can tell a server
	// limit from a generator limit: CPU seconds of the load generator (wrk's
	// process, or the tool itself for vegeta) and of the measured servers.
	GenCPU, SvcCPU float64
	Conns          int // closed loop (wrk): connections; 0 for open-loop attacks
}

const maxErrorKinds = 8

// SuccessPct is the share of 2xx answers in percent (0 without requests).
func (s Summary) SuccessPct() float64 {
	if s.Requests == 0 {
		return 0
	}
	return 100 * float64(s.OK) / float64(s.Requests)
}

// Throughput is the 2xx answers per second of wall time.
func (s Summary) Throughput() float64 {
	if s.Wall <= 0 {
		return 0
	}
	return float64(s.OK) / s.Wall.Seconds()
}

// Recorder accumulates results; it is not safe for concurrent use (one
// goroutine drains an attack's result channel).
type Recorder struct {
	lat        []time.Duration
	ok         int
	codes      map[int]int
	errors     map[string]int
	first, end time.Time
}

// NewRecorder returns a recorder sized for about n results.
func NewRecorder(n int) *Recorder {
	return &Recorder{lat: make([]time.Duration, 0, max(n, 16)), codes: map[int]int{}, errors: map[string]int{}}
}

// Add records one request started at start that took lat and ended with
// code (0 for a transport error) and err ("" when none).
func (r *Recorder) Add(start time.Time, lat time.Duration, code int, err string) {
	r.lat = append(r.lat, lat)
	r.codes[code]++
	if code >= 200 && code < 300 {
		r.ok++
	} else if err != "" {
		err = NormalizeError(err)
		if _, seen := r.errors[err]; seen || len(r.errors) < maxErrorKinds {
			r.errors[err]++
		}
	}
	if r.first.IsZero() || start.Before(r.first) {
		r.first = start
	}
	if e := start.Add(lat); e.After(r.end) {
		r.end = e
	}
}

// Len is the number of results recorded so far.
func (r *Recorder) Len() int { return len(r.lat) }

// Summary computes the statistics of everything recorded; rate is the
// requested rate to report (0 when none).
func (r *Recorder) Summary(rate float64) Summary {
	s := Summarize(r.lat)
	s.OK = r.ok
	s.Codes = r.codes
	s.Errors = r.errors
	s.Rate = rate
	if !r.first.IsZero() {
		s.Wall = r.end.Sub(r.first)
	}
	return s
}

// Summarize computes mean, percentiles and max of latencies (which it sorts
// in place). OK, Codes and Wall are left for the caller.
func Summarize(lat []time.Duration) Summary {
	s := Summary{Requests: len(lat)}
	if len(lat) == 0 {
		return s
	}
	slices.Sort(lat)
	var sum float64
	for _, l := range lat {
		sum += float64(l)
	}
	s.Mean = time.Duration(math.Round(sum / float64(len(lat))))
	s.P50 = Percentile(lat, 50)
	s.P90 = Percentile(lat, 90)
	s.P95 = Percentile(lat, 95)
	s.P99 = Percentile(lat, 99)
	s.P999 = Percentile(lat, 99.9)
	s.Max = lat[len(lat)-1]
	return s
}

// Percentile returns the nearest-rank p-th percentile (0 < p <= 100) of
// sorted: the smallest value with at least p% of the values at or below it.
// It returns 0 for an empty slice; p <= 0 gives the minimum.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	// The small epsilon keeps 0.95*100 (= 95.00000000000001) from rounding
	// up to the 96th value.
	rank := int(math.Ceil(p/100*float64(n) - 1e-9))
	rank = min(max(rank, 1), n)
	return sorted[rank-1]
}

// NormalizeError drops the method and URL net/http puts in front of its
// errors (`Get "http://…/logs/17": context deadline exceeded`), so errors
// group by kind rather than by user.
func NormalizeError(err string) string {
	if i := strings.Index(err, "\": "); i > 0 && strings.Contains(err[:i], " \"http") {
		return err[i+3:]
	}
	return err
}
