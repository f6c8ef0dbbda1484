package bench

// The closed-loop measurements with wrk: one run with the servers' CPU
// around it, the interleaved pairs, and the profiled run of the hot read.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// wrkScript returns the path of the script for prefix+userId+suffix,
// writing it into the run's temporary directory the first time.
func (r *Runner) wrkScript(prefix, suffix string) (string, error) {
	key := prefix + "\x00" + suffix
	if p, ok := r.scripts[key]; ok {
		return p, nil
	}
	if r.scripts == nil {
		r.scripts = map[string]string{}
	}
	p := filepath.Join(r.tmp, fmt.Sprintf("wrk-%d.lua", len(r.scripts)))
	if err := os.WriteFile(p, []byte(WrkScript(r.wrkFiles, prefix, suffix, r.cfg.WrkThreads)), 0o600); err != nil {
		return "", err
	}
	r.scripts[key] = p
	return p, nil
}

// wrk runs wrk against base+prefix+userId+suffix with conns connections for
// d, and returns its summary with its own CPU time and that of procs (the
// servers) during the run.
func (r *Runner) wrk(ctx context.Context, base, prefix, suffix string, conns int, d, timeout time.Duration, procs map[string]int) Summary {
	script, err := r.wrkScript(prefix, suffix)
	if err != nil {
		return Summary{Errors: map[string]int{err.Error(): 1}, Conns: conns}
	}
	w := WatchProcs(ctx, procs)
	res, err := WrkRun{Bin: r.wrkBin, URL: base, Script: script, Threads: r.cfg.WrkThreads, Conns: conns, Duration: d, Timeout: timeout}.Run(ctx)
	us, _ := w.Stop()
	s := res.Summary()
	for _, u := range us {
		s.SvcCPU += u.CPUSeconds
	}
	if err != nil {
		s.Errors[err.Error()]++
		r.logf("  %v", err)
	}
	return s
}

// PairRun is one round of an interleaved pair: A, then B, back to back.
type PairRun struct{ A, B Summary }

// Ratio is B's throughput over A's (false when A answered nothing).
func (p PairRun) Ratio() (float64, bool) {
	a := p.A.Throughput()
	if a <= 0 {
		return 0, false
	}
	return p.B.Throughput() / a, true
}

// PairSet compares B with A in rounds A, B, A, B …: noise that lasts longer
// than a round (another process, a CPU's frequency) weighs on both sides of
// a ratio, and the median of the rounds' ratios ignores a noisy round.
type PairSet struct {
	Title    string
	A, B     string
	Conns    int
	Duration time.Duration
	Runs     []PairRun
}

// Median is the median of the rounds' ratios.
func (p PairSet) Median() (float64, bool) {
	var rs []float64
	for _, run := range p.Runs {
		if v, ok := run.Ratio(); ok {
			rs = append(rs, v)
		}
	}
	return Median(rs)
}

// Median of vs (the mean of the middle two for an even count).
func Median(vs []float64) (float64, bool) {
	if len(vs) == 0 {
		return 0, false
	}
	s := slices.Clone(vs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2], true
	}
	return (s[n/2-1] + s[n/2]) / 2, true
}

// pairSide is one side of a pair: where wrk sends its requests.
type pairSide struct {
	name                 string
	base, prefix, suffix string
	procs                map[string]int
}

// pairs runs rounds of a against b.
func (r *Runner) pairs(ctx context.Context, title string, a, b pairSide) PairSet {
	cfg := r.cfg
	set := PairSet{Title: title, A: a.name, B: b.name, Conns: cfg.WrkConns, Duration: cfg.PairDuration}
	r.logf("\n[pairs] %s: %d rounds of %s, then %s, %s each with %d connections", title, cfg.Pairs, a.name, b.name, cfg.PairDuration, cfg.WrkConns)
	for i := 0; i < cfg.Pairs && ctx.Err() == nil; i++ {
		var run PairRun
		for _, side := range []struct {
			s   pairSide
			out *Summary
		}{{a, &run.A}, {b, &run.B}} {
			*side.out = r.wrk(ctx, side.s.base, side.s.prefix, side.s.suffix, cfg.WrkConns, cfg.PairDuration, cfg.SearchTimeout, side.s.procs)
		}
		if ctx.Err() != nil {
			break
		}
		ratio, _ := run.Ratio()
		r.logf("  round %d: %s %s/s (p99 %s, wrk %.1f s CPU), %s %s/s (p99 %s, wrk %.1f s CPU): ratio %.2f", i+1,
			a.name, FormatInt(int64(run.A.Throughput())), FormatDuration(run.A.P99), run.A.GenCPU,
			b.name, FormatInt(int64(run.B.Throughput())), FormatDuration(run.B.P99), run.B.GenCPU, ratio)
		set.Runs = append(set.Runs, run)
	}
	if m, ok := set.Median(); ok {
		r.logf("  median ratio %.2f", m)
	}
	return set
}

// servicePairs runs the interleaved pairs of the cached service: the hot
// read against the fixed-body ceiling, and ?limit=10 against the default
// page.
func (r *Runner) servicePairs(ctx context.Context, variant string) error {
	svc := pairSide{name: variant, base: r.challengeURL(), prefix: "/challenges/logs/", procs: r.serviceProcs()}
	if r.cfg.Phases[PhaseCeilings] || r.own() {
		if err := r.ensureCeiling(ctx); err != nil {
			return err
		}
		fixed := pairSide{name: VarFixed, base: r.ceilingURL(), prefix: "/fixed/", procs: r.ceilingProcs()}
		r.report.Pairs = append(r.report.Pairs, r.pairs(ctx, "cached hot read vs the fixed-body ceiling", fixed, svc))
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	lim := svc
	lim.name, lim.suffix = VarLimit10, "?limit=10"
	r.report.Pairs = append(r.report.Pairs, r.pairs(ctx, "?limit=10 vs the default page", svc, lim))
	return ctx.Err()
}

// profileHotRead takes a CPU profile of the cached service under wrk and
// keeps its top functions for the report (shown when an aim is not met).
func (r *Runner) profileHotRead(ctx context.Context, variant string) {
	cfg := r.cfg
	if r.debug == "" || cfg.ProfileFor <= 0 {
		return
	}
	dir := cfg.ProfileDir
	if dir == "" {
		dir = r.tmp
	}
	p := &profiler{dir: dir, base: r.debug, logf: r.logf}
	d := cfg.ProfileFor + 2*time.Second
	r.logf("\n[%s] profiling the hot read under wrk (%d connections, %s)", variant, cfg.WrkConns, cfg.ProfileFor)
	file, finish := p.cpu(ctx, "hot read "+variant, time.Second, cfg.ProfileFor)
	s := r.wrk(ctx, r.challengeURL(), "/challenges/logs/", "", cfg.WrkConns, d, cfg.SearchTimeout, r.serviceProcs())
	finish()
	if ctx.Err() != nil {
		return
	}
	top, err := PprofTop(ctx, filepath.Join(cfg.BinDir, "challenge"), file, 12)
	if err != nil {
		r.logf("  profile: %v", err)
		return
	}
	stages, err := PprofStages(ctx, filepath.Join(cfg.BinDir, "challenge"), file)
	if err != nil {
		r.logf("  profile: %v", err)
	}
	r.report.Profile = &ProfileTop{Variant: variant, Span: cfg.ProfileFor, Conns: cfg.WrkConns, Throughput: s.Throughput(), File: file, Rows: top, Stages: stages}
	if cfg.ProfileDir == "" {
		r.report.Profile.File = "" // in the run's temporary directory, gone with it
	}
	for _, row := range top {
		r.logf("  %6s flat %6s cum  %s", row.Flat, row.Cum, row.Func)
	}
	for _, st := range stages {
		r.logf("  %6s cum %6s  %s", st.Cum, st.CumPct, st.Stage)
	}
}
