// Command bench reproduces the original system's cache experiment on ours
// and finds each variant's limits (issue 6); `make bench` runs it.
//
// By default it builds the services, migrates them into dedicated databases
// (po_bench_account, po_bench_challenge: never a developer's), starts them
// on their own ports, seeds users (through signup and login), challenges and
// logs, and attacks GET /challenges/logs/{userId} at a fixed rate without
// the cache, then with it (vegeta); runs the ceilings (hack/bench/ceiling), a
// mixed read/write phase, interleaved wrk pairs (the hot read against the
// fixed-body ceiling, ?limit=10 against the default page), two replicas
// sharing the cache, group challenges' leaderboards read by their
// participants while they log (read after write checked, latency by group
// size beside the cached hot read's), and a closed-loop wrk search for the
// highest throughput under a p99 bound; prints the tables and writes
// docs/benchmarks.md and charts. wrk is Debian's package, installed when
// missing (as root).
//
//	go run ./hack/bench/cmd/bench -quick            # a few seconds per phase
//	go run ./hack/bench/cmd/bench -target http://127.0.0.1:3001 -account-url http://127.0.0.1:3000
//
// Ctrl-C stops the current phase, stops what the tool started and prints
// what was measured.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/progressive-overload/po/hack/bench"
	"github.com/progressive-overload/po/hack/reporoot"
)

func main() {
	os.Exit(run())
}

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }

func run() int {
	var cfg bench.Config
	var phases string
	var serviceEnv listFlag
	quick := flag.Bool("quick", false, "smoke run: a few seconds per phase and a small data set (explicit flags still win)")
	flag.StringVar(&phases, "phases", strings.Join(bench.AllPhases, ","), "phases to run: "+strings.Join(bench.AllPhases, ", "))
	flag.Float64Var(&cfg.Rate, "rate", 3000, "fixed rate of the open-loop and mixed phases (requests/s)")
	flag.DurationVar(&cfg.Duration, "duration", 20*time.Second, "length of each open-loop and mixed phase")
	flag.DurationVar(&cfg.Timeout, "timeout", 10*time.Second, "per-request timeout in the fixed-rate phases")
	flag.DurationVar(&cfg.Bound, "p99", 50*time.Millisecond, "p99 bound of the closed-loop search")
	flag.IntVar(&cfg.WrkThreads, "wrk-threads", 2, "threads of wrk, the closed-loop load generator")
	flag.IntVar(&cfg.WrkConns, "wrk-conns", 64, "connections of wrk in the interleaved pairs and the profiled run")
	flag.IntVar(&cfg.Pairs, "pairs", 5, "rounds of each interleaved pair (A, B, A, B …)")
	flag.DurationVar(&cfg.PairDuration, "pair-duration", 5*time.Second, "length of each run of a pair")
	flag.DurationVar(&cfg.ProfileFor, "profile-seconds", 5*time.Second, "CPU profile of the cached hot read under wrk, for the report's top functions (0: none)")
	flag.IntVar(&cfg.SearchStart, "search-start", 8, "connections of the closed-loop search's first step")
	flag.IntVar(&cfg.SearchMaxConns, "search-max", 1024, "most connections the search tries")
	flag.DurationVar(&cfg.SearchStep, "search-step", 5*time.Second, "length of each search step")
	flag.IntVar(&cfg.SearchMaxSteps, "search-steps", 10, "most steps per variant")
	flag.Float64Var(&cfg.SearchPrec, "search-precision", 0.1, "stop when the failing rate is within this fraction of the passing one")
	flag.DurationVar(&cfg.SearchTimeout, "search-timeout", 2*time.Second, "per-request timeout in search steps")
	flag.IntVar(&cfg.SearchRetries, "search-retries", 1, "times a failing search step is tried again before it counts")
	flag.IntVar(&cfg.Users, "users", 2000, "users to seed")
	flag.IntVar(&cfg.Challenges, "challenges", 3, "challenges per user")
	flag.IntVar(&cfg.Logs, "logs", 20, "logs per challenge")
	flag.Float64Var(&cfg.ZipfS, "zipf", 1.1, "Zipf exponent s (> 1) of the user distribution")
	flag.Uint64Var(&cfg.Seed, "seed", 42, "random seed")
	flag.IntVar(&cfg.SeedConcurrency, "seed-concurrency", 16, "signups, logins and API writes in flight while seeding")
	flag.StringVar(&cfg.SeedMode, "seed-mode", "sql", "sql: challenges and logs straight into the challenge database; api: through the service")
	flag.Float64Var(&cfg.WriteFrac, "write-fraction", 0.1, "share of writes in the mixed phase")
	flag.IntVar(&cfg.Groups, "groups", 200, "groups of the groups phase")
	flag.IntVar(&cfg.GroupMin, "group-min", 5, "fewest participants of a group (the owner included)")
	flag.IntVar(&cfg.GroupMax, "group-max", 500, "most participants of a group (at most -users)")
	flag.Float64Var(&cfg.GroupZipf, "group-zipf", 2, "exponent s of the group sizes' distribution, P(size = k) ∝ k^-s")
	flag.IntVar(&cfg.PageSize, "page-size", 20, "rows of a logs page (the service's default limit)")
	flag.Uint64Var(&cfg.MaxWorkers, "max-workers", 4096, "most concurrent requests (connections) of the load generator")
	flag.StringVar(&cfg.Target, "target", "", "challenge service URL of an already running system (default: start our own)")
	flag.StringVar(&cfg.AccountURL, "account-url", "http://127.0.0.1:3000", "account service URL, with -target")
	flag.StringVar(&cfg.ChallengeDSN, "challenge-dsn", "", "with -target: DSN of its challenge database (SQL seeding and the MySQL ceiling)")
	flag.StringVar(&cfg.MySQL, "mysql", "root@tcp(127.0.0.1:3306)/", "MySQL server DSN without a database")
	flag.StringVar(&cfg.DBPrefix, "db-prefix", "po_bench_", "prefix of the bench databases (must start with po_bench)")
	flag.StringVar(&cfg.RedisURL, "redis", "redis://127.0.0.1:6379/0", "Redis URL")
	flag.StringVar(&cfg.AMQPURL, "amqp", "amqp://guest:guest@127.0.0.1:5672/po-bench", "AMQP URL for the bench services (its vhost is created when missing)")
	flag.StringVar(&cfg.AccountAddr, "account-addr", "127.0.0.1:3100", "listen address of the bench account service")
	flag.StringVar(&cfg.ChallengeAddr, "challenge-addr", "127.0.0.1:3101", "listen address of the bench challenge service")
	flag.StringVar(&cfg.ChallengeAddr2, "challenge-addr-2", "127.0.0.1:3103", "listen address of the second challenge service (replicas phase)")
	flag.StringVar(&cfg.CeilingAddr, "ceiling-addr", "127.0.0.1:3102", "listen address of the ceilings")
	flag.StringVar(&cfg.BinDir, "bin", "bin", "directory of the service binaries (relative to the repository)")
	flag.BoolVar(&cfg.Build, "build", true, "build the services and the ceilings first")
	flag.StringVar(&cfg.ServiceLogLevel, "service-log-level", "info", "LOG_LEVEL of the bench services (access logs are on at info)")
	flag.Var(&serviceEnv, "service-env", "extra KEY=VALUE for the bench services (repeatable), e.g. GOMAXPROCS=1")
	flag.BoolVar(&cfg.CeilingInterpolate, "ceiling-interpolate", true, "the MySQL ceiling interpolates query arguments (one round trip per query)")
	flag.BoolVar(&cfg.CheapHash, "cheap-hash", true, "cheap argon2id parameters in the bench account service, so seeding is quick")
	flag.StringVar(&cfg.ProfileDir, "profile", "", "directory for CPU and heap profiles of the bench challenge service, one pair per fixed-rate phase (go tool pprof)")
	flag.StringVar(&cfg.DebugAddr, "debug-addr", "127.0.0.1:3111", "DEBUG_ADDR (pprof listener) of the bench challenge service, with -profile")
	flag.StringVar(&cfg.Doc, "doc", "docs/benchmarks.md", "report to write (empty: none)")
	flag.StringVar(&cfg.ImgDir, "img", "docs/img", "directory of the charts")
	flag.StringVar(&cfg.Command, "command", "", "command line to quote in the report (default: this one)")
	flag.Parse()

	set := map[string]bool{}
	flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if *quick {
		def := func(name string, apply func()) {
			if !set[name] {
				apply()
			}
		}
		def("duration", func() { cfg.Duration = 3 * time.Second })
		def("users", func() { cfg.Users = 300 })
		def("challenges", func() { cfg.Challenges = 2 })
		def("logs", func() { cfg.Logs = 15 })
		def("groups", func() { cfg.Groups = 10 })
		def("group-min", func() { cfg.GroupMin = 3 })
		def("group-max", func() { cfg.GroupMax = 20 })
		def("search-step", func() { cfg.SearchStep = 2 * time.Second })
		def("search-steps", func() { cfg.SearchMaxSteps = 5 })
		def("search-precision", func() { cfg.SearchPrec = 0.25 })
		def("search-retries", func() { cfg.SearchRetries = 0 })
		def("search-start", func() { cfg.SearchStart = 16 })
		def("pairs", func() { cfg.Pairs = 2 })
		def("pair-duration", func() { cfg.PairDuration = 2 * time.Second })
		def("profile-seconds", func() { cfg.ProfileFor = 2 * time.Second })
		def("doc", func() { cfg.Doc = "" })
	}
	cfg.ServiceEnv = serviceEnv
	cfg.Phases = map[string]bool{}
	for _, p := range strings.Split(phases, ",") {
		p = strings.TrimSpace(p)
		switch {
		case slices.Contains(bench.AllPhases, p):
			cfg.Phases[p] = true
		case p == "":
		default:
			fmt.Fprintf(os.Stderr, "bench: unknown phase %q\n", p)
			return 2
		}
	}
	if cfg.Target != "" {
		if cfg.Phases[bench.PhaseUncached] && cfg.Phases[bench.PhaseCached] {
			// A running system has one cache setting: measure it once.
			delete(cfg.Phases, bench.PhaseUncached)
		}
	}
	if cfg.Pairs < 1 || cfg.WrkConns < 1 || cfg.WrkThreads < 1 || cfg.SearchStart < 1 || cfg.SearchMaxConns < cfg.SearchStart {
		fmt.Fprintln(os.Stderr, "bench: -pairs, -wrk-conns, -wrk-threads and -search-start must be positive, -search-max at least -search-start")
		return 2
	}
	if cfg.Users < 1 || cfg.Challenges < 1 || cfg.Logs < 1 || cfg.Rate <= 0 || cfg.Duration <= 0 {
		fmt.Fprintln(os.Stderr, "bench: -users, -challenges, -logs, -rate and -duration must be positive")
		return 2
	}
	if cfg.Groups < 1 || cfg.GroupMin < 2 || cfg.GroupMax < cfg.GroupMin || cfg.GroupZipf <= 0 {
		fmt.Fprintln(os.Stderr, "bench: -groups must be positive, -group-min at least 2 (an owner and someone to join), -group-max at least -group-min, -group-zipf positive")
		return 2
	}
	if cfg.ZipfS <= 1 {
		fmt.Fprintln(os.Stderr, "bench: -zipf must be > 1")
		return 2
	}
	root := reporoot.Dir()
	cfg.Root = root
	lock, err := bench.Lock(root)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	defer lock.Close()
	if !filepath.IsAbs(cfg.BinDir) {
		cfg.BinDir = filepath.Join(root, cfg.BinDir)
	}
	if cfg.Command == "" {
		cfg.Command = strings.Join(append([]string{"go run ./hack/bench/cmd/bench"}, os.Args[1:]...), " ")
	}
	if st, err := os.Stderr.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
		cfg.TTY = true
	}
	cfg.Out = os.Stderr
	// net/http's transport logs every 503 an overloaded server sends on an
	// idle connection; the results already count what matters.
	log.SetOutput(io.Discard)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sig := make(chan os.Signal, 2)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		s := <-sig
		fmt.Fprintf(os.Stderr, "\nbench: %v: stopping (Ctrl-C again to quit at once)\n", s)
		cancel()
		<-sig
		os.Exit(130)
	}()

	fmt.Fprintf(os.Stderr, "bench: %d CPUs, GOMAXPROCS %d; all traffic to 127.0.0.1\n", runtime.NumCPU(), runtime.GOMAXPROCS(0))
	rep, err := bench.NewRunner(cfg).Run(ctx)
	fmt.Print(rep.Text())
	if err != nil {
		if errors.Is(err, context.Canceled) {
			fmt.Fprintln(os.Stderr, "bench: interrupted; the report was not written")
			return 130
		}
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	if cfg.Doc != "" {
		if err := bench.WriteReport(rep, inRoot(root, cfg.Doc), inRoot(root, cfg.ImgDir)); err != nil {
			fmt.Fprintln(os.Stderr, "bench: writing the report:", err)
			return 1
		}
		fmt.Fprintf(os.Stderr, "bench: wrote %s and charts in %s\n", cfg.Doc, cfg.ImgDir)
	}
	return 0
}

// inRoot resolves a path relative to the repository root.
func inRoot(root, p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(root, p)
}
