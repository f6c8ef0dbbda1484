package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	_ "github.com/go-sql-driver/mysql" // database/sql driver
	"github.com/redis/go-redis/v9"
)

// Config is a run's settings (the bench command's flags).
type Config struct {
	Root     string // repository root
	Phases   map[string]bool
	Rate     float64
	Duration time.Duration
	Timeout  time.Duration // per request in fixed-rate phases
	Bound    time.Duration // p99 bound of the closed-loop search
	// Closed loop (wrk): the search, the interleaved pairs, the profile.
	WrkThreads     int
	WrkConns       int // connections of the pairs and the profiled run
	Pairs          int // rounds of each interleaved pair
	PairDuration   time.Duration
	ProfileFor     time.Duration // profiled wrk run of the cached hot read
	SearchStart    int           // connections
	SearchMaxConns int
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
	// The groups phase: how many groups, their sizes' range and the Zipf
	// exponent of the sizes (P(size = k) ∝ k^-GroupZipf).
	Groups             int
	GroupMin, GroupMax int
	GroupZipf          float64
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
	ChallengeAddr2  string // the second replica of the replicas phase
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
	PhasePairs    = "pairs"
	PhaseReplicas = "replicas"
	PhaseGroups   = "groups"
)

// AllPhases in the order of the -phases flag's help.
var AllPhases = []string{PhaseUncached, PhaseCached, PhaseCeilings, PhaseMixed, PhasePairs, PhaseReplicas, PhaseGroups, PhaseSearch}

// Variant names in the tables.
const (
	VarUncached = "no cache"
	VarCached   = "cache"
	// VarCachedWarm is the cached service's second fixed-rate run, on the
	// caches its first (cold, like the original's) run left.
	VarCachedWarm = "cache, warm"
	VarTarget     = "target"
	VarFixed      = "ceiling: fixed body"
	VarRedis      = "ceiling: bare Redis GET"
	VarMySQL      = "ceiling: bare MySQL query"
	VarLimit10    = "cache, ?limit=10"
)

// Runner carries out a run.
type Runner struct {
	cfg         Config
	out         io.Writer
	rdb         *redis.Client
	api         *APIClient
	users       []*User
	zipf        *Zipf
	account     *Proc
	challenge   *Proc
	ceiling     *Proc
	samplePage  []byte
	ceilingBody []byte
	report      Report
	open        Phase
	mixed       Phase
	replicas    Phase
	groups      Phase
	groupSet    *GroupSet // the groups phase's groups, once seeded
	prof        *profiler
	// The closed loop: wrk, the run's temporary directory with its inputs,
	// and the scripts written so far (by path prefix and suffix).
	wrkBin   string
	tmp      string
	wrkFiles WrkFiles
	scripts  map[string]string
	debug    string // the cached challenge service's DEBUG_ADDR base URL
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
	return p[PhaseUncached] || p[PhaseCached] || p[PhaseMixed] || p[PhasePairs] || p[PhaseReplicas] || p[PhaseGroups]
}

func (r *Runner) needWrk() bool {
	p := r.cfg.Phases
	return p[PhaseSearch] || p[PhasePairs]
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

	if r.tmp, err = os.MkdirTemp("", "po-bench-*"); err != nil {
		return r.report, err
	}
	defer os.RemoveAll(r.tmp)
	if r.needWrk() {
		if r.wrkBin, err = EnsureDebianPackage(ctx, "wrk", "wrk", "/usr/bin/wrk", r.logf); err != nil {
			return r.report, err
		}
	}
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
	if r.needWrk() {
		// 2^17 draws: the sequence every wrk thread walks repeats every few
		// seconds at the highest rates, with the distribution intact.
		if r.wrkFiles, err = WriteWrkFiles(r.tmp, r.users, r.zipf, 1<<17); err != nil {
			return r.report, err
		}
	}
	if r.own() {
		if cfg.Phases[PhaseUncached] {
			if err := r.survive(r.serviceVariant(ctx, VarUncached, false)); err != nil {
				return r.report, err
			}
		}
		if cfg.Phases[PhaseCached] || cfg.Phases[PhaseMixed] || cfg.Phases[PhasePairs] || cfg.Phases[PhaseReplicas] || cfg.Phases[PhaseGroups] {
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
	for _, p := range AllPhases {
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
		rows = append(rows, [2]string{"mixed phase", fmt.Sprintf("%.0f%% reads, %.0f%% writes at the same rate (`POST /challenges/{id}/logs`; %.0f%% of them, once the user has a log the phase wrote, `PATCH` or `DELETE /challenges/{id}/logs/{logId}` of it)", 100*(1-c.WriteFrac), 100*c.WriteFrac, 100*CorrectionShare)})
	}
	if c.Phases[PhaseGroups] {
		rows = append(rows, [2]string{"groups phase", fmt.Sprintf("%d groups of %d–%d participants (P(size = k) ∝ k^-%g), drawn from the users, created through the API, each participation with 0–%d logs (SQL); %.0f%% leaderboard reads (`GET /challenges/groups/{groupId}/leaderboard`, first page, by a participant), %.0f%% writes (`POST /challenges/{id}/logs` on the writer's participation), each by a participation drawn uniformly, at the same rate",
			c.Groups, c.GroupMin, c.GroupMax, c.GroupZipf, c.Logs, 100*(1-c.WriteFrac), 100*c.WriteFrac)})
	}
	if c.Phases[PhaseSearch] {
		rows = append(rows, [2]string{"closed-loop search", fmt.Sprintf("wrk, p99 < %s, ≥ 99.9%% success; steps of %s from %d connections (doubling, then bisecting; at most %d), at most %d steps, a failing step tried %d more time(s)", FormatDuration(c.Bound), c.SearchStep, c.SearchStart, c.SearchMaxConns, c.SearchMaxSteps, c.SearchRetries)})
	}
	if c.Phases[PhasePairs] {
		rows = append(rows, [2]string{"interleaved pairs", fmt.Sprintf("wrk, %d connections, %s per run, %d rounds of A then B", c.WrkConns, c.PairDuration, c.Pairs)})
	}
	if c.Phases[PhaseReplicas] {
		rows = append(rows, [2]string{"replicas phase", fmt.Sprintf("two challenge services (%s, %s) on one database and one Redis prefix; reads alternate between them, writes go to the first", c.ChallengeAddr, c.ChallengeAddr2)})
	}
	rows = append(rows, [2]string{"load generators", fmt.Sprintf("open loop (fixed rate): vegeta (Go net/http client) in the tool's own process, at most %s connections; closed loop (search, pairs): wrk %d thread(s), a separate process; users and tokens from a generated Lua script", FormatInt(int64(c.MaxWorkers)), c.WrkThreads)})
	return append(rows, [2]string{"system", system})
}

// finish orders the phases and computes the checks.
func (r *Runner) finish() {
	cfg := r.cfg
	r.open.Title = fmt.Sprintf("Open loop: %s requests/s for %s", FormatInt(int64(cfg.Rate)), cfg.Duration)
	r.open.About = "The original's experiment: a fixed arrival rate whatever the latency (vegeta adds connections when answers are slow), every user's first page, users drawn from the Zipf distribution. The cache variant starts cold, like the original's: its first read of each user is a miss by construction, so its hit ratio cannot exceed 1 − users read / requests, and those misses (MySQL reads) are more than 1% of the requests, so they set its p99. `cache, warm` repeats the run right after, on the caches the cold run left: the steady state. Ceilings answer the same paths and payload without authentication, metrics or logging."
	r.mixed.Title = fmt.Sprintf("Mixed: %.0f%% reads, %.0f%% writes at %s/s for %s", 100*(1-cfg.WriteFrac), 100*cfg.WriteFrac, FormatInt(int64(cfg.Rate)), cfg.Duration)
	r.mixed.About = "Writes add a log (performedAt: now) to one of the drawn user's challenges or, for " + fmt.Sprintf("%.0f%%", 100*CorrectionShare) + " of them, correct a log the phase wrote earlier (each at most once): half PATCH its value, half DELETE it. Every read is checked against each write of its user that completed before the read was sent: the write must be on the page, unless the page is full and the write sorts after its last entry (newer logs pushed it to the next page), or a DELETE of it was sent before the read. And against each correction that completed before it: a deleted log must not be on the page, a corrected one on the page must show its new value."
	r.report.Phases = nil
	if len(r.open.Results) > 0 {
		r.report.Phases = append(r.report.Phases, r.open)
	}
	if len(r.mixed.Results) > 0 {
		r.report.Phases = append(r.report.Phases, r.mixed)
	}
	r.replicas.Title = fmt.Sprintf("Two replicas: %.0f%% reads through both, %.0f%% writes through the first, at %s/s for %s", 100*(1-cfg.WriteFrac), 100*cfg.WriteFrac, FormatInt(int64(cfg.Rate)), cfg.Duration)
	r.replicas.About = "Two challenge services share the database and the Redis prefix; each has its near tier (L1) in front of Redis (L2). Reads alternate between them, writes go to the first, so the second sees them only through the invalidation channel. Reads through the writer must include its earlier writes; reads through the other replica may miss a write only while its invalidation is on the way. A probe meanwhile reads a user on the second replica, writes on the first and polls the second until the write shows: the propagation time as a client sees it."
	if len(r.replicas.Results) > 0 {
		r.report.Phases = append(r.report.Phases, r.replicas)
	}
	r.groups.Title = fmt.Sprintf("Groups: leaderboard reads, %.0f%% log writes, at %s/s for %s", 100*cfg.WriteFrac, FormatInt(int64(cfg.Rate)), cfg.Duration)
	r.groups.About = "Groups of Zipf-distributed sizes, created through the API like any owner and participants would (an invite, then joins, validated by the account service), their participations' logs seeded in MySQL, so each board is built from MySQL on its first read (the rebuilds). Each request is a participation drawn uniformly: a read of its group's first page with its user's token, or a new log (performedAt: now) on its own challenge. Every entry of every read (the page and the caller's `you`) is checked against its participant's seeded logs and each of their writes that completed before the read was sent, counted one by one: its volume at least the seeded volume plus each such write's sets × reps × value, its sessions one more than the seeded days once a write landed, its reach time no earlier than the newest such write; and its volume at most what the seeded logs and the writes sent before the answer (not refused) add up to. The table compares the boards' latency, by group size, with the cached hot read (`GET /challenges/logs/{userId}`) at the same rate. The ranking counters (rebuilds, reads by source) are counted from just before the phase's first read, the few reads that wait for the service to settle included."
	if len(r.groups.Results) > 0 {
		r.report.Phases = append(r.report.Phases, r.groups)
	}
	r.report.Checks = Checks(r.report, cfg.Rate)
}
