package cache

import (
	"sync/atomic"
	"time"
)

const (
	// Connection refused costs little, but a Redis that accepts and never answers
	// costs every read a full Timeout: after this many failures in a row, stop asking.
	breakerThreshold = 5
	breakerCooldown  = time.Second
)

// breaker skips Redis after a run of consecutive failures. It never stays open: once
// the cooldown has passed one caller is let through as a probe (the others keep
// skipping), its success closes the breaker and its failure starts a new cooldown.
// A probe whose outcome is never reported (its caller went away) is replaced by
// another after the next cooldown.
type breaker struct {
	threshold int32
	cooldown  int64 // nanoseconds
	now       func() int64
	fails     atomic.Int32
	openUntil atomic.Int64 // unix nanoseconds; 0 when closed
}

func (b *breaker) init(threshold int32, cooldown time.Duration) {
	b.threshold = threshold
	b.cooldown = int64(cooldown)
	if b.now == nil {
		b.now = func() int64 { return time.Now().UnixNano() }
	}
}

// allow reports whether the caller may use Redis now.
func (b *breaker) allow() bool {
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

// The loads before the stores keep the healthy path free of writes to shared
// cache lines, which every core would otherwise contend on.
func (b *breaker) success() {
	if b.fails.Load() != 0 {
		b.fails.Store(0)
	}
	if b.openUntil.Load() != 0 {
		b.openUntil.Store(0)
	}
}

func (b *breaker) failure() {
	if b.fails.Add(1) >= b.threshold {
		b.openUntil.Store(b.now() + b.cooldown)
	}
}
