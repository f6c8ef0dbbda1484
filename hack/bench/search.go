package bench

import (
	"context"
	"fmt"
	"io"
	"math"
	"time"
)

// SearchOptions bound a closed-loop search.
type SearchOptions struct {
	Bound      time.Duration // p99 must stay under it
	Start      float64       // first rate tried
	MaxRate    float64       // never try above it
	Step       time.Duration // duration of each fixed-rate step
	MaxSteps   int
	Precision  float64 // stop when the failing rate is within this fraction above the passing one
	MinSuccess float64 // percent of 2xx a passing step needs
	Pause      time.Duration
	Retries    int // a failing step is tried again this many times (noise on a shared machine)
	// Settle, when set, is called after a failing step to wait until the
	// system has worked off its backlog, so the next step starts clean.
	Settle func(ctx context.Context)
	Log    io.Writer
}

// Passes says whether a step at rate passed: p99 under the bound, enough
// successes, and the rate was really offered (a load generator that could
// not keep up measured something else).
func (o SearchOptions) Passes(rate float64, s Summary) bool {
	if s.Requests == 0 {
		return false
	}
	offered := float64(s.Requests) / o.Step.Seconds()
	return s.P99 < o.Bound && s.SuccessPct() >= o.MinSuccess && offered >= 0.9*rate
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

// SearchMax looks for the highest rate run sustains under the options.
// run attacks at a rate for o.Step and returns the summary.
func SearchMax(ctx context.Context, variant string, o SearchOptions, run func(ctx context.Context, rate float64) Summary) Search {
	res := Search{Variant: variant, Bound: o.Bound}
	lo, hi := 0.0, 0.0
	rate := math.Min(o.Start, o.MaxRate)
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
			s = run(ctx, rate)
			if ctx.Err() != nil {
				break
			}
			pass = o.Passes(rate, s)
			if !pass && o.Settle != nil {
				o.Settle(ctx)
			}
			res.Steps = append(res.Steps, SearchStep{Rate: rate, Summary: s, Pass: pass})
			if o.Log != nil {
				verdict := "fail"
				if pass {
					verdict = "pass"
				}
				fmt.Fprintf(o.Log, "  %s: %s/s → p99 %s, %s ok, %s/s answered: %s\n", variant, FormatInt(int64(rate)),
					FormatDuration(s.P99), FormatPct(s.SuccessPct()), FormatInt(int64(s.Throughput())), verdict)
			}
		}
		if ctx.Err() != nil {
			break
		}
		if pass {
			lo = rate
			res.Best, res.BestAt = rate, s
		} else {
			hi = rate
		}
		next, done := NextRate(lo, hi, o.MaxRate, o.Precision)
		if done {
			break
		}
		rate = next
		pause()
	}
	return res
}
