package bench

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	_ "github.com/go-sql-driver/mysql" // database/sql driver
	"github.com/redis/go-redis/v9"
	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/progressive-overload/po/hack/bench/ceiling"
)

// Config is a run's settings (the bench command's flags).
type Config struct {
	Root     string // repository root
	Phases   map[string]bool
	Rate     float64
	Duration time.Duration
	Timeout  time.Duration // per request in fixed-rate phases
	Bound    time.Duration // p99 bound of the closed-loop search
	// Closed-loop search.
	SearchStart    float64
	SearchMaxRate  float64
	SearchStep     time.Duration
	SearchMaxSteps int
	SearchPrec     float64
	SearchTimeout  time.Duration
	SearchRetries  int
	// Data.
	Users, Challenges, Logs int
	ZipfS                   float64
	Seed                    uint64
	SeedConcurrency         int
	SeedMode                string // sql | api
	WriteFrac               float64
	PageSize                int
	MaxWorkers              uint64
	// The system.
	Target          string // challenge base URL of a running system; "" = start our own
	AccountURL      string // with Target
	ChallengeDSN    string // with Target: lets the ceiling's MySQL handler and SQL seeding reach its database
	MySQL           string // server DSN without database, e.g. root@tcp(127.0.0.1:3306)/
	DBPrefix        string
	RedisURL        string
	AMQPURL         string // vhost is created when missing
	AccountAddr     string
	ChallengeAddr   string
	CeilingAddr     string
	BinDir          string
	Build           bool
	ServiceLogLevel string
	ServiceEnv      []string
	CheapHash       bool
	// CeilingInterpolate has the MySQL ceiling send each query in one round
	// trip (interpolateParams) rather than prepare, execute and close.
	CeilingInterpolate bool
	// ProfileDir, when set, gives the bench challenge service DEBUG_ADDR=DebugAddr
	// and keeps a CPU and a heap profile of it per fixed-rate phase there.
	ProfileDir string
	DebugAddr  string
	// Output.
	Doc       string // docs/benchmarks.md; "" = do not write
	ImgDir    string // docs/img
	Command   string
	Out       io.Writer // progress and tables
	TTY       bool
	KeepGoing bool
}

// Phase names (the -phases flag).
const (
	PhaseUncached = "uncached"
	PhaseCached   = "cached"
	PhaseCeilings = "ceilings"
	PhaseMixed    = "mixed"
	PhaseSearch   = "search"
)

// Variant names in the tables.
const (
	VarUncached = "no cache"
	VarCached   = "cache"
	VarTarget   = "target"
	VarFixed    = "ceiling: fixed body"
	VarRedis    = "ceiling: bare Redis GET"
	VarMySQL    = "ceiling: bare MySQL query"
)

// Runner carries out a run.
type Runner struct {
	cfg        Config
	out        io.Writer
	rdb        *redis.Client
	api        *APIClient
	users      []*User
	zipf       *Zipf
	account    *Proc
	challenge  *Proc
	ceiling    *Proc
	samplePage []byte
	report     Report
	open       Phase
	mixed      Phase
	prof       *profiler
}

// NewRunner prepares a run.
func NewRunner(cfg Config) *Runner {
	out := cfg.Out
	if out == nil {
		out = io.Discard
	}
	r := &Runner{cfg: cfg, out: out, api: NewAPIClient(max(cfg.SeedConcurrency, 8))}
	if cfg.ProfileDir != "" && cfg.Target == "" {
		r.prof = &profiler{dir: cfg.ProfileDir, base: "http://" + cfg.DebugAddr, logf: r.logf}
	}
	return r
}

func (r *Runner) logf(format string, args ...any) {
	fmt.Fprintf(r.out, format+"\n", args...)
}

func (r *Runner) own() bool { return r.cfg.Target == "" }

func (r *Runner) needServices() bool {
	p := r.cfg.Phases
	return p[PhaseUncached] || p[PhaseCached] || p[PhaseMixed]
}

func (r *Runner) dbName(svc string) string { return r.cfg.DBPrefix + svc }

func (r *Runner) dsn(svc string) string { return r.cfg.MySQL + r.dbName(svc) }

func (r *Runner) accountURL() string {
	if r.own() {
		return "http://" + r.cfg.AccountAddr
	}
	return strings.TrimRight(r.cfg.AccountURL, "/")
}

func (r *Runner) challengeURL() string {
	if r.own() {
		return "http://" + r.cfg.ChallengeAddr
	}
	return strings.TrimRight(r.cfg.Target, "/")
}

func (r *Runner) ceilingURL() string { return "http://" + r.cfg.CeilingAddr }

const (
	cacheKeyPrefix   = "po:bench:challenge:"
	accountKeyPrefix = "po:bench:account:"
	ceilingKeyPrefix = "po:bench:ceiling:"
)

// Run carries out every selected phase and returns the report. When ctx is
// cancelled it stops the current phase, stops what it started and returns
// what it measured so far together with ctx's error.
func (r *Runner) Run(ctx context.Context) (rep Report, err error) {
	cfg := r.cfg
	r.report = Report{Started: time.Now(), Command: cfg.Command, Machine: DescribeMachine()}
	r.report.Config = r.configRows()
	opts, err := redis.ParseURL(cfg.RedisURL)
	if err != nil {
		return r.report, fmt.Errorf("redis url: %w", err)
	}
	r.rdb = redis.NewClient(opts)
	defer r.rdb.Close()
	if v, err := r.rdb.Info(ctx, "server").Result(); err == nil {
		r.report.Machine.Redis = ParseRedisInfo(v)["redis_version"]
	}
	defer func() {
		r.stopAll()
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = DeleteKeys(cctx, r.rdb, ceilingKeyPrefix)
		r.report.Elapsed = time.Since(r.report.Started)
		r.finish()
		rep = r.report
	}()

	if err := r.prepare(ctx); err != nil {
		return r.report, err
	}
	if err := r.seed(ctx); err != nil {
		return r.report, fmt.Errorf("seeding: %w", err)
	}
	r.zipf, err = NewZipf(len(r.users), cfg.ZipfS, cfg.Seed)
	if err != nil {
		return r.report, err
	}
	if r.own() {
		if cfg.Phases[PhaseUncached] {
			if err := r.survive(r.serviceVariant(ctx, VarUncached, false)); err != nil {
				return r.report, err
			}
		}
		if cfg.Phases[PhaseCached] || cfg.Phases[PhaseMixed] {
			if err := r.survive(r.serviceVariant(ctx, VarCached, true)); err != nil {
				return r.report, err
			}
		}
	} else if r.needServices() {
		if err := r.survive(r.serviceVariant(ctx, VarTarget, true)); err != nil {
			return r.report, err
		}
	}
	if cfg.Phases[PhaseCeilings] {
		if err := r.survive(r.ceilings(ctx)); err != nil {
			return r.report, err
		}
	}
	return r.report, ctx.Err()
}

func (r *Runner) configRows() [][2]string {
	c := r.cfg
	var phases []string
	for _, p := range []string{PhaseUncached, PhaseCached, PhaseCeilings, PhaseMixed, PhaseSearch} {
		if c.Phases[p] {
			phases = append(phases, p)
		}
	}
	system := "started by the tool: bench databases " + r.dbName("account") + " and " + r.dbName("challenge") + ", services on " + c.AccountAddr + " and " + c.ChallengeAddr
	if !r.own() {
		system = "already running at " + c.Target
	}
	rows := [][2]string{
		{"phases", strings.Join(phases, ", ")},
		{"fixed rate", fmt.Sprintf("%s/s for %s per variant (open loop)", FormatInt(int64(c.Rate)), c.Duration)},
		{"endpoint", "`GET /challenges/logs/{userId}` with the user's bearer token; users drawn from a Zipf distribution (s = " + strconv.FormatFloat(c.ZipfS, 'g', -1, 64) + ", v = 1)"},
		{"data", fmt.Sprintf("%s users × %d challenges × %d logs = %s logs (seeded via %s)", FormatInt(int64(c.Users)), c.Challenges, c.Logs, FormatInt(int64(c.Users*c.Challenges*c.Logs)), c.SeedMode)},
	}
	if c.Phases[PhaseMixed] {
		rows = append(rows, [2]string{"mixed phase", fmt.Sprintf("%.0f%% reads, %.0f%% writes (`POST /challenges/{id}/logs`) at the same rate", 100*(1-c.WriteFrac), 100*c.WriteFrac)})
	}
	if c.Phases[PhaseSearch] {
		rows = append(rows, [2]string{"closed-loop search", fmt.Sprintf("p99 < %s, ≥ 99.9%% success; steps of %s, from %s/s, at most %d rates, a failing step tried %d more time(s)", FormatDuration(c.Bound), c.SearchStep, FormatInt(int64(c.SearchStart)), c.SearchMaxSteps, c.SearchRetries)})
	}
	rows = append(rows, [2]string{"load generator", fmt.Sprintf("vegeta (Go net/http client), at most %s connections, in the same process as the tool", FormatInt(int64(c.MaxWorkers)))})
	return append(rows, [2]string{"system", system})
}

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
	if !r.cfg.Phases[PhaseCeilings] {
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
		)
		if r.prof != nil {
			env = append(env, "DEBUG_ADDR="+cfg.DebugAddr)
		}
	}
	return append(env, cfg.ServiceEnv...)
}

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

// seed creates the users (and their tokens) and the challenges and logs.
func (r *Runner) seed(ctx context.Context) error {
	cfg := r.cfg
	spec := SeedSpec{Users: cfg.Users, Challenges: cfg.Challenges, Logs: cfg.Logs, Concurrency: cfg.SeedConcurrency,
		Password: "bench-password-not-secret", EmailTag: strconv.FormatInt(time.Now().Unix(), 36), Progress: r.out}
	if r.own() {
		spec.EmailTag = "u"
	}
	if !r.needServices() && r.own() {
		// Ceilings only: no account service, so users are just ids.
		r.users = make([]*User, cfg.Users)
		for i := range r.users {
			r.users[i] = &User{ID: int64(i + 1), Token: "none"}
		}
	} else {
		r.logf("seeding %s users through the account service (signup, then one login each; %d at once)", FormatInt(int64(cfg.Users)), cfg.SeedConcurrency)
		users, su, li, err := SignupAndLogin(ctx, r.api, r.accountURL(), spec)
		if err != nil {
			return err
		}
		r.users = users
		r.report.Notes = append(r.report.Notes, fmt.Sprintf("seeding: %s sign-ups took %s, %s logins %s (%d at once%s)",
			FormatInt(int64(cfg.Users)), su.Round(100*time.Millisecond), FormatInt(int64(cfg.Users)), li.Round(100*time.Millisecond), cfg.SeedConcurrency, cheapNote(cfg.CheapHash && r.own())))
	}
	t0 := time.Now()
	switch {
	case cfg.SeedMode == "sql" && (r.own() || cfg.ChallengeDSN != ""):
		dsn := r.dsn("challenge")
		if !r.own() {
			dsn = cfg.ChallengeDSN
		}
		db, err := sql.Open("mysql", withParams(dsn, "parseTime=true&loc=UTC"))
		if err != nil {
			return err
		}
		defer db.Close()
		r.logf("seeding challenges and logs straight into the challenge database")
		if err := SeedSQL(ctx, db, r.users, spec); err != nil {
			return err
		}
	default:
		if !r.needServices() {
			return errors.New("API seeding needs the services")
		}
		if r.own() {
			if err := r.startChallenge(ctx, false); err != nil {
				return err
			}
			defer func() { _ = r.challenge.Stop(20 * time.Second); r.challenge = nil }()
		}
		r.logf("seeding challenges and logs through the challenge service's API")
		if err := SeedAPI(ctx, r.api, r.challengeURL(), r.users, spec); err != nil {
			return err
		}
	}
	r.report.Notes = append(r.report.Notes, fmt.Sprintf("seeding: challenges and logs (%s, %s) took %s",
		FormatInt(int64(cfg.Users*cfg.Challenges)), FormatInt(int64(cfg.Users*cfg.Challenges*cfg.Logs)), time.Since(t0).Round(100*time.Millisecond)))
	return nil
}

func cheapNote(cheap bool) string {
	if cheap {
		return "; the bench account service hashes with argon2id m=1 MiB, t=1 so seeding stays quick: logins are not what is measured"
	}
	return ""
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
				r.challenge = nil
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
		profiled := r.prof.start(ctx, variant, cfg.Duration)
		res := r.measure(ctx, variant, true, r.serviceProcs(), func(ctx context.Context) Summary {
			return Run(ctx, r.attack(variant, cfg.Rate, cfg.Duration, cfg.Timeout, target))
		})
		profiled()
		res.CacheOff = !cache
		r.addOpen(res)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err := r.alive("the open-loop phase of "+variant, r.account, r.challenge); err != nil {
			return err
		}
	}
	if cache && cfg.Phases[PhaseMixed] {
		r.settle(ctx, base+LogsPath(r.users[0].ID), r.users[0].Token, cfg.Bound/2)
		r.logf("\n[%s] mixed: %s/s for %s, %.0f%% writes, checking reads after writes", variant, FormatInt(int64(cfg.Rate)), cfg.Duration, 100*cfg.WriteFrac)
		chk := NewRAWChecker(r.users, cfg.PageSize)
		profiled := r.prof.start(ctx, "mixed "+variant, cfg.Duration)
		res := r.measure(ctx, "mixed ("+variant+")", true, r.serviceProcs(), func(ctx context.Context) Summary {
			a := r.attack("mixed", cfg.Rate, cfg.Duration, cfg.Timeout, MixedTargeter(base, r.users, r.zipf, cfg.WriteFrac, cfg.Seed+7))
			a.KeepBody, a.OnResult = true, chk.OnResult
			return Run(ctx, a)
		})
		profiled()
		checks, viol, ex := CheckReadAfterWrite(chk.Writes, chk.Reads)
		res.Mixed = &MixedStats{Reads: chk.Reads2xx.Summary(0), Writes: chk.Writes2xx.Summary(0), Checks: checks, Violations: viol, Examples: ex}
		for _, e := range ex {
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
	if cfg.Phases[PhaseSearch] {
		r.settle(ctx, base+LogsPath(r.users[0].ID), r.users[0].Token, cfg.Bound/2)
		r.search(ctx, variant, base, LogsPath, r.serviceProcs())
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
	s, err := r.rdb.Info(ctx, "stats").Result()
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

// search runs the closed-loop search for one variant.
func (r *Runner) search(ctx context.Context, variant, base string, path func(int64) string, procs map[string]int) {
	cfg := r.cfg
	r.logf("\n[%s] closed loop: highest rate with p99 < %s", variant, FormatDuration(cfg.Bound))
	o := SearchOptions{Bound: cfg.Bound, Start: cfg.SearchStart, MaxRate: cfg.SearchMaxRate, Step: cfg.SearchStep,
		MaxSteps: cfg.SearchMaxSteps, Precision: cfg.SearchPrec, MinSuccess: 99.9, Pause: time.Second, Retries: cfg.SearchRetries, Log: r.out}
	o.Settle = func(ctx context.Context) { r.settle(ctx, base+path(r.users[0].ID), r.users[0].Token, cfg.Bound/2) }
	target := ReadTargeter(base, path, r.users, r.zipf)
	w := WatchProcs(ctx, procs)
	s := SearchMax(ctx, variant, o, func(ctx context.Context, rate float64) Summary {
		a := r.attack(variant, rate, cfg.SearchStep, cfg.SearchTimeout, target)
		// A step that is clearly lost is cut short: it would only pile up
		// work (and connections) the next step pays for.
		a.Abandon = func(p99 time.Duration, okPct float64) bool { return p99 > 10*cfg.Bound || okPct < 50 }
		return Run(ctx, a)
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

// ceilings measures the three handlers of the minimal Fiber program.
func (r *Runner) ceilings(ctx context.Context) error {
	cfg := r.cfg
	body := r.samplePage
	if body == nil {
		body = ceiling.SamplePage(r.users[0].ID, cfg.PageSize)
		r.logf("no real logs page fetched: the ceilings use a synthetic page of %d logs (%s bytes)", cfg.PageSize, FormatInt(int64(len(body))))
	}
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
	mysqlDSN := r.dsn("challenge")
	if !r.own() {
		mysqlDSN = cfg.ChallengeDSN
	}
	if mysqlDSN != "" {
		args = append(args, "-mysql", mysqlDSN, "-interpolate="+strconv.FormatBool(cfg.CeilingInterpolate))
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
	defer func() { _ = p.Stop(10 * time.Second); r.ceiling = nil }()
	if err := WaitReady(ctx, p, r.ceilingURL()+"/healthz", 30*time.Second); err != nil {
		return err
	}
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
			r.search(ctx, k.variant, r.ceilingURL(), CeilingPath(k.kind), r.ceilingProcs())
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

// finish orders the phases and computes the checks.
func (r *Runner) finish() {
	cfg := r.cfg
	r.open.Title = fmt.Sprintf("Open loop: %s requests/s for %s", FormatInt(int64(cfg.Rate)), cfg.Duration)
	r.open.About = "The original's experiment: a fixed arrival rate whatever the latency (vegeta adds connections when answers are slow), every user's first page, users drawn from the Zipf distribution. The cache variant starts cold, like the original's. Ceilings answer the same paths and payload without authentication, metrics or logging."
	r.mixed.Title = fmt.Sprintf("Mixed: %.0f%% reads, %.0f%% writes at %s/s for %s", 100*(1-cfg.WriteFrac), 100*cfg.WriteFrac, FormatInt(int64(cfg.Rate)), cfg.Duration)
	r.mixed.About = "Writes add a log (performedAt: now) to one of the drawn user's challenges. Every read is checked against each write of its user that completed before the read was sent: the write must be on the page, unless the page is full and the write sorts after its last entry (newer logs pushed it to the next page)."
	r.report.Phases = nil
	if len(r.open.Results) > 0 {
		r.report.Phases = append(r.report.Phases, r.open)
	}
	if len(r.mixed.Results) > 0 {
		r.report.Phases = append(r.report.Phases, r.mixed)
	}
	r.report.Checks = Checks(r.report, cfg.Rate)
}

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

// DescribeMachine reads the CPU, memory and kernel of this machine.
func DescribeMachine() Machine {
	m := Machine{Cores: runtime.NumCPU(), Go: runtime.Version(), CPU: "unknown CPU"}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && k == "MemTotal" {
				f := strings.Fields(v)
				if len(f) > 0 {
					kib, _ := strconv.ParseFloat(f[0], 64)
					m.MemoryGiB = kib / (1 << 20)
				}
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = "Linux " + strings.TrimSpace(string(b))
	}
	return m
}
