package httpport

import (
	"context"
	"net/http"

	"github.com/progressive-overload/po/services/kit/problem"
)

// errNotYet answers the group routes until their use cases land.
func errNotYet() error {
	return problem.New(http.StatusNotImplemented, "group challenges are not implemented yet")
}

func (h *Handlers) ListGroups(context.Context, ListGroupsRequestObject) (ListGroupsResponseObject, error) {
	return nil, errNotYet()
}

func (h *Handlers) CreateGroup(context.Context, CreateGroupRequestObject) (CreateGroupResponseObject, error) {
	return nil, errNotYet()
}

func (h *Handlers) JoinGroup(context.Context, JoinGroupRequestObject) (JoinGroupResponseObject, error) {
	return nil, errNotYet()
}

func (h *Handlers) GetGroup(context.Context, GetGroupRequestObject) (GetGroupResponseObject, error) {
	return nil, errNotYet()
}

func (h *Handlers) UpdateGroup(context.Context, UpdateGroupRequestObject) (UpdateGroupResponseObject, error) {
	return nil, errNotYet()
}

func (h *Handlers) ListInvites(context.Context, ListInvitesRequestObject) (ListInvitesResponseObject, error) {
	return nil, errNotYet()
}

func (h *Handlers) CreateInvite(context.Context, CreateInviteRequestObject) (CreateInviteResponseObject, error) {
	return nil, errNotYet()
}

func (h *Handlers) RevokeInvite(context.Context, RevokeInviteRequestObject) (RevokeInviteResponseObject, error) {
	return nil, errNotYet()
}

func (h *Handlers) GetLeaderboard(context.Context, GetLeaderboardRequestObject) (GetLeaderboardResponseObject, error) {
	return nil, errNotYet()
}

func (h *Handlers) RemoveParticipant(context.Context, RemoveParticipantRequestObject) (RemoveParticipantResponseObject, error) {
	return nil, errNotYet()
}
