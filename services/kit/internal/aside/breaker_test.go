package aside

import (
	"testing"
	"time"
)

type fakeClock struct{ t int64 }

func (c *fakeClock) now() int64          { return c.t }
func (c *fakeClock) add(d time.Duration) { c.t += int64(d) }
func newTestBreaker(c *fakeClock) *Breaker {
	b := &Breaker{now: c.now}
	b.Init(3, time.Second)
	return b
}

func TestBreakerOpensAfterConsecutiveFailures(t *testing.T) {
	clk := &fakeClock{t: 1e9}
	b := newTestBreaker(clk)
	b.Failure()
	b.Failure()
	b.Success() // a success in between resets the run
	b.Failure()
	b.Failure()
	if !b.Allow() {
		t.Fatal("open after 2 consecutive failures, threshold 3")
	}
	b.Failure()
	if b.Allow() {
		t.Fatal("still closed after 3 consecutive failures")
	}
	clk.add(999 * time.Millisecond)
	if b.Allow() {
		t.Fatal("let a call through before the cooldown ended")
	}
}

func TestBreakerProbesAndCloses(t *testing.T) {
	clk := &fakeClock{t: 1e9}
	b := newTestBreaker(clk)
	for range 3 {
		b.Failure()
	}
	clk.add(time.Second)
	if !b.Allow() {
		t.Fatal("no probe after the cooldown")
	}
	if b.Allow() {
		t.Fatal("a second caller got through while the probe is out")
	}
	b.Success()
	for i := range 3 {
		if !b.Allow() {
			t.Fatalf("call %d refused after a successful probe", i)
		}
	}
}

func TestBreakerFailedProbeReopens(t *testing.T) {
	clk := &fakeClock{t: 1e9}
	b := newTestBreaker(clk)
	for range 3 {
		b.Failure()
	}
	clk.add(time.Second)
	if !b.Allow() {
		t.Fatal("no probe after the cooldown")
	}
	b.Failure()
	clk.add(500 * time.Millisecond)
	if b.Allow() {
		t.Fatal("failed probe did not start a new cooldown")
	}
	clk.add(500 * time.Millisecond)
	if !b.Allow() {
		t.Fatal("no probe after the second cooldown")
	}
}

// A probe whose caller vanished without reporting must not keep the breaker open.
func TestBreakerLostProbeIsReplaced(t *testing.T) {
	clk := &fakeClock{t: 1e9}
	b := newTestBreaker(clk)
	for range 3 {
		b.Failure()
	}
	clk.add(time.Second)
	if !b.Allow() {
		t.Fatal("no probe after the cooldown")
	}
	clk.add(time.Second)
	if !b.Allow() {
		t.Fatal("no new probe after the first one went unreported")
	}
}
