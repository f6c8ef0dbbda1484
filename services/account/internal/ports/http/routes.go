package httpport

import (
	"context"
	"errors"
	"fmt"

	"github.com/gofiber/fiber/v2"

	"github.com/progressive-overload/po/services/kit/auth"
	"github.com/progressive-overload/po/services/kit/httpserver"
	"github.com/progressive-overload/po/services/kit/openapi"
	"github.com/progressive-overload/po/services/kit/problem"

	"github.com/progressive-overload/po/services/account/internal/app"
	"github.com/progressive-overload/po/services/account/internal/domain"
)

// The generated handlers read the body kit/openapi validated under their own
// key: this does not compile when the two differ (duplicate map key false).
var _ = map[bool]int{false: 0, openapi.ValidatedBodyKey == validatedBodyLocalsKey: 1}

// ProtectedPrefix is where every route needs a bearer token; the spec marks
// exactly the operations under it with bearerAuth (a test checks that).
const ProtectedPrefix = "/users"

// Register installs the account API on router: the JWKS document, the
// authentication of everything under ProtectedPrefix (token, then the account
// must still exist and be active), request validation against the spec, and
// the generated routes.
func Register(router fiber.Router, svc *app.Application, verifier auth.Verifier, keys *auth.KeySet) error {
	specRouter, err := openapi.NewRouter(GetSwagger())
	if err != nil {
		return err
	}
	router.Get(auth.JWKSPath, auth.JWKSHandler(keys))
	router.Use(func(c *fiber.Ctx) error {
		// The client behind the trusted proxies (TRUSTED_PROXIES), never the
		// ingress itself: failed sign-ins are counted per client address.
		c.SetUserContext(withClientIP(c.UserContext(), httpserver.ClientIP(c)))
		return c.Next()
	})
	router.Use(ProtectedPrefix, auth.Middleware(verifier), currentAccount(svc))
	router.Use(openapi.RequestValidator(specRouter))
	RegisterHandlers(router, NewStrictHandler(NewHandlers(svc), []StrictMiddlewareFunc{mapErrors}))
	return nil
}

// currentAccount loads the account of the verified token: a deleted or
// suspended account's tokens stop working at once, and authorisation uses the
// account's current role rather than the one in the token.
func currentAccount(svc *app.Application) fiber.Handler {
	return func(c *fiber.Ctx) error {
		p, ok := auth.PrincipalFrom(c)
		if !ok {
			return fmt.Errorf("httpport: %w", errNoActor)
		}
		u, err := svc.Authenticate(c.UserContext(), p.UserID)
		if errors.Is(err, app.ErrUnauthenticated) {
			c.Set(fiber.HeaderWWWAuthenticate, `Bearer error="invalid_token"`)
			return problem.Unauthorized(err.Error())
		}
		if err != nil {
			return err
		}
		c.SetUserContext(withActor(c.UserContext(), u))
		return c.Next()
	}
}

type actorKey struct{}

func withActor(ctx context.Context, u domain.User) context.Context {
	return context.WithValue(ctx, actorKey{}, u)
}

func actorFrom(ctx context.Context) (domain.User, bool) {
	u, ok := ctx.Value(actorKey{}).(domain.User)
	return u, ok
}
