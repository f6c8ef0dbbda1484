package bench

// The replicas phase: two challenge services on one database and one Redis
// prefix, each with its near tier (L1) in front of Redis (L2). Reads
// alternate between them and writes go to the first, so the second learns
// of them only through the invalidation channel: the phase measures both
// tiers' hit ratios under Zipf, the propagation time of an invalidation, and
// that reads through the writer never miss its writes.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/progressive-overload/po/services/kit/cache"
)

// NearCounts are cache_near_requests_total summed by result.
type NearCounts struct{ Hit, Miss, Bypass float64 }

// Sub returns c - o.
func (c NearCounts) Sub(o NearCounts) NearCounts {
	return NearCounts{Hit: c.Hit - o.Hit, Miss: c.Miss - o.Miss, Bypass: c.Bypass - o.Bypass}
}

// Add returns c + o.
func (c NearCounts) Add(o NearCounts) NearCounts {
	return NearCounts{Hit: c.Hit + o.Hit, Miss: c.Miss + o.Miss, Bypass: c.Bypass + o.Bypass}
}

// HitRatio is the near tier's hits over every read that asked it (a bypass
// is a read the tier could not answer).
func (c NearCounts) HitRatio() (float64, bool) {
	all := c.Hit + c.Miss + c.Bypass
	if all <= 0 {
		return 0, false
	}
	return c.Hit / all, true
}

// NearCountsFrom sums cache_near_requests_total by result.
func NearCountsFrom(samples []Sample) NearCounts {
	var c NearCounts
	for _, s := range samples {
		if s.Name != "cache_near_requests_total" {
			continue
		}
		switch s.Labels["result"] {
		case "hit":
			c.Hit += s.Value
		case "miss":
			c.Miss += s.Value
		case "bypass":
			c.Bypass += s.Value
		}
	}
	return c
}

// Bucket is one cumulative histogram bucket.
type Bucket struct{ Le, Count float64 }

// HistogramFrom reads the cumulative buckets of histogram name (summed over
// its other labels), sorted by bound; +Inf is the last.
func HistogramFrom(samples []Sample, name string) []Bucket {
	by := map[float64]float64{}
	for _, s := range samples {
		if s.Name != name+"_bucket" {
			continue
		}
		le, err := strconv.ParseFloat(s.Labels["le"], 64)
		if err != nil {
			continue
		}
		by[le] += s.Value
	}
	out := make([]Bucket, 0, len(by))
	for le, n := range by {
		out = append(out, Bucket{Le: le, Count: n})
	}
	slices.SortFunc(out, func(a, b Bucket) int {
		switch {
		case a.Le < b.Le:
			return -1
		case a.Le > b.Le:
			return 1
		}
		return 0
	})
	return out
}

// SubBuckets returns after - before, bucket by bucket (same bounds).
func SubBuckets(after, before []Bucket) []Bucket {
	prev := map[float64]float64{}
	for _, b := range before {
		prev[b.Le] = b.Count
	}
	out := make([]Bucket, len(after))
	for i, b := range after {
		out[i] = Bucket{Le: b.Le, Count: b.Count - prev[b.Le]}
	}
	return out
}

// HistogramQuantile estimates the q-quantile (0..1) of cumulative buckets
// the way Prometheus' histogram_quantile does: linearly within the bucket
// it falls in (from 0 for the first), and the highest finite bound when it
// falls in +Inf. False when the histogram is empty.
func HistogramQuantile(bs []Bucket, q float64) (float64, bool) {
	if len(bs) == 0 || bs[len(bs)-1].Count <= 0 {
		return 0, false
	}
	total := bs[len(bs)-1].Count
	rank := q * total
	lowerLe, lowerN := 0.0, 0.0
	for _, b := range bs {
		if b.Count >= rank {
			if math.IsInf(b.Le, 1) {
				return lowerLe, true
			}
			if b.Count == lowerN {
				return b.Le, true
			}
			return lowerLe + (b.Le-lowerLe)*(rank-lowerN)/(b.Count-lowerN), true
		}
		lowerLe, lowerN = b.Le, b.Count
	}
	return lowerLe, true
}

// Delays summarises measured durations (nearest rank).
type Delays struct {
	N             int
	P50, P99, Max time.Duration
}

// SummarizeDelays sorts ds and summarises them.
func SummarizeDelays(ds []time.Duration) Delays {
	s := Summarize(ds)
	return Delays{N: len(ds), P50: s.P50, P99: s.P99, Max: s.Max}
}

// ReplicaStats are the replicas phase's findings.
type ReplicaStats struct {
	Names [2]string
	Near  [2]NearCounts  // cache_near_requests_total deltas per replica
	Cache [2]CacheCounts // cache_requests_total deltas (a hit of either tier is a hit)
	// Histogram: cache_near_invalidation_delay_seconds of the second
	// replica (sender's clock to arrival); HistN invalidations observed.
	HistN              float64
	HistP50, HistP99   time.Duration
	HistKnown          bool
	Probes             Delays // write on the first, poll the second until it shows
	ProbeTimeouts      int    // probes whose write never showed within probeTimeout
	CrossChecks        int    // (read through the other replica, earlier write) pairs
	CrossStale         int    // of which the read missed the write
	CrossMaxAge        time.Duration
	L1TTL              time.Duration // CACHE_NEAR_TTL the services ran with (the bound if a message is lost)
	RedisPerRead       float64
	RedisPerReadKnown  bool
	ReadsA, ReadsOther int
}

// L2 is the Redis tier's hits and misses: the reads the near tier did not
// answer, and of those how many Redis did.
func (s ReplicaStats) L2() (hits, misses float64) {
	for i := range s.Cache {
		hits += s.Cache[i].Hit - s.Near[i].Hit
		misses += s.Cache[i].Miss
	}
	return hits, misses
}

// ReplicaTargeter is MixedTargeter's traffic with every other read sent to
// other instead of base (writes stay on base).
func ReplicaTargeter(base, other string, users []*User, z *Zipf, writeFrac float64, seed uint64, pool *LogPool) vegeta.Targeter {
	inner := MixedTargeter(base, users, z, writeFrac, seed, pool)
	var n atomic.Uint64
	return func(t *vegeta.Target) error {
		if err := inner(t); err != nil {
			return err
		}
		if t.Method == http.MethodGet && n.Add(1)%2 == 0 {
			t.URL = other + strings.TrimPrefix(t.URL, base)
		}
		return nil
	}
}

// metricsOf fetches a service's /metrics.
func (r *Runner) metricsOf(ctx context.Context, base string) ([]Sample, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/metrics", nil)
	resp, err := r.api.HTTP.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s/metrics: %d %v", base, resp.StatusCode, err)
	}
	return ParsePromText(string(b)), nil
}

const (
	delayHistogram = "cache_near_invalidation_delay_seconds"
	probeTimeout   = 3 * time.Second
)

// replicaPhase starts the second replica, runs the mixed traffic through
// both with the propagation probe beside it, and stops the replica.
func (r *Runner) replicaPhase(ctx context.Context, variant string) error {
	cfg := r.cfg
	if err := PortFree(cfg.ChallengeAddr2); err != nil {
		return err
	}
	baseA, baseB := r.challengeURL(), "http://"+cfg.ChallengeAddr2
	// The same environment as the first replica but its address; no
	// debug listener (the first one holds that port).
	env := append(r.serviceEnv("challenge", true), "HTTP_ADDR="+cfg.ChallengeAddr2, "DEBUG_ADDR=")
	r.logf("\nstarting a second challenge service on %s (same database, same Redis prefix)", cfg.ChallengeAddr2)
	b, err := StartProc("challenge-b", filepath.Join(cfg.BinDir, "challenge"), []string{"serve"}, env, r.logPath("challenge-b"))
	if err != nil {
		return err
	}
	defer func() { _ = b.Stop(20 * time.Second) }()
	if err := WaitReady(ctx, b, baseB+"/readyz", 60*time.Second); err != nil {
		return err
	}
	name := "replicas (" + variant + ")"
	stats := &ReplicaStats{Names: [2]string{"challenge", "challenge-b"}, L1TTL: nearTTL(env)}
	var before [2][]Sample
	for i, base := range []string{baseA, baseB} {
		if before[i], err = r.metricsOf(ctx, base); err != nil {
			return err
		}
	}
	procs := r.serviceProcs()
	procs["challenge-b"] = b.Pid()
	chk := NewRAWChecker(r.users, cfg.PageSize)
	chk.Other = baseB
	probeCtx, stopProbe := context.WithCancel(ctx)
	var probes []time.Duration
	var timeouts int
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		probes, timeouts = r.probePropagation(probeCtx, baseA, baseB)
	}()
	r.logf("\n[%s] %s/s for %s, %.0f%% writes through %s, reads alternating with %s", name, FormatInt(int64(cfg.Rate)), cfg.Duration, 100*cfg.WriteFrac, cfg.ChallengeAddr, cfg.ChallengeAddr2)
	res := r.measure(ctx, name, false, procs, func(ctx context.Context) Summary {
		a := r.attack("replicas", cfg.Rate, cfg.Duration, cfg.Timeout, ReplicaTargeter(baseA, baseB, r.users, r.zipf, cfg.WriteFrac, cfg.Seed+11, chk.Pool))
		a.KeepBody, a.OnResult = true, chk.OnResult
		return Run(ctx, a)
	})
	stopProbe()
	wg.Wait()
	stats.Probes, stats.ProbeTimeouts = SummarizeDelays(probes), timeouts
	for i, base := range []string{baseA, baseB} {
		after, err := r.metricsOf(context.WithoutCancel(ctx), base)
		if err != nil {
			return err
		}
		stats.Near[i] = NearCountsFrom(after).Sub(NearCountsFrom(before[i]))
		stats.Cache[i] = CacheCountsFrom(after, "").Sub(CacheCountsFrom(before[i], ""))
		if i == 1 {
			h := SubBuckets(HistogramFrom(after, delayHistogram), HistogramFrom(before[i], delayHistogram))
			if len(h) > 0 {
				stats.HistN = h[len(h)-1].Count
			}
			p50, ok50 := HistogramQuantile(h, 0.5)
			p99, ok99 := HistogramQuantile(h, 0.99)
			stats.HistKnown = ok50 && ok99
			stats.HistP50, stats.HistP99 = time.Duration(p50*float64(time.Second)), time.Duration(p99*float64(time.Second))
		}
	}
	total := stats.Cache[0]
	total.Hit += stats.Cache[1].Hit
	total.Miss += stats.Cache[1].Miss
	total.Error += stats.Cache[1].Error
	res.Cache = &total
	res.Mixed = chk.Stats()
	for _, e := range res.Mixed.Examples {
		r.logf("  stale read through the writer: %s", e)
	}
	var ages []time.Duration
	stats.CrossChecks, ages = StaleAges(chk.Writes, chk.OtherReads)
	stats.CrossStale = len(ages)
	for _, a := range ages {
		stats.CrossMaxAge = max(stats.CrossMaxAge, a)
	}
	stats.ReadsA, stats.ReadsOther = len(chk.Reads), len(chk.OtherReads)
	if res.Redis != nil && res.Summary.Requests > 0 {
		stats.RedisPerRead, stats.RedisPerReadKnown = float64(res.Redis.Commands)/float64(res.Summary.Requests), true
	}
	res.Replicas = stats
	l1, _ := stats.Near[0].Add(stats.Near[1]).HitRatio()
	r.logf("  L1 hit ratio %s, propagation p50 %s p99 %s (%d probes; histogram p99 %s of %.0f), cross-replica stale %d of %d (oldest missed write %s)",
		FormatPct(100*l1), FormatDuration(stats.Probes.P50), FormatDuration(stats.Probes.P99), stats.Probes.N,
		FormatDuration(stats.HistP99), stats.HistN, stats.CrossStale, stats.CrossChecks, FormatDuration(stats.CrossMaxAge))
	r.replicas.Results = append(r.replicas.Results, res)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return r.alive("the replicas phase", r.account, r.challenge, b)
}

// nearTTL is CACHE_NEAR_TTL in env (the last setting wins), the service's
// default otherwise.
func nearTTL(env []string) time.Duration {
	ttl := cache.DefaultNearTTL
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "CACHE_NEAR_TTL="); ok {
			if d, err := time.ParseDuration(v); err == nil {
				ttl = d
			}
		}
	}
	return ttl
}

// probePropagation repeats, until ctx ends: read a user's page on b (so b's
// near tier holds it), add a log through a, then read b back to back until
// the log shows. The delay is from the write's answer to the answer of the
// first read that showed it: an upper bound (it includes that read's round
// trip), so a bound checked against it is not too tight.
func (r *Runner) probePropagation(ctx context.Context, a, b string) (delays []time.Duration, timeouts int) {
	client := &http.Client{Timeout: 5 * time.Second}
	defer client.CloseIdleConnections()
	var cands []*User
	for _, u := range r.users {
		if len(u.Challenges) > 0 {
			cands = append(cands, u)
		}
	}
	if len(cands) == 0 {
		return nil, 0
	}
	get := func(u *User) ([]int64, error) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, b+LogsPath(u.ID), nil)
		req.Header.Set("Authorization", "Bearer "+u.Token)
		resp, err := client.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		var page struct {
			Items []logJSON `json:"items"`
		}
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("GET: %d", resp.StatusCode)
		}
		if err := json.NewDecoder(resp.Body).Decode(&page); err != nil {
			return nil, err
		}
		ids := make([]int64, len(page.Items))
		for i, it := range page.Items {
			ids[i] = it.Id
		}
		return ids, nil
	}
	for i := 0; ctx.Err() == nil; i++ {
		u := cands[(i*7919)%len(cands)]
		if _, err := get(u); err != nil {
			continue
		}
		var l logJSON
		in := map[string]any{"sets": 1, "reps": 1, "value": 1, "note": "bench probe"}
		if _, err := r.api.Do(ctx, http.MethodPost, a+"/challenges/"+strconv.FormatInt(u.Challenges[0], 10)+"/logs", u.Token, in, &l, http.StatusCreated); err != nil || l.Id == 0 {
			continue
		}
		id := l.Id
		wrote := time.Now()
		shown := false
		for time.Since(wrote) < probeTimeout && ctx.Err() == nil {
			ids, err := get(u)
			if err == nil && slices.Contains(ids, id) {
				delays = append(delays, time.Since(wrote))
				shown = true
				break
			}
		}
		if !shown && ctx.Err() == nil {
			timeouts++
		}
		select {
		case <-ctx.Done():
		case <-time.After(50 * time.Millisecond):
		}
	}
	return delays, timeouts
}
