package httpport

import (
	"github.com/gofiber/fiber/v2"

	"github.com/progressive-overload/po/services/challenge/internal/app"
	"github.com/progressive-overload/po/services/kit/auth"
	"github.com/progressive-overload/po/services/kit/openapi"
)

// Register mounts the API on router behind the bearer-token middleware.
// Errors returned by handlers are rendered by the router's error handler
// (kit/httpserver: problem+json).
//
// Requests are checked against the contract (kit/openapi) after the fast
// path, which takes only requests the check would pass unchanged.
func Register(router fiber.Router, a *app.Application, verifier auth.Verifier) error {
	specRouter, err := openapi.NewRouter(GetSwagger())
	if err != nil {
		return err
	}
	router.Use("/challenges", auth.Middleware(verifier))
	strict := NewStrictHandler(NewHandlers(a), []StrictMiddlewareFunc{mapErrors})
	registerFastPaths(router, strict)
	router.Use(openapi.RequestValidator(specRouter))
	RegisterHandlers(router, strict)
	return nil
}

// The generated handlers read the body kit/openapi validated under their own
// key: this does not compile when the two differ (duplicate map key false).
var _ = map[bool]int{false: 0, openapi.ValidatedBodyKey == validatedBodyLocalsKey: 1}
