package bench

import (
	"context"
	"fmt"
	"io"
	"math"
	"time"
)

// SearchOptions bound a closed-loop search: wrk keeps Conns requests in
// flight, each connection sending its next request when the last is
// answered, and the search looks for the connection count that gets the most
// answers per second with p99 under the bound.
type SearchOptions struct {
	Bound      time.Duration // p99 must stay under it
	Start      int           // first connection count tried
	MaxConns   int           // never try above it
	MaxSteps   int
	Precision  float64 // stop when the failing count is within this fraction above the passing one
	MinSuccess float64 // percent of 2xx a passing step needs
	// Saturated: a passing step that adds less than this fraction of
	// throughput to the best so far ends the search (more connections only
	// queue).
	Saturated float64
	Pause     time.Duration
	Retries   int // a failing step is tried again this many times (noise on a shared machine)
	// Settle, when set, is called after a failing step to wait until the
	// system has worked off its backlog, so the next step starts clean.
	Settle func(ctx context.Context)
	Log    io.Writer
}

// Passes says whether a step passed: p99 under the bound and enough
// successes.
func (o SearchOptions) Passes(s Summary) bool {
	return s.Requests > 0 && s.P99 < o.Bound && s.SuccessPct() >= o.MinSuccess
}

// NextRate is the search's rule: double while every step passes (lo is the
// highest passing rate, hi the lowest failing one, 0 when none), then
// bisect; done when hi is within precision of lo, or when the first rate
// fails below 1/s.
func NextRate(lo, hi, maxRate, precision float64) (float64, bool) {
	switch {
	case hi == 0 && lo >= maxRate:
		return 0, true
	case hi == 0:
		return math.Min(lo*2, maxRate), false
	case lo == 0 && hi <= 1:
		return 0, true
	case lo == 0:
		return hi / 2, false
	case hi <= lo*(1+precision):
		return 0, true
	default:
		return math.Round((lo + hi) / 2), false
	}
}

// SearchMax looks for the highest throughput run sustains under the
// options: connections double from o.Start while steps pass and add
// throughput, then a binary search narrows the gap between the highest
// passing and the lowest failing count. run attacks with conns connections
// and returns the summary.
func SearchMax(ctx context.Context, variant string, o SearchOptions, run func(ctx context.Context, conns int) Summary) Search {
	res := Search{Variant: variant, Bound: o.Bound}
	lo, hi := 0.0, 0.0
	conns := max(min(o.Start, o.MaxConns), 1)
	pause := func() {
		select {
		case <-ctx.Done():
		case <-time.After(o.Pause):
		}
	}
	for i := 0; i < o.MaxSteps && ctx.Err() == nil; i++ {
		var s Summary
		pass := false
		for try := 0; try <= o.Retries && !pass && ctx.Err() == nil; try++ {
			if try > 0 {
				pause()
			}
			s = run(ctx, conns)
			if ctx.Err() != nil {
				break
			}
			s.Conns = conns
			pass = o.Passes(s)
			if !pass && o.Settle != nil {
				o.Settle(ctx)
			}
			res.Steps = append(res.Steps, SearchStep{Summary: s, Pass: pass})
			if o.Log != nil {
				verdict := "fail"
				if pass {
					verdict = "pass"
				}
				fmt.Fprintf(o.Log, "  %s: %d connections → %s/s answered, p99 %s, %s ok (wrk %.1f s CPU, server %.1f s): %s\n", variant, conns,
					FormatInt(int64(s.Throughput())), FormatDuration(s.P99), FormatPct(s.SuccessPct()), s.GenCPU, s.SvcCPU, verdict)
			}
		}
		if ctx.Err() != nil {
			break
		}
		saturated := false
		if pass {
			lo = float64(conns)
			if t := s.Throughput(); t > res.Best {
				saturated = res.Best > 0 && t < res.Best*(1+o.Saturated)
				res.Best, res.BestAt, res.BestConns = t, s, conns
			} else {
				saturated = true
			}
		} else {
			hi = float64(conns)
		}
		if saturated && hi == 0 {
			break
		}
		next, done := NextRate(lo, hi, float64(o.MaxConns), o.Precision)
		if done || int(math.Round(next)) == conns {
			break
		}
		conns = int(math.Round(next))
		pause()
	}
	return res
}
