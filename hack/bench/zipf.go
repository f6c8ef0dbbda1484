package bench

import (
	"fmt"
	"math/rand/v2"
	"sync"
)

// Zipf draws indexes in [0, n) with P(rank k) proportional to 1/(v+k)^s
// (math/rand/v2's Zipf), then maps ranks through a fixed random permutation
// so the hottest users are not simply the first ones seeded. It is safe for
// concurrent use (vegeta calls targeters from many workers).
type Zipf struct {
	mu   sync.Mutex
	z    *rand.Zipf
	perm []int
}

// NewZipf returns a sampler over n items with exponent s (> 1) and v = 1,
// deterministic for a given seed.
func NewZipf(n int, s float64, seed uint64) (*Zipf, error) {
	if n < 1 {
		return nil, fmt.Errorf("zipf: need at least one item, got %d", n)
	}
	if !(s > 1) {
		return nil, fmt.Errorf("zipf: exponent must be > 1, got %v", s)
	}
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	z := rand.NewZipf(r, s, 1, uint64(n-1))
	return &Zipf{z: z, perm: r.Perm(n)}, nil
}

// Next returns the next index.
func (z *Zipf) Next() int {
	z.mu.Lock()
	k := z.z.Uint64()
	z.mu.Unlock()
	return z.perm[k]
}

// Rank returns the index drawn for rank k (0 is the most frequent).
func (z *Zipf) Rank(k int) int { return z.perm[k] }
