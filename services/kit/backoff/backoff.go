// Package backoff is the one exponential retry delay of the platform: the
// events publisher, relay and consumer and the cache's invalidation retries
// all wait by it.
package backoff

import (
	"math/rand/v2"
	"time"
)

// Backoff is an exponential delay: Min doubled per failure, capped at Max.
type Backoff struct {
	Min time.Duration
	Max time.Duration
}

// OrDefault fills what b leaves zero from d and keeps Max at least Min.
func (b Backoff) OrDefault(d Backoff) Backoff {
	if b.Min <= 0 {
		b.Min = d.Min
	}
	if b.Max <= 0 {
		b.Max = d.Max
	}
	if b.Max < b.Min {
		b.Max = b.Min
	}
	return b
}

// Delay is the wait after the n-th consecutive failure (n from 0). Half of it
// is random so replicas that failed together do not retry in lockstep.
func (b Backoff) Delay(n int) time.Duration {
	d := b.Max
	if n < 32 {
		if s := b.Min << uint(n); s > 0 && s < b.Max {
			d = s
		}
	}
	half := d / 2
	if half <= 0 {
		return d
	}
	return half + rand.N(half+1)
}

// Sleep waits d or until done is closed; it reports whether the full wait elapsed.
func Sleep(done <-chan struct{}, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-done:
		return false
	case <-t.C:
		return true
	}
}
