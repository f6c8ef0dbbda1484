//go:build kind

package kindtest

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	accountclient "github.com/progressive-overload/po/services/account/api/client"
	challengeclient "github.com/progressive-overload/po/services/challenge/api/client"
)

// forward is one `kubectl port-forward` to a Service, on a free local port.
type forward struct {
	url string
	cmd *exec.Cmd
}

var forwarding = regexp.MustCompile(`Forwarding from 127\.0\.0\.1:(\d+) ->`)

// portForward runs `kubectl port-forward svc/<svc> :<port>` as a user would and
// returns its local URL; the process is stopped at the end of the test.
func (e *env) portForward(t *testing.T, svc string, port int) *forward {
	t.Helper()
	cmd := exec.Command(e.kubectl, "--kubeconfig", e.kubeconfig, "-n", namespace, "port-forward",
		"--address", "127.0.0.1", "svc/"+svc, fmt.Sprintf(":%d", port))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	got := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if m := forwarding.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case got <- m[1]:
				default:
				}
			}
		}
	}()
	select {
	case p := <-got:
		return &forward{url: "http://127.0.0.1:" + p, cmd: cmd}
	case <-time.After(30 * time.Second):
		t.Fatalf("kubectl port-forward svc/%s did not start", svc)
	}
	return nil
}

// system is the two APIs (and the pods' metrics) through port-forwards, spoken
// to with the clients generated from their contracts (services/*/api/client).
type system struct {
	e                  *env
	account, challenge *forward
	accounts           *accountclient.ClientWithResponses
	challenges         *challengeclient.ClientWithResponses
}

func (e *env) system(t *testing.T) *system {
	s := &system{e: e, account: e.portForward(t, release+"-account", 3000), challenge: e.portForward(t, release+"-challenge", 3001)}
	s.accounts, s.challenges = accountClient(t, s.account.url), challengeClient(t, s.challenge.url)
	return s
}

var httpClient = &http.Client{Timeout: 20 * time.Second}

// accountClient and challengeClient are the generated clients on base, a
// service's root (a port-forward, or the edge balancer's path prefix).
func accountClient(t *testing.T, base string) *accountclient.ClientWithResponses {
	t.Helper()
	c, err := accountclient.NewClientWithResponses(base, accountclient.WithHTTPClient(httpClient))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func challengeClient(t *testing.T, base string) *challengeclient.ClientWithResponses {
	t.Helper()
	c, err := challengeclient.NewClientWithResponses(base, challengeclient.WithHTTPClient(httpClient))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// bearer sends token as the request's bearer token; an unnamed function type, so
// that it is a RequestEditorFn of either generated client.
func bearer(token string) func(context.Context, *http.Request) error {
	return func(_ context.Context, req *http.Request) error {
		req.Header.Set("Authorization", "Bearer "+token)
		return nil
	}
}

// failure is why a generated client's call did not answer status want (a
// transport error, or the status and body it did answer), nil if it did. The
// fault tests count these instead of failing.
func failure(r interface{ StatusCode() int }, err error, want int) error {
	if err != nil {
		return err // r is a nil pointer then
	}
	if code := r.StatusCode(); code != want {
		body, _ := reflect.ValueOf(r).Elem().FieldByName("Body").Interface().([]byte)
		return fmt.Errorf("%d, want %d: %s", code, want, body)
	}
	return nil
}

func must(t *testing.T, what string, r interface{ StatusCode() int }, err error, want int) {
	t.Helper()
	if err := failure(r, err, want); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// get reads an endpoint outside the services' contracts (Prometheus's API, a
// service's /metrics) into out: a *string takes the body as it is, anything
// else is decoded from JSON.
func get(url string, out any) error {
	resp, err := httpClient.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	if s, ok := out.(*string); ok {
		*s = string(b)
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("GET %s: %w: %s", url, err, b)
	}
	return nil
}

type user struct {
	ID    int64
	token string
}

// signUp creates a user with a unique email and logs in.
func (s *system) signUp(t *testing.T, name string) user {
	t.Helper()
	ctx := context.Background()
	email := fmt.Sprintf("%s-%d@example.com", name, time.Now().UnixNano())
	pw := "correct horse battery"
	r, err := s.accounts.SignupWithResponse(ctx, accountclient.SignupRequest{Email: email, Password: pw, DisplayName: name})
	must(t, "signup", r, err, http.StatusCreated)
	tok, err := s.accounts.LoginWithResponse(ctx, accountclient.LoginRequest{Email: email, Password: pw})
	must(t, "login", tok, err, http.StatusOK)
	if tok.JSON200 == nil || tok.JSON200.AccessToken == "" {
		t.Fatalf("login answered no access token: %s", tok.Body)
	}
	me, err := s.accounts.GetMeWithResponse(ctx, bearer(tok.JSON200.AccessToken))
	must(t, "GET /users/me", me, err, http.StatusOK)
	if me.JSON200 == nil || me.JSON200.Email != email {
		t.Fatalf("GET /users/me answered %s, want %s", me.Body, email)
	}
	return user{ID: me.JSON200.Id, token: tok.JSON200.AccessToken}
}

// challenge is the contract's Challenge.
type challenge = challengeclient.Challenge

// The README walk-through's challenge.
var squatTo80 = challengeclient.CreateChallengeRequest{
	Title: "Squat to 80", Exercise: "Back squat", Unit: challengeclient.Kg,
	StartValue: 60, Increment: 2.5, IncrementEvery: 1, SessionsPerWeek: 3, Weeks: 8,
}

// activeChallenge creates a challenge and waits for the account service to
// validate it over RabbitMQ (pending -> active).
func (s *system) activeChallenge(t *testing.T, u user) (challenge, time.Duration) {
	t.Helper()
	ctx := context.Background()
	r, err := s.challenges.CreateChallengeWithResponse(ctx, squatTo80, bearer(u.token))
	must(t, "create challenge", r, err, http.StatusCreated)
	if r.JSON201 == nil {
		t.Fatalf("create challenge answered %s", r.Body)
	}
	c := *r.JSON201
	if c.Status != challengeclient.ChallengeStatusPending {
		t.Errorf("new challenge status %q, want pending", c.Status)
	}
	start := time.Now()
	for c.Status != challengeclient.ChallengeStatusActive {
		if time.Since(start) > time.Minute {
			t.Fatalf("challenge %d still %q after a minute", c.Id, c.Status)
		}
		time.Sleep(100 * time.Millisecond)
		g, err := s.challenges.GetChallengeWithResponse(ctx, c.Id, bearer(u.token))
		must(t, fmt.Sprintf("get challenge %d", c.Id), g, err, http.StatusOK)
		if g.JSON200 == nil {
			t.Fatalf("get challenge %d answered %s", c.Id, g.Body)
		}
		c = *g.JSON200
	}
	return c, time.Since(start)
}

// logEntry is the contract's WorkoutLog.
type logEntry = challengeclient.WorkoutLog

// logs reads the first page of the user's logs (the cached hot read).
func (s *system) logs(u user) ([]logEntry, error) {
	items, _, err := s.logPage(u, "")
	return items, err
}

func (s *system) logPage(u user, cursor string) ([]logEntry, string, error) {
	params := &challengeclient.ListUserLogsParams{}
	if cursor != "" {
		params.Cursor = &cursor
	}
	r, err := s.challenges.ListUserLogsWithResponse(context.Background(), u.ID, params, bearer(u.token))
	if err := failure(r, err, http.StatusOK); err != nil {
		return nil, "", fmt.Errorf("logs of user %d: %w", u.ID, err)
	}
	if r.JSON200 == nil {
		return nil, "", fmt.Errorf("logs of user %d: not JSON: %s", u.ID, r.Body)
	}
	next := ""
	if r.JSON200.NextCursor != nil {
		next = *r.JSON200.NextCursor
	}
	return r.JSON200.Items, next, nil
}

// allLogs pages through every log of the user.
func (s *system) allLogs(u user) ([]logEntry, error) {
	var all []logEntry
	cursor := ""
	for {
		items, next, err := s.logPage(u, cursor)
		if err != nil {
			return nil, err
		}
		all = append(all, items...)
		if next == "" {
			return all, nil
		}
		cursor = next
	}
}

// metric sums a counter's samples with the given labels from /metrics.
func metric(t *testing.T, baseURL, name string, labels map[string]string) float64 {
	t.Helper()
	var body string
	if err := get(baseURL+"/metrics", &body); err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, line := range strings.Split(body, "\n") {
		if !strings.HasPrefix(line, name+"{") {
			continue
		}
		ok := true
		for k, v := range labels {
			ok = ok && strings.Contains(line, fmt.Sprintf("%s=%q", k, v))
		}
		if f := strings.Fields(line); ok && len(f) == 2 {
			v, _ := strconv.ParseFloat(f[1], 64)
			sum += v
		}
	}
	return sum
}

// walkThrough is the README's walk-through.
func (s *system) walkThrough(t *testing.T) {
	ctx := context.Background()
	u := s.signUp(t, "ada")
	c, took := s.activeChallenge(t, u)
	t.Logf("FIGURE challenge pending -> active over RabbitMQ in %s", took.Round(time.Millisecond))
	for _, v := range []float64{60, 62.5} {
		r, err := s.challenges.CreateWorkoutLogWithResponse(ctx, c.Id, challengeclient.CreateWorkoutLogRequest{Sets: 5, Reps: 5, Value: v}, bearer(u.token))
		must(t, fmt.Sprintf("log %v", v), r, err, http.StatusCreated)
	}
	labels := func(r string) map[string]string { return map[string]string{"cache": "user-logs", "result": r} }
	hit0, miss0 := metric(t, s.challenge.url, "cache_requests_total", labels("hit")), metric(t, s.challenge.url, "cache_requests_total", labels("miss"))
	for i := 0; i < 2; i++ {
		items, err := s.logs(u)
		if err != nil || len(items) != 2 {
			t.Fatalf("read %d: %d logs (%v), want 2", i, len(items), err)
		}
	}
	hit, miss := metric(t, s.challenge.url, "cache_requests_total", labels("hit"))-hit0, metric(t, s.challenge.url, "cache_requests_total", labels("miss"))-miss0
	if hit != 1 || miss != 1 {
		t.Errorf("two reads counted %v hits and %v misses, want a miss then a hit", hit, miss)
	}
	p, err := s.challenges.GetProgressWithResponse(ctx, c.Id, bearer(u.token))
	must(t, "progress", p, err, http.StatusOK)
	if p.JSON200 == nil || p.JSON200.ChallengeId != c.Id || p.JSON200.SessionsDone < 1 { // sessions are days with a log
		t.Errorf("progress of challenge %d after two logs: %s", c.Id, p.Body)
	}
}
