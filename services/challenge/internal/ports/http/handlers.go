package httpport

import (
	"context"
	"strconv"

	"github.com/gofiber/fiber/v2"
	openapi_types "github.com/oapi-codegen/runtime/types"

	"github.com/progressive-overload/po/services/challenge/internal/app"
	"github.com/progressive-overload/po/services/challenge/internal/domain"
	"github.com/progressive-overload/po/services/kit/auth"
	"github.com/progressive-overload/po/services/kit/problem"
)

// Handlers implements StrictServerInterface on the application: decode,
// call one use case, encode. Shapes were checked by kit/openapi, the token
// by the auth middleware (routes.go).
type Handlers struct {
	app *app.Application
}

var _ StrictServerInterface = (*Handlers)(nil)

// NewHandlers returns the handlers over a.
func NewHandlers(a *app.Application) *Handlers { return &Handlers{app: a} }

// actor is the caller the auth middleware verified.
func actor(ctx context.Context) (app.Actor, error) {
	p, ok := auth.PrincipalFromContext(ctx)
	if !ok {
		return app.Actor{}, problem.Unauthorized("missing bearer token")
	}
	return app.Actor{UserID: p.UserID, Admin: p.IsAdmin(), TimeZone: p.TimeZone}, nil
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

func (h *Handlers) CreateChallenge(ctx context.Context, req CreateChallengeRequestObject) (CreateChallengeResponseObject, error) {
	a, err := actor(ctx)
	if err != nil {
		return nil, err
	}
	// kit/openapi checked the body against the contract: the required
	// members are present and of their types.
	cmd := createCommand(req.Body)
	c, err := h.app.CreateChallenge(ctx, a, cmd)
	if err != nil {
		return nil, err
	}
	loc := "/challenges/" + strconv.FormatInt(c.ID(), 10)
	return CreateChallenge201JSONResponse{Body: toChallenge(c), Headers: CreateChallenge201ResponseHeaders{Location: &loc}}, nil
}

func (h *Handlers) ListChallenges(ctx context.Context, req ListChallengesRequestObject) (ListChallengesResponseObject, error) {
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
	page, err := h.app.ListChallenges(ctx, a, q)
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

func (h *Handlers) GetChallenge(ctx context.Context, req GetChallengeRequestObject) (GetChallengeResponseObject, error) {
	a, err := actor(ctx)
	if err != nil {
		return nil, err
	}
	c, err := h.app.GetChallenge(ctx, a, req.Id)
	if err != nil {
		return nil, err
	}
	return GetChallenge200JSONResponse(toChallenge(c)), nil
}

func (h *Handlers) UpdateChallenge(ctx context.Context, req UpdateChallengeRequestObject) (UpdateChallengeResponseObject, error) {
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
	c, err := h.app.UpdateChallenge(ctx, a, req.Id, cmd)
	if err != nil {
		return nil, err
	}
	return UpdateChallenge200JSONResponse(toChallenge(c)), nil
}

func (h *Handlers) DeleteChallenge(ctx context.Context, req DeleteChallengeRequestObject) (DeleteChallengeResponseObject, error) {
	a, err := actor(ctx)
	if err != nil {
		return nil, err
	}
	if err := h.app.DeleteChallenge(ctx, a, req.Id); err != nil {
		return nil, err
	}
	return DeleteChallenge204Response{}, nil
}

func (h *Handlers) CreateWorkoutLog(ctx context.Context, req CreateWorkoutLogRequestObject) (CreateWorkoutLogResponseObject, error) {
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
	v, err := h.app.LogWorkout(ctx, a, req.Id, spec)
	if err != nil {
		return nil, err
	}
	return CreateWorkoutLog201JSONResponse(toWorkoutLog(v)), nil
}

func (h *Handlers) UpdateWorkoutLog(ctx context.Context, req UpdateWorkoutLogRequestObject) (UpdateWorkoutLogResponseObject, error) {
	a, err := actor(ctx)
	if err != nil {
		return nil, err
	}
	b := req.Body // checked against the contract by kit/openapi
	patch := domain.WorkoutLogPatch{
		PerformedAt: b.PerformedAt,
		Sets:        intPtr(b.Sets),
		Reps:        intPtr(b.Reps),
		Value:       b.Value,
		Note:        b.Note,
	}
	v, err := h.app.CorrectLog(ctx, a, req.Id, req.LogId, patch)
	if err != nil {
		return nil, err
	}
	return UpdateWorkoutLog200JSONResponse(toWorkoutLog(v)), nil
}

func (h *Handlers) DeleteWorkoutLog(ctx context.Context, req DeleteWorkoutLogRequestObject) (DeleteWorkoutLogResponseObject, error) {
	a, err := actor(ctx)
	if err != nil {
		return nil, err
	}
	if err := h.app.DeleteLog(ctx, a, req.Id, req.LogId); err != nil {
		return nil, err
	}
	return DeleteWorkoutLog204Response{}, nil
}

func (h *Handlers) GetPersonalRecords(ctx context.Context, req GetPersonalRecordsRequestObject) (GetPersonalRecordsResponseObject, error) {
	a, err := actor(ctx)
	if err != nil {
		return nil, err
	}
	b, err := h.app.Records(ctx, a, req.UserId)
	if err != nil {
		return nil, err
	}
	return rawJSON(b), nil
}

func (h *Handlers) GetChallengeHistory(ctx context.Context, req GetChallengeHistoryRequestObject) (GetChallengeHistoryResponseObject, error) {
	a, err := actor(ctx)
	if err != nil {
		return nil, err
	}
	b, err := h.app.ChallengeHistory(ctx, a, req.Id, intPtr(req.Params.Limit), deref(req.Params.Cursor))
	if err != nil {
		return nil, err
	}
	return rawJSON(b), nil
}

func (h *Handlers) GetExerciseHistory(ctx context.Context, req GetExerciseHistoryRequestObject) (GetExerciseHistoryResponseObject, error) {
	a, err := actor(ctx)
	if err != nil {
		return nil, err
	}
	p := req.Params
	b, err := h.app.ExerciseHistory(ctx, a, req.UserId, p.Exercise, string(p.Unit), intPtr(p.Limit), deref(p.Cursor))
	if err != nil {
		return nil, err
	}
	return rawJSON(b), nil
}

func (h *Handlers) ListUserLogs(ctx context.Context, req ListUserLogsRequestObject) (ListUserLogsResponseObject, error) {
	a, err := actor(ctx)
	if err != nil {
		return nil, err
	}
	b, err := h.app.UserLogs(ctx, a, req.UserId, intPtr(req.Params.Limit), deref(req.Params.Cursor))
	if err != nil {
		return nil, err
	}
	return rawJSON(b), nil
}

func (h *Handlers) ListChallengeLogs(ctx context.Context, req ListChallengeLogsRequestObject) (ListChallengeLogsResponseObject, error) {
	a, err := actor(ctx)
	if err != nil {
		return nil, err
	}
	b, err := h.app.ChallengeLogs(ctx, a, req.Id, intPtr(req.Params.Limit), deref(req.Params.Cursor))
	if err != nil {
		return nil, err
	}
	return rawJSON(b), nil
}

func (h *Handlers) GetProgress(ctx context.Context, req GetProgressRequestObject) (GetProgressResponseObject, error) {
	a, err := actor(ctx)
	if err != nil {
		return nil, err
	}
	b, err := h.app.Progress(ctx, a, req.Id)
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

func (r rawJSON) VisitListUserLogsResponse(c *fiber.Ctx) error        { return r.write(c) }
func (r rawJSON) VisitListChallengeLogsResponse(c *fiber.Ctx) error   { return r.write(c) }
func (r rawJSON) VisitGetProgressResponse(c *fiber.Ctx) error         { return r.write(c) }
func (r rawJSON) VisitGetPersonalRecordsResponse(c *fiber.Ctx) error  { return r.write(c) }
func (r rawJSON) VisitGetChallengeHistoryResponse(c *fiber.Ctx) error { return r.write(c) }
func (r rawJSON) VisitGetExerciseHistoryResponse(c *fiber.Ctx) error  { return r.write(c) }

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
		Progression:     toProgression(p.Spec().Progression),
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

// toProgression shows only the members that apply, as the contract says.
func toProgression(s domain.ProgressionSpec) Progression {
	out := Progression{Type: ProgressionType(s.Type)}
	some := func(v int) *int32 {
		if v == 0 {
			return nil
		}
		n := int32(v)
		return &n
	}
	out.DeloadAfter, out.DeloadPercent = some(s.DeloadAfter), some(s.DeloadPercent)
	out.MinReps, out.MaxReps = some(s.MinReps), some(s.MaxReps)
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
