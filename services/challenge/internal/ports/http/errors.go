package httpport

import (
	"errors"

	"github.com/gofiber/fiber/v2"

	"github.com/progressive-overload/po/services/challenge/internal/app"
	"github.com/progressive-overload/po/services/challenge/internal/domain"
	"github.com/progressive-overload/po/services/kit/problem"
)

// mapErrors is the strict middleware that applies toProblem to every operation.
func mapErrors(f StrictHandlerFunc, _ string) StrictHandlerFunc {
	return func(c *fiber.Ctx, req any) (any, error) {
		resp, err := f(c, req)
		if err != nil {
			return nil, toProblem(err)
		}
		return resp, nil
	}
}

// toProblem maps the app's and the domain's errors to HTTP problems. Errors
// it does not know are returned unchanged: the server renders them as 500 and
// logs them.
func toProblem(err error) error {
	var ve *domain.ValidationError
	switch {
	case errors.As(err, &ve):
		fields := make([]problem.FieldError, len(ve.Fields))
		for i, f := range ve.Fields {
			fields[i] = problem.FieldError{Field: f.Field, Message: f.Message}
		}
		return problem.Validation(fields...)
	case errors.Is(err, app.ErrLogNotFound):
		return problem.NotFound("no such workout log in this challenge")
	case errors.Is(err, app.ErrGroupNotFound):
		return problem.NotFound("no such group")
	case errors.Is(err, app.ErrInviteNotFound):
		return problem.NotFound("no such invite in this group")
	case errors.Is(err, app.ErrUnknownCode):
		// One answer for a code that never existed, was revoked or expired.
		return problem.NotFound("no such invite code")
	case errors.Is(err, app.ErrParticipantNotFound):
		return problem.NotFound("no such participant in this group")
	case errors.Is(err, app.ErrLeaderboardOverloaded):
		return problem.Unavailable("the leaderboard is busy; retry shortly", 1)
	case errors.Is(err, app.ErrBusy):
		return problem.Unavailable("too many writes of this challenge at once; retry shortly", 1)
	case errors.Is(err, app.ErrNotFound):
		return problem.NotFound("no such challenge")
	case errors.Is(err, app.ErrForbidden):
		return problem.Forbidden("this belongs to another user")
	case errors.Is(err, domain.ErrChallengeClosed), errors.Is(err, domain.ErrInvalidTransition),
		errors.Is(err, domain.ErrGroupConflict):
		return problem.Conflict(err.Error())
	}
	return err
}
