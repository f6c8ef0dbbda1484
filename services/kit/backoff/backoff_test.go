package backoff_test

import (
	"testing"
	"time"

	"github.com/progressive-overload/po/services/kit/backoff"
)

func TestBackoffDelayStaysWithinBounds(t *testing.T) {
	b := backoff.Backoff{Min: 100 * time.Millisecond, Max: time.Second}
	for n := range 70 {
		ceiling := min(b.Max, b.Min<<min(n, 20))
		for range 50 {
			d := b.Delay(n)
			if d < ceiling/2 || d > ceiling {
				t.Fatalf("Delay(%d) = %v, want within [%v, %v]", n, d, ceiling/2, ceiling)
			}
		}
	}
}
