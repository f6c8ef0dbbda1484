package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"
)

// renderError mimics the app's problem+json error handler: it relies only on
// the StatusCode method and keeps the headers the middleware set.
func renderError(c *fiber.Ctx, err error) error {
	status := http.StatusInternalServerError
	var sc interface{ StatusCode() int }
	if errors.As(err, &sc) {
		status = sc.StatusCode()
	}
	c.Set(fiber.HeaderContentType, "application/problem+json")
	body, _ := json.Marshal(map[string]any{"status": status, "detail": err.Error()})
	return c.Status(status).Send(body)
}

func newTestApp(v Verifier) *fiber.App {
	app := fiber.New(fiber.Config{ErrorHandler: renderError})
	app.Get("/me", Middleware(v), func(c *fiber.Ctx) error {
		p, ok := PrincipalFrom(c)
		if !ok {
			return errors.New("no principal in locals")
		}
		pc, ok := PrincipalFromContext(c.UserContext())
		if !ok || pc != p {
			return errors.New("principal missing from user context")
		}
		return c.SendString(fmt.Sprintf("%d %s", p.UserID, p.Role))
	})
	return app
}

type response struct {
	status int
	header http.Header
	body   string
}

func do(t *testing.T, app *fiber.App, authz ...string) response {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "/me", nil)
	for _, a := range authz {
		req.Header.Add("Authorization", a)
	}
	resp, err := app.Test(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{resp.StatusCode, resp.Header, string(b)}
}

func TestMiddleware(t *testing.T) {
	ks := mustKeySet(t, key(0))
	signer := mustSigner(t, ks, nil)
	app := newTestApp(mustLocal(t, ks, VerifierConfig{}))
	good := mustSign(t, signer, 42, RoleAdmin)
	foreign := mustSign(t, mustSigner(t, mustKeySet(t, key(1)), nil), 42, RoleAdmin)

	t.Run("good token", func(t *testing.T) {
		for _, h := range []string{"Bearer " + good, "bearer " + good, "BEARER   " + good} {
			r := do(t, app, h)
			if r.status != http.StatusOK || r.body != "42 admin" {
				t.Fatalf("%q: %d %s", h[:10], r.status, r.body)
			}
			if r.header.Get("WWW-Authenticate") != "" {
				t.Fatal("challenge on success")
			}
		}
	})

	t.Run("no header", func(t *testing.T) {
		r := do(t, app)
		if r.status != http.StatusUnauthorized || r.header.Get("WWW-Authenticate") != "Bearer" {
			t.Fatalf("%d %q", r.status, r.header.Get("WWW-Authenticate"))
		}
		if !strings.Contains(r.body, "missing bearer token") {
			t.Fatalf("body %s", r.body)
		}
	})

	for name, h := range map[string]string{
		"basic":          "Basic dXNlcjpwYXNz",
		"scheme only":    "Bearer",
		"blank token":    "Bearer    ",
		"two tokens":     "Bearer " + good + " " + good,
		"bad characters": "Bearer " + good + "!",
		"no space":       "Bearer" + good,
		"bad token":      "Bearer not.a.token",
		"foreign key":    "Bearer " + foreign,
		"tampered":       "Bearer " + good[:len(good)-4] + "AAAA",
	} {
		t.Run(name, func(t *testing.T) {
			r := do(t, app, h)
			if r.status != http.StatusUnauthorized {
				t.Fatalf("status %d, body %s", r.status, r.body)
			}
			if got := r.header.Get("WWW-Authenticate"); got != `Bearer error="invalid_token"` {
				t.Fatalf("WWW-Authenticate %q", got)
			}
			if strings.Contains(r.body, "42") {
				t.Fatalf("handler ran: %s", r.body)
			}
		})
	}
}

func TestMiddlewareKeysUnavailable(t *testing.T) {
	s := newJWKSServer(t, nil)
	s.serve(http.StatusBadGateway, "")
	clk := newClock()
	app := newTestApp(mustRemote(t, s, clk, 0))
	tok := mustSign(t, mustSigner(t, mustKeySet(t, key(0)), clk.Now), 1, RoleUser)
	r := do(t, app, "Bearer "+tok)
	if r.status != http.StatusServiceUnavailable || r.header.Get("WWW-Authenticate") != "" {
		t.Fatalf("%d %q %s", r.status, r.header.Get("WWW-Authenticate"), r.body)
	}
}

type plainVerifier struct{}

func (plainVerifier) Verify(context.Context, string) (Principal, error) {
	return Principal{}, errors.New("nope")
}

func TestMiddlewareWrapsForeignVerifierErrors(t *testing.T) {
	r := do(t, newTestApp(plainVerifier{}), "Bearer abc")
	if r.status != http.StatusUnauthorized || r.header.Get("WWW-Authenticate") != `Bearer error="invalid_token"` {
		t.Fatalf("%d %q", r.status, r.header.Get("WWW-Authenticate"))
	}
}

func TestPrincipalAbsent(t *testing.T) {
	app := fiber.New()
	app.Get("/", func(c *fiber.Ctx) error {
		if _, ok := PrincipalFrom(c); ok {
			return errors.New("principal without middleware")
		}
		return nil
	})
	resp, err := app.Test(httptest.NewRequest(http.MethodGet, "/", nil))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if _, ok := PrincipalFromContext(context.Background()); ok {
		t.Fatal("principal in empty context")
	}
	p := Principal{UserID: 3, Role: RoleUser}
	if got, ok := PrincipalFromContext(WithPrincipal(context.Background(), p)); !ok || got != p {
		t.Fatalf("round trip: %+v %v", got, ok)
	}
}

func TestPrincipalRoles(t *testing.T) {
	user := Principal{UserID: 3, Role: RoleUser}
	admin := Principal{UserID: 1, Role: RoleAdmin}
	if user.IsAdmin() || !admin.IsAdmin() {
		t.Fatal("IsAdmin wrong")
	}
	for r, want := range map[Role]bool{RoleUser: true, RoleAdmin: true, "": false, "Admin": false, "root": false} {
		if r.Valid() != want {
			t.Errorf("Role(%q).Valid() = %v", r, !want)
		}
	}
}

func TestBearerToken(t *testing.T) {
	cases := []struct {
		in, want string
		ok       bool
	}{
		{"Bearer abc", "abc", true},
		{"bEaReR a.b-c_d~e+f/g==", "a.b-c_d~e+f/g==", true},
		{"Bearer   abc", "abc", true},
		{"", "", false},
		{"Bearer", "", false},
		{"Bearer ", "", false},
		{"Bearer =", "", false},
		{"Bearer a=b", "", false},
		{"Bearer a b", "", false},
		{"Bearer\tabc", "", false},
		{"Basic abc", "", false},
		{"Bearerabc", "", false},
		{"Bearer ab\x00c", "", false},
		{"Bearer " + strings.Repeat("a", maxTokenLen+1), "", false},
	}
	for _, c := range cases {
		got, err := bearerToken(c.in)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("bearerToken(%q) = %q, %v", c.in, got, err)
		}
		if err != nil && !errors.Is(err, ErrUnauthorized) {
			t.Errorf("bearerToken(%q) error %T", c.in, err)
		}
	}
}
