package bench

// The ceiling phases: the same hot read from a bare Fiber handler (hack/bench/ceiling).

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/progressive-overload/po/hack/bench/ceiling"
)

// ensureCeiling starts the minimal Fiber program (its handlers answer the
// sampled page) unless it runs already; it runs until the end of the run, so
// the pairs can alternate between it and the service.
func (r *Runner) ensureCeiling(ctx context.Context) error {
	if r.ceiling != nil {
		return nil
	}
	cfg := r.cfg
	body := r.samplePage
	if body == nil {
		body = ceiling.SamplePage(r.users[0].ID, cfg.PageSize)
		r.logf("no real logs page fetched: the ceilings use a synthetic page of %d logs (%s bytes)", cfg.PageSize, FormatInt(int64(len(body))))
	}
	r.ceilingBody = body
	dir := filepath.Join(cfg.Root, ".dev", "bench")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	bodyFile := filepath.Join(dir, "page.json")
	if err := os.WriteFile(bodyFile, body, 0o644); err != nil {
		return err
	}
	args := []string{"-addr", cfg.CeilingAddr, "-body-file", bodyFile, "-redis", cfg.RedisURL, "-redis-prefix", ceilingKeyPrefix,
		"-page-size", strconv.Itoa(cfg.PageSize)}
	if dsn := r.ceilingDSN(); dsn != "" {
		args = append(args, "-mysql", dsn, "-interpolate="+strconv.FormatBool(cfg.CeilingInterpolate))
	}
	if err := PortFree(cfg.CeilingAddr); err != nil {
		return err
	}
	r.logf("starting the ceilings on %s", cfg.CeilingAddr)
	p, err := StartProc("ceiling", filepath.Join(cfg.BinDir, "bench-ceiling"), args, nil, r.logPath("ceiling"))
	if err != nil {
		return err
	}
	r.ceiling = p
	return WaitReady(ctx, p, r.ceilingURL()+"/healthz", 30*time.Second)
}

func (r *Runner) ceilingDSN() string {
	if !r.own() {
		return r.cfg.ChallengeDSN
	}
	return r.dsn("challenge")
}

// ceilings measures the three handlers of the minimal Fiber program.
func (r *Runner) ceilings(ctx context.Context) error {
	cfg := r.cfg
	if err := r.ensureCeiling(ctx); err != nil {
		return err
	}
	p, body, mysqlDSN := r.ceiling, r.ceilingBody, r.ceilingDSN()
	kinds := []struct{ kind, variant string }{{"fixed", VarFixed}, {"redis", VarRedis}, {"mysql", VarMySQL}}
	for _, k := range kinds {
		if k.kind == "mysql" && mysqlDSN == "" {
			r.logf("skipping the MySQL ceiling: no -challenge-dsn for the target's database")
			continue
		}
		if k.kind == "redis" {
			if err := r.storeCeilingPages(ctx, body); err != nil {
				return err
			}
		}
		target := ReadTargeter(r.ceilingURL(), CeilingPath(k.kind), r.users, r.zipf)
		r.settle(ctx, r.ceilingURL()+CeilingPath(k.kind)(r.users[0].ID), "", cfg.Bound/2)
		r.logf("\n[%s] open loop: %s/s for %s", k.variant, FormatInt(int64(cfg.Rate)), cfg.Duration)
		res := r.measure(ctx, k.variant, false, r.ceilingProcs(), func(ctx context.Context) Summary {
			return Run(ctx, r.attack(k.variant, cfg.Rate, cfg.Duration, cfg.Timeout, target))
		})
		r.addOpen(res)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		r.checkCeilingPages(ctx, k.kind, "open-loop phase")
		if cfg.Phases[PhaseSearch] {
			if k.kind == "redis" {
				if err := r.storeCeilingPages(ctx, body); err != nil {
					return err
				}
			}
			r.settle(ctx, r.ceilingURL()+CeilingPath(k.kind)(r.users[0].ID), "", cfg.Bound/2)
			r.search(ctx, k.variant, r.ceilingURL(), "/"+k.kind+"/", "", r.ceilingProcs())
			r.checkCeilingPages(ctx, k.kind, "closed-loop search")
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err := r.alive("the phases of "+k.variant, p); err != nil {
			return err
		}
	}
	return nil
}

// storeCeilingPages stores the page under every user's key for the Redis
// ceiling, just before it is attacked.
func (r *Runner) storeCeilingPages(ctx context.Context, body []byte) error {
	r.logf("\nstoring the page under %s{userId} in Redis for %s users", ceilingKeyPrefix, FormatInt(int64(len(r.users))))
	pipe := r.rdb.Pipeline()
	for i, u := range r.users {
		pipe.Set(ctx, ceilingKeyPrefix+strconv.FormatInt(u.ID, 10), body, 2*time.Hour)
		if i%1000 == 999 || i == len(r.users)-1 {
			if _, err := pipe.Exec(ctx); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkCeilingPages notes when the Redis ceiling's keys vanished during a
// phase (another client flushed Redis): its numbers are then 404s.
func (r *Runner) checkCeilingPages(ctx context.Context, kind, phase string) {
	if kind != "redis" || ctx.Err() != nil {
		return
	}
	n, err := r.rdb.Exists(context.WithoutCancel(ctx), ceilingKeyPrefix+strconv.FormatInt(r.users[r.zipf.Rank(0)].ID, 10)).Result()
	if err == nil && n == 0 {
		note := "the Redis ceiling's keys vanished during its " + phase + " (another client flushed Redis?): its numbers there count 404s"
		r.report.Notes = append(r.report.Notes, note)
		r.logf("bench: %s", note)
	}
}
