// Package chaos is the fault-injection run behind `make chaos`: two
// replicas of each service behind HAProxy, on a MariaDB, Redis and RabbitMQ
// of its own (never the machine's shared ones), a steady mixed load through
// the balancer, one fault at a time, and for each fault what the clients saw
// and what survived: failed requests, acknowledged writes missing
// afterwards, challenges never validated or validated twice, events applied
// twice, stale reads, the time until p99 is back under its bound. It writes
// docs/reliability.md and its chart.
//
// The pure parts (this file, ledger.go, schedule.go, report.go, counters.go)
// are unit-tested; the rest needs the Debian packages and runs only in
// `make chaos`.
package chaos

import (
	"context"
	"errors"
	"net"
	"os"
	"slices"
	"strconv"
	"syscall"
	"time"

	"github.com/progressive-overload/po/hack/bench"
)

// Kind is what a request of the load does.
type Kind string

// The load's requests.
const (
	KindRead      Kind = "read"      // GET /challenges/logs/{userId}
	KindLog       Kind = "log"       // POST /challenges/{id}/logs
	KindChallenge Kind = "challenge" // POST /challenges
)

// Sample is one request of the load as the client saw it.
type Sample struct {
	Kind    Kind
	Start   time.Time
	Latency time.Duration
	Status  int    // HTTP status; 0 when no answer came
	Err     string // the transport error's class when Status is 0
}

// End is when the answer (or the error) arrived.
func (s Sample) End() time.Time { return s.Start.Add(s.Latency) }

// Failed reports whether the request did not get the answer it asked for
// (200 for a read, 201 for a write).
func (s Sample) Failed() bool { return s.Status < 200 || s.Status > 299 }

// Label names a failure: the status, or the class of the transport error.
func (s Sample) Label() string {
	if s.Status != 0 {
		return strconv.Itoa(s.Status)
	}
	if s.Err == "" {
		return "no answer"
	}
	return s.Err
}

// ErrClass sorts a transport error into a few kinds a table can count.
func ErrClass(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return "reset"
	case errors.Is(err, os.ErrDeadlineExceeded):
		return "timeout"
	}
	return "transport error"
}

// WindowStats is what the clients saw during one fault's window.
type WindowStats struct {
	Requests    int
	Failed      map[string]int // by Label
	ErrorWindow time.Duration  // first failed request sent to last failure received; 0 without failures
	BaselineP99 time.Duration  // p99 before the fault was injected
	// Recovery is the time from the injection until the p99 of every
	// bucket for Hold buckets in a row is under the bound; Recovered is
	// false when that did not happen before the window ended.
	Recovery  time.Duration
	Recovered bool
	// BackToBase is the same against max(bound, 2 × BaselineP99): where the
	// machine cannot meet the bound even without a fault, how long the
	// fault's own disturbance lasted.
	BackToBase    time.Duration
	BackRecovered bool
	Buckets       []Bucket
}

// Bucket is the p99 of the requests sent in one interval; a failed request
// counts as infinitely slow (a fast error is no recovery).
type Bucket struct {
	Start    time.Time
	Requests int
	Failures int
	P99      time.Duration // bench.Percentile of the latencies; MaxP99 when a failure is in the top 1%
}

// MaxP99 stands for a p99 that includes a failure.
const MaxP99 = time.Duration(1<<63 - 1)

// RecoveryOpts sets how recovery is detected.
type RecoveryOpts struct {
	Bound  time.Duration // p99 bound, 10ms in the issue
	Bucket time.Duration // bucket width
	Hold   int           // buckets in a row under the bound that count as recovered
}

// Buckets groups samples sent in [from, to) into buckets of width w.
func Buckets(samples []Sample, from, to time.Time, w time.Duration) []Bucket {
	if w <= 0 || !to.After(from) {
		return nil
	}
	n := int((to.Sub(from) + w - 1) / w)
	lat := make([][]time.Duration, n)
	out := make([]Bucket, n)
	for i := range out {
		out[i].Start = from.Add(time.Duration(i) * w)
	}
	for _, s := range samples {
		if s.Start.Before(from) || !s.Start.Before(to) {
			continue
		}
		i := int(s.Start.Sub(from) / w)
		out[i].Requests++
		d := s.Latency
		if s.Failed() {
			out[i].Failures++
			d = MaxP99
		}
		lat[i] = append(lat[i], d)
	}
	for i := range out {
		slices.Sort(lat[i])
		out[i].P99 = bench.Percentile(lat[i], 99)
	}
	return out
}

// Recovery returns how long after inject the buckets (which start at
// inject) first stay under o.Bound for o.Hold buckets in a row; an empty
// bucket neither breaks nor extends the run.
func Recovery(buckets []Bucket, inject time.Time, o RecoveryOpts) (time.Duration, bool) {
	hold := max(o.Hold, 1)
	run, first := 0, -1
	for i, b := range buckets {
		if b.Requests == 0 {
			continue
		}
		if b.P99 < o.Bound {
			if run == 0 {
				first = i
			}
			run++
			if run >= hold {
				return buckets[first].Start.Sub(inject), true
			}
			continue
		}
		run = 0
	}
	return 0, false
}

// Stats computes a window's WindowStats: samples sent in [start, end),
// the fault injected at inject (after the baseline).
func Stats(samples []Sample, start, inject, end time.Time, o RecoveryOpts) WindowStats {
	ws := WindowStats{Failed: map[string]int{}}
	var base []time.Duration
	var firstFail, lastFail time.Time
	for _, s := range samples {
		if s.Start.Before(start) || !s.Start.Before(end) {
			continue
		}
		ws.Requests++
		if s.Start.Before(inject) && !s.Failed() {
			base = append(base, s.Latency)
		}
		if !s.Failed() {
			continue
		}
		ws.Failed[s.Label()]++
		if firstFail.IsZero() || s.Start.Before(firstFail) {
			firstFail = s.Start
		}
		if s.End().After(lastFail) {
			lastFail = s.End()
		}
	}
	if !firstFail.IsZero() {
		ws.ErrorWindow = lastFail.Sub(firstFail)
	}
	slices.Sort(base)
	ws.BaselineP99 = bench.Percentile(base, 99)
	ws.Buckets = Buckets(samples, inject, end, o.Bucket)
	ws.Recovery, ws.Recovered = Recovery(ws.Buckets, inject, o)
	ob := o
	ob.Bound = max(o.Bound, 2*ws.BaselineP99)
	ws.BackToBase, ws.BackRecovered = Recovery(ws.Buckets, inject, ob)
	return ws
}

// FailedTotal is the number of failed requests.
func (w WindowStats) FailedTotal() int {
	n := 0
	for _, c := range w.Failed {
		n += c
	}
	return n
}
