package httpport

import (
	"context"
	"errors"

	"github.com/progressive-overload/po/services/account/internal/app"
	"github.com/progressive-overload/po/services/account/internal/domain"
)

// Handlers implements StrictServerInterface on the app service: decode,
// call one use case, encode. Validation of shapes happened in
// RequestValidator, authentication in the auth middlewares.
type Handlers struct {
	app *app.Application
}

// NewHandlers returns the handlers for svc.
func NewHandlers(svc *app.Application) *Handlers { return &Handlers{app: svc} }

var _ StrictServerInterface = (*Handlers)(nil)

func userJSON(u domain.User) User {
	return User{
		Id:          u.ID(),
		Email:       u.Email(),
		DisplayName: u.DisplayName(),
		TimeZone:    u.TimeZone(),
		Role:        Role(u.Role()),
		Status:      Status(u.Status()),
		CreatedAt:   u.CreatedAt(),
		UpdatedAt:   u.UpdatedAt(),
	}
}

func tokenJSON(t app.Tokens) TokenPair {
	return TokenPair{
		AccessToken:  t.AccessToken,
		TokenType:    Bearer,
		ExpiresIn:    int(t.ExpiresIn.Seconds()),
		RefreshToken: t.RefreshToken,
	}
}

// errNoActor means a protected operation ran without the auth middlewares: a
// wiring bug, so a 500.
var errNoActor = errors.New("httpport: protected operation reached without an authenticated account")

func (h *Handlers) Signup(ctx context.Context, req SignupRequestObject) (SignupResponseObject, error) {
	u, err := h.app.Signup(ctx, app.SignupInput{
		Email: req.Body.Email, Password: req.Body.Password, DisplayName: req.Body.DisplayName,
		TimeZone: req.Body.TimeZone,
	})
	if err != nil {
		return nil, err
	}
	return Signup201JSONResponse(userJSON(u)), nil
}

func (h *Handlers) Login(ctx context.Context, req LoginRequestObject) (LoginResponseObject, error) {
	t, err := h.app.Login(ctx, app.LoginInput{
		Email: req.Body.Email, Password: req.Body.Password, ClientIP: clientIP(ctx),
	})
	if err != nil {
		return nil, err
	}
	return Login200JSONResponse(tokenJSON(t)), nil
}

func (h *Handlers) RefreshToken(ctx context.Context, req RefreshTokenRequestObject) (RefreshTokenResponseObject, error) {
	t, err := h.app.Refresh(ctx, req.Body.RefreshToken)
	if err != nil {
		return nil, err
	}
	return RefreshToken200JSONResponse(tokenJSON(t)), nil
}

func (h *Handlers) Logout(ctx context.Context, req LogoutRequestObject) (LogoutResponseObject, error) {
	if err := h.app.Logout(ctx, req.Body.RefreshToken); err != nil {
		return nil, err
	}
	return Logout204Response{}, nil
}

func (h *Handlers) GetMe(ctx context.Context, _ GetMeRequestObject) (GetMeResponseObject, error) {
	actor, ok := actorFrom(ctx)
	if !ok {
		return nil, errNoActor
	}
	return GetMe200JSONResponse(userJSON(actor)), nil
}

func (h *Handlers) UpdateMe(ctx context.Context, req UpdateMeRequestObject) (UpdateMeResponseObject, error) {
	actor, ok := actorFrom(ctx)
	if !ok {
		return nil, errNoActor
	}
	u, err := h.app.UpdateMe(ctx, actor, app.UpdateMeInput{
		DisplayName:     req.Body.DisplayName,
		TimeZone:        req.Body.TimeZone,
		Password:        req.Body.Password,
		CurrentPassword: req.Body.CurrentPassword,
		ClientIP:        clientIP(ctx),
	})
	if err != nil {
		return nil, err
	}
	return UpdateMe200JSONResponse(userJSON(u)), nil
}

func (h *Handlers) DeleteMe(ctx context.Context, _ DeleteMeRequestObject) (DeleteMeResponseObject, error) {
	actor, ok := actorFrom(ctx)
	if !ok {
		return nil, errNoActor
	}
	if err := h.app.DeleteMe(ctx, actor); err != nil {
		return nil, err
	}
	return DeleteMe204Response{}, nil
}

func (h *Handlers) GetUser(ctx context.Context, req GetUserRequestObject) (GetUserResponseObject, error) {
	actor, ok := actorFrom(ctx)
	if !ok {
		return nil, errNoActor
	}
	u, err := h.app.GetUser(ctx, actor, req.Id)
	if err != nil {
		return nil, err
	}
	return GetUser200JSONResponse(userJSON(u)), nil
}

func (h *Handlers) ListUsers(ctx context.Context, req ListUsersRequestObject) (ListUsersResponseObject, error) {
	actor, ok := actorFrom(ctx)
	if !ok {
		return nil, errNoActor
	}
	var cursor string
	if req.Params.Cursor != nil {
		cursor = *req.Params.Cursor
	}
	page, err := h.app.ListUsers(ctx, actor, req.Params.Limit, cursor)
	if err != nil {
		return nil, err
	}
	out := UserPage{Items: make([]User, len(page.Items))}
	for i, u := range page.Items {
		out.Items[i] = userJSON(u)
	}
	if page.NextCursor != "" {
		out.NextCursor = &page.NextCursor
	}
	return ListUsers200JSONResponse(out), nil
}

func (h *Handlers) SetUserStatus(ctx context.Context, req SetUserStatusRequestObject) (SetUserStatusResponseObject, error) {
	actor, ok := actorFrom(ctx)
	if !ok {
		return nil, errNoActor
	}
	u, err := h.app.SetStatus(ctx, actor, req.Id, string(req.Body.Status))
	if err != nil {
		return nil, err
	}
	return SetUserStatus200JSONResponse(userJSON(u)), nil
}
