// Package httpport is the challenge service's HTTP port: the strict-server
// implementation of api/openapi.yaml (api.gen.go is generated from it) over
// the application's use cases.
package httpport

import (
	"context"
	"errors"
	"strconv"

	"github.com/gofiber/fiber/v2"
	openapi_types "github.com/oapi-codegen/runtime/types"

	"github.com/progressive-overload/po/services/challenge/internal/app"
	"github.com/progressive-overload/po/services/challenge/internal/domain"
	"github.com/progressive-overload/po/services/kit/auth"
	"github.com/progressive-overload/po/services/kit/openapi"
	"github.com/progressive-overload/po/services/kit/problem"
)

// Server implements StrictServerInterface.
type Server struct {
	app *app.Application
}

var _ StrictServerInterface = (*Server)(nil)

// NewServer returns the handlers over a.
func NewServer(a *app.Application) *Server { return &Server{app: a} }

// Register mounts the API on router behind the bearer-token middleware.
// Errors returned by handlers are rendered by the router's error handler
// (kit/httpserver: problem+json).
//
// Requests are checked against the contract (kit/openapi) after the fast
// path, which takes only requests the check would pass unchanged.
func Register(router fiber.Router, s *Server, verifier auth.Verifier) error {
	specRouter, err := openapi.NewRouter(GetSwagger())
	if err != nil {
		return err
	}
	router.Use("/challenges", auth.Middleware(verifier))
	h := NewStrictHandler(s, []StrictMiddlewareFunc{translateErrors})
	registerFastPaths(router, h)
	router.Use(openapi.RequestValidator(specRouter))
	RegisterHandlers(router, h)
	return nil
}

// The generated handlers read the body kit/openapi validated under their own
// key: this does not compile when the two differ (duplicate map key false).
var _ = map[bool]int{false: 0, openapi.ValidatedBodyKey == validatedBodyLocalsKey: 1}

// translateErrors turns application and domain errors into problems.
func translateErrors(f StrictHandlerFunc, _ string) StrictHandlerFunc {
	return func(c *fiber.Ctx, req any) (any, error) {
		resp, err := f(c, req)
		if err != nil {
			return nil, toProblem(err)
		}
		return resp, nil
	}
}

func toProblem(err error) error {
	var ve *domain.ValidationError
	switch {
	case errors.As(err, &ve):
		fields := make([]problem.FieldError, len(ve.Errors))
		for i, f := range ve.Errors {
			fields[i] = problem.FieldError{Field: f.Field, Message: f.Message}
		}
		return problem.Validation(fields...)
	case errors.Is(err, app.ErrNotFound):
		return problem.NotFound("no such challenge")
	case errors.Is(err, app.ErrForbidden):
		return problem.Forbidden("this belongs to another user")
	case errors.Is(err, domain.ErrChallengeClosed), errors.Is(err, domain.ErrInvalidTransition):
		return problem.Conflict(err.Error())
	}
	return err
}

// actor is the caller the auth middleware verified.
func actor(ctx context.Context) (app.Actor, error) {
	p, ok := auth.PrincipalFromContext(ctx)
	if !ok {
		return app.Actor{}, problem.Unauthorized("missing bearer token")
	}
	return app.Actor{UserID: p.UserID, Admin: p.IsAdmin()}, nil
}

func intPtr[T ~int32](v *T) *int {
	if v == nil {
		return nil
	}
	n := int(*v)
	return &n
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func or[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

func (s *Server) CreateChallenge(ctx context.Context, req CreateChallengeRequestObject) (CreateChallengeResponseObject, error) {
	a, err := actor(ctx)
	if err != nil {
		return nil, err
	}
	// kit/openapi checked the body against the contract: the required
	// members are present and of their types.
	b := req.Body
	cmd := app.CreateChallenge{
		Title: b.Title,
		Plan: domain.PlanSpec{
			Exercise:        b.Exercise,
			Unit:            domain.Unit(b.Unit),
			StartValue:      b.StartValue,
			Increment:       b.Increment,
			IncrementEvery:  int(b.IncrementEvery),
			SessionsPerWeek: int(b.SessionsPerWeek),
			Weeks:           int(b.Weeks),
		},
	}
	if b.StartDate != nil {
		cmd.Plan.StartDate = domain.DateOf(b.StartDate.Time)
	}
	c, err := s.app.CreateChallenge(ctx, a, cmd)
	if err != nil {
		return nil, err
	}
	loc := "/challenges/" + strconv.FormatInt(c.ID(), 10)
	return CreateChallenge201JSONResponse{Body: toChallenge(c), Headers: CreateChallenge201ResponseHeaders{Location: &loc}}, nil
}

func (s *Server) ListChallenges(ctx context.Context, req ListChallengesRequestObject) (ListChallengesResponseObject, error) {
	a, err := actor(ctx)
	if err != nil {
		return nil, err
	}
	q := app.ListChallenges{
		UserID: req.Params.UserId,
		Limit:  intPtr(req.Params.Limit),
		Cursor: deref(req.Params.Cursor),
	}
	if req.Params.Status != nil {
		st := string(*req.Params.Status)
		q.Status = &st
	}
	page, err := s.app.ListChallenges(ctx, a, q)
	if err != nil {
		return nil, err
	}
	out := ListChallenges200JSONResponse{Items: make([]Challenge, len(page.Items))}
	for i, c := range page.Items {
		out.Items[i] = toChallenge(c)
	}
	if page.NextCursor != "" {
		out.NextCursor = &page.NextCursor
	}
	return out, nil
}

func (s *Server) GetChallenge(ctx context.Context, req GetChallengeRequestObject) (GetChallengeResponseObject, error) {
	a, err := actor(ctx)
	if err != nil {
		return nil, err
	}
	c, err := s.app.GetChallenge(ctx, a, req.Id)
	if err != nil {
		return nil, err
	}
	return GetChallenge200JSONResponse(toChallenge(c)), nil
}

func (s *Server) UpdateChallenge(ctx context.Context, req UpdateChallengeRequestObject) (UpdateChallengeResponseObject, error) {
	a, err := actor(ctx)
	if err != nil {
		return nil, err
	}
	cmd := app.UpdateChallenge{Title: req.Body.Title}
	if st := req.Body.Status; st != nil {
		if string(*st) != string(domain.StatusArchived) {
			return nil, problem.Validation(problem.FieldError{Field: "status", Message: "can only be set to archived"})
		}
		cmd.Archive = true
	}
	c, err := s.app.UpdateChallenge(ctx, a, req.Id, cmd)
	if err != nil {
		return nil, err
	}
	return UpdateChallenge200JSONResponse(toChallenge(c)), nil
}

func (s *Server) DeleteChallenge(ctx context.Context, req DeleteChallengeRequestObject) (DeleteChallengeResponseObject, error) {
	a, err := actor(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.app.DeleteChallenge(ctx, a, req.Id); err != nil {
		return nil, err
	}
	return DeleteChallenge204Response{}, nil
}

func (s *Server) CreateWorkoutLog(ctx context.Context, req CreateWorkoutLogRequestObject) (CreateWorkoutLogResponseObject, error) {
	a, err := actor(ctx)
	if err != nil {
		return nil, err
	}
	b := req.Body // checked against the contract by kit/openapi
	spec := domain.WorkoutLogSpec{
		PerformedAt: or(b.PerformedAt),
		Sets:        int(b.Sets),
		Reps:        int(b.Reps),
		Value:       b.Value,
		Note:        deref(b.Note),
	}
	v, err := s.app.LogWorkout(ctx, a, req.Id, spec)
	if err != nil {
		return nil, err
	}
	return CreateWorkoutLog201JSONResponse(toWorkoutLog(v)), nil
}

func (s *Server) ListUserLogs(ctx context.Context, req ListUserLogsRequestObject) (ListUserLogsResponseObject, error) {
	a, err := actor(ctx)
	if err != nil {
		return nil, err
	}
	b, err := s.app.UserLogs(ctx, a, req.UserId, intPtr(req.Params.Limit), deref(req.Params.Cursor))
	if err != nil {
		return nil, err
	}
	return rawJSON(b), nil
}

func (s *Server) ListChallengeLogs(ctx context.Context, req ListChallengeLogsRequestObject) (ListChallengeLogsResponseObject, error) {
	a, err := actor(ctx)
	if err != nil {
		return nil, err
	}
	b, err := s.app.ChallengeLogs(ctx, a, req.Id, intPtr(req.Params.Limit), deref(req.Params.Cursor))
	if err != nil {
		return nil, err
	}
	return rawJSON(b), nil
}

func (s *Server) GetProgress(ctx context.Context, req GetProgressRequestObject) (GetProgressResponseObject, error) {
	a, err := actor(ctx)
	if err != nil {
		return nil, err
	}
	b, err := s.app.Progress(ctx, a, req.Id)
	if err != nil {
		return nil, err
	}
	return rawJSON(b), nil
}

// rawJSON is a 200 response whose body is already encoded (often straight
// from the cache): it is written as is, without reflection or copying.
type rawJSON []byte

func (r rawJSON) write(c *fiber.Ctx) error {
	c.Status(fiber.StatusOK)
	c.Response().Header.SetContentType(fiber.MIMEApplicationJSON)
	// The slice is never modified after the cache or the loader produced it.
	c.Response().SetBodyRaw(r)
	return nil
}

func (r rawJSON) VisitListUserLogsResponse(c *fiber.Ctx) error      { return r.write(c) }
func (r rawJSON) VisitListChallengeLogsResponse(c *fiber.Ctx) error { return r.write(c) }
func (r rawJSON) VisitGetProgressResponse(c *fiber.Ctx) error       { return r.write(c) }

func toChallenge(c *domain.Challenge) Challenge {
	p := c.Plan()
	out := Challenge{
		Id:              c.ID(),
		UserId:          c.UserID(),
		Title:           c.Title(),
		Exercise:        p.Exercise(),
		Unit:            Unit(p.Unit()),
		StartValue:      p.StartValue(),
		Increment:       p.Increment(),
		IncrementEvery:  int32(p.IncrementEvery()),
		SessionsPerWeek: int32(p.SessionsPerWeek()),
		Weeks:           int32(p.Weeks()),
		StartDate:       openapi_types.Date{Time: p.StartDate().Time()},
		Status:          ChallengeStatus(c.Status()),
		CreatedAt:       c.CreatedAt(),
		UpdatedAt:       c.UpdatedAt(),
	}
	if r := c.StatusReason(); r != "" {
		out.StatusReason = &r
	}
	return out
}

func toWorkoutLog(v app.LogView) WorkoutLog {
	out := WorkoutLog{
		Id:          v.ID,
		ChallengeId: v.ChallengeID,
		UserId:      v.UserID,
		PerformedAt: v.PerformedAt,
		Sets:        int32(v.Sets),
		Reps:        int32(v.Reps),
		Value:       v.Value,
		CreatedAt:   v.CreatedAt,
	}
	if v.Note != "" {
		out.Note = &v.Note
	}
	return out
}
