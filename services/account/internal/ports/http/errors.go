package httpport

import (
	"errors"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/progressive-overload/po/services/kit/problem"

	"github.com/progressive-overload/po/services/account/internal/app"
	"github.com/progressive-overload/po/services/account/internal/domain"
)

// toProblem maps the app's and the domain's errors to HTTP problems. Errors
// it does not know are returned unchanged: the server renders them as 500 and
// logs them.
func toProblem(err error) error {
	var ve *domain.ValidationError
	var rl *app.RateLimitedError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ve):
		fields := make([]problem.FieldError, len(ve.Fields))
		for i, f := range ve.Fields {
			fields[i] = problem.FieldError{Field: f.Field, Message: f.Message}
		}
		return problem.Validation(fields...)
	case errors.As(err, &rl):
		return problem.TooManyRequests(rl.Error(), rl.RetryAfterSeconds())
	case errors.Is(err, domain.ErrNotFound):
		return problem.NotFound("no such account")
	case errors.Is(err, domain.ErrEmailTaken):
		return problem.Conflict(domain.ErrEmailTaken.Error())
	case errors.Is(err, domain.ErrUserDeleted):
		return problem.Conflict(domain.ErrUserDeleted.Error())
	case errors.Is(err, app.ErrInvalidCredentials),
		errors.Is(err, app.ErrInvalidRefreshToken),
		errors.Is(err, app.ErrRefreshTokenReused),
		errors.Is(err, app.ErrUnauthenticated):
		return problem.Unauthorized(err.Error())
	case errors.Is(err, app.ErrAccountSuspended):
		return problem.Forbidden(err.Error())
	case errors.Is(err, app.ErrForbidden):
		return problem.Forbidden(strings.TrimPrefix(err.Error(), app.ErrForbidden.Error()+": "))
	case errors.Is(err, app.ErrConflict):
		return problem.Conflict(strings.TrimPrefix(err.Error(), app.ErrConflict.Error()+": "))
	}
	return err
}

// mapErrors is the strict middleware that applies toProblem to every operation.
func mapErrors(f StrictHandlerFunc, _ string) StrictHandlerFunc {
	return func(c *fiber.Ctx, req any) (any, error) {
		resp, err := f(c, req)
		return resp, toProblem(err)
	}
}
