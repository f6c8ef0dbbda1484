package bench

// Measuring a phase: one attack, the service and Redis counters around it,
// processes that died, and the closed-loop search for the highest rate.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

func (r *Runner) attack(name string, rate float64, d, timeout time.Duration, t vegeta.Targeter) Attack {
	return Attack{Name: name, Rate: rate, Duration: d, Targeter: t, Timeout: timeout, MaxWorkers: r.cfg.MaxWorkers,
		Progress: r.out, ProgressTTY: r.cfg.TTY}
}

// measure runs one attack with the counters around it.
func (r *Runner) measure(ctx context.Context, variant string, serviceMetrics bool, procs map[string]int, run func(ctx context.Context) Summary) Result {
	res := Result{Variant: variant}
	var before CacheCounts
	haveMetrics := false
	if serviceMetrics {
		if c, err := r.cacheCounts(ctx); err == nil {
			before, haveMetrics = c, true
		}
	}
	redisBefore, rerr := r.redisCounts(ctx)
	w := WatchProcs(ctx, procs)
	res.Summary = run(ctx)
	res.Procs, res.Host = w.Stop()
	if haveMetrics {
		if after, err := r.cacheCounts(context.WithoutCancel(ctx)); err == nil {
			d := after.Sub(before)
			if d.Hit+d.Miss+d.Error > 0 || variant != VarUncached {
				res.Cache = &d
			}
		}
	}
	if rerr == nil {
		if after, err := r.redisCounts(context.WithoutCancel(ctx)); err == nil {
			d := after.Sub(redisBefore)
			res.Redis = &d
		}
	}
	r.logf("  %s: %s requests, %s ok, p50 %s, p99 %s, max %s%s", variant, FormatInt(int64(res.Summary.Requests)),
		FormatPct(res.Summary.SuccessPct()), FormatDuration(res.Summary.P50), FormatDuration(res.Summary.P99), FormatDuration(res.Summary.Max), hitNote(res.Cache))
	for e, n := range res.Summary.Errors {
		r.logf("  error ×%s: %s", FormatInt(int64(n)), e)
	}
	return res
}

func hitNote(c *CacheCounts) string {
	if c == nil {
		return ""
	}
	if h, ok := c.HitRatio(); ok {
		return ", hit ratio " + FormatPct(100*h)
	}
	return ""
}

// serviceProcs are the services' processes: ours, or found by their
// listening port when the target runs on this machine.
func (r *Runner) serviceProcs() map[string]int {
	m := map[string]int{}
	if r.own() {
		for _, p := range []*Proc{r.account, r.challenge} {
			if p != nil {
				m[p.Name] = p.Pid()
			}
		}
		return m
	}
	for name, u := range map[string]string{"account": r.accountURL(), "challenge": r.challengeURL()} {
		pu, err := url.Parse(u)
		if err != nil {
			continue
		}
		port, err := strconv.Atoi(pu.Port())
		if ip := net.ParseIP(pu.Hostname()); err != nil || (pu.Hostname() != "localhost" && (ip == nil || !ip.IsLoopback())) {
			continue
		}
		if pid := PIDListeningOn(port); pid > 0 {
			m[name] = pid
		}
	}
	return m
}

func (r *Runner) ceilingProcs() map[string]int {
	if r.ceiling == nil {
		return nil
	}
	return map[string]int{"ceiling": r.ceiling.Pid()}
}

func (r *Runner) cacheCounts(ctx context.Context) (CacheCounts, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, r.challengeURL()+"/metrics", nil)
	resp, err := r.api.HTTP.Do(req)
	if err != nil {
		return CacheCounts{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		return CacheCounts{}, fmt.Errorf("metrics: %d %v", resp.StatusCode, err)
	}
	return CacheCountsFrom(ParsePromText(string(b)), ""), nil
}

func (r *Runner) redisCounts(ctx context.Context) (RedisCounts, error) {
	s, err := r.rdb.Info(ctx, "stats", "commandstats").Result()
	if err != nil {
		return RedisCounts{}, err
	}
	return RedisCountsFrom(s)
}

// ProcExitError is a process the tool started that exited on its own.
type ProcExitError struct {
	Name, Phase, LogPath, Tail string
	Err                        error
}

func (e *ProcExitError) Error() string {
	return fmt.Sprintf("%s exited during %s (%v); its log %s ends with:\n%s", e.Name, e.Phase, e.Err, e.LogPath, e.Tail)
}

// Note is the one-line account of the exit for the report.
func (e *ProcExitError) Note() string {
	last := ""
	for _, l := range strings.Split(strings.TrimSpace(e.Tail), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "{") && !strings.HasPrefix(l, "exit status") {
			last = l
		}
	}
	if last == "" {
		last = fmt.Sprint(e.Err)
	}
	return fmt.Sprintf("the %s process exited during %s: `%s` (the run went on without it)", e.Name, e.Phase, last)
}

// alive reports a *ProcExitError when a process the tool started has
// exited: what was measured since is not the system's.
func (r *Runner) alive(phase string, ps ...*Proc) error {
	for _, p := range ps {
		if p == nil {
			continue
		}
		if ok, err := p.Exited(); ok {
			return &ProcExitError{Name: p.Name, Phase: phase, LogPath: p.LogPath, Tail: p.Tail(1500), Err: err}
		}
	}
	return nil
}

// survive turns the exit of a process other than the account service into a
// note, so the run goes on with the next variant.
func (r *Runner) survive(err error) error {
	var pe *ProcExitError
	if errors.As(err, &pe) && pe.Name != "account" {
		r.report.Notes = append(r.report.Notes, pe.Note())
		r.logf("\nbench: %v\nbench: going on with the next variant", pe)
		return nil
	}
	return err
}

func (r *Runner) addOpen(res Result) {
	r.open.Results = append(r.open.Results, res)
}

// search runs the closed-loop search for one variant with wrk.
func (r *Runner) search(ctx context.Context, variant, base, prefix, suffix string, procs map[string]int) {
	cfg := r.cfg
	r.logf("\n[%s] closed loop (wrk): highest throughput with p99 < %s", variant, FormatDuration(cfg.Bound))
	o := SearchOptions{Bound: cfg.Bound, Start: cfg.SearchStart, MaxConns: cfg.SearchMaxConns, MaxSteps: cfg.SearchMaxSteps,
		Precision: cfg.SearchPrec, MinSuccess: 99.9, Saturated: 0.05, Pause: time.Second, Retries: cfg.SearchRetries, Log: r.out}
	o.Settle = func(ctx context.Context) {
		r.settle(ctx, base+prefix+strconv.FormatInt(r.users[0].ID, 10)+suffix, r.users[0].Token, cfg.Bound/2)
	}
	w := WatchProcs(ctx, procs)
	s := SearchMax(ctx, variant, o, func(ctx context.Context, conns int) Summary {
		return r.wrk(ctx, base, prefix, suffix, conns, cfg.SearchStep, cfg.SearchTimeout, procs)
	})
	s.Procs, s.Host = w.Stop()
	r.report.Searches = append(r.report.Searches, s)
}

// settle waits (at most 30 s) until three requests in a row to url answer
// within fast: an overloaded server keeps serving requests whose clients
// gave up, and the next step should not pay for them.
func (r *Runner) settle(ctx context.Context, url, token string, fast time.Duration) {
	deadline := time.Now().Add(30 * time.Second)
	client := &http.Client{Timeout: 5 * time.Second}
	good := 0
	for good < 3 && time.Now().Before(deadline) && ctx.Err() == nil {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		t0 := time.Now()
		resp, err := client.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		if err == nil && resp.StatusCode == http.StatusOK && time.Since(t0) < fast {
			good++
			continue
		}
		good = 0
		select {
		case <-ctx.Done():
		case <-time.After(250 * time.Millisecond):
		}
	}
	client.CloseIdleConnections()
}
