package httpport

import (
	"context"
	"strconv"
	"time"

	openapi_types "github.com/oapi-codegen/runtime/types"

	"github.com/progressive-overload/po/services/challenge/internal/app"
	"github.com/progressive-overload/po/services/challenge/internal/domain"
)

func (h *Handlers) CreateGroup(ctx context.Context, req CreateGroupRequestObject) (CreateGroupResponseObject, error) {
	a, err := actor(ctx)
	if err != nil {
		return nil, err
	}
	s, err := h.app.CreateGroup(ctx, a, createCommand(req.Body))
	if err != nil {
		return nil, err
	}
	loc := "/challenges/groups/" + strconv.FormatInt(s.Group.ID(), 10)
	return CreateGroup201JSONResponse{Body: toGroup(s), Headers: CreateGroup201ResponseHeaders{Location: &loc}}, nil
}

func (h *Handlers) ListGroups(ctx context.Context, req ListGroupsRequestObject) (ListGroupsResponseObject, error) {
	a, err := actor(ctx)
	if err != nil {
		return nil, err
	}
	rows, next, err := h.app.ListGroups(ctx, a, intPtr(req.Params.Limit), deref(req.Params.Cursor))
	if err != nil {
		return nil, err
	}
	out := ListGroups200JSONResponse{Items: make([]Group, len(rows))}
	for i, s := range rows {
		out.Items[i] = toGroup(s)
	}
	if next != "" {
		out.NextCursor = &next
	}
	return out, nil
}

func (h *Handlers) JoinGroup(ctx context.Context, req JoinGroupRequestObject) (JoinGroupResponseObject, error) {
	a, err := actor(ctx)
	if err != nil {
		return nil, err
	}
	p, err := h.app.Join(ctx, a, req.Body.Code)
	if err != nil {
		return nil, err
	}
	loc := "/challenges/" + strconv.FormatInt(p.ChallengeID(), 10)
	return JoinGroup202JSONResponse{Body: toParticipation(p), Headers: JoinGroup202ResponseHeaders{Location: &loc}}, nil
}

func (h *Handlers) GetGroup(ctx context.Context, req GetGroupRequestObject) (GetGroupResponseObject, error) {
	a, err := actor(ctx)
	if err != nil {
		return nil, err
	}
	s, err := h.app.GetGroup(ctx, a, req.GroupId)
	if err != nil {
		return nil, err
	}
	return GetGroup200JSONResponse(toGroup(s)), nil
}

func (h *Handlers) UpdateGroup(ctx context.Context, req UpdateGroupRequestObject) (UpdateGroupResponseObject, error) {
	a, err := actor(ctx)
	if err != nil {
		return nil, err
	}
	s, err := h.app.SetJoiningOpen(ctx, a, req.GroupId, req.Body.JoiningOpen)
	if err != nil {
		return nil, err
	}
	return UpdateGroup200JSONResponse(toGroup(s)), nil
}

func (h *Handlers) CreateInvite(ctx context.Context, req CreateInviteRequestObject) (CreateInviteResponseObject, error) {
	a, err := actor(ctx)
	if err != nil {
		return nil, err
	}
	spec := domain.InviteSpec{ExpiresAt: req.Body.ExpiresAt}
	if m := req.Body.MaxParticipants; m != nil {
		n := int(*m)
		spec.MaxParticipants = &n
	}
	v, err := h.app.CreateInvite(ctx, a, req.GroupId, spec)
	if err != nil {
		return nil, err
	}
	inv := toInvite(v.Invite, time.Now())
	return CreateInvite201JSONResponse(NewInvite{
		Id: inv.Id, GroupId: inv.GroupId, ExpiresAt: inv.ExpiresAt, MaxParticipants: inv.MaxParticipants,
		RevokedAt: inv.RevokedAt, CreatedAt: inv.CreatedAt, Usable: inv.Usable, Code: v.Code,
	}), nil
}

func (h *Handlers) ListInvites(ctx context.Context, req ListInvitesRequestObject) (ListInvitesResponseObject, error) {
	a, err := actor(ctx)
	if err != nil {
		return nil, err
	}
	rows, next, err := h.app.ListInvites(ctx, a, req.GroupId, intPtr(req.Params.Limit), deref(req.Params.Cursor))
	if err != nil {
		return nil, err
	}
	now := time.Now()
	out := ListInvites200JSONResponse{Items: make([]Invite, len(rows))}
	for i, inv := range rows {
		out.Items[i] = toInvite(inv, now)
	}
	if next != "" {
		out.NextCursor = &next
	}
	return out, nil
}

func (h *Handlers) RevokeInvite(ctx context.Context, req RevokeInviteRequestObject) (RevokeInviteResponseObject, error) {
	a, err := actor(ctx)
	if err != nil {
		return nil, err
	}
	if err := h.app.RevokeInvite(ctx, a, req.GroupId, req.InviteId); err != nil {
		return nil, err
	}
	return RevokeInvite204Response{}, nil
}

func (h *Handlers) RemoveParticipant(ctx context.Context, req RemoveParticipantRequestObject) (RemoveParticipantResponseObject, error) {
	a, err := actor(ctx)
	if err != nil {
		return nil, err
	}
	if err := h.app.RemoveParticipant(ctx, a, req.GroupId, req.UserId); err != nil {
		return nil, err
	}
	return RemoveParticipant204Response{}, nil
}

func (h *Handlers) GetLeaderboard(ctx context.Context, req GetLeaderboardRequestObject) (GetLeaderboardResponseObject, error) {
	a, err := actor(ctx)
	if err != nil {
		return nil, err
	}
	v, err := h.app.Leaderboard(ctx, a, req.GroupId, intPtr(req.Params.Limit), deref(req.Params.Cursor))
	if err != nil {
		return nil, err
	}
	out := GetLeaderboard200JSONResponse{
		GroupId: v.GroupID, PlannedSoFar: v.PlannedSoFar, Total: v.Total,
		Items: make([]LeaderboardEntry, len(v.Items)),
	}
	for i, e := range v.Items {
		out.Items[i] = toEntry(e)
	}
	if v.You != nil {
		you := toEntry(*v.You)
		out.You = &you
	}
	if v.NextCursor != "" {
		out.NextCursor = &v.NextCursor
	}
	return out, nil
}

// createCommand is a CreateChallengeRequest as the app takes it (a new
// challenge's and a new group's body are one).
func createCommand(b *CreateChallengeRequest) app.CreateChallenge {
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
	if pr := b.Progression; pr != nil {
		// Absent members are 0, which the domain reads as "does not apply".
		cmd.Plan.Progression = domain.ProgressionSpec{
			Type:          domain.ProgressionType(pr.Type),
			DeloadAfter:   int(or(pr.DeloadAfter)),
			DeloadPercent: int(or(pr.DeloadPercent)),
			MinReps:       int(or(pr.MinReps)),
			MaxReps:       int(or(pr.MaxReps)),
		}
	}
	if b.StartDate != nil {
		cmd.Plan.StartDate = domain.DateOf(b.StartDate.Time)
	}
	return cmd
}

func toGroup(s app.GroupSummary) Group {
	g := s.Group
	p := g.Plan()
	out := Group{
		Id:          g.ID(),
		OwnerId:     g.OwnerID(),
		Title:       g.Title(),
		JoiningOpen: g.JoiningOpen(),
		Plan: GroupPlan{
			Exercise:        p.Exercise(),
			Unit:            Unit(p.Unit()),
			StartValue:      p.StartValue(),
			Increment:       p.Increment(),
			IncrementEvery:  int32(p.IncrementEvery()),
			SessionsPerWeek: int32(p.SessionsPerWeek()),
			Weeks:           int32(p.Weeks()),
			Progression:     toProgression(p.Spec().Progression),
			StartDate:       openapi_types.Date{Time: p.StartDate().Time()},
			EndDate:         openapi_types.Date{Time: p.EndDate().Time()},
		},
		Participants: s.Participants,
		CreatedAt:    g.CreatedAt(),
		UpdatedAt:    g.UpdatedAt(),
	}
	if s.YourChallengeID > 0 {
		id := s.YourChallengeID
		out.YourChallengeId = &id
	}
	return out
}

func toParticipation(p domain.Participant) Participation {
	return Participation{
		GroupId:     p.GroupID(),
		UserId:      p.UserID(),
		ChallengeId: p.ChallengeID(),
		Status:      ParticipantStatus(p.Status()),
		JoinedAt:    p.JoinedAt(),
	}
}

func toInvite(inv domain.Invite, now time.Time) Invite {
	out := Invite{Id: inv.ID(), GroupId: inv.GroupID(), CreatedAt: inv.CreatedAt(), Usable: inv.Usable(now)}
	if t := inv.ExpiresAt(); !t.IsZero() {
		out.ExpiresAt = &t
	}
	if t := inv.RevokedAt(); !t.IsZero() {
		out.RevokedAt = &t
	}
	if m := inv.MaxParticipants(); m > 0 {
		n := int32(m)
		out.MaxParticipants = &n
	}
	return out
}

func toEntry(e app.EntryView) LeaderboardEntry {
	return LeaderboardEntry{
		Rank:         e.Rank,
		UserId:       e.UserID,
		DisplayName:  e.DisplayName,
		Adherence:    e.Adherence,
		Sessions:     e.Sessions,
		TargetsMet:   e.TargetsMet,
		Volume:       e.Volume,
		BestE1rmGain: e.BestE1RMGain,
		ReachedAt:    e.ReachedAt,
	}
}
