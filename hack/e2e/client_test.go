package e2e

import (
	"context"
	"fmt"
	"net/http"
	"reflect"
	"testing"
	"time"

	accountclient "github.com/progressive-overload/po/services/account/api/client"
	challengeclient "github.com/progressive-overload/po/services/challenge/api/client"
)

var httpClient = &http.Client{Timeout: 30 * time.Second}

// accounts and challenges are the generated clients of the two services
// (services/*/api/client): the contract's operations and types.
func (s *system) accounts(t testing.TB) *accountclient.ClientWithResponses {
	t.Helper()
	c, err := accountclient.NewClientWithResponses(s.account.url, accountclient.WithHTTPClient(httpClient))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (s *system) challenges(t testing.TB) *challengeclient.ClientWithResponses {
	t.Helper()
	c, err := challengeclient.NewClientWithResponses(s.challenge.url, challengeclient.WithHTTPClient(httpClient))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// bearer sends token as the request's bearer token.
func bearer(token string) challengeclient.RequestEditorFn {
	return func(_ context.Context, req *http.Request) error {
		req.Header.Set("Authorization", "Bearer "+token)
		return nil
	}
}

// answer describes a generated client's response (a *XResponse, with
// StatusCode() and Body) for a failure message.
func answer(r interface{ StatusCode() int }) string {
	v := reflect.ValueOf(r)
	if r == nil || v.IsNil() {
		return "no answer"
	}
	body, _ := v.Elem().FieldByName("Body").Interface().([]byte)
	return fmt.Sprintf("%d %s", r.StatusCode(), body)
}

type user struct {
	ID    int64
	Email string
	Token string
}

// signUp creates an account and signs it in.
func (s *system) signUp(t testing.TB, name string) user {
	t.Helper()
	u := user{Email: name + "-" + randomHex(4) + "@e2e.example.com"}
	const password = "correct horse battery"
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := s.accounts(t).SignupWithResponse(ctx, accountclient.SignupRequest{Email: u.Email, Password: password, DisplayName: name})
	if err != nil || r.JSON201 == nil {
		t.Fatalf("signup: %v, %s", err, answer(r))
	}
	u.ID = r.JSON201.Id
	u.Token = s.login(t, u.Email, password)
	return u
}

func (s *system) login(t testing.TB, email, password string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := s.accounts(t).LoginWithResponse(ctx, accountclient.LoginRequest{Email: email, Password: password})
	if err != nil || r.JSON200 == nil {
		t.Fatalf("login: %v, %s", err, answer(r))
	}
	if r.JSON200.AccessToken == "" {
		t.Fatal("login answered no access token")
	}
	return r.JSON200.AccessToken
}

func (s *system) adminToken(t testing.TB) string {
	t.Helper()
	return s.login(t, s.adminEmail, s.adminPassword)
}

// challenge is the contract's Challenge (the generated client's type).
type challenge = challengeclient.Challenge

// reasonOf is c's statusReason, "" when it has none.
func reasonOf(c challenge) string {
	if c.StatusReason == nil {
		return ""
	}
	return *c.StatusReason
}

// The README walk-through's challenge.
var squatTo80 = challengeclient.CreateChallengeRequest{
	Title: "Squat to 80", Exercise: "Back squat", Unit: challengeclient.Kg,
	StartValue: 60, Increment: 2.5, IncrementEvery: 1, SessionsPerWeek: 3, Weeks: 8,
}

func (s *system) createChallenge(t testing.TB, token string) challenge {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := s.challenges(t).CreateChallengeWithResponse(ctx, squatTo80, bearer(token))
	if err != nil || r.JSON201 == nil {
		t.Fatalf("create challenge: %v, %s", err, answer(r))
	}
	if r.JSON201.Id <= 0 {
		t.Fatalf("created challenge without id: %+v", *r.JSON201)
	}
	return *r.JSON201
}

func (s *system) getChallenge(t testing.TB, token string, id int64) challenge {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := s.challenges(t).GetChallengeWithResponse(ctx, id, bearer(token))
	if err != nil || r.JSON200 == nil {
		t.Fatalf("get challenge %d: %v, %s", id, err, answer(r))
	}
	return *r.JSON200
}

// waitStatus polls the challenge until it has status and returns it with
// how long that took (reported, never asserted).
func (s *system) waitStatus(t testing.TB, token string, id int64, status string) (challenge, time.Duration) {
	t.Helper()
	start := time.Now()
	var c challenge
	poll(t, fmt.Sprintf("challenge %d to be %s", id, status), func() bool {
		c = s.getChallenge(t, token, id)
		return string(c.Status) == status
	}, func() string { return fmt.Sprintf("it is %q (%q)", c.Status, reasonOf(c)) })
	return c, time.Since(start)
}

// consumed and published read a service's event counters from its /metrics,
// whichever queue or route counted them.
func consumed(t testing.TB, p *process, typ, result string) float64 {
	t.Helper()
	return p.api.Metrics(t).Sum("events_consumed_total", "type", typ, "result", result)
}

func published(t testing.TB, p *process, typ string) float64 {
	t.Helper()
	return p.api.Metrics(t).Sum("events_published_total", "type", typ)
}
