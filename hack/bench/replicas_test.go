package bench

import (
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

const replicaMetrics = `# TYPE cache_near_requests_total counter
cache_near_requests_total{cache="logs",result="hit",service="challenge"} 900
cache_near_requests_total{cache="logs",result="miss",service="challenge"} 80
cache_near_requests_total{cache="logs",result="bypass",service="challenge"} 20
cache_requests_total{cache="logs",result="hit",service="challenge"} 970
cache_requests_total{cache="logs",result="miss",service="challenge"} 30
cache_near_invalidation_delay_seconds_bucket{service="challenge",le="0.0001"} 0
cache_near_invalidation_delay_seconds_bucket{service="challenge",le="0.00025"} 10
cache_near_invalidation_delay_seconds_bucket{service="challenge",le="0.0005"} 90
cache_near_invalidation_delay_seconds_bucket{service="challenge",le="0.001"} 99
cache_near_invalidation_delay_seconds_bucket{service="challenge",le="+Inf"} 100
cache_near_invalidation_delay_seconds_sum{service="challenge"} 0.04
cache_near_invalidation_delay_seconds_count{service="challenge"} 100
`

func TestReplicaMetrics(t *testing.T) {
	samples := ParsePromText(replicaMetrics)
	n := NearCountsFrom(samples)
	if n != (NearCounts{Hit: 900, Miss: 80, Bypass: 20}) {
		t.Fatalf("near %+v", n)
	}
	if h, ok := n.HitRatio(); !ok || h != 0.9 {
		t.Fatalf("near ratio %v", h)
	}
	s := ReplicaStats{Near: [2]NearCounts{n, {}}, Cache: [2]CacheCounts{CacheCountsFrom(samples, ""), {}}}
	if h, m := s.L2(); h != 70 || m != 30 {
		t.Fatalf("L2 %v / %v", h, m)
	}
	bs := HistogramFrom(samples, delayHistogram)
	if len(bs) != 5 || !math.IsInf(bs[4].Le, 1) || bs[1].Count != 10 {
		t.Fatalf("buckets %+v", bs)
	}
	// The 50th of 100 lies 40/80 of the way through (0.25 ms, 0.5 ms].
	if q, ok := HistogramQuantile(bs, 0.5); !ok || math.Abs(q-0.000375) > 1e-12 {
		t.Fatalf("p50 %v", q)
	}
	if q, _ := HistogramQuantile(bs, 0.99); q != 0.001 {
		t.Fatalf("p99 %v", q)
	}
	if q, _ := HistogramQuantile(bs, 1); q != 0.001 { // in +Inf: the highest finite bound
		t.Fatalf("p100 %v", q)
	}
	d := SubBuckets(bs, bs)
	if _, ok := HistogramQuantile(d, 0.5); ok {
		t.Fatal("quantile of an empty delta")
	}
	if _, ok := HistogramQuantile(nil, 0.5); ok {
		t.Fatal("quantile of nothing")
	}
}

func TestRedisCommandStats(t *testing.T) {
	info := "# Stats\r\nkeyspace_hits:10\r\nkeyspace_misses:2\r\n# Commandstats\r\ncmdstat_get:calls=120,usec=300,usec_per_call=2.50,rejected_calls=0,failed_calls=0\r\ncmdstat_publish:calls=5,usec=10\r\n"
	c, err := RedisCountsFrom(info)
	if err != nil || c != (RedisCounts{Hits: 10, Misses: 2, Commands: 125}) {
		t.Fatalf("%+v %v", c, err)
	}
	if d := c.Sub(RedisCounts{Hits: 1, Misses: 1, Commands: 25}); d.Commands != 100 {
		t.Fatalf("%+v", d)
	}
}

func TestParsePprofTop(t *testing.T) {
	out := `File: challenge
Type: cpu
Showing nodes accounting for 3.10s, 62.00% of 5s total
      flat  flat%   sum%        cum   cum%
     1.50s 30.00% 30.00%      1.50s 30.00%  internal/runtime/syscall.Syscall6
     0.20s  4.00% 34.00%      0.40s  8.00%  runtime.mallocgc (inline)
`
	rows := ParsePprofTop(out)
	if len(rows) != 2 || rows[0] != (TopRow{Flat: "1.50s", FlatPct: "30.00%", Cum: "1.50s", CumPct: "30.00%", Func: "internal/runtime/syscall.Syscall6"}) ||
		rows[1].Func != "runtime.mallocgc (inline)" {
		t.Fatalf("%+v", rows)
	}
	if ParsePprofTop("no table\n") != nil {
		t.Fatal("rows without a header")
	}
}

func TestStaleAges(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	writes := map[int64][]WriteRec{1: {{Key: LogKey{PerformedAt: t0, ID: 10}, End: t0.Add(time.Millisecond)}}}
	reads := []ReadRec{
		{User: 1, Start: t0.Add(3 * time.Millisecond), IDs: []int64{9}},     // missed it, 2 ms after
		{User: 1, Start: t0.Add(5 * time.Millisecond), IDs: []int64{10, 9}}, // saw it
		{User: 1, Start: t0, IDs: nil},                                      // before the write ended
	}
	checks, ages := StaleAges(writes, reads)
	if checks != 2 || len(ages) != 1 || ages[0] != 2*time.Millisecond {
		t.Fatalf("%d checks, ages %v", checks, ages)
	}
}

func TestReplicaTargeterAlternatesReadsAndKeepsWritesOnTheFirst(t *testing.T) {
	users := []*User{{ID: 1, Token: "a", Challenges: []int64{11}}, {ID: 2, Token: "b", Challenges: []int64{22}}}
	z, _ := NewZipf(len(users), 1.5, 1)
	tg := ReplicaTargeter("http://a", "http://b", users, z, 0.3, 9, nil)
	reads := map[string]int{}
	for range 400 {
		var tr vegeta.Target
		if err := tg(&tr); err != nil {
			t.Fatal(err)
		}
		host := tr.URL[:strings.Index(tr.URL[7:], "/")+7]
		if tr.Method == http.MethodPost {
			if host != "http://a" {
				t.Fatalf("write to %s", tr.URL)
			}
			continue
		}
		if !strings.Contains(tr.URL, "/challenges/logs/") {
			t.Fatalf("read %s", tr.URL)
		}
		reads[host]++
	}
	if d := reads["http://a"] - reads["http://b"]; d < 0 || d > 1 {
		t.Fatalf("reads %v", reads)
	}
}

func TestRAWCheckerSeparatesTheOtherReplica(t *testing.T) {
	c := NewRAWChecker([]*User{{ID: 1}}, 20)
	c.Other = "http://b"
	c.OnResult(&vegeta.Result{Method: http.MethodGet, URL: "http://b/challenges/logs/1", Code: 200, Body: []byte(`{"items":[]}`)})
	c.OnResult(&vegeta.Result{Method: http.MethodGet, URL: "http://a/challenges/logs/1", Code: 200, Body: []byte(`{"items":[]}`)})
	if len(c.Reads) != 1 || len(c.OtherReads) != 1 {
		t.Fatalf("%d / %d", len(c.Reads), len(c.OtherReads))
	}
}

func TestNearTTL(t *testing.T) {
	if d := nearTTL([]string{"CACHE_NEAR_TTL=2s", "X=1", "CACHE_NEAR_TTL=500ms"}); d != 500*time.Millisecond {
		t.Fatal(d)
	}
	if d := nearTTL(nil); d != 5*time.Second {
		t.Fatal(d)
	}
}
