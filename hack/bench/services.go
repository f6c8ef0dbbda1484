package bench

// Starting and stopping what a run measures: building, the bench databases,
// each service variant with its environment, and the sanity check.

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// prepare builds, creates the bench databases, migrates and starts the
// account service (own system), or checks the target answers.
func (r *Runner) prepare(ctx context.Context) error {
	cfg := r.cfg
	if !r.own() {
		if r.needServices() {
			if err := WaitReady(ctx, nil, r.challengeURL()+"/readyz", 5*time.Second); err != nil {
				return fmt.Errorf("target: %w", err)
			}
		}
		return r.buildCeiling(ctx)
	}
	if r.needServices() {
		if cfg.Build {
			r.logf("building bin/account and bin/challenge")
			if err := RunCmd(ctx, cfg.Root, nil, "go", "build", "-trimpath", "-o", cfg.BinDir+string(os.PathSeparator),
				"./services/account/cmd/account", "./services/challenge/cmd/challenge"); err != nil {
				return fmt.Errorf("building the services (use -phases ceilings to measure only the ceilings): %w", err)
			}
		}
		for _, b := range []string{"account", "challenge"} {
			if _, err := os.Stat(filepath.Join(cfg.BinDir, b)); err != nil {
				return fmt.Errorf("%s: %w (build with `make build`, or drop -build=false)", b, err)
			}
		}
	}
	if err := r.buildCeiling(ctx); err != nil {
		return err
	}
	db, err := sql.Open("mysql", cfg.MySQL)
	if err != nil {
		return err
	}
	defer db.Close()
	if v := ""; db.QueryRowContext(ctx, "SELECT VERSION()").Scan(&v) == nil {
		r.report.Machine.MySQL = v
	}
	for _, svc := range []string{"account", "challenge"} {
		name := r.dbName(svc)
		if !strings.HasPrefix(name, "po_bench") {
			return fmt.Errorf("refusing to drop %q: bench databases start with po_bench", name)
		}
		r.logf("recreating database %s", name)
		if _, err := db.ExecContext(ctx, "DROP DATABASE IF EXISTS `"+name+"`"); err != nil {
			return err
		}
		if _, err := db.ExecContext(ctx, "CREATE DATABASE `"+name+"` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"); err != nil {
			return err
		}
	}
	for _, p := range []string{cacheKeyPrefix, accountKeyPrefix, ceilingKeyPrefix} {
		if err := DeleteKeys(ctx, r.rdb, p); err != nil {
			return fmt.Errorf("clearing %s* in Redis: %w", p, err)
		}
	}
	if !r.needServices() {
		cdb, err := sql.Open("mysql", r.dsn("challenge")+"?parseTime=true&loc=UTC&multiStatements=false")
		if err != nil {
			return err
		}
		defer cdb.Close()
		r.logf("applying ent/challenge/migrations to %s (the services are not used)", r.dbName("challenge"))
		return ApplyUpMigrations(ctx, cdb, filepath.Join(cfg.Root, "ent", "challenge", "migrations"))
	}
	if err := EnsureVhost(ctx, cfg.AMQPURL); err != nil {
		return err
	}
	key := filepath.Join(cfg.Root, ".dev", "bench", "jwt-signing.pem")
	if _, err := os.Stat(key); err != nil {
		r.logf("generating a JWT signing key for the bench account service")
		if err := RunCmd(ctx, cfg.Root, nil, "go", "run", "./services/kit/auth/cmd/genkey", "-out", key); err != nil {
			return err
		}
	}
	for _, svc := range []string{"account", "challenge"} {
		r.logf("migrating %s", r.dbName(svc))
		if err := RunCmd(ctx, cfg.Root, r.serviceEnv(svc, false), filepath.Join(cfg.BinDir, svc), "migrate"); err != nil {
			return err
		}
	}
	for _, addr := range []string{cfg.AccountAddr, cfg.ChallengeAddr} {
		if err := PortFree(addr); err != nil {
			return err
		}
	}
	r.logf("starting the account service on %s", cfg.AccountAddr)
	r.account, err = StartProc("account", filepath.Join(cfg.BinDir, "account"), []string{"serve"}, r.serviceEnv("account", false), r.logPath("account"))
	if err != nil {
		return err
	}
	return WaitReady(ctx, r.account, r.accountURL()+"/readyz", 60*time.Second)
}

func (r *Runner) buildCeiling(ctx context.Context) error {
	if !r.cfg.Phases[PhaseCeilings] && !r.cfg.Phases[PhasePairs] {
		return nil
	}
	bin := filepath.Join(r.cfg.BinDir, "bench-ceiling")
	if r.cfg.Build {
		r.logf("building %s", bin)
		return RunCmd(ctx, r.cfg.Root, nil, "go", "build", "-trimpath", "-o", bin, "./hack/bench/cmd/ceiling")
	}
	_, err := os.Stat(bin)
	return err
}

func (r *Runner) logPath(name string) string {
	return filepath.Join(r.cfg.Root, ".dev", "bench", "logs", name+".log")
}

func (r *Runner) serviceEnv(svc string, cache bool) []string {
	cfg := r.cfg
	env := []string{
		"DATABASE_URL=" + r.dsn(svc),
		"REDIS_URL=" + cfg.RedisURL,
		"AMQP_URL=" + cfg.AMQPURL,
		"LOG_LEVEL=" + cfg.ServiceLogLevel,
		"LOG_FORMAT=json",
	}
	switch svc {
	case "account":
		env = append(env,
			"HTTP_ADDR="+cfg.AccountAddr,
			"JWT_SIGNING_KEY_FILE="+filepath.Join(cfg.Root, ".dev", "bench", "jwt-signing.pem"),
			"ACCESS_TOKEN_TTL=6h",
			"REDIS_KEY_PREFIX="+accountKeyPrefix,
		)
		if cfg.CheapHash {
			// Seeding only: thousands of sign-ups and logins at the default
			// argon2id cost would take minutes, and logins are not measured.
			env = append(env, "PASSWORD_HASH_MEMORY_KIB=1024", "PASSWORD_HASH_ITERATIONS=1")
		}
	case "challenge":
		env = append(env,
			"HTTP_ADDR="+cfg.ChallengeAddr,
			"JWKS_URL="+r.accountURL()+"/.well-known/jwks.json",
			"CACHE_ENABLED="+strconv.FormatBool(cache),
			"CACHE_KEY_PREFIX="+cacheKeyPrefix,
			// The near tier is opt-in (cross-replica staleness of the
			// propagation time); the benchmark measures it turned on.
			"CACHE_NEAR_SIZE_MB="+strconv.Itoa(nearSizeMB),
		)
		if r.prof != nil || cache {
			// The cached service is profiled under wrk when the pairs run.
			env = append(env, "DEBUG_ADDR="+cfg.DebugAddr)
		}
	}
	return append(env, cfg.ServiceEnv...)
}

// nearSizeMB is CACHE_NEAR_SIZE_MB for the benchmark's services.
const nearSizeMB = 16

func (r *Runner) startChallenge(ctx context.Context, cache bool) error {
	r.logf("starting the challenge service on %s with CACHE_ENABLED=%t", r.cfg.ChallengeAddr, cache)
	name := "challenge-nocache"
	if cache {
		name = "challenge-cache"
	}
	p, err := StartProc("challenge", filepath.Join(r.cfg.BinDir, "challenge"), []string{"serve"}, r.serviceEnv("challenge", cache), r.logPath(name))
	if err != nil {
		return err
	}
	r.challenge = p
	if cache {
		r.debug = "http://" + r.cfg.DebugAddr
	}
	return WaitReady(ctx, p, r.challengeURL()+"/readyz", 60*time.Second)
}

func (r *Runner) stopAll() {
	for _, p := range []*Proc{r.ceiling, r.challenge, r.account} {
		if p != nil {
			if err := p.Stop(20 * time.Second); err != nil {
				r.logf("%v", err)
			}
		}
	}
	r.ceiling, r.challenge, r.account = nil, nil, nil
}

func withParams(dsn, params string) string {
	if strings.Contains(dsn, "?") {
		return dsn + "&" + params
	}
	return dsn + "?" + params
}

// serviceVariant runs the phases against the challenge service in one
// configuration.
func (r *Runner) serviceVariant(ctx context.Context, variant string, cache bool) error {
	cfg := r.cfg
	if r.own() {
		if cache {
			if err := DeleteKeys(ctx, r.rdb, cacheKeyPrefix); err != nil {
				return err
			}
		}
		if err := r.startChallenge(ctx, cache); err != nil {
			return err
		}
		defer func() {
			if r.challenge != nil {
				_ = r.challenge.Stop(20 * time.Second)
				r.challenge, r.debug = nil, ""
			}
		}()
	}
	if err := r.sanityCheck(ctx); err != nil {
		return err
	}
	base := r.challengeURL()
	target := ReadTargeter(base, LogsPath, r.users, r.zipf)
	openPhase := (variant == VarUncached && cfg.Phases[PhaseUncached]) || (variant != VarUncached && cfg.Phases[PhaseCached]) || variant == VarTarget
	if openPhase {
		r.logf("\n[%s] open loop: %s/s for %s on GET /challenges/logs/{userId}", variant, FormatInt(int64(cfg.Rate)), cfg.Duration)
		seen := NewUserSet(len(r.users))
		profiled := r.prof.start(ctx, variant, cfg.Duration)
		res := r.measure(ctx, variant, true, r.serviceProcs(), func(ctx context.Context) Summary {
			return Run(ctx, r.attack(variant, cfg.Rate, cfg.Duration, cfg.Timeout, seen.Watch(target, r.users)))
		})
		profiled()
		res.CacheOff = !cache
		res.Users = seen.Count()
		r.addOpen(res)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err := r.alive("the open-loop phase of "+variant, r.account, r.challenge); err != nil {
			return err
		}
		if variant == VarCached {
			// The same load again on the caches the cold run left: the
			// steady state, where every miss is a TTL's or an eviction's,
			// not a user's first read.
			r.logf("\n[%s] open loop: %s/s for %s on GET /challenges/logs/{userId}", VarCachedWarm, FormatInt(int64(cfg.Rate)), cfg.Duration)
			warmSeen := NewUserSet(len(r.users))
			warmTarget := warmSeen.Watch(target, r.users)
			profiled := r.prof.start(ctx, VarCachedWarm, cfg.Duration)
			res := r.measure(ctx, VarCachedWarm, true, r.serviceProcs(), func(ctx context.Context) Summary {
				return Run(ctx, r.attack(VarCachedWarm, cfg.Rate, cfg.Duration, cfg.Timeout, warmTarget))
			})
			profiled()
			res.Users = warmSeen.Count()
			r.addOpen(res)
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if err := r.alive("the warm open-loop phase of "+variant, r.account, r.challenge); err != nil {
				return err
			}
		}
	}
	if cache && cfg.Phases[PhaseMixed] {
		r.settle(ctx, base+LogsPath(r.users[0].ID), r.users[0].Token, cfg.Bound/2)
		r.logf("\n[%s] mixed: %s/s for %s, %.0f%% writes, checking reads after writes", variant, FormatInt(int64(cfg.Rate)), cfg.Duration, 100*cfg.WriteFrac)
		chk := NewRAWChecker(r.users, cfg.PageSize)
		profiled := r.prof.start(ctx, "mixed "+variant, cfg.Duration)
		res := r.measure(ctx, "mixed ("+variant+")", true, r.serviceProcs(), func(ctx context.Context) Summary {
			a := r.attack("mixed", cfg.Rate, cfg.Duration, cfg.Timeout, MixedTargeter(base, r.users, r.zipf, cfg.WriteFrac, cfg.Seed+7, chk.Pool))
			a.KeepBody, a.OnResult = true, chk.OnResult
			return Run(ctx, a)
		})
		profiled()
		res.Mixed = chk.Stats()
		for _, e := range res.Mixed.Examples {
			r.logf("  stale read: %s", e)
		}
		r.mixed.Results = append(r.mixed.Results, res)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err := r.alive("the mixed phase of "+variant, r.account, r.challenge); err != nil {
			return err
		}
	}
	if cache && cfg.Phases[PhasePairs] {
		r.settle(ctx, base+LogsPath(r.users[0].ID), r.users[0].Token, cfg.Bound/2)
		if err := r.servicePairs(ctx, variant); err != nil {
			return err
		}
		r.profileHotRead(ctx, variant)
		if err := r.alive("the pairs of "+variant, r.account, r.challenge, r.ceiling); err != nil {
			return err
		}
	}
	if cache && cfg.Phases[PhaseReplicas] && r.own() {
		r.settle(ctx, base+LogsPath(r.users[0].ID), r.users[0].Token, cfg.Bound/2)
		if err := r.replicaPhase(ctx, variant); err != nil {
			return err
		}
	}
	if cache && cfg.Phases[PhaseGroups] && r.own() {
		if err := r.groupsPhase(ctx, variant); err != nil {
			return err
		}
	}
	if cfg.Phases[PhaseSearch] {
		r.settle(ctx, base+LogsPath(r.users[0].ID), r.users[0].Token, cfg.Bound/2)
		r.search(ctx, variant, base, "/challenges/logs/", "", r.serviceProcs())
		if err := r.alive("the closed-loop search of "+variant, r.account, r.challenge); err != nil {
			return err
		}
	}
	return ctx.Err()
}

// sanityCheck fetches one page the way the attack will, and keeps it as the
// ceilings' body.
func (r *Runner) sanityCheck(ctx context.Context) error {
	u := r.users[r.zipf.Rank(0)]
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, r.challengeURL()+LogsPath(u.ID), nil)
	req.Header.Set("Authorization", "Bearer "+u.Token)
	resp, err := r.api.HTTP.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %d %s", LogsPath(u.ID), resp.StatusCode, strings.TrimSpace(string(b)))
	}
	if r.samplePage == nil {
		r.samplePage = b
		r.logf("a logs page is %s bytes", FormatInt(int64(len(b))))
	}
	return nil
}

// DeleteKeys removes every key starting with prefix.
func DeleteKeys(ctx context.Context, rdb *redis.Client, prefix string) error {
	iter := rdb.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	var batch []string
	for iter.Next(ctx) {
		batch = append(batch, iter.Val())
		if len(batch) == 500 {
			if err := rdb.Unlink(ctx, batch...).Err(); err != nil {
				return err
			}
			batch = batch[:0]
		}
	}
	if err := iter.Err(); err != nil {
		return err
	}
	if len(batch) > 0 {
		return rdb.Unlink(ctx, batch...).Err()
	}
	return nil
}
