package bench

import (
	"context"
	"math"
	"testing"
	"time"
)

func TestNextRate(t *testing.T) {
	cases := []struct {
		lo, hi, max float64
		want        float64
		done        bool
	}{
		{3000, 0, 200000, 6000, false},     // all passed: double
		{150000, 0, 200000, 200000, false}, // capped
		{200000, 0, 200000, 0, true},       // at the cap
		{0, 3000, 200000, 1500, false},     // first failed: halve
		{0, 1, 200000, 0, true},            // nothing passes
		{6000, 12000, 200000, 9000, false}, // bisect
		{9000, 9500, 200000, 0, true},      // within 10%
	}
	for _, c := range cases {
		got, done := NextRate(c.lo, c.hi, c.max, 0.1)
		if got != c.want || done != c.done {
			t.Errorf("NextRate(%v, %v) = %v, %v; want %v, %v", c.lo, c.hi, got, done, c.want, c.done)
		}
	}
}

// fakeServer answers a request in 1 ms until it reaches capacity requests/s
// (at capacity/1000 connections); past that, each connection adds queueing,
// and throughput grows by growth per connection. p99 is three times the
// mean latency.
func fakeServer(capacity, growth float64) func(context.Context, int) Summary {
	return func(_ context.Context, conns int) Summary {
		thr := math.Min(1000*float64(conns), capacity*(1+growth*float64(conns)))
		p99 := time.Duration(3 * float64(conns) / thr * float64(time.Second))
		return Summary{Requests: int(thr), OK: int(thr), Wall: time.Second, P99: p99}
	}
}

func TestSearchMaxFindsTheSaturation(t *testing.T) {
	o := SearchOptions{Bound: 50 * time.Millisecond, Start: 4, MaxConns: 4096, MaxSteps: 20, Precision: 0.1, MinSuccess: 99.9, Saturated: 0.05}
	res := SearchMax(context.Background(), "fake", o, fakeServer(20000, 0))
	if res.Best != 20000 || res.BestConns != 32 {
		t.Fatalf("best %v at %d connections after %+v", res.Best, res.BestConns, res.Steps)
	}
	// 4, 8, 16, 32, then 64 adds nothing: done.
	if len(res.Steps) != 5 || res.Steps[4].Summary.Conns != 64 {
		t.Errorf("%d steps: %+v", len(res.Steps), res.Steps)
	}
}

func TestSearchMaxBisectsBelowTheBound(t *testing.T) {
	// Throughput keeps growing a little, but p99 crosses 50 ms near 345
	// connections.
	o := SearchOptions{Bound: 50 * time.Millisecond, Start: 8, MaxConns: 4096, MaxSteps: 20, Precision: 0.1, MinSuccess: 99.9}
	res := SearchMax(context.Background(), "fake", o, fakeServer(20000, 0.0001))
	if res.BestConns < 300 || res.BestConns > 345 || res.BestAt.P99 >= o.Bound {
		t.Fatalf("best %v at %d connections: %+v", res.Best, res.BestConns, res.Steps)
	}
	for _, st := range res.Steps {
		if st.Pass != (st.Summary.P99 < o.Bound) {
			t.Errorf("step %+v", st)
		}
	}
}

func TestPasses(t *testing.T) {
	o := SearchOptions{Bound: 50 * time.Millisecond, MinSuccess: 99.9}
	good := Summary{Requests: 2000, OK: 2000, P99: 10 * time.Millisecond}
	if !o.Passes(good) {
		t.Error("good step failed")
	}
	slow := good
	slow.P99 = 50 * time.Millisecond
	failing := good
	failing.OK = 1990
	for name, s := range map[string]Summary{"slow": slow, "failing": failing, "empty": {}} {
		if o.Passes(s) {
			t.Errorf("%s step passed", name)
		}
	}
}

func TestSearchStopsWhenCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	o := SearchOptions{Bound: time.Second, Start: 1, MaxConns: 1 << 20, MaxSteps: 50, Precision: 0.1, MinSuccess: 99}
	n := 0
	res := SearchMax(ctx, "x", o, func(_ context.Context, conns int) Summary {
		n++
		if n == 3 {
			cancel()
		}
		return Summary{Requests: 1000 * conns, OK: 1000 * conns, Wall: time.Second, P99: time.Millisecond}
	})
	if len(res.Steps) != 2 {
		t.Fatalf("%d steps recorded after cancel", len(res.Steps))
	}
}

func TestSearchRetriesAFailingStep(t *testing.T) {
	o := SearchOptions{Bound: 50 * time.Millisecond, Start: 1, MaxConns: 4, MaxSteps: 5, Precision: 0.1, MinSuccess: 99.9, Retries: 1}
	calls := map[int]int{}
	res := SearchMax(context.Background(), "noisy", o, func(_ context.Context, conns int) Summary {
		calls[conns]++
		s := Summary{Requests: 1000 * conns, OK: 1000 * conns, Wall: time.Second, P99: time.Millisecond}
		if conns == 2 && calls[conns] == 1 { // a noisy first attempt
			s.P99 = time.Second
		}
		return s
	})
	if res.BestConns != 4 || res.Best != 4000 || calls[2] != 2 || calls[1] != 1 {
		t.Fatalf("best %v at %d, calls %v", res.Best, res.BestConns, calls)
	}
	if len(res.Steps) != 4 || res.Steps[1].Pass || !res.Steps[2].Pass {
		t.Fatalf("steps %+v", res.Steps)
	}
}
