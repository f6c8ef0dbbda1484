package bench

// The checks a report is held to (issue 6's aims) and their cell formatting.

import (
	"fmt"
	"time"
)

// Checks measures the run against issue 6's aims.
func Checks(rep Report, rate float64) []Check {
	find := func(variant string) (Result, bool) {
		for _, p := range rep.Phases {
			for _, res := range p.Results {
				if res.Variant == variant {
					return res, true
				}
			}
		}
		return Result{}, false
	}
	best := func(variant string) (float64, bool) {
		for _, s := range rep.Searches {
			if s.Variant == variant {
				return s.Best, true
			}
		}
		return 0, false
	}
	at := FormatInt(int64(rate)) + "/s"
	var cs []Check
	cached := VarCached
	if _, ok := find(VarCached); !ok {
		cached = VarTarget // a running system is measured as it is, normally with its cache
	}
	c, okC := find(cached)
	cs = append(cs,
		Check{Aim: "cache at " + at + ": 100% success", Known: okC, Met: okC && c.Summary.Requests > 0 && c.Summary.OK == c.Summary.Requests, Measured: pct(c, okC)},
		Check{Aim: "cache at " + at + ": p99 under 3 ms", Known: okC, Met: okC && c.Summary.P99 < 3*time.Millisecond, Measured: durIf(c.Summary.P99, okC)},
	)
	hit := Check{Aim: "cache at " + at + ": hit ratio at least 95%", Known: okC && c.Cache != nil}
	if hit.Known {
		h, ok := c.Cache.HitRatio()
		hit.Known, hit.Met, hit.Measured = ok, ok && h >= 0.95, FormatPct(100*h)
	}
	cs = append(cs, hit)
	ratio := func(aim, v, ceiling string, want float64) Check {
		a, okA := best(v)
		b, okB := best(ceiling)
		ch := Check{Aim: aim, Known: okA && okB && b > 0}
		if ch.Known {
			ch.Met = a >= want*b
			ch.Measured = fmt.Sprintf("%s vs %s = %.0f%%", FormatRate(a), FormatRate(b), 100*a/b)
		}
		return ch
	}
	cs = append(cs,
		ratio("highest rate with p99 under the bound: cache ≥ 70% of the bare Redis handler's", cached, VarRedis, 0.7),
		ratio("highest rate with p99 under the bound: no cache ≥ 60% of the bare MySQL handler's", VarUncached, VarMySQL, 0.6),
	)
	peak := map[string]int64{}
	collect := func(us []ProcUsage) {
		for _, u := range us {
			if u.Name == "account" || u.Name == "challenge" {
				peak[u.Name] = max(peak[u.Name], u.PeakRSSKiB)
			}
		}
	}
	for _, p := range rep.Phases {
		for _, res := range p.Results {
			collect(res.Procs)
		}
	}
	for _, s := range rep.Searches {
		collect(s.Procs)
	}
	for _, name := range []string{"account", "challenge"} {
		u, ok := findProc(c.Procs, name)
		ch := Check{Aim: name + " under 100 MB RSS at " + at + " with the cache", Known: okC && ok, Met: ok && u.PeakRSSKiB < 100*1024, Measured: mibIf(u.PeakRSSKiB, ok)}
		if v, ok := peak[name]; ok && ch.Known && v > u.PeakRSSKiB {
			ch.Measured += fmt.Sprintf(" (%s at most in any phase, overloads included)", FormatMiB(v))
		}
		cs = append(cs, ch)
	}
	for _, p := range rep.Phases {
		for _, res := range p.Results {
			if res.Mixed != nil {
				cs = append(cs, Check{Aim: "mixed: every read includes its user's earlier writes", Known: res.Mixed.Checks > 0,
					Met: res.Mixed.Violations == 0, Measured: fmt.Sprintf("%s stale of %s checked", FormatInt(int64(res.Mixed.Violations)), FormatInt(int64(res.Mixed.Checks)))})
			}
		}
	}
	return cs
}

func pct(r Result, ok bool) string {
	if !ok {
		return "–"
	}
	return FormatPct(r.Summary.SuccessPct())
}

func durIf(d time.Duration, ok bool) string {
	if !ok {
		return "–"
	}
	return FormatDuration(d)
}

func mibIf(k int64, ok bool) string {
	if !ok {
		return "–"
	}
	return FormatMiB(k)
}
