package cache

import (
	"testing"
	"time"
)

type fakeClock struct{ t int64 }

func (c *fakeClock) now() int64          { return c.t }
func (c *fakeClock) add(d time.Duration) { c.t += int64(d) }
func newTestBreaker(c *fakeClock) *breaker {
	b := &breaker{now: c.now}
	b.init(3, time.Second)
	return b
}

func TestBreakerOpensAfterConsecutiveFailures(t *testing.T) {
	clk := &fakeClock{t: 1e9}
	b := newTestBreaker(clk)
	b.failure()
	b.failure()
	b.success() // a success in between resets the run
	b.failure()
	b.failure()
	if !b.allow() {
		t.Fatal("open after 2 consecutive failures, threshold 3")
	}
	b.failure()
	if b.allow() {
		t.Fatal("still closed after 3 consecutive failures")
	}
	clk.add(999 * time.Millisecond)
	if b.allow() {
		t.Fatal("let a call through before the cooldown ended")
	}
}

func TestBreakerProbesAndCloses(t *testing.T) {
	clk := &fakeClock{t: 1e9}
	b := newTestBreaker(clk)
	for range 3 {
		b.failure()
	}
	clk.add(time.Second)
	if !b.allow() {
		t.Fatal("no probe after the cooldown")
	}
	if b.allow() {
		t.Fatal("a second caller got through while the probe is out")
	}
	b.success()
	for i := range 3 {
		if !b.allow() {
			t.Fatalf("call %d refused after a successful probe", i)
		}
	}
}

func TestBreakerFailedProbeReopens(t *testing.T) {
	clk := &fakeClock{t: 1e9}
	b := newTestBreaker(clk)
	for range 3 {
		b.failure()
	}
	clk.add(time.Second)
	if !b.allow() {
		t.Fatal("no probe after the cooldown")
	}
	b.failure()
	clk.add(500 * time.Millisecond)
	if b.allow() {
		t.Fatal("failed probe did not start a new cooldown")
	}
	clk.add(500 * time.Millisecond)
	if !b.allow() {
		t.Fatal("no probe after the second cooldown")
	}
}

// A probe whose caller vanished without reporting must not keep the breaker open.
func TestBreakerLostProbeIsReplaced(t *testing.T) {
	clk := &fakeClock{t: 1e9}
	b := newTestBreaker(clk)
	for range 3 {
		b.failure()
	}
	clk.add(time.Second)
	if !b.allow() {
		t.Fatal("no probe after the cooldown")
	}
	clk.add(time.Second)
	if !b.allow() {
		t.Fatal("no new probe after the first one went unreported")
	}
}
