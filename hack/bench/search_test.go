package bench

import (
	"context"
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

func TestSearchMaxConvergesOnAFakeSystem(t *testing.T) {
	// A system whose p99 crosses 50 ms at 10,000/s.
	o := SearchOptions{Bound: 50 * time.Millisecond, Start: 1000, MaxRate: 1e6, Step: time.Second, MaxSteps: 20, Precision: 0.05, MinSuccess: 99.9}
	fake := func(_ context.Context, rate float64) Summary {
		s := Summary{Requests: int(rate), OK: int(rate), Wall: time.Second, P99: time.Millisecond}
		if rate > 10000 {
			s.P99 = 200 * time.Millisecond
		}
		return s
	}
	res := SearchMax(context.Background(), "fake", o, fake)
	if res.Best > 10000 || res.Best < 10000/1.05 {
		t.Fatalf("best %v after %d steps", res.Best, len(res.Steps))
	}
	if len(res.Steps) > 12 {
		t.Errorf("%d steps", len(res.Steps))
	}
}

func TestPasses(t *testing.T) {
	o := SearchOptions{Bound: 50 * time.Millisecond, Step: 2 * time.Second, MinSuccess: 99.9}
	good := Summary{Requests: 2000, OK: 2000, P99: 10 * time.Millisecond}
	if !o.Passes(1000, good) {
		t.Error("good step failed")
	}
	slow := good
	slow.P99 = 50 * time.Millisecond
	failing := good
	failing.OK = 1990
	short := good
	short.Requests, short.OK = 1500, 1500 // the generator offered 750/s of 1000/s
	for name, s := range map[string]Summary{"slow": slow, "failing": failing, "short": short, "empty": {}} {
		if o.Passes(1000, s) {
			t.Errorf("%s step passed", name)
		}
	}
}

func TestSearchStopsWhenCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	o := SearchOptions{Bound: time.Second, Start: 100, MaxRate: 1e9, Step: time.Second, MaxSteps: 50, Precision: 0.1, MinSuccess: 99}
	n := 0
	res := SearchMax(ctx, "x", o, func(_ context.Context, rate float64) Summary {
		n++
		if n == 3 {
			cancel()
		}
		return Summary{Requests: int(rate), OK: int(rate), P99: time.Millisecond}
	})
	if len(res.Steps) != 2 {
		t.Fatalf("%d steps recorded after cancel", len(res.Steps))
	}
}

func TestSearchRetriesAFailingStep(t *testing.T) {
	o := SearchOptions{Bound: 50 * time.Millisecond, Start: 1000, MaxRate: 4000, Step: time.Second, MaxSteps: 5, Precision: 0.1, MinSuccess: 99.9, Retries: 1}
	calls := map[float64]int{}
	res := SearchMax(context.Background(), "noisy", o, func(_ context.Context, rate float64) Summary {
		calls[rate]++
		s := Summary{Requests: int(rate), OK: int(rate), P99: time.Millisecond}
		if rate == 2000 && calls[rate] == 1 { // a noisy first attempt
			s.P99 = time.Second
		}
		return s
	})
	if res.Best != 4000 || calls[2000] != 2 || calls[1000] != 1 {
		t.Fatalf("best %v calls %v", res.Best, calls)
	}
	if len(res.Steps) != 4 || res.Steps[1].Pass || !res.Steps[2].Pass {
		t.Fatalf("steps %+v", res.Steps)
	}
}
