package bench

import (
	"math"
	"testing"
)

func TestZipfDeterministicAndInRange(t *testing.T) {
	a, err := NewZipf(1000, 1.1, 7)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewZipf(1000, 1.1, 7)
	for i := 0; i < 10000; i++ {
		x, y := a.Next(), b.Next()
		if x != y {
			t.Fatalf("draw %d differs: %d vs %d", i, x, y)
		}
		if x < 0 || x >= 1000 {
			t.Fatalf("out of range: %d", x)
		}
	}
}

func TestZipfFrequenciesFollowThePowerLaw(t *testing.T) {
	const n, draws, s = 500, 200000, 1.2
	z, err := NewZipf(n, s, 1)
	if err != nil {
		t.Fatal(err)
	}
	counts := make([]int, n)
	for i := 0; i < draws; i++ {
		counts[z.Next()]++
	}
	// P(rank k) ∝ (1+k)^-s: rank 0 vs rank 1 is 2^s, rank 0 vs rank 3 is 4^s.
	r01 := float64(counts[z.Rank(0)]) / float64(counts[z.Rank(1)])
	r03 := float64(counts[z.Rank(0)]) / float64(counts[z.Rank(3)])
	if want := math.Pow(2, s); math.Abs(r01-want)/want > 0.1 {
		t.Errorf("rank0/rank1 = %.3f, want about %.3f", r01, want)
	}
	if want := math.Pow(4, s); math.Abs(r03-want)/want > 0.15 {
		t.Errorf("rank0/rank3 = %.3f, want about %.3f", r03, want)
	}
	// The hottest item is the most drawn of all.
	top := 0
	for i, c := range counts {
		if c > counts[top] {
			top = i
		}
	}
	if top != z.Rank(0) {
		t.Errorf("most drawn %d, rank 0 is %d", top, z.Rank(0))
	}
	// The permutation is one: every index is some rank's.
	seen := make([]bool, n)
	for k := 0; k < n; k++ {
		seen[z.Rank(k)] = true
	}
	for i, ok := range seen {
		if !ok {
			t.Fatalf("index %d is no rank's", i)
		}
	}
}

func TestZipfRejectsBadParameters(t *testing.T) {
	if _, err := NewZipf(0, 1.1, 1); err == nil {
		t.Error("n = 0 accepted")
	}
	if _, err := NewZipf(10, 1, 1); err == nil {
		t.Error("s = 1 accepted")
	}
	z, err := NewZipf(1, 2, 1)
	if err != nil || z.Next() != 0 {
		t.Errorf("single item: %v", err)
	}
}
