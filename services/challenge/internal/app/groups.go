package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/progressive-overload/po/services/challenge/internal/domain"
)

// Group challenges (docs/architecture.md, "Group challenges"). A
// participation is an ordinary challenge with a group id, so the commands of
// commands.go serve it unchanged; this file adds the group, its invites and
// its members. Every command that changes who is on a group's board, or a
// participant's logs, brings the leaderboard (leaderboard.go) in step after
// its commit.

// Errors of the group use cases; the ports answer 404 for each.
var (
	// ErrGroupNotFound: no such group, or the caller may not know of it
	// (not a participant, not an admin).
	ErrGroupNotFound = fmt.Errorf("%w: no such group", ErrNotFound)
	// ErrInviteNotFound: no such invite in the group.
	ErrInviteNotFound = fmt.Errorf("%w: no such invite", ErrNotFound)
	// ErrUnknownCode: no invite has the code, or it is revoked or expired;
	// one answer for all three, so codes cannot be probed.
	ErrUnknownCode = fmt.Errorf("%w: no such invite code", ErrNotFound)
	// ErrParticipantNotFound: the user is not on the group's board.
	ErrParticipantNotFound = fmt.Errorf("%w: no such participant", ErrNotFound)
	// ErrStillInGroup: a participation on a group's board cannot be
	// deleted; its owner leaves the group first (the owner of the group
	// never can, so their participation stays).
	ErrStillInGroup = fmt.Errorf("%w: the challenge is a participation of a group; leave the group first", domain.ErrGroupConflict)
)

// GroupSummary is a group as a list or a read shows it to one caller.
type GroupSummary struct {
	Group *domain.Group
	// Participants counts the pending and active ones.
	Participants int
	// YourChallengeID is the caller's participation while on the board; 0 otherwise.
	YourChallengeID int64
}

// GroupRepository is the group side of the challenge database. Joins and
// membership changes lock the group's row, so that the count a cap is
// checked against cannot change before the commit.
type GroupRepository interface {
	// CreateGroup stores g, assigns its id, then stores the participation
	// participation builds for it (the owner's challenge), the owner's
	// place and the events announce returns, in one transaction.
	CreateGroup(ctx context.Context, g *domain.Group,
		participation func(g *domain.Group) (*domain.Challenge, error),
		announce func(*domain.Challenge) []domain.Event,
	) (*domain.Challenge, domain.Participant, error)
	// GetGroup returns ErrGroupNotFound when there is no such group.
	GetGroup(ctx context.Context, id int64) (*domain.Group, error)
	// UpdateGroup locks the group, lets fn change it and stores it.
	UpdateGroup(ctx context.Context, id int64, fn func(g *domain.Group) error) (*domain.Group, error)
	// Participant is userID's place in the group, whatever its status;
	// nil when they never joined.
	Participant(ctx context.Context, groupID, userID int64) (*domain.Participant, error)
	// CountOnBoard counts the group's pending and active participants.
	CountOnBoard(ctx context.Context, groupID int64) (int, error)
	// JoinGroup finds the invite by its code's hash (ErrUnknownCode when
	// none has it), locks its group, and lets fn decide with the user's
	// earlier place (nil if none) and the group's count of pending and
	// active participants; fn returns the participation to store. The
	// participation, the place and the events announce returns are stored
	// in one transaction.
	JoinGroup(ctx context.Context, codeHash [32]byte, userID int64,
		fn func(g *domain.Group, inv *domain.Invite, existing *domain.Participant, onBoard int) (*domain.Challenge, error),
		announce func(*domain.Challenge) []domain.Event,
	) (*domain.Challenge, domain.Participant, error)
	// ChangeParticipant locks the group and userID's place in it and lets
	// fn change the place (ErrParticipantNotFound when they never joined).
	ChangeParticipant(ctx context.Context, groupID, userID int64,
		fn func(g *domain.Group, p *domain.Participant) error,
	) (domain.Participant, error)
	// UserGroups lists the groups userID is on the board of, newest first,
	// before the id beforeID (0: from the newest).
	UserGroups(ctx context.Context, userID, beforeID int64, limit int) ([]GroupSummary, error)

	// AddInvite stores inv and returns it with its id.
	AddInvite(ctx context.Context, inv domain.Invite) (domain.Invite, error)
	// Invites lists the group's invites, newest first, before beforeID.
	Invites(ctx context.Context, groupID, beforeID int64, limit int) ([]domain.Invite, error)
	// ChangeInvite locks the group's invite and lets fn change it
	// (ErrInviteNotFound when the group has no such invite).
	ChangeInvite(ctx context.Context, groupID, inviteID int64, fn func(inv *domain.Invite) error) (domain.Invite, error)

	// BoardMembers reads what a leaderboard is computed from: the group's
	// pending and active participants (only userID's when userID > 0) with
	// their display names, zones and the logs of their participations.
	BoardMembers(ctx context.Context, groupID, userID int64) ([]BoardMember, error)
}

// BoardMember is one participant on a group's board, with what their
// standing and their entry are computed from.
type BoardMember struct {
	Participant domain.Participant
	DisplayName string // "" until an account event carried one
	Zone        string // IANA name; "" is UTC
	Logs        []domain.WorkoutLog
}

// CreateGroup starts a group and the owner's participation, which goes
// through validation (challenge.created) like any new challenge. The start
// date defaults as a challenge's does, from the owner's zone.
func (a *Application) CreateGroup(ctx context.Context, actor Actor, cmd CreateChallenge) (GroupSummary, error) {
	now := a.now()
	zone, zoneErr := Zone(actor.TimeZone)
	if cmd.Plan.StartDate.IsZero() {
		cmd.Plan.StartDate = domain.DateIn(now, zone)
	}
	g, err := domain.NewGroup(actor.UserID, cmd.Title, cmd.Plan, now)
	if err != nil {
		return GroupSummary{}, err
	}
	if actor.TimeZone != "" && zoneErr == nil {
		if err := a.repo.SeedUserTimeZone(ctx, actor.UserID, actor.TimeZone); err != nil {
			return GroupSummary{}, err
		}
	}
	c, p, err := a.repo.CreateGroup(ctx, g,
		func(g *domain.Group) (*domain.Challenge, error) { return g.NewParticipation(actor.UserID, now) },
		announceCreated)
	if err != nil {
		return GroupSummary{}, err
	}
	a.invalidate(ctx, 0, c.ID())
	a.refreshBoard(ctx, g.ID(), p.UserID())
	return GroupSummary{Group: g, Participants: 1, YourChallengeID: c.ID()}, nil
}

func announceCreated(c *domain.Challenge) []domain.Event {
	return []domain.Event{domain.ChallengeCreated{ChallengeID: c.ID(), UserID: c.UserID()}}
}

// groupAccess is what the caller may do with a group.
type groupAccess int

const (
	accessNone        groupAccess = iota // 404: they may not know it exists
	accessParticipant                    // on the board: read the group and the leaderboard
	accessManager                        // the owner or an admin: manage it too
)

// access reads the group and the caller's place in it.
func (a *Application) access(ctx context.Context, actor Actor, groupID int64) (*domain.Group, *domain.Participant, groupAccess, error) {
	return a.accessVia(ctx, actor, groupID, a.repo.GetGroup)
}

// accessVia is access with the group read by group.
func (a *Application) accessVia(ctx context.Context, actor Actor, groupID int64,
	group func(context.Context, int64) (*domain.Group, error),
) (*domain.Group, *domain.Participant, groupAccess, error) {
	if groupID <= 0 {
		return nil, nil, accessNone, ErrGroupNotFound
	}
	g, err := group(ctx, groupID)
	if err != nil {
		return nil, nil, accessNone, err
	}
	var p *domain.Participant
	if actor.UserID > 0 {
		if p, err = a.repo.Participant(ctx, groupID, actor.UserID); err != nil {
			return nil, nil, accessNone, err
		}
	}
	onBoard := p != nil && p.Status().OnBoard()
	switch {
	case actor.Admin || g.IsOwner(actor.UserID):
		return g, p, accessManager, nil
	case onBoard:
		return g, p, accessParticipant, nil
	}
	return nil, nil, accessNone, ErrGroupNotFound
}

// need answers 404 below participant and 403 to a participant who is not
// a manager.
func need(have, want groupAccess) error {
	switch {
	case have >= want:
		return nil
	case have == accessNone:
		return ErrGroupNotFound
	}
	return fmt.Errorf("%w: only the group's owner may do this", ErrForbidden)
}

// GetGroup is a group as its participants (and admins) see it.
func (a *Application) GetGroup(ctx context.Context, actor Actor, groupID int64) (GroupSummary, error) {
	g, p, _, err := a.access(ctx, actor, groupID)
	if err != nil {
		return GroupSummary{}, err
	}
	return a.summary(ctx, g, p)
}

func (a *Application) summary(ctx context.Context, g *domain.Group, p *domain.Participant) (GroupSummary, error) {
	n, err := a.repo.CountOnBoard(ctx, g.ID())
	if err != nil {
		return GroupSummary{}, err
	}
	s := GroupSummary{Group: g, Participants: n}
	if p != nil && p.Status().OnBoard() {
		s.YourChallengeID = p.ChallengeID()
	}
	return s, nil
}

// SetJoiningOpen opens or closes joining (the owner or an admin).
func (a *Application) SetJoiningOpen(ctx context.Context, actor Actor, groupID int64, open bool) (GroupSummary, error) {
	_, p, acc, err := a.access(ctx, actor, groupID)
	if err != nil {
		return GroupSummary{}, err
	}
	if err := need(acc, accessManager); err != nil {
		return GroupSummary{}, err
	}
	g, err := a.repo.UpdateGroup(ctx, groupID, func(g *domain.Group) error {
		g.SetJoiningOpen(open, a.now())
		return nil
	})
	if err != nil {
		return GroupSummary{}, err
	}
	return a.summary(ctx, g, p)
}

// ListGroups is one page of the caller's groups (those whose board they
// are on), newest first.
func (a *Application) ListGroups(ctx context.Context, actor Actor, limit *int, cursor string) ([]GroupSummary, string, error) {
	var invalid []domain.FieldError
	n, err := pageSize(limit)
	invalid = appendFieldErrors(invalid, err)
	before, err := decodeIDCursor(groupCursorKind, cursor)
	invalid = appendFieldErrors(invalid, err)
	if len(invalid) > 0 {
		return nil, "", &domain.ValidationError{Fields: invalid}
	}
	rows, err := a.repo.UserGroups(ctx, actor.UserID, before, n+1)
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(rows) > n {
		rows = rows[:n]
		next = encodeIDCursor(groupCursorKind, rows[n-1].Group.ID())
	}
	return rows, next, nil
}

// Join validates the code and makes the caller's participation, pending
// until the account service vouches for them (challenge.created, in the same
// transaction). The answers: a malformed code 422; an unknown, revoked or
// expired one 404 (ErrUnknownCode, the same for each); joining closed, the
// cap reached or the caller already in the group 409.
func (a *Application) Join(ctx context.Context, actor Actor, code string) (domain.Participant, error) {
	c, err := domain.ParseInviteCode(code)
	if err != nil {
		a.countJoin(JoinInvalid)
		return domain.Participant{}, err
	}
	now := a.now()
	if actor.TimeZone != "" {
		if _, err := Zone(actor.TimeZone); err == nil {
			if err := a.repo.SeedUserTimeZone(ctx, actor.UserID, actor.TimeZone); err != nil {
				return domain.Participant{}, err
			}
		}
	}
	ch, p, err := a.repo.JoinGroup(ctx, c.Hash(), actor.UserID,
		func(g *domain.Group, inv *domain.Invite, existing *domain.Participant, onBoard int) (*domain.Challenge, error) {
			if err := g.CheckJoin(inv, existing, onBoard, now); err != nil {
				return nil, err
			}
			return g.NewParticipation(actor.UserID, now)
		}, announceCreated)
	if err != nil {
		a.countJoin(joinResult(err))
		if errors.Is(err, domain.ErrInviteNotUsable) {
			return domain.Participant{}, ErrUnknownCode
		}
		return domain.Participant{}, err
	}
	a.countJoin(JoinAccepted)
	a.invalidate(ctx, 0, ch.ID())
	a.refreshBoard(ctx, p.GroupID(), p.UserID())
	return p, nil
}

// Join results, the "result" label of challenge_group_joins_total.
const (
	JoinAccepted  = "accepted"     // a pending participation was made
	JoinInvalid   = "invalid"      // a malformed code (422)
	JoinUnknown   = "unknown_code" // unknown, revoked or expired (404)
	JoinClosed    = "closed"       // joining closed (409)
	JoinFull      = "full"         // the cap or the group's limit reached (409)
	JoinDuplicate = "duplicate"    // already in the group (409)
	JoinError     = "error"        // the database failed
	JoinValidated = "validated"    // user.validated made a participation active
	JoinRejected  = "rejected"     // user.rejected (or user.suspended) refused one
)

func joinResult(err error) string {
	switch {
	case errors.Is(err, domain.ErrInviteNotUsable), errors.Is(err, ErrNotFound):
		return JoinUnknown
	case errors.Is(err, domain.ErrJoiningClosed):
		return JoinClosed
	case errors.Is(err, domain.ErrGroupFull):
		return JoinFull
	case errors.Is(err, domain.ErrAlreadyParticipant):
		return JoinDuplicate
	}
	return JoinError
}

func (a *Application) countJoin(result string) {
	if a.joins != nil {
		a.joins(result)
	}
}

// RemoveParticipant takes userID off the group: the caller leaving
// (userID is themselves) or the owner or an admin removing someone else.
// Their participation and its logs stay theirs; only the board loses them.
func (a *Application) RemoveParticipant(ctx context.Context, actor Actor, groupID, userID int64) error {
	_, _, acc, err := a.access(ctx, actor, groupID)
	if err != nil {
		return err
	}
	self := userID == actor.UserID
	if !self {
		if err := need(acc, accessManager); err != nil {
			return err
		}
	}
	now := a.now()
	p, err := a.repo.ChangeParticipant(ctx, groupID, userID, func(g *domain.Group, p *domain.Participant) error {
		if self {
			return p.Leave(g, false, now)
		}
		return p.Remove(g, now)
	})
	if errors.Is(err, domain.ErrNotParticipant) {
		return ErrParticipantNotFound
	}
	if err != nil {
		return err
	}
	if a.departures != nil {
		a.departures(map[domain.ParticipantStatus]string{domain.ParticipantLeft: DepartureLeft, domain.ParticipantRemoved: DepartureRemoved}[p.Status()])
	}
	a.refreshBoard(ctx, groupID, userID)
	return nil
}

// InviteView is an invite as its group's owner sees it; Code is set only
// in the answer that created it.
type InviteView struct {
	Invite domain.Invite
	Code   string
}

// CreateInvite makes an invite of the group (the owner or an admin); the
// code is in the answer only.
func (a *Application) CreateInvite(ctx context.Context, actor Actor, groupID int64, spec domain.InviteSpec) (InviteView, error) {
	_, _, acc, err := a.access(ctx, actor, groupID)
	if err != nil {
		return InviteView{}, err
	}
	if err := need(acc, accessManager); err != nil {
		return InviteView{}, err
	}
	inv, code, err := domain.NewInvite(groupID, spec, a.random, a.now())
	if err != nil {
		return InviteView{}, err
	}
	stored, err := a.repo.AddInvite(ctx, inv)
	if err != nil {
		return InviteView{}, err
	}
	return InviteView{Invite: stored, Code: code.String()}, nil
}

// ListInvites is one page of the group's invites, newest first, without codes.
func (a *Application) ListInvites(ctx context.Context, actor Actor, groupID int64, limit *int, cursor string) ([]domain.Invite, string, error) {
	var invalid []domain.FieldError
	n, err := pageSize(limit)
	invalid = appendFieldErrors(invalid, err)
	before, err := decodeIDCursor(inviteCursorKind, cursor)
	invalid = appendFieldErrors(invalid, err)
	if len(invalid) > 0 {
		return nil, "", &domain.ValidationError{Fields: invalid}
	}
	_, _, acc, err := a.access(ctx, actor, groupID)
	if err != nil {
		return nil, "", err
	}
	if err := need(acc, accessManager); err != nil {
		return nil, "", err
	}
	rows, err := a.repo.Invites(ctx, groupID, before, n+1)
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(rows) > n {
		rows = rows[:n]
		next = encodeIDCursor(inviteCursorKind, rows[n-1].ID())
	}
	return rows, next, nil
}

// RevokeInvite stops an invite's code for good; revoking it again changes
// nothing.
func (a *Application) RevokeInvite(ctx context.Context, actor Actor, groupID, inviteID int64) error {
	_, _, acc, err := a.access(ctx, actor, groupID)
	if err != nil {
		return err
	}
	if err := need(acc, accessManager); err != nil {
		return err
	}
	now := a.now()
	_, err = a.repo.ChangeInvite(ctx, groupID, inviteID, func(inv *domain.Invite) error {
		inv.Revoke(now)
		return nil
	})
	return err
}

// randomSource is crypto/rand unless a test gives another.
type randomSource = io.Reader

func groupKey(id int64) string { return strconv.FormatInt(id, 10) }
