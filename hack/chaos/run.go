package chaos

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-sql-driver/mysql"
	"golang.org/x/sync/errgroup"

	"github.com/progressive-overload/po/hack/bench"
	accountclient "github.com/progressive-overload/po/services/account/api/client"
	challengeclient "github.com/progressive-overload/po/services/challenge/api/client"
)

// Config is what a run does.
type Config struct {
	Root     string // the repository
	Rate     float64
	Users    int
	Mix      Mix
	Faults   []string
	Quick    bool
	Bound    time.Duration
	Replicas int // per service
	Timeout  time.Duration
	Command  string
	Doc      string // docs/reliability.md; empty: no report written
	ImgDir   string
	Keep     bool // keep the temporary directory (logs, datadirs)
	Out      io.Writer
	Seed     uint64
}

// Runner holds a run's processes and records.
type Runner struct {
	cfg    Config
	timing Timing
	dir    string

	db       *MariaDB
	redis    *Redis
	rabbit   *RabbitMQ
	haproxy  *HAProxy
	replicas []*Replica
	accounts []*Replica
	chals    []*Replica

	accountLB, challengeLB string
	load                   *Load
	ledger                 *Ledger
	counters               *Counters
	accDB, chDB            *sql.DB

	mu         sync.Mutex
	current    string // the fault being injected, for the progress line
	load1Start string
	notes      []string
}

// NewRunner returns a runner for cfg.
func NewRunner(cfg Config) *Runner {
	// The checks' pool notices the connections a MariaDB restart broke; the
	// driver's note about each is noise on the terminal.
	_ = mysql.SetLogger(log.New(io.Discard, "", 0))
	if cfg.Out == nil {
		cfg.Out = os.Stdout
	}
	return &Runner{cfg: cfg, timing: Timings(cfg.Quick), ledger: &Ledger{}, counters: NewCounters()}
}

func (r *Runner) logf(format string, args ...any) {
	fmt.Fprintf(r.cfg.Out, "chaos: "+format+"\n", args...)
}

func (r *Runner) note(format string, args ...any) {
	s := fmt.Sprintf(format, args...)
	r.mu.Lock()
	r.notes = append(r.notes, s)
	r.mu.Unlock()
	r.logf("note: %s", s)
}

// Run sets everything up, injects the faults and returns the report. Every
// process it started is stopped before it returns, whatever happened.
func (r *Runner) Run(ctx context.Context) (rep Report, err error) {
	started := time.Now()
	r.load1Start = loadAvg()
	rep = Report{Started: started, Command: r.cfg.Command, Quick: r.cfg.Quick, Machine: bench.DescribeMachine()}
	if r.dir, err = os.MkdirTemp("", "po-chaos-"); err != nil {
		return rep, err
	}
	r.logf("state and logs under %s", r.dir)
	defer func() {
		r.stopAll()
		if err != nil || r.cfg.Keep {
			r.logf("kept %s (logs of every process)", r.dir)
			return
		}
		_ = os.RemoveAll(r.dir)
	}()
	budget := r.timing.Budget(r.cfg.Faults, r.cfg.Replicas)
	r.logf("%d faults, at most %s of fault windows and settle waits (plus setup)", len(r.cfg.Faults), budget.Round(time.Second))

	if err := r.setup(ctx, &rep); err != nil {
		return rep, err
	}
	defer r.accDB.Close()
	defer r.chDB.Close()

	loadCtx, stopLoad := context.WithCancel(ctx)
	defer stopLoad()
	r.load = &Load{Client: r.challengeClient(), Users: nil, Rate: r.cfg.Rate, Mix: r.cfg.Mix, Timeout: r.cfg.Timeout, MaxInFl: 2000, Ledger: r.ledger}
	users, err := r.seed(ctx)
	if err != nil {
		return rep, err
	}
	r.load.Users = users
	var bg sync.WaitGroup
	bg.Add(3)
	go func() { defer bg.Done(); r.load.Run(loadCtx, r.cfg.Seed) }()
	go func() { defer bg.Done(); r.scrapeLoop(loadCtx) }()
	go func() { defer bg.Done(); r.progressLoop(loadCtx) }()
	defer bg.Wait()
	defer stopLoad()

	r.logf("load: %s requests/s through HAProxy (%.0f%% reads, %.0f%% log writes, %.0f%% challenge creations), %d users",
		strconv.FormatFloat(r.cfg.Rate, 'f', -1, 64), 100*r.cfg.Mix.Read, 100*r.cfg.Mix.Log, 100*r.cfg.Mix.Challenge, len(users))
	if err := sleep(ctx, r.timing.Baseline); err != nil { // warm-up: caches, connections
		return rep, err
	}
	prev := eventTotals{}
	if prev, err = r.eventTotals(ctx); err != nil {
		return rep, err
	}
	for _, f := range r.cfg.Faults {
		w, row, cur, err := r.window(ctx, f, prev)
		rep.Windows = append(rep.Windows, w)
		if err != nil {
			return rep, err
		}
		prev = cur
		rep.Rows = append(rep.Rows, row)
		r.logf("%s done:\n%s", f, Table([]Row{row}).Text())
	}
	stopLoad()
	bg.Wait()
	if n := r.load.Skipped(); n > 0 {
		r.note("%d requests were not sent because %d were already in flight (the load generator's bound)", n, r.load.MaxInFl)
	}
	// Every write acknowledged until the very end, checked once more.
	lost, err := r.checkLogs(ctx)
	if err != nil {
		return rep, err
	}
	r.logf("final check: %d acknowledged log writes, %d missing or changed; %d challenges acknowledged", lost.Checked, lost.Count(), len(r.ledger.Challenges()))
	if lost.Count() > 0 {
		r.note("after the run: %d of %d acknowledged log writes missing or changed: %s", lost.Count(), lost.Checked, strings.Join(lost.Examples, "; "))
	}
	rep.Elapsed = time.Since(started)
	rep.Notes = append(rep.Notes, r.notes...)
	rep.Config = r.configRows()
	rep.Versions = r.versions(ctx)
	if r.cfg.Doc != "" {
		if err := r.write(&rep); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

func (r *Runner) configRows() [][2]string {
	return [][2]string{
		{"mode", map[bool]string{true: "-quick", false: "full"}[r.cfg.Quick]},
		{"load", fmt.Sprintf("%s requests/s, open loop; %.0f%% reads, %.0f%% log writes (each followed by a read of the user's logs), %.0f%% challenge creations", strconv.FormatFloat(r.cfg.Rate, 'f', -1, 64), 100*r.cfg.Mix.Read, 100*r.cfg.Mix.Log, 100*r.cfg.Mix.Challenge)},
		{"users", fmt.Sprintf("%d, each with 2 active challenges the logs go to", r.cfg.Users)},
		{"replicas", fmt.Sprintf("%d account, %d challenge, behind HAProxy", r.cfg.Replicas, r.cfg.Replicas)},
		{"request timeout", r.cfg.Timeout.String()},
		{"p99 bound", bench.FormatDuration(r.cfg.Bound)},
		{"window", fmt.Sprintf("baseline %s, observation %s after recovery; outages %s; killed replicas down %s; settle wait up to %s",
			r.timing.Baseline, r.timing.Observe, r.timing.Outage, r.timing.Down, r.timing.Settle)},
		{"service settings", "SHUTDOWN_TIMEOUT=10s, CACHE_ENABLED=true (defaults otherwise)"},
		{"machine load", fmt.Sprintf("1-minute load average %s at the start, %s at the end (other work on the machine shares its cores)", r.load1Start, loadAvg())},
	}
}

func (r *Runner) versions(ctx context.Context) [][2]string {
	var out [][2]string
	if v := r.db.Version(ctx); v != "" {
		out = append(out, [2]string{"MariaDB", v})
	}
	if b, err := execOut(ctx, "redis-server", "--version"); err == nil {
		out = append(out, [2]string{"Redis", b})
	}
	if v := r.rabbit.Version(ctx); v != "" {
		out = append(out, [2]string{"RabbitMQ", v})
	}
	if b, err := execOut(ctx, "haproxy", "-v"); err == nil {
		out = append(out, [2]string{"HAProxy", strings.SplitN(b, "\n", 2)[0]})
	}
	return out
}

func (r *Runner) setup(ctx context.Context, rep *Report) error {
	bin, err := EnsureHAProxy(ctx, r.logf)
	if err != nil {
		return err
	}
	binDir := filepath.Join(r.dir, "bin")
	r.logf("building account, challenge and genkey")
	if err := BuildServices(ctx, r.cfg.Root, binDir); err != nil {
		return err
	}
	r.logf("starting MariaDB, Redis and RabbitMQ of the run's own (the machine's shared ones are left alone)")
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		db, err := NewMariaDB(gctx, filepath.Join(r.dir, "mariadb"))
		if err != nil {
			return err
		}
		r.db = db
		return db.Start(gctx)
	})
	g.Go(func() error {
		rd, err := NewRedis(filepath.Join(r.dir, "redis"))
		if err != nil {
			return err
		}
		r.redis = rd
		return rd.Start(gctx)
	})
	g.Go(func() error {
		rb, err := NewRabbitMQ(filepath.Join(r.dir, "rabbitmq"))
		if err != nil {
			return err
		}
		r.rabbit = rb
		return rb.Start(gctx)
	})
	if err := g.Wait(); err != nil {
		return err
	}
	r.logf("MariaDB %s (pid %d), Redis %s (pid %d), RabbitMQ node %s on :%d (pid %d)", r.db.Addr(), r.db.Pid(), r.redis.Addr(), r.redis.Pid(), r.rabbit.Node, r.rabbit.Port, r.rabbit.Pid())

	key := filepath.Join(r.dir, "jwt-signing.pem")
	if err := bench.RunCmd(ctx, r.dir, nil, filepath.Join(binDir, "genkey"), "-out", key); err != nil {
		return err
	}
	ports := make([]int, 2+4*r.cfg.Replicas)
	for i := range ports {
		if ports[i], err = FreePort(); err != nil {
			return err
		}
	}
	r.accountLB = "http://127.0.0.1:" + strconv.Itoa(ports[0])
	r.challengeLB = "http://127.0.0.1:" + strconv.Itoa(ports[1])
	logDir := filepath.Join(r.dir, "logs")
	var backends []Backend
	for si, svc := range []string{"account", "challenge"} {
		be := Backend{Name: svc, Port: ports[si]}
		for i := range r.cfg.Replicas {
			k := 2 + 2*(si*r.cfg.Replicas+i)
			rp := &Replica{Service: svc, Index: i + 1, HTTPPort: ports[k], Debug: ports[k+1], bin: filepath.Join(binDir, svc), logDir: logDir,
				env: ServiceEnv(svc, ports[k], ports[k+1], r.db, r.redis.Addr(), r.rabbit.URL(), key, r.accountLB+"/.well-known/jwks.json")}
			r.replicas = append(r.replicas, rp)
			if svc == "account" {
				r.accounts = append(r.accounts, rp)
			} else {
				r.chals = append(r.chals, rp)
			}
			be.Servers = append(be.Servers, rp.Addr())
		}
		backends = append(backends, be)
	}
	for _, svc := range []string{"account", "challenge"} {
		r.logf("migrating %s", svc)
		env := ServiceEnv(svc, 0, 0, r.db, r.redis.Addr(), r.rabbit.URL(), key, "")
		if err := bench.RunCmd(ctx, r.dir, env, filepath.Join(binDir, svc), "migrate"); err != nil {
			return err
		}
	}
	if r.haproxy, err = StartHAProxy(ctx, bin, filepath.Join(r.dir, "haproxy"), backends); err != nil {
		return err
	}
	r.logf("HAProxy (pid %d): account %s, challenge %s", r.haproxy.Pid(), r.accountLB, r.challengeLB)
	// The accounts first: the challenge replicas fetch the JWKS through
	// the balancer.
	for _, group := range [][]*Replica{r.accounts, r.chals} {
		g, gctx := errgroup.WithContext(ctx)
		for _, rp := range group {
			g.Go(func() error { return rp.Start(gctx) })
		}
		if err := g.Wait(); err != nil {
			return err
		}
	}
	if err := r.waitAllUp(ctx); err != nil {
		return err
	}
	for _, rp := range r.replicas {
		r.logf("%s pid %d on %s (debug %d)", rp.Name(), rp.Pid(), rp.Addr(), rp.Debug)
	}
	if r.accDB, err = sql.Open("mysql", r.db.DSN(AccountDB)+"?parseTime=true"); err != nil {
		return err
	}
	if r.chDB, err = sql.Open("mysql", r.db.DSN(ChallengeDB)+"?parseTime=true"); err != nil {
		return err
	}
	return nil
}

// stopAll stops every process in the reverse order of their start; each
// is stopped even when an earlier stop failed.
func (r *Runner) stopAll() {
	for i := len(r.replicas) - 1; i >= 0; i-- {
		if err := r.replicas[i].Stop(); err != nil {
			r.logf("%v", err)
		}
	}
	for _, s := range []interface{ Stop() error }{r.haproxy, r.rabbit, r.redis, r.db} {
		if s == nil || isNilStopper(s) {
			continue
		}
		if err := s.Stop(); err != nil {
			r.logf("%v", err)
		}
	}
}

func isNilStopper(s interface{ Stop() error }) bool {
	switch v := s.(type) {
	case *HAProxy:
		return v == nil
	case *RabbitMQ:
		return v == nil
	case *Redis:
		return v == nil
	case *MariaDB:
		return v == nil
	}
	return false
}

func (r *Runner) waitAllUp(ctx context.Context) error {
	for _, rp := range r.replicas {
		if err := r.haproxy.WaitState(ctx, rp.Service, rp.Name(), "UP", r.timing.Recover); err != nil {
			return err
		}
	}
	return nil
}

var httpClient = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256, MaxIdleConns: 512, IdleConnTimeout: 30 * time.Second}}

func (r *Runner) challengeClient() *challengeclient.ClientWithResponses {
	c, _ := challengeclient.NewClientWithResponses(r.challengeLB, challengeclient.WithHTTPClient(httpClient))
	return c
}

// seed signs the users up and in through the balancer and gives each two
// challenges, waited for until active.
func (r *Runner) seed(ctx context.Context) ([]*LoadUser, error) {
	ac, err := accountclient.NewClientWithResponses(r.accountLB, accountclient.WithHTTPClient(httpClient))
	if err != nil {
		return nil, err
	}
	cc := r.challengeClient()
	users := make([]*LoadUser, r.cfg.Users)
	r.logf("signing up %d users and creating 2 challenges each", r.cfg.Users)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for i := range users {
		g.Go(func() error {
			email := fmt.Sprintf("chaos-%d-%d@example.com", os.Getpid(), i)
			const password = "correct horse battery staple"
			s, err := ac.SignupWithResponse(gctx, accountclient.SignupRequest{Email: email, Password: password, DisplayName: fmt.Sprintf("Chaos %d", i)})
			if err != nil || s.JSON201 == nil {
				return fmt.Errorf("signup: %v %s", err, answer(respOf(s, (*accountclient.SignupResponse).StatusCode, func(r *accountclient.SignupResponse) []byte { return r.Body })))
			}
			l, err := ac.LoginWithResponse(gctx, accountclient.LoginRequest{Email: email, Password: password})
			if err != nil || l.JSON200 == nil {
				return fmt.Errorf("login: %v %s", err, answer(respOf(l, (*accountclient.LoginResponse).StatusCode, func(r *accountclient.LoginResponse) []byte { return r.Body })))
			}
			u := &LoadUser{ID: s.JSON201.Id, Token: l.JSON200.AccessToken}
			for k := range 2 {
				c, err := cc.CreateChallengeWithResponse(gctx, challengeclient.CreateChallengeRequest{Title: fmt.Sprintf("Seed %d", k), Exercise: "Bench press",
					Unit: challengeclient.Kg, StartValue: 40, Increment: 1.25, IncrementEvery: 2, SessionsPerWeek: 2, Weeks: 12}, bearer(u.Token))
				if err != nil || c.JSON201 == nil {
					return fmt.Errorf("create challenge: %v %s", err, answer(respOf(c, (*challengeclient.CreateChallengeResponse).StatusCode, func(r *challengeclient.CreateChallengeResponse) []byte { return r.Body })))
				}
				u.Challenges = append(u.Challenges, c.JSON201.Id)
			}
			users[i] = u
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	var ids []int64
	for _, u := range users {
		ids = append(ids, u.Challenges...)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		st, err := r.statuses(ctx, ids)
		if err != nil {
			return nil, err
		}
		pending := 0
		for _, id := range ids {
			if st[id] != "active" {
				pending++
			}
		}
		if pending == 0 {
			return users, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("seed: %d of %d challenges not active after 60s (the validation over RabbitMQ does not work)", pending, len(ids))
		}
		if err := sleep(ctx, 200*time.Millisecond); err != nil {
			return nil, err
		}
	}
}

// answer describes a generated client's response for an error message.
func answer(status int, body []byte) string {
	if status == 0 {
		return "no answer"
	}
	return fmt.Sprintf("%d %s", status, strings.TrimSpace(string(body)))
}

// respOf returns the status and body of a generated client's response, which
// is nil when the request failed.
func respOf[T any](r *T, status func(*T) int, body func(*T) []byte) (int, []byte) {
	if r == nil {
		return 0, nil
	}
	return status(r), body(r)
}

// window runs one fault: baseline, injection and recovery, observation,
// then the settle wait and the checks.
func (r *Runner) window(ctx context.Context, fault string, prev eventTotals) (Window, Row, eventTotals, error) {
	w := Window{Fault: fault, Start: time.Now()}
	r.setCurrent(fault + " (baseline)")
	r.logf("== %s: %s ==", fault, FaultTitle[fault])
	if err := sleep(ctx, r.timing.Baseline); err != nil {
		return w, Row{}, prev, err
	}
	w.Inject = time.Now()
	r.setCurrent(fault + " (injected)")
	ferr := r.inject(ctx, fault)
	if ctx.Err() != nil {
		return w, Row{}, prev, ctx.Err()
	}
	if ferr == nil {
		ferr = r.waitAllUp(ctx)
	}
	w.Recovered = time.Now()
	w.Err = ferr
	r.logf("%s: injected and undone in %s", fault, w.Recovered.Sub(w.Inject).Round(time.Millisecond))
	r.setCurrent(fault + " (observing)")
	if err := sleep(ctx, r.timing.Observe); err != nil {
		return w, Row{}, prev, err
	}
	w.End = time.Now()
	r.setCurrent(fault + " (settling)")
	row := Row{Fault: fault, Bound: r.cfg.Bound}
	if ferr != nil {
		row.Err = ferr.Error()
		r.note("%s: %v", fault, ferr)
		// A replica the fault left dead is started again so the next
		// window starts whole.
		r.reviveAll(ctx)
	}
	// The window's challenges validated and the outboxes empty, or the
	// settle bound passed.
	chAcks := ChallengesBetween(r.ledger.Challenges(), w.Start, w.End)
	ids := make([]int64, len(chAcks))
	for i, a := range chAcks {
		ids[i] = a.ID
	}
	settleEnd := time.Now().Add(r.timing.Settle)
	var st map[int64]string
	var err error
	for {
		if st, err = r.statuses(ctx, ids); err != nil {
			return w, row, prev, err
		}
		active := 0
		for _, id := range ids {
			if st[id] == "active" {
				active++
			}
		}
		pending, err := r.outboxPending(ctx)
		if err != nil {
			return w, row, prev, err
		}
		row.Events.Pending = pending
		if (active == len(ids) && pending == 0) || time.Now().After(settleEnd) {
			break
		}
		if err := sleep(ctx, 250*time.Millisecond); err != nil {
			return w, row, prev, err
		}
	}
	samples := r.load.Samples()
	row.Stats = Stats(samples, w.Start, w.Inject, w.End, RecoveryOpts{Bound: r.cfg.Bound, Bucket: time.Second, Hold: 3})
	row.Acked = len(LogsBetween(r.ledger.Logs(), w.Start, w.End)) + len(chAcks)
	if row.Lost, err = r.checkLogs(ctx); err != nil {
		return w, row, prev, err
	}
	outcomes, err := r.outcomes(ctx)
	if err != nil {
		return w, row, prev, err
	}
	row.Valid = CheckValidation(chAcks, st, outcomes)
	cur, err := r.eventTotals(ctx)
	if err != nil {
		return w, row, prev, err
	}
	row.Events.Known = true
	row.Events.AppliedTwice = cur.appliedTwice() - prev.appliedTwice()
	row.Events.Absorbed = int(cur.absorbed - prev.absorbed)
	row.Reads = RAWBetween(r.load.RAWChecks(), w.Start, w.End)
	for _, ex := range row.Lost.Examples {
		r.note("%s: %s", fault, ex)
	}
	for _, ex := range row.Reads.Examples {
		r.note("%s: stale read: %s", fault, ex)
	}
	if n := len(row.Valid.NeverActive); n > 0 {
		r.note("%s: challenges not active %s after the window: %v", fault, r.timing.Settle, firstN(row.Valid.NeverActive, 10))
	}
	if n := len(row.Valid.ActiveTwice); n > 0 {
		r.note("%s: challenges with more than one validation outcome: %v", fault, firstN(row.Valid.ActiveTwice, 10))
	}
	if row.Events.Pending > 0 {
		r.note("%s: %d outbox rows still unpublished %s after the window", fault, row.Events.Pending, r.timing.Settle)
	}
	for _, rp := range r.replicas {
		if rp.Pid() == 0 {
			r.note("%s: %s was not running after the window; started again", fault, rp.Name())
		}
	}
	r.reviveAll(ctx)
	return w, row, cur, nil
}

func firstN(ids []int64, n int) []int64 { return ids[:min(n, len(ids))] }

func (r *Runner) reviveAll(ctx context.Context) {
	for _, rp := range r.replicas {
		if rp.Pid() == 0 {
			if err := rp.Start(ctx); err != nil {
				r.logf("restarting %s: %v", rp.Name(), err)
			}
		}
	}
	_ = r.waitAllUp(ctx)
}

func (r *Runner) setCurrent(s string) {
	r.mu.Lock()
	r.current = s
	r.mu.Unlock()
}

// inject performs a fault and undoes it.
func (r *Runner) inject(ctx context.Context, fault string) error {
	switch fault {
	case FaultKill:
		victims := []*Replica{r.accounts[0], r.chals[0]}
		r.scrapeAll(ctx) // the counters as close to the kill as possible
		for _, v := range victims {
			pid := v.Pid()
			if err := v.Kill(); err != nil {
				return err
			}
			r.logf("kill -9 %s (pid %d)", v.Name(), pid)
		}
		if err := sleep(ctx, r.timing.Down); err != nil {
			return err
		}
		g, gctx := errgroup.WithContext(ctx)
		for _, v := range victims {
			g.Go(func() error { return v.Start(gctx) })
		}
		return g.Wait()
	case FaultRolling:
		for _, v := range r.replicas {
			r.scrape(ctx, v)
			t0 := time.Now()
			if err := v.Stop(); err != nil {
				return err
			}
			drained := time.Since(t0)
			if err := v.Start(ctx); err != nil {
				return err
			}
			if err := r.haproxy.WaitState(ctx, v.Service, v.Name(), "UP", r.timing.Recover); err != nil {
				return err
			}
			r.logf("SIGTERM %s: stopped in %s, back up after %s", v.Name(), drained.Round(time.Millisecond), time.Since(t0).Round(time.Millisecond))
		}
		return nil
	case FaultMariaDB:
		if err := r.db.Stop(); err != nil {
			return err
		}
		return r.db.Start(ctx)
	case FaultRabbitMQ:
		return r.outage(ctx, r.rabbit, r.timing.Outage)
	case FaultRedisRst:
		return r.outage(ctx, r.redis, 0)
	case FaultRedisStop:
		return r.outage(ctx, r.redis, r.timing.Outage)
	}
	return fmt.Errorf("unknown fault %q", fault)
}

func (r *Runner) outage(ctx context.Context, s Service, d time.Duration) error {
	pid := s.Pid()
	if err := s.Stop(); err != nil {
		return err
	}
	r.logf("%s (pid %d) stopped", s.Name(), pid)
	if err := sleep(ctx, d); err != nil {
		return err
	}
	t0 := time.Now()
	if err := s.Start(ctx); err != nil {
		return err
	}
	r.logf("%s started again (pid %d), answering after %s", s.Name(), s.Pid(), time.Since(t0).Round(time.Millisecond))
	return nil
}

// scrapeLoop keeps every replica's event counters current.
func (r *Runner) scrapeLoop(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			r.scrapeAll(ctx)
		}
	}
}

func (r *Runner) scrapeAll(ctx context.Context) {
	for _, rp := range r.replicas {
		r.scrape(ctx, rp)
	}
}

func (r *Runner) scrape(ctx context.Context, rp *Replica) {
	inc := rp.Incarnation()
	if text, err := rp.Metrics(ctx); err == nil {
		r.counters.Observe(inc, EventCounters(text))
	}
}

// progressLoop prints a line every few seconds.
func (r *Runner) progressLoop(ctx context.Context) {
	every := 5 * time.Second
	if r.cfg.Quick {
		every = 2 * time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	last := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			ss := r.load.Samples()
			var lat []time.Duration
			failed := map[string]int{}
			for _, s := range ss {
				if s.Start.Before(last) || !s.Start.Before(now) {
					continue
				}
				if s.Failed() {
					failed[s.Label()]++
				} else {
					lat = append(lat, s.Latency)
				}
			}
			slices.Sort(lat)
			r.mu.Lock()
			cur := r.current
			r.mu.Unlock()
			if cur == "" {
				cur = "warm-up"
			}
			fmt.Fprintf(r.cfg.Out, "  [%s] last %s: %d ok (p99 %s), failed %s; %d in flight; acked %d logs, %d challenges\n",
				cur, every, len(lat), bench.FormatDuration(bench.Percentile(lat, 99)), FormatFailures(failed), r.load.InFlight(),
				len(r.ledger.Logs()), len(r.ledger.Challenges()))
			last = now
		}
	}
}

// eventTotals are the run's cumulative event counts.
type eventTotals struct {
	okCreated, okValidated   float64 // applied (consumed ok), every incarnation
	pubCreated, pubValidated int     // distinct events published (outbox rows with published_at)
	absorbed                 float64 // duplicates the inboxes dropped
}

// appliedTwice is how many more events were applied than were published.
func (t eventTotals) appliedTwice() int {
	return max(0, int(t.okCreated)-t.pubCreated) + max(0, int(t.okValidated)-t.pubValidated)
}

func (r *Runner) eventTotals(ctx context.Context) (eventTotals, error) {
	r.scrapeAll(ctx)
	var t eventTotals
	t.okCreated = r.counters.Total(ConsumedKey("challenge.created", "ok"))
	t.okValidated = r.counters.Total(ConsumedKey("user.validated", "ok"))
	t.absorbed = r.counters.Total(ConsumedKey("challenge.created", "duplicate")) + r.counters.Total(ConsumedKey("user.validated", "duplicate"))
	if err := r.chDB.QueryRowContext(ctx, "SELECT COUNT(*) FROM outbox_events WHERE event_type = 'challenge.created' AND published_at IS NOT NULL").Scan(&t.pubCreated); err != nil {
		return t, err
	}
	if err := r.accDB.QueryRowContext(ctx, "SELECT COUNT(*) FROM outbox_events WHERE event_type = 'user.validated' AND published_at IS NOT NULL").Scan(&t.pubValidated); err != nil {
		return t, err
	}
	return t, nil
}

func (r *Runner) outboxPending(ctx context.Context) (int, error) {
	total := 0
	for _, db := range []*sql.DB{r.accDB, r.chDB} {
		var n int
		if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM outbox_events WHERE published_at IS NULL").Scan(&n); err != nil {
			return 0, err
		}
		total += n
	}
	return total, nil
}

func (r *Runner) statuses(ctx context.Context, ids []int64) (map[int64]string, error) {
	out := map[int64]string{}
	for len(ids) > 0 {
		chunk := ids[:min(500, len(ids))]
		ids = ids[len(chunk):]
		args := make([]any, len(chunk))
		for i, id := range chunk {
			args[i] = id
		}
		rows, err := r.chDB.QueryContext(ctx, "SELECT id, status FROM challenges WHERE id IN (?"+strings.Repeat(",?", len(chunk)-1)+")", args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var id int64
			var st string
			if err := rows.Scan(&id, &st); err != nil {
				rows.Close()
				return nil, err
			}
			out[id] = st
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// outcomes counts the validation outcome events per challenge in the
// account service's outbox.
func (r *Runner) outcomes(ctx context.Context) (map[int64]int, error) {
	rows, err := r.accDB.QueryContext(ctx, "SELECT payload FROM outbox_events WHERE event_type IN ('user.validated', 'user.rejected')")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[int64]int{}
	for rows.Next() {
		var payload []byte
		if err := rows.Scan(&payload); err != nil {
			return nil, err
		}
		var env struct {
			Data struct {
				ChallengeID int64 `json:"challengeId"`
			} `json:"data"`
		}
		if err := json.Unmarshal(payload, &env); err != nil {
			return nil, fmt.Errorf("account outbox payload: %w", err)
		}
		out[env.Data.ChallengeID]++
	}
	return out, rows.Err()
}

// checkLogs looks every acknowledged log up in workout_logs.
func (r *Runner) checkLogs(ctx context.Context) (Lost, error) {
	acks := r.ledger.Logs()
	rows, err := r.chDB.QueryContext(ctx, "SELECT id, challenge_id, user_id, sets, reps, value, COALESCE(note, '') FROM workout_logs")
	if err != nil {
		return Lost{}, err
	}
	defer rows.Close()
	stored := map[int64]StoredLog{}
	for rows.Next() {
		var s StoredLog
		if err := rows.Scan(&s.ID, &s.ChallengeID, &s.UserID, &s.Sets, &s.Reps, &s.Value, &s.Note); err != nil {
			return Lost{}, err
		}
		stored[s.ID] = s
	}
	if err := rows.Err(); err != nil {
		return Lost{}, err
	}
	return CheckLogs(acks, stored), nil
}

func execOut(ctx context.Context, name string, args ...string) (string, error) {
	out, err := execCommand(ctx, name, args...)
	return strings.TrimSpace(out), err
}

// write renders the chart and docs/reliability.md.
func (r *Runner) write(rep *Report) error {
	if len(rep.Windows) == 0 {
		return errors.New("no fault window to report")
	}
	start := rep.Windows[0].Start
	end := rep.Windows[len(rep.Windows)-1].End
	tl := Timeline{Start: start, Buckets: Buckets(r.load.Samples(), start, end, time.Second), Windows: rep.Windows, Bound: r.cfg.Bound}
	img := filepath.Join(r.cfg.ImgDir, "chaos-timeline.png")
	if err := TimelineChart(img, tl); err != nil {
		return err
	}
	rel, err := filepath.Rel(filepath.Dir(r.cfg.Doc), img)
	if err != nil {
		rel = img
	}
	rep.Charts = []bench.Chart{{Title: "p99 per second and failed requests through every fault", Path: filepath.ToSlash(rel)}}
	if err := os.WriteFile(r.cfg.Doc, []byte(rep.Markdown()), 0o644); err != nil {
		return err
	}
	r.logf("wrote %s and %s", r.cfg.Doc, img)
	return nil
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return "unknown"
	}
	return f[0]
}

func execCommand(ctx context.Context, name string, args ...string) (string, error) {
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	return string(out), err
}
