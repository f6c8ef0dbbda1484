package ranking_test

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/progressive-overload/po/services/kit/ranking"
	"github.com/progressive-overload/po/services/kit/testkit"
)

// benchStore is a board of size members in Redis, with production settings
// (the 50ms budget a service runs with), and the page read from its middle.
func benchStore(b *testing.B, size int) (*ranking.Store, *source, int) {
	b.Helper()
	f := singleFixture(b, testkit.RedisAddr, ranking.Options{Timeout: 50 * time.Millisecond})
	src := newSource()
	es := make([]ranking.Entry, size)
	for i := range es {
		m := strconv.Itoa(100000 + i)
		// A group challenge's view of a member: about 100 bytes of JSON.
		es[i] = ranking.Entry{
			Member:   m,
			Score:    float64(i % 97),
			Tiebreak: fmt.Sprintf("%020d", i),
			Payload:  fmt.Appendf(nil, `{"userId":%s,"name":"member %s","sessions":%d,"volume":%d.5}`, m, m, i%40, i*10),
		}
	}
	src.put("b", es...)
	p, err := f.store.Page(context.Background(), "b", 0, 1, src.load)
	if err != nil || p.Total != size {
		b.Fatalf("building the board: %+v, %v", p, err)
	}
	return f.store, src, max(0, size/2-10)
}

// BenchmarkPage reads a page of 20 from the middle of boards of growing size:
// the cost should not grow with the board (ZRANGE by position, HMGET, ZCARD).
func BenchmarkPage(b *testing.B) {
	for _, size := range []int{10, 500, 5000} {
		b.Run("members="+strconv.Itoa(size), func(b *testing.B) {
			s, src, offset := benchStore(b, size)
			ctx := context.Background()
			notRedis := 0
			b.ReportAllocs()
			for b.Loop() {
				p, err := s.Page(ctx, "b", offset, 20, src.load)
				if err != nil {
					b.Fatal(err)
				}
				if p.Source != ranking.SourceRedis {
					notRedis++ // a Redis call over budget on a busy machine
				}
			}
			b.ReportMetric(float64(notRedis)/float64(b.N), "fallbacks/op")
		})
	}
}

// BenchmarkRank finds one member's position on the same boards.
func BenchmarkRank(b *testing.B) {
	for _, size := range []int{10, 500, 5000} {
		b.Run("members="+strconv.Itoa(size), func(b *testing.B) {
			s, src, _ := benchStore(b, size)
			ctx := context.Background()
			member := strconv.Itoa(100000 + size/2)
			b.ReportAllocs()
			for b.Loop() {
				if _, ok, err := s.Rank(ctx, "b", member, src.load); err != nil || !ok {
					b.Fatal(ok, err)
				}
			}
		})
	}
}
