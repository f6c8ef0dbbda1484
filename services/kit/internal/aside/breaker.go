package aside

import (
	"sync/atomic"
	"time"
)

const (
	// Connection refused costs little, but a Redis that accepts and never answers
	// costs every read a full Timeout: after this many failures in a row, stop asking.
	BreakerThreshold = 5
	BreakerCooldown  = time.Second
)

// Breaker skips Redis after a run of consecutive failures. It never stays open: once
// the cooldown has passed one caller is let through as a probe (the others keep
// skipping), its success closes the breaker and its failure starts a new cooldown.
// A probe whose outcome is never reported (its caller went away) is replaced by
// another after the next cooldown.
type Breaker struct {
	threshold int32
	cooldown  int64 // nanoseconds
	now       func() int64
	fails     atomic.Int32
	openUntil atomic.Int64 // unix nanoseconds; 0 when closed
}

// Init sets the breaker's threshold and cooldown; call it before any other method.
func (b *Breaker) Init(threshold int32, cooldown time.Duration) {
	b.threshold = threshold
	b.cooldown = int64(cooldown)
	if b.now == nil {
		b.now = func() int64 { return time.Now().UnixNano() }
	}
}

// Allow reports whether the caller may use Redis now.
func (b *Breaker) Allow() bool {
	until := b.openUntil.Load()
	if until == 0 {
		return true
	}
	now := b.now()
	if now < until {
		return false
	}
	return b.openUntil.CompareAndSwap(until, now+b.cooldown)
}

// Success reports a call that Redis answered.
//
// The loads before the stores keep the healthy path free of writes to shared
// cache lines, which every core would otherwise contend on.
func (b *Breaker) Success() {
	if b.fails.Load() != 0 {
		b.fails.Store(0)
	}
	if b.openUntil.Load() != 0 {
		b.openUntil.Store(0)
	}
}

// Failure reports a call that failed or timed out.
func (b *Breaker) Failure() {
	if b.fails.Add(1) >= b.threshold {
		b.openUntil.Store(b.now() + b.cooldown)
	}
}
