//go:build kind

package kindtest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
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

// system is the two APIs (and the pods' metrics) through port-forwards.
type system struct {
	e                  *env
	account, challenge *forward
}

func (e *env) system(t *testing.T) *system {
	return &system{e: e, account: e.portForward(t, release+"-account", 3000), challenge: e.portForward(t, release+"-challenge", 3001)}
}

var client = &http.Client{Timeout: 20 * time.Second}

// call sends a JSON request; a transport error is returned, not fatal (the
// fault tests count them).
func call(method, url, token string, body any, out any) (int, error) {
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		r = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, r)
	if err != nil {
		return 0, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, err
	}
	if out != nil && resp.StatusCode < 300 {
		if s, ok := out.(*string); ok {
			*s = string(b)
		} else if err := json.Unmarshal(b, out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s: %w: %s", method, url, err, b)
		}
	}
	if resp.StatusCode >= 300 {
		return resp.StatusCode, fmt.Errorf("%s %s: %d %s", method, url, resp.StatusCode, b)
	}
	return resp.StatusCode, nil
}

func must(t *testing.T, want int, method, url, token string, body, out any) {
	t.Helper()
	code, err := call(method, url, token, body, out)
	if code != want || (code < 300 && err != nil) {
		t.Fatalf("%s %s: got %d, want %d (%v)", method, url, code, want, err)
	}
}

type user struct {
	ID    int64  `json:"id"`
	Email string `json:"email"`
	token string
}

// signUp creates a user with a unique email and logs in.
func (s *system) signUp(t *testing.T, name string) user {
	t.Helper()
	email := fmt.Sprintf("%s-%d@example.com", name, time.Now().UnixNano())
	pw := "correct horse battery"
	must(t, http.StatusCreated, "POST", s.account.url+"/auth/signup", "", map[string]string{"email": email, "password": pw, "displayName": name}, nil)
	var tok struct {
		AccessToken string `json:"accessToken"`
	}
	must(t, http.StatusOK, "POST", s.account.url+"/auth/login", "", map[string]string{"email": email, "password": pw}, &tok)
	var u user
	must(t, http.StatusOK, "GET", s.account.url+"/users/me", tok.AccessToken, nil, &u)
	u.token = tok.AccessToken
	return u
}

type challenge struct {
	ID     int64  `json:"id"`
	Status string `json:"status"`
}

var squatTo80 = map[string]any{"title": "Squat to 80", "exercise": "Back squat", "unit": "kg",
	"startValue": 60, "increment": 2.5, "incrementEvery": 1, "sessionsPerWeek": 3, "weeks": 8}

// activeChallenge creates a challenge and waits for the account service to
// validate it over RabbitMQ (pending -> active).
func (s *system) activeChallenge(t *testing.T, u user) (challenge, time.Duration) {
	t.Helper()
	var c challenge
	must(t, http.StatusCreated, "POST", s.challenge.url+"/challenges", u.token, squatTo80, &c)
	if c.Status != "pending" {
		t.Errorf("new challenge status %q, want pending", c.Status)
	}
	start := time.Now()
	for c.Status != "active" {
		if time.Since(start) > time.Minute {
			t.Fatalf("challenge %d still %q after a minute", c.ID, c.Status)
		}
		time.Sleep(100 * time.Millisecond)
		must(t, http.StatusOK, "GET", fmt.Sprintf("%s/challenges/%d", s.challenge.url, c.ID), u.token, nil, &c)
	}
	return c, time.Since(start)
}

type logEntry struct {
	ID    int64   `json:"id"`
	Value float64 `json:"value"`
}

// logs reads the first page of the user's logs (the cached hot read).
func (s *system) logs(u user) ([]logEntry, error) {
	items, _, err := s.logPage(u, "")
	return items, err
}

func (s *system) logPage(u user, cursor string) ([]logEntry, string, error) {
	var page struct {
		Items      []logEntry `json:"items"`
		NextCursor *string    `json:"nextCursor"`
	}
	q := ""
	if cursor != "" {
		q = "?cursor=" + url.QueryEscape(cursor)
	}
	_, err := call("GET", fmt.Sprintf("%s/challenges/logs/%d%s", s.challenge.url, u.ID, q), u.token, nil, &page)
	next := ""
	if page.NextCursor != nil {
		next = *page.NextCursor
	}
	return page.Items, next, err
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
	must(t, http.StatusOK, "GET", baseURL+"/metrics", "", nil, &body)
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
	u := s.signUp(t, "ada")
	c, took := s.activeChallenge(t, u)
	t.Logf("FIGURE challenge pending -> active over RabbitMQ in %s", took.Round(time.Millisecond))
	for _, v := range []float64{60, 62.5} {
		must(t, http.StatusCreated, "POST", fmt.Sprintf("%s/challenges/%d/logs", s.challenge.url, c.ID), u.token,
			map[string]any{"sets": 5, "reps": 5, "value": v}, nil)
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
	var progress map[string]any
	must(t, http.StatusOK, "GET", fmt.Sprintf("%s/challenges/%d/progress", s.challenge.url, c.ID), u.token, nil, &progress)
	if len(progress) == 0 {
		t.Error("empty progress")
	}
}
