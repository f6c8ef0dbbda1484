package cache_test

import (
	"bytes"
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/progressive-overload/po/services/kit/cache"
)

// A challenge with its schedule encodes to roughly this size.
var benchBody = bytes.Repeat([]byte(`{"k":"v"}`), 100)

func benchNamed(b *testing.B, keys int) (*cache.Named, func(i int) string) {
	b.Helper()
	// Production settings: the 50ms budget a service runs with.
	f := newFixture(b, redisAddr, cache.Options{Enabled: true, Timeout: 50 * time.Millisecond})
	n := f.cache.Named("challenge")
	ids := make([]string, keys)
	ctx := context.Background()
	for i := range ids {
		ids[i] = strconv.Itoa(i)
		if _, err := n.Get(ctx, ids[i], func(context.Context) ([]byte, error) { return benchBody, nil }); err != nil {
			b.Fatal(err)
		}
	}
	return n, func(i int) string { return ids[i%keys] }
}

// fallbacks counts reads that went to the loader: a Redis call slower than the 50ms
// budget on a busy machine does that, and the benchmark reports how often.
var fallbacks atomic.Int64

func fallback(context.Context) ([]byte, error) {
	fallbacks.Add(1)
	return benchBody, nil
}

func reportFallbacks(b *testing.B) {
	b.ReportMetric(float64(fallbacks.Swap(0))/float64(b.N), "fallbacks/op")
}

func BenchmarkGetHit(b *testing.B) {
	n, key := benchNamed(b, 64)
	fallbacks.Store(0)
	ctx := context.Background()
	b.ReportAllocs()
	b.SetBytes(int64(len(benchBody)))
	i := 0
	for b.Loop() {
		if _, err := n.Get(ctx, key(i), fallback); err != nil {
			b.Fatal(err)
		}
		i++
	}
	reportFallbacks(b)
}

func BenchmarkGetHitParallel(b *testing.B) {
	n, key := benchNamed(b, 64)
	fallbacks.Store(0)
	ctx := context.Background()
	b.ReportAllocs()
	b.SetBytes(int64(len(benchBody)))
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, err := n.Get(ctx, key(i), fallback); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
	reportFallbacks(b)
}

// BenchmarkRedisGet is the floor: a bare go-redis GET of the same value.
func BenchmarkRedisGet(b *testing.B) {
	rdb := newClient(b, redisAddr)
	ctx := context.Background()
	key := testPrefix(b, rdb) + "raw"
	if err := rdb.Set(ctx, key, benchBody, 0).Err(); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(benchBody)))
	for b.Loop() {
		if _, err := rdb.Get(ctx, key).Bytes(); err != nil {
			b.Fatal(err)
		}
	}
}
