package bench

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	openapi_types "github.com/oapi-codegen/runtime/types"
	"golang.org/x/sync/errgroup"

	accountclient "github.com/progressive-overload/po/services/account/api/client"
	challengeclient "github.com/progressive-overload/po/services/challenge/api/client"
)

// SeedSpec sizes the data set.
type SeedSpec struct {
	Users       int
	Challenges  int // per user
	Logs        int // per challenge
	Concurrency int // signups, logins and API writes in flight
	EmailTag    string
	Password    string
	Progress    io.Writer
}

// APIClient talks to the services for seeding.
type APIClient struct {
	HTTP *http.Client
}

// NewAPIClient returns a client keeping up to conns connections per host.
func NewAPIClient(conns int) *APIClient {
	return &APIClient{HTTP: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		MaxIdleConnsPerHost: conns, MaxIdleConns: 2 * conns, IdleConnTimeout: 30 * time.Second,
	}}}
}

// Do sends a JSON request and decodes a JSON answer into out (when not
// nil); an answer other than want is an error carrying the body.
func (c *APIClient) Do(ctx context.Context, method, url, token string, in, out any, want ...int) (int, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return 0, err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		return 0, err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	ok := len(want) == 0 && resp.StatusCode/100 == 2
	for _, w := range want {
		ok = ok || resp.StatusCode == w
	}
	if !ok {
		return resp.StatusCode, fmt.Errorf("%s %s: %d %s", method, url, resp.StatusCode, strings.TrimSpace(string(b)))
	}
	if out != nil && len(b) > 0 && resp.StatusCode/100 == 2 {
		if err := json.Unmarshal(b, out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s: decoding answer: %w", method, url, err)
		}
	}
	return resp.StatusCode, nil
}

// counter prints progress of a seeding step about every second.
type counter struct {
	name  string
	total int64
	n     atomic.Int64
	w     io.Writer
	last  atomic.Int64
	start time.Time
}

func newCounter(w io.Writer, name string, total int) *counter {
	return &counter{name: name, total: int64(total), w: w, start: time.Now()}
}

func (c *counter) inc() {
	n := c.n.Add(1)
	if c.w == nil {
		return
	}
	now := time.Now().UnixMilli()
	if l := c.last.Load(); now-l >= 2000 && c.last.CompareAndSwap(l, now) || n == c.total {
		fmt.Fprintf(c.w, "  %s: %s/%s (%.0f/s)\n", c.name, FormatInt(n), FormatInt(c.total), float64(n)/time.Since(c.start).Seconds())
	}
}

// SignupAndLogin creates spec.Users users through POST /auth/signup (a 409
// means the user exists, which is fine) and logs each in once through POST
// /auth/login, spec.Concurrency at a time. The user id is the token's sub.
func SignupAndLogin(ctx context.Context, c *APIClient, accountURL string, spec SeedSpec) ([]*User, time.Duration, time.Duration, error) {
	users := make([]*User, spec.Users)
	email := func(i int) string { return fmt.Sprintf("bench-%s-%d@example.com", spec.EmailTag, i) }
	t0 := time.Now()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(spec.Concurrency)
	cnt := newCounter(spec.Progress, "signup", spec.Users)
	for i := range users {
		g.Go(func() error {
			in := accountclient.SignupRequest{Email: email(i), Password: spec.Password, DisplayName: fmt.Sprintf("Bench %d", i)}
			_, err := c.Do(gctx, http.MethodPost, accountURL+"/auth/signup", "", in, nil, http.StatusCreated, http.StatusConflict)
			cnt.inc()
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, 0, 0, err
	}
	signup := time.Since(t0)
	t1 := time.Now()
	g, gctx = errgroup.WithContext(ctx)
	g.SetLimit(spec.Concurrency)
	cnt = newCounter(spec.Progress, "login", spec.Users)
	for i := range users {
		g.Go(func() error {
			var out accountclient.TokenPair
			in := accountclient.LoginRequest{Email: email(i), Password: spec.Password}
			if _, err := c.Do(gctx, http.MethodPost, accountURL+"/auth/login", "", in, &out, http.StatusOK); err != nil {
				return err
			}
			id, err := TokenSubject(out.AccessToken)
			if err != nil {
				return err
			}
			users[i] = &User{ID: id, Token: out.AccessToken}
			cnt.inc()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, 0, 0, err
	}
	return users, signup, time.Since(t1), nil
}

// TokenSubject reads the sub claim of a JWT without verifying it (the
// services do that).
func TokenSubject(token string) (int64, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return 0, fmt.Errorf("not a JWT")
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return 0, fmt.Errorf("JWT payload: %w", err)
	}
	var claims struct {
		Sub string `json:"sub"`
	}
	if err := json.Unmarshal(b, &claims); err != nil {
		return 0, fmt.Errorf("JWT payload: %w", err)
	}
	id, err := strconv.ParseInt(claims.Sub, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("JWT sub %q is not a user id", claims.Sub)
	}
	return id, nil
}

// planStart is when every seeded plan starts: far enough back for tens of
// past sessions, near enough for the plan to still run (so it takes logs).
func planStart(now time.Time, weeks int) time.Time {
	d := now.UTC().AddDate(0, 0, -7*weeks/2)
	return time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, time.UTC)
}

// seedPlan is the plan every seeded challenge follows (varied by index).
type seedPlan struct {
	title, exercise string
	start, inc      float64
	every, spw      int
	weeks           int
}

var seedPlans = []seedPlan{
	{"Squat 5x5", "Back squat", 60, 2.5, 1, 3, 16},
	{"Bench press", "Bench press", 40, 1.25, 2, 2, 20},
	{"Deadlift", "Deadlift", 80, 5, 1, 2, 16},
	{"Overhead press", "Overhead press", 30, 1, 2, 3, 24},
}

// SeedSQL writes spec.Challenges active challenges per user and spec.Logs
// logs per challenge straight into the challenge database (multi-row
// inserts, a few at once), then reads the challenge ids back.
func SeedSQL(ctx context.Context, db *sql.DB, users []*User, spec SeedSpec) error {
	now := time.Now().UTC()
	// Challenges.
	const batch = 500
	var rows []string
	var args []any
	flush := func() error {
		if len(rows) == 0 {
			return nil
		}
		q := "INSERT INTO challenges (user_id, title, exercise, unit, start_value, increment, increment_every, sessions_per_week, weeks, start_date, status, created_at, updated_at) VALUES " + strings.Join(rows, ",")
		_, err := db.ExecContext(ctx, q, args...)
		rows, args = rows[:0], args[:0]
		return err
	}
	cnt := newCounter(spec.Progress, "challenges (SQL)", len(users)*spec.Challenges)
	for _, u := range users {
		for k := 0; k < spec.Challenges; k++ {
			p := seedPlans[k%len(seedPlans)]
			rows = append(rows, "(?,?,?,'kg',?,?,?,?,?,?,'active',?,?)")
			args = append(args, u.ID, p.title, p.exercise, p.start, p.inc, p.every, p.spw, p.weeks, planStart(now, p.weeks), now, now)
			cnt.inc()
			if len(rows) == batch {
				if err := flush(); err != nil {
					return err
				}
			}
		}
	}
	if err := flush(); err != nil {
		return err
	}
	byUser := map[int64]*User{}
	for _, u := range users {
		u.Challenges = u.Challenges[:0]
		byUser[u.ID] = u
	}
	type ch struct {
		id, user int64
		plan     seedPlan
	}
	var chs []ch
	r, err := db.QueryContext(ctx, "SELECT id, user_id FROM challenges ORDER BY id")
	if err != nil {
		return err
	}
	for r.Next() {
		var c ch
		if err := r.Scan(&c.id, &c.user); err != nil {
			r.Close()
			return err
		}
		if u := byUser[c.user]; u != nil {
			c.plan = seedPlans[len(u.Challenges)%len(seedPlans)]
			u.Challenges = append(u.Challenges, c.id)
			chs = append(chs, c)
		}
	}
	r.Close()
	if err := r.Err(); err != nil {
		return err
	}
	// Logs, 4 inserters at once.
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(4)
	cnt = newCounter(spec.Progress, "logs (SQL)", len(chs)*spec.Logs)
	const logBatch = 1000
	var lrows []string
	var largs []any
	send := func() {
		q := "INSERT INTO workout_logs (challenge_id, user_id, performed_at, sets, reps, value, note, created_at) VALUES " + strings.Join(lrows, ",")
		a := largs
		n := len(lrows)
		lrows, largs = nil, nil
		g.Go(func() error {
			_, err := db.ExecContext(gctx, q, a...)
			for range n {
				cnt.inc()
			}
			return err
		})
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, c := range chs {
		start := planStart(now, c.plan.weeks)
		span := now.Add(-time.Hour).Sub(start)
		for k := 0; k < spec.Logs; k++ {
			at := start.Add(time.Duration(float64(span) * (float64(k) + 0.5) / float64(spec.Logs))).
				Add(time.Duration(rng.IntN(3600)) * time.Second).Truncate(time.Microsecond)
			v := c.plan.start + c.plan.inc*float64(k/c.plan.every)
			var note any
			if k%4 == 0 {
				note = "felt strong, good depth"
			}
			lrows = append(lrows, "(?,?,?,?,?,?,?,?)")
			largs = append(largs, c.id, c.user, at, 3+rng.IntN(3), 5, v, note, at.Add(time.Minute))
			if len(lrows) == logBatch {
				send()
			}
		}
	}
	if len(lrows) > 0 {
		send()
	}
	return g.Wait()
}

// SeedAPI creates the challenges and logs through the challenge service's
// API (for a system the tool did not start).
func SeedAPI(ctx context.Context, c *APIClient, challengeURL string, users []*User, spec SeedSpec) error {
	now := time.Now().UTC()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(spec.Concurrency)
	cnt := newCounter(spec.Progress, "challenges (API)", len(users)*spec.Challenges)
	var mu sync.Mutex
	for _, u := range users {
		u.Challenges = make([]int64, spec.Challenges) // [k] follows seedPlans[k]
		for k := 0; k < spec.Challenges; k++ {
			g.Go(func() error {
				p := seedPlans[k%len(seedPlans)]
				in := challengeclient.CreateChallengeRequest{Title: p.title, Exercise: p.exercise, Unit: challengeclient.Kg,
					StartValue: p.start, Increment: p.inc, IncrementEvery: int32(p.every), SessionsPerWeek: int32(p.spw),
					Weeks: int32(p.weeks), StartDate: &openapi_types.Date{Time: planStart(now, p.weeks)}}
				var out challengeclient.Challenge
				if _, err := c.Do(gctx, http.MethodPost, challengeURL+"/challenges", u.Token, in, &out, http.StatusCreated); err != nil {
					return err
				}
				mu.Lock()
				u.Challenges[k] = out.Id
				mu.Unlock()
				cnt.inc()
				return nil
			})
		}
	}
	if err := g.Wait(); err != nil {
		return err
	}
	g, gctx = errgroup.WithContext(ctx)
	g.SetLimit(spec.Concurrency)
	cnt = newCounter(spec.Progress, "logs (API)", len(users)*spec.Challenges*spec.Logs)
	for _, u := range users {
		for k, cid := range u.Challenges {
			p := seedPlans[k%len(seedPlans)]
			start := planStart(now, p.weeks)
			span := now.Add(-time.Hour).Sub(start)
			for l := 0; l < spec.Logs; l++ {
				g.Go(func() error {
					at := start.Add(time.Duration(float64(span) * (float64(l) + 0.5) / float64(spec.Logs)))
					in := challengeclient.CreateWorkoutLogRequest{Sets: 3, Reps: 5, Value: p.start + p.inc*float64(l/p.every),
						PerformedAt: &at}
					_, err := c.Do(gctx, http.MethodPost, fmt.Sprintf("%s/challenges/%d/logs", challengeURL, cid), u.Token, in, nil, http.StatusCreated)
					cnt.inc()
					return err
				})
			}
		}
	}
	return g.Wait()
}

// ApplyUpMigrations runs the *.up.sql files of dir in name order (for the
// ceilings-only mode, when the service binaries are not there to migrate).
func ApplyUpMigrations(ctx context.Context, db *sql.DB, dir string) error {
	files, err := filepath.Glob(filepath.Join(dir, "*.up.sql"))
	if err != nil || len(files) == 0 {
		return fmt.Errorf("no migrations in %s", dir)
	}
	sort.Strings(files)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		for _, stmt := range SplitSQL(string(b)) {
			if _, err := db.ExecContext(ctx, stmt); err != nil {
				return fmt.Errorf("%s: %w", filepath.Base(f), err)
			}
		}
	}
	return nil
}

// SplitSQL splits a migration into statements at semicolons that end a
// line, dropping comment-only lines.
func SplitSQL(s string) []string {
	var out []string
	var cur strings.Builder
	for _, line := range strings.Split(s, "\n") {
		t := strings.TrimSpace(line)
		if t == "" || strings.HasPrefix(t, "--") {
			continue
		}
		cur.WriteString(line + "\n")
		if strings.HasSuffix(t, ";") {
			out = append(out, strings.TrimSuffix(strings.TrimSpace(cur.String()), ";"))
			cur.Reset()
		}
	}
	if strings.TrimSpace(cur.String()) != "" {
		out = append(out, strings.TrimSpace(cur.String()))
	}
	return out
}
